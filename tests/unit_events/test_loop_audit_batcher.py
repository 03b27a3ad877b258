"""The event loop's group commit: one commit for the records of one loop pass,
and the audit thread when another writer holds the lock."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
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
    begun: list[list[str]] = []
    commits: list[int] = []

    def begin(entries: Sequence[AuditEntry]) -> bool:
        begun.append([item.event_id for item in entries])
        return True

    async def run() -> None:
        batcher = LoopAuditBatcher(
            begin, lambda: commits.append(1), AuditWriter(lambda entries: None)
        )
        futures = [batcher.submit(entry(number)) for number in range(5)]
        await asyncio.gather(*futures)
        batcher.close()

    asyncio.run(run())

    assert begun == [[f"event-{number}" for number in range(5)]]
    assert commits == [1]


def test_records_queued_during_a_commit_form_the_next_batch() -> None:
    begun: list[list[str]] = []
    release = threading.Event()

    def begin(entries: Sequence[AuditEntry]) -> bool:
        begun.append([item.event_id for item in entries])
        return True

    def commit() -> None:
        release.wait(5)

    async def run() -> None:
        batcher = LoopAuditBatcher(begin, commit, AuditWriter(lambda entries: None))
        first = batcher.submit(entry(1))
        await asyncio.sleep(0.05)
        later = [batcher.submit(entry(2)), batcher.submit(entry(3))]
        await asyncio.sleep(0.05)
        release.set()
        await asyncio.gather(first, *later)
        batcher.close()

    asyncio.run(run())

    assert begun == [["event-1"], ["event-2", "event-3"]]


def test_busy_lock_hands_the_batch_to_the_audit_thread() -> None:
    written: list[str] = []

    def write_batch(entries: Sequence[AuditEntry]) -> None:
        written.extend(item.event_id for item in entries)

    async def run() -> None:
        writer = AuditWriter(write_batch)
        batcher = LoopAuditBatcher(lambda entries: False, lambda: None, writer)
        await asyncio.gather(batcher.submit(entry(1)), batcher.submit(entry(2)))
        writer.close()

    asyncio.run(run())

    assert sorted(written) == ["event-1", "event-2"]


def test_failed_commit_fails_every_waiting_request() -> None:
    def commit() -> None:
        raise OSError("disk full")

    async def run() -> list[BaseException | None]:
        batcher = LoopAuditBatcher(
            lambda entries: True, commit, AuditWriter(lambda entries: None)
        )
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
        written = store.begin_audit_batch([entry(1)])
        waited = time.monotonic() - started
    finally:
        other.execute("ROLLBACK")
        other.close()

    assert written is False
    assert waited < 1.0
    assert store.begin_audit_batch([entry(2)]) is True
    store.commit_audit_batch()
    rows = store.read("SELECT event_id FROM keyledger_audit ORDER BY seq", ())
    store.close()
    assert [row["event_id"] for row in rows] == ["event-2"]
