"""Accounts and Regions are isolated from each other.

A key id or alias name names a key in the caller's own account and Region, so
another account's key id is simply not found. A key ARN or alias ARN names its
owner's key, which another account reaches only through a key policy. Until
key policies exist, such a request always gets AccessDeniedException. The
Region of a request is the one in its SigV4 credential scope.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

ACCOUNT_A = "111111111111"
ACCOUNT_B = "222222222222"
PRINCIPAL_A = f"arn:aws:iam::{ACCOUNT_A}:role/app-a"
PRINCIPAL_A_ADMIN = f"arn:aws:iam::{ACCOUNT_A}:user/admin"
PRINCIPAL_B = f"arn:aws:iam::{ACCOUNT_B}:user/bob"
# Every principal may do anything its key policies let its account do; what
# keeps the accounts apart is the key policy, which names only its own account.
IDENTITY_POLICY = (
    '{"Version": "2012-10-17", "Statement": '
    '[{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}'
)
CREDENTIALS = f"""
[[principals]]
access_key_id = "AKIDACCOUNTA"
secret_access_key = "secret-of-a"
account_id = "{ACCOUNT_A}"
arn = "{PRINCIPAL_A}"
identity_policy = '{IDENTITY_POLICY}'

[[principals]]
access_key_id = "AKIDACCOUNTAADMIN"
secret_access_key = "secret-of-a-admin"
account_id = "{ACCOUNT_A}"
arn = "{PRINCIPAL_A_ADMIN}"
identity_policy = '{IDENTITY_POLICY}'

[[principals]]
access_key_id = "AKIDACCOUNTB"
secret_access_key = "secret-of-b"
account_id = "{ACCOUNT_B}"
arn = "{PRINCIPAL_B}"
identity_policy = '{IDENTITY_POLICY}'
"""
EAST = "us-east-1"
WEST = "us-west-2"


class TwoAccounts:
    """One server whose credentials file declares accounts A and B."""

    def __init__(self, server: Any) -> None:
        self.server = server

    def a(self, region: str = EAST) -> Any:
        return self.server.client(
            region=region, access_key="AKIDACCOUNTA", secret_key="secret-of-a"
        )

    def a_admin(self, region: str = EAST) -> Any:
        return self.server.client(
            region=region,
            access_key="AKIDACCOUNTAADMIN",
            secret_key="secret-of-a-admin",
        )

    def b(self, region: str = EAST) -> Any:
        return self.server.client(
            region=region, access_key="AKIDACCOUNTB", secret_key="secret-of-b"
        )


@pytest.fixture
def accounts(fresh_server_factory: Any, tmp_path: Path) -> TwoAccounts:
    credentials_file = tmp_path / "credentials.toml"
    credentials_file.write_text(CREDENTIALS)
    credentials_file.chmod(0o600)
    server = fresh_server_factory(
        extra_args=["--credentials-file", str(credentials_file)]
    )
    return TwoAccounts(server)


def error_of(operation: Callable[..., Any], **params: Any) -> dict[str, str]:
    """Call ``operation`` expecting a KMS error; return the error's code and message."""
    with pytest.raises(ClientError) as raised:
        operation(**params)
    error: dict[str, str] = raised.value.response["Error"]
    return error


def key_arn(region: str, account_id: str, key_id: str) -> str:
    return f"arn:aws:kms:{region}:{account_id}:key/{key_id}"


def access_denied_message(principal: str, action: str, resource: str) -> str:
    return (
        f"User: {principal} is not authorized to perform: kms:{action} on "
        f"resource: {resource} because no resource-based policy allows the "
        f"kms:{action} action"
    )


def listed_key_ids(kms: Any) -> list[str]:
    key_ids: list[str] = []
    for page in kms.get_paginator("list_keys").paginate():
        key_ids.extend(entry["KeyId"] for entry in page["Keys"])
    return key_ids


def listed_aliases(kms: Any) -> dict[str, str]:
    aliases: dict[str, str] = {}
    for page in kms.get_paginator("list_aliases").paginate():
        aliases.update(
            {entry["AliasName"]: entry["TargetKeyId"] for entry in page["Aliases"]}
        )
    return aliases


# Calls that name a key by KeyId, with the rest of their parameters.
KEY_ID_CALLS: dict[str, tuple[str, dict[str, Any]]] = {
    "describe_key": ("DescribeKey", {}),
    "encrypt": ("Encrypt", {"Plaintext": b"x"}),
    "generate_data_key": ("GenerateDataKey", {"KeySpec": "AES_256"}),
    "generate_data_key_without_plaintext": (
        "GenerateDataKeyWithoutPlaintext",
        {"NumberOfBytes": 16},
    ),
    "update_key_description": ("UpdateKeyDescription", {"Description": "taken"}),
    "disable_key": ("DisableKey", {}),
    "enable_key": ("EnableKey", {}),
    "schedule_key_deletion": ("ScheduleKeyDeletion", {"PendingWindowInDays": 7}),
    "cancel_key_deletion": ("CancelKeyDeletion", {}),
    "tag_resource": ("TagResource", {"Tags": [{"TagKey": "t", "TagValue": "v"}]}),
    "untag_resource": ("UntagResource", {"TagKeys": ["owner"]}),
    "list_resource_tags": ("ListResourceTags", {}),
}


def test_key_id_of_another_account_is_not_found(accounts: TwoAccounts) -> None:
    key = accounts.a().create_key(
        Description="a's", Tags=[{"TagKey": "owner", "TagValue": "a"}]
    )["KeyMetadata"]
    kms_b = accounts.b()

    for method, (_, params) in KEY_ID_CALLS.items():
        error = error_of(getattr(kms_b, method), KeyId=key["KeyId"], **params)

        # The id names a key in B's own account, where there is none.
        assert error["Code"] == "NotFoundException", method
        assert error["Message"] == (
            f"Key '{key_arn(EAST, ACCOUNT_B, key['KeyId'])}' does not exist"
        ), method

    assert accounts.a().describe_key(KeyId=key["KeyId"])["KeyMetadata"] == key
    tags = accounts.a().list_resource_tags(KeyId=key["KeyId"])["Tags"]
    assert tags == [{"TagKey": "owner", "TagValue": "a"}]


def test_key_arn_of_another_account_is_access_denied(accounts: TwoAccounts) -> None:
    key = accounts.a().create_key(
        Description="a's", Tags=[{"TagKey": "owner", "TagValue": "a"}]
    )["KeyMetadata"]
    kms_b = accounts.b()

    for method, (action, params) in KEY_ID_CALLS.items():
        error = error_of(getattr(kms_b, method), KeyId=key["Arn"], **params)

        assert error["Code"] == "AccessDeniedException", method
        assert error["Message"] == access_denied_message(
            PRINCIPAL_B, action, key["Arn"]
        ), method

    assert accounts.a().describe_key(KeyId=key["KeyId"])["KeyMetadata"] == key
    tags = accounts.a().list_resource_tags(KeyId=key["KeyId"])["Tags"]
    assert tags == [{"TagKey": "owner", "TagValue": "a"}]


def test_alias_arn_of_another_account_is_access_denied(accounts: TwoAccounts) -> None:
    kms_a = accounts.a()
    key = kms_a.create_key()["KeyMetadata"]
    kms_a.create_alias(AliasName="alias/a-only", TargetKeyId=key["KeyId"])
    alias_arn = f"arn:aws:kms:{EAST}:{ACCOUNT_A}:alias/a-only"

    error = error_of(accounts.b().encrypt, KeyId=alias_arn, Plaintext=b"x")

    # The alias ARN finds the key; the key's default policy, which names
    # only account A, is what refuses account B.
    assert error["Code"] == "AccessDeniedException"
    assert error["Message"] == access_denied_message(PRINCIPAL_B, "Encrypt", key["Arn"])


def test_alias_name_of_another_account_is_not_found(accounts: TwoAccounts) -> None:
    kms_a = accounts.a()
    key = kms_a.create_key()["KeyMetadata"]
    kms_a.create_alias(AliasName="alias/a-only", TargetKeyId=key["KeyId"])

    error = error_of(accounts.b().encrypt, KeyId="alias/a-only", Plaintext=b"x")

    assert error["Code"] == "NotFoundException"
    assert error["Message"] == (
        f"Alias arn:aws:kms:{EAST}:{ACCOUNT_B}:alias/a-only is not found."
    )


def test_decrypt_naming_other_account_arn_denied(
    accounts: TwoAccounts,
) -> None:
    kms_a = accounts.a()
    key = kms_a.create_key()["KeyMetadata"]
    blob = kms_a.encrypt(KeyId=key["KeyId"], Plaintext=b"a's")["CiphertextBlob"]

    error = error_of(accounts.b().decrypt, CiphertextBlob=blob, KeyId=key["Arn"])

    assert error["Code"] == "AccessDeniedException"
    assert error["Message"] == access_denied_message(PRINCIPAL_B, "Decrypt", key["Arn"])


@pytest.mark.parametrize("action", ["decrypt", "re_encrypt"])
def test_ciphertext_of_another_account_is_access_denied(
    accounts: TwoAccounts, action: str
) -> None:
    kms_a = accounts.a()
    key = kms_a.create_key()["KeyMetadata"]
    blob = kms_a.encrypt(KeyId=key["KeyId"], Plaintext=b"a's")["CiphertextBlob"]
    kms_b = accounts.b()
    own_key = kms_b.create_key()["KeyMetadata"]
    params: dict[str, Any] = {"CiphertextBlob": blob}
    if action == "re_encrypt":
        params["DestinationKeyId"] = own_key["KeyId"]

    error = error_of(getattr(kms_b, action), **params)

    # AWS refuses a ciphertext whose key the caller cannot reach with this
    # message, which names no key.
    operation = "Decrypt" if action == "decrypt" else "ReEncryptFrom"
    assert error["Code"] == "AccessDeniedException"
    assert error["Message"] == (
        f"User: {PRINCIPAL_B} is not authorized to perform: kms:{operation} on "
        "the resource associated with this ciphertext because the resource does "
        "not exist in this Region, no resource-based policies allow access, or a "
        "resource-based policy explicitly denies access"
    )
    assert key["KeyId"] not in error["Message"]


def test_re_encrypt_to_other_account_denied(
    accounts: TwoAccounts,
) -> None:
    target = accounts.a().create_key()["KeyMetadata"]
    kms_b = accounts.b()
    own_key = kms_b.create_key()["KeyMetadata"]
    blob = kms_b.encrypt(KeyId=own_key["KeyId"], Plaintext=b"b's")["CiphertextBlob"]

    error = error_of(
        kms_b.re_encrypt, CiphertextBlob=blob, DestinationKeyId=target["Arn"]
    )

    assert error["Code"] == "AccessDeniedException"
    assert error["Message"] == access_denied_message(
        PRINCIPAL_B, "ReEncryptTo", target["Arn"]
    )


def test_principals_of_one_account_share_its_keys(accounts: TwoAccounts) -> None:
    key = accounts.a().create_key()["KeyMetadata"]
    blob = accounts.a().encrypt(KeyId=key["KeyId"], Plaintext=b"shared")[
        "CiphertextBlob"
    ]

    described = accounts.a_admin().describe_key(KeyId=key["Arn"])["KeyMetadata"]
    decrypted = accounts.a_admin().decrypt(CiphertextBlob=blob)

    assert described == key
    assert decrypted["Plaintext"] == b"shared"
    assert decrypted["KeyId"] == key["Arn"]


def test_create_key_in_caller_account_and_region(
    accounts: TwoAccounts,
) -> None:
    a_west = accounts.a(WEST).create_key()["KeyMetadata"]
    b_east = accounts.b(EAST).create_key()["KeyMetadata"]

    assert a_west["AWSAccountId"] == ACCOUNT_A
    assert a_west["Arn"] == key_arn(WEST, ACCOUNT_A, a_west["KeyId"])
    assert b_east["AWSAccountId"] == ACCOUNT_B
    assert b_east["Arn"] == key_arn(EAST, ACCOUNT_B, b_east["KeyId"])


def test_key_of_another_region_is_not_found_by_id_or_arn(
    accounts: TwoAccounts,
) -> None:
    key = accounts.a(WEST).create_key()["KeyMetadata"]
    kms_east = accounts.a(EAST)

    by_id = error_of(kms_east.describe_key, KeyId=key["KeyId"])
    by_arn = error_of(kms_east.describe_key, KeyId=key["Arn"])

    assert by_id["Code"] == "NotFoundException"
    assert by_id["Message"] == (
        f"Key '{key_arn(EAST, ACCOUNT_A, key['KeyId'])}' does not exist"
    )
    assert by_arn["Code"] == "NotFoundException"
    assert by_arn["Message"] == f"Invalid arn {WEST}"


def test_ciphertext_of_another_region_is_access_denied(accounts: TwoAccounts) -> None:
    kms_west = accounts.a(WEST)
    key = kms_west.create_key()["KeyMetadata"]
    blob = kms_west.encrypt(KeyId=key["KeyId"], Plaintext=b"west")["CiphertextBlob"]

    error = error_of(accounts.a(EAST).decrypt, CiphertextBlob=blob)

    assert error["Code"] == "AccessDeniedException"
    assert "the resource associated with this ciphertext" in error["Message"]
    assert kms_west.decrypt(CiphertextBlob=blob)["Plaintext"] == b"west"


def test_alias_names_are_per_account_and_region(accounts: TwoAccounts) -> None:
    owners = {
        "a-east": accounts.a(EAST),
        "a-west": accounts.a(WEST),
        "b-east": accounts.b(EAST),
    }
    keys = {}
    for owner, kms in owners.items():
        keys[owner] = kms.create_key(Description=owner)["KeyMetadata"]
        kms.create_alias(
            AliasName="alias/shared-name", TargetKeyId=keys[owner]["KeyId"]
        )

    for owner, kms in owners.items():
        described = kms.describe_key(KeyId="alias/shared-name")["KeyMetadata"]
        encrypted = kms.encrypt(KeyId="alias/shared-name", Plaintext=b"x")

        assert described["Description"] == owner
        assert encrypted["KeyId"] == keys[owner]["Arn"]
        assert listed_aliases(kms) == {"alias/shared-name": keys[owner]["KeyId"]}


def test_alias_deleted_in_one_account_remains_in_the_other(
    accounts: TwoAccounts,
) -> None:
    kms_a, kms_b = accounts.a(), accounts.b()
    key_a = kms_a.create_key()["KeyMetadata"]
    key_b = kms_b.create_key()["KeyMetadata"]
    kms_a.create_alias(AliasName="alias/both", TargetKeyId=key_a["KeyId"])
    kms_b.create_alias(AliasName="alias/both", TargetKeyId=key_b["KeyId"])

    kms_a.delete_alias(AliasName="alias/both")

    assert listed_aliases(kms_a) == {}
    assert listed_aliases(kms_b) == {"alias/both": key_b["KeyId"]}


def test_update_alias_cannot_target_another_account_key(
    accounts: TwoAccounts,
) -> None:
    kms_b = accounts.b()
    own_key = kms_b.create_key()["KeyMetadata"]
    foreign = accounts.a().create_key()["KeyMetadata"]
    kms_b.create_alias(AliasName="alias/mine", TargetKeyId=own_key["KeyId"])

    by_id = error_of(
        kms_b.update_alias, AliasName="alias/mine", TargetKeyId=foreign["KeyId"]
    )
    by_arn = error_of(
        kms_b.update_alias, AliasName="alias/mine", TargetKeyId=foreign["Arn"]
    )
    create = error_of(
        kms_b.create_alias, AliasName="alias/theirs", TargetKeyId=foreign["Arn"]
    )

    assert by_id["Code"] == "NotFoundException"
    assert by_arn["Code"] == "AccessDeniedException"
    assert create["Code"] == "AccessDeniedException"
    assert listed_aliases(kms_b) == {"alias/mine": own_key["KeyId"]}


def test_list_keys_is_per_account_and_region(accounts: TwoAccounts) -> None:
    created: dict[str, list[str]] = {}
    clients = {
        "a-east": accounts.a(EAST),
        "a-west": accounts.a(WEST),
        "b-east": accounts.b(EAST),
        "b-west": accounts.b(WEST),
    }
    for owner, kms in clients.items():
        created[owner] = [kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(3)]

    for owner, kms in clients.items():
        assert listed_key_ids(kms) == created[owner], owner
    assert listed_key_ids(accounts.a_admin(EAST)) == created["a-east"]
    assert listed_key_ids(accounts.a("eu-west-1")) == []


def test_list_aliases_is_per_account_and_region(accounts: TwoAccounts) -> None:
    clients = {
        "a-east": accounts.a(EAST),
        "a-west": accounts.a(WEST),
        "b-east": accounts.b(EAST),
    }
    expected: dict[str, dict[str, str]] = {}
    for owner, kms in clients.items():
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=f"alias/{owner}", TargetKeyId=key_id)
        expected[owner] = {f"alias/{owner}": key_id}

    for owner, kms in clients.items():
        assert listed_aliases(kms) == expected[owner], owner


def test_development_credential_is_unusable_when_a_file_declares_principals(
    accounts: TwoAccounts,
) -> None:
    kms = accounts.server.client()

    error = error_of(kms.list_keys)

    assert error["Code"] == "UnrecognizedClientException"
