"""The embedded store: the eventsourcing library's SQLite persistence, tuned.

Every connection runs with ``synchronous=FULL`` (a commit is on disk before
the reply) and ``secure_delete=ON`` (a deleted sealing key is overwritten in
the file, not just unlinked from the b-tree), whatever the build's defaults.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import OperationalError, StoredEvent
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteCursor,
    SQLiteFactory,
)

from events.audit import CREATE_AUDIT_TABLES, append_entries, stored_event_references
from events.projection import CREATE_TABLES, IndexChanges

# The object each CREATE statement makes, to tell whether it exists already.
_CREATED_OBJECT = re.compile(r"CREATE (?:TABLE|INDEX) IF NOT EXISTS (\w+)")


class KeyLedgerSQLitePool(SQLiteConnectionPool):
    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        raw = connection._sqlite_conn
        raw.execute("PRAGMA synchronous=FULL")
        raw.execute("PRAGMA secure_delete=ON")
        return connection


class KeyLedgerSQLiteRecorder(SQLiteApplicationRecorder):
    """Appends events and, in the same transaction, the lookup-table writes."""

    def construct_create_table_statements(self) -> list[str]:
        return (
            super().construct_create_table_statements()
            + CREATE_TABLES["sqlite"]
            + CREATE_AUDIT_TABLES["sqlite"]
        )

    def create_table(self) -> None:
        """Create the missing tables and indexes, with the write lock taken first.

        Every process that opens the store runs this, audit commands included,
        and these may run while the server commits many times a second. The
        library's deferred transaction reads the schema and then requests the
        write lock, which SQLite refuses at once, whatever the lock timeout,
        when another connection has committed in between. So a store whose
        tables and indexes all exist is left unwritten, and otherwise the
        statements run after BEGIN IMMEDIATE, which waits for the lock.
        """
        statements = self.create_table_statements
        names = {
            match.group(1)
            for match in map(_CREATED_OBJECT.match, statements)
            if match is not None
        }
        try:
            with self.datastore.get_connection(commit=True) as connection:
                raw = connection._sqlite_conn
                rows = raw.execute("SELECT name FROM sqlite_master").fetchall()
                if names <= {row[0] for row in rows}:
                    return
                raw.execute("BEGIN IMMEDIATE")
                try:
                    for statement in statements:
                        raw.execute(statement)
                except BaseException:
                    raw.execute("ROLLBACK")
                    raise
                raw.execute("COMMIT")
        except sqlite3.Error as error:
            raise OperationalError(str(error)) from error

    def _insert_events(
        self,
        c: SQLiteCursor,
        stored_events: Sequence[StoredEvent],
        **kwargs: Any,
    ) -> Sequence[int] | None:
        notification_ids = super()._insert_events(c, stored_events, **kwargs)
        changes: IndexChanges | None = kwargs.get("index_changes")
        if changes is not None:
            for statement, params in changes.statements:
                c.execute(statement, params)
            if changes.audit_entry is not None:
                references = stored_event_references(stored_events)
                append_entries(
                    c.execute, c.fetchone, [(changes.audit_entry, references)]
                )
        return notification_ids


class KeyLedgerSQLiteFactory(SQLiteFactory):
    application_recorder_class = KeyLedgerSQLiteRecorder

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        datastore = self.datastore
        datastore.pool.close()
        datastore.pool = KeyLedgerSQLitePool(
            db_name=datastore.pool.db_name,
            lock_timeout=datastore.pool.lock_timeout,
        )
