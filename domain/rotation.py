"""Rules of key material rotation: automatic on a schedule, and on demand.

The rules follow the AWS KMS API reference (EnableKeyRotation,
GetKeyRotationStatus, RotateKeyOnDemand, ListKeyRotations) and the developer
guide's "Rotate AWS KMS keys":

- Automatic rotation happens one rotation period (90 to 2,560 days, 365 by
  default) after it is enabled, and every period after that. Enabling it
  again after it was disabled starts the period over from that day.
- A disabled key or a key pending deletion is not rotated. Once the key is
  enabled again, a rotation that fell due meanwhile happens at once, and the
  period counts from then. A rotation not yet due keeps its date.
- On-demand rotations do not move the automatic schedule, work whether or not
  automatic rotation is enabled, and are limited to 25 per key.

The Key aggregate calls these guards from its rotation commands.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from domain.errors import (
    ConflictException,
    LimitExceededException,
    UnsupportedOperationException,
)
from domain.key_state import KeyState

if TYPE_CHECKING:
    from domain.key import Key

DEFAULT_ROTATION_PERIOD_IN_DAYS = 365
# RotateKeyOnDemand (AWS KMS API reference, botocore 1.44 model): "a maximum
# of 25 times per KMS key". Older versions of the page gave 10.
MAX_ON_DEMAND_ROTATIONS = 25
# ConflictException (AWS KMS API reference): an on-demand rotation is refused
# while an automatic rotation "is currently in progress or scheduled to begin
# within the next 20 minutes".
AUTOMATIC_ROTATION_CONFLICT_WINDOW = timedelta(minutes=20)


class RotationType(StrEnum):
    AUTOMATIC = "AUTOMATIC"
    ON_DEMAND = "ON_DEMAND"


class KeyMaterialState(StrEnum):
    CURRENT = "CURRENT"
    NON_CURRENT = "NON_CURRENT"


@dataclass(frozen=True, slots=True)
class KeyMaterialRotation:
    """One completed rotation: the key material it made current, and when."""

    key_material_id: str
    rotation_date: datetime
    rotation_type: RotationType


@dataclass(frozen=True, slots=True)
class KeyMaterialEntry:
    """One key material of a key, as ListKeyRotations describes it.

    ``rotation_date`` and ``rotation_type`` are None for the first key
    material, which no rotation made.
    """

    key_material_id: str
    state: KeyMaterialState
    rotation_date: datetime | None
    rotation_type: RotationType | None


def check_rotation_configurable(key: Key) -> None:
    """Raise the error AWS gives when EnableKeyRotation or DisableKeyRotation
    cannot change ``key``.

    Automatic rotation exists only for symmetric encryption keys whose key
    material KMS made (origin AWS_KMS). The key state table of the developer
    guide gives DisabledException for a disabled key and
    KMSInvalidStateException for a key pending deletion.
    """
    key.check_exists()
    check_generated_material(key)
    check_state_allows_rotation(key)


def check_generated_material(key: Key) -> None:
    from domain.key import ORIGIN_AWS_KMS, SYMMETRIC_DEFAULT

    if key.origin != ORIGIN_AWS_KMS:
        raise UnsupportedOperationException(
            f"{key.arn} origin is {key.origin} which is not valid for this operation."
        )
    if key.key_spec != SYMMETRIC_DEFAULT:
        raise UnsupportedOperationException(
            f"{key.arn} key spec is {key.key_spec} which is not valid for this "
            "operation."
        )


def check_state_allows_rotation(key: Key) -> None:
    # The same errors as for cryptographic use: DisabledException for a
    # disabled key, KMSInvalidStateException for any other state but Enabled.
    key.check_usable()


def check_on_demand_rotation(key: Key, now: datetime) -> None:
    """Raise the error AWS gives when RotateKeyOnDemand cannot rotate ``key`` now."""
    from domain.key import SYMMETRIC_DEFAULT

    key.check_exists()
    if key.key_spec != SYMMETRIC_DEFAULT:
        raise UnsupportedOperationException(
            f"{key.arn} key spec is {key.key_spec} which is not valid for this "
            "operation."
        )
    check_state_allows_rotation(key)
    if on_demand_rotation_count(key) >= MAX_ON_DEMAND_ROTATIONS:
        raise LimitExceededException(
            "The on-demand rotations limit has been reached for the given keyId. "
            f"No more on-demand rotations can be performed for this key: {key.arn}"
        )
    due = key.next_rotation_date
    if due is not None and due <= now + AUTOMATIC_ROTATION_CONFLICT_WINDOW:
        raise ConflictException(
            f"An automatic rotation of {key.arn} is in progress or scheduled to "
            "begin within the next 20 minutes. Try again after it completes."
        )


def on_demand_rotation_count(key: Key) -> int:
    return sum(
        rotation.rotation_type is RotationType.ON_DEMAND for rotation in key.rotations
    )


def first_rotation_date(enabled_on: datetime, rotation_period_in_days: int) -> datetime:
    return enabled_on + timedelta(days=rotation_period_in_days)


def rescheduled_rotation_date(
    next_rotation_date: datetime, old_period_in_days: int, new_period_in_days: int
) -> datetime:
    """Move the next rotation when the period changes while rotation stays on.

    The period still counts from the same start (the day rotation was enabled,
    or the last automatic rotation), so only its length changes.

    NOTE: AWS documents that RotationPeriodInDays can change the period of a
    key with rotation enabled, but not from which day the new period counts.
    """
    start = next_rotation_date - timedelta(days=old_period_in_days)
    return start + timedelta(days=new_period_in_days)


def is_rotation_due(key: Key, now: datetime) -> bool:
    """Whether the sweep should rotate ``key`` automatically at ``now``."""
    return (
        not key.deleted
        and key.state is KeyState.ENABLED
        and key.rotation_period_in_days is not None
        and key.next_rotation_date is not None
        and key.next_rotation_date <= now
    )


def reported_rotation_enabled(key: Key) -> bool:
    """KeyRotationEnabled as GetKeyRotationStatus reports it.

    GetKeyRotationStatus (AWS KMS API reference): while a key is pending
    deletion its rotation status is false; if the deletion is cancelled the
    original status returns. A disabled key keeps its status.
    """
    return (
        key.rotation_period_in_days is not None
        and key.state is not KeyState.PENDING_DELETION
    )


def key_material_entries(key: Key, include_first: bool) -> list[KeyMaterialEntry]:
    """List the key's materials oldest first, as ListKeyRotations does.

    ``include_first`` adds the key material the key was created with
    (``IncludeKeyMaterial=ALL_KEY_MATERIAL``).
    """
    entries: list[KeyMaterialEntry] = []
    rotated = {rotation.key_material_id for rotation in key.rotations}
    if include_first:
        for key_material_id in key.key_materials:
            if key_material_id not in rotated:
                entries.append(
                    KeyMaterialEntry(
                        key_material_id, _state_of(key, key_material_id), None, None
                    )
                )
    for rotation in key.rotations:
        entries.append(
            KeyMaterialEntry(
                rotation.key_material_id,
                _state_of(key, rotation.key_material_id),
                rotation.rotation_date,
                rotation.rotation_type,
            )
        )
    return entries


def _state_of(key: Key, key_material_id: str) -> KeyMaterialState:
    if key_material_id == key.current_key_material_id:
        return KeyMaterialState.CURRENT
    return KeyMaterialState.NON_CURRENT
