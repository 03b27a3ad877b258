"""The Alias aggregate: a friendly name that points at one key.

An alias's aggregate id is derived from its account, Region and name, so two
requests that create the same alias at once write the same first event and
optimistic concurrency lets only one of them succeed.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate

from domain.errors import (
    AlreadyExistsException,
    InvalidAliasNameException,
    NotFoundException,
    ValidationException,
)
from domain.identifiers import ALIAS_PREFIX, AWS_ALIAS_PREFIX, alias_arn

_ALIAS_NAMESPACE = uuid.UUID("6f1d3c2e-5b8a-4d7e-9c61-0a4b2f8e7d13")
_ALIAS_NAME = re.compile(r"alias/[a-zA-Z0-9/_-]+")
MAX_ALIAS_NAME_LENGTH = 256


def alias_aggregate_id(account_id: str, region: str, alias_name: str) -> uuid.UUID:
    return uuid.uuid5(_ALIAS_NAMESPACE, f"{account_id}\x00{region}\x00{alias_name}")


def check_alias_name(alias_name: str) -> None:
    """Raise the error AWS gives for an alias name a customer may not create."""
    if not alias_name.startswith(ALIAS_PREFIX):
        raise ValidationException(
            f'Alias must start with the prefix "{ALIAS_PREFIX}". Please see '
            "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html"
        )
    if alias_name.startswith(AWS_ALIAS_PREFIX):
        raise InvalidAliasNameException(
            f"Alias {alias_name} must not begin with the prefix {AWS_ALIAS_PREFIX}, "
            "which is reserved for AWS managed keys."
        )
    # The service model's pattern also admits ':', which KMS itself rejects.
    if len(alias_name) > MAX_ALIAS_NAME_LENGTH or not _ALIAS_NAME.fullmatch(alias_name):
        raise InvalidAliasNameException(
            f"Alias {alias_name} is not valid: an alias name has 1 to 256 "
            "characters, only letters, digits, '/', '_' and '-'."
        )


class Alias(Aggregate):
    class AliasCreated(Aggregate.Created):
        account_id: str
        region: str
        alias_name: str
        target_key_id: str

    class AliasRetargeted(Aggregate.Event):
        target_key_id: str

        def apply(self, alias: Any) -> None:
            alias.target_key_id = self.target_key_id
            alias.last_updated_date = self.timestamp

    class AliasDeleted(Aggregate.Event):
        def apply(self, alias: Any) -> None:
            alias.deleted = True
            alias.last_updated_date = self.timestamp

    class AliasRecreated(Aggregate.Event):
        """The name, once deleted, was created again for a new target."""

        target_key_id: str

        def apply(self, alias: Any) -> None:
            alias.target_key_id = self.target_key_id
            alias.deleted = False
            alias.creation_date = self.timestamp
            alias.last_updated_date = self.timestamp

    def __init__(
        self, account_id: str, region: str, alias_name: str, target_key_id: str
    ) -> None:
        self.account_id = account_id
        self.region = region
        self.alias_name = alias_name
        self.target_key_id = target_key_id
        self.deleted = False
        self.creation_date: datetime = self.created_on
        self.last_updated_date: datetime = self.created_on

    @classmethod
    def create(
        cls,
        *,
        account_id: str,
        region: str,
        alias_name: str,
        target_key_id: str,
        now: datetime,
    ) -> Alias:
        return cls._create(
            cls.AliasCreated,
            id=alias_aggregate_id(account_id, region, alias_name),
            timestamp=now,
            account_id=account_id,
            region=region,
            alias_name=alias_name,
            target_key_id=target_key_id,
        )

    @property
    def arn(self) -> str:
        return alias_arn(self.region, self.account_id, self.alias_name)

    def check_exists(self) -> None:
        if self.deleted:
            raise NotFoundException(f"Alias {self.arn} is not found.")

    def recreate(self, target_key_id: str, now: datetime) -> None:
        if not self.deleted:
            raise AlreadyExistsException(
                f"An alias with the name {self.arn} already exists"
            )
        self.trigger_event(
            self.AliasRecreated, target_key_id=target_key_id, timestamp=now
        )

    def retarget(self, target_key_id: str, now: datetime) -> None:
        self.check_exists()
        self.trigger_event(
            self.AliasRetargeted, target_key_id=target_key_id, timestamp=now
        )

    def delete(self, now: datetime) -> None:
        self.check_exists()
        self.trigger_event(self.AliasDeleted, timestamp=now)
