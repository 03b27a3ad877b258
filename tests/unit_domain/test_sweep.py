"""The deletion rule: a due key is deleted together with the aliases on it.

ScheduleKeyDeletion (AWS KMS API reference): when the waiting period ends,
AWS KMS deletes the KMS key and all AWS KMS data associated with it,
including all aliases that refer to it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.alias import Alias
from domain.errors import KMSInvalidStateException
from domain.key import Key
from domain.sweep import delete_due_key

ACCOUNT = "111122223333"
REGION = "us-east-2"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
OTHER_KEY_ID = "0987dcba-09fe-87dc-65ba-ab0987654321"
NOW = datetime(2030, 1, 15, 9, 30, tzinfo=UTC)
DUE = NOW + timedelta(days=7)


def pending_key() -> Key:
    key = Key.create(
        key_id=KEY_ID,
        account_id=ACCOUNT,
        region=REGION,
        description="",
        tags={},
        key_material_id="ab" * 32,
        sealed_key_material="c2VhbGVk",
        now=NOW,
    )
    key.schedule_deletion(7, NOW)
    key.collect_events()
    return key


def alias_on(name: str, key_id: str, deleted: bool = False) -> Alias:
    alias = Alias.create(
        account_id=ACCOUNT,
        region=REGION,
        alias_name=name,
        target_key_id=key_id,
        now=NOW,
    )
    if deleted:
        alias.delete(NOW)
    alias.collect_events()
    return alias


def test_due_key_is_deleted_with_its_aliases() -> None:
    key = pending_key()
    first = alias_on("alias/first", KEY_ID)
    second = alias_on("alias/second", KEY_ID)

    changed = delete_due_key(key, [first, second], DUE)

    assert changed == [key, first, second]
    assert key.deleted is True
    assert first.deleted is True
    assert second.deleted is True
    assert [type(event) for event in key.collect_events()] == [Key.KeyDeleted]
    assert [type(event) for event in first.collect_events()] == [Alias.AliasDeleted]
    assert [type(event) for event in second.collect_events()] == [Alias.AliasDeleted]


def test_aliases_of_other_keys_are_left_alone() -> None:
    key = pending_key()
    other = alias_on("alias/other", OTHER_KEY_ID)

    changed = delete_due_key(key, [other], DUE)

    assert changed == [key]
    assert other.deleted is False
    assert other.collect_events() == []


def test_already_deleted_alias_is_not_deleted_again() -> None:
    key = pending_key()
    already_deleted = alias_on("alias/already_deleted", KEY_ID, deleted=True)

    changed = delete_due_key(key, [already_deleted], DUE)

    assert changed == [key]
    assert already_deleted.collect_events() == []


def test_key_not_yet_due_changes_nothing() -> None:
    key = pending_key()
    alias = alias_on("alias/first", KEY_ID)

    with pytest.raises(KMSInvalidStateException):
        delete_due_key(key, [alias], DUE - timedelta(seconds=1))

    assert key.deleted is False
    assert alias.deleted is False
    assert key.collect_events() == []
    assert alias.collect_events() == []
