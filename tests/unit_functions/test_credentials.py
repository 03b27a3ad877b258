"""Tests for loading the operator's credentials file."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.principal import Principal
from functions.credentials import (
    Credential,
    CredentialsFileError,
    CredentialStore,
)

SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN"

THREE_PRINCIPALS = f"""
[[principals]]
access_key_id = "AKIAEXAMPLEROOT"
secret_access_key = "{SECRET}"
account_id = "111122223333"

[[principals]]
access_key_id = "AKIAEXAMPLEAPP"
secret_access_key = "app-secret"
account_id = "444455556666"
arn = "arn:aws:iam::444455556666:role/service-role/app"
session_token = "{TOKEN}"

[[principals]]
access_key_id = "AKIAEXAMPLEALICE"
secret_access_key = "alice-secret"
account_id = "012345678901"
arn = "arn:aws:iam::012345678901:user/alice"
"""


def entry(**fields: object) -> str:
    """Return one [[principals]] table; a value of None leaves the key out."""
    values: dict[str, object] = {
        "access_key_id": "AKIAEXAMPLE",
        "secret_access_key": SECRET,
        "account_id": "111122223333",
    }
    values.update(fields)
    lines = ["[[principals]]"]
    for name, value in values.items():
        if value is None:
            continue
        rendered = f'"{value}"' if isinstance(value, str) else str(value)
        lines.append(f"{name} = {rendered}")
    return "\n".join(lines) + "\n"


def load_error(text: str) -> str:
    with pytest.raises(CredentialsFileError) as error:
        CredentialStore.from_toml(text, source="creds.toml")
    message = str(error.value)
    assert SECRET not in message
    assert TOKEN not in message
    return message


def test_file_with_three_principals(tmp_path: Path) -> None:
    path = tmp_path / "credentials.toml"
    path.write_text(THREE_PRINCIPALS)

    store = CredentialStore.from_file(path)

    assert len(store) == 3
    root = store.get("AKIAEXAMPLEROOT")
    assert root is not None
    assert root.secret_access_key == SECRET
    assert root.account_id == "111122223333"
    assert root.arn == "arn:aws:iam::111122223333:root"
    assert root.session_token is None

    app = store.get("AKIAEXAMPLEAPP")
    assert app is not None
    assert app.account_id == "444455556666"
    assert app.arn == "arn:aws:iam::444455556666:role/service-role/app"
    assert app.session_token == TOKEN

    alice = store.get("AKIAEXAMPLEALICE")
    assert alice is not None
    assert alice.account_id == "012345678901"
    assert alice.principal == Principal(
        account_id="012345678901",
        arn="arn:aws:iam::012345678901:user/alice",
        access_key_id="AKIAEXAMPLEALICE",
    )


def test_unknown_access_key_is_none() -> None:
    store = CredentialStore.from_toml(THREE_PRINCIPALS)

    assert store.get("AKIAUNKNOWN") is None
    assert store.get("test") is None


def test_development_default_credential() -> None:
    store = CredentialStore.development_default()

    assert len(store) == 1
    credential = store.get("test")
    assert credential is not None
    assert credential.secret_access_key == "test"
    assert credential.account_id == "111122223333"
    assert credential.arn == "arn:aws:iam::111122223333:root"
    assert credential.session_token is None


def test_repr_hides_secret_and_token() -> None:
    credential = Credential(
        access_key_id="AKIAEXAMPLE",
        secret_access_key=SECRET,
        account_id="111122223333",
        arn="arn:aws:iam::111122223333:root",
        session_token=TOKEN,
    )

    for text in (repr(credential), str(credential), f"{credential}"):
        assert "AKIAEXAMPLE" in text
        assert SECRET not in text
        assert TOKEN not in text


APP_POLICY = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
    '"Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"}]}'
)
APP_ARN = "arn:aws:iam::111122223333:role/app"


def test_inline_identity_policy_is_attached_to_the_principal() -> None:
    text = (
        entry(access_key_id="AKIAAPP", arn=APP_ARN)
        + f"identity_policy = '{APP_POLICY}'\n"
    )

    store = CredentialStore.from_toml(text)

    credential = store.get("AKIAAPP")
    assert credential is not None
    policy = credential.principal.identity_policy
    assert policy is not None
    assert policy.text == APP_POLICY


def test_identity_policy_file_is_read_relative_to_the_credentials_file(
    tmp_path: Path,
) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "app.json").write_text(APP_POLICY)
    path = tmp_path / "credentials.toml"
    path.write_text(
        entry(
            access_key_id="AKIAAPP",
            arn=APP_ARN,
            identity_policy_file="policies/app.json",
        )
    )

    store = CredentialStore.from_file(path)

    credential = store.get("AKIAAPP")
    assert credential is not None
    assert credential.principal.identity_policy is not None
    assert credential.principal.identity_policy.text == APP_POLICY


def test_a_principal_without_identity_policy_has_none() -> None:
    store = CredentialStore.from_toml(entry(arn=APP_ARN))

    credential = store.get("AKIAEXAMPLE")
    assert credential is not None
    assert credential.principal.identity_policy is None


def test_malformed_identity_policy_is_rejected_with_the_reason() -> None:
    text = entry(arn=APP_ARN) + "identity_policy = 'not json'\n"

    message = load_error(text)

    assert "entry 1" in message
    assert "identity_policy is not a valid IAM policy" in message


def test_identity_policy_with_a_principal_element_is_rejected() -> None:
    policy = (
        '{"Statement": [{"Effect": "Allow", "Principal": "*", '
        '"Action": "kms:*", "Resource": "*"}]}'
    )
    message = load_error(entry(arn=APP_ARN) + f"identity_policy = '{policy}'\n")

    assert "identity_policy is not a valid IAM policy" in message


def test_account_root_cannot_have_an_identity_policy() -> None:
    message = load_error(entry() + f"identity_policy = '{APP_POLICY}'\n")

    assert "cannot have an identity policy" in message


def test_both_identity_policy_forms_are_rejected() -> None:
    text = (
        entry(arn=APP_ARN, identity_policy_file="app.json")
        + f"identity_policy = '{APP_POLICY}'\n"
    )

    message = load_error(text)

    assert "not both" in message


def test_missing_identity_policy_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "credentials.toml"
    path.write_text(entry(arn=APP_ARN, identity_policy_file="absent.json"))

    with pytest.raises(CredentialsFileError) as error:
        CredentialStore.from_file(path)

    assert "cannot read identity_policy_file" in str(error.value)
    assert "absent.json" in str(error.value)


def test_principal_exists_knows_the_declared_accounts() -> None:
    store = CredentialStore.from_toml(THREE_PRINCIPALS)

    assert store.principal_exists("arn:aws:iam::012345678901:user/alice")
    assert not store.principal_exists("arn:aws:iam::012345678901:user/bob")
    # An account that no principal declares may hold any user or role.
    assert store.principal_exists("arn:aws:iam::999988887777:role/elsewhere")
    assert not store.principal_exists("not-an-arn")


def test_unknown_key_is_rejected() -> None:
    message = load_error(
        entry() + entry(access_key_id="AKIASECOND", region="us-east-1")
    )

    assert "entry 2" in message
    assert "unknown key(s) region" in message


def test_unknown_top_level_key_is_rejected() -> None:
    message = load_error('region = "us-east-1"\n' + entry())

    assert "unknown top-level key(s) region" in message


def test_duplicate_access_key_is_rejected() -> None:
    text = entry(access_key_id="AKIATWICE") + entry() + entry(access_key_id="AKIATWICE")

    message = load_error(text)

    assert "entry 3" in message
    assert "'AKIATWICE' is already declared by entry 1" in message


@pytest.mark.parametrize("field", ["access_key_id", "secret_access_key", "account_id"])
def test_missing_field_is_rejected(field: str) -> None:
    fields: dict[str, object] = {"access_key_id": "AKIASECOND", field: None}

    message = load_error(entry() + entry(**fields))

    assert "entry 2" in message
    assert f"{field} is missing" in message


@pytest.mark.parametrize(
    "account_id", ["11112222333", "1111222233334", "11112222333a", ""]
)
def test_bad_account_id_is_rejected(account_id: str) -> None:
    message = load_error(entry(account_id=account_id))

    assert "entry 1" in message
    assert "account_id" in message


def test_integer_account_id_is_rejected() -> None:
    message = load_error(entry(account_id=111122223333))

    assert "entry 1" in message
    assert "account_id must be a quoted string of 12 digits" in message


@pytest.mark.parametrize(
    "access_key_id", ["AKIA/EXAMPLE", "AKIA EXAMPLE", "AKIA,EXAMPLE", "A" * 129]
)
def test_bad_access_key_id_is_rejected(access_key_id: str) -> None:
    message = load_error(entry(access_key_id=access_key_id))

    assert "entry 1" in message
    assert "access_key_id" in message


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:s3:::bucket",
        "arn:aws:iam::111122223333:group/admins",
        "arn:aws:iam::111122223333:role/",
        "arn:aws:sts::111122223333:assumed-role/app/session",
        "arn:aws:iam::111122223333",
    ],
)
def test_non_iam_arn_is_rejected(arn: str) -> None:
    message = load_error(entry(arn=arn))

    assert "entry 1" in message
    assert "is not an IAM ARN" in message


def test_arn_of_other_account_is_rejected() -> None:
    message = load_error(entry(arn="arn:aws:iam::444455556666:role/app"))

    assert "entry 1" in message
    assert "belongs to account 444455556666" in message
    assert "account_id is 111122223333" in message


def test_non_string_secret_is_rejected() -> None:
    message = load_error(entry(secret_access_key=12345))

    assert "entry 1" in message
    assert "secret_access_key must be a string" in message
    assert "12345" not in message


@pytest.mark.parametrize(
    "field", ["secret_access_key", "session_token", "access_key_id"]
)
def test_empty_value_is_rejected(field: str) -> None:
    message = load_error(entry(**{field: ""}))

    assert "entry 1" in message
    assert f"{field} is empty" in message


def test_file_without_principals_is_rejected() -> None:
    message = load_error("# no callers yet\n")

    assert "declares no [[principals]] tables" in message


def test_principals_not_tables_is_rejected() -> None:
    message = load_error('principals = ["AKIAEXAMPLE"]\n')

    assert "entry 1" in message
    assert "must be a table" in message


def test_invalid_toml_is_rejected() -> None:
    message = load_error(f'[[principals]]\nsecret_access_key = "{SECRET}\n')

    assert "creds.toml is not valid TOML" in message


def test_missing_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"

    with pytest.raises(CredentialsFileError) as error:
        CredentialStore.from_file(path)

    assert f"cannot read credentials file {path}" in str(error.value)


def test_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "credentials.toml"
    path.write_text(entry(account_id="123"))

    with pytest.raises(CredentialsFileError) as error:
        CredentialStore.from_file(path)

    assert str(path) in str(error.value)
    assert "entry 1" in str(error.value)


def test_credentials_error_is_value_error() -> None:
    assert issubclass(CredentialsFileError, ValueError)


def test_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    path = tmp_path / "credentials.toml"
    path.write_bytes(b'[[principals]]\naccess_key_id = "\xff"\n')

    with pytest.raises(CredentialsFileError) as error:
        CredentialStore.from_file(path)

    assert str(error.value) == (
        f"credentials file {path} is not valid UTF-8: invalid byte at offset 32; "
        "TOML files must be UTF-8"
    )


def test_one_role_name_under_two_paths_is_rejected() -> None:
    # IAM role names are unique in an account whatever their paths.
    text = entry(
        access_key_id="AKIAONE", arn="arn:aws:iam::111122223333:role/app"
    ) + entry(access_key_id="AKIATWO", arn="arn:aws:iam::111122223333:role/team/app")

    message = load_error(text)

    assert "entry 2" in message
    assert "same name" in message


def test_two_access_keys_for_one_principal_are_accepted() -> None:
    text = entry(access_key_id="AKIAONE", arn=APP_ARN) + entry(
        access_key_id="AKIATWO", arn=APP_ARN
    )

    store = CredentialStore.from_toml(text)

    assert len(store) == 2
