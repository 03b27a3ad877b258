"""Grants through boto3 over real HTTP: CreateGrant, ListGrants,
ListRetirableGrants, RetireGrant and RevokeGrant, with the dev root
credential of account 111122223333.

Expected values come from the AWS KMS API reference (API_CreateGrant,
API_ListGrants, API_ListRetirableGrants, API_RetireGrant, API_RevokeGrant)
and the developer guide ("Grants in AWS KMS", "Creating grants", "Managing
grants", "Key states of AWS KMS keys"). A grant id is 64 hexadecimal
characters (RetireGrant's GrantId example); ListGrants reports KeyId as the
key ARN and IssuingAccount as the account root ARN, and a grant made without
a Name has an empty Name ("Managing grants" example output).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

ACCOUNT_ID = "111122223333"
REGION = "us-east-1"
ROOT = f"arn:aws:iam::{ACCOUNT_ID}:root"
EXAMPLE_USER = f"arn:aws:iam::{ACCOUNT_ID}:user/exampleUser"
GRANT_ID_PATTERN = re.compile(r"[0-9a-f]{64}")


def error_of(operation: Callable[..., Any], **params: Any) -> dict[str, str]:
    """Call ``operation`` expecting a KMS error; return the error's code and message."""
    with pytest.raises(ClientError) as raised:
        operation(**params)
    error: dict[str, str] = raised.value.response["Error"]
    return error


def new_key(kms: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = kms.create_key()["KeyMetadata"]
    return metadata


def unique_role(request: pytest.FixtureRequest, label: str) -> str:
    """A role ARN that no other test uses, so shared-server lists stay apart."""
    suffix = re.sub(r"[^a-zA-Z0-9_-]", "-", request.node.name)[-40:]
    return f"arn:aws:iam::{ACCOUNT_ID}:role/{label}-{suffix}"


def all_grants(kms: Any, **params: Any) -> list[dict[str, Any]]:
    grants: list[dict[str, Any]] = []
    for page in kms.get_paginator("list_grants").paginate(**params):
        grants.extend(page["Grants"])
    return grants


# CreateGrant and ListGrants


def test_create_grant_and_list_it_with_every_option(kms: Any) -> None:
    key = new_key(kms)
    admin_role = f"arn:aws:iam::{ACCOUNT_ID}:role/adminRole"

    created = kms.create_grant(
        KeyId=key["KeyId"],
        GranteePrincipal=EXAMPLE_USER,
        RetiringPrincipal=admin_role,
        Operations=["Decrypt", "GenerateDataKey"],
        Constraints={"EncryptionContextSubset": {"Department": "IT"}},
        Name="IT-exampleUser-decrypt",
    )

    assert GRANT_ID_PATTERN.fullmatch(created["GrantId"])
    assert created["GrantToken"]
    [grant] = kms.list_grants(KeyId=key["KeyId"])["Grants"]
    assert grant["KeyId"] == key["Arn"]
    assert grant["GrantId"] == created["GrantId"]
    assert grant["Name"] == "IT-exampleUser-decrypt"
    assert grant["GranteePrincipal"] == EXAMPLE_USER
    assert grant["RetiringPrincipal"] == admin_role
    assert grant["IssuingAccount"] == ROOT
    assert grant["Operations"] == ["Decrypt", "GenerateDataKey"]
    assert grant["Constraints"] == {"EncryptionContextSubset": {"Department": "IT"}}
    assert grant["CreationDate"].year >= 2024


def test_minimal_grant_has_empty_name_and_no_optional_fields(kms: Any) -> None:
    key = new_key(kms)

    created = kms.create_grant(
        KeyId=key["Arn"], GranteePrincipal=ROOT, Operations=["DescribeKey"]
    )

    [grant] = kms.list_grants(KeyId=key["Arn"])["Grants"]
    assert grant["GrantId"] == created["GrantId"]
    assert grant["Name"] == ""
    assert "RetiringPrincipal" not in grant
    assert "Constraints" not in grant


def test_create_grant_with_equals_constraint(kms: Any) -> None:
    key = new_key(kms)

    kms.create_grant(
        KeyId=key["KeyId"],
        GranteePrincipal=EXAMPLE_USER,
        Operations=["Decrypt"],
        Constraints={"EncryptionContextEquals": {"Department": "IT"}},
    )

    [grant] = kms.list_grants(KeyId=key["KeyId"])["Grants"]
    assert grant["Constraints"] == {"EncryptionContextEquals": {"Department": "IT"}}


def test_same_name_and_parameters_return_the_same_grant_id(kms: Any) -> None:
    key = new_key(kms)
    request = {
        "KeyId": key["KeyId"],
        "GranteePrincipal": EXAMPLE_USER,
        "Operations": ["Encrypt"],
        "Name": "retry-safe",
    }

    first = kms.create_grant(**request)
    second = kms.create_grant(**request)
    other = kms.create_grant(**{**request, "Operations": ["Decrypt"]})

    assert second["GrantId"] == first["GrantId"]
    assert second["GrantToken"] != first["GrantToken"]
    assert other["GrantId"] != first["GrantId"]
    grant_ids = [grant["GrantId"] for grant in all_grants(kms, KeyId=key["KeyId"])]
    assert grant_ids == [first["GrantId"], other["GrantId"]]


def test_requests_without_name_make_separate_grants(kms: Any) -> None:
    key = new_key(kms)
    request = {
        "KeyId": key["KeyId"],
        "GranteePrincipal": EXAMPLE_USER,
        "Operations": ["Encrypt"],
    }

    first = kms.create_grant(**request)
    second = kms.create_grant(**request)

    assert first["GrantId"] != second["GrantId"]
    assert len(all_grants(kms, KeyId=key["KeyId"])) == 2


def test_grant_for_an_operation_the_key_lacks_is_rejected(kms: Any) -> None:
    # "Grants in AWS KMS": a grant for an operation the key does not support
    # fails with a validation error; a symmetric key has no Sign.
    key = new_key(kms)

    error = error_of(
        kms.create_grant,
        KeyId=key["KeyId"],
        GranteePrincipal=EXAMPLE_USER,
        Operations=["Sign"],
    )

    assert error["Code"] == "ValidationException"
    assert kms.list_grants(KeyId=key["KeyId"])["Grants"] == []


def test_create_grant_refuses_an_alias(
    kms: Any, request: pytest.FixtureRequest
) -> None:
    # CreateGrant's KeyId takes a key id or key ARN only.
    key = new_key(kms)
    alias_name = "alias/grants-" + re.sub(r"[^a-zA-Z0-9-]", "-", request.node.name)
    kms.create_alias(AliasName=alias_name, TargetKeyId=key["KeyId"])

    error = error_of(
        kms.create_grant,
        KeyId=alias_name,
        GranteePrincipal=EXAMPLE_USER,
        Operations=["Encrypt"],
    )

    assert error["Code"] == "NotFoundException"


def test_create_grant_refuses_an_invalid_principal(kms: Any) -> None:
    key = new_key(kms)

    error = error_of(
        kms.create_grant,
        KeyId=key["KeyId"],
        GranteePrincipal="arn:aws:iam::111122223333:group/Admins",
        Operations=["Encrypt"],
    )

    assert error["Code"] == "InvalidArnException"


def test_create_grant_on_disabled_key_is_refused(kms: Any) -> None:
    # "Key states of AWS KMS keys": CreateGrant on a disabled key fails with
    # "DisabledException: <key ARN> is disabled."
    key = new_key(kms)
    kms.disable_key(KeyId=key["KeyId"])

    error = error_of(
        kms.create_grant,
        KeyId=key["KeyId"],
        GranteePrincipal=EXAMPLE_USER,
        Operations=["Encrypt"],
    )

    assert error["Code"] == "DisabledException"
    assert error["Message"] == f"{key['Arn']} is disabled."


def test_create_grant_on_key_pending_deletion_is_refused(kms: Any) -> None:
    key = new_key(kms)
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)

    error = error_of(
        kms.create_grant,
        KeyId=key["KeyId"],
        GranteePrincipal=EXAMPLE_USER,
        Operations=["Encrypt"],
    )

    assert error["Code"] == "KMSInvalidStateException"
    assert error["Message"] == f"{key['Arn']} is pending deletion."


def test_list_grants_filters_by_grant_id_and_grantee(kms: Any) -> None:
    key = new_key(kms)
    other_user = f"arn:aws:iam::{ACCOUNT_ID}:user/other"
    first = kms.create_grant(
        KeyId=key["KeyId"], GranteePrincipal=EXAMPLE_USER, Operations=["Encrypt"]
    )
    second = kms.create_grant(
        KeyId=key["KeyId"], GranteePrincipal=other_user, Operations=["Decrypt"]
    )

    by_id = kms.list_grants(KeyId=key["KeyId"], GrantId=second["GrantId"])["Grants"]
    by_grantee = kms.list_grants(KeyId=key["KeyId"], GranteePrincipal=EXAMPLE_USER)

    assert [grant["GrantId"] for grant in by_id] == [second["GrantId"]]
    assert [grant["GrantId"] for grant in by_grantee["Grants"]] == [first["GrantId"]]


def test_list_grants_pages_with_limit_and_marker(kms: Any) -> None:
    key = new_key(kms)
    grant_ids = [
        kms.create_grant(
            KeyId=key["KeyId"], GranteePrincipal=EXAMPLE_USER, Operations=["Encrypt"]
        )["GrantId"]
        for _ in range(5)
    ]

    first = kms.list_grants(KeyId=key["KeyId"], Limit=2)
    second = kms.list_grants(KeyId=key["KeyId"], Limit=2, Marker=first["NextMarker"])
    third = kms.list_grants(KeyId=key["KeyId"], Limit=2, Marker=second["NextMarker"])

    assert first["Truncated"] is True
    assert second["Truncated"] is True
    assert third["Truncated"] is False
    assert "NextMarker" not in third
    pages = [first, second, third]
    listed = [grant["GrantId"] for page in pages for grant in page["Grants"]]
    assert listed == grant_ids


def test_list_grants_rejects_a_foreign_marker(kms: Any) -> None:
    key = new_key(kms)

    error = error_of(kms.list_grants, KeyId=key["KeyId"], Marker="not-a-marker")

    assert error["Code"] == "InvalidMarkerException"


def test_list_grants_works_on_key_pending_deletion(kms: Any) -> None:
    # "Key states of AWS KMS keys": ListGrants succeeds in every key state.
    key = new_key(kms)
    created = kms.create_grant(
        KeyId=key["KeyId"], GranteePrincipal=EXAMPLE_USER, Operations=["Encrypt"]
    )
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)

    grants = kms.list_grants(KeyId=key["KeyId"])["Grants"]

    assert [grant["GrantId"] for grant in grants] == [created["GrantId"]]


# ListRetirableGrants


def test_list_retirable_grants_finds_grants_on_every_key(
    kms: Any, request: pytest.FixtureRequest
) -> None:
    retiring = unique_role(request, "retirer")
    first_key = new_key(kms)
    second_key = new_key(kms)
    first = kms.create_grant(
        KeyId=first_key["KeyId"],
        GranteePrincipal=EXAMPLE_USER,
        RetiringPrincipal=retiring,
        Operations=["Encrypt"],
    )
    kms.create_grant(
        KeyId=first_key["KeyId"], GranteePrincipal=EXAMPLE_USER, Operations=["Encrypt"]
    )
    second = kms.create_grant(
        KeyId=second_key["KeyId"],
        GranteePrincipal=EXAMPLE_USER,
        RetiringPrincipal=retiring,
        Operations=["Decrypt"],
    )

    listed = kms.list_retirable_grants(RetiringPrincipal=retiring)

    assert listed["Truncated"] is False
    assert [(grant["KeyId"], grant["GrantId"]) for grant in listed["Grants"]] == [
        (first_key["Arn"], first["GrantId"]),
        (second_key["Arn"], second["GrantId"]),
    ]
    assert all(grant["RetiringPrincipal"] == retiring for grant in listed["Grants"])


def test_list_retirable_grants_pages_and_drops_retired_grants(
    kms: Any, request: pytest.FixtureRequest
) -> None:
    retiring = unique_role(request, "pager")
    key = new_key(kms)
    grant_ids = [
        kms.create_grant(
            KeyId=key["KeyId"],
            GranteePrincipal=EXAMPLE_USER,
            RetiringPrincipal=retiring,
            Operations=["Encrypt"],
        )["GrantId"]
        for _ in range(3)
    ]
    kms.revoke_grant(KeyId=key["KeyId"], GrantId=grant_ids[1])

    first = kms.list_retirable_grants(RetiringPrincipal=retiring, Limit=1)
    second = kms.list_retirable_grants(
        RetiringPrincipal=retiring, Limit=1, Marker=first["NextMarker"]
    )

    assert first["Truncated"] is True
    assert [grant["GrantId"] for grant in first["Grants"]] == [grant_ids[0]]
    assert second["Truncated"] is False
    assert [grant["GrantId"] for grant in second["Grants"]] == [grant_ids[2]]


def test_list_retirable_grants_refuses_another_accounts_principal(kms: Any) -> None:
    # API_ListRetirableGrants: "You must specify a principal in your Amazon
    # Web Services account."
    error = error_of(
        kms.list_retirable_grants,
        RetiringPrincipal="arn:aws:iam::444455556666:role/adminRole",
    )

    assert error["Code"] == "AccessDeniedException"


# RetireGrant and RevokeGrant


def test_retire_grant_by_token(kms: Any) -> None:
    key = new_key(kms)
    created = kms.create_grant(
        KeyId=key["KeyId"],
        GranteePrincipal=EXAMPLE_USER,
        RetiringPrincipal=ROOT,
        Operations=["Encrypt"],
    )

    kms.retire_grant(GrantToken=created["GrantToken"])

    assert kms.list_grants(KeyId=key["KeyId"])["Grants"] == []


def test_retire_grant_by_key_arn_and_grant_id(kms: Any) -> None:
    # The account in which the grant was created may retire it even when it
    # is neither the grantee nor the retiring principal.
    key = new_key(kms)
    created = kms.create_grant(
        KeyId=key["KeyId"], GranteePrincipal=EXAMPLE_USER, Operations=["Encrypt"]
    )

    kms.retire_grant(KeyId=key["Arn"], GrantId=created["GrantId"])

    assert kms.list_grants(KeyId=key["KeyId"])["Grants"] == []


def test_retire_grant_works_on_disabled_key(kms: Any) -> None:
    key = new_key(kms)
    created = kms.create_grant(
        KeyId=key["KeyId"], GranteePrincipal=EXAMPLE_USER, Operations=["Encrypt"]
    )
    kms.disable_key(KeyId=key["KeyId"])

    kms.retire_grant(GrantToken=created["GrantToken"])

    assert kms.list_grants(KeyId=key["KeyId"])["Grants"] == []


def test_revoke_grant_deletes_it(kms: Any) -> None:
    key = new_key(kms)
    kept = kms.create_grant(
        KeyId=key["KeyId"], GranteePrincipal=EXAMPLE_USER, Operations=["Encrypt"]
    )
    revoked = kms.create_grant(
        KeyId=key["KeyId"], GranteePrincipal=EXAMPLE_USER, Operations=["Decrypt"]
    )

    kms.revoke_grant(KeyId=key["KeyId"], GrantId=revoked["GrantId"])

    grants = kms.list_grants(KeyId=key["KeyId"])["Grants"]
    assert [grant["GrantId"] for grant in grants] == [kept["GrantId"]]


def test_revoke_missing_grant_is_not_found(kms: Any) -> None:
    # A KMS emulator fault: AWS returns NotFoundException for RevokeGrant of a
    # grant that does not exist.
    key = new_key(kms)

    error = error_of(kms.revoke_grant, KeyId=key["KeyId"], GrantId="0" * 64)

    assert error["Code"] == "NotFoundException"


def test_retire_grant_twice_is_not_found(kms: Any) -> None:
    # The same fault for RetireGrant: the first retire succeeds, the second,
    # by key and grant id, finds no grant.
    key = new_key(kms)
    created = kms.create_grant(
        KeyId=key["KeyId"],
        GranteePrincipal=EXAMPLE_USER,
        RetiringPrincipal=EXAMPLE_USER,
        Operations=["Encrypt"],
    )
    kms.retire_grant(GrantToken=created["GrantToken"])

    by_id = error_of(kms.retire_grant, KeyId=key["Arn"], GrantId=created["GrantId"])
    by_token = error_of(kms.retire_grant, GrantToken=created["GrantToken"])

    assert by_id["Code"] == "NotFoundException"
    assert by_token["Code"] == "NotFoundException"


def test_retire_grant_needs_token_or_key_and_grant_id(kms: Any) -> None:
    key = new_key(kms)

    only_key = error_of(kms.retire_grant, KeyId=key["Arn"])
    nothing = error_of(kms.retire_grant)

    assert only_key["Code"] == "ValidationException"
    assert nothing["Code"] == "ValidationException"


def test_malformed_grant_id_is_invalid(kms: Any) -> None:
    key = new_key(kms)

    revoke = error_of(kms.revoke_grant, KeyId=key["KeyId"], GrantId="not-a-grant")
    retire = error_of(kms.retire_grant, KeyId=key["Arn"], GrantId="not-a-grant")

    assert revoke["Code"] == "InvalidGrantIdException"
    assert retire["Code"] == "InvalidGrantIdException"


def test_malformed_grant_token_is_invalid(kms: Any) -> None:
    error = error_of(kms.retire_grant, GrantToken="not-a-grant-token")

    assert error["Code"] == "InvalidGrantTokenException"


# Grant tokens in other actions


def test_encrypt_with_an_invalid_grant_token_is_refused(kms: Any) -> None:
    key = new_key(kms)

    error = error_of(
        kms.encrypt, KeyId=key["KeyId"], Plaintext=b"data", GrantTokens=["forged"]
    )

    assert error["Code"] == "InvalidGrantTokenException"


def test_create_grant_with_an_invalid_grant_token_is_refused(kms: Any) -> None:
    key = new_key(kms)

    error = error_of(
        kms.create_grant,
        KeyId=key["KeyId"],
        GranteePrincipal=EXAMPLE_USER,
        Operations=["Encrypt"],
        GrantTokens=["forged"],
    )

    assert error["Code"] == "InvalidGrantTokenException"
    assert kms.list_grants(KeyId=key["KeyId"])["Grants"] == []


def test_encrypt_accepts_a_valid_grant_token(kms: Any) -> None:
    key = new_key(kms)
    created = kms.create_grant(
        KeyId=key["KeyId"], GranteePrincipal=ROOT, Operations=["Encrypt"]
    )

    result = kms.encrypt(
        KeyId=key["KeyId"], Plaintext=b"data", GrantTokens=[created["GrantToken"]]
    )

    assert result["KeyId"] == key["Arn"]
