"""Opening an existing SQLite store takes no write lock.

Audit commands open the store while the server commits many times a second.
Creating tables in a deferred transaction asked for the write lock after
reading the schema, which SQLite refuses at once when another connection has
committed in between, so opening failed with "database is locked" under load.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from events.store import SQLITE_FILE_NAME, Store


def test_existing_store_opens_while_lock_held(tmp_path: Path) -> None:
    Store(tmp_path).close()
    other = sqlite3.connect(tmp_path / SQLITE_FILE_NAME, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        store = Store(tmp_path)
        waited = time.monotonic() - started
        store.close()
    finally:
        other.execute("ROLLBACK")
        other.close()

    assert waited < 5


def test_missing_index_is_created_on_open(tmp_path: Path) -> None:
    Store(tmp_path).close()
    database = sqlite3.connect(tmp_path / SQLITE_FILE_NAME, isolation_level=None)
    database.execute("DROP INDEX keyledger_audit_by_time")

    Store(tmp_path).close()

    rows = database.execute(
        "SELECT name FROM sqlite_master WHERE name = 'keyledger_audit_by_time'"
    ).fetchall()
    database.close()
    assert rows == [("keyledger_audit_by_time",)]


def test_new_store_has_audit_head(tmp_path: Path) -> None:
    store = Store(tmp_path)

    rows = store.read("SELECT seq FROM keyledger_audit_head", ())
    store.close()

    assert [row["seq"] for row in rows] == [0]
