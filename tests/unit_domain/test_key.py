"""The Key aggregate: each command's event, and the guards of each key state.

Error classes and messages follow the table details of "Key states of AWS
KMS keys" (AWS KMS developer guide): "<key ARN> is disabled." as
DisabledException, "<key ARN> is pending deletion." and "<key ARN> is not
pending deletion." as KMSInvalidStateException.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.errors import (
    DisabledException,
    KMSInvalidStateException,
    NotFoundException,
)
from domain.key import Key
from domain.key_state import KeyState

KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = "arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_MATERIAL_ID = "ab" * 32
SEALED = "c2VhbGVkIGtleSBtYXRlcmlhbA=="
NOW = datetime(2030, 1, 15, 9, 30, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


def new_key(**overrides: Any) -> Key:
    fields: dict[str, Any] = {
        "key_id": KEY_ID,
        "account_id": "111122223333",
        "region": "us-east-2",
        "description": "payroll",
        "tags": {"Project": "Alpha"},
        "key_material_id": KEY_MATERIAL_ID,
        "sealed_key_material": SEALED,
        "now": NOW,
    }
    fields.update(overrides)
    key = Key.create(**fields)
    key.collect_events()
    return key


def pending_deletion_key() -> Key:
    key = new_key()
    key.schedule_deletion(7, NOW)
    key.collect_events()
    return key


def deleted_key() -> Key:
    key = pending_deletion_key()
    key.delete(NOW + timedelta(days=7))
    key.collect_events()
    return key


def disabled_key() -> Key:
    key = new_key()
    key.disable(NOW)
    key.collect_events()
    return key


# Every command, as (name, call), for the state-guard tables.
COMMANDS: dict[str, Callable[[Key], None]] = {
    "enable": lambda key: key.enable(LATER),
    "disable": lambda key: key.disable(LATER),
    "update_description": lambda key: key.update_description("new", LATER),
    "tag": lambda key: key.tag({"Stage": "prod"}, LATER),
    "untag": lambda key: key.untag(["Project"], LATER),
    "schedule_deletion": lambda key: key.schedule_deletion(30, LATER),
}


# Creation.


def test_create_key_starts_enabled_with_symmetric_defaults() -> None:
    key = Key.create(
        key_id=KEY_ID,
        account_id="111122223333",
        region="us-east-2",
        description="payroll",
        tags={"Project": "Alpha"},
        key_material_id=KEY_MATERIAL_ID,
        sealed_key_material=SEALED,
        now=NOW,
    )

    # CreateKey (AWS KMS API reference): the defaults are KeySpec
    # SYMMETRIC_DEFAULT, KeyUsage ENCRYPT_DECRYPT, Origin AWS_KMS and
    # MultiRegion false, and a new key is Enabled.
    assert key.state is KeyState.ENABLED
    assert key.state.value == "Enabled"
    assert key.key_spec == "SYMMETRIC_DEFAULT"
    assert key.key_usage == "ENCRYPT_DECRYPT"
    assert key.origin == "AWS_KMS"
    assert key.multi_region is False
    assert key.key_id == KEY_ID
    assert key.arn == KEY_ARN
    assert key.description == "payroll"
    assert key.tags == {"Project": "Alpha"}
    assert key.creation_date == NOW
    assert key.key_materials == {KEY_MATERIAL_ID: SEALED}
    assert key.current_key_material_id == KEY_MATERIAL_ID
    assert key.deletion_date is None
    assert key.pending_window_in_days is None
    assert key.deleted is False
    assert key.version == 1


def test_create_key_records_key_created() -> None:
    key = Key.create(
        key_id=KEY_ID,
        account_id="111122223333",
        region="us-east-2",
        description="payroll",
        tags={"Project": "Alpha"},
        key_material_id=KEY_MATERIAL_ID,
        sealed_key_material=SEALED,
        now=NOW,
    )

    events = key.collect_events()

    assert len(events) == 1
    created = events[0]
    assert isinstance(created, Key.KeyCreated)
    assert created.timestamp == NOW
    assert created.account_id == "111122223333"
    assert created.region == "us-east-2"
    assert created.key_material_id == KEY_MATERIAL_ID
    assert created.sealed_key_material == SEALED
    assert created.tags == {"Project": "Alpha"}


def test_create_key_copies_the_tags() -> None:
    tags = {"Project": "Alpha"}
    key = new_key(tags=tags)

    tags["Project"] = "Beta"

    assert key.tags == {"Project": "Alpha"}


# Commands on an enabled key.


def test_disable_records_key_disabled() -> None:
    key = new_key()

    key.disable(LATER)

    events = key.collect_events()
    assert [type(event) for event in events] == [Key.KeyDisabled]
    assert events[0].timestamp == LATER
    assert key.state is KeyState.DISABLED


def test_disable_of_disabled_key_records_nothing() -> None:
    key = disabled_key()

    key.disable(LATER)

    assert key.collect_events() == []
    assert key.state is KeyState.DISABLED


def test_enable_records_key_enabled() -> None:
    key = disabled_key()

    key.enable(LATER)

    events = key.collect_events()
    assert [type(event) for event in events] == [Key.KeyEnabled]
    assert key.state is KeyState.ENABLED


def test_enable_of_enabled_key_records_nothing() -> None:
    key = new_key()

    key.enable(LATER)

    assert key.collect_events() == []


def test_update_description_records_the_new_text() -> None:
    key = new_key()

    key.update_description("quarterly payroll", LATER)

    events = key.collect_events()
    assert [type(event) for event in events] == [Key.KeyDescriptionUpdated]
    assert events[0].description == "quarterly payroll"
    assert key.description == "quarterly payroll"


def test_tag_adds_and_overwrites_values() -> None:
    key = new_key()

    key.tag({"Project": "Beta", "Stage": "prod"}, LATER)

    events = key.collect_events()
    assert [type(event) for event in events] == [Key.KeyTagged]
    assert key.tags == {"Project": "Beta", "Stage": "prod"}


def test_untag_removes_only_the_named_keys() -> None:
    key = new_key(tags={"Project": "Alpha", "Stage": "prod", "Team": "ops"})

    key.untag(["Stage", "Missing"], LATER)

    events = key.collect_events()
    assert [type(event) for event in events] == [Key.KeyUntagged]
    assert key.tags == {"Project": "Alpha", "Team": "ops"}


# Scheduling and cancelling deletion.


@pytest.mark.parametrize("days", [7, 30])
def test_schedule_deletion_sets_date_now_plus_days(days: int) -> None:
    key = new_key()

    key.schedule_deletion(days, NOW)

    events = key.collect_events()
    assert [type(event) for event in events] == [Key.KeyDeletionScheduled]
    assert events[0].deletion_date == NOW + timedelta(days=days)
    assert events[0].pending_window_in_days == days
    assert key.state is KeyState.PENDING_DELETION
    assert key.state.value == "PendingDeletion"
    assert key.deletion_date == NOW + timedelta(days=days)
    assert key.pending_window_in_days == days


def test_schedule_deletion_of_disabled_key_is_allowed() -> None:
    key = disabled_key()

    key.schedule_deletion(7, NOW)

    assert key.state is KeyState.PENDING_DELETION


@pytest.mark.parametrize("make_key", [new_key, disabled_key])
def test_cancel_deletion_leaves_key_disabled(make_key: Callable[[], Key]) -> None:
    key = make_key()
    key.schedule_deletion(7, NOW)

    key.cancel_deletion(LATER)

    # CancelKeyDeletion (AWS KMS API reference): "When this operation
    # succeeds, the key state of the KMS key is Disabled."
    events = key.collect_events()
    assert [type(event) for event in events] == [
        Key.KeyDeletionScheduled,
        Key.KeyDeletionCancelled,
    ]
    assert key.state is KeyState.DISABLED
    assert key.deletion_date is None
    assert key.pending_window_in_days is None


@pytest.mark.parametrize("make_key", [new_key, disabled_key])
def test_cancel_deletion_of_key_not_pending_is_rejected(
    make_key: Callable[[], Key],
) -> None:
    key = make_key()

    with pytest.raises(KMSInvalidStateException) as caught:
        key.cancel_deletion(LATER)

    assert caught.value.message == f"{KEY_ARN} is not pending deletion."
    assert key.collect_events() == []


# State guards.


def test_enabled_key_is_usable() -> None:
    key = new_key()

    key.check_usable()
    key.check_manageable()
    key.check_exists()


def test_disabled_key_is_not_usable() -> None:
    key = disabled_key()

    with pytest.raises(DisabledException) as caught:
        key.check_usable()

    assert caught.value.message == f"{KEY_ARN} is disabled."


@pytest.mark.parametrize(
    "command", ["enable", "update_description", "tag", "untag", "schedule_deletion"]
)
def test_disabled_key_is_manageable(command: str) -> None:
    key = disabled_key()

    COMMANDS[command](key)

    assert len(key.collect_events()) == 1


def test_pending_deletion_key_is_not_usable() -> None:
    key = pending_deletion_key()

    with pytest.raises(KMSInvalidStateException) as caught:
        key.check_usable()

    assert caught.value.message == f"{KEY_ARN} is pending deletion."


@pytest.mark.parametrize("command", list(COMMANDS))
def test_pending_deletion_key_rejects_command(command: str) -> None:
    key = pending_deletion_key()
    deletion_date = key.deletion_date

    with pytest.raises(KMSInvalidStateException) as caught:
        COMMANDS[command](key)

    assert caught.value.message == f"{KEY_ARN} is pending deletion."
    assert key.collect_events() == []
    assert key.state is KeyState.PENDING_DELETION
    assert key.deletion_date == deletion_date


@pytest.mark.parametrize("command", [*COMMANDS, "cancel_deletion", "check_usable"])
def test_deleted_key_is_not_found(command: str) -> None:
    key = deleted_key()
    calls: dict[str, Callable[[Key], None]] = {
        **COMMANDS,
        "cancel_deletion": lambda key: key.cancel_deletion(LATER),
        "check_usable": lambda key: key.check_usable(),
    }

    with pytest.raises(NotFoundException) as caught:
        calls[command](key)

    assert caught.value.message == f"Key '{KEY_ARN}' does not exist"
    assert key.collect_events() == []


# Deletion at the end of the waiting period.


def test_deletion_is_due_exactly_at_the_deletion_date() -> None:
    key = pending_deletion_key()
    due = NOW + timedelta(days=7)

    assert key.is_deletion_due(due - timedelta(microseconds=1)) is False
    assert key.is_deletion_due(due) is True
    assert key.is_deletion_due(due + timedelta(days=365)) is True


@pytest.mark.parametrize("make_key", [new_key, disabled_key, deleted_key])
def test_deletion_is_never_due_unless_pending(make_key: Callable[[], Key]) -> None:
    key = make_key()

    assert key.is_deletion_due(NOW + timedelta(days=3650)) is False


def test_delete_before_the_date_is_rejected() -> None:
    key = pending_deletion_key()

    with pytest.raises(KMSInvalidStateException):
        key.delete(NOW + timedelta(days=7) - timedelta(seconds=1))

    assert key.collect_events() == []
    assert key.deleted is False


def test_delete_when_due_records_key_deleted() -> None:
    key = pending_deletion_key()

    key.delete(NOW + timedelta(days=7))

    events = key.collect_events()
    assert [type(event) for event in events] == [Key.KeyDeleted]
    assert events[0].timestamp == NOW + timedelta(days=7)
    assert key.deleted is True


def test_delete_of_key_not_pending_is_rejected() -> None:
    key = new_key()

    with pytest.raises(KMSInvalidStateException):
        key.delete(NOW + timedelta(days=3650))

    assert key.collect_events() == []


def test_delete_twice_is_rejected() -> None:
    key = deleted_key()

    with pytest.raises(KMSInvalidStateException):
        key.delete(NOW + timedelta(days=3650))

    assert key.collect_events() == []


def test_versions_count_the_events() -> None:
    key = new_key()
    key.disable(LATER)
    key.enable(LATER)
    key.schedule_deletion(7, LATER)
    key.cancel_deletion(LATER)

    assert key.version == 5
