"""The audit trail: one record per request, hash-chained, in the store's database.

Records live in ``keyledger_audit`` beside the event log. Each row carries a
CloudTrail-shaped record, the hashes of the lifecycle events written with it,
and a chain hash over its position, the previous row's hash and its content,
so an edited, inserted, removed or reordered row breaks the chain.

A lifecycle change's record is appended inside the transaction that appends
its events (see the recorders). Every other record goes through
:class:`AuditWriter`, which commits the records of concurrent requests
together, one transaction for many, and extends the chain inside it.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import json
import logging
import queue
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

logger = logging.getLogger("keyledger.audit")

GENESIS_HASH = "0" * 64
"""The previous hash of the first record."""
_MAX_BATCH = 512

# The head before the first record: sequence 0 and GENESIS_HASH.
_INSERT_GENESIS_HEAD = (
    "INSERT INTO keyledger_audit_head (id, seq, hash) VALUES (1, 0, "
    "'0000000000000000000000000000000000000000000000000000000000000000')"
    " ON CONFLICT (id) DO NOTHING"
)

CREATE_AUDIT_TABLES = {
    "sqlite": [
        "CREATE TABLE IF NOT EXISTS keyledger_audit ("
        " seq INTEGER PRIMARY KEY,"
        " event_id TEXT NOT NULL,"
        " event_time REAL NOT NULL,"
        " account_id TEXT NOT NULL,"
        " region TEXT NOT NULL,"
        " event_name TEXT NOT NULL,"
        " principal_arn TEXT,"
        " key_id TEXT,"
        " error_code TEXT,"
        " record TEXT NOT NULL,"
        " event_hashes TEXT NOT NULL,"
        " prev_hash TEXT NOT NULL,"
        " hash TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS keyledger_audit_by_key"
        " ON keyledger_audit (key_id, seq)",
        "CREATE INDEX IF NOT EXISTS keyledger_audit_by_time"
        " ON keyledger_audit (event_time)",
        "CREATE INDEX IF NOT EXISTS keyledger_audit_by_principal"
        " ON keyledger_audit (principal_arn, seq)",
        # The end of the chain: one row, locked by every writer of records.
        "CREATE TABLE IF NOT EXISTS keyledger_audit_head ("
        " id INTEGER PRIMARY KEY CHECK (id = 1),"
        " seq INTEGER NOT NULL,"
        " hash TEXT NOT NULL)",
        _INSERT_GENESIS_HEAD,
        # Signed digests of the chain, in order.
        "CREATE TABLE IF NOT EXISTS keyledger_audit_digests ("
        " number INTEGER PRIMARY KEY,"
        " first_seq INTEGER NOT NULL,"
        " last_seq INTEGER NOT NULL,"
        " last_hash TEXT NOT NULL,"
        " created REAL NOT NULL,"
        " document TEXT NOT NULL,"
        " signature TEXT NOT NULL)",
        # The audit signing key: the public half as PEM, the private half
        # sealed under the root key.
        "CREATE TABLE IF NOT EXISTS keyledger_audit_signing_key ("
        " id INTEGER PRIMARY KEY CHECK (id = 1),"
        " public_key TEXT NOT NULL,"
        " wrapped_private_key BLOB NOT NULL,"
        " created REAL NOT NULL)",
    ],
    "postgres": [
        "CREATE TABLE IF NOT EXISTS keyledger_audit ("
        " seq BIGINT PRIMARY KEY,"
        " event_id TEXT NOT NULL,"
        " event_time DOUBLE PRECISION NOT NULL,"
        " account_id TEXT NOT NULL,"
        " region TEXT NOT NULL,"
        " event_name TEXT NOT NULL,"
        " principal_arn TEXT,"
        " key_id TEXT,"
        " error_code TEXT,"
        " record TEXT NOT NULL,"
        " event_hashes TEXT NOT NULL,"
        " prev_hash TEXT NOT NULL,"
        " hash TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS keyledger_audit_by_key"
        " ON keyledger_audit (key_id, seq)",
        "CREATE INDEX IF NOT EXISTS keyledger_audit_by_time"
        " ON keyledger_audit (event_time)",
        "CREATE INDEX IF NOT EXISTS keyledger_audit_by_principal"
        " ON keyledger_audit (principal_arn, seq)",
        "CREATE TABLE IF NOT EXISTS keyledger_audit_head ("
        " id INTEGER PRIMARY KEY CHECK (id = 1),"
        " seq BIGINT NOT NULL,"
        " hash TEXT NOT NULL)",
        _INSERT_GENESIS_HEAD,
        "CREATE TABLE IF NOT EXISTS keyledger_audit_digests ("
        " number BIGINT PRIMARY KEY,"
        " first_seq BIGINT NOT NULL,"
        " last_seq BIGINT NOT NULL,"
        " last_hash TEXT NOT NULL,"
        " created DOUBLE PRECISION NOT NULL,"
        " document TEXT NOT NULL,"
        " signature TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS keyledger_audit_signing_key ("
        " id INTEGER PRIMARY KEY CHECK (id = 1),"
        " public_key TEXT NOT NULL,"
        " wrapped_private_key BYTEA NOT NULL,"
        " created DOUBLE PRECISION NOT NULL)",
    ],
}

# Taking the write lock first (an UPDATE that changes nothing) keeps a
# SQLite transaction from reading the head and then failing to upgrade; on
# PostgreSQL it locks the head row until the transaction ends.
_LOCK_HEAD = "UPDATE keyledger_audit_head SET seq = seq WHERE id = 1"
_READ_HEAD = "SELECT seq, hash FROM keyledger_audit_head WHERE id = 1"
_WRITE_HEAD = "UPDATE keyledger_audit_head SET seq = ?, hash = ? WHERE id = 1"
_INSERT = (
    "INSERT INTO keyledger_audit (seq, event_id, event_time, account_id, region,"
    " event_name, principal_arn, key_id, error_code, record, event_hashes,"
    " prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit record, before it takes its place in the chain."""

    event_id: str
    event_time: float
    """Epoch seconds."""
    account_id: str
    region: str
    event_name: str
    principal_arn: str | None
    key_id: str | None
    error_code: str | None
    record: str
    """The CloudTrail-shaped record as canonical JSON (sorted keys, compact)."""


def canonical_json(value: Any) -> str:
    """Serialize a record the one way its hash is computed over.

    Sorted keys, no spaces, text as UTF-8 rather than escapes: what
    ``json.dumps(value, sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)`` writes, for the strings, integers, booleans, nulls,
    lists and objects records hold. orjson writes it in a tenth of the time,
    which counts on every request. A value orjson refuses (an integer past
    64 bits, say) goes to the json module instead.
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )


def event_hash(originator_id: str, version: int, topic: str, state: bytes | str) -> str:
    """Hash one stored lifecycle event, as it is on disk."""
    digest = hashlib.sha256(f"{originator_id}\n{version}\n{topic}\n".encode())
    # The library stores bytes. Text in their place, as an edit with a SQL
    # string leaves, hashes as its UTF-8 bytes, so it shows as a change.
    digest.update(state.encode() if isinstance(state, str) else state)
    return digest.hexdigest()


def event_reference(originator_id: str, version: int, hashed: str) -> str:
    """Name a stored event and its hash in a record's ``event_hashes``."""
    return f"{originator_id}/{version}/{hashed}"


def stored_event_references(stored_events: Iterable[Any]) -> list[str]:
    """Reference each stored event of a transaction by its id, version and hash."""
    return [
        event_reference(
            str(event.originator_id),
            event.originator_version,
            event_hash(
                str(event.originator_id),
                event.originator_version,
                event.topic,
                event.state,
            ),
        )
        for event in stored_events
    ]


def chain_hash(prev_hash: str, seq: int, record: str, event_hashes: str) -> str:
    """Hash a record with its position and the hash of the record before it."""
    text = f"{prev_hash}\n{seq}\n{record}\n{event_hashes}"
    return hashlib.sha256(text.encode()).hexdigest()


Execute = Callable[[str, tuple[Any, ...]], Any]


def append_entries(
    execute: Execute,
    fetch_one: Callable[[], Any],
    entries: Sequence[tuple[AuditEntry, Sequence[str]]],
) -> None:
    """Chain and insert records inside the caller's transaction.

    ``execute`` runs one statement with ``?`` placeholders; ``fetch_one``
    returns the row of the last SELECT. Each entry comes with the event
    references of the lifecycle events written in the same transaction.
    """
    execute(_LOCK_HEAD, ())
    execute(_READ_HEAD, ())
    row = fetch_one()
    rows, seq, last_hash = _chained_rows(int(row[0]), str(row[1]), entries)
    for values in rows:
        execute(_INSERT, values)
    execute(_WRITE_HEAD, (seq, last_hash))


def append_entries_batched(
    connection: Any, entries: Sequence[tuple[AuditEntry, Sequence[str]]]
) -> None:
    """Chain and insert records on a SQLite connection inside its transaction,
    in as few calls into SQLite as possible: read the head, insert every row
    at once, write the head."""
    row = connection.execute(_READ_HEAD).fetchone()
    rows, seq, last_hash = _chained_rows(int(row[0]), str(row[1]), entries)
    connection.executemany(_INSERT, rows)
    connection.execute(_WRITE_HEAD, (seq, last_hash))


def _chained_rows(
    seq: int, prev_hash: str, entries: Sequence[tuple[AuditEntry, Sequence[str]]]
) -> tuple[list[tuple[Any, ...]], int, str]:
    """Return the rows that extend the chain from its head at ``seq`` and
    ``prev_hash``, with the new head's sequence number and hash."""
    rows: list[tuple[Any, ...]] = []
    for entry, references in entries:
        seq += 1
        hashes = json.dumps(list(references), separators=(",", ":"))
        current = chain_hash(prev_hash, seq, entry.record, hashes)
        rows.append(
            (
                seq,
                entry.event_id,
                entry.event_time,
                entry.account_id,
                entry.region,
                entry.event_name,
                entry.principal_arn,
                entry.key_id,
                entry.error_code,
                entry.record,
                hashes,
                prev_hash,
                current,
            )
        )
        prev_hash = current
    return rows, seq, prev_hash


class AuditSource(Protocol):
    """The source of the record that a request or sweep writes with its events."""

    def entry_for_save(self, aggregates: Sequence[Any]) -> AuditEntry | None:
        """Return the record to commit with these aggregates' events, or None
        when the request's record is already in the chain."""

    def committed(self, entry: AuditEntry) -> None:
        """Note that ``entry`` is now in the chain."""


current_source: contextvars.ContextVar[AuditSource | None] = contextvars.ContextVar(
    "keyledger_audit_source", default=None
)
"""The source of the record for a save that happens in this context."""


class AuditUnavailable(Exception):
    """A record could not be written, so the request it describes must fail."""


# TODO: with every call audited, Encrypt, Decrypt and GenerateDataKey at
# concurrency 8 reach about a third of the trivial endpoint's rate, where the
# target is 40% (docs/benchmarks.md). The loop blocks for each batch's fsync.
# Overlapping it needs a waiter that does not take the GIL, such as a helper
# process that fsyncs the WAL file and replies through a pipe.
class LoopAuditBatcher:
    """Commits the records of an event loop's requests, batched per loop pass.

    The records submitted while the loop runs its ready callbacks are chained
    and committed together by one callback on the loop, which blocks the loop
    for the disk write. Committing on a thread instead let the loop serve
    other requests meanwhile, but every one of their SQLite calls then handed
    the GIL to that thread and back: on two cores, the loop served about 8%
    fewer requests. When another writer holds the SQLite file's lock for more
    than a few milliseconds, the batch goes to the audit thread, so the loop
    does not wait for that writer to finish.
    """

    def __init__(
        self,
        append: Callable[[Sequence[AuditEntry]], bool],
        fallback: AuditWriter,
    ) -> None:
        self._append = append
        self._fallback = fallback
        self._pending: list[tuple[AuditEntry, asyncio.Future[None]]] = []
        self._scheduled = False

    def submit(self, entry: AuditEntry) -> asyncio.Future[None]:
        """Queue a record; the future completes once it is durable."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._pending.append((entry, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        self._scheduled = False
        batch, self._pending = self._pending, []
        if not batch:
            return
        try:
            appended = self._append([entry for entry, _ in batch])
        except Exception as error:
            _fail(batch, error)
            return
        if not appended:
            loop = asyncio.get_running_loop()
            for entry, future in batch:
                written = self._fallback.submit(entry)
                written.add_done_callback(_outcome_copier(loop, future))
            return
        for _, future in batch:
            if not future.done():
                future.set_result(None)


def _fail(
    batch: Sequence[tuple[AuditEntry, asyncio.Future[None]]], error: BaseException
) -> None:
    logger.error(
        "audit records could not be written; their requests fail",
        exc_info=(type(error), error, error.__traceback__),
        extra={"records": len(batch)},
    )
    for _, future in batch:
        if not future.done():
            future.set_exception(AuditUnavailable(str(error)))


def _outcome_copier(
    loop: asyncio.AbstractEventLoop, waiting: asyncio.Future[None]
) -> Callable[[Future[None]], None]:
    """Return a callback that copies a thread's outcome onto the loop's future."""

    def copy(done: Future[None]) -> None:
        loop.call_soon_threadsafe(_copy_outcome, done, waiting)

    return copy


def _copy_outcome(done: Future[None], waiting: asyncio.Future[None]) -> None:
    if waiting.done():
        return
    error = done.exception()
    if error is None:
        waiting.set_result(None)
    else:
        waiting.set_exception(error)


class AuditWriter:
    """Commits records in batches from one thread: group commit.

    Each request submits its record and waits for the returned future; the
    writer thread takes every record waiting at that moment and commits them
    in one transaction, so concurrent requests share one disk write.
    """

    def __init__(self, write_batch: Callable[[Sequence[AuditEntry]], None]) -> None:
        self._write_batch = write_batch
        self._queue: queue.SimpleQueue[tuple[AuditEntry, Future[None]] | None] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, entry: AuditEntry) -> Future[None]:
        """Queue a record; the future completes once it is durable."""
        future: Future[None] = Future()
        if self._closed:
            future.set_exception(AuditUnavailable("the audit writer is closed"))
            return future
        self._start()
        self._queue.put((entry, future))
        return future

    def write_now(self, entries: Iterable[AuditEntry]) -> None:
        """Commit records at once on the calling thread (for the sweep and tests)."""
        self._write_batch(list(entries))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=10)

    def _start(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="keyledger-audit", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < _MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[tuple[AuditEntry, Future[None]]]) -> None:
        try:
            self._write_batch([entry for entry, _ in batch])
        except Exception as error:
            logger.error(
                "audit records could not be written; their requests fail",
                exc_info=(type(error), error, error.__traceback__),
                extra={"records": len(batch)},
            )
            for _, future in batch:
                future.set_exception(AuditUnavailable(str(error)))
            return
        for _, future in batch:
            future.set_result(None)
