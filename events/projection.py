"""Lookup tables kept beside the event log, written in the same transaction.

ListKeys, ListAliases, ListRetirableGrants, alias resolution and the sweep
read these tables rather
than replaying every aggregate. Each save turns its pending domain events into
one :class:`IndexChanges`, which the recorder applies inside the transaction
that appends the events, so the tables are never behind the log.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.alias import Alias
from domain.key import Key
from domain.key_import import wrapping_key_sealing_id
from domain.key_state import KeyState
from events.audit import AuditEntry


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
    audit_entry: AuditEntry | None = None
    """The record of the request that made these changes, chained in the same
    transaction with the hashes of the events it wrote."""


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
        # The root key check: one row that only the right root key reproduces.
        "CREATE TABLE IF NOT EXISTS keyledger_root_key_check ("
        " id INTEGER PRIMARY KEY CHECK (id = 1),"
        " check_value BLOB NOT NULL)",
        # Rotation: keys whose automatic rotation is on, while they are enabled.
        "CREATE TABLE IF NOT EXISTS keyledger_rotation_schedule ("
        " key_id TEXT PRIMARY KEY,"
        " rotation_due REAL NOT NULL)",
        "CREATE INDEX IF NOT EXISTS keyledger_rotation_schedule_by_due"
        " ON keyledger_rotation_schedule (rotation_due)",
        # Imported key material: what the sweep erases when it expires, key
        # material at its ValidTo and unused wrapping keys after 24 hours,
        # by the id of its row in keyledger_sealing_keys.
        "CREATE TABLE IF NOT EXISTS keyledger_material_expiry ("
        " key_material_id TEXT PRIMARY KEY,"
        " key_id TEXT NOT NULL,"
        " expiry_due REAL NOT NULL)",
        "CREATE INDEX IF NOT EXISTS keyledger_material_expiry_by_due"
        " ON keyledger_material_expiry (expiry_due)",
        "CREATE INDEX IF NOT EXISTS keyledger_material_expiry_by_key"
        " ON keyledger_material_expiry (key_id)",
        # Grants that name a retiring principal, for ListRetirableGrants, in
        # creation order.
        "CREATE TABLE IF NOT EXISTS keyledger_grants ("
        " position INTEGER PRIMARY KEY AUTOINCREMENT,"
        " grant_id TEXT NOT NULL UNIQUE,"
        " key_id TEXT NOT NULL,"
        " region TEXT NOT NULL,"
        " retiring_principal TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS keyledger_grants_by_retiring_principal"
        " ON keyledger_grants (retiring_principal, region, position)",
        "CREATE INDEX IF NOT EXISTS keyledger_grants_by_key"
        " ON keyledger_grants (key_id)",
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
        # The root key check: one row that only the right root key reproduces.
        "CREATE TABLE IF NOT EXISTS keyledger_root_key_check ("
        " id INTEGER PRIMARY KEY CHECK (id = 1),"
        " check_value BYTEA NOT NULL)",
        # Rotation: keys whose automatic rotation is on, while they are enabled.
        "CREATE TABLE IF NOT EXISTS keyledger_rotation_schedule ("
        " key_id TEXT PRIMARY KEY,"
        " rotation_due DOUBLE PRECISION NOT NULL)",
        "CREATE INDEX IF NOT EXISTS keyledger_rotation_schedule_by_due"
        " ON keyledger_rotation_schedule (rotation_due)",
        # Imported key material: see the SQLite statements.
        "CREATE TABLE IF NOT EXISTS keyledger_material_expiry ("
        " key_material_id TEXT PRIMARY KEY,"
        " key_id TEXT NOT NULL,"
        " expiry_due DOUBLE PRECISION NOT NULL)",
        "CREATE INDEX IF NOT EXISTS keyledger_material_expiry_by_due"
        " ON keyledger_material_expiry (expiry_due)",
        "CREATE INDEX IF NOT EXISTS keyledger_material_expiry_by_key"
        " ON keyledger_material_expiry (key_id)",
        # Grants: see the SQLite statements.
        "CREATE TABLE IF NOT EXISTS keyledger_grants ("
        " position BIGSERIAL PRIMARY KEY,"
        " grant_id TEXT NOT NULL UNIQUE,"
        " key_id TEXT NOT NULL,"
        " region TEXT NOT NULL,"
        " retiring_principal TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS keyledger_grants_by_retiring_principal"
        " ON keyledger_grants (retiring_principal, region, position)",
        "CREATE INDEX IF NOT EXISTS keyledger_grants_by_key"
        " ON keyledger_grants (key_id)",
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
        add(_rotation_schedule_deletion(key))
        add(("DELETE FROM keyledger_material_expiry WHERE key_id = ?", (key.key_id,)))
        add(("DELETE FROM keyledger_grants WHERE key_id = ?", (key.key_id,)))
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
    _add_rotation_statements(key, changes)
    _add_import_statements(key, changes)
    _add_grant_statements(key, changes)


# Rotation.

# Events after which a key's row in keyledger_rotation_schedule may change:
# rotation turned on or off, a rotation, and every change of key state, since
# the sweep rotates only enabled keys.
_ROTATION_SCHEDULE_EVENTS = (
    Key.KeyRotationEnabled,
    Key.KeyRotationDisabled,
    Key.KeyMaterialRotated,
    Key.KeyEnabled,
    Key.KeyDisabled,
    Key.KeyDeletionScheduled,
    Key.KeyDeletionCancelled,
)


def _add_rotation_statements(key: Key, changes: IndexChanges) -> None:
    """Keep a key in the rotation schedule exactly while the sweep may rotate it."""
    if not any(isinstance(e, _ROTATION_SCHEDULE_EVENTS) for e in key.pending_events):
        return
    due = key.next_rotation_date
    if not key.rotation_enabled or due is None or key.state is not KeyState.ENABLED:
        changes.statements.append(_rotation_schedule_deletion(key))
        return
    changes.statements.append(
        (
            "INSERT INTO keyledger_rotation_schedule (key_id, rotation_due)"
            " VALUES (?, ?)"
            " ON CONFLICT (key_id) DO UPDATE SET"
            " rotation_due = excluded.rotation_due",
            (key.key_id, due.timestamp()),
        )
    )


def _rotation_schedule_deletion(key: Key) -> tuple[str, tuple[Any, ...]]:
    return (
        "DELETE FROM keyledger_rotation_schedule WHERE key_id = ?",
        (key.key_id,),
    )


# Imported key material.


def _add_import_statements(key: Key, changes: IndexChanges) -> None:
    """Schedule expiries, and erase the sealing keys of destroyed secrets.

    Deleted or expired key material and spent wrapping keys lose their
    sealing key in the same transaction as the event that destroys them, and
    the save then pushes the erasure to the disk.
    """
    for event in key.pending_events:
        if isinstance(event, Key.ImportParametersIssued):
            _schedule_expiry(
                changes,
                wrapping_key_sealing_id(event.parameters_id),
                key.key_id,
                event.valid_to,
            )
        elif isinstance(event, Key.KeyMaterialImported):
            _erase(changes, wrapping_key_sealing_id(event.parameters_id))
            if event.valid_to is None:
                _cancel_expiry(changes, event.key_material_id)
            else:
                _schedule_expiry(
                    changes, event.key_material_id, key.key_id, event.valid_to
                )
        elif isinstance(
            event, Key.ImportedKeyMaterialDeleted | Key.ImportedKeyMaterialExpired
        ):
            _erase(changes, event.key_material_id)
        elif isinstance(event, Key.ImportParametersExpired):
            _erase(changes, wrapping_key_sealing_id(event.parameters_id))


def _schedule_expiry(
    changes: IndexChanges, sealing_id: str, key_id: str, due: datetime
) -> None:
    changes.statements.append(
        (
            "INSERT INTO keyledger_material_expiry (key_material_id, key_id,"
            " expiry_due) VALUES (?, ?, ?)"
            " ON CONFLICT (key_material_id) DO UPDATE SET"
            " expiry_due = excluded.expiry_due",
            (sealing_id, key_id, due.timestamp()),
        )
    )


def _cancel_expiry(changes: IndexChanges, sealing_id: str) -> None:
    changes.statements.append(
        (
            "DELETE FROM keyledger_material_expiry WHERE key_material_id = ?",
            (sealing_id,),
        )
    )


def _erase(changes: IndexChanges, sealing_id: str) -> None:
    """Crypto-shred one key material or wrapping key: erase its sealing key."""
    changes.statements.append(
        (
            "DELETE FROM keyledger_sealing_keys WHERE key_material_id = ?",
            (sealing_id,),
        )
    )
    _cancel_expiry(changes, sealing_id)
    changes.shreds_key_material = True


# Grants.


def _add_grant_statements(key: Key, changes: IndexChanges) -> None:
    """Keep the grants that name a retiring principal in keyledger_grants."""
    for event in key.pending_events:
        if isinstance(event, Key.GrantCreated):
            if event.retiring_principal is None:
                continue
            changes.statements.append(
                (
                    "INSERT INTO keyledger_grants (grant_id, key_id, region,"
                    " retiring_principal) VALUES (?, ?, ?, ?)",
                    (event.grant_id, key.key_id, key.region, event.retiring_principal),
                )
            )
        elif isinstance(event, Key.GrantRetired | Key.GrantRevoked):
            changes.statements.append(
                ("DELETE FROM keyledger_grants WHERE grant_id = ?", (event.grant_id,))
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
