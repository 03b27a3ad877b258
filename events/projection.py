"""Lookup tables kept beside the event log, written in the same transaction.

ListKeys, ListAliases, alias resolution and the sweep read these tables rather
than replaying every aggregate. Each save turns its pending domain events into
one :class:`IndexChanges`, which the recorder applies inside the transaction
that appends the events, so the tables are never behind the log.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from domain.alias import Alias
from domain.key import Key


@dataclass(frozen=True, slots=True)
class SealingKeyRow:
    key_material_id: str
    key_id: str
    wrapped_sealing_key: bytes


@dataclass(slots=True)
class IndexChanges:
    statements: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    shreds_key_material: bool = False
    """True when this save erases sealing keys, so the erasure must reach the disk."""


CREATE_TABLES = {
    "sqlite": [
        "CREATE TABLE IF NOT EXISTS keyledger_keys ("
        " position INTEGER PRIMARY KEY AUTOINCREMENT,"
        " key_id TEXT NOT NULL UNIQUE,"
        " account_id TEXT NOT NULL,"
        " region TEXT NOT NULL,"
        " deletion_due REAL)",
        "CREATE INDEX IF NOT EXISTS keyledger_keys_by_owner"
        " ON keyledger_keys (account_id, region, position)",
        "CREATE INDEX IF NOT EXISTS keyledger_keys_by_deletion_due"
        " ON keyledger_keys (deletion_due)",
        "CREATE TABLE IF NOT EXISTS keyledger_aliases ("
        " account_id TEXT NOT NULL,"
        " region TEXT NOT NULL,"
        " alias_name TEXT NOT NULL,"
        " target_key_id TEXT NOT NULL,"
        " creation_date REAL NOT NULL,"
        " last_updated_date REAL NOT NULL,"
        " PRIMARY KEY (account_id, region, alias_name))",
        "CREATE INDEX IF NOT EXISTS keyledger_aliases_by_target"
        " ON keyledger_aliases (target_key_id)",
        "CREATE TABLE IF NOT EXISTS keyledger_sealing_keys ("
        " key_material_id TEXT PRIMARY KEY,"
        " key_id TEXT NOT NULL,"
        " wrapped_sealing_key BLOB NOT NULL)",
        "CREATE INDEX IF NOT EXISTS keyledger_sealing_keys_by_key"
        " ON keyledger_sealing_keys (key_id)",
    ],
    "postgres": [
        "CREATE TABLE IF NOT EXISTS keyledger_keys ("
        " position BIGSERIAL PRIMARY KEY,"
        " key_id TEXT NOT NULL UNIQUE,"
        " account_id TEXT NOT NULL,"
        " region TEXT NOT NULL,"
        " deletion_due DOUBLE PRECISION)",
        "CREATE INDEX IF NOT EXISTS keyledger_keys_by_owner"
        " ON keyledger_keys (account_id, region, position)",
        "CREATE INDEX IF NOT EXISTS keyledger_keys_by_deletion_due"
        " ON keyledger_keys (deletion_due)",
        "CREATE TABLE IF NOT EXISTS keyledger_aliases ("
        " account_id TEXT NOT NULL,"
        " region TEXT NOT NULL,"
        " alias_name TEXT NOT NULL,"
        " target_key_id TEXT NOT NULL,"
        " creation_date DOUBLE PRECISION NOT NULL,"
        " last_updated_date DOUBLE PRECISION NOT NULL,"
        " PRIMARY KEY (account_id, region, alias_name))",
        "CREATE INDEX IF NOT EXISTS keyledger_aliases_by_target"
        " ON keyledger_aliases (target_key_id)",
        "CREATE TABLE IF NOT EXISTS keyledger_sealing_keys ("
        " key_material_id TEXT PRIMARY KEY,"
        " key_id TEXT NOT NULL,"
        " wrapped_sealing_key BYTEA NOT NULL)",
        "CREATE INDEX IF NOT EXISTS keyledger_sealing_keys_by_key"
        " ON keyledger_sealing_keys (key_id)",
    ],
}


def index_changes(
    aggregates: Iterable[Key | Alias], sealing_keys: Sequence[SealingKeyRow] = ()
) -> IndexChanges:
    """Translate the aggregates' pending events into writes to the lookup tables.

    Each aggregate's row is written from its state after the pending events,
    so a save with several events on one aggregate writes its row once.
    Statements use ``?`` placeholders; the PostgreSQL recorder rewrites them.
    """
    changes = IndexChanges()
    for row in sealing_keys:
        changes.statements.append(
            (
                "INSERT INTO keyledger_sealing_keys"
                " (key_material_id, key_id, wrapped_sealing_key) VALUES (?, ?, ?)",
                (row.key_material_id, row.key_id, row.wrapped_sealing_key),
            )
        )
    for aggregate in aggregates:
        if not aggregate.pending_events:
            continue
        if isinstance(aggregate, Key):
            _add_key_statements(aggregate, changes)
        else:
            _add_alias_statements(aggregate, changes)
    return changes


def _add_key_statements(key: Key, changes: IndexChanges) -> None:
    add = changes.statements.append
    pending = key.pending_events
    if key.deleted:
        add(("DELETE FROM keyledger_keys WHERE key_id = ?", (key.key_id,)))
        add(("DELETE FROM keyledger_sealing_keys WHERE key_id = ?", (key.key_id,)))
        changes.shreds_key_material = True
        return
    if any(isinstance(event, Key.KeyCreated) for event in pending):
        add(
            (
                "INSERT INTO keyledger_keys (key_id, account_id, region)"
                " VALUES (?, ?, ?)",
                (key.key_id, key.account_id, key.region),
            )
        )
    deletion_events = (Key.KeyDeletionScheduled, Key.KeyDeletionCancelled)
    if any(isinstance(event, deletion_events) for event in pending):
        due = key.deletion_date.timestamp() if key.deletion_date else None
        add(
            (
                "UPDATE keyledger_keys SET deletion_due = ? WHERE key_id = ?",
                (due, key.key_id),
            )
        )


def _add_alias_statements(alias: Alias, changes: IndexChanges) -> None:
    owner = (alias.account_id, alias.region, alias.alias_name)
    if alias.deleted:
        changes.statements.append(
            (
                "DELETE FROM keyledger_aliases"
                " WHERE account_id = ? AND region = ? AND alias_name = ?",
                owner,
            )
        )
        return
    changes.statements.append(
        (
            "INSERT INTO keyledger_aliases (account_id, region, alias_name,"
            " target_key_id, creation_date, last_updated_date)"
            " VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (account_id, region, alias_name) DO UPDATE SET"
            " target_key_id = excluded.target_key_id,"
            " creation_date = excluded.creation_date,"
            " last_updated_date = excluded.last_updated_date",
            (
                *owner,
                alias.target_key_id,
                alias.creation_date.timestamp(),
                alias.last_updated_date.timestamp(),
            ),
        )
    )
