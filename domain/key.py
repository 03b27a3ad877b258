"""The Key aggregate: one KMS key, whose every lifecycle change is an event.

Commands are verbs (``key.disable()``) and events are facts (``KeyDisabled``).
Each command checks the key state first and raises the KMS error AWS gives,
before any event is triggered, so a refused command changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from eventsourcing.domain import Aggregate

from domain.errors import (
    DisabledException,
    KMSInvalidStateException,
    NotFoundException,
)
from domain.identifiers import key_arn
from domain.key_state import KeyState

SYMMETRIC_DEFAULT = "SYMMETRIC_DEFAULT"
ENCRYPT_DECRYPT = "ENCRYPT_DECRYPT"
ORIGIN_AWS_KMS = "AWS_KMS"
KEY_MANAGER_CUSTOMER = "CUSTOMER"


class Key(Aggregate):
    """A symmetric KMS key with its key materials, tags and key state."""

    class KeyCreated(Aggregate.Created):
        account_id: str
        region: str
        description: str
        key_usage: str
        key_spec: str
        origin: str
        multi_region: bool
        tags: dict[str, str]
        key_material_id: str
        sealed_key_material: str
        """Base64 of the key material sealed under its own sealing key."""

    class KeyDescriptionUpdated(Aggregate.Event):
        description: str

        def apply(self, key: Any) -> None:
            key.description = self.description

    class KeyEnabled(Aggregate.Event):
        def apply(self, key: Any) -> None:
            key.state = KeyState.ENABLED

    class KeyDisabled(Aggregate.Event):
        def apply(self, key: Any) -> None:
            key.state = KeyState.DISABLED

    class KeyDeletionScheduled(Aggregate.Event):
        deletion_date: datetime
        pending_window_in_days: int

        def apply(self, key: Any) -> None:
            key.state = KeyState.PENDING_DELETION
            key.deletion_date = self.deletion_date
            key.pending_window_in_days = self.pending_window_in_days

    class KeyDeletionCancelled(Aggregate.Event):
        def apply(self, key: Any) -> None:
            # AWS leaves a key whose deletion was cancelled disabled.
            key.state = KeyState.DISABLED
            key.deletion_date = None
            key.pending_window_in_days = None

    class KeyDeleted(Aggregate.Event):
        """The waiting period ended; every key material was crypto-shredded."""

        def apply(self, key: Any) -> None:
            key.deleted = True

    class KeyTagged(Aggregate.Event):
        tags: dict[str, str]

        def apply(self, key: Any) -> None:
            key.tags = {**key.tags, **self.tags}

    class KeyUntagged(Aggregate.Event):
        tag_keys: list[str]

        def apply(self, key: Any) -> None:
            key.tags = {k: v for k, v in key.tags.items() if k not in self.tag_keys}

    def __init__(
        self,
        account_id: str,
        region: str,
        description: str,
        key_usage: str,
        key_spec: str,
        origin: str,
        multi_region: bool,
        tags: dict[str, str],
        key_material_id: str,
        sealed_key_material: str,
    ) -> None:
        self.account_id = account_id
        self.region = region
        self.description = description
        self.key_usage = key_usage
        self.key_spec = key_spec
        self.origin = origin
        self.multi_region = multi_region
        self.tags = dict(tags)
        self.state = KeyState.ENABLED
        self.deletion_date: datetime | None = None
        self.pending_window_in_days: int | None = None
        self.deleted = False
        self.key_materials: dict[str, str] = {key_material_id: sealed_key_material}
        self.current_key_material_id = key_material_id

    @classmethod
    def create(
        cls,
        *,
        key_id: str,
        account_id: str,
        region: str,
        description: str,
        tags: Mapping[str, str],
        key_material_id: str,
        sealed_key_material: str,
        now: datetime,
    ) -> Key:
        return cls._create(
            cls.KeyCreated,
            id=uuid.UUID(key_id),
            timestamp=now,
            account_id=account_id,
            region=region,
            description=description,
            key_usage=ENCRYPT_DECRYPT,
            key_spec=SYMMETRIC_DEFAULT,
            origin=ORIGIN_AWS_KMS,
            multi_region=False,
            tags=dict(tags),
            key_material_id=key_material_id,
            sealed_key_material=sealed_key_material,
        )

    @property
    def key_id(self) -> str:
        return str(self.id)

    @property
    def arn(self) -> str:
        return key_arn(self.region, self.account_id, self.key_id)

    @property
    def creation_date(self) -> datetime:
        return self.created_on

    # Guards, in the order AWS applies them.

    def check_exists(self) -> None:
        if self.deleted:
            raise NotFoundException(f"Key '{self.arn}' does not exist")

    def check_usable(self) -> None:
        """Raise the error AWS gives when a key cannot be used for cryptography."""
        self.check_exists()
        if self.state is KeyState.DISABLED:
            raise DisabledException(f"{self.arn} is disabled.")
        if self.state is not KeyState.ENABLED:
            raise self._invalid_state()

    def check_manageable(self) -> None:
        """Raise the error AWS gives for management calls on a key pending deletion."""
        self.check_exists()
        if self.state is KeyState.PENDING_DELETION:
            raise self._invalid_state()

    def _invalid_state(self) -> KMSInvalidStateException:
        if self.state is KeyState.PENDING_DELETION:
            return KMSInvalidStateException(f"{self.arn} is pending deletion.")
        return KMSInvalidStateException(f"{self.arn} is {self.state.value}.")

    # Commands.

    def update_description(self, description: str, now: datetime) -> None:
        self.check_manageable()
        self.trigger_event(
            self.KeyDescriptionUpdated, description=description, timestamp=now
        )

    def enable(self, now: datetime) -> None:
        self.check_manageable()
        if self.state is not KeyState.ENABLED:
            self.trigger_event(self.KeyEnabled, timestamp=now)

    def disable(self, now: datetime) -> None:
        self.check_manageable()
        if self.state is not KeyState.DISABLED:
            self.trigger_event(self.KeyDisabled, timestamp=now)

    def schedule_deletion(self, pending_window_in_days: int, now: datetime) -> None:
        self.check_manageable()
        self.trigger_event(
            self.KeyDeletionScheduled,
            deletion_date=now + timedelta(days=pending_window_in_days),
            pending_window_in_days=pending_window_in_days,
            timestamp=now,
        )

    def cancel_deletion(self, now: datetime) -> None:
        self.check_exists()
        if self.state is not KeyState.PENDING_DELETION:
            raise KMSInvalidStateException(f"{self.arn} is not pending deletion.")
        self.trigger_event(self.KeyDeletionCancelled, timestamp=now)

    def is_deletion_due(self, now: datetime) -> bool:
        return (
            not self.deleted
            and self.state is KeyState.PENDING_DELETION
            and self.deletion_date is not None
            and self.deletion_date <= now
        )

    def delete(self, now: datetime) -> None:
        """End the waiting period: the key and all its key materials are gone."""
        if not self.is_deletion_due(now):
            raise KMSInvalidStateException(f"{self.arn} is not due for deletion.")
        self.trigger_event(self.KeyDeleted, timestamp=now)

    def tag(self, tags: Mapping[str, str], now: datetime) -> None:
        self.check_manageable()
        self.trigger_event(self.KeyTagged, tags=dict(tags), timestamp=now)

    def untag(self, tag_keys: Iterable[str], now: datetime) -> None:
        self.check_manageable()
        self.trigger_event(self.KeyUntagged, tag_keys=list(tag_keys), timestamp=now)
