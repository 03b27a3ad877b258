"""The shared store: the eventsourcing library's PostgreSQL persistence."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresFactory

from events.projection import CREATE_TABLES, IndexChanges

_TABLE_NAME = re.compile(r"\bkeyledger_(keys|aliases|sealing_keys)\b(?!_)")


@lru_cache(maxsize=256)
def to_postgres(statement: str, schema: str) -> str:
    """Rewrite a lookup-table statement for PostgreSQL: schema and placeholders."""
    qualified = _TABLE_NAME.sub(f'"{schema}".keyledger_\\1', statement)
    return qualified.replace("?", "%s")


class KeyLedgerPostgresRecorder(PostgresApplicationRecorder):
    """Appends events and, in the same transaction, the lookup-table writes."""

    def create_table(self) -> None:
        super().create_table()
        schema = self.datastore.schema
        with self.datastore.transaction(commit=True) as curs:
            for statement in CREATE_TABLES["postgres"]:
                curs.execute(to_postgres(statement, schema))

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
