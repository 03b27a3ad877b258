"""Policy documents that AWS rejects, and the errors it returns.

Messages that AWS documents or is known to return are asserted literally.
Where AWS's text is unknown (marked NOTE in domain/policy.py) the test asserts
KeyLedger's own message constant.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from domain import policy as policy_module
from domain.errors import LimitExceededException, MalformedPolicyDocumentException
from domain.policy import Policy, PolicyKind

ACCOUNT = "111122223333"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/ExampleRole"
DELETED_ROLE = f"arn:aws:iam::{ACCOUNT}:role/DeletedRole"

KMS_GUIDE = "https://docs.aws.amazon.com/kms/latest/developerguide/"
IAM_GUIDE = "https://docs.aws.amazon.com/IAM/latest/UserGuide/"
CREATE_KEY = (
    "CreateKey, Policy parameter, "
    "https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html"
)
KEY_POLICY_FORMAT = f"Creating a key policy, {KMS_GUIDE}key-policy-overview.html"
KMS_KEYS = f"AWS KMS condition keys, {KMS_GUIDE}conditions-kms.html"
PRINCIPAL = (
    "AWS JSON policy elements: Principal, "
    f"{IAM_GUIDE}reference_policies_elements_principal.html"
)
OPERATORS = (
    "IAM JSON policy elements: Condition operators, "
    f"{IAM_GUIDE}reference_policies_elements_condition_operators.html"
)
ACTION = (
    "IAM JSON policy elements: Action, "
    f"{IAM_GUIDE}reference_policies_elements_action.html"
)

NO_PRINCIPAL = "Policy contains a statement with no principal."
INVALID_PRINCIPALS = "Policy contains a statement with one or more invalid principals."
OVERLY_PERMISSIVE = (
    "OverlyPermissiveCondition:EncryptionContext: Using the ForAllValues set "
    "operator with a single-valued condition key matches requests without the "
    "specified encryption context or with an unspecified encryption context. "
    "To fix, remove ForAllValues."
)


def statement(**elements: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": ROLE},
        "Action": "kms:*",
        "Resource": "*",
    }
    base.update(elements)
    return {name: value for name, value in base.items() if value is not None}


def document(*statements: dict[str, Any], **elements: Any) -> str:
    body: dict[str, Any] = {"Version": "2012-10-17", "Statement": list(statements)}
    body.update(elements)
    return json.dumps(
        {name: value for name, value in body.items() if value is not None}
    )


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    message: str
    source: str
    kind: PolicyKind = PolicyKind.KEY


CASES = [
    # Messages AWS KMS is known to return.
    Case(
        "statement without principal",
        document(statement(Principal=None)),
        NO_PRINCIPAL,
        CREATE_KEY,
    ),
    Case(
        "principal is a bare string",
        document(statement(Principal="bob")),
        INVALID_PRINCIPALS,
        PRINCIPAL,
    ),
    Case(
        "principal with partial wildcard",
        document(statement(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:user/*"})),
        INVALID_PRINCIPALS,
        PRINCIPAL,
    ),
    Case(
        "principal is a user group",
        document(statement(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:group/Admins"})),
        INVALID_PRINCIPALS,
        KEY_POLICY_FORMAT,
    ),
    Case(
        "principal that does not exist",
        document(statement(Principal={"AWS": DELETED_ROLE})),
        INVALID_PRINCIPALS,
        CREATE_KEY,
    ),
    Case(
        "principal of unknown type",
        document(statement(Principal={"Group": "Admins"})),
        INVALID_PRINCIPALS,
        PRINCIPAL,
    ),
    Case(
        "principal empty object",
        document(statement(Principal={})),
        INVALID_PRINCIPALS,
        PRINCIPAL,
    ),
    Case(
        "principal value not a string",
        document(statement(Principal={"AWS": 111122223333})),
        INVALID_PRINCIPALS,
        PRINCIPAL,
    ),
    Case(
        "NotPrincipal invalid",
        document(statement(Principal=None, NotPrincipal={"AWS": "root"})),
        INVALID_PRINCIPALS,
        PRINCIPAL,
    ),
    Case(
        "ForAllValues on EncryptionContext",
        document(
            statement(
                Condition={
                    "ForAllValues:StringEquals": {
                        "kms:EncryptionContext:Department": "IT"
                    }
                }
            )
        ),
        OVERLY_PERMISSIVE,
        KMS_KEYS,
    ),
    # Messages whose AWS text is unknown: KeyLedger's own.
    Case("not JSON", "{'Version': '2012-10-17'", policy_module.NOT_JSON, CREATE_KEY),
    Case("JSON array", "[]", policy_module.NOT_AN_OBJECT, CREATE_KEY),
    Case(
        "unknown document element",
        document(statement(), Owner="me"),
        "Policy contains an unknown element: Owner.",
        KEY_POLICY_FORMAT,
    ),
    Case(
        "unknown statement element",
        document(statement(Priority=1)),
        "Policy contains an unknown element: Priority.",
        KEY_POLICY_FORMAT,
    ),
    Case(
        "invalid Version",
        document(statement(), Version="2020-01-01"),
        policy_module.INVALID_VERSION,
        KEY_POLICY_FORMAT,
    ),
    Case(
        "missing Statement",
        json.dumps({"Version": "2012-10-17"}),
        policy_module.NO_STATEMENT,
        KEY_POLICY_FORMAT,
    ),
    Case(
        "empty Statement list",
        document(),
        policy_module.NO_STATEMENT,
        KEY_POLICY_FORMAT,
    ),
    Case(
        "statement not an object",
        json.dumps({"Statement": ["Allow"]}),
        policy_module.INVALID_STATEMENT,
        KEY_POLICY_FORMAT,
    ),
    Case(
        "missing Effect",
        document(statement(Effect=None)),
        policy_module.INVALID_EFFECT,
        KEY_POLICY_FORMAT,
    ),
    Case(
        "invalid Effect",
        document(statement(Effect="Permit")),
        policy_module.INVALID_EFFECT,
        KEY_POLICY_FORMAT,
    ),
    Case(
        "Principal and NotPrincipal",
        document(statement(NotPrincipal={"AWS": ROLE})),
        "Policy contains a statement with both Principal and NotPrincipal: "
        "use one of them.",
        PRINCIPAL,
    ),
    Case(
        "Action and NotAction",
        document(statement(NotAction="kms:Decrypt")),
        "Policy contains a statement with both Action and NotAction: use one of them.",
        ACTION,
    ),
    Case(
        "Resource and NotResource",
        document(statement(NotResource="*")),
        "Policy contains a statement with both Resource and NotResource: "
        "use one of them.",
        KEY_POLICY_FORMAT,
    ),
    Case(
        "action without service prefix",
        document(statement(Action="Encrypt")),
        policy_module.INVALID_ACTION,
        ACTION,
    ),
    Case(
        "action not a string",
        document(statement(Action=["kms:Encrypt", 3])),
        "Policy contains a statement with an invalid Action: "
        "it must be a string or a list of strings.",
        ACTION,
    ),
    Case(
        "unknown condition operator",
        document(statement(Condition={"StringEqualz": {"kms:KeySpec": "RSA_2048"}})),
        "Policy contains an invalid condition operator: StringEqualz.",
        OPERATORS,
    ),
    Case(
        "Null with IfExists",
        document(statement(Condition={"NullIfExists": {"kms:KeySpec": "true"}})),
        "Policy contains an invalid condition operator: NullIfExists.",
        OPERATORS,
    ),
    Case(
        "unknown set qualifier",
        document(
            statement(
                Condition={"ForSomeValues:StringEquals": {"aws:TagKeys": "Project"}}
            )
        ),
        "Policy contains an invalid condition operator: ForSomeValues:StringEquals.",
        OPERATORS,
    ),
    Case(
        "condition value an object",
        document(statement(Condition={"StringEquals": {"kms:KeySpec": {"a": "b"}}})),
        "Policy contains an invalid value for the condition operator "
        "StringEquals: values must be strings, numbers or booleans.",
        OPERATORS,
    ),
    Case(
        "condition not an object",
        document(statement(Condition=["StringEquals"])),
        "Policy contains an invalid Condition element: it must be a JSON object.",
        OPERATORS,
    ),
    # Identity policies follow IAM's rules.
    Case(
        "identity policy with Principal",
        document(statement()),
        policy_module.PRINCIPAL_IN_IDENTITY_POLICY,
        PRINCIPAL,
        PolicyKind.IDENTITY,
    ),
    Case(
        "identity policy without Action",
        document(statement(Principal=None, Action=None)),
        policy_module.NO_ACTION,
        ACTION,
        PolicyKind.IDENTITY,
    ),
    Case(
        "identity policy without Resource",
        document(statement(Principal=None, Resource=None)),
        policy_module.NO_RESOURCE,
        KEY_POLICY_FORMAT,
        PolicyKind.IDENTITY,
    ),
    Case(
        "identity policy Sid with spaces",
        document(statement(Principal=None, Sid="Allow use")),
        policy_module.INVALID_SID,
        KEY_POLICY_FORMAT,
        PolicyKind.IDENTITY,
    ),
]


def only_example_role_exists(arn: str) -> bool:
    return arn == ROLE


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_malformed_policy_is_rejected(case: Case) -> None:
    with pytest.raises(MalformedPolicyDocumentException) as raised:
        Policy.parse(case.text, case.kind, only_example_role_exists)

    assert raised.value.message == case.message, case.source


def test_key_policy_sid_may_contain_spaces() -> None:
    # KEY_POLICY_FORMAT: key policy Sids may contain spaces, IAM policy Sids not.
    text = document(statement(Sid="Allow use of the key"))

    policy = Policy.parse(text, PolicyKind.KEY, only_example_role_exists)

    assert policy.text == text


def test_policy_without_version_is_accepted() -> None:
    text = json.dumps({"Statement": [statement()]})

    assert Policy.parse(text, PolicyKind.KEY).text == text


def test_older_policy_version_is_accepted() -> None:
    text = document(statement(), Version="2008-10-17")

    assert Policy.parse(text, PolicyKind.KEY).text == text


def test_key_policy_over_32_kib_raises_limit_exceeded() -> None:
    # CREATE_KEY: "If the key policy exceeds the length constraint, KMS returns a
    # LimitExceededException"; KEY_POLICY_FORMAT: up to 32,768 bytes.
    base = document(statement(Sid=""))
    padding = 32_768 - len(base) + 1
    text = document(statement(Sid="x" * padding))
    assert len(text) == 32_769

    with pytest.raises(LimitExceededException):
        Policy.parse(text, PolicyKind.KEY)


def test_key_policy_of_exactly_32_kib_is_accepted() -> None:
    base = document(statement(Sid=""))
    text = document(statement(Sid="x" * (32_768 - len(base))))
    assert len(text) == 32_768

    assert Policy.parse(text, PolicyKind.KEY).text == text


def test_for_all_values_on_request_tag_is_rejected() -> None:
    # KMS_KEYS: AWS KMS rejects ForAllValues with aws:RequestTag/<key> as
    # OverlyPermissiveCondition (its exact tag wording is not documented).
    text = document(
        statement(
            Condition={"ForAllValues:StringEquals": {"aws:RequestTag/Project": "Alpha"}}
        )
    )

    with pytest.raises(MalformedPolicyDocumentException) as raised:
        Policy.parse(text, PolicyKind.KEY)

    assert raised.value.message.startswith("OverlyPermissiveCondition:")
    assert "To fix, remove ForAllValues." in raised.value.message
