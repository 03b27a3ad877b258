"""How the store opens its database: SQLite connection settings, database URLs.

PRAGMA values: ``synchronous`` FULL is 2 and ``secure_delete`` ON is 1
(SQLite documentation, "Pragma statements supported by SQLite").
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from domain.key import Key
from events.store import (
    SQLITE_FILE_NAME,
    InvalidDatabaseUrl,
    Store,
    describe_store,
    store_environment,
)

SYNCHRONOUS_FULL = 2
SECURE_DELETE_ON = 1


def sqlite_settings(connection: Any) -> tuple[int, int, str]:
    synchronous = connection.execute("PRAGMA synchronous").fetchone()[0]
    secure_delete = connection.execute("PRAGMA secure_delete").fetchone()[0]
    journal_mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
    return synchronous, secure_delete, journal_mode


@pytest.fixture(params=["build defaults", "lax build defaults"])
def sqlite_store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Any:
    """A SQLite store, also on a simulated build whose defaults are unsafe.

    Some SQLite builds (Debian's among them) already default to
    ``synchronous=FULL`` and ``secure_delete=ON``, so on them a check of the
    values alone could not fail. The lax variant opens every connection with
    ``synchronous=NORMAL`` and ``secure_delete=OFF``, as other builds do, and
    the store must still end up with the safe values.
    """
    if request.param == "lax build defaults":
        connect = sqlite3.connect

        def lax_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
            connection = connect(*args, **kwargs)
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA secure_delete=OFF")
            return connection

        monkeypatch.setattr(sqlite3, "connect", lax_connect)
    store = Store(tmp_path / "data")
    yield store
    store.close()


def test_every_pooled_connection_is_durable_and_erasing(sqlite_store: Store) -> None:
    # Hold several connections at once, so the pool has to open new ones
    # rather than hand back the same connection each time.
    pool = sqlite_store._datastore.pool
    readers = [pool.get_connection(is_writer=False) for _ in range(6)]
    writer = pool.get_connection(is_writer=True)
    connections = [*readers, writer]
    try:
        raw_connections = {id(c._sqlite_conn): c._sqlite_conn for c in connections}
        assert len(raw_connections) == len(connections)
        for raw in raw_connections.values():
            assert sqlite_settings(raw) == (SYNCHRONOUS_FULL, SECURE_DELETE_ON, "wal")
    finally:
        for connection in connections:
            pool.put_connection(connection)


def test_lookup_reads_use_durable_connections(sqlite_store: Store) -> None:
    # The connections the store reads its lookup tables through, from several
    # threads at once, as a server's worker threads would.
    seen: list[tuple[int, int, str]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def read() -> None:
        try:
            barrier.wait(timeout=10)
            with sqlite_store._sqlite_cursor() as cursor:
                seen.append(sqlite_settings(cursor.connection))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert seen == [(SYNCHRONOUS_FULL, SECURE_DELETE_ON, "wal")] * 4


def test_connections_opened_after_writes_are_durable(sqlite_store: Store) -> None:
    key = Key.create(
        key_id=str(uuid.uuid4()),
        account_id="111122223333",
        region="us-east-1",
        description="",
        tags={},
        key_material_id="ab" * 32,
        sealed_key_material="c2VhbGVk",
        now=datetime(2030, 1, 1, tzinfo=UTC),
    )
    sqlite_store.save(key)
    assert sqlite_store.list_keys("111122223333", "us-east-1", 0, 10)

    idle = list(sqlite_store._datastore.pool._pool)

    assert idle
    for connection in idle:
        assert sqlite_settings(connection._sqlite_conn) == (
            SYNCHRONOUS_FULL,
            SECURE_DELETE_ON,
            "wal",
        )


def test_sqlite_store_file_location(tmp_path: Path) -> None:
    environment = store_environment(tmp_path, None)

    assert environment["SQLITE_DBNAME"] == str(tmp_path / SQLITE_FILE_NAME)
    assert describe_store(tmp_path, None) == f"sqlite:{tmp_path / SQLITE_FILE_NAME}"


def test_postgres_url_is_split_into_settings(tmp_path: Path) -> None:
    environment = store_environment(
        tmp_path, "postgresql://kl%40user:p%40ss@db.internal:6543/kms?schema=tenant_a"
    )

    assert environment["POSTGRES_DBNAME"] == "kms"
    assert environment["POSTGRES_HOST"] == "db.internal"
    assert environment["POSTGRES_PORT"] == "6543"
    assert environment["POSTGRES_USER"] == "kl@user"
    assert environment["POSTGRES_PASSWORD"] == "p@ss"
    assert environment["POSTGRES_SCHEMA"] == "tenant_a"


def test_store_description_hides_the_password(tmp_path: Path) -> None:
    text = describe_store(tmp_path, "postgresql://user:s3cret@db.internal:6543/kms")

    assert "s3cret" not in text
    assert text == "postgresql://db.internal:6543/kms"


@pytest.mark.parametrize(
    "url",
    [
        "mysql://user@127.0.0.1/kms",
        "sqlite:///tmp/kms.db",
        "postgresql://user@127.0.0.1",
        "postgresql://user@127.0.0.1/",
    ],
)
def test_unusable_database_url_is_rejected(tmp_path: Path, url: str) -> None:
    with pytest.raises(InvalidDatabaseUrl):
        store_environment(tmp_path, url)
