"""The event loop's group commit: one commit for the records of one loop pass,
on the loop, and the audit thread when another writer holds the lock."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from events.audit import AuditEntry, AuditUnavailable, AuditWriter, LoopAuditBatcher
from events.store import Store


def entry(number: int) -> AuditEntry:
    return AuditEntry(
        event_id=f"event-{number}",
        event_time=1.0,
        account_id="111122223333",
        region="us-east-1",
        event_name="Encrypt",
        principal_arn="arn:aws:iam::111122223333:root",
        key_id=None,
        error_code=None,
        record="{}",
    )


def test_records_of_one_loop_pass_share_one_commit() -> None:
    appended: list[list[str]] = []

    def append(entries: Sequence[AuditEntry]) -> bool:
        appended.append([item.event_id for item in entries])
        return True

    async def run() -> None:
        batcher = LoopAuditBatcher(append, AuditWriter(lambda entries: None))
        futures = [batcher.submit(entry(number)) for number in range(5)]
        await asyncio.gather(*futures)

    asyncio.run(run())

    assert appended == [[f"event-{number}" for number in range(5)]]


def test_later_records_form_next_batch() -> None:
    appended: list[list[str]] = []

    def append(entries: Sequence[AuditEntry]) -> bool:
        appended.append([item.event_id for item in entries])
        return True

    async def run() -> None:
        batcher = LoopAuditBatcher(append, AuditWriter(lambda entries: None))
        await batcher.submit(entry(1))
        await asyncio.gather(batcher.submit(entry(2)), batcher.submit(entry(3)))

    asyncio.run(run())

    assert appended == [["event-1"], ["event-2", "event-3"]]


def test_record_is_durable_before_its_future_completes() -> None:
    committed: list[str] = []

    def append(entries: Sequence[AuditEntry]) -> bool:
        committed.extend(item.event_id for item in entries)
        return True

    async def run() -> list[str]:
        batcher = LoopAuditBatcher(append, AuditWriter(lambda entries: None))
        pending = batcher.submit(entry(1))
        assert not pending.done()
        await pending
        return list(committed)

    assert asyncio.run(run()) == ["event-1"]


def test_busy_lock_hands_the_batch_to_the_audit_thread() -> None:
    written: list[str] = []

    def write_batch(entries: Sequence[AuditEntry]) -> None:
        written.extend(item.event_id for item in entries)

    async def run() -> None:
        writer = AuditWriter(write_batch)
        batcher = LoopAuditBatcher(lambda entries: False, writer)
        await asyncio.gather(batcher.submit(entry(1)), batcher.submit(entry(2)))
        writer.close()

    asyncio.run(run())

    assert sorted(written) == ["event-1", "event-2"]


def test_failed_commit_fails_every_waiting_request() -> None:
    def append(entries: Sequence[AuditEntry]) -> bool:
        raise OSError("disk full")

    async def run() -> list[BaseException | None]:
        batcher = LoopAuditBatcher(append, AuditWriter(lambda entries: None))
        futures = [batcher.submit(entry(1)), batcher.submit(entry(2))]
        results = await asyncio.gather(*futures, return_exceptions=True)
        return list(results)

    results = asyncio.run(run())

    assert all(isinstance(result, AuditUnavailable) for result in results)
    with pytest.raises(AuditUnavailable, match="disk full"):
        raise results[0]  # type: ignore[misc]


def test_store_reports_a_held_lock_instead_of_waiting(tmp_path: Path) -> None:
    store = Store(tmp_path)
    other = sqlite3.connect(tmp_path / "keyledger.sqlite3", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        written = store.append_audit_unless_locked([entry(1)])
        waited = time.monotonic() - started
    finally:
        other.execute("ROLLBACK")
        other.close()

    assert written is False
    assert waited < 1.0
    assert store.append_audit_unless_locked([entry(2)]) is True
    rows = store.read("SELECT event_id FROM keyledger_audit ORDER BY seq", ())
    store.close()
    assert [row["event_id"] for row in rows] == ["event-2"]


def test_loop_commit_shares_read_connection(tmp_path: Path) -> None:
    store = Store(tmp_path)

    assert store.append_audit_unless_locked([entry(1)]) is True

    # The commit shares the thread's read connection: what it wrote is read
    # back on that connection, which is left with its usual lock wait.
    rows = store.read("SELECT event_id FROM keyledger_audit", ())
    [(wait,)] = store.read("PRAGMA busy_timeout", ())
    store.close()
    assert [row["event_id"] for row in rows] == ["event-1"]
    assert wait == 30_000
