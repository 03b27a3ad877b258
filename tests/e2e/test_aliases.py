"""Aliases through boto3: CreateAlias, UpdateAlias, DeleteAlias, ListAliases.

Expected values come from the AWS KMS API reference pages of each action
(API_CreateAlias, API_ListAliases, ...) and the developer guide's "Key states
of AWS KMS keys" table. API_CreateAlias states the alias rules: 1 to 256
characters of letters, digits, '/', '_' and '-', beginning with alias/ but not
with alias/aws/, which is reserved for AWS managed keys.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

ACCOUNT_ID = "111122223333"
REGION = "us-east-1"
CLOCK_SLACK = timedelta(seconds=30)
_names = itertools.count()


def error_of(operation: Callable[..., Any], **params: Any) -> dict[str, str]:
    """Call ``operation`` expecting a KMS error; return the error's code and message."""
    with pytest.raises(ClientError) as raised:
        operation(**params)
    error: dict[str, str] = raised.value.response["Error"]
    return error


def alias_arn(alias_name: str) -> str:
    return f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:{alias_name}"


def unique_alias_name(label: str) -> str:
    """Return an alias name that no other test of this run uses."""
    return f"alias/aliases-{label}-{datetime.now().strftime('%H%M%S%f')}-{next(_names)}"


def new_key(kms: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = kms.create_key()["KeyMetadata"]
    return metadata


def aliases_of(kms: Any, **params: Any) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for page in kms.get_paginator("list_aliases").paginate(**params):
        entries.extend(page["Aliases"])
    return entries


def alias_entry(kms: Any, alias_name: str) -> dict[str, Any] | None:
    for entry in aliases_of(kms):
        if entry["AliasName"] == alias_name:
            return entry
    return None


# CreateAlias


@pytest.mark.parametrize("form", ["key id", "key ARN"])
def test_create_alias_points_the_name_at_the_key(kms: Any, form: str) -> None:
    key = new_key(kms)
    alias_name = unique_alias_name("create")
    target = key["KeyId"] if form == "key id" else key["Arn"]
    before = datetime.now(UTC)

    response = kms.create_alias(AliasName=alias_name, TargetKeyId=target)

    after = datetime.now(UTC)
    assert set(response) == {"ResponseMetadata"}
    entry = alias_entry(kms, alias_name)
    # API_ListAliases, AliasListEntry: TargetKeyId is the key id, whatever
    # form CreateAlias was given.
    assert entry is not None
    assert set(entry) == {
        "AliasName",
        "AliasArn",
        "TargetKeyId",
        "CreationDate",
        "LastUpdatedDate",
    }
    assert entry["AliasArn"] == alias_arn(alias_name)
    assert entry["TargetKeyId"] == key["KeyId"]
    assert before - CLOCK_SLACK <= entry["CreationDate"] <= after + CLOCK_SLACK
    assert entry["LastUpdatedDate"] == entry["CreationDate"]
    described = kms.describe_key(KeyId=alias_name)["KeyMetadata"]
    assert described["KeyId"] == key["KeyId"]


def test_key_can_have_several_aliases(kms: Any) -> None:
    key = new_key(kms)
    names = [unique_alias_name("several") for _ in range(3)]

    for alias_name in names:
        kms.create_alias(AliasName=alias_name, TargetKeyId=key["KeyId"])

    listed = aliases_of(kms, KeyId=key["KeyId"])
    assert sorted(entry["AliasName"] for entry in listed) == sorted(names)


@pytest.mark.parametrize("form", ["alias name", "alias ARN"])
def test_create_alias_with_alias_as_target_is_rejected(kms: Any, form: str) -> None:
    # API_CreateAlias: TargetKeyId is a key ID or key ARN.
    key = new_key(kms)
    existing = unique_alias_name("existing")
    kms.create_alias(AliasName=existing, TargetKeyId=key["KeyId"])
    target = existing if form == "alias name" else alias_arn(existing)
    alias_name = unique_alias_name("by-alias")

    error = error_of(kms.create_alias, AliasName=alias_name, TargetKeyId=target)

    assert error["Code"] == "NotFoundException"
    assert target in error["Message"]
    assert alias_entry(kms, alias_name) is None


def test_create_alias_with_existing_name_is_already_exists(kms: Any) -> None:
    first = new_key(kms)
    second = new_key(kms)
    alias_name = unique_alias_name("taken")
    kms.create_alias(AliasName=alias_name, TargetKeyId=first["KeyId"])

    error = error_of(
        kms.create_alias, AliasName=alias_name, TargetKeyId=second["KeyId"]
    )

    assert error["Code"] == "AlreadyExistsException"
    assert error["Message"] == (
        f"An alias with the name {alias_arn(alias_name)} already exists"
    )
    entry = alias_entry(kms, alias_name)
    assert entry is not None
    assert entry["TargetKeyId"] == first["KeyId"]


def test_concurrent_create_alias_succeeds_once(server: Any) -> None:
    keys = [new_key(server.client()) for _ in range(6)]
    clients = [server.client() for _ in keys]
    alias_name = unique_alias_name("race")

    def create(index: int) -> str:
        try:
            clients[index].create_alias(
                AliasName=alias_name, TargetKeyId=keys[index]["KeyId"]
            )
        except ClientError as error:
            return str(error.response["Error"]["Code"])
        return "created"

    with ThreadPoolExecutor(max_workers=len(keys)) as pool:
        outcomes = list(pool.map(create, range(len(keys))))

    assert sorted(outcomes) == ["AlreadyExistsException"] * 5 + ["created"]
    entry = alias_entry(server.client(), alias_name)
    assert entry is not None
    assert entry["TargetKeyId"] == keys[outcomes.index("created")]["KeyId"]


def test_create_alias_with_unknown_target_is_not_found(kms: Any) -> None:
    missing = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    alias_name = unique_alias_name("orphan")

    error = error_of(kms.create_alias, AliasName=alias_name, TargetKeyId=missing)

    assert error["Code"] == "NotFoundException"
    assert error["Message"] == (
        f"Key 'arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{missing}' does not exist"
    )
    assert alias_entry(kms, alias_name) is None


def test_create_alias_without_prefix_is_rejected(kms: Any) -> None:
    key = new_key(kms)

    error = error_of(kms.create_alias, AliasName="my-key", TargetKeyId=key["KeyId"])

    # Message as AWS returns it (recorded in LocalStack's AWS-validated
    # snapshot of CreateAlias).
    assert error["Code"] == "ValidationException"
    assert error["Message"] == (
        'Alias must start with the prefix "alias/". Please see '
        "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html"
    )


@pytest.mark.parametrize("alias_name", ["alias/aws/mine", "alias/aws/s3"])
def test_create_alias_in_reserved_aws_namespace_is_rejected(
    kms: Any, alias_name: str
) -> None:
    # API_CreateAlias: the alias/aws/ prefix is reserved for AWS managed keys.
    key = new_key(kms)

    error = error_of(kms.create_alias, AliasName=alias_name, TargetKeyId=key["KeyId"])

    # NOTE: AWS's exception for this is not documented; KeyLedger returns
    # InvalidAliasNameException, the model's error for an invalid alias name.
    assert error["Code"] == "InvalidAliasNameException"
    assert alias_name in error["Message"]
    assert alias_entry(kms, alias_name) is None


@pytest.mark.parametrize(
    "alias_name",
    ["alias/bad name!", "alias/has:colon", "alias/dot.ted", "alias/ümlaut"],
)
def test_create_alias_with_invalid_characters_is_rejected(
    kms: Any, alias_name: str
) -> None:
    # API_CreateAlias: letters, digits, '/', '_' and '-' only.
    key = new_key(kms)

    error = error_of(kms.create_alias, AliasName=alias_name, TargetKeyId=key["KeyId"])

    assert error["Code"] == "ValidationException"
    assert alias_entry(kms, alias_name) is None


def test_create_alias_of_256_characters_succeeds(kms: Any) -> None:
    key = new_key(kms)
    prefix = unique_alias_name("long")
    alias_name = prefix + "a" * (256 - len(prefix))

    kms.create_alias(AliasName=alias_name, TargetKeyId=key["KeyId"])

    assert len(alias_name) == 256
    assert alias_entry(kms, alias_name) is not None


def test_create_alias_of_257_characters_is_rejected(server: Any) -> None:
    kms = server.client(parameter_validation=False)
    key = new_key(kms)
    alias_name = "alias/" + "a" * 251

    error = error_of(kms.create_alias, AliasName=alias_name, TargetKeyId=key["KeyId"])

    assert error["Code"] == "ValidationException"


def test_create_alias_accepts_slashes_underscores_and_hyphens(kms: Any) -> None:
    key = new_key(kms)
    alias_name = unique_alias_name("ok_-/x")

    kms.create_alias(AliasName=alias_name, TargetKeyId=key["KeyId"])

    assert kms.describe_key(KeyId=alias_name)["KeyMetadata"]["Arn"] == key["Arn"]


def test_create_alias_for_disabled_key_succeeds(kms: Any) -> None:
    key = new_key(kms)
    kms.disable_key(KeyId=key["KeyId"])
    alias_name = unique_alias_name("disabled")

    kms.create_alias(AliasName=alias_name, TargetKeyId=key["KeyId"])

    entry = alias_entry(kms, alias_name)
    assert entry is not None
    assert entry["TargetKeyId"] == key["KeyId"]


def test_create_alias_for_pending_key_is_invalid_state(kms: Any) -> None:
    key = new_key(kms)
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    alias_name = unique_alias_name("pending")

    error = error_of(kms.create_alias, AliasName=alias_name, TargetKeyId=key["KeyId"])

    # Key states table, footnote 3.
    assert error["Code"] == "KMSInvalidStateException"
    assert error["Message"] == f"{key['Arn']} is pending deletion."
    assert alias_entry(kms, alias_name) is None


# UpdateAlias


@pytest.mark.parametrize("form", ["key id", "key ARN"])
def test_update_alias_points_the_name_at_another_key(kms: Any, form: str) -> None:
    first = new_key(kms)
    second = new_key(kms)
    alias_name = unique_alias_name("update")
    kms.create_alias(AliasName=alias_name, TargetKeyId=first["KeyId"])
    created = alias_entry(kms, alias_name)
    target = second["KeyId"] if form == "key id" else second["Arn"]

    response = kms.update_alias(AliasName=alias_name, TargetKeyId=target)

    assert set(response) == {"ResponseMetadata"}
    updated = alias_entry(kms, alias_name)
    assert created is not None
    assert updated is not None
    assert updated["TargetKeyId"] == second["KeyId"]
    assert updated["CreationDate"] == created["CreationDate"]
    assert updated["LastUpdatedDate"] >= created["LastUpdatedDate"]
    encrypted = kms.encrypt(KeyId=alias_name, Plaintext=b"x")
    assert encrypted["KeyId"] == second["Arn"]


def test_update_alias_keeps_old_ciphertexts_decryptable(kms: Any) -> None:
    first = new_key(kms)
    second = new_key(kms)
    alias_name = unique_alias_name("old-blobs")
    kms.create_alias(AliasName=alias_name, TargetKeyId=first["KeyId"])
    blob = kms.encrypt(KeyId=alias_name, Plaintext=b"old")["CiphertextBlob"]

    kms.update_alias(AliasName=alias_name, TargetKeyId=second["KeyId"])

    decrypted = kms.decrypt(CiphertextBlob=blob)
    assert decrypted["Plaintext"] == b"old"
    assert decrypted["KeyId"] == first["Arn"]


@pytest.mark.parametrize("form", ["alias name", "alias ARN"])
def test_update_alias_with_alias_as_target_is_rejected(kms: Any, form: str) -> None:
    first = new_key(kms)
    second = new_key(kms)
    alias_name = unique_alias_name("retarget")
    other_alias = unique_alias_name("other")
    kms.create_alias(AliasName=alias_name, TargetKeyId=first["KeyId"])
    kms.create_alias(AliasName=other_alias, TargetKeyId=second["KeyId"])
    target = other_alias if form == "alias name" else alias_arn(other_alias)

    error = error_of(kms.update_alias, AliasName=alias_name, TargetKeyId=target)

    assert error["Code"] == "NotFoundException"
    entry = alias_entry(kms, alias_name)
    assert entry is not None
    assert entry["TargetKeyId"] == first["KeyId"]


def test_update_alias_of_unknown_alias_is_not_found(kms: Any) -> None:
    key = new_key(kms)
    alias_name = unique_alias_name("never")

    error = error_of(kms.update_alias, AliasName=alias_name, TargetKeyId=key["KeyId"])

    assert error["Code"] == "NotFoundException"
    assert error["Message"] == f"Alias {alias_arn(alias_name)} is not found."


def test_update_alias_to_pending_key_is_invalid_state(kms: Any) -> None:
    first = new_key(kms)
    second = new_key(kms)
    alias_name = unique_alias_name("to-pending")
    kms.create_alias(AliasName=alias_name, TargetKeyId=first["KeyId"])
    kms.schedule_key_deletion(KeyId=second["KeyId"], PendingWindowInDays=7)

    error = error_of(
        kms.update_alias, AliasName=alias_name, TargetKeyId=second["KeyId"]
    )

    # Key states table, footnote 10: a pending destination key fails.
    assert error["Code"] == "KMSInvalidStateException"
    assert error["Message"] == f"{second['Arn']} is pending deletion."


def test_update_alias_away_from_pending_key_succeeds(kms: Any) -> None:
    first = new_key(kms)
    second = new_key(kms)
    alias_name = unique_alias_name("from-pending")
    kms.create_alias(AliasName=alias_name, TargetKeyId=first["KeyId"])
    kms.schedule_key_deletion(KeyId=first["KeyId"], PendingWindowInDays=7)

    kms.update_alias(AliasName=alias_name, TargetKeyId=second["KeyId"])

    # Key states table, footnote 10: a pending source key does not matter.
    entry = alias_entry(kms, alias_name)
    assert entry is not None
    assert entry["TargetKeyId"] == second["KeyId"]


def test_update_alias_to_disabled_key_succeeds(kms: Any) -> None:
    first = new_key(kms)
    second = new_key(kms)
    kms.disable_key(KeyId=second["KeyId"])
    alias_name = unique_alias_name("to-disabled")
    kms.create_alias(AliasName=alias_name, TargetKeyId=first["KeyId"])

    kms.update_alias(AliasName=alias_name, TargetKeyId=second["KeyId"])

    entry = alias_entry(kms, alias_name)
    assert entry is not None
    assert entry["TargetKeyId"] == second["KeyId"]


# DeleteAlias


def test_delete_alias_removes_the_name_and_keeps_the_key(kms: Any) -> None:
    key = new_key(kms)
    alias_name = unique_alias_name("delete")
    kms.create_alias(AliasName=alias_name, TargetKeyId=key["KeyId"])

    response = kms.delete_alias(AliasName=alias_name)

    assert set(response) == {"ResponseMetadata"}
    assert alias_entry(kms, alias_name) is None
    error = error_of(kms.describe_key, KeyId=alias_name)
    assert error["Code"] == "NotFoundException"
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"


def test_delete_alias_of_unknown_alias_is_not_found(kms: Any) -> None:
    alias_name = unique_alias_name("gone")

    error = error_of(kms.delete_alias, AliasName=alias_name)

    assert error["Code"] == "NotFoundException"
    assert error["Message"] == f"Alias {alias_arn(alias_name)} is not found."


def test_delete_alias_twice_is_not_found(kms: Any) -> None:
    key = new_key(kms)
    alias_name = unique_alias_name("twice")
    kms.create_alias(AliasName=alias_name, TargetKeyId=key["KeyId"])
    kms.delete_alias(AliasName=alias_name)

    error = error_of(kms.delete_alias, AliasName=alias_name)

    assert error["Code"] == "NotFoundException"


def test_delete_alias_of_pending_key_succeeds(kms: Any) -> None:
    # Key states table: DeleteAlias succeeds in every key state.
    key = new_key(kms)
    alias_name = unique_alias_name("pending-delete")
    kms.create_alias(AliasName=alias_name, TargetKeyId=key["KeyId"])
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)

    kms.delete_alias(AliasName=alias_name)

    assert alias_entry(kms, alias_name) is None


def test_deleted_alias_name_can_be_created_again(kms: Any) -> None:
    first = new_key(kms)
    second = new_key(kms)
    alias_name = unique_alias_name("again")
    kms.create_alias(AliasName=alias_name, TargetKeyId=first["KeyId"])
    kms.delete_alias(AliasName=alias_name)

    kms.create_alias(AliasName=alias_name, TargetKeyId=second["KeyId"])

    entry = alias_entry(kms, alias_name)
    assert entry is not None
    assert entry["TargetKeyId"] == second["KeyId"]
    assert kms.encrypt(KeyId=alias_name, Plaintext=b"x")["KeyId"] == second["Arn"]


# ListAliases


@pytest.mark.parametrize("form", ["key id", "key ARN"])
def test_list_aliases_filters_by_key(kms: Any, form: str) -> None:
    key = new_key(kms)
    other = new_key(kms)
    mine = unique_alias_name("mine")
    theirs = unique_alias_name("theirs")
    kms.create_alias(AliasName=mine, TargetKeyId=key["KeyId"])
    kms.create_alias(AliasName=theirs, TargetKeyId=other["KeyId"])
    key_id = key["KeyId"] if form == "key id" else key["Arn"]

    listed = aliases_of(kms, KeyId=key_id)

    assert [entry["AliasName"] for entry in listed] == [mine]
    assert listed[0]["TargetKeyId"] == key["KeyId"]


def test_list_aliases_of_key_without_aliases_is_empty(kms: Any) -> None:
    key = new_key(kms)

    response = kms.list_aliases(KeyId=key["KeyId"])

    assert response["Aliases"] == []
    assert response["Truncated"] is False
    assert "NextMarker" not in response


def test_list_aliases_of_pending_key_succeeds(kms: Any) -> None:
    key = new_key(kms)
    alias_name = unique_alias_name("listed-pending")
    kms.create_alias(AliasName=alias_name, TargetKeyId=key["KeyId"])
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)

    listed = aliases_of(kms, KeyId=key["KeyId"])

    assert [entry["AliasName"] for entry in listed] == [alias_name]


@pytest.mark.parametrize("form", ["alias name", "alias ARN"])
def test_list_aliases_with_alias_as_key_id_is_rejected(kms: Any, form: str) -> None:
    # API_ListAliases: KeyId is a key ID or key ARN.
    key = new_key(kms)
    alias_name = unique_alias_name("filter")
    kms.create_alias(AliasName=alias_name, TargetKeyId=key["KeyId"])
    key_id = alias_name if form == "alias name" else alias_arn(alias_name)

    error = error_of(kms.list_aliases, KeyId=key_id)

    assert error["Code"] == "NotFoundException"


def test_list_aliases_of_unknown_key_is_not_found(kms: Any) -> None:
    missing = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4e"

    error = error_of(kms.list_aliases, KeyId=missing)

    assert error["Code"] == "NotFoundException"


def test_list_aliases_has_no_aws_managed_aliases(
    fresh_server_factory: Any,
) -> None:
    # KeyLedger has no AWS managed keys. Clients must not rely on predefined
    # alias/aws/* entries (API_ListAliases: those may lack a TargetKeyId).
    server = fresh_server_factory()
    kms = server.client(region="eu-central-1")

    response = kms.list_aliases()

    assert response["Aliases"] == []
    assert response["Truncated"] is False
