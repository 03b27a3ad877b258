"""The shared store: the eventsourcing library's PostgreSQL persistence."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresFactory

from events.projection import CREATE_TABLES, IndexChanges

_LOCK_PREFIX = "keyledger.create_table:"
_TABLE_NAME = re.compile(
    r"\bkeyledger_(keys|aliases|sealing_keys|rotation_schedule|material_expiry"
    r"|root_key_check|grants)\b(?!_)"
)


@lru_cache(maxsize=256)
def to_postgres(statement: str, schema: str) -> str:
    """Rewrite a lookup-table statement for PostgreSQL: schema and placeholders."""
    qualified = _TABLE_NAME.sub(f'"{schema}".keyledger_\\1', statement)
    return qualified.replace("?", "%s")


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
                    for statement in CREATE_TABLES["postgres"]:
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


class KeyLedgerPostgresFactory(PostgresFactory):
    application_recorder_class = KeyLedgerPostgresRecorder
