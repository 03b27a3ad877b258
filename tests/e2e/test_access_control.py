"""End-to-end access control: several principals from a credentials file,
driven through boto3 against a real server.

The expected refusals follow AWS's rules ("Determining access to an AWS KMS
key", "Allowing users in other accounts to use a KMS key", "Grants in AWS
KMS", and the IAM policy evaluation logic): an explicit deny wins, a key
policy that names the account delegates to identity policies, another
account needs both policies, and a grant allows what it lists.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import (
    BACKENDS,
    KeyLedgerServer,
    _start_server,
    drop_postgres_schema,
)

ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
ADMIN = f"arn:aws:iam::{ACCOUNT}:user/admin"
APP = f"arn:aws:iam::{ACCOUNT}:role/app"
INTERN = f"arn:aws:iam::{ACCOUNT}:user/intern"
WORKER = f"arn:aws:iam::{ACCOUNT}:role/worker"
NOBODY = f"arn:aws:iam::{ACCOUNT}:user/nobody"
PARTNER = f"arn:aws:iam::{OTHER_ACCOUNT}:user/partner"
PARTNER_WITHOUT_POLICY = f"arn:aws:iam::{OTHER_ACCOUNT}:user/outsider"

BILLING_CONTEXT = {"purpose": "billing"}


def statement(**fields: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Resource": "*", **fields}


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


ADMIN_POLICY = document(statement(Action="kms:*"))
# The application may only encrypt and decrypt, and only with its own
# encryption context ("kms:EncryptionContext:context-key", AWS KMS condition keys).
APP_POLICY = document(
    statement(
        Action=["kms:Encrypt", "kms:Decrypt"],
        Condition={"StringEquals": {"kms:EncryptionContext:purpose": "billing"}},
    )
)
INTERN_POLICY = document(
    statement(Action="kms:*"),
    {"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"},
)
PARTNER_POLICY = document(statement(Action=["kms:Encrypt", "kms:DescribeKey"]))

PRINCIPALS = [
    ("AKIAROOT", ACCOUNT, None, None),
    ("AKIAADMIN", ACCOUNT, ADMIN, ADMIN_POLICY),
    ("AKIAAPP", ACCOUNT, APP, APP_POLICY),
    ("AKIAINTERN", ACCOUNT, INTERN, INTERN_POLICY),
    ("AKIAWORKER", ACCOUNT, WORKER, None),
    ("AKIANOBODY", ACCOUNT, NOBODY, None),
    ("AKIAPARTNER", OTHER_ACCOUNT, PARTNER, PARTNER_POLICY),
    ("AKIAOUTSIDER", OTHER_ACCOUNT, PARTNER_WITHOUT_POLICY, None),
]


def credentials_file(path: Path) -> Path:
    lines = []
    for access_key_id, account_id, arn, policy in PRINCIPALS:
        lines += [
            "[[principals]]",
            f'access_key_id = "{access_key_id}"',
            f'secret_access_key = "{access_key_id.lower()}-secret"',
            f'account_id = "{account_id}"',
        ]
        if arn is not None:
            lines.append(f'arn = "{arn}"')
        if policy is not None:
            lines.append(f"identity_policy = '{policy}'")
        lines.append("")
    path.write_text("\n".join(lines))
    return path


@pytest.fixture(scope="module", params=BACKENDS)
def policy_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KeyLedgerServer]:
    directory = tmp_path_factory.mktemp(f"access-{request.param}")
    path = credentials_file(directory / "credentials.toml")
    running, schema = _start_server(
        request.param, directory, extra_args=["--credentials-file", str(path)]
    )
    yield running
    running.stop()
    if schema:
        drop_postgres_schema(schema)


@pytest.fixture(scope="module")
def client_for(policy_server: KeyLedgerServer) -> Callable[[str], Any]:
    clients: dict[str, Any] = {}

    def client(access_key_id: str) -> Any:
        if access_key_id not in clients:
            clients[access_key_id] = policy_server.client(
                access_key=access_key_id, secret_key=f"{access_key_id.lower()}-secret"
            )
        return clients[access_key_id]

    return client


def error_of(call: Callable[..., Any], **params: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    return caught.value.response["Error"]


def denied(call: Callable[..., Any], principal: str, action: str, **params: Any) -> str:
    error = error_of(call, **params)
    assert error["Code"] == "AccessDeniedException"
    message = error["Message"]
    assert message.startswith(
        f"User: {principal} is not authorized to perform: {action}"
    )
    return message


@pytest.fixture
def admin(client_for: Callable[[str], Any]) -> Any:
    return client_for("AKIAADMIN")


@pytest.fixture
def key_arn(admin: Any) -> str:
    """A key with the default key policy, made by the administrator."""
    return str(admin.create_key(Description="access tests")["KeyMetadata"]["Arn"])


# Principals and the default key policy.


def test_default_key_policy_lets_identity_policies_decide(
    client_for: Callable[[str], Any], key_arn: str
) -> None:
    app = client_for("AKIAAPP")

    blob = app.encrypt(
        KeyId=key_arn, Plaintext=b"x", EncryptionContext=BILLING_CONTEXT
    )["CiphertextBlob"]

    plain = app.decrypt(CiphertextBlob=blob, EncryptionContext=BILLING_CONTEXT)
    assert plain["Plaintext"] == b"x"
    assert plain["KeyId"] == key_arn


def test_app_role_is_refused_without_its_encryption_context(
    client_for: Callable[[str], Any], key_arn: str
) -> None:
    app = client_for("AKIAAPP")

    message = denied(
        app.encrypt,
        APP,
        "kms:Encrypt",
        KeyId=key_arn,
        Plaintext=b"x",
        EncryptionContext={"purpose": "payroll"},
    )

    assert message == (
        f"User: {APP} is not authorized to perform: kms:Encrypt on resource: "
        f"{key_arn} because no identity-based policy allows the kms:Encrypt action"
    )
    denied(app.encrypt, APP, "kms:Encrypt", KeyId=key_arn, Plaintext=b"x")


def test_app_role_may_do_nothing_but_encrypt_and_decrypt(
    client_for: Callable[[str], Any], key_arn: str
) -> None:
    app = client_for("AKIAAPP")

    denied(app.describe_key, APP, "kms:DescribeKey", KeyId=key_arn)
    denied(app.disable_key, APP, "kms:DisableKey", KeyId=key_arn)
    message = denied(app.create_key, APP, "kms:CreateKey")
    assert message.endswith(
        "on resource: * because no identity-based policy allows the "
        "kms:CreateKey action"
    )
    denied(app.list_keys, APP, "kms:ListKeys")
    denied(app.generate_random, APP, "kms:GenerateRandom", NumberOfBytes=16)


def test_explicit_deny_in_identity_policy_overrides_its_allow(
    client_for: Callable[[str], Any], key_arn: str
) -> None:
    intern = client_for("AKIAINTERN")
    blob = intern.encrypt(KeyId=key_arn, Plaintext=b"x")["CiphertextBlob"]

    error = error_of(intern.decrypt, CiphertextBlob=blob)

    assert error["Code"] == "AccessDeniedException"
    assert error["Message"].startswith(
        f"User: {INTERN} is not authorized to perform: kms:Decrypt on the "
        "resource associated with this ciphertext"
    )
    message = denied(
        intern.decrypt, INTERN, "kms:Decrypt", CiphertextBlob=blob, KeyId=key_arn
    )
    assert message == (
        f"User: {INTERN} is not authorized to perform: kms:Decrypt on resource: "
        f"{key_arn} with an explicit deny in an identity-based policy"
    )


def test_explicit_deny_in_key_policy_overrides_identity_allow(
    admin: Any, client_for: Callable[[str], Any]
) -> None:
    policy = document(
        statement(Principal={"AWS": ROOT}, Action="kms:*"),
        {
            "Effect": "Deny",
            "Principal": {"AWS": APP},
            "Action": "kms:Encrypt",
            "Resource": "*",
        },
    )
    arn = admin.create_key(Policy=policy)["KeyMetadata"]["Arn"]

    message = denied(
        client_for("AKIAAPP").encrypt,
        APP,
        "kms:Encrypt",
        KeyId=arn,
        Plaintext=b"x",
        EncryptionContext=BILLING_CONTEXT,
    )

    assert message.endswith("with an explicit deny in a resource-based policy")


def test_key_policy_naming_the_principal_needs_no_identity_policy(
    admin: Any, client_for: Callable[[str], Any]
) -> None:
    policy = document(
        statement(Principal={"AWS": ROOT}, Action="kms:*"),
        statement(Principal={"AWS": NOBODY}, Action="kms:DescribeKey"),
    )
    arn = admin.create_key(Policy=policy)["KeyMetadata"]["Arn"]
    nobody = client_for("AKIANOBODY")

    assert nobody.describe_key(KeyId=arn)["KeyMetadata"]["Arn"] == arn
    denied(nobody.encrypt, NOBODY, "kms:Encrypt", KeyId=arn, Plaintext=b"x")


def test_key_policy_without_the_account_shuts_out_identity_policies(
    admin: Any, client_for: Callable[[str], Any]
) -> None:
    policy = document(statement(Principal={"AWS": ADMIN}, Action="kms:*"))
    arn = admin.create_key(Policy=policy)["KeyMetadata"]["Arn"]

    message = denied(
        client_for("AKIAINTERN").describe_key, INTERN, "kms:DescribeKey", KeyId=arn
    )

    assert message.endswith(
        "because no resource-based policy allows the kms:DescribeKey action"
    )
    # The root is refused too: only the key policy can let it in.
    denied(client_for("AKIAROOT").describe_key, ROOT, "kms:DescribeKey", KeyId=arn)


# Another account.


def cross_account_key(admin: Any, *actions: str) -> str:
    policy = document(
        statement(Principal={"AWS": ROOT}, Action="kms:*"),
        statement(
            Principal={"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"},
            Action=list(actions),
        ),
    )
    return str(admin.create_key(Policy=policy)["KeyMetadata"]["Arn"])


def test_other_account_uses_a_key_when_both_policies_allow(
    admin: Any, client_for: Callable[[str], Any]
) -> None:
    arn = cross_account_key(admin, "kms:Encrypt", "kms:Decrypt", "kms:DescribeKey")
    partner = client_for("AKIAPARTNER")

    result = partner.encrypt(KeyId=arn, Plaintext=b"shared")

    assert result["KeyId"] == arn
    assert partner.describe_key(KeyId=arn)["KeyMetadata"]["AWSAccountId"] == ACCOUNT
    # The partner's identity policy does not allow Decrypt, so the key
    # policy alone is not enough.
    message = denied(
        partner.decrypt, PARTNER, "kms:Decrypt", CiphertextBlob=result["CiphertextBlob"]
    )
    assert "ciphertext" in message


def test_other_account_without_identity_policy_is_refused(
    admin: Any, client_for: Callable[[str], Any]
) -> None:
    arn = cross_account_key(admin, "kms:Encrypt")

    message = denied(
        client_for("AKIAOUTSIDER").encrypt,
        PARTNER_WITHOUT_POLICY,
        "kms:Encrypt",
        KeyId=arn,
        Plaintext=b"x",
    )

    assert message.endswith(
        "because no identity-based policy allows the kms:Encrypt action"
    )


def test_other_account_is_refused_by_the_default_key_policy(
    client_for: Callable[[str], Any], key_arn: str
) -> None:
    message = denied(
        client_for("AKIAPARTNER").encrypt,
        PARTNER,
        "kms:Encrypt",
        KeyId=key_arn,
        Plaintext=b"x",
    )

    assert message.endswith(
        "because no resource-based policy allows the kms:Encrypt action"
    )


def test_other_account_reaches_a_key_only_by_its_arn(
    admin: Any, client_for: Callable[[str], Any]
) -> None:
    arn = cross_account_key(admin, "kms:Encrypt", "kms:DescribeKey", "kms:DisableKey")
    key_id = arn.rsplit("/", 1)[1]
    partner = client_for("AKIAPARTNER")

    error = error_of(partner.encrypt, KeyId=key_id, Plaintext=b"x")

    assert error["Code"] == "NotFoundException"
    assert OTHER_ACCOUNT in error["Message"]
    # Management actions never cross accounts, whatever the key policy allows.
    denied(partner.disable_key, PARTNER, "kms:DisableKey", KeyId=arn)


# Grants.


def test_grant_with_context_constraint_allows_only_that_context(
    admin: Any, client_for: Callable[[str], Any], key_arn: str
) -> None:
    blob = admin.encrypt(
        KeyId=key_arn, Plaintext=b"g", EncryptionContext=BILLING_CONTEXT
    )["CiphertextBlob"]
    other = admin.encrypt(
        KeyId=key_arn, Plaintext=b"g", EncryptionContext={"purpose": "hr"}
    )["CiphertextBlob"]
    worker = client_for("AKIAWORKER")
    denied(
        worker.decrypt,
        WORKER,
        "kms:Decrypt",
        CiphertextBlob=blob,
        EncryptionContext=BILLING_CONTEXT,
    )

    admin.create_grant(
        KeyId=key_arn,
        GranteePrincipal=WORKER,
        Operations=["Decrypt"],
        Constraints={"EncryptionContextEquals": BILLING_CONTEXT},
    )

    plain = worker.decrypt(CiphertextBlob=blob, EncryptionContext=BILLING_CONTEXT)
    assert plain["Plaintext"] == b"g"
    denied(
        worker.decrypt,
        WORKER,
        "kms:Decrypt",
        CiphertextBlob=other,
        EncryptionContext={"purpose": "hr"},
    )
    denied(worker.encrypt, WORKER, "kms:Encrypt", KeyId=key_arn, Plaintext=b"g")


def test_retired_grant_stops_working_on_the_next_request(
    admin: Any, client_for: Callable[[str], Any], key_arn: str
) -> None:
    worker = client_for("AKIAWORKER")
    grant = admin.create_grant(
        KeyId=key_arn,
        GranteePrincipal=WORKER,
        RetiringPrincipal=WORKER,
        Operations=["Encrypt"],
    )
    assert worker.encrypt(KeyId=key_arn, Plaintext=b"r")["KeyId"] == key_arn

    worker.retire_grant(GrantToken=grant["GrantToken"])

    denied(worker.encrypt, WORKER, "kms:Encrypt", KeyId=key_arn, Plaintext=b"r")


def test_revoked_grant_stops_working_on_the_next_request(
    admin: Any, client_for: Callable[[str], Any], key_arn: str
) -> None:
    worker = client_for("AKIAWORKER")
    grant = admin.create_grant(
        KeyId=key_arn, GranteePrincipal=WORKER, Operations=["DescribeKey"]
    )
    assert worker.describe_key(KeyId=key_arn)["KeyMetadata"]["Arn"] == key_arn

    admin.revoke_grant(KeyId=key_arn, GrantId=grant["GrantId"])

    denied(worker.describe_key, WORKER, "kms:DescribeKey", KeyId=key_arn)


def test_grant_token_works_at_once(
    admin: Any, client_for: Callable[[str], Any], key_arn: str
) -> None:
    grant = admin.create_grant(
        KeyId=key_arn, GranteePrincipal=WORKER, Operations=["GenerateDataKey"]
    )

    result = client_for("AKIAWORKER").generate_data_key(
        KeyId=key_arn, KeySpec="AES_256", GrantTokens=[grant["GrantToken"]]
    )

    assert len(result["Plaintext"]) == 32


def test_grant_with_create_grant_allows_only_narrower_grants(
    admin: Any, client_for: Callable[[str], Any], key_arn: str
) -> None:
    # "Granting CreateGrant permission": a grantee may create grants with the
    # same or fewer operations and the same or stricter constraints.
    admin.create_grant(
        KeyId=key_arn,
        GranteePrincipal=WORKER,
        Operations=["CreateGrant", "Encrypt"],
    )
    worker = client_for("AKIAWORKER")

    child = worker.create_grant(
        KeyId=key_arn, GranteePrincipal=NOBODY, Operations=["Encrypt"]
    )

    assert len(child["GrantId"]) == 64
    denied(
        worker.create_grant,
        WORKER,
        "kms:CreateGrant",
        KeyId=key_arn,
        GranteePrincipal=NOBODY,
        Operations=["Decrypt"],
    )
    nobody = client_for("AKIANOBODY")
    assert nobody.encrypt(KeyId=key_arn, Plaintext=b"c")["KeyId"] == key_arn


# DryRun.


def test_dry_run_encrypt_for_an_allowed_caller(
    client_for: Callable[[str], Any], key_arn: str
) -> None:
    error = error_of(
        client_for("AKIAAPP").encrypt,
        KeyId=key_arn,
        Plaintext=b"x",
        EncryptionContext=BILLING_CONTEXT,
        DryRun=True,
    )

    assert error["Code"] == "DryRunOperationException"


def test_dry_run_encrypt_for_a_denied_caller(
    client_for: Callable[[str], Any], key_arn: str
) -> None:
    denied(
        client_for("AKIANOBODY").encrypt,
        NOBODY,
        "kms:Encrypt",
        KeyId=key_arn,
        Plaintext=b"x",
        DryRun=True,
    )


def test_dry_run_on_a_disabled_key_gives_the_real_error(
    admin: Any, key_arn: str
) -> None:
    admin.disable_key(KeyId=key_arn)

    error = error_of(admin.encrypt, KeyId=key_arn, Plaintext=b"x", DryRun=True)

    assert error["Code"] == "DisabledException"


def test_dry_run_create_grant_creates_nothing(admin: Any, key_arn: str) -> None:
    error = error_of(
        admin.create_grant,
        KeyId=key_arn,
        GranteePrincipal=WORKER,
        Operations=["Encrypt"],
        DryRun=True,
    )

    assert error["Code"] == "DryRunOperationException"
    assert admin.list_grants(KeyId=key_arn)["Grants"] == []


def test_dry_run_revoke_grant_keeps_the_grant(admin: Any, key_arn: str) -> None:
    grant = admin.create_grant(
        KeyId=key_arn, GranteePrincipal=WORKER, Operations=["Encrypt"]
    )

    error = error_of(
        admin.revoke_grant, KeyId=key_arn, GrantId=grant["GrantId"], DryRun=True
    )

    assert error["Code"] == "DryRunOperationException"
    grants = admin.list_grants(KeyId=key_arn)["Grants"]
    assert [g["GrantId"] for g in grants] == [grant["GrantId"]]


def test_dry_run_ignoring_ciphertext_checks_access_only(
    client_for: Callable[[str], Any], key_arn: str
) -> None:
    # API_Decrypt, DryRunModifiers: IGNORE_CIPHERTEXT makes only the
    # authorization check, so no ciphertext is needed.
    allowed = error_of(
        client_for("AKIAINTERN").re_encrypt,
        SourceKeyId=key_arn,
        DestinationKeyId=key_arn,
        DryRun=True,
        DryRunModifiers=["IGNORE_CIPHERTEXT"],
    )
    app_allowed = error_of(
        client_for("AKIAAPP").decrypt,
        KeyId=key_arn,
        EncryptionContext=BILLING_CONTEXT,
        DryRun=True,
        DryRunModifiers=["IGNORE_CIPHERTEXT"],
    )

    assert allowed["Code"] == "DryRunOperationException"
    assert app_allowed["Code"] == "DryRunOperationException"
    denied(
        client_for("AKIAINTERN").decrypt,
        INTERN,
        "kms:Decrypt",
        KeyId=key_arn,
        DryRun=True,
        DryRunModifiers=["IGNORE_CIPHERTEXT"],
    )


def test_dry_run_ignoring_ciphertext_needs_a_key(admin: Any) -> None:
    error = error_of(admin.decrypt, DryRun=True, DryRunModifiers=["IGNORE_CIPHERTEXT"])

    assert error["Code"] == "ValidationException"


# The policy lockout safety check.


def test_lockout_check_refuses_a_policy_that_locks_the_caller_out(
    admin: Any, key_arn: str
) -> None:
    policy = document(statement(Principal={"AWS": APP}, Action="kms:*"))

    error = error_of(
        admin.put_key_policy, KeyId=key_arn, PolicyName="default", Policy=policy
    )

    assert error == {
        "Code": "MalformedPolicyDocumentException",
        "Message": "The new key policy will not allow you to update the key "
        "policy in the future.",
    }
    assert json.loads(admin.get_key_policy(KeyId=key_arn)["Policy"])["Statement"][0][
        "Principal"
    ] == {"AWS": ROOT}


def test_bypass_flag_overrides_the_lockout_check(
    admin: Any, client_for: Callable[[str], Any], key_arn: str
) -> None:
    policy = document(statement(Principal={"AWS": APP}, Action="kms:*"))

    admin.put_key_policy(
        KeyId=key_arn,
        PolicyName="default",
        Policy=policy,
        BypassPolicyLockoutSafetyCheck=True,
    )

    denied(admin.get_key_policy, ADMIN, "kms:GetKeyPolicy", KeyId=key_arn)
    app = client_for("AKIAAPP")
    assert app.get_key_policy(KeyId=key_arn)["Policy"] == policy


def test_create_key_lockout_check(admin: Any) -> None:
    policy = document(statement(Principal={"AWS": APP}, Action="kms:*"))

    error = error_of(admin.create_key, Policy=policy)

    assert error["Code"] == "MalformedPolicyDocumentException"
    created = admin.create_key(Policy=policy, BypassPolicyLockoutSafetyCheck=True)
    assert created["KeyMetadata"]["KeyState"] == "Enabled"


def test_key_policy_naming_an_undeclared_principal_is_refused(admin: Any) -> None:
    policy = document(
        statement(Principal={"AWS": ROOT}, Action="kms:*"),
        statement(
            Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:role/ghost"}, Action="kms:*"
        ),
    )

    error = error_of(admin.create_key, Policy=policy)

    assert error == {
        "Code": "MalformedPolicyDocumentException",
        "Message": "Policy contains a statement with one or more invalid principals.",
    }


# Every action checks access before it acts.

KEY_ACTIONS: list[tuple[str, str, Callable[[str, bytes], dict[str, Any]]]] = [
    ("describe_key", "kms:DescribeKey", lambda k, b: {"KeyId": k}),
    ("encrypt", "kms:Encrypt", lambda k, b: {"KeyId": k, "Plaintext": b"x"}),
    ("decrypt", "kms:Decrypt", lambda k, b: {"KeyId": k, "CiphertextBlob": b}),
    (
        "re_encrypt",
        "kms:ReEncryptTo",
        lambda k, b: {"CiphertextBlob": b, "DestinationKeyId": k},
    ),
    (
        "generate_data_key",
        "kms:GenerateDataKey",
        lambda k, b: {"KeyId": k, "KeySpec": "AES_256"},
    ),
    (
        "generate_data_key_without_plaintext",
        "kms:GenerateDataKeyWithoutPlaintext",
        lambda k, b: {"KeyId": k, "KeySpec": "AES_256"},
    ),
    ("disable_key", "kms:DisableKey", lambda k, b: {"KeyId": k}),
    ("enable_key", "kms:EnableKey", lambda k, b: {"KeyId": k}),
    (
        "update_key_description",
        "kms:UpdateKeyDescription",
        lambda k, b: {"KeyId": k, "Description": "d"},
    ),
    ("schedule_key_deletion", "kms:ScheduleKeyDeletion", lambda k, b: {"KeyId": k}),
    ("cancel_key_deletion", "kms:CancelKeyDeletion", lambda k, b: {"KeyId": k}),
    (
        "tag_resource",
        "kms:TagResource",
        lambda k, b: {"KeyId": k, "Tags": [{"TagKey": "a", "TagValue": "b"}]},
    ),
    (
        "untag_resource",
        "kms:UntagResource",
        lambda k, b: {"KeyId": k, "TagKeys": ["a"]},
    ),
    ("list_resource_tags", "kms:ListResourceTags", lambda k, b: {"KeyId": k}),
    ("enable_key_rotation", "kms:EnableKeyRotation", lambda k, b: {"KeyId": k}),
    ("disable_key_rotation", "kms:DisableKeyRotation", lambda k, b: {"KeyId": k}),
    ("get_key_rotation_status", "kms:GetKeyRotationStatus", lambda k, b: {"KeyId": k}),
    ("rotate_key_on_demand", "kms:RotateKeyOnDemand", lambda k, b: {"KeyId": k}),
    ("list_key_rotations", "kms:ListKeyRotations", lambda k, b: {"KeyId": k}),
    ("get_key_policy", "kms:GetKeyPolicy", lambda k, b: {"KeyId": k}),
    ("list_key_policies", "kms:ListKeyPolicies", lambda k, b: {"KeyId": k}),
    (
        "put_key_policy",
        "kms:PutKeyPolicy",
        lambda k, b: {
            "KeyId": k,
            "Policy": document(statement(Principal="*", Action="kms:*")),
        },
    ),
    (
        "create_grant",
        "kms:CreateGrant",
        lambda k, b: {
            "KeyId": k,
            "GranteePrincipal": WORKER,
            "Operations": ["Encrypt"],
        },
    ),
    ("list_grants", "kms:ListGrants", lambda k, b: {"KeyId": k}),
    ("revoke_grant", "kms:RevokeGrant", lambda k, b: {"KeyId": k, "GrantId": "0" * 64}),
    (
        "get_parameters_for_import",
        "kms:GetParametersForImport",
        lambda k, b: {
            "KeyId": k,
            "WrappingAlgorithm": "RSAES_OAEP_SHA_256",
            "WrappingKeySpec": "RSA_2048",
        },
    ),
    (
        "delete_imported_key_material",
        "kms:DeleteImportedKeyMaterial",
        lambda k, b: {"KeyId": k},
    ),
    (
        "create_alias",
        "kms:CreateAlias",
        lambda k, b: {"AliasName": "alias/denied", "TargetKeyId": k},
    ),
]


@pytest.mark.parametrize(
    ("method", "action", "params"),
    KEY_ACTIONS,
    ids=[method for method, _, _ in KEY_ACTIONS],
)
def test_every_key_action_checks_access(
    admin: Any,
    client_for: Callable[[str], Any],
    key_arn: str,
    method: str,
    action: str,
    params: Callable[[str, bytes], dict[str, Any]],
) -> None:
    blob = admin.encrypt(KeyId=key_arn, Plaintext=b"x")["CiphertextBlob"]
    before = admin.describe_key(KeyId=key_arn)["KeyMetadata"]
    nobody = client_for("AKIANOBODY")

    error = error_of(getattr(nobody, method), **params(key_arn, blob))

    assert error["Code"] == "AccessDeniedException"
    assert f"User: {NOBODY} is not authorized to perform: {action}" in error["Message"]
    assert admin.describe_key(KeyId=key_arn)["KeyMetadata"] == before


ACCOUNT_ACTIONS: list[tuple[str, str, dict[str, Any]]] = [
    ("create_key", "kms:CreateKey", {}),
    ("list_keys", "kms:ListKeys", {}),
    ("list_aliases", "kms:ListAliases", {}),
    ("generate_random", "kms:GenerateRandom", {"NumberOfBytes": 8}),
    ("list_retirable_grants", "kms:ListRetirableGrants", {"RetiringPrincipal": WORKER}),
]


@pytest.mark.parametrize(
    ("method", "action", "params"),
    ACCOUNT_ACTIONS,
    ids=[method for method, _, _ in ACCOUNT_ACTIONS],
)
def test_every_account_action_checks_the_identity_policy(
    client_for: Callable[[str], Any], method: str, action: str, params: dict[str, Any]
) -> None:
    message = denied(
        getattr(client_for("AKIANOBODY"), method), NOBODY, action, **params
    )

    assert message == (
        f"User: {NOBODY} is not authorized to perform: {action} on resource: * "
        f"because no identity-based policy allows the {action} action"
    )


def test_alias_actions_need_the_alias_permission_too(
    admin: Any, client_for: Callable[[str], Any], key_arn: str
) -> None:
    # The key policy names the intern, but no identity policy of the
    # intern's would matter for the alias: it must allow kms:CreateAlias on
    # the alias, and INTERN_POLICY does ("kms:*").
    intern = client_for("AKIAINTERN")
    name = f"alias/intern-{key_arn[-12:]}"

    intern.create_alias(AliasName=name, TargetKeyId=key_arn)

    denied(client_for("AKIAAPP").delete_alias, APP, "kms:DeleteAlias", AliasName=name)
    intern.delete_alias(AliasName=name)


# Cases found by trying to get past the checks.


def test_context_keys_differing_by_case_cannot_dodge_a_deny(admin: Any) -> None:
    # Condition key names ignore case ("AWS KMS condition keys",
    # kms:EncryptionContext:context-key), so "TENANT" is read as "tenant" too,
    # whatever the order of the pairs.
    policy = document(
        statement(Principal={"AWS": ROOT}, Action="kms:*"),
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "kms:Encrypt",
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:EncryptionContext:tenant": "acme"}},
        },
    )
    arn = admin.create_key(Policy=policy)["KeyMetadata"]["Arn"]

    for context in (
        {"tenant": "acme", "TENANT": "zzz"},
        {"TENANT": "zzz", "tenant": "acme"},
        {"Tenant": "acme"},
    ):
        message = denied(
            admin.encrypt,
            ADMIN,
            "kms:Encrypt",
            KeyId=arn,
            Plaintext=b"x",
            EncryptionContext=context,
        )
        assert message.endswith("with an explicit deny in a resource-based policy")
    assert admin.encrypt(KeyId=arn, Plaintext=b"x", EncryptionContext={"tenant": "zzz"})


def test_context_keys_differing_by_case_cannot_satisfy_an_allow(
    client_for: Callable[[str], Any], key_arn: str
) -> None:
    app = client_for("AKIAAPP")

    for context in (
        {"purpose": "other", "Purpose": "billing"},
        {"Purpose": "billing", "purpose": "other"},
    ):
        denied(
            app.encrypt,
            APP,
            "kms:Encrypt",
            KeyId=key_arn,
            Plaintext=b"x",
            EncryptionContext=context,
        )


def test_lockout_check_reads_the_whole_request(admin: Any, key_arn: str) -> None:
    # A Deny on a condition this very request meets would lock the caller out.
    locking = document(
        statement(Principal={"AWS": ROOT}, Action="kms:*"),
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "kms:PutKeyPolicy",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-1"}},
        },
    )
    # An Allow on a condition this request meets keeps the caller in.
    conditional = document(
        statement(
            Principal={"AWS": ADMIN},
            Action="kms:*",
            Condition={"StringEquals": {"kms:KeySpec": "SYMMETRIC_DEFAULT"}},
        )
    )

    error = error_of(admin.put_key_policy, KeyId=key_arn, Policy=locking)
    admin.put_key_policy(KeyId=key_arn, Policy=conditional)

    assert error["Code"] == "MalformedPolicyDocumentException"
    assert admin.get_key_policy(KeyId=key_arn)["Policy"] == conditional


def test_decrypt_with_another_accounts_bare_key_id_is_not_found(
    admin: Any, client_for: Callable[[str], Any]
) -> None:
    arn = cross_account_key(admin, "kms:Encrypt", "kms:Decrypt")
    partner = client_for("AKIAPARTNER")
    blob = admin.encrypt(KeyId=arn, Plaintext=b"x")["CiphertextBlob"]

    error = error_of(partner.decrypt, CiphertextBlob=blob, KeyId=arn.rsplit("/", 1)[1])

    assert error["Code"] == "NotFoundException"
    assert f":{OTHER_ACCOUNT}:key/" in error["Message"]
