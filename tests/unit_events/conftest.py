"""Fixtures for the store tests: one fresh database per test, on each backend.

``database`` is parametrized over ``KEYLEDGER_TEST_BACKENDS`` (SQLite and
PostgreSQL by default). A PostgreSQL database is a schema of its own, made
for the test and dropped after it. The suite's ``postgres_url`` fixture
fails the test under CI when PostgreSQL is down.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from domain.key import Key
from events.projection import SealingKeyRow
from events.store import Store

BACKENDS = [
    name.strip()
    for name in os.environ.get("KEYLEDGER_TEST_BACKENDS", "sqlite,postgres").split(",")
    if name.strip()
]
ACCOUNT = "111122223333"
REGION = "us-east-1"
NOW = datetime(2030, 1, 15, 9, 30, tzinfo=UTC)


@dataclass
class StoreDatabase:
    """One empty database, whose Stores are all closed after the test."""

    backend: str
    data_dir: Path
    database_url: str | None = None
    schema: str | None = None
    opened: list[Store] = field(default_factory=list)

    def open(self) -> Store:
        store = Store(self.data_dir, self.database_url)
        self.opened.append(store)
        return store


def _with_schema(url: str, schema: str) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}schema={schema}"


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreDatabase]:
    backend: str = request.param
    data_dir = tmp_path / "data"
    if backend == "sqlite":
        result = StoreDatabase(backend, data_dir)
    elif backend == "postgres":
        import psycopg

        base_url: str = request.getfixturevalue("postgres_url")
        schema = f"kl_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(base_url, autocommit=True) as connection:
            connection.execute(f'CREATE SCHEMA "{schema}"')
        result = StoreDatabase(
            backend, data_dir, _with_schema(base_url, schema), schema
        )
    else:
        pytest.fail(f"unknown backend {backend!r} in KEYLEDGER_TEST_BACKENDS")

    yield result

    for store in result.opened:
        store.close()
    if result.schema:
        import psycopg

        with psycopg.connect(base_url, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{result.schema}" CASCADE')


@pytest.fixture
def selected_postgres_url(request: pytest.FixtureRequest) -> str:
    """The PostgreSQL URL for a PostgreSQL-only test, unless the run excludes it."""
    if "postgres" not in BACKENDS:
        pytest.skip("KEYLEDGER_TEST_BACKENDS excludes postgres")
    url: str = request.getfixturevalue("postgres_url")
    return url


@dataclass(frozen=True)
class ScratchDatabase:
    """A PostgreSQL database made for one test, with an empty schema in it."""

    store_url: str
    """The URL to open a Store on, naming the schema."""
    connect_url: str
    """The URL to connect to with psycopg, which takes no schema parameter."""
    schema: str


@pytest.fixture
def scratch_postgres(selected_postgres_url: str) -> Iterator[ScratchDatabase]:
    """A PostgreSQL database made for this test alone, dropped after it.

    VACUUM FULL keeps every row version that a transaction in the same
    database might still see, so a test that checks what it erases needs a
    database no other client uses. A schema in the shared database is not
    enough, because other test runs there keep transactions open.
    """
    import psycopg

    name = f"kl_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(selected_postgres_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    connect_url = urlunsplit(urlsplit(selected_postgres_url)._replace(path=f"/{name}"))
    with psycopg.connect(connect_url, autocommit=True) as connection:
        connection.execute('CREATE SCHEMA "keyledger"')

    yield ScratchDatabase(
        _with_schema(connect_url, "keyledger"), connect_url, "keyledger"
    )

    with psycopg.connect(selected_postgres_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def store(database: StoreDatabase) -> Store:
    return database.open()


@pytest.fixture
def create_key() -> Callable[..., tuple[Key, SealingKeyRow]]:
    """Return a function that creates and saves a key with a stand-in sealing key.

    The sealed material and wrapped sealing key are placeholders, so tests that
    need real ones go through the vault.
    """

    def create(
        store: Store,
        account_id: str = ACCOUNT,
        region: str = REGION,
        now: datetime = NOW,
        **fields: Any,
    ) -> tuple[Key, SealingKeyRow]:
        key_id = str(uuid.uuid4())
        key_material_id = hashlib.sha256(key_id.encode()).hexdigest()
        row = SealingKeyRow(key_material_id, key_id, b"wrapped:" + key_id.encode())
        key = Key.create(
            key_id=key_id,
            account_id=account_id,
            region=region,
            description=fields.get("description", ""),
            tags=fields.get("tags", {}),
            key_material_id=key_material_id,
            sealed_key_material=fields.get("sealed_key_material", "c2VhbGVk"),
            now=now,
        )
        store.save(key, sealing_keys=[row])
        return key, row

    return create


class RecordingRandom:
    """A deterministic random source that keeps every output it returned.

    Tests read back the key material and sealing key a CryptoService drew, so
    they can look for those exact bytes in the database files.
    """

    def __init__(self, seed: bytes) -> None:
        self._seed = seed
        self.outputs: list[bytes] = []

    def __call__(self, length: int) -> bytes:
        output = b""
        block = 0
        while len(output) < length:
            output += hashlib.sha256(
                self._seed
                + len(self.outputs).to_bytes(8, "big")
                + block.to_bytes(4, "big")
            ).digest()
            block += 1
        output = output[:length]
        self.outputs.append(output)
        return output


@pytest.fixture
def recording_random() -> Callable[[bytes], RecordingRandom]:
    return RecordingRandom
