"""Grant rules: constraints, operations, principals, grant ids and tokens.

Expected values come from the AWS KMS developer guide ("Grants in AWS KMS"
and its "Grant constraints" examples, "Creating grants", "Retiring and
revoking grants") and the API reference (CreateGrant, GrantConstraints,
RetireGrant, and the InvalidGrantTokenException description of the KMS
service model).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from domain.errors import (
    InvalidArnException,
    InvalidGrantIdException,
    InvalidGrantTokenException,
    UnsupportedOperationException,
    ValidationException,
)
from domain.grant import (
    MAX_GRANTS_PER_KEY,
    SYMMETRIC_GRANT_OPERATIONS,
    Grant,
    GrantConstraints,
    check_grant_id,
    check_grant_operations,
    check_grant_tokens,
    check_principal,
    make_grant_token,
    new_grant_id,
    parse_grant_token,
)

KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = "arn:aws:kms:us-west-2:111122223333:key/" + KEY_ID
GRANT_ID = "abcde1237f76e4ba7987489ac329fbfba6ad343d6f7075dbd1ef191f0120514a"
EXAMPLE_USER = "arn:aws:iam::111122223333:user/exampleUser"
ADMIN_ROLE = "arn:aws:iam::111122223333:role/adminRole"
ROOT = "arn:aws:iam::111122223333:root"


def grant(**overrides: object) -> Grant:
    fields: dict[str, object] = {
        "grant_id": GRANT_ID,
        "key_id": KEY_ID,
        "name": None,
        "grantee_principal": EXAMPLE_USER,
        "retiring_principal": ADMIN_ROLE,
        "operations": ("GenerateDataKey", "Decrypt"),
        "constraints": GrantConstraints(),
        "issuing_account": ROOT,
        "creation_date": datetime(2019, 10, 27, tzinfo=UTC),
    }
    fields.update(overrides)
    return Grant(**fields)  # type: ignore[arg-type]


# Constraints: the example of "Grant constraints" in "Using grants".

FINANCE_PUBLIC = {"Department": "Finance", "Classification": "Public"}


@pytest.mark.parametrize(
    "context",
    [
        {"Department": "Finance", "Classification": "Public"},
        {"Classification": "Public", "Department": "Finance"},
        {
            "Customer": "12345",
            "Department": "Finance",
            "Classification": "Public",
            "Purpose": "Test",
        },
    ],
)
def test_subset_constraint_allows_documented_contexts(context: dict[str, str]) -> None:
    constraints = GrantConstraints(encryption_context_subset=FINANCE_PUBLIC)

    assert constraints.allow(context) is True


@pytest.mark.parametrize(
    "context",
    [
        {"Department": "Finance"},
        {"department": "finance", "classification": "public"},
        {"Classification": "Public", "Customer": "12345"},
        {},
        None,
    ],
)
def test_subset_constraint_rejects_documented_contexts(
    context: dict[str, str] | None,
) -> None:
    constraints = GrantConstraints(encryption_context_subset=FINANCE_PUBLIC)

    assert constraints.allow(context) is False


# "Creating grants": EncryptionContextEquals {"Department": "IT"} allows
# Department=IT and refuses Department=IT,Purpose=Test, which Subset allows.


def test_equals_constraint_needs_exact_pairs() -> None:
    equals = GrantConstraints(encryption_context_equals={"Department": "IT"})

    assert equals.allow({"Department": "IT"}) is True
    assert equals.allow({"Department": "IT", "Purpose": "Test"}) is False
    assert equals.allow({}) is False
    assert equals.allow(None) is False


def test_subset_constraint_allows_extra_pairs() -> None:
    subset = GrantConstraints(encryption_context_subset={"Department": "IT"})

    assert subset.allow({"Department": "IT"}) is True
    assert subset.allow({"Department": "IT", "Purpose": "Test"}) is True


def test_constraint_key_ignores_case_but_value_does_not() -> None:
    # GrantConstraints: "in a grant constraint, the key in each key-value pair
    # is not case sensitive, but the value is case sensitive."
    equals = GrantConstraints(encryption_context_equals={"Department": "IT"})
    subset = GrantConstraints(encryption_context_subset={"Department": "IT"})

    assert equals.allow({"department": "IT"}) is True
    assert subset.allow({"DEPARTMENT": "IT", "Purpose": "Test"}) is True
    assert equals.allow({"Department": "it"}) is False
    assert subset.allow({"Department": "It"}) is False


def test_request_keys_differing_only_by_case_never_match() -> None:
    equals = GrantConstraints(encryption_context_equals={"Department": "IT"})

    assert equals.allow({"Department": "IT", "department": "IT"}) is False


def test_no_constraint_allows_any_context() -> None:
    assert GrantConstraints().allow({"Department": "IT"}) is True
    assert GrantConstraints().allow(None) is True


def test_constraints_round_trip_the_wire_shape() -> None:
    wire = {
        "EncryptionContextEquals": {"Department": "IT"},
        "EncryptionContextSubset": {"Purpose": "Test"},
    }

    constraints = GrantConstraints.from_wire(wire)

    assert constraints.to_wire() == wire
    assert GrantConstraints.from_wire(None).empty is True
    assert GrantConstraints.from_wire({}).to_wire() == {}


def test_constraint_with_nine_pairs_is_rejected() -> None:
    # "Each grant constraint value can include up to 8 encryption context pairs."
    pairs = {f"k{index}": "v" for index in range(9)}

    with pytest.raises(ValidationException):
        GrantConstraints.from_wire({"EncryptionContextSubset": pairs})
    eight = {f"k{index}": "v" for index in range(8)}
    assert GrantConstraints.from_wire({"EncryptionContextSubset": eight}).allow(eight)


def test_constraint_longer_than_384_characters_is_rejected() -> None:
    with pytest.raises(ValidationException):
        GrantConstraints.from_wire({"EncryptionContextEquals": {"k": "v" * 384}})


def test_source_arn_constraint_is_unsupported() -> None:
    with pytest.raises(UnsupportedOperationException):
        GrantConstraints.from_wire(
            {"SourceArn": "arn:aws:s3:::bucket-of-111122223333-example"}
        )


# Grant.allows: operations, and where constraints apply.


def test_grant_allows_only_its_operations() -> None:
    subject = grant(operations=("Decrypt",))

    assert subject.allows("Decrypt", None) is True
    assert subject.allows("Encrypt", None) is False
    assert subject.allows("DescribeKey", None) is False


def test_constraint_does_not_apply_to_describe_key_or_retire_grant() -> None:
    # CreateGrant: grants with encryption context constraints "can include the
    # DescribeKey and RetireGrant operations, but the constraint doesn't apply
    # to these operations."
    subject = grant(
        operations=("Decrypt", "DescribeKey", "RetireGrant"),
        constraints=GrantConstraints(encryption_context_equals={"Department": "IT"}),
    )

    assert subject.allows("DescribeKey", None) is True
    assert subject.allows("RetireGrant", None) is True
    assert subject.allows("Decrypt", None) is False
    assert subject.allows("Decrypt", {"Department": "IT"}) is True


# Child grants: "Granting CreateGrant permission".


def test_child_grant_needs_a_subset_of_operations() -> None:
    parent = grant(operations=("GenerateDataKey", "Decrypt", "CreateGrant"))

    assert parent.allows_child_grant(["CreateGrant", "Decrypt"], GrantConstraints())
    assert not parent.allows_child_grant(["ReEncryptFrom"], GrantConstraints())
    assert not grant(operations=("Decrypt",)).allows_child_grant(
        ["Decrypt"], GrantConstraints()
    )


def test_child_grant_constraints_must_be_as_strict() -> None:
    parent = grant(
        operations=("Decrypt", "CreateGrant"),
        constraints=GrantConstraints(encryption_context_subset={"Department": "IT"}),
    )
    added_pair = GrantConstraints(
        encryption_context_subset={"Department": "IT", "Purpose": "Test"}
    )
    to_equals = GrantConstraints(encryption_context_equals={"Department": "IT"})
    removed_pair = GrantConstraints(encryption_context_subset={"Purpose": "Test"})

    assert parent.allows_child_grant(["Decrypt"], added_pair)
    assert parent.allows_child_grant(["Decrypt"], to_equals)
    assert not parent.allows_child_grant(["Decrypt"], removed_pair)
    assert not parent.allows_child_grant(["Decrypt"], GrantConstraints())


def test_child_grant_cannot_turn_equals_into_subset() -> None:
    parent = grant(
        operations=("Decrypt", "CreateGrant"),
        constraints=GrantConstraints(encryption_context_equals={"Department": "IT"}),
    )
    subset = GrantConstraints(encryption_context_subset={"Department": "IT"})
    same = GrantConstraints(encryption_context_equals={"department": "IT"})

    assert not parent.allows_child_grant(["Decrypt"], subset)
    assert parent.allows_child_grant(["Decrypt"], same)


# Operations per key type.


def test_symmetric_key_grant_operations() -> None:
    # "Grant operations" for symmetric encryption KMS keys.
    assert {
        "Decrypt",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "ReEncryptFrom",
        "ReEncryptTo",
        "CreateGrant",
        "DescribeKey",
        "RetireGrant",
    } == SYMMETRIC_GRANT_OPERATIONS
    check_grant_operations(
        sorted(SYMMETRIC_GRANT_OPERATIONS), "SYMMETRIC_DEFAULT", KEY_ARN
    )


@pytest.mark.parametrize(
    "operation", ["Sign", "Verify", "GetPublicKey", "GenerateMac", "VerifyMac"]
)
def test_symmetric_key_rejects_other_operations(operation: str) -> None:
    # "Grants for symmetric CMKs cannot allow the Sign, Verify, or
    # GetPublicKey operations"; CreateGrant returns a ValidationException.
    with pytest.raises(ValidationException) as raised:
        check_grant_operations(["Decrypt", operation], "SYMMETRIC_DEFAULT", KEY_ARN)

    assert operation in raised.value.message
    assert KEY_ARN in raised.value.message


# Principals.


@pytest.mark.parametrize(
    "principal",
    [
        ROOT,
        EXAMPLE_USER,
        ADMIN_ROLE,
        "arn:aws:iam::111122223333:role/service-role/ExampleRole",
        "arn:aws:sts::111122223333:assumed-role/adminRole/session-1",
        "arn:aws:sts::111122223333:federated-user/Bob",
    ],
)
def test_iam_principals_are_accepted(principal: str) -> None:
    check_principal(principal, "GranteePrincipal")


@pytest.mark.parametrize(
    "principal",
    [
        "exampleUser",
        "111122223333",
        "arn:aws:iam::1111:user/short-account",
        "arn:aws:iam::111122223333:group/Admins",
        "arn:aws-cn:iam::111122223333:user/exampleUser",
        "dynamodb.us-west-2.amazonaws.com",
    ],
)
def test_other_principals_are_invalid_arns(principal: str) -> None:
    with pytest.raises(InvalidArnException) as raised:
        check_principal(principal, "GranteePrincipal")

    assert principal in raised.value.message


def test_service_principal_is_accepted_where_allowed() -> None:
    # "Creating grants": DynamoDB's grant has GranteePrincipal
    # dynamodb.us-west-2.amazonaws.com.
    check_principal(
        "dynamodb.us-west-2.amazonaws.com", "GranteePrincipal", allow_service=True
    )


# Grantee and retiring principals.


def test_grantee_matches_itself_and_its_role_sessions() -> None:
    by_role = grant(grantee_principal=ADMIN_ROLE)
    by_path_role = grant(
        grantee_principal="arn:aws:iam::111122223333:role/team/adminRole"
    )
    session = "arn:aws:sts::111122223333:assumed-role/adminRole/session-1"

    assert by_role.grantee_matches(ADMIN_ROLE, "111122223333")
    assert by_role.grantee_matches(session, "111122223333")
    assert by_path_role.grantee_matches(session, "111122223333")
    assert not by_role.grantee_matches(EXAMPLE_USER, "111122223333")
    assert not by_role.grantee_matches(
        "arn:aws:sts::444455556666:assumed-role/adminRole/session-1", "444455556666"
    )


def test_account_root_grantee_covers_its_account_only() -> None:
    subject = grant(grantee_principal=ROOT)

    assert subject.grantee_is_account is True
    assert subject.grantee_matches(ROOT, "111122223333")
    assert subject.grantee_matches(EXAMPLE_USER, "111122223333")
    assert not subject.grantee_matches(
        "arn:aws:iam::444455556666:user/exampleUser", "444455556666"
    )
    assert grant().grantee_is_account is False


def test_who_may_retire_a_grant() -> None:
    # "Retiring and revoking grants": the retiring principal, the grantee when
    # the grant allows RetireGrant, and the account that created the grant.
    without_retire = grant()
    with_retire = grant(operations=("Decrypt", "RetireGrant"))

    assert without_retire.can_be_retired_by(ADMIN_ROLE)
    assert without_retire.can_be_retired_by(ROOT)
    assert not without_retire.can_be_retired_by(EXAMPLE_USER)
    assert with_retire.can_be_retired_by(EXAMPLE_USER)
    assert not grant(retiring_principal=None).can_be_retired_by(ADMIN_ROLE)
    assert not without_retire.can_be_retired_by("arn:aws:iam::444455556666:root")


# Grant ids and tokens.


def test_grant_id_is_64_lower_case_hex() -> None:
    grant_id = new_grant_id(os.urandom)

    assert len(grant_id) == 64
    assert grant_id == grant_id.lower()
    check_grant_id(grant_id)
    check_grant_id("0123456789012345678901234567890123456789012345678901234567890123")


@pytest.mark.parametrize("text", ["", "0" * 63, "0" * 65, "G" * 64, "A" * 64])
def test_malformed_grant_id_is_rejected(text: str) -> None:
    with pytest.raises(InvalidGrantIdException):
        check_grant_id(text)


def test_grant_token_names_its_key_and_grant() -> None:
    token = make_grant_token(KEY_ID, GRANT_ID, os.urandom)

    assert parse_grant_token(token) == (KEY_ID, GRANT_ID)
    check_grant_tokens([token])


def test_every_grant_token_is_different() -> None:
    # CreateGrant: "the returned grant token is unique with every CreateGrant
    # request, even when a duplicate GrantId is returned."
    first = make_grant_token(KEY_ID, GRANT_ID, os.urandom)
    second = make_grant_token(KEY_ID, GRANT_ID, os.urandom)

    assert first != second
    assert parse_grant_token(first) == parse_grant_token(second)


@pytest.mark.parametrize(
    "text",
    ["", "not a token", "AQID", "!!!!", "a" * 200, GRANT_ID],
)
def test_malformed_grant_token_is_rejected(text: str) -> None:
    with pytest.raises(InvalidGrantTokenException) as raised:
        parse_grant_token(text)

    assert raised.value.message == (
        "The request was rejected because the specified grant token is not valid."
    )


def test_grant_token_with_another_version_is_rejected() -> None:
    token = make_grant_token(KEY_ID, GRANT_ID, os.urandom)
    altered = "B" + token[1:]

    with pytest.raises(InvalidGrantTokenException):
        parse_grant_token(altered)


def test_grant_tokens_list_rejects_one_bad_token() -> None:
    good = make_grant_token(KEY_ID, GRANT_ID, os.urandom)

    check_grant_tokens(None)
    check_grant_tokens([])
    with pytest.raises(InvalidGrantTokenException):
        check_grant_tokens([good, "forged"])


def test_grants_per_key_quota_is_50000() -> None:
    # "Resource quotas": grants per KMS key, 50,000.
    assert MAX_GRANTS_PER_KEY == 50_000
