"""Attacks on the running server: unsigned garbage, NUL characters, clients
that hang up, a locked database, the dev clock and the command line.

Each test sends what an attacker or a careless operator could send and checks
that the answer is an ordinary KMS error (or a clear start-up error), never a
500, a traceback or a frozen server.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from botocore.exceptions import ClientError

ACCOUNT_ID = "111122223333"
REGION = "us-east-1"
DEV_CLOCK_PATH = "/_keyledger/dev-clock"
HUNDRED_YEARS_SECONDS = 100 * 365 * 86400


def error_of(operation: Any, **params: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as raised:
        operation(**params)
    error: dict[str, str] = raised.value.response["Error"]
    return error


# SigV4: an impossible Date header.


@pytest.mark.parametrize(
    "date",
    ["Fri, 31 Dec 9999 23:59:59 -2359", "Fri, 31 Dec 0000 23:59:59 GMT"],
    ids=["past-year-9999-in-utc", "year-zero"],
)
def test_impossible_date_header_is_incomplete_signature(
    server: Any, raw_http: Any, date: str
) -> None:
    response = raw_http.to_raw_response(
        httpx.post(
            server.endpoint + "/",
            headers={
                "X-Amz-Target": "TrentService.ListKeys",
                "Content-Type": "application/x-amz-json-1.1",
                "Authorization": "AWS4-HMAC-SHA256 Credential=x/y/z/kms/"
                "aws4_request, SignedHeaders=date;host;x-amz-target, Signature=00",
                "Date": date,
            },
            content=b"{}",
        )
    )

    raw_http.assert_clean_kms_error(response, "IncompleteSignatureException")
    assert response.message == (
        f"Date must be in ISO-8601 'basic format'. Got '{date}'. "
        "See http://en.wikipedia.org/wiki/ISO_8601"
    )


# Alias names that no alias can have, such as one with NUL, which
# PostgreSQL cannot hold in a text column.


@pytest.mark.parametrize(
    ("action", "key_id"),
    [
        ("Encrypt", "alias/a\x00b"),
        ("DescribeKey", "alias/a\x00b"),
        ("DescribeKey", f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:alias/a\x00b"),
        ("Encrypt", "alias/caf\u00e9"),
        ("Encrypt", "alias/" + "a" * 251),
    ],
    ids=["encrypt-nul", "describe-nul", "describe-arn-nul", "non-ascii", "257-chars"],
)
def test_impossible_alias_name_is_not_found(
    raw: Any, kms_error_check: Any, action: str, key_id: str
) -> None:
    payload: dict[str, Any] = {"KeyId": key_id}
    if action == "Encrypt":
        payload["Plaintext"] = "aGk="

    response = raw.call(action, payload)

    kms_error_check(response, "NotFoundException")
    alias_name = key_id[key_id.index("alias/") :]
    assert response.message == (
        f"Alias arn:aws:kms:{REGION}:{ACCOUNT_ID}:{alias_name} is not found."
    )


# Decrypt and ReEncrypt with an algorithm that the blob's key does not have.


@pytest.mark.parametrize("algorithm", ["RSAES_OAEP_SHA_256", "SM2PKE"])
def test_decrypt_with_asymmetric_algorithm_is_invalid_key_usage(
    kms: Any, algorithm: str
) -> None:
    key_arn = kms.create_key()["KeyMetadata"]["Arn"]
    blob = kms.encrypt(KeyId=key_arn, Plaintext=b"secret")["CiphertextBlob"]

    # InvalidKeyUsageException (AWS KMS API reference): "The encryption
    # algorithm ... specified for the operation is incompatible with the type
    # of key material in the KMS key (KeySpec)."
    error = error_of(kms.decrypt, CiphertextBlob=blob, EncryptionAlgorithm=algorithm)

    assert error["Code"] == "InvalidKeyUsageException"
    assert key_arn in error["Message"]
    assert algorithm in error["Message"]


def test_decrypt_naming_symmetric_default_succeeds(kms: Any) -> None:
    key_arn = kms.create_key()["KeyMetadata"]["Arn"]
    blob = kms.encrypt(KeyId=key_arn, Plaintext=b"secret")["CiphertextBlob"]

    result = kms.decrypt(CiphertextBlob=blob, EncryptionAlgorithm="SYMMETRIC_DEFAULT")

    assert result["Plaintext"] == b"secret"
    assert result["KeyId"] == key_arn


def test_re_encrypt_with_asymmetric_source_algorithm_is_invalid_key_usage(
    kms: Any,
) -> None:
    source_arn = kms.create_key()["KeyMetadata"]["Arn"]
    destination_arn = kms.create_key()["KeyMetadata"]["Arn"]
    blob = kms.encrypt(KeyId=source_arn, Plaintext=b"secret")["CiphertextBlob"]

    error = error_of(
        kms.re_encrypt,
        CiphertextBlob=blob,
        DestinationKeyId=destination_arn,
        SourceEncryptionAlgorithm="RSAES_OAEP_SHA_1",
    )

    assert error["Code"] == "InvalidKeyUsageException"
    assert source_arn in error["Message"]
    assert "RSAES_OAEP_SHA_1" in error["Message"]


# A database read that waits on a lock must not stall other requests.


def _schema_of(database_url: str) -> str:
    return parse_qs(urlsplit(database_url).query)["schema"][0]


def _wait_for_lock_waiter(postgres_url: str, schema: str) -> bool:
    """Wait until some session waits for a lock on the schema's events table."""
    import psycopg

    deadline = time.monotonic() + 30
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        while time.monotonic() < deadline:
            row = connection.execute(
                "SELECT count(*) FROM pg_locks l"
                " JOIN pg_class c ON c.oid = l.relation"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE NOT l.granted AND n.nspname = %s"
                " AND c.relname = 'keyledger_events'",
                (schema,),
            ).fetchone()
            if row is not None and row[0] > 0:
                return True
            time.sleep(0.05)
    return False


def test_generate_random_answers_while_a_read_waits_on_a_lock(
    fresh_server_factory: Any, postgres_url: str
) -> None:
    if fresh_server_factory.backend != "postgres":
        pytest.skip("only a PostgreSQL read can wait on another session's lock")
    import psycopg

    server = fresh_server_factory()
    kms = server.client(read_timeout=60)
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.encrypt(KeyId=key_id, Plaintext=b"warm")
    schema = _schema_of(server.database_url)
    encrypt_outcome: list[str] = []

    def encrypt() -> None:
        try:
            server.client(read_timeout=60).encrypt(KeyId=key_id, Plaintext=b"x")
            encrypt_outcome.append("ok")
        except Exception as error:
            # Any failure is recorded, for the assert to show.
            encrypt_outcome.append(type(error).__name__)

    with psycopg.connect(postgres_url) as locker:
        locker.execute(
            f'LOCK TABLE "{schema}".keyledger_events IN ACCESS EXCLUSIVE MODE'
        )
        waiting = threading.Thread(target=encrypt)
        waiting.start()
        assert _wait_for_lock_waiter(postgres_url, schema)

        random_bytes = kms.generate_random(NumberOfBytes=4)["Plaintext"]

        # Encrypt is still blocked behind the lock this test holds.
        assert encrypt_outcome == []
        locker.rollback()
    waiting.join(timeout=60)

    assert len(random_bytes) == 4
    assert encrypt_outcome == ["ok"]


# Clients that hang up mid-body.


def _count_disconnect_lines(server: Any) -> int:
    return server.log_text().count("client disconnected before sending")


def test_client_disconnect_mid_body_logs_no_traceback(
    fresh_server_factory: Any,
) -> None:
    server = fresh_server_factory(extra_args=["--log-level", "debug"])
    connections = 5

    for _ in range(connections):
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
    deadline = time.monotonic() + 30
    while _count_disconnect_lines(server) < connections:
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    log = server.log_text()

    assert _count_disconnect_lines(server) == connections
    assert "Traceback" not in log
    levels = [json.loads(line)["level"] for line in log.splitlines()]
    assert "error" not in levels
    assert "debug" in levels


# The dev clock.


def _dev_clock_step(server: Any, body: bytes) -> httpx.Response:
    return httpx.post(
        server.endpoint + DEV_CLOCK_PATH,
        content=body,
        headers={"Content-Type": "application/json"},
        timeout=60,
    )


def _dev_clock_now(server: Any) -> float:
    response = _dev_clock_step(server, b'{"Seconds": 0}')
    assert response.status_code == 200, response.content
    now: float = json.loads(response.content)["Now"]
    return now


@pytest.fixture
def dev_clock_server(fresh_server_factory: Any) -> Any:
    return fresh_server_factory(extra_args=["--dev-clock"])


def test_dev_clock_stops_short_of_year_9000(dev_clock_server: Any) -> None:
    kms = dev_clock_server.client()
    refusal = None
    for _ in range(80):
        response = _dev_clock_step(
            dev_clock_server, b'{"Seconds": %d}' % HUNDRED_YEARS_SECONDS
        )
        if response.status_code != 200:
            refusal = response
            break
        last_now = json.loads(response.content)["Now"]

    assert refusal is not None
    assert refusal.status_code == 400
    assert json.loads(refusal.content)["__type"] == "ValidationException"
    # The refused step left the clock where the last accepted step put it.
    assert _dev_clock_now(dev_clock_server) - last_now < 86400
    assert time.gmtime(last_now).tm_year < 9000
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    scheduled = kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=30)
    assert scheduled["KeyState"] == "PendingDeletion"


@pytest.mark.parametrize(
    "body",
    [
        b'{"Seconds": true}',
        b'{"Seconds": "60"}',
        b'{"Seconds": null}',
        b'{"Seconds": [1]}',
        b'{"Seconds": NaN}',
        b'{"Seconds": Infinity}',
        b'{"Seconds": -1}',
        b"[]",
        b"[" * 1000,
        b"\xff\xfe",
    ],
    ids=[
        "true",
        "quoted-number",
        "null",
        "list",
        "nan",
        "infinity",
        "negative",
        "not-an-object",
        "deep-nesting",
        "not-utf-8",
    ],
)
def test_dev_clock_rejects_step_that_is_not_a_number(
    dev_clock_server: Any, body: bytes
) -> None:
    before = _dev_clock_now(dev_clock_server)

    response = _dev_clock_step(dev_clock_server, body)

    assert response.status_code == 400
    assert json.loads(response.content)["__type"] == "ValidationException"
    assert _dev_clock_now(dev_clock_server) - before < 86400


def test_dev_clock_rejects_body_over_one_kib(dev_clock_server: Any) -> None:
    body = b'{"Seconds": 1' + b" " * 2000 + b"}"

    response = _dev_clock_step(dev_clock_server, body)

    assert response.status_code == 413
    assert json.loads(response.content)["__type"] == "RequestEntityTooLargeException"


# The command line.


def _keyledger() -> str:
    return str(Path(sys.executable).with_name("keyledger"))


def _run_serve(
    arguments: list[str], env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    environment = {
        name: value for name, value in os.environ.items() if name != "KEYLEDGER_PORT"
    }
    return subprocess.run(
        [_keyledger(), "serve", *arguments],
        env={**environment, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


def test_serve_on_busy_port_exits_with_startup_failure(
    busy_port: int, tmp_path: Path
) -> None:
    result = _run_serve(
        ["--host", "127.0.0.1", "--port", str(busy_port), "--data-dir", str(tmp_path)]
    )

    # uvicorn's exit status for a server that could not start.
    assert result.returncode == 3, result.stderr
    assert "KeyLedger listening" not in result.stderr
    assert (
        f"cannot start: the server could not listen on http://127.0.0.1:{busy_port}"
        in result.stderr
    )
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("arguments", "env", "named"),
    [
        (["--log-level", "verbose"], {}, "--log-level"),
        ([], {"KEYLEDGER_LOG_LEVEL": "verbose"}, "KEYLEDGER_LOG_LEVEL"),
        (["--port", "70000"], {}, "--port"),
        (["--port", "0"], {}, "--port"),
        ([], {"KEYLEDGER_PORT": "70000"}, "KEYLEDGER_PORT"),
        ([], {"KEYLEDGER_PORT": "http"}, "KEYLEDGER_PORT"),
        (["--sweep-interval", "0"], {}, "--sweep-interval"),
        (["--sweep-interval", "-5"], {}, "--sweep-interval"),
        (["--sweep-interval", "nan"], {}, "--sweep-interval"),
        (["--sweep-interval", "inf"], {}, "--sweep-interval"),
        ([], {"KEYLEDGER_SWEEP_INTERVAL": "0.5"}, "KEYLEDGER_SWEEP_INTERVAL"),
        ([], {"KEYLEDGER_SWEEP_INTERVAL": "soon"}, "KEYLEDGER_SWEEP_INTERVAL"),
    ],
    ids=[
        "log-level-flag",
        "log-level-variable",
        "port-too-large",
        "port-zero",
        "port-variable-too-large",
        "port-variable-not-a-number",
        "sweep-zero",
        "sweep-negative",
        "sweep-nan",
        "sweep-infinite",
        "sweep-variable-under-one",
        "sweep-variable-not-a-number",
    ],
)
def test_serve_rejects_invalid_setting_by_name(
    tmp_path: Path, arguments: list[str], env: dict[str, str], named: str
) -> None:
    result = _run_serve([*arguments, "--data-dir", str(tmp_path)], env)

    assert result.returncode == 2, result.stderr
    assert named in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_names_missing_postgres_database(
    postgres_url: str, tmp_path: Path
) -> None:
    database = f"keyledger_missing_{uuid.uuid4().hex[:8]}"
    parts = urlsplit(postgres_url)
    database_url = parts._replace(path=f"/{database}").geturl()

    result = _run_serve(["--data-dir", str(tmp_path), "--database-url", database_url])

    assert result.returncode == 2, result.stderr
    assert f"store postgresql://{parts.hostname}:{parts.port or 5432}/{database}" in (
        result.stderr
    )
    assert f'database \\"{database}\\" does not exist' in result.stderr
    assert "Traceback" not in result.stderr
