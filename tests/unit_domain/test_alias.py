"""The Alias aggregate and the alias name rules of CreateAlias."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.alias import Alias, alias_aggregate_id, check_alias_name
from domain.errors import (
    AlreadyExistsException,
    InvalidAliasNameException,
    NotFoundException,
    ValidationException,
)

ACCOUNT = "111122223333"
REGION = "us-east-2"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
OTHER_KEY_ID = "0987dcba-09fe-87dc-65ba-ab0987654321"
ALIAS_ARN = "arn:aws:kms:us-east-2:111122223333:alias/ExampleAlias"
NOW = datetime(2030, 1, 15, 9, 30, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


def new_alias(name: str = "alias/ExampleAlias") -> Alias:
    alias = Alias.create(
        account_id=ACCOUNT,
        region=REGION,
        alias_name=name,
        target_key_id=KEY_ID,
        now=NOW,
    )
    alias.collect_events()
    return alias


def deleted_alias() -> Alias:
    alias = new_alias()
    alias.delete(NOW)
    alias.collect_events()
    return alias


# The aggregate.


def test_create_alias_records_alias_created() -> None:
    alias = Alias.create(
        account_id=ACCOUNT,
        region=REGION,
        alias_name="alias/ExampleAlias",
        target_key_id=KEY_ID,
        now=NOW,
    )

    events = alias.collect_events()
    assert [type(event) for event in events] == [Alias.AliasCreated]
    assert alias.alias_name == "alias/ExampleAlias"
    assert alias.target_key_id == KEY_ID
    # CreateAlias and ListAliases (AWS KMS API reference): an alias ARN is
    # arn:aws:kms:<region>:<account>:alias/<name>.
    assert alias.arn == ALIAS_ARN
    assert alias.creation_date == NOW
    assert alias.last_updated_date == NOW
    assert alias.deleted is False


def test_alias_id_is_deterministic() -> None:
    alias = new_alias()

    assert alias.id == alias_aggregate_id(ACCOUNT, REGION, "alias/ExampleAlias")
    assert alias.id == new_alias().id


@pytest.mark.parametrize(
    ("account", "region", "name"),
    [
        ("444455556666", REGION, "alias/ExampleAlias"),
        (ACCOUNT, "us-west-2", "alias/ExampleAlias"),
        (ACCOUNT, REGION, "alias/examplealias"),
        (ACCOUNT, REGION, "alias/ExampleAlias2"),
    ],
)
def test_alias_id_differs_per_owner_and_name(
    account: str, region: str, name: str
) -> None:
    assert alias_aggregate_id(account, region, name) != alias_aggregate_id(
        ACCOUNT, REGION, "alias/ExampleAlias"
    )


def test_retarget_changes_target_and_last_updated_date() -> None:
    alias = new_alias()

    alias.retarget(OTHER_KEY_ID, LATER)

    events = alias.collect_events()
    assert [type(event) for event in events] == [Alias.AliasRetargeted]
    assert alias.target_key_id == OTHER_KEY_ID
    assert alias.last_updated_date == LATER
    assert alias.creation_date == NOW


def test_delete_marks_alias_deleted() -> None:
    alias = new_alias()

    alias.delete(LATER)

    events = alias.collect_events()
    assert [type(event) for event in events] == [Alias.AliasDeleted]
    assert alias.deleted is True


def test_retarget_of_deleted_alias_is_not_found() -> None:
    alias = deleted_alias()

    with pytest.raises(NotFoundException) as caught:
        alias.retarget(OTHER_KEY_ID, LATER)

    assert ALIAS_ARN in caught.value.message
    assert alias.collect_events() == []


def test_delete_of_deleted_alias_is_not_found() -> None:
    alias = deleted_alias()

    with pytest.raises(NotFoundException) as caught:
        alias.delete(LATER)

    assert ALIAS_ARN in caught.value.message
    assert alias.collect_events() == []


def test_recreate_of_live_alias_already_exists() -> None:
    alias = new_alias()

    with pytest.raises(AlreadyExistsException) as caught:
        alias.recreate(OTHER_KEY_ID, LATER)

    assert ALIAS_ARN in caught.value.message
    assert alias.target_key_id == KEY_ID
    assert alias.collect_events() == []


def test_recreate_of_deleted_alias_starts_it_anew() -> None:
    alias = deleted_alias()

    alias.recreate(OTHER_KEY_ID, LATER)

    events = alias.collect_events()
    assert [type(event) for event in events] == [Alias.AliasRecreated]
    assert alias.deleted is False
    assert alias.target_key_id == OTHER_KEY_ID
    assert alias.creation_date == LATER
    assert alias.last_updated_date == LATER


# Alias names. CreateAlias (AWS KMS API reference), AliasName: 1 to 256
# characters, beginning with alias/. The alias/aws/ prefix is reserved for
# AWS managed keys.


def test_name_without_prefix_is_a_validation_error() -> None:
    with pytest.raises(ValidationException) as caught:
        check_alias_name("ExampleAlias")

    # The text AWS KMS returns for this request, as quoted in public reports
    # from AWS clients.
    assert caught.value.message == (
        'Alias must start with the prefix "alias/". Please see '
        "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html"
    )


@pytest.mark.parametrize("name", ["", "Alias/ExampleAlias", "aliasExample", "/alias/x"])
def test_other_names_without_prefix_are_validation_errors(name: str) -> None:
    with pytest.raises(ValidationException):
        check_alias_name(name)


@pytest.mark.parametrize("name", ["alias/aws/x", "alias/aws/ebs", "alias/aws/"])
def test_reserved_aws_prefix_is_rejected(name: str) -> None:
    # CreateAlias (AWS KMS API reference) lists InvalidAliasNameException for
    # an alias name that is not valid.
    with pytest.raises(InvalidAliasNameException) as caught:
        check_alias_name(name)

    assert name in caught.value.message


@pytest.mark.parametrize(
    "name",
    [
        "alias/",
        "alias/with space",
        "alias/colon:inside",
        "alias/dot.inside",
        "alias/star*",
        "alias/caf\u00e9",
        "alias/new\nline",
        "alias/tab\t",
    ],
)
def test_bad_characters_are_rejected(name: str) -> None:
    with pytest.raises(InvalidAliasNameException) as caught:
        check_alias_name(name)

    assert name in caught.value.message


@pytest.mark.parametrize(
    "name",
    [
        "alias/ExampleAlias",
        "alias/a",
        "alias/aws",
        "alias/awsome",
        "alias/aws-managed-lookalike",
        "alias/team/app_key-01",
        "alias/" + "a" * 250,
    ],
)
def test_valid_names_are_accepted(name: str) -> None:
    check_alias_name(name)


def test_name_of_256_characters_is_accepted() -> None:
    name = "alias/" + "a" * 250
    assert len(name) == 256

    check_alias_name(name)


def test_name_of_257_characters_is_rejected() -> None:
    name = "alias/" + "a" * 251
    assert len(name) == 257

    with pytest.raises(InvalidAliasNameException):
        check_alias_name(name)
