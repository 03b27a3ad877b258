"""Policy elements and principals: which statements apply to a request.

Every case names the AWS page its expected result comes from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from domain.policy import (
    AccessRequest,
    Match,
    Policy,
    PolicyKind,
    default_key_policy,
)

ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/ExampleRole"
USER = f"arn:aws:iam::{ACCOUNT}:user/ExampleUser"
OTHER_ROOT = f"arn:aws:iam::{OTHER_ACCOUNT}:root"
OTHER_USER = f"arn:aws:iam::{OTHER_ACCOUNT}:user/Bob"
OTHER_ALICE = f"arn:aws:iam::{OTHER_ACCOUNT}:user/Alice"
KEY_ARN = f"arn:aws:kms:us-west-2:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OTHER_KEY_ARN = (
    f"arn:aws:kms:us-west-2:{ACCOUNT}:key/0987dcba-09fe-87dc-65ba-ab0987654321"
)

KMS_GUIDE = "https://docs.aws.amazon.com/kms/latest/developerguide/"
IAM_GUIDE = "https://docs.aws.amazon.com/IAM/latest/UserGuide/"
DEFAULT_KEY_POLICY = f"Default key policy, {KMS_GUIDE}key-policy-default.html"
CREATING_KEYS = f"Creating keys (get-key-policy output), {KMS_GUIDE}create-keys.html"
KEY_POLICY_ELEMENTS = f"Creating a key policy, {KMS_GUIDE}key-policy-overview.html"
EXTERNAL_ACCOUNTS = (
    "Allowing users in other accounts to use a KMS key, "
    f"{KMS_GUIDE}key-policy-modifying-external-accounts.html"
)
PRINCIPAL = (
    "AWS JSON policy elements: Principal, "
    f"{IAM_GUIDE}reference_policies_elements_principal.html"
)
NOT_PRINCIPAL = (
    "AWS JSON policy elements: NotPrincipal, "
    f"{IAM_GUIDE}reference_policies_elements_notprincipal.html"
)
ACTION = (
    "IAM JSON policy elements: Action, "
    f"{IAM_GUIDE}reference_policies_elements_action.html"
)
EVALUATION = (
    f"Policy evaluation logic, {IAM_GUIDE}reference_policies_evaluation-logic.html"
)
CALLER_ACCOUNT = (
    f"AWS KMS condition keys: kms:CallerAccount, {KMS_GUIDE}conditions-kms.html"
)


def allow(principal: Any = None, **elements: Any) -> dict[str, Any]:
    return _statement("Allow", principal, elements)


def deny(principal: Any = None, **elements: Any) -> dict[str, Any]:
    return _statement("Deny", principal, elements)


def _statement(effect: str, principal: Any, elements: dict[str, Any]) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": effect}
    if principal is not None:
        statement["Principal"] = principal
    statement.update(elements)
    if "NotAction" not in statement:
        statement.setdefault("Action", "kms:*")
    if "NotResource" not in statement:
        statement.setdefault("Resource", "*")
    return statement


DEFAULT_WITH_ENCRYPT_DENIED = json.dumps(
    {
        "Statement": [
            *json.loads(default_key_policy(ACCOUNT))["Statement"],
            {
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Action": "kms:Encrypt",
                "Resource": "*",
            },
        ]
    }
)


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@dataclass(frozen=True)
class Case:
    name: str
    policy: str
    caller: str
    expected: Match
    source: str
    action: str = "kms:Encrypt"
    resource: str = KEY_ARN
    kind: PolicyKind = PolicyKind.KEY
    context: dict[str, Any] = field(default_factory=dict)

    def request(self) -> AccessRequest:
        account = self.caller.split(":")[4]
        return AccessRequest(
            self.caller, account, self.action, self.resource, self.context
        )


CASES = [
    # The default key policy names the account: its root is allowed outright,
    # its users and roles only through IAM policies, other accounts not at all.
    Case(
        "default policy, account root",
        default_key_policy(ACCOUNT),
        ROOT,
        Match.ALLOW,
        DEFAULT_KEY_POLICY,
    ),
    Case(
        "default policy, role in account",
        default_key_policy(ACCOUNT),
        ROLE,
        Match.ALLOW_ACCOUNT,
        DEFAULT_KEY_POLICY,
    ),
    Case(
        "default policy, user in account",
        default_key_policy(ACCOUNT),
        USER,
        Match.ALLOW_ACCOUNT,
        DEFAULT_KEY_POLICY,
    ),
    Case(
        "default policy, other account root",
        default_key_policy(ACCOUNT),
        OTHER_ROOT,
        Match.NONE,
        DEFAULT_KEY_POLICY,
    ),
    Case(
        "default policy, other account user",
        default_key_policy(ACCOUNT),
        OTHER_USER,
        Match.NONE,
        DEFAULT_KEY_POLICY,
    ),
    Case(
        "default policy, any kms action",
        default_key_policy(ACCOUNT),
        ROLE,
        Match.ALLOW_ACCOUNT,
        DEFAULT_KEY_POLICY,
        action="kms:ScheduleKeyDeletion",
    ),
    # Principal forms.
    Case(
        "user named by ARN",
        document(allow({"AWS": USER})),
        USER,
        Match.ALLOW,
        KEY_POLICY_ELEMENTS,
    ),
    Case(
        "role named by ARN",
        document(allow({"AWS": [USER, ROLE]})),
        ROLE,
        Match.ALLOW,
        KEY_POLICY_ELEMENTS,
    ),
    Case(
        "other user not named",
        document(allow({"AWS": USER})),
        ROLE,
        Match.NONE,
        KEY_POLICY_ELEMENTS,
    ),
    Case(
        "account id same as root ARN",
        document(allow({"AWS": ACCOUNT})),
        ROLE,
        Match.ALLOW_ACCOUNT,
        PRINCIPAL,
    ),
    Case(
        "account id allows its root",
        document(allow({"AWS": ACCOUNT})),
        ROOT,
        Match.ALLOW,
        PRINCIPAL,
    ),
    Case("principal star", document(allow("*")), ROLE, Match.ALLOW, PRINCIPAL),
    Case(
        "principal AWS star",
        document(allow({"AWS": "*"})),
        OTHER_USER,
        Match.ALLOW,
        PRINCIPAL,
    ),
    Case(
        "service principal never matches",
        document(allow({"Service": "logs.us-west-2.amazonaws.com"})),
        ROLE,
        Match.NONE,
        PRINCIPAL,
    ),
    Case(
        "star with kms:CallerAccount",
        document(
            allow(
                {"AWS": "*"}, Condition={"StringEquals": {"kms:CallerAccount": ACCOUNT}}
            )
        ),
        ROLE,
        Match.ALLOW,
        CALLER_ACCOUNT,
        context={"kms:calleraccount": ACCOUNT},
    ),
    Case(
        "star with other kms:CallerAccount",
        document(
            allow(
                {"AWS": "*"}, Condition={"StringEquals": {"kms:CallerAccount": ACCOUNT}}
            )
        ),
        OTHER_USER,
        Match.NONE,
        CALLER_ACCOUNT,
        context={"kms:calleraccount": OTHER_ACCOUNT},
    ),
    # Cross-account: a key policy naming another account delegates to it.
    Case(
        "other account named, its user",
        document(allow({"AWS": OTHER_ROOT})),
        OTHER_USER,
        Match.ALLOW_ACCOUNT,
        EXTERNAL_ACCOUNTS,
    ),
    Case(
        "other account named, its root",
        document(allow({"AWS": OTHER_ROOT})),
        OTHER_ROOT,
        Match.ALLOW,
        EXTERNAL_ACCOUNTS,
    ),
    Case(
        "other account named, owner role",
        document(allow({"AWS": OTHER_ROOT})),
        ROLE,
        Match.NONE,
        EXTERNAL_ACCOUNTS,
    ),
    Case(
        "account and user both named",
        document(allow({"AWS": ROOT}), allow({"AWS": USER})),
        USER,
        Match.ALLOW,
        KEY_POLICY_ELEMENTS,
    ),
    # NotPrincipal: everyone except the principals listed.
    Case(
        "NotPrincipal deny, listed user",
        document(
            allow({"AWS": OTHER_ROOT}),
            deny(NotPrincipal={"AWS": [OTHER_USER, OTHER_ROOT]}),
        ),
        OTHER_USER,
        Match.ALLOW_ACCOUNT,
        NOT_PRINCIPAL,
    ),
    Case(
        "NotPrincipal deny, unlisted user",
        document(
            allow({"AWS": OTHER_ROOT}),
            deny(NotPrincipal={"AWS": [OTHER_USER, OTHER_ROOT]}),
        ),
        OTHER_ALICE,
        Match.DENY,
        NOT_PRINCIPAL,
    ),
    Case(
        "NotPrincipal deny, root listed only",
        document(allow("*"), deny(NotPrincipal={"AWS": ROOT})),
        ROLE,
        Match.DENY,
        NOT_PRINCIPAL,
    ),
    Case(
        "NotPrincipal deny, root itself",
        document(allow("*"), deny(NotPrincipal={"AWS": ROOT})),
        ROOT,
        Match.ALLOW,
        NOT_PRINCIPAL,
    ),
    Case(
        "NotPrincipal allow, unlisted",
        document(allow(NotPrincipal={"AWS": USER})),
        ROLE,
        Match.ALLOW,
        NOT_PRINCIPAL,
    ),
    Case(
        "NotPrincipal allow, listed",
        document(allow(NotPrincipal={"AWS": USER})),
        USER,
        Match.NONE,
        NOT_PRINCIPAL,
    ),
    # Explicit deny beats allow.
    Case(
        "deny beats direct allow",
        document(allow({"AWS": ROLE}), deny({"AWS": ROLE})),
        ROLE,
        Match.DENY,
        EVALUATION,
    ),
    Case(
        "deny before allow",
        document(deny({"AWS": ROLE}), allow({"AWS": ROLE})),
        ROLE,
        Match.DENY,
        EVALUATION,
    ),
    Case(
        "deny of other action",
        document(allow({"AWS": ROLE}), deny({"AWS": ROLE}, Action="kms:Decrypt")),
        ROLE,
        Match.ALLOW,
        EVALUATION,
    ),
    Case(
        "deny of other principal",
        document(allow({"AWS": ROLE}), deny({"AWS": USER})),
        ROLE,
        Match.ALLOW,
        EVALUATION,
    ),
    Case(
        "deny beats account allow",
        DEFAULT_WITH_ENCRYPT_DENIED,
        ROLE,
        Match.DENY,
        EVALUATION,
    ),
    # Action and NotAction.
    Case(
        "action listed",
        document(allow({"AWS": ROLE}, Action=["kms:Encrypt", "kms:Decrypt"])),
        ROLE,
        Match.ALLOW,
        KEY_POLICY_ELEMENTS,
    ),
    Case(
        "action not listed",
        document(allow({"AWS": ROLE}, Action="kms:DescribeKey")),
        ROLE,
        Match.NONE,
        KEY_POLICY_ELEMENTS,
    ),
    Case(
        "action case-insensitive",
        document(allow({"AWS": ROLE}, Action="KMS:encrypt")),
        ROLE,
        Match.ALLOW,
        ACTION,
    ),
    Case(
        "action star wildcard",
        document(allow({"AWS": ROLE}, Action="kms:ReEncrypt*")),
        ROLE,
        Match.ALLOW,
        ACTION,
        action="kms:ReEncryptFrom",
    ),
    Case(
        "action question wildcard",
        document(allow({"AWS": ROLE}, Action="kms:?ncrypt")),
        ROLE,
        Match.ALLOW,
        ACTION,
    ),
    Case(
        "action star alone",
        document(allow({"AWS": ROLE}, Action="*")),
        ROLE,
        Match.ALLOW,
        ACTION,
    ),
    Case(
        "action other service",
        document(allow({"AWS": ROLE}, Action="s3:*")),
        ROLE,
        Match.NONE,
        ACTION,
    ),
    Case(
        "NotAction excludes listed",
        document(allow({"AWS": ROLE}, NotAction="kms:Encrypt")),
        ROLE,
        Match.NONE,
        ACTION,
    ),
    Case(
        "NotAction allows others",
        document(allow({"AWS": ROLE}, NotAction="kms:Decrypt")),
        ROLE,
        Match.ALLOW,
        ACTION,
    ),
    # Resource and NotResource: "*" in a key policy is this key.
    Case(
        "resource star",
        document(allow({"AWS": ROLE})),
        ROLE,
        Match.ALLOW,
        KEY_POLICY_ELEMENTS,
    ),
    Case(
        "resource key ARN",
        document(allow({"AWS": ROLE}, Resource=KEY_ARN)),
        ROLE,
        Match.ALLOW,
        KEY_POLICY_ELEMENTS,
    ),
    Case(
        "resource other key",
        document(allow({"AWS": ROLE}, Resource=OTHER_KEY_ARN)),
        ROLE,
        Match.NONE,
        KEY_POLICY_ELEMENTS,
    ),
    Case(
        "resource wildcard",
        document(
            allow({"AWS": ROLE}, Resource=f"arn:aws:kms:us-west-2:{ACCOUNT}:key/*")
        ),
        ROLE,
        Match.ALLOW,
        KEY_POLICY_ELEMENTS,
    ),
    Case(
        "NotResource excludes key",
        document(allow({"AWS": ROLE}, NotResource=KEY_ARN)),
        ROLE,
        Match.NONE,
        KEY_POLICY_ELEMENTS,
    ),
    Case(
        "NotResource other key",
        document(allow({"AWS": ROLE}, NotResource=OTHER_KEY_ARN)),
        ROLE,
        Match.ALLOW,
        KEY_POLICY_ELEMENTS,
    ),
    # A key policy statement without Resource or Action has no effect.
    Case(
        "no Resource has no effect",
        json.dumps(
            {
                "Statement": [
                    {"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "kms:*"}
                ]
            }
        ),
        ROLE,
        Match.NONE,
        KEY_POLICY_ELEMENTS,
    ),
    Case(
        "no Action has no effect",
        json.dumps(
            {
                "Statement": [
                    {"Effect": "Allow", "Principal": {"AWS": ROLE}, "Resource": "*"}
                ]
            }
        ),
        ROLE,
        Match.NONE,
        KEY_POLICY_ELEMENTS,
    ),
    Case(
        "single statement object",
        json.dumps({"Version": "2012-10-17", "Statement": allow({"AWS": ROLE})}),
        ROLE,
        Match.ALLOW,
        KEY_POLICY_ELEMENTS,
    ),
    # Identity policies: every Allow that applies is direct.
    Case(
        "identity allow",
        document(allow(Resource=KEY_ARN)),
        ROLE,
        Match.ALLOW,
        EVALUATION,
        kind=PolicyKind.IDENTITY,
    ),
    Case(
        "identity other resource",
        document(allow(Resource=OTHER_KEY_ARN)),
        ROLE,
        Match.NONE,
        EVALUATION,
        kind=PolicyKind.IDENTITY,
    ),
    Case(
        "identity deny",
        document(allow(), deny(Action="kms:Encrypt")),
        ROLE,
        Match.DENY,
        EVALUATION,
        kind=PolicyKind.IDENTITY,
    ),
    Case(
        "identity no statement applies",
        document(allow(Action="kms:Decrypt")),
        ROLE,
        Match.NONE,
        EVALUATION,
        kind=PolicyKind.IDENTITY,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_policy_evaluation(case: Case) -> None:
    policy = Policy.parse(case.policy, case.kind)

    assert policy.evaluate(case.request()) is case.expected, case.source


def test_default_key_policy_text_matches_get_key_policy_output() -> None:
    # The layout AWS returns, copied from the get-key-policy output in CREATING_KEYS.
    expected = (
        "{\n"
        '  "Version" : "2012-10-17",\n'
        '  "Id" : "key-default-1",\n'
        '  "Statement" : [ {\n'
        '    "Sid" : "Enable IAM User Permissions",\n'
        '    "Effect" : "Allow",\n'
        '    "Principal" : {\n'
        '      "AWS" : "arn:aws:iam::111122223333:root"\n'
        "    },\n"
        '    "Action" : "kms:*",\n'
        '    "Resource" : "*"\n'
        "  } ]\n"
        "}"
    )

    assert default_key_policy("111122223333") == expected


def test_default_key_policy_names_the_given_account() -> None:
    policy = json.loads(default_key_policy(OTHER_ACCOUNT))

    assert policy["Statement"][0]["Principal"] == {"AWS": OTHER_ROOT}


def test_parsed_policy_keeps_text_and_kind() -> None:
    text = default_key_policy(ACCOUNT)

    policy = Policy.parse(text, PolicyKind.KEY)

    assert policy.text == text
    assert policy.kind is PolicyKind.KEY


def test_principal_exists_is_asked_about_users_and_roles_only() -> None:
    asked: list[str] = []

    def exists(arn: str) -> bool:
        asked.append(arn)
        return True

    Policy.parse(
        document(allow({"AWS": [ROOT, ACCOUNT, "*", USER, ROLE]})),
        PolicyKind.KEY,
        exists,
    )

    assert sorted(asked) == sorted([USER, ROLE])
