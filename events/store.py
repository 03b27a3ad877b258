"""The event store: keys and aliases on the eventsourcing library.

:class:`Store` hides which database is underneath. Lifecycle changes are saved
as events with optimistic concurrency; the lookup tables beside the log are
written in the same transaction. Reads of a key go through a per-key freshness
check (the key's own latest version), so a change made by another process is
seen on the next request and a cached key is never stale.
"""

from __future__ import annotations

import functools
import hmac
import logging
import re
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, PersistenceError
from eventsourcing.utils import Environment

from domain.alias import Alias, alias_aggregate_id
from domain.key import Key
from events.audit import (
    AuditEntry,
    append_entries,
    append_entries_batched,
    current_source,
)
from events.projection import SealingKeyRow, index_changes

logger = logging.getLogger("keyledger.store")

SQLITE_FILE_NAME = "keyledger.sqlite3"
SQLITE_LOCK_TIMEOUT_SECONDS = 30
# How long the event loop's audit commit waits for another writer before it
# hands its records to the audit thread.
LOOP_LOCK_WAIT_MILLISECONDS = 20
_LOOP_LOCK_WAIT = f"PRAGMA busy_timeout={LOOP_LOCK_WAIT_MILLISECONDS}"
_USUAL_LOCK_WAIT = f"PRAGMA busy_timeout={SQLITE_LOCK_TIMEOUT_SECONDS * 1000}"
SHRED_WAIT_MILLISECONDS = 2000


class ConcurrencyConflict(Exception):
    """Another writer appended to the same aggregate first; reload and retry."""


class RootKeyMismatch(Exception):
    """The root key is not the one the store's key material is wrapped under."""


class StoreUnavailable(Exception):
    """The database failed; the request gets KMSInternalException."""


class InvalidDatabaseUrl(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class AliasRow:
    alias_name: str
    target_key_id: str
    creation_date: float
    last_updated_date: float


@dataclass(frozen=True, slots=True)
class RetirableGrantRow:
    position: int
    grant_id: str
    key_id: str


class _KeyLedgerApplication(Application[uuid.UUID]):
    name = "KeyLedger"

    def construct_env(self, name: str, env: Any = None) -> Environment:
        # Only the settings KeyLedger passes, never stray variables from
        # os.environ that the library would otherwise merge in.
        return Environment(name, dict(env or {}))


def store_environment(
    data_dir: Path,
    database_url: str | None,
    pool_size: int = 10,
    pre_ping: bool = False,
) -> dict[str, str]:
    """Build the eventsourcing settings for the embedded or the PostgreSQL store."""
    if not database_url:
        return {
            "PERSISTENCE_MODULE": "events.sqlite_store:KeyLedgerSQLiteFactory",
            "SQLITE_DBNAME": str(data_dir / SQLITE_FILE_NAME),
            "SQLITE_LOCK_TIMEOUT": str(SQLITE_LOCK_TIMEOUT_SECONDS),
        }
    parts = urlsplit(database_url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise InvalidDatabaseUrl(
            f"unsupported database URL scheme {parts.scheme!r}: "
            "use postgresql://user:password@host:port/database"
        )
    database = unquote(parts.path.lstrip("/"))
    if not database:
        raise InvalidDatabaseUrl("the database URL names no database")
    query = parse_qs(parts.query)
    env = {
        "PERSISTENCE_MODULE": "events.postgres_store:KeyLedgerPostgresFactory",
        "POSTGRES_DBNAME": database,
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": unquote(parts.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        "POSTGRES_CONNECT_TIMEOUT": "10",
        "POSTGRES_POOL_SIZE": str(pool_size),
        "POSTGRES_PRE_PING": "y" if pre_ping else "n",
        "POSTGRES_LOCK_TIMEOUT": "10",
    }
    if "schema" in query:
        env["POSTGRES_SCHEMA"] = query["schema"][0]
    return env


def describe_store(data_dir: Path, database_url: str | None) -> str:
    """Name the store for the start-up log line, without any password."""
    if not database_url:
        return f"sqlite:{data_dir / SQLITE_FILE_NAME}"
    parts = urlsplit(database_url)
    host = parts.hostname or "127.0.0.1"
    return f"postgresql://{host}:{parts.port or 5432}{parts.path}"


class Store:
    """Keys and aliases, their lookup tables and the sealing-key table."""

    def __init__(
        self,
        data_dir: Path,
        database_url: str | None = None,
        pool_size: int = 10,
        pre_ping: bool = False,
    ) -> None:
        self.is_postgres = bool(database_url)
        if not self.is_postgres:
            data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        env = store_environment(data_dir, database_url, pool_size, pre_ping)
        try:
            self._app = _KeyLedgerApplication(env)
        except (PersistenceError, OSError) as error:
            raise StoreUnavailable(f"cannot open the store: {error}") from error
        recorder: Any = self._app.recorder
        self._datastore = recorder.datastore
        self._events_table = recorder.events_table_name
        if self.is_postgres:
            schema = self._datastore.schema
            self._events_table = f'"{schema}"."{self._events_table}"'
        self._cache: dict[str, Key] = {}
        self._cache_lock = threading.Lock()
        self._readers = threading.local()
        # A process stopped before an erasure finished leaves it to the next
        # process, so each one checks once, on its first sweep.
        self._shred_pending = True
        self._own_connections: list[sqlite3.Connection] = []
        # The group commit's own connections, outside the library's pool: the
        # pool's bookkeeping and a generic transaction's statements each give
        # up and retake the GIL, and under load each retake waits.
        self._audit_connection: sqlite3.Connection | None = None
        self._audit_lock = threading.Lock()

    def close(self) -> None:
        for connection in self._own_connections:
            connection.close()
        self._app.close()

    # Writing.

    def save(
        self, *aggregates: Key | Alias, sealing_keys: Sequence[SealingKeyRow] = ()
    ) -> None:
        """Append the aggregates' pending events in one transaction, with the
        audit record of the request or sweep that made them."""
        changes = index_changes(aggregates, sealing_keys)
        source = current_source.get()
        if source is not None:
            changes.audit_entry = source.entry_for_save(aggregates)
        try:
            self._app.save(*aggregates, index_changes=changes)
        except IntegrityError:
            raise ConcurrencyConflict from None
        except PersistenceError as error:
            raise StoreUnavailable(str(error)) from error
        if source is not None and changes.audit_entry is not None:
            source.committed(changes.audit_entry)
        if changes.shreds_key_material:
            self.shred()

    def append_audit(self, entries: Sequence[AuditEntry]) -> None:
        """Chain and commit records in one transaction (the group commit)."""
        if not entries:
            return
        batch = [(entry, ()) for entry in entries]
        try:
            if self.is_postgres:
                self._append_audit_postgres(batch)
            else:
                with self._audit_lock:
                    if self._audit_connection is None:
                        self._audit_connection = self._new_sqlite_connection()
                    _append_audit_sqlite(self._audit_connection, batch)
        except (PersistenceError, sqlite3.Error) as error:
            raise StoreUnavailable(str(error)) from error

    def append_audit_unless_locked(self, entries: Sequence[AuditEntry]) -> bool:
        """Chain and commit records on the calling thread's read connection,
        if the SQLite file's write lock is free.

        For the event loop, which must not wait on another writer: returns
        False, having written nothing, when the lock is held for longer than
        a few milliseconds, so the caller can hand the records to a thread.

        The loop's reads and its records share one connection. SQLite drops
        a connection's page cache whenever another connection has written,
        so with a connection of their own every audit commit would send the
        next key read back to the file.
        """
        connection = self._sqlite_reader()
        batch = [(entry, ()) for entry in entries]
        connection.execute(_LOOP_LOCK_WAIT)
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            if _is_busy(error):
                return False
            raise StoreUnavailable(str(error)) from error
        finally:
            connection.execute(_USUAL_LOCK_WAIT)
        try:
            _append_and_commit(connection, batch)
        except sqlite3.Error as error:
            raise StoreUnavailable(str(error)) from error
        return True

    def append_audit_to_empty_trail(
        self, build: Callable[[], Sequence[tuple[AuditEntry, Sequence[str]]]]
    ) -> bool:
        """Append the records ``build`` returns if the trail has none yet.

        The check and the append run in one transaction that locks the
        chain's head, so of several processes starting at once only one
        appends. Returns whether it did.
        """
        try:
            if self.is_postgres:
                return self._append_to_empty_trail_postgres(build)
            connection = self._new_sqlite_connection()
            connection.execute("BEGIN IMMEDIATE")
            try:
                (seq,) = connection.execute(
                    "SELECT seq FROM keyledger_audit_head WHERE id = 1"
                ).fetchone()
                batch = build() if int(seq) == 0 else []
                if batch:
                    append_entries_batched(connection, batch)
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            return bool(batch)
        except (PersistenceError, sqlite3.Error) as error:
            raise StoreUnavailable(str(error)) from error

    def _append_to_empty_trail_postgres(
        self, build: Callable[[], Sequence[tuple[AuditEntry, Sequence[str]]]]
    ) -> bool:
        from events.postgres_store import postgres_executor, postgres_row

        with self._datastore.transaction(commit=True) as cursor:
            execute = postgres_executor(cursor, self._datastore.schema)
            execute("SELECT seq FROM keyledger_audit_head WHERE id = 1 FOR UPDATE", ())
            row = postgres_row(cursor.fetchone())
            if row is None or int(row[0]) != 0:
                return False
            batch = build()
            if not batch:
                return False
            append_entries(execute, lambda: postgres_row(cursor.fetchone()), batch)
        return True

    def _append_audit_postgres(
        self, batch: Sequence[tuple[AuditEntry, Sequence[str]]]
    ) -> None:
        from events.postgres_store import postgres_executor, postgres_row

        with self._datastore.transaction(commit=True) as cursor:
            schema = self._datastore.schema
            append_entries(
                postgres_executor(cursor, schema),
                lambda: postgres_row(cursor.fetchone()),
                batch,
            )

    def shred(self) -> bool:
        """Push erased sealing keys out of every file the database keeps.

        SQLite overwrites deleted rows in place (``secure_delete``), but older
        pages can linger in the write-ahead log until it is checkpointed and
        truncated. PostgreSQL keeps dead rows until the table is rewritten.
        Either can be held back by another connection's open read; then this
        returns False, logs a warning, and the next sweep tries again.

        NOTE: PostgreSQL also writes every row to its own write-ahead log,
        which keeps a deleted row until the segment is recycled, and longer in
        WAL archives, replicas and backups. Those hold wrapped sealing keys.
        """
        try:
            done = self._shred_postgres() if self.is_postgres else self._shred_sqlite()
        except Exception:
            logger.exception("erasing sealing keys from disk failed; will retry")
            done = False
        if not done:
            logger.warning(
                "erased sealing keys are not yet off the disk because another "
                "connection holds an old snapshot; the next sweep tries again"
            )
        self._shred_pending = not done
        return done

    def retry_shred(self) -> None:
        """Finish an erasure that an earlier :meth:`shred` could not complete."""
        if self._shred_pending:
            self.shred()

    def _shred_sqlite(self) -> bool:
        with self._sqlite_cursor() as cursor:
            # Wait briefly for readers rather than the full lock timeout: the
            # deleting request waits for this, and a later sweep retries.
            cursor.execute(f"PRAGMA busy_timeout={SHRED_WAIT_MILLISECONDS}")
            try:
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                busy, _, _ = cursor.fetchone()
            finally:
                cursor.execute(
                    f"PRAGMA busy_timeout={SQLITE_LOCK_TIMEOUT_SECONDS * 1000}"
                )
        return int(busy) == 0

    def _shred_postgres(self) -> bool:
        notices: list[str] = []

        def collect(diagnostic: Any) -> None:
            notices.append(f"{diagnostic.message_primary} {diagnostic.message_detail}")

        with self._datastore.get_connection() as connection:
            connection.add_notice_handler(collect)
            try:
                with connection.cursor() as cursor:
                    # A reader holding a lock on the table (pg_dump, say) would
                    # make VACUUM FULL wait; give up soon and retry later.
                    cursor.execute(f"SET lock_timeout = '{SHRED_WAIT_MILLISECONDS}ms'")
                    try:
                        cursor.execute(
                            "VACUUM (FULL, VERBOSE) "
                            f'"{self._datastore.schema}".keyledger_sealing_keys'
                        )
                    finally:
                        cursor.execute("RESET lock_timeout")
            finally:
                connection.remove_notice_handler(collect)
        # VERBOSE reports rows it had to keep for an older snapshot as
        # "N dead row versions cannot be removed yet".
        # NOTE: this reads the English message; with another lc_messages the
        # kept rows go unnoticed and the erasure counts as done.
        return not any(_kept_dead_rows(notice) for notice in notices)

    def check_root_key(self, check_value: bytes) -> None:
        """Record the root key's check value, or refuse a different root key.

        The first process to open a store records the value; every later one
        must present the same, so a server started with the wrong root key
        stops at once instead of failing every request on existing keys.
        """
        write = (
            "INSERT INTO keyledger_root_key_check (id, check_value) VALUES (1, ?)"
            " ON CONFLICT (id) DO NOTHING"
        )
        try:
            if self.is_postgres:
                from events.postgres_store import to_postgres

                with self._postgres_cursor() as cursor:
                    cursor.execute(
                        to_postgres(write, self._datastore.schema), (check_value,)
                    )
            else:
                with self._datastore.transaction(commit=True) as cursor:
                    cursor.execute(write, (check_value,))
        except PersistenceError as error:
            raise StoreUnavailable(str(error)) from error
        rows = self._read(
            "SELECT check_value FROM keyledger_root_key_check WHERE id = 1", ()
        )
        if not rows or not hmac.compare_digest(
            bytes(rows[0]["check_value"]), check_value
        ):
            raise RootKeyMismatch(
                "the root key does not match the one this store was created with; "
                "start with the original root key (KEYLEDGER_ROOT_KEY or "
                "--root-key-file), or every existing key would be unusable"
            )

    # Reading aggregates.

    def load_key(self, key_id: str) -> Key | None:
        """Replay a key from its events: a private copy that commands may change."""
        try:
            aggregate_id = uuid.UUID(key_id)
        except ValueError:
            # A well-formed id of a kind KeyLedger never issues, such as a
            # multi-Region key's mrk- id, names no key here.
            return None
        try:
            key: Key = self._app.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        except PersistenceError as error:
            raise StoreUnavailable(str(error)) from error
        if not isinstance(key, Key):
            return None
        return key

    def cached_key(self, key_id: str) -> Key | None:
        """Return the key as it is now, from memory when memory is current.

        The returned object is shared and must not be changed; lifecycle
        handlers use :meth:`load_key` instead.
        """
        version = self.key_version(key_id)
        if version is None:
            return None
        cached = self._cache.get(key_id)
        if cached is not None and cached.version == version:
            return cached
        key = self.load_key(key_id)
        if key is not None:
            with self._cache_lock:
                current = self._cache.get(key_id)
                if current is None or current.version < key.version:
                    self._cache[key_id] = key
        return key

    def key_version(self, key_id: str) -> int | None:
        key_uuid = _parse_key_uuid(key_id)
        if key_uuid is None:
            return None
        # The table name is the library's or the operator's schema, never input.
        rows = self._read(
            f"SELECT MAX(originator_version) AS version FROM {self._events_table}"  # noqa: S608
            " WHERE originator_id = ?",
            (key_uuid if self.is_postgres else key_uuid.hex,),
        )
        version = rows[0]["version"] if rows else None
        return int(version) if version is not None else None

    def load_alias(self, account_id: str, region: str, alias_name: str) -> Alias | None:
        aggregate_id = alias_aggregate_id(account_id, region, alias_name)
        try:
            alias: Alias = self._app.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        except PersistenceError as error:
            raise StoreUnavailable(str(error)) from error
        return alias

    # Reading the lookup tables.

    def alias_target(self, account_id: str, region: str, alias_name: str) -> str | None:
        rows = self._read(
            "SELECT target_key_id FROM keyledger_aliases"
            " WHERE account_id = ? AND region = ? AND alias_name = ?",
            (account_id, region, alias_name),
        )
        return str(rows[0]["target_key_id"]) if rows else None

    def list_keys(
        self, account_id: str, region: str, after_position: int, limit: int
    ) -> list[tuple[int, str]]:
        rows = self._read(
            "SELECT position, key_id FROM keyledger_keys"
            " WHERE account_id = ? AND region = ? AND position > ?"
            " ORDER BY position LIMIT ?",
            (account_id, region, after_position, limit),
        )
        return [(int(row["position"]), str(row["key_id"])) for row in rows]

    def list_aliases(
        self,
        account_id: str,
        region: str,
        after_name: str,
        limit: int,
        target_key_id: str | None = None,
    ) -> list[AliasRow]:
        statement = (
            "SELECT alias_name, target_key_id, creation_date, last_updated_date"
            " FROM keyledger_aliases"
            " WHERE account_id = ? AND region = ? AND alias_name > ?"
        )
        params: tuple[Any, ...] = (account_id, region, after_name)
        if target_key_id is not None:
            statement += " AND target_key_id = ?"
            params += (target_key_id,)
        statement += " ORDER BY alias_name LIMIT ?"
        rows = self._read(statement, (*params, limit))
        return [
            AliasRow(
                alias_name=str(row["alias_name"]),
                target_key_id=str(row["target_key_id"]),
                creation_date=float(row["creation_date"]),
                last_updated_date=float(row["last_updated_date"]),
            )
            for row in rows
        ]

    def alias_names_of_key(self, key_id: str) -> list[str]:
        rows = self._read(
            "SELECT alias_name FROM keyledger_aliases WHERE target_key_id = ?",
            (key_id,),
        )
        return [str(row["alias_name"]) for row in rows]

    def keys_due_for_deletion(self, now_epoch: float, limit: int = 500) -> list[str]:
        rows = self._read(
            "SELECT key_id FROM keyledger_keys"
            " WHERE deletion_due IS NOT NULL AND deletion_due <= ?"
            " ORDER BY deletion_due LIMIT ?",
            (now_epoch, limit),
        )
        return [str(row["key_id"]) for row in rows]

    def wrapped_sealing_key(self, key_material_id: str) -> bytes | None:
        rows = self._read(
            "SELECT wrapped_sealing_key FROM keyledger_sealing_keys"
            " WHERE key_material_id = ?",
            (key_material_id,),
        )
        return bytes(rows[0]["wrapped_sealing_key"]) if rows else None

    # Database access.

    # Tables beside the log, for the audit trail's readers and writers.

    def read(self, statement: str, params: tuple[Any, ...]) -> list[Mapping[str, Any]]:
        """Run one SELECT, written for SQLite, on either backend."""
        return self._read(statement, params)

    def write(self, statement: str, params: tuple[Any, ...]) -> None:
        """Run one write, written for SQLite, in a transaction of its own."""
        try:
            with self._datastore.transaction(commit=True) as cursor:
                if self.is_postgres:
                    from events.postgres_store import to_postgres

                    cursor.execute(
                        to_postgres(statement, self._datastore.schema), params
                    )
                else:
                    cursor.execute(statement, params)
        except PersistenceError as error:
            raise StoreUnavailable(str(error)) from error

    @property
    def events_table(self) -> str:
        """The library's table of stored events, schema-qualified on PostgreSQL."""
        return str(self._events_table)

    def stored_events(self, aggregate_id: uuid.UUID) -> list[Any]:
        """Return an aggregate's domain events, oldest first."""
        return list(self._app.events.get(aggregate_id))

    def _read(self, statement: str, params: tuple[Any, ...]) -> list[Mapping[str, Any]]:
        try:
            if self.is_postgres:
                from events.postgres_store import to_postgres

                with self._postgres_cursor() as cursor:
                    cursor.execute(
                        to_postgres(statement, self._datastore.schema), params
                    )
                    return list(cursor.fetchall())
            cursor = self._sqlite_reader().execute(statement, params)
            try:
                return list(cursor.fetchall())
            finally:
                cursor.close()
        except PersistenceError as error:
            raise StoreUnavailable(str(error)) from error
        except Exception as error:
            if _is_database_error(error):
                raise StoreUnavailable(str(error)) from error
            raise

    def _sqlite_reader(self) -> sqlite3.Connection:
        """Return this thread's read connection to the SQLite file.

        Reads run on every request, so they skip the library's pool (its
        bookkeeping costs more than the query) and use one connection per
        thread in autocommit mode: each SELECT sees the latest commit.
        """
        connection: sqlite3.Connection | None = getattr(
            self._readers, "connection", None
        )
        if connection is None:
            connection = self._new_sqlite_connection()
            connection.row_factory = sqlite3.Row
            self._readers.connection = connection
        return connection

    def _new_sqlite_connection(self) -> sqlite3.Connection:
        """Open a connection of KeyLedger's own to the SQLite file, in
        autocommit mode, with the settings of the library's connections."""
        connection = sqlite3.connect(
            self._datastore.pool.db_name,
            uri=True,
            check_same_thread=False,
            isolation_level=None,
            timeout=SQLITE_LOCK_TIMEOUT_SECONDS,
        )
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("PRAGMA secure_delete=ON")
        with self._cache_lock:
            self._own_connections.append(connection)
        return connection

    @contextmanager
    def _sqlite_cursor(self) -> Iterator[Any]:
        with self._datastore.get_connection(commit=False) as connection:
            cursor = connection._sqlite_conn.cursor()
            try:
                yield cursor
            finally:
                cursor.close()

    @contextmanager
    def _postgres_cursor(self) -> Iterator[Any]:
        with (
            self._datastore.get_connection() as connection,
            connection.cursor() as cursor,
        ):
            yield cursor

    # Rotation.

    def keys_due_for_rotation(self, now_epoch: float, limit: int = 500) -> list[str]:
        """Return enabled keys whose automatic rotation is due, most overdue first."""
        rows = self._read(
            "SELECT key_id FROM keyledger_rotation_schedule"
            " WHERE rotation_due <= ? ORDER BY rotation_due LIMIT ?",
            (now_epoch, limit),
        )
        return [str(row["key_id"]) for row in rows]

    # Imported key material.

    def keys_with_expiry_due(self, now_epoch: float, limit: int = 500) -> list[str]:
        """Return keys with imported key material or a wrapping key to expire,
        most overdue first, each once."""
        rows = self._read(
            "SELECT key_id, MIN(expiry_due) AS due FROM keyledger_material_expiry"
            " WHERE expiry_due <= ? GROUP BY key_id ORDER BY due LIMIT ?",
            (now_epoch, limit),
        )
        return [str(row["key_id"]) for row in rows]

    # Grants.

    def retirable_grants(
        self, retiring_principal: str, region: str, after_position: int, limit: int
    ) -> list[RetirableGrantRow]:
        """Return the grants in a Region that name this retiring principal,
        oldest first, on keys of any account."""
        rows = self._read(
            "SELECT position, grant_id, key_id FROM keyledger_grants"
            " WHERE retiring_principal = ? AND region = ? AND position > ?"
            " ORDER BY position LIMIT ?",
            (retiring_principal, region, after_position, limit),
        )
        return [
            RetirableGrantRow(
                position=int(row["position"]),
                grant_id=str(row["grant_id"]),
                key_id=str(row["key_id"]),
            )
            for row in rows
        ]


def _append_audit_sqlite(
    connection: sqlite3.Connection, batch: Sequence[tuple[AuditEntry, Sequence[str]]]
) -> None:
    """Append a batch of records in one immediate transaction: few calls into
    SQLite, so the GIL changes hands as seldom as possible."""
    connection.execute("BEGIN IMMEDIATE")
    _append_and_commit(connection, batch)


def _append_and_commit(
    connection: sqlite3.Connection, batch: Sequence[tuple[AuditEntry, Sequence[str]]]
) -> None:
    """Chain, insert and commit a batch in the transaction the caller began.

    If either step fails the transaction is rolled back, so that the
    connection can begin the next one."""
    try:
        append_entries_batched(connection, batch)
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


def _is_busy(error: sqlite3.OperationalError) -> bool:
    return "locked" in str(error) or "busy" in str(error)


@functools.lru_cache(maxsize=65536)
def _parse_key_uuid(key_id: str) -> uuid.UUID | None:
    # The freshness check parses the key id on every request; cache it.
    try:
        return uuid.UUID(key_id)
    except ValueError:
        return None


def _kept_dead_rows(notice: str) -> bool:
    match = re.search(r"(\d+) dead row versions cannot be removed yet", notice)
    return bool(match and int(match.group(1)) > 0)


def _is_database_error(error: Exception) -> bool:
    module = type(error).__module__
    return module.startswith(("sqlite3", "psycopg"))
