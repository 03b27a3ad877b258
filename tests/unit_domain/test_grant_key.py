"""Grants on the Key aggregate: CreateGrant, RetireGrant and RevokeGrant.

Key states follow the table of "Key states of AWS KMS keys" (CreateGrant
fails on a disabled key with DisabledException and on a key pending deletion
with KMSInvalidStateException; RetireGrant and RevokeGrant succeed in every
state). The Name rule is CreateGrant's; missing grants get NotFoundException
as AWS returned for RevokeGrant and RetireGrant of a missing grant.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

import domain.key
from domain.errors import (
    DisabledException,
    KMSInvalidStateException,
    LimitExceededException,
    NotFoundException,
    ValidationException,
)
from domain.grant import Grant, GrantConstraints
from domain.key import Key

KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = "arn:aws:kms:us-east-2:111122223333:key/" + KEY_ID
ROOT = "arn:aws:iam::111122223333:root"
APP_ROLE = "arn:aws:iam::111122223333:role/app"
ADMIN_ROLE = "arn:aws:iam::111122223333:role/adminRole"
NOW = datetime(2030, 1, 15, 9, 30, tzinfo=UTC)


def new_key(collect: bool = True) -> Key:
    """A new enabled key; ``collect=False`` keeps its events for replay."""
    key = Key.create(
        key_id=KEY_ID,
        account_id="111122223333",
        region="us-east-2",
        description="",
        tags={},
        key_material_id="ab" * 32,
        sealed_key_material="c2VhbGVk",
        now=NOW,
    )
    if collect:
        key.collect_events()
    return key


def add_grant(
    key: Key,
    grant_id: str,
    *,
    name: str | None = None,
    grantee: str = APP_ROLE,
    retiring: str | None = ADMIN_ROLE,
    operations: Sequence[str] = ("Encrypt", "Decrypt"),
    constraints: GrantConstraints | None = None,
) -> Grant:
    return key.create_grant(
        grant_id=grant_id,
        name=name,
        grantee_principal=grantee,
        retiring_principal=retiring,
        operations=operations,
        constraints=constraints or GrantConstraints(),
        issuing_account=ROOT,
        now=NOW,
    )


def replayed(key: Key) -> Key:
    """Rebuild the key from its events, as loading from the store does."""
    events = key.collect_events()
    rebuilt: Key | None = None
    for event in events:
        rebuilt = event.mutate(rebuilt)
    assert rebuilt is not None
    return rebuilt


def test_create_grant_records_the_grant() -> None:
    key = new_key(collect=False)
    constraints = GrantConstraints(encryption_context_subset={"Department": "IT"})

    created = add_grant(key, "a" * 64, name="IT-decrypt", constraints=constraints)

    assert created.grant_id == "a" * 64
    assert created.key_id == KEY_ID
    assert created.name == "IT-decrypt"
    assert created.operations == ("Encrypt", "Decrypt")
    assert created.issuing_account == ROOT
    assert created.creation_date == NOW
    assert [type(event).__name__ for event in key.pending_events][-1] == "GrantCreated"
    rebuilt = replayed(key)
    assert rebuilt.grants == {"a" * 64: created}
    assert rebuilt.grants["a" * 64].constraints == constraints


def test_same_name_and_parameters_return_the_same_grant() -> None:
    key = new_key()
    first = add_grant(key, "a" * 64, name="retry-me")
    events_after_first = len(key.pending_events)

    again = add_grant(key, "b" * 64, name="retry-me", operations=["Decrypt", "Encrypt"])

    assert again.grant_id == "a" * 64
    assert again == first
    assert len(key.pending_events) == events_after_first
    assert list(key.grants) == ["a" * 64]


def test_same_name_with_other_parameters_makes_a_new_grant() -> None:
    key = new_key()
    add_grant(key, "a" * 64, name="retry-me")

    other = add_grant(key, "b" * 64, name="retry-me", operations=["Decrypt"])

    assert other.grant_id == "b" * 64
    assert list(key.grants) == ["a" * 64, "b" * 64]


def test_identical_requests_without_name_make_two_grants() -> None:
    key = new_key()

    add_grant(key, "a" * 64)
    add_grant(key, "b" * 64)

    assert list(key.grants) == ["a" * 64, "b" * 64]


def test_create_grant_on_disabled_key_is_refused() -> None:
    key = new_key()
    key.disable(NOW)

    with pytest.raises(DisabledException) as raised:
        add_grant(key, "a" * 64)

    assert raised.value.message == f"{KEY_ARN} is disabled."
    assert key.grants == {}


def test_create_grant_on_key_pending_deletion_is_refused() -> None:
    key = new_key()
    key.schedule_deletion(7, NOW)

    with pytest.raises(KMSInvalidStateException) as raised:
        add_grant(key, "a" * 64)

    assert raised.value.message == f"{KEY_ARN} is pending deletion."


def test_create_grant_with_sign_operation_is_refused() -> None:
    key = new_key()

    with pytest.raises(ValidationException):
        add_grant(key, "a" * 64, operations=["Sign"])

    assert key.grants == {}


def test_grants_per_key_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(domain.key, "MAX_GRANTS_PER_KEY", 2)
    key = new_key()
    add_grant(key, "a" * 64, name="first")
    add_grant(key, "b" * 64)

    with pytest.raises(LimitExceededException):
        add_grant(key, "c" * 64)
    # A retry of an existing grant is not a new grant, so the limit allows it.
    assert add_grant(key, "d" * 64, name="first").grant_id == "a" * 64


def test_retire_grant_removes_it_once() -> None:
    key = new_key(collect=False)
    add_grant(key, "a" * 64)

    key.retire_grant("a" * 64, NOW)

    assert key.grants == {}
    with pytest.raises(NotFoundException):
        key.retire_grant("a" * 64, NOW)
    assert replayed(key).grants == {}


def test_revoke_missing_grant_is_not_found() -> None:
    key = new_key()

    with pytest.raises(NotFoundException):
        key.revoke_grant("0" * 64, NOW)


def test_revoke_grant_works_while_key_is_disabled_or_pending_deletion() -> None:
    key = new_key()
    add_grant(key, "a" * 64)
    add_grant(key, "b" * 64)
    key.disable(NOW)

    key.revoke_grant("a" * 64, NOW)
    key.schedule_deletion(7, NOW + timedelta(minutes=1))
    key.retire_grant("b" * 64, NOW + timedelta(minutes=2))

    assert key.grants == {}


def test_grants_for_finds_the_callers_grants() -> None:
    key = new_key()
    add_grant(key, "a" * 64, grantee=APP_ROLE)
    add_grant(key, "b" * 64, grantee="arn:aws:iam::111122223333:user/other")
    add_grant(key, "c" * 64, grantee=ROOT)
    session = "arn:aws:sts::111122223333:assumed-role/app/worker"

    found = key.grants_for(session, "111122223333")

    assert [grant.grant_id for grant in found] == ["a" * 64, "c" * 64]
    assert key.grants_for("arn:aws:iam::444455556666:role/app", "444455556666") == []


def test_grants_for_forgets_retired_grants() -> None:
    key = new_key()
    add_grant(key, "a" * 64)

    key.retire_grant("a" * 64, NOW)

    assert key.grants_for(APP_ROLE, "111122223333") == []
