"""Rotation on the Key aggregate: the commands' events, schedule and guards.

AWS facts come from the AWS KMS API reference (EnableKeyRotation,
GetKeyRotationStatus, RotateKeyOnDemand, ListKeyRotations, ConflictException)
and the developer guide ("Rotate AWS KMS keys", "Key states of AWS KMS keys",
whose table details give the error messages).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.errors import (
    ConflictException,
    DisabledException,
    KMSInvalidStateException,
    LimitExceededException,
    NotFoundException,
    UnsupportedOperationException,
)
from domain.key import Key
from domain.key_state import KeyState
from domain.rotation import (
    KeyMaterialState,
    RotationType,
    is_rotation_due,
    key_material_entries,
    reported_rotation_enabled,
)

KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = "arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
FIRST_MATERIAL = "ab" * 32
SECOND_MATERIAL = "cd" * 32
THIRD_MATERIAL = "ef" * 32
SEALED = "c2VhbGVkIGtleSBtYXRlcmlhbA=="
NOW = datetime(2030, 1, 15, 9, 30, tzinfo=UTC)
DAY = timedelta(days=1)


def new_key() -> Key:
    key = Key.create(
        key_id=KEY_ID,
        account_id="111122223333",
        region="us-east-2",
        description="",
        tags={},
        key_material_id=FIRST_MATERIAL,
        sealed_key_material=SEALED,
        now=NOW,
    )
    key.collect_events()
    return key


def rotating_key(period: int = 90) -> Key:
    key = new_key()
    key.enable_rotation(period, NOW)
    key.collect_events()
    return key


def material_id(number: int) -> str:
    return f"{number:064x}"


# EnableKeyRotation and DisableKeyRotation.


def test_new_key_does_not_rotate() -> None:
    key = new_key()

    # Automatic rotation is off until EnableKeyRotation turns it on.
    assert key.rotation_enabled is False
    assert key.rotation_period_in_days is None
    assert key.next_rotation_date is None
    assert key.rotations == []
    assert reported_rotation_enabled(key) is False


def test_enable_rotation_schedules_first_rotation_one_period_on() -> None:
    key = new_key()

    key.enable_rotation(365, NOW)

    [event] = key.collect_events()
    assert isinstance(event, Key.KeyRotationEnabled)
    assert event.rotation_period_in_days == 365
    assert event.timestamp == NOW
    # EnableKeyRotation: KMS rotates the key material one period after the
    # enable date.
    assert key.rotation_period_in_days == 365
    assert key.next_rotation_date == NOW + 365 * DAY
    assert reported_rotation_enabled(key) is True


def test_enable_rotation_again_with_same_period_records_nothing() -> None:
    key = rotating_key(180)

    key.enable_rotation(180, NOW + 10 * DAY)

    assert key.collect_events() == []
    assert key.next_rotation_date == NOW + 180 * DAY


def test_enable_rotation_with_new_period_moves_next_date() -> None:
    key = rotating_key(365)

    key.enable_rotation(90, NOW + 10 * DAY)

    [event] = key.collect_events()
    assert isinstance(event, Key.KeyRotationEnabled)
    assert key.rotation_period_in_days == 90
    # The new period counts from the same start: the day rotation was enabled.
    assert key.next_rotation_date == NOW + 90 * DAY


def test_reenabled_rotation_counts_from_new_date() -> None:
    key = rotating_key(90)
    key.disable_rotation(NOW + 50 * DAY)
    key.collect_events()

    key.enable_rotation(90, NOW + 60 * DAY)

    # "Disable automatic key rotation" (developer guide): enabled again, KMS
    # rotates based on the new rotation-enable date.
    assert key.next_rotation_date == NOW + 150 * DAY


def test_disable_rotation_clears_the_schedule() -> None:
    key = rotating_key(90)

    key.disable_rotation(NOW + DAY)

    [event] = key.collect_events()
    assert isinstance(event, Key.KeyRotationDisabled)
    assert key.rotation_enabled is False
    assert key.rotation_period_in_days is None
    assert key.next_rotation_date is None


def test_disable_rotation_when_off_records_nothing() -> None:
    key = new_key()

    key.disable_rotation(NOW)

    assert key.collect_events() == []


@pytest.mark.parametrize("command", ["enable", "disable"])
def test_rotation_setting_of_disabled_key_is_rejected(command: str) -> None:
    key = rotating_key()
    key.disable(NOW)
    key.collect_events()

    with pytest.raises(DisabledException) as raised:
        if command == "enable":
            key.enable_rotation(180, NOW)
        else:
            key.disable_rotation(NOW)

    assert raised.value.message == f"{KEY_ARN} is disabled."
    assert key.collect_events() == []
    assert key.rotation_period_in_days == 90


@pytest.mark.parametrize("command", ["enable", "disable"])
def test_rotation_setting_of_pending_key_is_rejected(command: str) -> None:
    key = rotating_key()
    key.schedule_deletion(7, NOW)
    key.collect_events()

    with pytest.raises(KMSInvalidStateException) as raised:
        if command == "enable":
            key.enable_rotation(180, NOW)
        else:
            key.disable_rotation(NOW)

    assert raised.value.message == f"{KEY_ARN} is pending deletion."
    assert key.collect_events() == []


def test_rotation_setting_of_deleted_key_is_not_found() -> None:
    key = new_key()
    key.schedule_deletion(7, NOW)
    key.delete(NOW + 7 * DAY)

    with pytest.raises(NotFoundException):
        key.enable_rotation(365, NOW + 8 * DAY)


def test_automatic_rotation_of_imported_key_is_unsupported() -> None:
    key = new_key()
    # Keys with imported key material have origin EXTERNAL; EnableKeyRotation
    # (API reference) cannot turn automatic rotation on for them.
    key.origin = "EXTERNAL"

    with pytest.raises(UnsupportedOperationException) as raised:
        key.enable_rotation(365, NOW)

    assert raised.value.message == (
        f"{KEY_ARN} origin is EXTERNAL which is not valid for this operation."
    )


# GetKeyRotationStatus in each key state.


def test_disabled_key_keeps_rotation_status() -> None:
    key = rotating_key()

    key.disable(NOW)

    # GetKeyRotationStatus: the status does not change when a key is disabled.
    assert reported_rotation_enabled(key) is True


def test_pending_deletion_reports_rotation_off_until_cancelled() -> None:
    key = rotating_key()

    key.schedule_deletion(7, NOW)
    while_pending = reported_rotation_enabled(key)
    key.cancel_deletion(NOW + DAY)

    # GetKeyRotationStatus: false while pending deletion; cancelling the
    # deletion restores the original status.
    assert while_pending is False
    assert reported_rotation_enabled(key) is True
    assert key.next_rotation_date == NOW + 90 * DAY


# RotateKeyOnDemand.


def test_on_demand_rotation_makes_new_material_current() -> None:
    key = new_key()
    later = NOW + 3 * DAY

    key.rotate_on_demand(SECOND_MATERIAL, "bmV3", later)

    [event] = key.collect_events()
    assert isinstance(event, Key.KeyMaterialRotated)
    assert event.rotation_type == "ON_DEMAND"
    assert event.key_material_id == SECOND_MATERIAL
    assert key.current_key_material_id == SECOND_MATERIAL
    # Older key material stays, so older ciphertexts still decrypt.
    assert key.key_materials == {FIRST_MATERIAL: SEALED, SECOND_MATERIAL: "bmV3"}
    [rotation] = key.rotations
    assert rotation.key_material_id == SECOND_MATERIAL
    assert rotation.rotation_date == later
    assert rotation.rotation_type is RotationType.ON_DEMAND


def test_on_demand_rotation_keeps_automatic_schedule() -> None:
    key = rotating_key(730)

    key.rotate_on_demand(SECOND_MATERIAL, SEALED, NOW + 30 * DAY)

    # RotateKeyOnDemand: on-demand rotations do not change existing automatic
    # rotation schedules.
    assert key.next_rotation_date == NOW + 730 * DAY
    assert key.rotation_period_in_days == 730


def test_on_demand_rotation_is_limited_to_25() -> None:
    key = new_key()
    for number in range(25):
        key.rotate_on_demand(material_id(number), SEALED, NOW + number * DAY)
    key.collect_events()

    with pytest.raises(LimitExceededException) as raised:
        key.rotate_on_demand(material_id(99), SEALED, NOW + 30 * DAY)

    # RotateKeyOnDemand: a maximum of 25 on-demand rotations per KMS key.
    assert KEY_ARN in raised.value.message
    assert key.collect_events() == []
    assert len(key.rotations) == 25
    assert key.current_key_material_id == material_id(24)


def test_automatic_rotations_do_not_count_toward_limit() -> None:
    key = rotating_key(90)
    moment = NOW
    for number in range(3):
        moment = key.next_rotation_date or moment
        key.rotate_automatically(material_id(100 + number), SEALED, moment)
    for number in range(25):
        key.rotate_on_demand(material_id(number), SEALED, moment + DAY)

    assert len(key.rotations) == 28


@pytest.mark.parametrize(
    ("before_due", "refused"),
    [
        (timedelta(minutes=19), True),
        (timedelta(minutes=20), True),
        (timedelta(minutes=21), False),
        (-timedelta(days=1), True),
    ],
    ids=["19-minutes", "20-minutes", "21-minutes", "overdue"],
)
def test_on_demand_rotation_near_automatic_one_conflicts(
    before_due: timedelta, refused: bool
) -> None:
    key = rotating_key(90)
    moment = NOW + 90 * DAY - before_due

    if refused:
        # ConflictException (API reference): an automatic rotation is in
        # progress or scheduled to begin within the next 20 minutes.
        with pytest.raises(ConflictException):
            key.rotate_on_demand(SECOND_MATERIAL, SEALED, moment)
        assert key.collect_events() == []
    else:
        key.rotate_on_demand(SECOND_MATERIAL, SEALED, moment)
        assert key.current_key_material_id == SECOND_MATERIAL


def test_on_demand_rotation_of_disabled_key_is_rejected() -> None:
    key = new_key()
    key.disable(NOW)

    with pytest.raises(DisabledException) as raised:
        key.rotate_on_demand(SECOND_MATERIAL, SEALED, NOW)

    assert raised.value.message == f"{KEY_ARN} is disabled."
    assert key.current_key_material_id == FIRST_MATERIAL


def test_on_demand_rotation_of_pending_key_is_rejected() -> None:
    key = new_key()
    key.schedule_deletion(7, NOW)

    with pytest.raises(KMSInvalidStateException) as raised:
        key.rotate_on_demand(SECOND_MATERIAL, SEALED, NOW)

    assert raised.value.message == f"{KEY_ARN} is pending deletion."
    assert key.current_key_material_id == FIRST_MATERIAL


# Automatic rotation, as the sweep does it.


def test_rotation_is_due_at_next_rotation_date() -> None:
    key = rotating_key(90)

    assert is_rotation_due(key, NOW + 90 * DAY - timedelta(seconds=1)) is False
    assert is_rotation_due(key, NOW + 90 * DAY) is True


def test_automatic_rotation_schedules_next_one_period_on() -> None:
    key = rotating_key(90)
    due = NOW + 90 * DAY
    swept = due + timedelta(seconds=40)

    key.rotate_automatically(SECOND_MATERIAL, "bmV3", swept)

    [event] = key.collect_events()
    assert isinstance(event, Key.KeyMaterialRotated)
    assert event.rotation_type == "AUTOMATIC"
    assert key.current_key_material_id == SECOND_MATERIAL
    assert key.rotations[0].rotation_type is RotationType.AUTOMATIC
    assert key.rotations[0].rotation_date == swept
    assert key.next_rotation_date == swept + 90 * DAY
    assert is_rotation_due(key, swept) is False


def test_rotation_missed_for_several_periods_happens_once() -> None:
    key = rotating_key(90)
    # A server stopped for a year catches up with one rotation, and the period
    # counts from then.
    late = NOW + 365 * DAY

    key.rotate_automatically(SECOND_MATERIAL, SEALED, late)

    assert len(key.rotations) == 1
    assert key.next_rotation_date == late + 90 * DAY
    assert is_rotation_due(key, late + DAY) is False


def test_rotation_before_due_date_is_refused() -> None:
    key = rotating_key(90)

    with pytest.raises(KMSInvalidStateException):
        key.rotate_automatically(SECOND_MATERIAL, SEALED, NOW + 89 * DAY)

    assert key.collect_events() == []


def test_key_without_rotation_is_never_due() -> None:
    key = new_key()

    assert is_rotation_due(key, NOW + 10_000 * DAY) is False


@pytest.mark.parametrize("state", [KeyState.DISABLED, KeyState.PENDING_DELETION])
def test_inactive_due_key_is_not_rotated(state: KeyState) -> None:
    key = rotating_key(90)
    if state is KeyState.DISABLED:
        key.disable(NOW + DAY)
    else:
        key.schedule_deletion(30, NOW + 80 * DAY)

    # "Rotate AWS KMS keys": KMS does not rotate a key while it is disabled or
    # pending deletion.
    assert is_rotation_due(key, NOW + 100 * DAY) is False
    with pytest.raises(KMSInvalidStateException):
        key.rotate_automatically(SECOND_MATERIAL, SEALED, NOW + 100 * DAY)


def test_overdue_key_enabled_again_is_rotated_at_once() -> None:
    key = rotating_key(90)
    key.disable(NOW + DAY)
    key.enable(NOW + 200 * DAY)

    # GetKeyRotationStatus: a re-enabled key whose material was due for
    # rotation meanwhile is rotated immediately, then every period after.
    assert is_rotation_due(key, NOW + 200 * DAY) is True
    key.rotate_automatically(SECOND_MATERIAL, SEALED, NOW + 200 * DAY)
    assert key.next_rotation_date == NOW + 290 * DAY


def test_key_enabled_again_before_due_keeps_schedule() -> None:
    key = rotating_key(90)
    key.disable(NOW + DAY)

    key.enable(NOW + 30 * DAY)

    assert key.next_rotation_date == NOW + 90 * DAY
    assert is_rotation_due(key, NOW + 30 * DAY) is False


# ListKeyRotations.


def rotated_twice() -> Key:
    key = rotating_key(90)
    key.rotate_automatically(SECOND_MATERIAL, SEALED, NOW + 90 * DAY)
    key.rotate_on_demand(THIRD_MATERIAL, SEALED, NOW + 100 * DAY)
    key.collect_events()
    return key


def test_rotation_entries_list_rotations_oldest_first() -> None:
    key = rotated_twice()

    entries = key_material_entries(key, include_first=False)

    assert [entry.key_material_id for entry in entries] == [
        SECOND_MATERIAL,
        THIRD_MATERIAL,
    ]
    assert [entry.rotation_type for entry in entries] == [
        RotationType.AUTOMATIC,
        RotationType.ON_DEMAND,
    ]
    assert [entry.rotation_date for entry in entries] == [
        NOW + 90 * DAY,
        NOW + 100 * DAY,
    ]
    assert [entry.state for entry in entries] == [
        KeyMaterialState.NON_CURRENT,
        KeyMaterialState.CURRENT,
    ]


def test_all_key_material_adds_first_material_without_rotation() -> None:
    key = rotated_twice()

    entries = key_material_entries(key, include_first=True)

    # ListKeyRotations: ALL_KEY_MATERIAL adds the first key material, which has
    # no RotationDate or RotationType.
    first = entries[0]
    assert first.key_material_id == FIRST_MATERIAL
    assert first.state is KeyMaterialState.NON_CURRENT
    assert first.rotation_date is None
    assert first.rotation_type is None
    assert [entry.key_material_id for entry in entries[1:]] == [
        SECOND_MATERIAL,
        THIRD_MATERIAL,
    ]


def test_unrotated_key_lists_only_current_first_material() -> None:
    key = new_key()

    assert key_material_entries(key, include_first=False) == []
    [entry] = key_material_entries(key, include_first=True)
    assert entry.key_material_id == FIRST_MATERIAL
    assert entry.state is KeyMaterialState.CURRENT
