"""SigV4 authentication end to end: raw signed HTTP and boto3 against real servers.

Error names follow the AWS KMS API Reference, Common Errors. The message texts
are the ones AWS SDKs show for the same SigV4 failures.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

INVALID_TOKEN_MESSAGE = "The security token included in the request is invalid."
SIGNATURE_MISMATCH_PREFIX = "The request signature we calculated does not match"

ACCOUNT_A = "444455556666"
ACCOUNT_B = "777788889999"
TWO_PRINCIPALS = f"""
[[principals]]
access_key_id = "AKIAKEYLEDGERAPPA"
secret_access_key = "secret-of-app-a"
account_id = "{ACCOUNT_A}"
arn = "arn:aws:iam::{ACCOUNT_A}:role/app-a"
identity_policy = '''{{"Statement": [{{"Effect": "Allow", "Action": "kms:*",
    "Resource": "*"}}]}}'''

[[principals]]
access_key_id = "AKIAKEYLEDGERAPPB"
secret_access_key = "secret-of-app-b"
account_id = "{ACCOUNT_B}"
"""
SESSION_PRINCIPAL = f"""
[[principals]]
access_key_id = "ASIAKEYLEDGERSESSION"
secret_access_key = "secret-of-session"
session_token = "token-of-session"
account_id = "{ACCOUNT_A}"

[[principals]]
access_key_id = "AKIAKEYLEDGERPLAIN"
secret_access_key = "secret-of-plain"
account_id = "{ACCOUNT_A}"
"""


def boto3_client(
    server: Any,
    access_key: str,
    secret_key: str,
    session_token: str | None = None,
) -> Any:
    return boto3.client(
        "kms",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        aws_session_token=session_token,
        config=Config(retries={"max_attempts": 1}),
    )


def error_of(call: Any, **params: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    response: dict[str, Any] = caught.value.response
    return response


def write_credentials(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "credentials.toml"
    path.write_text(text)
    path.chmod(0o600)
    return path


# The development credential on the shared server.


def test_unknown_access_key_is_unrecognized(raw: Any, kms_error_check: Any) -> None:
    response = raw.with_credentials("AKIANOBODY", "test").call("ListKeys", {})

    kms_error_check(response, "UnrecognizedClientException")
    assert response.message == INVALID_TOKEN_MESSAGE


def test_unknown_access_key_is_unrecognized_through_boto3(server: Any) -> None:
    client = boto3_client(server, "AKIANOBODY", "test")

    response = error_of(client.list_keys)

    assert response["Error"]["Code"] == "UnrecognizedClientException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_wrong_secret_is_invalid_signature(raw: Any, kms_error_check: Any) -> None:
    response = raw.with_credentials("test", "not-the-secret").call("ListKeys", {})

    kms_error_check(response, "InvalidSignatureException")
    assert response.message.startswith(SIGNATURE_MISMATCH_PREFIX)


def test_wrong_secret_is_invalid_signature_through_boto3(server: Any) -> None:
    client = boto3_client(server, "test", "not-the-secret")

    response = error_of(client.create_key)

    assert response["Error"]["Code"] == "InvalidSignatureException"


def test_missing_authorization_is_missing_token(raw: Any, kms_error_check: Any) -> None:
    request = raw.signed("ListKeys", {})
    del request.headers["Authorization"]

    response = raw.send(request)

    # AWS KMS API Reference, Common Errors: MissingAuthenticationToken is 403.
    kms_error_check(response, "MissingAuthenticationTokenException", status=403)
    assert response.message == "Missing Authentication Token"


def test_unsigned_boto3_request_is_missing_token(server: Any) -> None:
    from botocore import UNSIGNED

    client = boto3.client(
        "kms",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}),
    )

    response = error_of(client.list_keys)

    assert response["Error"]["Code"] == "MissingAuthenticationTokenException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403


# Request time: SigV4 accepts requests within 15 minutes of the server's clock.


def minutes_from_now(minutes: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)


def test_request_signed_16_minutes_ago_is_expired(
    raw: Any, kms_error_check: Any
) -> None:
    moment = minutes_from_now(-16)

    response = raw.call("ListKeys", {}, moment=moment)

    kms_error_check(response, "InvalidSignatureException")
    stamp = moment.strftime("%Y%m%dT%H%M%SZ")
    assert response.message.startswith(
        f"Signature expired: {stamp} is now earlier than "
    )
    assert response.message.endswith(" - 15 min.)")


def test_request_signed_14_minutes_ago_is_accepted(raw: Any) -> None:
    response = raw.call("ListKeys", {}, moment=minutes_from_now(-14))

    assert response.status == 200, response.body


def test_request_16_minutes_ahead_is_rejected(raw: Any, kms_error_check: Any) -> None:
    moment = minutes_from_now(16)

    response = raw.call("ListKeys", {}, moment=moment)

    kms_error_check(response, "InvalidSignatureException")
    stamp = moment.strftime("%Y%m%dT%H%M%SZ")
    assert response.message.startswith(
        f"Signature not yet current: {stamp} is still later than "
    )


def test_request_signed_14_minutes_ahead_is_accepted(raw: Any) -> None:
    response = raw.call("ListKeys", {}, moment=minutes_from_now(14))

    assert response.status == 200, response.body


def test_region_comes_from_the_credential_scope(raw: Any) -> None:
    raw.region = "eu-west-3"

    created = raw.ok("CreateKey", {})["KeyMetadata"]

    assert created["Arn"].startswith("arn:aws:kms:eu-west-3:111122223333:key/")


# A credentials file replaces the development credential.


def test_credentials_file_replaces_default(
    fresh_server_factory: Any, tmp_path: Path
) -> None:
    path = write_credentials(tmp_path, TWO_PRINCIPALS)
    server = fresh_server_factory(extra_args=["--credentials-file", str(path)])
    app_a = boto3_client(server, "AKIAKEYLEDGERAPPA", "secret-of-app-a")
    app_b = boto3_client(server, "AKIAKEYLEDGERAPPB", "secret-of-app-b")

    key_a = app_a.create_key()["KeyMetadata"]
    key_b = app_b.create_key()["KeyMetadata"]

    assert key_a["AWSAccountId"] == ACCOUNT_A
    assert key_b["AWSAccountId"] == ACCOUNT_B
    assert [k["KeyId"] for k in app_a.list_keys()["Keys"]] == [key_a["KeyId"]]
    assert [k["KeyId"] for k in app_b.list_keys()["Keys"]] == [key_b["KeyId"]]
    # Another account's bare key id names no key in the caller's account.
    assert error_of(app_b.describe_key, KeyId=key_a["KeyId"])["Error"]["Code"] == (
        "NotFoundException"
    )
    default = boto3_client(server, "test", "test")
    assert error_of(default.list_keys)["Error"]["Code"] == "UnrecognizedClientException"
    crossed = boto3_client(server, "AKIAKEYLEDGERAPPA", "secret-of-app-b")
    assert error_of(crossed.list_keys)["Error"]["Code"] == "InvalidSignatureException"


def test_session_token_is_required_where_declared(
    fresh_server_factory: Any, tmp_path: Path, raw_for: Any, kms_error_check: Any
) -> None:
    path = write_credentials(tmp_path, SESSION_PRINCIPAL)
    server = fresh_server_factory(extra_args=["--credentials-file", str(path)])
    raw = raw_for(server)

    with_token = raw.with_credentials(
        "ASIAKEYLEDGERSESSION", "secret-of-session", "token-of-session"
    )
    without_token = raw.with_credentials("ASIAKEYLEDGERSESSION", "secret-of-session")
    wrong_token = raw.with_credentials(
        "ASIAKEYLEDGERSESSION", "secret-of-session", "token-of-someone-else"
    )
    token_not_declared = raw.with_credentials(
        "AKIAKEYLEDGERPLAIN", "secret-of-plain", "token-of-session"
    )

    assert with_token.call("ListKeys", {}).status == 200
    for refused in (without_token, wrong_token, token_not_declared):
        response = refused.call("ListKeys", {})
        kms_error_check(response, "UnrecognizedClientException")
        assert response.message == INVALID_TOKEN_MESSAGE
    assert (
        raw.with_credentials("AKIAKEYLEDGERPLAIN", "secret-of-plain")
        .call("ListKeys", {})
        .status
        == 200
    )
    client = boto3_client(
        server, "ASIAKEYLEDGERSESSION", "secret-of-session", "token-of-session"
    )
    assert client.create_key()["KeyMetadata"]["AWSAccountId"] == ACCOUNT_A


def test_token_changed_after_signing_is_refused(
    fresh_server_factory: Any, tmp_path: Path, raw_for: Any, kms_error_check: Any
) -> None:
    path = write_credentials(tmp_path, SESSION_PRINCIPAL)
    server = fresh_server_factory(extra_args=["--credentials-file", str(path)])
    raw = raw_for(server).with_credentials(
        "ASIAKEYLEDGERSESSION", "secret-of-session", "token-of-session"
    )
    request = raw.signed("ListKeys", {})
    request.headers["X-Amz-Security-Token"] = "token-of-someone-else"

    response = raw.send(request)

    kms_error_check(response, "UnrecognizedClientException")


# Files the server must refuse to start with.


def run_serve_expecting_exit(
    tmp_path: Path, *arguments: str
) -> subprocess.CompletedProcess[str]:
    """Run ``keyledger serve`` that must exit on its own, before it listens."""
    from socket import socket

    with socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [
        str(Path(sys.executable).with_name("keyledger")),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(tmp_path / "data"),
        *arguments,
    ]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
        check=False,
    )


def test_malformed_identity_policy_stops_start(tmp_path: Path) -> None:
    path = write_credentials(
        tmp_path,
        TWO_PRINCIPALS
        + """arn = "arn:aws:iam::777788889999:user/b"\n"""
        + """identity_policy = '{"Version": "2012-10-17", "Statement": []}'\n""",
    )

    finished = run_serve_expecting_exit(tmp_path, "--credentials-file", str(path))

    assert finished.returncode != 0
    log = finished.stdout + finished.stderr
    assert "cannot start" in log
    assert "entry 2: identity_policy is not a valid IAM policy" in log
    assert "secret-of-app" not in log


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[[principals]]\naccess_key_id = 'AKIAX'\n",
        "not toml = = =",
    ],
    ids=["no-principals", "missing-fields", "not-toml"],
)
def test_invalid_credentials_file_stops_start(tmp_path: Path, text: str) -> None:
    path = write_credentials(tmp_path, text)

    finished = run_serve_expecting_exit(tmp_path, "--credentials-file", str(path))

    assert finished.returncode != 0
    assert "cannot start" in finished.stdout + finished.stderr


def test_missing_credentials_file_stops_start(tmp_path: Path) -> None:
    finished = run_serve_expecting_exit(
        tmp_path, "--credentials-file", str(tmp_path / "absent.toml")
    )

    assert finished.returncode != 0
    assert "cannot read credentials file" in finished.stdout + finished.stderr
