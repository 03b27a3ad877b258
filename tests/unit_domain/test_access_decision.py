"""The order in which a key policy, an identity policy and grants decide.

Expected results follow "Determining access to an AWS KMS key" and
"Allowing users in other accounts to use a KMS key" in the AWS KMS developer
guide, and the IAM policy evaluation logic: an explicit deny anywhere wins; a
key policy that names the principal allows on its own; one that names the
account needs the identity policy too; another account always needs both; a
grant allows when no policy allows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from domain.access import DenialReason, decide_for_account, decide_for_key
from domain.policy import AccessRequest, Policy, PolicyKind, default_key_policy
from domain.principal import Principal

ACCOUNT = "111122223333"
OTHER = "444455556666"
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
APP = f"arn:aws:iam::{ACCOUNT}:role/app"
PARTNER = f"arn:aws:iam::{OTHER}:user/partner"
PARTNER_ROOT = f"arn:aws:iam::{OTHER}:root"


def key_policy(*statements: dict[str, object]) -> Policy:
    text = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    return Policy.parse(text, PolicyKind.KEY)


def identity_policy(effect: str = "Allow", action: str = "kms:Encrypt") -> Policy:
    text = json.dumps(
        {"Statement": [{"Effect": effect, "Action": action, "Resource": "*"}]}
    )
    return Policy.parse(text, PolicyKind.IDENTITY)


def allow(principal: str, action: str = "kms:*") -> dict[str, object]:
    return {
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": action,
        "Resource": "*",
    }


def deny(principal: str, action: str = "kms:Encrypt") -> dict[str, object]:
    return {**allow(principal, action), "Effect": "Deny"}


DEFAULT = Policy.parse(default_key_policy(ACCOUNT), PolicyKind.KEY)
ALLOW_ENCRYPT = identity_policy()
DENY_ENCRYPT = identity_policy("Deny")


@dataclass(frozen=True)
class Case:
    name: str
    principal: str
    account: str
    identity: Policy | None
    key: Policy
    grant: bool
    expected: DenialReason | None


CASES = [
    Case("root by default policy", ROOT, ACCOUNT, None, DEFAULT, False, None),
    Case("role with identity allow", APP, ACCOUNT, ALLOW_ENCRYPT, DEFAULT, False, None),
    Case(
        "role without identity policy",
        APP,
        ACCOUNT,
        None,
        DEFAULT,
        False,
        DenialReason.NO_IDENTITY_POLICY_ALLOWS,
    ),
    Case(
        "role named by the key policy",
        APP,
        ACCOUNT,
        None,
        key_policy(allow(ROOT), allow(APP, "kms:Encrypt")),
        False,
        None,
    ),
    Case(
        "identity deny beats key policy allow",
        APP,
        ACCOUNT,
        DENY_ENCRYPT,
        key_policy(allow(APP)),
        False,
        DenialReason.IDENTITY_POLICY_DENIES,
    ),
    Case(
        "key policy deny beats identity allow",
        APP,
        ACCOUNT,
        ALLOW_ENCRYPT,
        key_policy(allow(ROOT), deny(APP)),
        False,
        DenialReason.KEY_POLICY_DENIES,
    ),
    Case(
        "key policy deny beats a grant",
        APP,
        ACCOUNT,
        None,
        key_policy(allow(ROOT), deny(APP)),
        True,
        DenialReason.KEY_POLICY_DENIES,
    ),
    Case(
        "identity deny beats a grant",
        APP,
        ACCOUNT,
        DENY_ENCRYPT,
        DEFAULT,
        True,
        DenialReason.IDENTITY_POLICY_DENIES,
    ),
    Case(
        "key policy without the account shuts out the identity policy",
        APP,
        ACCOUNT,
        ALLOW_ENCRYPT,
        key_policy(allow(f"arn:aws:iam::{ACCOUNT}:user/admin")),
        False,
        DenialReason.NO_KEY_POLICY_ALLOWS,
    ),
    Case(
        "root is shut out by a key policy without the account",
        ROOT,
        ACCOUNT,
        None,
        key_policy(allow(f"arn:aws:iam::{ACCOUNT}:user/admin")),
        False,
        DenialReason.NO_KEY_POLICY_ALLOWS,
    ),
    Case(
        "a grant alone allows", APP, ACCOUNT, None, key_policy(allow(ROOT)), True, None
    ),
    Case(
        "other account with both policies",
        PARTNER,
        OTHER,
        ALLOW_ENCRYPT,
        key_policy(allow(ROOT), allow(PARTNER_ROOT, "kms:Encrypt")),
        False,
        None,
    ),
    Case(
        "other account without identity policy",
        PARTNER,
        OTHER,
        None,
        key_policy(allow(ROOT), allow(PARTNER_ROOT, "kms:Encrypt")),
        False,
        DenialReason.NO_IDENTITY_POLICY_ALLOWS,
    ),
    Case(
        "other account named directly still needs its identity policy",
        PARTNER,
        OTHER,
        None,
        key_policy(allow(ROOT), allow(PARTNER, "kms:Encrypt")),
        False,
        DenialReason.NO_IDENTITY_POLICY_ALLOWS,
    ),
    Case(
        "other account's root needs only the key policy",
        PARTNER_ROOT,
        OTHER,
        None,
        key_policy(allow(ROOT), allow(PARTNER_ROOT, "kms:Encrypt")),
        False,
        None,
    ),
    Case(
        "other account by the default policy",
        PARTNER,
        OTHER,
        ALLOW_ENCRYPT,
        DEFAULT,
        False,
        DenialReason.NO_KEY_POLICY_ALLOWS,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_key_decision(case: Case) -> None:
    principal = Principal(case.account, case.principal, "AKIA", case.identity)
    request = AccessRequest(
        principal_arn=case.principal,
        principal_account=case.account,
        action="kms:Encrypt",
        resource=KEY_ARN,
        context={},
    )

    reason = decide_for_key(principal, request, ACCOUNT, case.key, lambda: case.grant)

    assert reason == case.expected


def test_grants_are_not_asked_when_a_policy_allows() -> None:
    principal = Principal(ACCOUNT, ROOT, "AKIA")
    request = AccessRequest(ROOT, ACCOUNT, "kms:Encrypt", KEY_ARN, {})
    asked: list[bool] = []

    reason = decide_for_key(
        principal, request, ACCOUNT, DEFAULT, lambda: asked.append(True) or True
    )

    assert reason is None
    assert asked == []


@pytest.mark.parametrize(
    ("arn", "identity", "expected"),
    [
        (ROOT, None, None),
        (APP, ALLOW_ENCRYPT, None),
        (APP, None, DenialReason.NO_IDENTITY_POLICY_ALLOWS),
        (APP, DENY_ENCRYPT, DenialReason.IDENTITY_POLICY_DENIES),
    ],
    ids=["root", "allowed", "no-policy", "denied"],
)
def test_account_decision(
    arn: str, identity: Policy | None, expected: DenialReason | None
) -> None:
    principal = Principal(ACCOUNT, arn, "AKIA", identity)
    request = AccessRequest(arn, ACCOUNT, "kms:Encrypt", "*", {})

    assert decide_for_account(principal, request) == expected


def test_denial_reasons_read_as_aws_messages() -> None:
    assert DenialReason.NO_KEY_POLICY_ALLOWS.explain("kms:Encrypt") == (
        "because no resource-based policy allows the kms:Encrypt action"
    )
    assert DenialReason.IDENTITY_POLICY_DENIES.explain("kms:Encrypt") == (
        "with an explicit deny in an identity-based policy"
    )
