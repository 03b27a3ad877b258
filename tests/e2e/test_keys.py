"""Key lifecycle actions through boto3: CreateKey, DescribeKey, ListKeys,
UpdateKeyDescription, EnableKey, DisableKey, ScheduleKeyDeletion and
CancelKeyDeletion.

Expected values come from the AWS KMS API reference pages of each action
(API_CreateKey, API_DescribeKey, ...) and from the developer guide's "Key
states of AWS KMS keys" table, whose footnotes give the error messages.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

ACCOUNT_ID = "111122223333"
REGION = "us-east-1"
KEY_ID_PATTERN = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)
# KeyMetadata of a symmetric key with AWS-made key material, as DescribeKey
# returns it (API_DescribeKey, KeyMetadata data type).
SYMMETRIC_METADATA_FIELDS = {
    "AWSAccountId",
    "KeyId",
    "Arn",
    "CreationDate",
    "Enabled",
    "Description",
    "KeyUsage",
    "KeyState",
    "Origin",
    "KeyManager",
    "CustomerMasterKeySpec",
    "KeySpec",
    "EncryptionAlgorithms",
    "MultiRegion",
    "CurrentKeyMaterialId",
}
ONE_DAY = timedelta(days=1)
CLOCK_SLACK = timedelta(seconds=30)


def error_of(operation: Callable[..., Any], **params: Any) -> dict[str, str]:
    """Call ``operation`` expecting a KMS error; return the error's code and message."""
    with pytest.raises(ClientError) as raised:
        operation(**params)
    error: dict[str, str] = raised.value.response["Error"]
    return error


def key_arn(key_id: str, region: str = REGION) -> str:
    return f"arn:aws:kms:{region}:{ACCOUNT_ID}:key/{key_id}"


def alias_arn(alias_name: str, region: str = REGION) -> str:
    return f"arn:aws:kms:{region}:{ACCOUNT_ID}:{alias_name}"


def new_key(kms: Any, **params: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = kms.create_key(**params)["KeyMetadata"]
    return metadata


def new_alias(kms: Any, key_id: str, request: pytest.FixtureRequest) -> str:
    """Create an alias with a name unique to this test and backend."""
    suffix = re.sub(r"[^a-zA-Z0-9_-]", "-", request.node.name)[-60:]
    alias_name = f"alias/keys-{suffix}-{key_id[:8]}"
    kms.create_alias(AliasName=alias_name, TargetKeyId=key_id)
    return alias_name


def pending_key(kms: Any, **params: Any) -> dict[str, Any]:
    key = new_key(kms, **params)
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    return key


def disabled_key(kms: Any) -> dict[str, Any]:
    key = new_key(kms)
    kms.disable_key(KeyId=key["KeyId"])
    return key


def all_key_ids(kms: Any) -> list[str]:
    key_ids: list[str] = []
    for page in kms.get_paginator("list_keys").paginate():
        key_ids.extend(entry["KeyId"] for entry in page["Keys"])
    return key_ids


# CreateKey


def test_create_key_returns_symmetric_key_metadata(kms: Any) -> None:
    before = datetime.now(UTC)

    metadata = new_key(kms, Description="orders database")

    after = datetime.now(UTC)
    assert set(metadata) == SYMMETRIC_METADATA_FIELDS
    assert metadata["AWSAccountId"] == ACCOUNT_ID
    assert KEY_ID_PATTERN.fullmatch(metadata["KeyId"])
    assert metadata["Arn"] == key_arn(metadata["KeyId"])
    assert before - CLOCK_SLACK <= metadata["CreationDate"] <= after + CLOCK_SLACK
    assert metadata["Enabled"] is True
    assert metadata["Description"] == "orders database"
    assert metadata["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert metadata["KeyState"] == "Enabled"
    assert metadata["Origin"] == "AWS_KMS"
    assert metadata["KeyManager"] == "CUSTOMER"
    assert metadata["CustomerMasterKeySpec"] == "SYMMETRIC_DEFAULT"
    assert metadata["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert metadata["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]
    assert metadata["MultiRegion"] is False
    assert re.fullmatch(r"[0-9a-f]{64}", metadata["CurrentKeyMaterialId"])


def test_create_key_ids_and_materials_differ(kms: Any) -> None:
    first = new_key(kms)
    second = new_key(kms)

    assert first["KeyId"] != second["KeyId"]
    assert first["CurrentKeyMaterialId"] != second["CurrentKeyMaterialId"]


def test_create_key_without_description_has_empty_description(kms: Any) -> None:
    metadata = new_key(kms)

    assert metadata["Description"] == ""


def test_create_key_accepts_explicit_symmetric_defaults(kms: Any) -> None:
    metadata = new_key(
        kms, KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT", Origin="AWS_KMS"
    )

    assert metadata["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert metadata["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert metadata["Origin"] == "AWS_KMS"


def test_create_key_with_tags_stores_the_tags(kms: Any) -> None:
    metadata = new_key(
        kms,
        Tags=[
            {"TagKey": "team", "TagValue": "payments"},
            {"TagKey": "env", "TagValue": ""},
        ],
    )

    tags = kms.list_resource_tags(KeyId=metadata["KeyId"])["Tags"]
    assert sorted(tags, key=lambda tag: tag["TagKey"]) == [
        {"TagKey": "env", "TagValue": ""},
        {"TagKey": "team", "TagValue": "payments"},
    ]


@pytest.mark.parametrize(
    "params",
    [
        {"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"},
        {"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"},
        {"KeyUsage": "SIGN_VERIFY", "KeySpec": "ECC_NIST_P256"},
        {"Origin": "EXTERNAL_KEY_STORE"},
        {"MultiRegion": True},
    ],
    ids=["rsa", "hmac", "ecc", "key-store", "multi-region"],
)
def test_create_key_with_unsupported_option_creates_nothing(
    kms: Any, params: dict[str, Any]
) -> None:
    key_ids_before = all_key_ids(kms)

    error = error_of(kms.create_key, **params)

    assert error["Code"] == "UnsupportedOperationException"
    assert all_key_ids(kms) == key_ids_before


def test_create_key_with_both_spec_names_rejected(
    kms: Any,
) -> None:
    error = error_of(
        kms.create_key,
        KeySpec="SYMMETRIC_DEFAULT",
        CustomerMasterKeySpec="SYMMETRIC_DEFAULT",
    )

    assert error["Code"] == "ValidationException"


# DescribeKey


def test_describe_key_accepts_all_four_identifier_forms(
    kms: Any, request: pytest.FixtureRequest
) -> None:
    # API_DescribeKey: KeyId is a key ID, key ARN, alias name or alias ARN.
    created = new_key(kms, Description="four forms")
    alias_name = new_alias(kms, created["KeyId"], request)

    for key_id in (
        created["KeyId"],
        created["Arn"],
        alias_name,
        alias_arn(alias_name),
    ):
        described = kms.describe_key(KeyId=key_id)["KeyMetadata"]
        assert described == created, key_id


def test_describe_key_of_unknown_key_id_is_not_found(kms: Any) -> None:
    missing = "0b0e8c3a-6a8f-4c3e-9d5c-2f0e4a7b1c9d"

    error = error_of(kms.describe_key, KeyId=missing)

    assert error["Code"] == "NotFoundException"
    assert error["Message"] == f"Key '{key_arn(missing)}' does not exist"


def test_describe_key_of_unknown_key_arn_is_not_found(kms: Any) -> None:
    missing = "0b0e8c3a-6a8f-4c3e-9d5c-2f0e4a7b1c9e"

    error = error_of(kms.describe_key, KeyId=key_arn(missing))

    assert error["Code"] == "NotFoundException"
    assert error["Message"] == f"Key '{key_arn(missing)}' does not exist"


@pytest.mark.parametrize(
    "key_id",
    ["fake-key-id", "134f2428cec14b25a1ae9048164dba47", "mrk-fake-key-id"],
)
def test_describe_key_with_malformed_key_id_is_not_found(kms: Any, key_id: str) -> None:
    error = error_of(kms.describe_key, KeyId=key_id)

    assert error["Code"] == "NotFoundException"
    assert error["Message"] == f"Invalid keyId '{key_id}'"


def test_describe_key_unknown_multi_region_id(kms: Any) -> None:
    missing = "mrk-d3b95762d3b95762d3b95762d3b95762"

    error = error_of(kms.describe_key, KeyId=missing)

    assert error["Code"] == "NotFoundException"
    assert error["Message"] == f"Key '{key_arn(missing)}' does not exist"


def test_describe_key_rejects_grant_token(kms: Any) -> None:
    created = new_key(kms)

    error = error_of(kms.describe_key, KeyId=created["KeyId"], GrantTokens=["token"])

    assert error["Code"] == "InvalidGrantTokenException"


def test_describe_key_of_unknown_alias_is_not_found(kms: Any) -> None:
    error = error_of(kms.describe_key, KeyId="alias/no-such-alias")

    assert error["Code"] == "NotFoundException"
    assert error["Message"] == (
        f"Alias {alias_arn('alias/no-such-alias')} is not found."
    )


def test_describe_key_other_region_arn(kms: Any) -> None:
    created = new_key(kms)

    error = error_of(kms.describe_key, KeyId=key_arn(created["KeyId"], "us-west-2"))

    assert error["Code"] == "NotFoundException"
    assert error["Message"] == "Invalid arn us-west-2"


def test_describe_key_of_disabled_key_reports_disabled(kms: Any) -> None:
    created = disabled_key(kms)

    metadata = kms.describe_key(KeyId=created["KeyId"])["KeyMetadata"]

    assert set(metadata) == SYMMETRIC_METADATA_FIELDS
    assert metadata["KeyState"] == "Disabled"
    assert metadata["Enabled"] is False


def test_describe_key_of_pending_key_reports_deletion_date(kms: Any) -> None:
    created = new_key(kms)
    scheduled = kms.schedule_key_deletion(KeyId=created["KeyId"], PendingWindowInDays=9)

    metadata = kms.describe_key(KeyId=created["KeyId"])["KeyMetadata"]

    # API_DescribeKey: DeletionDate is present only while the key is
    # PendingDeletion; PendingDeletionWindowInDays only in PendingReplicaDeletion.
    assert set(metadata) == SYMMETRIC_METADATA_FIELDS | {"DeletionDate"}
    assert metadata["KeyState"] == "PendingDeletion"
    assert metadata["Enabled"] is False
    assert metadata["DeletionDate"] == scheduled["DeletionDate"]


# ListKeys


def test_list_keys_lists_a_new_key_with_its_arn(kms: Any) -> None:
    created = new_key(kms)

    entries = [
        entry
        for page in kms.get_paginator("list_keys").paginate()
        for entry in page["Keys"]
    ]

    assert {"KeyId": created["KeyId"], "KeyArn": created["Arn"]} in entries
    assert all(set(entry) == {"KeyId", "KeyArn"} for entry in entries)


def test_list_keys_shared_through_ram_empty(kms: Any) -> None:
    # API_ListKeys: OTHER_ACCOUNTS_VIA_RAM lists keys other accounts share
    # with the caller and never the caller's own; no account shares keys here.
    new_key(kms)

    shared = kms.list_keys(ResourceOwners=["OTHER_ACCOUNTS_VIA_RAM"])
    own = all_key_ids(kms)
    both = [
        entry["KeyId"]
        for page in kms.get_paginator("list_keys").paginate(
            ResourceOwners=["OTHER_ACCOUNTS_VIA_RAM", "SELF"]
        )
        for entry in page["Keys"]
    ]

    assert shared["Keys"] == []
    assert shared["Truncated"] is False
    assert both == own


def test_list_keys_includes_disabled_and_pending_keys(kms: Any) -> None:
    disabled = disabled_key(kms)
    pending = pending_key(kms)

    key_ids = all_key_ids(kms)

    assert disabled["KeyId"] in key_ids
    assert pending["KeyId"] in key_ids


# UpdateKeyDescription


@pytest.mark.parametrize("form", ["key id", "key ARN"])
def test_update_key_description_replaces_the_description(kms: Any, form: str) -> None:
    created = new_key(kms, Description="before")
    key_id = created["KeyId"] if form == "key id" else created["Arn"]

    response = kms.update_key_description(KeyId=key_id, Description="after")

    assert set(response) == {"ResponseMetadata"}
    described = kms.describe_key(KeyId=created["KeyId"])["KeyMetadata"]
    assert described["Description"] == "after"


def test_update_key_description_accepts_empty_description(kms: Any) -> None:
    created = new_key(kms, Description="before")

    kms.update_key_description(KeyId=created["KeyId"], Description="")

    described = kms.describe_key(KeyId=created["KeyId"])["KeyMetadata"]
    assert described["Description"] == ""


def test_update_key_description_of_disabled_key_succeeds(kms: Any) -> None:
    created = disabled_key(kms)

    kms.update_key_description(KeyId=created["KeyId"], Description="while disabled")

    described = kms.describe_key(KeyId=created["KeyId"])["KeyMetadata"]
    assert described["Description"] == "while disabled"
    assert described["KeyState"] == "Disabled"


def test_update_description_of_pending_key_rejected(kms: Any) -> None:
    created = pending_key(kms, Description="kept")

    error = error_of(
        kms.update_key_description, KeyId=created["KeyId"], Description="changed"
    )

    # Key states table, footnote 3.
    assert error["Code"] == "KMSInvalidStateException"
    assert error["Message"] == f"{created['Arn']} is pending deletion."
    described = kms.describe_key(KeyId=created["KeyId"])["KeyMetadata"]
    assert described["Description"] == "kept"


# EnableKey and DisableKey


@pytest.mark.parametrize("form", ["key id", "key ARN"])
def test_disable_key_then_enable_key_round_trip(kms: Any, form: str) -> None:
    created = new_key(kms)
    key_id = created["KeyId"] if form == "key id" else created["Arn"]

    disabled = kms.disable_key(KeyId=key_id)
    after_disable = kms.describe_key(KeyId=created["KeyId"])["KeyMetadata"]
    enabled = kms.enable_key(KeyId=key_id)
    after_enable = kms.describe_key(KeyId=created["KeyId"])["KeyMetadata"]

    assert set(disabled) == {"ResponseMetadata"}
    assert set(enabled) == {"ResponseMetadata"}
    assert after_disable["KeyState"] == "Disabled"
    assert after_disable["Enabled"] is False
    assert after_enable["KeyState"] == "Enabled"
    assert after_enable["Enabled"] is True


def test_disable_key_twice_leaves_key_disabled(kms: Any) -> None:
    created = disabled_key(kms)

    kms.disable_key(KeyId=created["KeyId"])

    described = kms.describe_key(KeyId=created["KeyId"])["KeyMetadata"]
    assert described["KeyState"] == "Disabled"


def test_enable_key_of_enabled_key_leaves_key_enabled(kms: Any) -> None:
    created = new_key(kms)

    kms.enable_key(KeyId=created["KeyId"])

    described = kms.describe_key(KeyId=created["KeyId"])["KeyMetadata"]
    assert described["KeyState"] == "Enabled"


def test_disabled_key_refuses_encrypt_until_enabled(kms: Any) -> None:
    created = disabled_key(kms)

    error = error_of(kms.encrypt, KeyId=created["KeyId"], Plaintext=b"x")
    kms.enable_key(KeyId=created["KeyId"])
    encrypted = kms.encrypt(KeyId=created["KeyId"], Plaintext=b"x")

    # Key states table, footnote 1.
    assert error["Code"] == "DisabledException"
    assert error["Message"] == f"{created['Arn']} is disabled."
    assert encrypted["KeyId"] == created["Arn"]


@pytest.mark.parametrize("action", ["enable_key", "disable_key"])
def test_enable_disable_pending_key_rejected(kms: Any, action: str) -> None:
    created = pending_key(kms)

    error = error_of(getattr(kms, action), KeyId=created["KeyId"])

    # Key states table, footnote 3.
    assert error["Code"] == "KMSInvalidStateException"
    assert error["Message"] == f"{created['Arn']} is pending deletion."
    described = kms.describe_key(KeyId=created["KeyId"])["KeyMetadata"]
    assert described["KeyState"] == "PendingDeletion"


# ScheduleKeyDeletion


@pytest.mark.parametrize("form", ["key id", "key ARN"])
def test_schedule_key_deletion_response(kms: Any, form: str) -> None:
    created = new_key(kms)
    key_id = created["KeyId"] if form == "key id" else created["Arn"]
    before = datetime.now(UTC)

    response = kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)

    after = datetime.now(UTC)
    # API_ScheduleKeyDeletion: KeyId is the key ARN.
    assert set(response) == {
        "KeyId",
        "DeletionDate",
        "KeyState",
        "PendingWindowInDays",
        "ResponseMetadata",
    }
    assert response["KeyId"] == created["Arn"]
    assert response["KeyState"] == "PendingDeletion"
    assert response["PendingWindowInDays"] == 7
    deletion_date = response["DeletionDate"]
    assert before + 7 * ONE_DAY - CLOCK_SLACK <= deletion_date
    assert deletion_date <= after + 7 * ONE_DAY + CLOCK_SLACK


def test_schedule_key_deletion_defaults_to_thirty_days(kms: Any) -> None:
    created = new_key(kms)
    before = datetime.now(UTC)

    response = kms.schedule_key_deletion(KeyId=created["KeyId"])

    # API_ScheduleKeyDeletion: "If you do not include a value, it defaults to 30."
    assert response["PendingWindowInDays"] == 30
    assert response["DeletionDate"] >= before + 30 * ONE_DAY - CLOCK_SLACK


@pytest.mark.parametrize("days", [7, 30])
def test_schedule_key_deletion_accepts_window_bounds(kms: Any, days: int) -> None:
    created = new_key(kms)

    response = kms.schedule_key_deletion(
        KeyId=created["KeyId"], PendingWindowInDays=days
    )

    assert response["PendingWindowInDays"] == days


@pytest.mark.parametrize("days", [1, 6, 31, 365])
def test_schedule_key_deletion_window_outside_range(kms: Any, days: int) -> None:
    # API_ScheduleKeyDeletion: the window must be between 7 and 30, inclusive,
    # though the service model allows 1 to 365.
    created = new_key(kms)

    error = error_of(
        kms.schedule_key_deletion, KeyId=created["KeyId"], PendingWindowInDays=days
    )

    assert error["Code"] == "ValidationException"
    assert "pendingWindowInDays" in error["Message"]
    described = kms.describe_key(KeyId=created["KeyId"])["KeyMetadata"]
    assert described["KeyState"] == "Enabled"


def test_schedule_key_deletion_of_disabled_key_succeeds(kms: Any) -> None:
    created = disabled_key(kms)

    response = kms.schedule_key_deletion(KeyId=created["KeyId"], PendingWindowInDays=7)

    assert response["KeyState"] == "PendingDeletion"


def test_schedule_key_deletion_twice_rejected(kms: Any) -> None:
    created = new_key(kms)
    first = kms.schedule_key_deletion(KeyId=created["KeyId"], PendingWindowInDays=7)

    error = error_of(
        kms.schedule_key_deletion, KeyId=created["KeyId"], PendingWindowInDays=20
    )

    # Key states table, footnote 3.
    assert error["Code"] == "KMSInvalidStateException"
    assert error["Message"] == f"{created['Arn']} is pending deletion."
    described = kms.describe_key(KeyId=created["KeyId"])["KeyMetadata"]
    assert described["DeletionDate"] == first["DeletionDate"]


def test_concurrent_schedule_key_deletion_succeeds_once(server: Any) -> None:
    created = new_key(server.client())
    clients = [server.client() for _ in range(6)]

    def schedule(client: Any) -> str:
        try:
            client.schedule_key_deletion(KeyId=created["KeyId"], PendingWindowInDays=7)
        except ClientError as error:
            return str(error.response["Error"]["Code"])
        return "scheduled"

    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        outcomes = sorted(pool.map(schedule, clients))

    assert outcomes == ["KMSInvalidStateException"] * 5 + ["scheduled"]


def test_schedule_key_deletion_of_unknown_key_is_not_found(kms: Any) -> None:
    missing = "5d1e3f5a-2b6c-4d8e-9f0a-1b2c3d4e5f60"

    error = error_of(kms.schedule_key_deletion, KeyId=missing)

    assert error["Code"] == "NotFoundException"
    assert error["Message"] == f"Key '{key_arn(missing)}' does not exist"


def test_pending_key_refuses_cryptography(kms: Any) -> None:
    created = pending_key(kms)

    error = error_of(kms.encrypt, KeyId=created["KeyId"], Plaintext=b"x")

    # Key states table: Encrypt on a pending key fails with footnote 2 or 3;
    # KeyLedger gives footnote 3, KMSInvalidStateException.
    assert error["Code"] == "KMSInvalidStateException"
    assert error["Message"] == f"{created['Arn']} is pending deletion."


# CancelKeyDeletion


@pytest.mark.parametrize("form", ["key id", "key ARN"])
def test_cancel_key_deletion_leaves_key_disabled(kms: Any, form: str) -> None:
    created = pending_key(kms)
    key_id = created["KeyId"] if form == "key id" else created["Arn"]

    response = kms.cancel_key_deletion(KeyId=key_id)

    # API_CancelKeyDeletion: KeyId is the key ARN, and the developer guide's
    # "Cancel key deletion" page: the key state becomes Disabled.
    assert set(response) == {"KeyId", "ResponseMetadata"}
    assert response["KeyId"] == created["Arn"]
    described = kms.describe_key(KeyId=created["KeyId"])["KeyMetadata"]
    assert set(described) == SYMMETRIC_METADATA_FIELDS
    assert described["KeyState"] == "Disabled"
    assert described["Enabled"] is False


def test_cancelled_key_can_be_enabled_and_used(kms: Any) -> None:
    created = pending_key(kms)

    kms.cancel_key_deletion(KeyId=created["KeyId"])
    kms.enable_key(KeyId=created["KeyId"])
    blob = kms.encrypt(KeyId=created["KeyId"], Plaintext=b"back")["CiphertextBlob"]

    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"back"


@pytest.mark.parametrize(
    "make_key", [new_key, disabled_key], ids=["enabled", "disabled"]
)
def test_cancel_key_deletion_not_pending_rejected(
    kms: Any, make_key: Callable[[Any], dict[str, Any]]
) -> None:
    created = make_key(kms)

    error = error_of(kms.cancel_key_deletion, KeyId=created["KeyId"])

    # Key states table, footnote 4.
    assert error["Code"] == "KMSInvalidStateException"
    assert error["Message"] == f"{created['Arn']} is not pending deletion."


def test_cancel_key_deletion_of_unknown_key_is_not_found(kms: Any) -> None:
    missing = "5d1e3f5a-2b6c-4d8e-9f0a-1b2c3d4e5f61"

    error = error_of(kms.cancel_key_deletion, KeyId=missing)

    assert error["Code"] == "NotFoundException"


# Identifier forms the management actions reject


MANAGEMENT_CALLS: dict[str, dict[str, Any]] = {
    "update_key_description": {"Description": "x"},
    "enable_key": {},
    "disable_key": {},
    "schedule_key_deletion": {"PendingWindowInDays": 7},
    "cancel_key_deletion": {},
}


@pytest.mark.parametrize("action", sorted(MANAGEMENT_CALLS))
@pytest.mark.parametrize("form", ["alias name", "alias ARN"])
def test_management_action_rejects_alias_forms(
    kms: Any, request: pytest.FixtureRequest, action: str, form: str
) -> None:
    # The API reference pages of these actions accept only a key ID or key ARN.
    created = new_key(kms)
    alias_name = new_alias(kms, created["KeyId"], request)
    key_id = alias_name if form == "alias name" else alias_arn(alias_name)

    error = error_of(getattr(kms, action), KeyId=key_id, **MANAGEMENT_CALLS[action])

    # NOTE: AWS's message for this refusal is not documented; the class is.
    assert error["Code"] == "NotFoundException"
    assert key_id in error["Message"]
    described = kms.describe_key(KeyId=created["KeyId"])["KeyMetadata"]
    assert described == created


# Deletion at the end of the waiting period


def advance_dev_clock(endpoint: str, seconds: float) -> None:
    request = urllib.request.Request(
        f"{endpoint}/_keyledger/dev-clock",
        data=json.dumps({"Seconds": seconds}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def test_deleted_key_is_not_found_and_not_listed(fresh_server_factory: Any) -> None:
    server = fresh_server_factory(extra_args=["--dev-clock"])
    kms = server.client()
    created = new_key(kms)
    kept = new_key(kms)
    kms.schedule_key_deletion(KeyId=created["KeyId"], PendingWindowInDays=7)

    advance_dev_clock(server.endpoint, 7 * 86400 + 60)

    error = error_of(kms.describe_key, KeyId=created["KeyId"])
    assert error["Code"] == "NotFoundException"
    assert error["Message"] == f"Key '{created['Arn']}' does not exist"
    assert all_key_ids(kms) == [kept["KeyId"]]
