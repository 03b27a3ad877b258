"""Crypto-shredding, checked in the raw database files.

A key's material rests only sealed, under a sealing key that is itself
stored wrapped by the root key. Deleting the key erases the wrapped sealing
key, so the sealed material left in the append-only log can no longer be
opened, even by someone holding the root key and a copy of the database.

The tests fix the crypto service's randomness so they know the plaintext
key material, the sealing key and the wrapped sealing key, then search every
byte of the database files for them.
"""

from __future__ import annotations

import base64
import logging
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import events.store
from domain.crypto import CryptoService, MaterialBinding
from domain.key import Key
from events.projection import SealingKeyRow
from events.store import SQLITE_FILE_NAME, Store
from events.vault import KeyMaterialUnavailable, KeyMaterialVault

ACCOUNT = "111122223333"
REGION = "us-east-1"
ROOT_KEY = bytes(range(100, 132))
NOW = datetime(2030, 1, 15, 9, 30, tzinfo=UTC)
DUE = NOW + timedelta(days=7)
CONTEXT = {"Department": "Finance"}
BYSTANDERS = 12


@dataclass
class SealedKey:
    """A key saved through the vault, with the secrets its randomness made."""

    key: Key
    row: SealingKeyRow
    material: bytes
    sealing_key: bytes

    @property
    def secrets(self) -> dict[str, bytes]:
        wrapped = self.row.wrapped_sealing_key
        return {
            "key material": self.material,
            "sealing key": self.sealing_key,
            "wrapped sealing key": wrapped,
            # Without its nonce, in case the nonce were ever stored apart.
            "wrapped sealing key body": wrapped[12:],
        }


def create_sealed_key(
    store: Store, vault: KeyMaterialVault, crypto: CryptoService, random: Any
) -> SealedKey:
    """Create and save a key through the vault, as CreateKey does."""
    first_output = len(random.outputs)
    key_id = str(uuid.uuid4())
    key_material_id, sealed, row = vault.seal_new_material(ACCOUNT, REGION, key_id)
    outputs = random.outputs[first_output:]

    # seal_new_material draws, in order: the key material id, the key
    # material, the sealing key, the sealing nonce and the wrapping nonce.
    # The checks below prove which output is which instead of trusting it.
    assert [len(output) for output in outputs] == [32, 32, 32, 12, 12]
    assert outputs[0].hex() == key_material_id
    material, sealing_key = outputs[1], outputs[2]
    binding = MaterialBinding(ACCOUNT, REGION, key_id, key_material_id)
    assert crypto.open(base64.b64decode(sealed), sealing_key, binding) == material
    assert crypto.unwrap_sealing_key(ROOT_KEY, row.wrapped_sealing_key, binding) == (
        sealing_key
    )

    key = Key.create(
        key_id=key_id,
        account_id=ACCOUNT,
        region=REGION,
        description="",
        tags={},
        key_material_id=key_material_id,
        sealed_key_material=sealed,
        now=NOW,
    )
    store.save(key, sealing_keys=[row])
    return SealedKey(key, row, material, sealing_key)


def delete_when_due(store: Store, key: Key) -> None:
    key.schedule_deletion(7, NOW)
    store.save(key)
    key.delete(DUE)
    store.save(key)


def encrypt_and_decrypt(vault: KeyMaterialVault, store: Store, key_id: str) -> None:
    key = store.load_key(key_id)
    assert key is not None
    opened = vault.opened(key, key.current_key_material_id)
    blob = opened.encrypt(b"payroll", CONTEXT, bytes(12))
    assert opened.decrypt(blob, CONTEXT) == b"payroll"


def assert_cannot_open(
    store: Store, crypto: CryptoService, sealed_key: SealedKey
) -> None:
    """A fresh vault, holding the root key, fails to open the deleted key's material."""
    key = store.load_key(sealed_key.key.key_id)
    assert key is not None
    key_material_id = sealed_key.row.key_material_id
    # The sealed material stays in the append-only log...
    assert key_material_id in key.key_materials
    assert store.wrapped_sealing_key(key_material_id) is None

    # ...but nothing in the store opens it any more.
    fresh_vault = KeyMaterialVault(store, crypto, ROOT_KEY)
    with pytest.raises(KeyMaterialUnavailable):
        fresh_vault.opened(key, key_material_id)


def files_containing(directory: Path, secret: bytes) -> list[str]:
    return sorted(
        path.name
        for path in directory.iterdir()
        if path.is_file() and secret in path.read_bytes()
    )


def make_crypto(recording_random: Callable[[bytes], Any]) -> tuple[CryptoService, Any]:
    random = recording_random(b"crypto-shredding")
    return CryptoService(random=random), random


# SQLite.


@pytest.mark.parametrize("build", ["build defaults", "lax build defaults"])
def test_sqlite_deletion_erases_sealing_key_from_every_file(
    tmp_path: Path,
    recording_random: Callable[[bytes], Any],
    monkeypatch: pytest.MonkeyPatch,
    build: str,
) -> None:
    if build == "lax build defaults":
        # Debian's SQLite already defaults to secure_delete=ON. On a build
        # that does not, only the store's own PRAGMA keeps deleted rows
        # from lingering in free space.
        connect = sqlite3.connect

        def lax_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
            connection = connect(*args, **kwargs)
            connection.execute("PRAGMA secure_delete=OFF")
            connection.execute("PRAGMA synchronous=NORMAL")
            return connection

        monkeypatch.setattr(sqlite3, "connect", lax_connect)
    data_dir = tmp_path / "data"
    store = Store(data_dir)
    try:
        crypto, random = make_crypto(recording_random)
        vault = KeyMaterialVault(store, crypto, ROOT_KEY)
        doomed = create_sealed_key(store, vault, crypto, random)
        bystanders = [
            create_sealed_key(store, vault, crypto, random) for _ in range(BYSTANDERS)
        ]
        encrypt_and_decrypt(vault, store, doomed.key.key_id)

        # The search must be able to find the wrapped sealing key before
        # deletion, or finding nothing afterwards would prove nothing.
        assert files_containing(data_dir, doomed.row.wrapped_sealing_key)
        assert files_containing(data_dir, doomed.material) == []
        assert files_containing(data_dir, doomed.sealing_key) == []

        delete_when_due(store, doomed.key)

        for name, secret in doomed.secrets.items():
            assert files_containing(data_dir, secret) == [], f"{name} left on disk"

        raw = sqlite3.connect(f"file:{data_dir / SQLITE_FILE_NAME}?mode=ro", uri=True)
        try:
            remaining = raw.execute(
                "SELECT key_material_id FROM keyledger_sealing_keys"
            ).fetchall()
        finally:
            raw.close()
        assert (doomed.row.key_material_id,) not in remaining
        assert len(remaining) == BYSTANDERS

        assert_cannot_open(store, crypto, doomed)
        for bystander in bystanders:
            assert files_containing(data_dir, bystander.row.wrapped_sealing_key)
            encrypt_and_decrypt(
                KeyMaterialVault(store, crypto, ROOT_KEY), store, bystander.key.key_id
            )
    finally:
        store.close()

    # Reopened from the files alone, the deleted key still cannot be opened.
    reopened = Store(data_dir)
    try:
        assert_cannot_open(reopened, crypto, doomed)
    finally:
        reopened.close()


def store_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "keyledger.store" and record.levelno >= logging.WARNING
    ]


@pytest.fixture
def short_lock_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cut the store's SQLite busy timeout to one second.

    A checkpoint blocked by a reader waits out the busy timeout (30 seconds
    in the store's settings) before it gives up. The outcome is the same
    after one second, and the test runs faster.
    """
    original = events.store.store_environment

    def environment(*args: Any, **kwargs: Any) -> dict[str, str]:
        settings = original(*args, **kwargs)
        settings["SQLITE_LOCK_TIMEOUT"] = "1"
        return settings

    monkeypatch.setattr(events.store, "store_environment", environment)


def test_sqlite_shred_blocked_by_reader_is_reported(
    tmp_path: Path,
    recording_random: Callable[[bytes], Any],
    caplog: pytest.LogCaptureFixture,
    short_lock_timeout: None,
) -> None:
    data_dir = tmp_path / "data"
    store = Store(data_dir)
    reader = sqlite3.connect(data_dir / SQLITE_FILE_NAME, isolation_level=None)
    try:
        crypto, random = make_crypto(recording_random)
        vault = KeyMaterialVault(store, crypto, ROOT_KEY)
        doomed = create_sealed_key(store, vault, crypto, random)
        # Another process sharing the file, in the middle of a read.
        reader.execute("BEGIN")
        reader.execute("SELECT COUNT(*) FROM keyledger_sealing_keys").fetchone()

        with caplog.at_level(logging.WARNING, logger="keyledger.store"):
            delete_when_due(store, doomed.key)

        left_in = files_containing(data_dir, doomed.row.wrapped_sealing_key)
        assert left_in == [] or store_warnings(caplog), (
            f"wrapped sealing key left in {left_in} with no warning logged"
        )
    finally:
        reader.close()
        store.close()


def test_sqlite_shred_after_reader_finishes_erases(
    tmp_path: Path,
    recording_random: Callable[[bytes], Any],
    short_lock_timeout: None,
) -> None:
    data_dir = tmp_path / "data"
    store = Store(data_dir)
    reader = sqlite3.connect(data_dir / SQLITE_FILE_NAME, isolation_level=None)
    try:
        crypto, random = make_crypto(recording_random)
        vault = KeyMaterialVault(store, crypto, ROOT_KEY)
        doomed = create_sealed_key(store, vault, crypto, random)
        reader.execute("BEGIN")
        reader.execute("SELECT COUNT(*) FROM keyledger_sealing_keys").fetchone()
        delete_when_due(store, doomed.key)
        reader.execute("ROLLBACK")

        store.shred()

        for name, secret in doomed.secrets.items():
            assert files_containing(data_dir, secret) == [], f"{name} left on disk"
    finally:
        reader.close()
        store.close()


# PostgreSQL.


def postgres_relation(connection: Any, schema: str) -> tuple[int, str]:
    row = connection.execute(
        "SELECT c.relfilenode, pg_relation_filepath(c.oid) FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = 'keyledger_sealing_keys'",
        (schema,),
    ).fetchone()
    return int(row[0]), str(row[1])


def readable_data_directory(connection: Any) -> Path | None:
    """The server's data directory, if this process can read its files."""
    try:
        directory = Path(connection.execute("SHOW data_directory").fetchone()[0])
    except Exception:
        return None
    base = directory / "base"
    try:
        next(base.iterdir(), None)
    except OSError:
        return None
    return directory


def transactions_holding_back_vacuum(connection: Any) -> list[tuple[Any, ...]]:
    """Other sessions whose open transaction stops VACUUM FULL dropping a dead row.

    Measured on PostgreSQL 15: an open transaction that has a transaction id
    keeps dead rows in every database of the cluster, and one that only has
    a snapshot keeps them in its own database.
    """
    rows: list[tuple[Any, ...]] = connection.execute(
        "SELECT pid, datname, backend_xid, backend_xmin FROM pg_stat_activity"
        " WHERE pid <> pg_backend_pid()"
        " AND (backend_xid IS NOT NULL"
        "      OR (backend_xmin IS NOT NULL AND datname = current_database()))"
    ).fetchall()
    return rows


def test_postgres_deletion_rewrites_the_sealing_key_table(
    scratch_postgres: Any,
    recording_random: Callable[[bytes], Any],
    tmp_path: Path,
) -> None:
    import psycopg

    connect_url = scratch_postgres.connect_url
    schema = scratch_postgres.schema
    store = Store(tmp_path / "data", scratch_postgres.store_url)
    try:
        crypto, random = make_crypto(recording_random)
        vault = KeyMaterialVault(store, crypto, ROOT_KEY)
        doomed = create_sealed_key(store, vault, crypto, random)
        bystanders = [
            create_sealed_key(store, vault, crypto, random) for _ in range(BYSTANDERS)
        ]
        encrypt_and_decrypt(vault, store, doomed.key.key_id)

        with psycopg.connect(connect_url, autocommit=True) as admin:
            before_node, before_path = postgres_relation(admin, schema)
            data_directory = readable_data_directory(admin)
            if data_directory is not None:
                # Flush shared buffers so the relation file contains the rows,
                # which proves the search below can find them.
                admin.execute("CHECKPOINT")
                before_bytes = (data_directory / before_path).read_bytes()
                assert doomed.row.wrapped_sealing_key in before_bytes
            blockers = transactions_holding_back_vacuum(admin)

        delete_when_due(store, doomed.key)

        with psycopg.connect(connect_url, autocommit=True) as admin:
            blockers += transactions_holding_back_vacuum(admin)
            after_node, after_path = postgres_relation(admin, schema)
            remaining = admin.execute(
                f'SELECT key_material_id FROM "{schema}".keyledger_sealing_keys'
            ).fetchall()
            if data_directory is not None:
                admin.execute("CHECKPOINT")

        assert (doomed.row.key_material_id,) not in remaining
        assert len(remaining) == BYSTANDERS
        # VACUUM FULL writes the table into a new file. A plain DELETE or
        # VACUUM would keep the old one, with the dead row still inside.
        assert after_node != before_node

        if data_directory is not None:
            after_bytes = (data_directory / after_path).read_bytes()
            if doomed.row.wrapped_sealing_key in after_bytes and blockers:
                # The known gap that the strict xfail below pins down: another
                # client's open transaction kept the dead row. Other test runs
                # on a shared server cause this, so it is no verdict on this run.
                pytest.xfail(
                    "VACUUM FULL kept the deleted row while other transactions "
                    f"were open: {blockers}"
                )
            for name, secret in doomed.secrets.items():
                assert secret not in after_bytes, f"{name} left in the table file"
            for bystander in bystanders:
                assert bystander.row.wrapped_sealing_key in after_bytes
            old_file = data_directory / before_path
            if old_file.exists():
                assert doomed.row.wrapped_sealing_key not in old_file.read_bytes()

        assert_cannot_open(store, crypto, doomed)
        for bystander in bystanders:
            encrypt_and_decrypt(
                KeyMaterialVault(store, crypto, ROOT_KEY), store, bystander.key.key_id
            )
    finally:
        store.close()


def test_postgres_shred_during_open_snapshot_is_reported(
    scratch_postgres: Any,
    recording_random: Callable[[bytes], Any],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    import psycopg

    connect_url = scratch_postgres.connect_url
    with psycopg.connect(connect_url, autocommit=True) as admin:
        data_directory = readable_data_directory(admin)
    if data_directory is None:
        pytest.skip("the PostgreSQL data directory is not readable by this process")
    store = Store(tmp_path / "data", scratch_postgres.store_url)
    # Any other client of the database in the middle of a transaction: a
    # second KeyLedger process, a backup, a report.
    other_client = psycopg.connect(connect_url)
    try:
        crypto, random = make_crypto(recording_random)
        vault = KeyMaterialVault(store, crypto, ROOT_KEY)
        doomed = create_sealed_key(store, vault, crypto, random)
        other_client.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        other_client.execute("SELECT txid_current()").fetchone()

        with caplog.at_level(logging.WARNING, logger="keyledger.store"):
            delete_when_due(store, doomed.key)

        with psycopg.connect(connect_url, autocommit=True) as admin:
            admin.execute("CHECKPOINT")
            _, path = postgres_relation(admin, scratch_postgres.schema)
        table_file = (data_directory / path).read_bytes()
        left_in_table = doomed.row.wrapped_sealing_key in table_file
        assert not left_in_table or store_warnings(caplog), (
            "wrapped sealing key left in the table file with no warning logged"
        )
    finally:
        other_client.rollback()
        other_client.close()
        store.close()
