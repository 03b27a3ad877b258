"""Records of concurrent requests share transactions, and a failed write
fails the requests it carried.

Requests go through the whole protocol layer in-process
(``functions.protocol.handle``). A wrapper around the audit writer's batch
write counts the transactions and can make them slow or fail. Each test runs
on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from domain.clock import AdjustableClock
from events.audit import GENESIS_HASH, AuditEntry, chain_hash
from functions.services import Services

from .conftest import serve_signed

CONCURRENT_REQUESTS = 32
# Each batch write waits this long, so requests arriving meanwhile queue up
# for the next transaction instead of each getting one of its own.
SLOW_WRITE_SECONDS = 0.05


class CountingWrites:
    """Wrap the audit writer's batch write: count, slow down, or fail it."""

    def __init__(self, write: Callable[[Sequence[AuditEntry]], None]) -> None:
        self._write = write
        self._lock = threading.Lock()
        self.batches: list[int] = []
        self.fail_names: set[str] = set()

    def __call__(self, entries: Sequence[AuditEntry]) -> None:
        time.sleep(SLOW_WRITE_SECONDS)
        if any(entry.event_name in self.fail_names for entry in entries):
            raise RuntimeError("audit write refused by test")
        self._write(entries)
        with self._lock:
            self.batches.append(len(entries))


def counted(services: Services) -> CountingWrites:
    writer = services.audit_writer
    counter = CountingWrites(writer._write_batch)
    writer._write_batch = counter
    return counter


def chain_rows(services: Services) -> list[Any]:
    return services.store.read(
        "SELECT seq, record, event_hashes, prev_hash, hash FROM keyledger_audit"
        " ORDER BY seq",
        (),
    )


def test_concurrent_records_share_transactions(
    open_services: Callable[[AdjustableClock], Services],
) -> None:
    services = open_services(AdjustableClock())
    status, body = serve_signed(services, "CreateKey", {})
    assert status == 200
    key_id = json.loads(body)["KeyMetadata"]["KeyId"]
    counter = counted(services)
    plaintext = base64.b64encode(b"group").decode()

    with ThreadPoolExecutor(max_workers=CONCURRENT_REQUESTS) as pool:
        outcomes = list(
            pool.map(
                lambda _: serve_signed(
                    services, "Encrypt", {"KeyId": key_id, "Plaintext": plaintext}
                ),
                range(CONCURRENT_REQUESTS),
            )
        )

    assert [status for status, _ in outcomes] == [200] * CONCURRENT_REQUESTS
    assert sum(counter.batches) == CONCURRENT_REQUESTS
    assert len(counter.batches) < CONCURRENT_REQUESTS
    assert max(counter.batches) > 1

    rows = chain_rows(services)
    assert len(rows) == 1 + CONCURRENT_REQUESTS
    previous = GENESIS_HASH
    for position, row in enumerate(rows, start=1):
        assert int(row["seq"]) == position
        assert row["prev_hash"] == previous
        expected = chain_hash(previous, position, row["record"], row["event_hashes"])
        assert row["hash"] == expected
        previous = row["hash"]
    names = [json.loads(row["record"])["eventName"] for row in rows]
    assert names == ["CreateKey"] + ["Encrypt"] * CONCURRENT_REQUESTS


def test_failed_batch_fails_its_requests(
    open_services: Callable[[AdjustableClock], Services],
) -> None:
    services = open_services(AdjustableClock())
    status, body = serve_signed(services, "CreateKey", {})
    key_id = json.loads(body)["KeyMetadata"]["KeyId"]
    plaintext = b"must not leave without a record"
    blob = json.loads(
        serve_signed(
            services,
            "Encrypt",
            {"KeyId": key_id, "Plaintext": base64.b64encode(plaintext).decode()},
        )[1]
    )["CiphertextBlob"]
    counter = counted(services)
    counter.fail_names.add("Decrypt")

    status, body = serve_signed(services, "Decrypt", {"CiphertextBlob": blob})

    assert status == 500
    assert json.loads(body)["__type"] == "KMSInternalException"
    assert plaintext not in body
    assert base64.b64encode(plaintext) not in body
    names = [json.loads(row["record"])["eventName"] for row in chain_rows(services)]
    assert names == ["CreateKey", "Encrypt"]
