"""The shared store: the eventsourcing library's PostgreSQL persistence."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresFactory

from events.audit import CREATE_AUDIT_TABLES, append_entries, stored_event_references
from events.projection import CREATE_TABLES, IndexChanges

_LOCK_PREFIX = "keyledger.create_table:"
_TABLE_NAME = re.compile(
    r"\bkeyledger_(keys|aliases|sealing_keys|rotation_schedule|material_expiry"
    r"|root_key_check|grants|audit|audit_head|audit_digests|audit_signing_key)"
    r"\b(?!_)"
)


@lru_cache(maxsize=256)
def to_postgres(statement: str, schema: str) -> str:
    """Rewrite a lookup-table statement for PostgreSQL: schema and placeholders."""
    qualified = _TABLE_NAME.sub(f'"{schema}".keyledger_\\1', statement)
    return qualified.replace("?", "%s")


def postgres_executor(curs: Any, schema: str) -> Callable[[str, tuple[Any, ...]], None]:
    """Run KeyLedger's statements, written for SQLite, on a PostgreSQL cursor."""

    def execute(statement: str, params: tuple[Any, ...]) -> None:
        curs.execute(to_postgres(statement, schema), params)

    return execute


def postgres_row(row: Any) -> tuple[Any, ...] | None:
    """Turn a dict row into a tuple in column order, as SQLite returns rows."""
    return None if row is None else tuple(row.values())


class KeyLedgerPostgresRecorder(PostgresApplicationRecorder):
    """Appends events and, in the same transaction, the lookup-table writes."""

    def create_table(self) -> None:
        # CREATE TABLE IF NOT EXISTS is not safe against a concurrent CREATE
        # of the same table: the loser fails on pg_type's unique index. So
        # servers starting at once on an empty schema take turns, holding a
        # session-level advisory lock named after the schema.
        schema = self.datastore.schema
        with self.datastore.get_connection() as connection:
            connection.execute(
                "SELECT pg_advisory_lock(hashtext(%s))", (_LOCK_PREFIX + schema,)
            )
            try:
                super().create_table()
                with self.datastore.transaction(commit=True) as curs:
                    statements = (
                        CREATE_TABLES["postgres"] + CREATE_AUDIT_TABLES["postgres"]
                    )
                    for statement in statements:
                        curs.execute(to_postgres(statement, schema))
            finally:
                connection.execute(
                    "SELECT pg_advisory_unlock(hashtext(%s))", (_LOCK_PREFIX + schema,)
                )
                connection.commit()

    def _insert_events(
        self,
        curs: Any,
        stored_events: Sequence[StoredEvent],
        **kwargs: Any,
    ) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        changes: IndexChanges | None = kwargs.get("index_changes")
        if changes is not None:
            schema = self.datastore.schema
            for statement, params in changes.statements:
                curs.execute(to_postgres(statement, schema), params)
            if changes.audit_entry is not None:
                references = stored_event_references(stored_events)
                append_entries(
                    postgres_executor(curs, schema),
                    lambda: postgres_row(curs.fetchone()),
                    [(changes.audit_entry, references)],
                )


class KeyLedgerPostgresFactory(PostgresFactory):
    application_recorder_class = KeyLedgerPostgresRecorder
