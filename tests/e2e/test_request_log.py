"""The server logs one JSON line per request, with what an operator greps for.

The line names the operation, the request id the client saw, the outcome, the
principal, the Region and the key ARN or error type. It never contains the body.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from botocore.exceptions import ClientError

from tests.conftest import KeyLedgerServer

PLAINTEXT = b"request-log plaintext canary 7f3a"


def request_line(server: KeyLedgerServer, request_id: str) -> dict[str, Any]:
    """Return the request line with this request id, waiting briefly for it."""
    deadline = time.monotonic() + 10
    while True:
        for line in server.log_text().splitlines():
            # The server is shared, so other tests' lines are skipped unread.
            if request_id in line:
                return dict(json.loads(line))
        if time.monotonic() > deadline:
            raise AssertionError(f"no log line for request {request_id}")
        time.sleep(0.05)


def test_success_line_names_operation_key_and_caller(server: KeyLedgerServer) -> None:
    kms = server.client()
    key_arn = kms.create_key()["KeyMetadata"]["Arn"]

    encrypted = kms.encrypt(KeyId=key_arn, Plaintext=PLAINTEXT)

    entry = request_line(server, encrypted["ResponseMetadata"]["RequestId"])
    duration = entry.pop("duration_ms")
    assert entry.pop("time").endswith("+00:00")
    assert entry == {
        "level": "info",
        "logger": "keyledger.request",
        "message": "request",
        "operation": "Encrypt",
        "request_id": encrypted["ResponseMetadata"]["RequestId"],
        "outcome": "success",
        "principal": "arn:aws:iam::111122223333:root",
        "region": "us-east-1",
        "key_arn": key_arn,
    }
    assert 0 < duration < 10_000


def test_error_line_names_error_type(server: KeyLedgerServer) -> None:
    kms = server.client()
    missing = (
        "arn:aws:kms:us-east-1:111122223333:key/0b7e3c4a-6f1d-4e2b-9a8c-5d4e3f2a1b0c"
    )

    try:
        kms.encrypt(KeyId=missing, Plaintext=PLAINTEXT)
    except ClientError as error:
        request_id = error.response["ResponseMetadata"]["RequestId"]
    else:
        raise AssertionError("Encrypt with a missing key succeeded")

    entry = request_line(server, request_id)
    assert entry["operation"] == "Encrypt"
    assert entry["outcome"] == "error"
    assert entry["error_type"] == "NotFoundException"
    assert "key_arn" not in entry
    log = server.log_text()
    assert PLAINTEXT.decode() not in log
    assert base64.b64encode(PLAINTEXT).decode() not in log
