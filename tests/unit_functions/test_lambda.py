"""Tests for the Lambda entry points, invoked directly with real Lambda events.

Each request is signed by botocore's SigV4 signer for a function URL or API
Gateway host, then wrapped in the payload format 2.0 event that the function
URL or HTTP API would deliver, with the body base64-encoded. The handlers
build their Services from the environment, as on Lambda; every test starts
from empty containers.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from domain.clock import AdjustableClock
from functions import lambda_action, lambda_all, lambda_services, lambda_sweep
from functions.lambda_services import LambdaConfigurationError
from functions.lean import LeanApp
from functions.protocol import MAX_BODY_BYTES
from functions.services import Services, build_services
from functions.settings import Settings

ACCESS_KEY_ID = "test"
SECRET_ACCESS_KEY = "test"
REGION = "us-east-1"
# botocore's KMS service model declares the JSON protocol, version 1.1, whose
# requests and responses have this content type.
AMZ_JSON = "application/x-amz-json-1.1"
ROOT_KEY = base64.b64encode(os.urandom(32)).decode("ascii")
PLAINTEXT = b"card number 4111 1111 1111 1111"
SOURCE_IP = "198.51.100.23"

URL_ID = "5kvg3b2f7ndtw3ch4zxkqm5siq0lnwgp"
FUNCTION_URL_HOST = f"{URL_ID}.lambda-url.{REGION}.on.aws"
HTTP_API_ID = "r2d2c3po4x"
HTTP_API_HOST = f"{HTTP_API_ID}.execute-api.{REGION}.amazonaws.com"

ENVIRONMENT_VARIABLES = (
    "KEYLEDGER_ACTION",
    "KEYLEDGER_DATA_DIR",
    "KEYLEDGER_DATABASE_URL",
    "KEYLEDGER_ROOT_KEY",
    "KEYLEDGER_ROOT_KEY_FILE",
    "KEYLEDGER_CREDENTIALS_FILE",
    "KEYLEDGER_DEV_CLOCK",
    "AWS_LAMBDA_FUNCTION_NAME",
)
CONTAINERS = (lambda_all.container, lambda_action.container, lambda_sweep.container)

BACKENDS = [
    name.strip()
    for name in os.environ.get("KEYLEDGER_TEST_BACKENDS", "sqlite,postgres").split(",")
    if name.strip()
]

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


# Events.


@dataclass(frozen=True)
class EventShape:
    """How one HTTP front end of Lambda delivers a request."""

    name: str
    host: str
    request_context: dict[str, Any]


FUNCTION_URL = EventShape(
    name="function URL",
    host=FUNCTION_URL_HOST,
    request_context={
        "accountId": "anonymous",
        "apiId": URL_ID,
        "domainName": FUNCTION_URL_HOST,
        "domainPrefix": URL_ID,
    },
)
HTTP_API = EventShape(
    name="HTTP API",
    host=HTTP_API_HOST,
    request_context={
        "accountId": "111122223333",
        "apiId": HTTP_API_ID,
        "domainName": HTTP_API_HOST,
        "domainPrefix": HTTP_API_ID,
        "stage": "$default",
    },
)
SHAPES = [
    pytest.param(FUNCTION_URL, id="function-url"),
    pytest.param(HTTP_API, id="http-api"),
]


def signed_request(
    shape: EventShape,
    action: str,
    body: bytes,
    secret_access_key: str = SECRET_ACCESS_KEY,
) -> AWSRequest:
    request = AWSRequest(
        method="POST",
        url=f"https://{shape.host}/",
        data=body,
        headers={
            "Host": shape.host,
            "Content-Type": AMZ_JSON,
            "X-Amz-Target": f"TrentService.{action}",
        },
    )
    credentials = Credentials(ACCESS_KEY_ID, secret_access_key)
    SigV4Auth(credentials, "kms", REGION).add_auth(request)
    return request


def lambda_event(shape: EventShape, request: AWSRequest) -> dict[str, Any]:
    """Wrap a signed request in a payload format 2.0 event, as Lambda receives it."""
    body = request.data if isinstance(request.data, bytes) else b""
    headers = {name.lower(): str(value) for name, value in request.headers.items()}
    # The front end adds these headers after the client signed, so they are unsigned.
    headers.update(
        {
            "x-forwarded-for": SOURCE_IP,
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
            "x-amzn-trace-id": "Root=1-6650f3a1-0a1b2c3d4e5f60718293a4b5",
        }
    )
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/",
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            **shape.request_context,
            "http": {
                "method": "POST",
                "path": "/",
                "protocol": "HTTP/1.1",
                "sourceIp": SOURCE_IP,
                "userAgent": "Boto3/1.44.8 md/Botocore#1.44.8",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "time": "24/May/2026:09:12:44 +0000",
            "timeEpoch": 1779613964000,
        },
        "body": base64.b64encode(body).decode("ascii"),
        "isBase64Encoded": True,
    }


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: dict[str, Any]


def reply_of(result: dict[str, Any]) -> Reply:
    raw = result.get("body", "")
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode()
    return Reply(result["statusCode"], result.get("headers", {}), json.loads(body))


def invoke(
    handler: Handler,
    action: str,
    params: dict[str, Any],
    shape: EventShape = FUNCTION_URL,
) -> Reply:
    body = json.dumps(params).encode("utf-8")
    return reply_of(
        handler(lambda_event(shape, signed_request(shape, action, body)), None)
    )


def invoke_ok(
    handler: Handler,
    action: str,
    params: dict[str, Any],
    shape: EventShape = FUNCTION_URL,
) -> dict[str, Any]:
    reply = invoke(handler, action, params, shape)
    assert reply.status == 200, reply.body
    return reply.body


# Fixtures.


def reset_containers() -> None:
    for container in CONTAINERS:
        container.reset()


@pytest.fixture(autouse=True)
def lambda_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Give every test a clean environment with a root key, and empty containers."""
    for name in ENVIRONMENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KEYLEDGER_ROOT_KEY", ROOT_KEY)
    reset_containers()
    yield
    reset_containers()


@pytest.fixture(params=BACKENDS)
def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """Point the entry points at an empty store of each backend."""
    monkeypatch.setenv("KEYLEDGER_DATA_DIR", str(tmp_path / "data"))
    if request.param != "postgres":
        yield request.param
        return

    import psycopg

    postgres_url: str = request.getfixturevalue("postgres_url")
    schema = f"kl_lambda_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    monkeypatch.setenv("KEYLEDGER_DATABASE_URL", f"{postgres_url}?schema={schema}")
    yield request.param
    # The containers hold connections into the schema; close them before the drop.
    reset_containers()
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def serve_action(monkeypatch: pytest.MonkeyPatch, action: str) -> Handler:
    """Configure the per-action entry point for ``action`` in a new container."""
    monkeypatch.setenv("KEYLEDGER_ACTION", action)
    lambda_action.container.reset()
    return lambda_action.handler


# Round trips across entry points.


@pytest.mark.parametrize("shape", SHAPES)
def test_round_trip_across_entry_points(
    store: str, shape: EventShape, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = invoke_ok(
        lambda_all.handler, "CreateKey", {"Description": "lambda round trip"}, shape
    )
    key_arn = created["KeyMetadata"]["Arn"]
    key_id = created["KeyMetadata"]["KeyId"]

    encrypt = serve_action(monkeypatch, "Encrypt")
    encrypted = invoke_ok(
        encrypt,
        "Encrypt",
        {
            "KeyId": key_id,
            "Plaintext": base64.b64encode(PLAINTEXT).decode(),
            "EncryptionContext": {"purpose": "lambda-test"},
        },
        shape,
    )
    assert encrypted["KeyId"] == key_arn

    decrypt = serve_action(monkeypatch, "Decrypt")
    decrypted = invoke_ok(
        decrypt,
        "Decrypt",
        {
            "CiphertextBlob": encrypted["CiphertextBlob"],
            "EncryptionContext": {"purpose": "lambda-test"},
        },
        shape,
    )
    assert base64.b64decode(decrypted["Plaintext"]) == PLAINTEXT
    # KMS API Reference, Decrypt, response element KeyId: the key ARN.
    assert decrypted["KeyId"] == key_arn
    assert decrypted["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"


def test_decrypt_with_changed_context_is_rejected(
    store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_id = invoke_ok(lambda_all.handler, "CreateKey", {})["KeyMetadata"]["KeyId"]
    encrypted = invoke_ok(
        serve_action(monkeypatch, "Encrypt"),
        "Encrypt",
        {
            "KeyId": key_id,
            "Plaintext": base64.b64encode(PLAINTEXT).decode(),
            "EncryptionContext": {"purpose": "lambda-test"},
        },
    )

    reply = invoke(
        serve_action(monkeypatch, "Decrypt"),
        "Decrypt",
        {
            "CiphertextBlob": encrypted["CiphertextBlob"],
            "EncryptionContext": {"purpose": "other"},
        },
    )

    assert reply.status == 400
    assert reply.body["__type"] == "InvalidCiphertextException"


# Refusals.


def test_action_function_rejects_other_actions(
    store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    encrypt = serve_action(monkeypatch, "Encrypt")

    reply = invoke(encrypt, "CreateKey", {})

    assert reply.status == 400
    assert reply.body["__type"] == "UnknownOperationException"


@pytest.mark.parametrize("shape", SHAPES)
def test_wrong_secret_is_rejected(
    store: str, shape: EventShape, monkeypatch: pytest.MonkeyPatch
) -> None:
    encrypt = serve_action(monkeypatch, "Encrypt")
    body = json.dumps({"KeyId": "alias/any", "Plaintext": "AA=="}).encode()
    request = signed_request(shape, "Encrypt", body, secret_access_key="not-the-secret")

    reply = reply_of(encrypt(lambda_event(shape, request), None))

    assert reply.status == 400
    assert reply.body["__type"] == "InvalidSignatureException"


def test_body_changed_after_signing_is_rejected(
    store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    encrypt = serve_action(monkeypatch, "Encrypt")
    body = json.dumps({"KeyId": "alias/any", "Plaintext": "AA=="}).encode()
    event = lambda_event(FUNCTION_URL, signed_request(FUNCTION_URL, "Encrypt", body))
    event["body"] = base64.b64encode(body.replace(b"AA==", b"AQ==")).decode()

    reply = reply_of(encrypt(event, None))

    assert reply.status == 400
    assert reply.body["__type"] == "InvalidSignatureException"


@pytest.mark.parametrize("entry_point", ["lambda_all", "lambda_action"])
def test_malformed_json_is_rejected(
    store: str, entry_point: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = (
        lambda_all.handler
        if entry_point == "lambda_all"
        else serve_action(monkeypatch, "Encrypt")
    )
    request = signed_request(FUNCTION_URL, "Encrypt", b'{"KeyId": "alias/any",')

    reply = reply_of(handler(lambda_event(FUNCTION_URL, request), None))

    assert reply.status == 400
    assert reply.body["__type"] == "SerializationException"


def test_oversized_body_is_rejected(
    store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    encrypt = serve_action(monkeypatch, "Encrypt")
    body = b"{" + b" " * MAX_BODY_BYTES + b"}"
    event = lambda_event(FUNCTION_URL, signed_request(FUNCTION_URL, "Encrypt", body))

    reply = reply_of(encrypt(event, None))

    assert reply.status == 413
    assert reply.body["__type"] == "RequestEntityTooLargeException"


@pytest.mark.parametrize("entry_point", ["lambda_all", "lambda_action"])
def test_responses_are_amz_json(
    store: str, entry_point: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = (
        lambda_all.handler
        if entry_point == "lambda_all"
        else serve_action(monkeypatch, "GenerateRandom")
    )

    success = invoke(handler, "GenerateRandom", {"NumberOfBytes": 16})
    failure = invoke(handler, "GenerateRandom", {"NumberOfBytes": 0})

    assert success.status == 200
    assert len(base64.b64decode(success.body["Plaintext"])) == 16
    assert success.headers["content-type"] == AMZ_JSON
    assert failure.status == 400
    assert failure.body["__type"] == "ValidationException"
    assert failure.headers["content-type"] == AMZ_JSON


# The sweep.


def test_sweep_deletes_key_after_waiting_period(store: str) -> None:
    created = invoke_ok(lambda_all.handler, "CreateKey", {})
    key_id = created["KeyMetadata"]["KeyId"]
    scheduled = invoke_ok(
        lambda_all.handler,
        "ScheduleKeyDeletion",
        {"KeyId": key_id, "PendingWindowInDays": 7},
    )
    assert scheduled["KeyState"] == "PendingDeletion"
    clock = AdjustableClock()
    lambda_sweep.container.reset(clock=clock)
    scheduled_event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "111122223333",
        "time": "2026-05-24T09:13:00Z",
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:111122223333:rule/keyledger-sweep"],
        "detail": {},
    }

    clock.advance(timedelta(days=6))
    before_due = lambda_sweep.handler(scheduled_event, None)
    clock.advance(timedelta(days=25))
    after_due = lambda_sweep.handler(scheduled_event, None)
    repeated = lambda_sweep.handler(scheduled_event, None)

    nothing_done = {
        "deletedKeyCount": 0,
        "rotatedKeyCount": 0,
        "expiredKeyMaterialCount": 0,
    }
    assert before_due == nothing_done
    assert after_due == {**nothing_done, "deletedKeyCount": 1}
    assert repeated == nothing_done
    described = invoke(lambda_all.handler, "DescribeKey", {"KeyId": key_id})
    assert described.status == 400
    assert described.body["__type"] == "NotFoundException"


# Configuration.


def test_action_function_requires_action_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEYLEDGER_DATA_DIR", str(tmp_path / "data"))
    event = lambda_event(FUNCTION_URL, signed_request(FUNCTION_URL, "Encrypt", b"{}"))

    with pytest.raises(LambdaConfigurationError, match="KEYLEDGER_ACTION is not set"):
        lambda_action.handler(event, None)
    # The action is checked before the store is opened.
    assert not (tmp_path / "data").exists()


def test_action_function_rejects_unimplemented_action(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEYLEDGER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KEYLEDGER_ACTION", "ConnectCustomKeyStore")
    event = lambda_event(FUNCTION_URL, signed_request(FUNCTION_URL, "Encrypt", b"{}"))

    with pytest.raises(LambdaConfigurationError, match="'ConnectCustomKeyStore'"):
        lambda_action.handler(event, None)
    assert not (tmp_path / "data").exists()


def test_container_builds_again_after_configuration_error(
    store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = lambda_event(
        FUNCTION_URL,
        signed_request(FUNCTION_URL, "GenerateRandom", b'{"NumberOfBytes": 8}'),
    )
    with pytest.raises(LambdaConfigurationError):
        lambda_action.handler(event, None)

    monkeypatch.setenv("KEYLEDGER_ACTION", "GenerateRandom")
    reply = reply_of(lambda_action.handler(event, None))

    assert reply.status == 200


def test_root_key_must_come_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEYLEDGER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("KEYLEDGER_ROOT_KEY")

    with pytest.raises(LambdaConfigurationError, match="KEYLEDGER_ROOT_KEY is not set"):
        lambda_services.build_lambda_services()
    assert not (tmp_path / "data" / "root.key").exists()


def test_lambda_requires_database_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEYLEDGER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "keyledger-encrypt")

    with pytest.raises(LambdaConfigurationError, match="KEYLEDGER_DATABASE_URL"):
        lambda_services.build_lambda_services()
    assert not (tmp_path / "data").exists()


def test_lambda_requires_credentials_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEYLEDGER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "keyledger-encrypt")
    monkeypatch.setenv(
        "KEYLEDGER_DATABASE_URL", "postgresql://keyledger@127.0.0.1:9/keyledger"
    )

    with pytest.raises(LambdaConfigurationError, match="KEYLEDGER_CREDENTIALS_FILE"):
        lambda_services.build_lambda_services()


def test_lambda_rejects_dev_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEYLEDGER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KEYLEDGER_DEV_CLOCK", "true")

    with pytest.raises(LambdaConfigurationError, match="KEYLEDGER_DEV_CLOCK"):
        lambda_services.build_lambda_services()


# The lean app, with no FastAPI.

CHILD_CODE = """
import json, sys
import functions.lambda_action as entry
result = entry.handler(json.loads(sys.stdin.read()), None)
loaded = [name for name in ("fastapi", "starlette") if name in sys.modules]
print(json.dumps({"status": result["statusCode"], "loaded": loaded}))
"""


def test_action_function_never_imports_fastapi(tmp_path: Path) -> None:
    body = json.dumps({"NumberOfBytes": 32}).encode()
    event = lambda_event(
        FUNCTION_URL, signed_request(FUNCTION_URL, "GenerateRandom", body)
    )
    environment = {
        **os.environ,
        "KEYLEDGER_ACTION": "GenerateRandom",
        "KEYLEDGER_DATA_DIR": str(tmp_path / "data"),
        "KEYLEDGER_ROOT_KEY": ROOT_KEY,
    }
    environment.pop("KEYLEDGER_DATABASE_URL", None)

    completed = subprocess.run(
        [sys.executable, "-c", CHILD_CODE],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environment,
        timeout=120,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["status"] == 200
    assert report["loaded"] == []


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    built = build_services(Settings(data_dir=tmp_path / "data"))
    yield built
    built.close()


def run_asgi(
    app: LeanApp, scope: dict[str, Any], messages: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Run one ASGI connection and return the messages the app sent.

    The app takes its incoming messages from the front of ``messages``.
    """
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: Any) -> None:
        sent.append(dict(message))

    asyncio.run(app(scope, receive, send))
    return sent


def http_scope() -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "path": "/",
        "query_string": b"",
        "headers": [(b"X-Amz-Target", b"TrentService.GenerateRandom")],
        "client": ("192.0.2.10", 50211),
    }


def test_lean_app_completes_lifespan(services: Services) -> None:
    sent = run_asgi(
        LeanApp(services),
        {"type": "lifespan", "asgi": {"version": "3.0"}},
        [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}],
    )

    assert sent == [
        {"type": "lifespan.startup.complete"},
        {"type": "lifespan.shutdown.complete"},
    ]


def test_lean_app_rejects_oversized_chunked_body(services: Services) -> None:
    chunk = b" " * (MAX_BODY_BYTES // 2 + 1)
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": chunk, "more_body": True},
        {"type": "http.request", "body": chunk, "more_body": True},
        {"type": "http.request", "body": chunk, "more_body": False},
    ]

    sent = run_asgi(LeanApp(services), http_scope(), messages)

    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["__type"] == "RequestEntityTooLargeException"
    # Two chunks pass the limit, so the app stops reading before the third.
    assert len(messages) == 1


def test_lean_app_reads_lowercased_headers(services: Services) -> None:
    # The target header arrives capitalised. The app must still find the
    # action, so the unsigned request fails on its signature instead.
    sent = run_asgi(
        LeanApp(services, only_action="GenerateRandom"),
        http_scope(),
        [{"type": "http.request", "body": b'{"NumberOfBytes": 8}'}],
    )

    assert sent[0]["status"] == 403
    assert (b"content-type", AMZ_JSON.encode()) in sent[0]["headers"]
    assert (
        json.loads(sent[1]["body"])["__type"] == "MissingAuthenticationTokenException"
    )


def test_lean_app_sends_nothing_after_disconnect(services: Services) -> None:
    sent = run_asgi(LeanApp(services), http_scope(), [{"type": "http.disconnect"}])

    assert sent == []


def test_lean_app_rejects_websocket(services: Services) -> None:
    with pytest.raises(ValueError, match="HTTP only"):
        run_asgi(LeanApp(services), {"type": "websocket"}, [])


# The sweep's report of rotations and expired imported key material.


def import_expiring_key_material(material: bytes, valid_to_days: int) -> str:
    """Create an EXTERNAL key and import ``material`` expiring in some days."""
    from datetime import UTC, datetime

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    created = invoke_ok(lambda_all.handler, "CreateKey", {"Origin": "EXTERNAL"})
    key_id: str = created["KeyMetadata"]["KeyId"]
    issued = invoke_ok(
        lambda_all.handler,
        "GetParametersForImport",
        {
            "KeyId": key_id,
            "WrappingAlgorithm": "RSAES_OAEP_SHA_256",
            "WrappingKeySpec": "RSA_2048",
        },
    )
    public_key = serialization.load_der_public_key(
        base64.b64decode(issued["PublicKey"])
    )
    assert isinstance(public_key, rsa.RSAPublicKey)
    oaep = padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)
    valid_to = datetime.now(UTC) + timedelta(days=valid_to_days)
    invoke_ok(
        lambda_all.handler,
        "ImportKeyMaterial",
        {
            "KeyId": key_id,
            "ImportToken": issued["ImportToken"],
            "EncryptedKeyMaterial": base64.b64encode(
                public_key.encrypt(material, oaep)
            ).decode(),
            "ExpirationModel": "KEY_MATERIAL_EXPIRES",
            "ValidTo": valid_to.timestamp(),
        },
    )
    return key_id


def test_sweep_reports_rotations_and_expiries(
    store: str, caplog: pytest.LogCaptureFixture
) -> None:
    from functions.logs import JsonFormatter

    rotating_id = invoke_ok(lambda_all.handler, "CreateKey", {})["KeyMetadata"]["KeyId"]
    invoke_ok(
        lambda_all.handler,
        "EnableKeyRotation",
        {"KeyId": rotating_id, "RotationPeriodInDays": 90},
    )
    material = os.urandom(32)
    expiring_id = import_expiring_key_material(material, valid_to_days=30)
    clock = AdjustableClock()
    lambda_sweep.container.reset(clock=clock)
    event: dict[str, Any] = {"detail-type": "Scheduled Event", "detail": {}}

    clock.advance(timedelta(days=29))
    before_due = lambda_sweep.handler(event, None)
    clock.advance(timedelta(days=62))
    with caplog.at_level("INFO", logger="keyledger.sweep"):
        after_due = lambda_sweep.handler(event, None)
    repeated = lambda_sweep.handler(event, None)

    nothing_done = {
        "deletedKeyCount": 0,
        "rotatedKeyCount": 0,
        "expiredKeyMaterialCount": 0,
    }
    assert before_due == nothing_done
    assert after_due == {
        "deletedKeyCount": 0,
        "rotatedKeyCount": 1,
        "expiredKeyMaterialCount": 1,
    }
    assert repeated == nothing_done
    [finished] = [r for r in caplog.records if r.getMessage() == "sweep finished"]
    assert finished.__dict__["rotated_key_count"] == 1
    assert finished.__dict__["expired_key_material_count"] == 1
    logged = "\n".join(JsonFormatter().format(record) for record in caplog.records)
    assert rotating_id in logged
    assert expiring_id in logged
    for form in (material.hex(), base64.b64encode(material).decode()):
        assert form not in logged
    described = invoke_ok(lambda_all.handler, "DescribeKey", {"KeyId": expiring_id})
    assert described["KeyMetadata"]["KeyState"] == "PendingImport"
