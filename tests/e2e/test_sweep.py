"""Deletion at the end of the waiting period, done by the sweep with no request.

A server started with ``--dev-clock`` lets loopback clients move its clock
forward. The endpoint runs a sweep itself, so to show that the timer does
the work, the clock is moved to just short of the deletion date and the
remaining seconds pass in real time while no request reaches the server.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

DAY = 86400
# Seconds the deletion date stays ahead of the moved clock: long enough that
# the endpoint's own sweep finds nothing due, short enough to wait out.
MARGIN_SECONDS = 4
WAIT_FOR_SWEEP_SECONDS = 30


def advance_dev_clock(server: Any, seconds: float) -> httpx.Response:
    return httpx.post(
        server.endpoint + "/_keyledger/dev-clock", json={"Seconds": seconds}, timeout=30
    )


def error_code(call: Any, **params: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call(**params)
    return str(caught.value.response["Error"]["Code"])


def wait_for_topic(reader: Any, key_id: str, suffix: str) -> list[str]:
    """Poll the store until the key's events end with ``suffix``; return them."""
    deadline = time.monotonic() + WAIT_FOR_SWEEP_SECONDS
    topics = reader.event_topics(key_id)
    while not (topics and topics[-1].endswith(suffix)):
        if time.monotonic() > deadline:
            pytest.fail(
                f"no {suffix} event within {WAIT_FOR_SWEEP_SECONDS} s: {topics}"
            )
        time.sleep(0.2)
        topics = reader.event_topics(key_id)
    return topics


def wait_until_erased(reader: Any, wrapped_sealing_key: bytes) -> None:
    """Poll the database files until none contains ``wrapped_sealing_key``.

    The erasure is immediate unless another connection has an old read open,
    such as another process's reader or a long PostgreSQL transaction. Then a
    later sweep finishes it, so this waits a few sweep intervals.
    """
    deadline = time.monotonic() + WAIT_FOR_SWEEP_SECONDS
    while True:
        holding = [
            place
            for place, content in sealing_table_on_disk(reader).items()
            if wrapped_sealing_key in content
        ]
        if not holding:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"the erased sealing key is still in {holding}")
        time.sleep(0.5)


def sealing_key_rows(reader: Any, key_id: str) -> list[bytes]:
    rows = reader.query(
        "SELECT wrapped_sealing_key FROM keyledger_sealing_keys WHERE key_id = ?",
        (key_id,),
    )
    return [bytes(row[0]) for row in rows]


def sealing_table_on_disk(reader: Any) -> dict[str, bytes]:
    """The bytes of the files holding the sealing-key table, as the disk has them."""
    if not reader.is_postgres:
        return reader.raw_files()
    # CHECKPOINT and pg_read_binary_file need a superuser, which the suite's
    # default URL (user postgres) is. CHECKPOINT writes buffered pages out, so
    # the table's file contains every row.
    reader.query("CHECKPOINT")
    rows = reader.query(
        "SELECT pg_read_binary_file(pg_relation_filepath(?::regclass))",
        (f'"{reader.schema}".keyledger_sealing_keys',),
    )
    return {"keyledger_sealing_keys relation file": bytes(rows[0][0])}


def test_sweep_deletes_due_key_with_no_request(
    fresh_server_factory: Any, store_reader: Any
) -> None:
    server = fresh_server_factory(extra_args=["--dev-clock", "--sweep-interval", "1"])
    kms = server.client()
    key = kms.create_key()["KeyMetadata"]
    key_id = key["KeyId"]
    other_key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/swept", TargetKeyId=key_id)
    kms.create_alias(AliasName="alias/kept", TargetKeyId=other_key_id)
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"shredded soon")["CiphertextBlob"]
    reader = store_reader(server)
    [wrapped_sealing_key] = sealing_key_rows(reader, key_id)
    # The erasure check below means something only if the bytes were there.
    assert any(
        wrapped_sealing_key in content
        for content in sealing_table_on_disk(reader).values()
    )

    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    moved = advance_dev_clock(server, 7 * DAY - MARGIN_SECONDS)
    assert moved.status_code == 200, moved.text
    assert not reader.event_topics(key_id)[-1].endswith("KeyDeleted")

    topics = wait_for_topic(reader, key_id, "KeyDeleted")

    assert [t for t in topics if t.endswith("KeyDeleted")] == [topics[-1]]
    assert sealing_key_rows(reader, key_id) == []
    assert (
        reader.query("SELECT key_id FROM keyledger_keys WHERE key_id = ?", (key_id,))
        == []
    )
    assert (
        reader.query(
            "SELECT alias_name FROM keyledger_aliases WHERE target_key_id = ?",
            (key_id,),
        )
        == []
    )
    wait_until_erased(reader, wrapped_sealing_key)
    # Signed requests still work: SigV4 checks the wall clock, not the dev clock.
    assert error_code(kms.describe_key, KeyId=key_id) == "NotFoundException"
    assert error_code(kms.describe_key, KeyId="alias/swept") == "NotFoundException"
    aliases = [a["AliasName"] for a in kms.list_aliases()["Aliases"]]
    assert "alias/swept" not in aliases
    assert "alias/kept" in aliases
    assert [k["KeyId"] for k in kms.list_keys()["Keys"]] == [other_key_id]
    decrypt_error = error_code(kms.decrypt, CiphertextBlob=blob)
    assert decrypt_error in ("NotFoundException", "InvalidCiphertextException")
    assert error_code(kms.encrypt, KeyId=key_id, Plaintext=b"x") == "NotFoundException"
    assert error_code(kms.cancel_key_deletion, KeyId=key_id) == "NotFoundException"


HOLD_SQLITE_READ_SECONDS = 3


@contextmanager
def old_read_held_open(reader: Any) -> Iterator[None]:
    """Hold a read that began before the deletion, as a long report would.

    On PostgreSQL the read holds a snapshot but no lock on the sealing-key
    table, so the rewrite runs and has to keep the dead row. On SQLite the
    checkpoint waits for readers up to its busy timeout, so the read is
    released after a few seconds from another thread, while the sweep waits.
    """
    if reader.is_postgres:
        import psycopg

        base = reader.server.database_url.split("?", 1)[0]
        with psycopg.connect(base) as connection:
            connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            connection.execute("SELECT 1").fetchall()
            yield
            connection.rollback()
        return
    connection = sqlite3.connect(
        reader.sqlite_path, isolation_level=None, check_same_thread=False
    )
    connection.execute("BEGIN")
    connection.execute("SELECT count(*) FROM keyledger_sealing_keys").fetchall()
    release = threading.Timer(
        HOLD_SQLITE_READ_SECONDS, connection.execute, ("ROLLBACK",)
    )
    release.start()
    try:
        yield
    finally:
        release.join()
        connection.close()


def test_erasure_held_back_by_old_read_finishes_later(
    fresh_server_factory: Any, store_reader: Any
) -> None:
    server = fresh_server_factory(extra_args=["--dev-clock", "--sweep-interval", "1"])
    kms = server.client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    reader = store_reader(server)
    [wrapped_sealing_key] = sealing_key_rows(reader, key_id)
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)

    with old_read_held_open(reader):
        assert advance_dev_clock(server, 7 * DAY + 60).status_code == 200
        wait_for_topic(reader, key_id, "KeyDeleted")
        # Erased from the table at once, whatever the files still hold.
        assert sealing_key_rows(reader, key_id) == []
        if reader.is_postgres:
            # MVCC must keep the row for the open snapshot, so this test
            # shows the later sweep finishing the erasure.
            on_disk = sealing_table_on_disk(reader).values()
            assert any(wrapped_sealing_key in content for content in on_disk)

    wait_until_erased(reader, wrapped_sealing_key)


def test_swept_key_stays_deleted_after_restart(
    fresh_server_factory: Any, store_reader: Any
) -> None:
    server = fresh_server_factory(extra_args=["--dev-clock", "--sweep-interval", "1"])
    kms = server.client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    # The endpoint's own sweep deletes the key at once here.
    assert advance_dev_clock(server, 7 * DAY + 60).status_code == 200
    reader = store_reader(server)
    wait_for_topic(reader, key_id, "KeyDeleted")

    server.restart()

    kms = server.client()
    assert error_code(kms.describe_key, KeyId=key_id) == "NotFoundException"
    assert kms.list_keys()["Keys"] == []
    assert sum(t.endswith("KeyDeleted") for t in reader.event_topics(key_id)) == 1


def test_cancelled_deletion_is_not_swept(
    fresh_server_factory: Any, store_reader: Any
) -> None:
    server = fresh_server_factory(extra_args=["--dev-clock", "--sweep-interval", "1"])
    kms = server.client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    kms.cancel_key_deletion(KeyId=key_id)

    assert advance_dev_clock(server, 31 * DAY).status_code == 200

    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"
    assert not any(
        t.endswith("KeyDeleted") for t in store_reader(server).event_topics(key_id)
    )


# The dev-clock endpoint itself.


def test_dev_clock_refused_without_flag(fresh_server_factory: Any) -> None:
    server = fresh_server_factory()

    response = advance_dev_clock(server, 60)

    # The disabled endpoint answers as any unknown path: 400, not 404.
    assert response.status_code == 400
    assert response.json()["__type"] == "UnknownOperationException"
    assert response.headers["content-type"] == "application/x-amz-json-1.1"


@pytest.mark.parametrize(
    "body",
    [
        b'{"Seconds": -1}',
        b'{"Seconds": "soon"}',
        b"{}",
        b"[]",
        b"not json",
        b'{"Seconds": 1e308}',
    ],
    ids=["negative", "string", "missing", "array", "not-json", "huge"],
)
def test_dev_clock_rejects_invalid_step(fresh_server_factory: Any, body: bytes) -> None:
    server = fresh_server_factory(extra_args=["--dev-clock"])

    response = httpx.post(server.endpoint + "/_keyledger/dev-clock", content=body)

    assert response.status_code == 400
    assert response.json()["__type"] == "ValidationException"
    assert "Traceback" not in response.text


def test_dev_clock_start_is_logged_loudly(fresh_server_factory: Any) -> None:
    server = fresh_server_factory(extra_args=["--dev-clock"])

    assert "DEV CLOCK ON" in server.log_text()


# Catch-up and concurrent sweeps, in process: the dev clock's offset lives in
# one process's memory, so a restarted server cannot be shown a later time
# through the endpoint without the endpoint sweeping first.


def in_process_services(server: Any, sweep_interval: float = 3600) -> tuple[Any, Any]:
    from domain.clock import AdjustableClock
    from functions.services import build_services
    from functions.settings import Settings

    settings = Settings(
        data_dir=Path(server.data_dir),
        database_url=server.database_url,
        sweep_interval=sweep_interval,
    )
    clock = AdjustableClock()
    return build_services(settings, clock=clock), clock


def test_restarted_server_catches_up_on_first_sweep(
    fresh_server_factory: Any, store_reader: Any
) -> None:
    from functions.app import create_app

    server = fresh_server_factory()
    kms = server.client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/caught-up", TargetKeyId=key_id)
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    server.stop()
    services, clock = in_process_services(server, sweep_interval=3600)
    clock.advance(timedelta(days=7, minutes=1))
    reader = store_reader(server)

    app = create_app(services)

    async def serve_no_requests() -> list[str]:
        # The app's lifespan starts the sweep timer; no request is sent.
        async with app.router.lifespan_context(app):
            return await asyncio.to_thread(wait_for_topic, reader, key_id, "KeyDeleted")

    try:
        topics = asyncio.run(serve_no_requests())
    finally:
        services.close()

    assert sum(t.endswith("KeyDeleted") for t in topics) == 1
    assert sealing_key_rows(reader, key_id) == []
    assert reader.query("SELECT alias_name FROM keyledger_aliases") == []


def test_two_sweepers_at_once_delete_each_key_once(
    fresh_server_factory: Any, store_reader: Any
) -> None:
    from functions.sweep import run_sweep

    server = fresh_server_factory()
    kms = server.client()
    key_ids = [kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(6)]
    for key_id in key_ids:
        kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    server.stop()
    sweepers = [in_process_services(server) for _ in range(2)]
    for _, clock in sweepers:
        clock.advance(timedelta(days=7, minutes=1))
    start = threading.Barrier(len(sweepers))
    deleted: list[list[str]] = [[] for _ in sweepers]

    def sweep(index: int) -> None:
        services = sweepers[index][0]
        start.wait()
        deleted[index] = run_sweep(services).deleted_key_ids

    try:
        threads = [
            threading.Thread(target=sweep, args=(i,)) for i in range(len(sweepers))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for services, _ in sweepers:
            services.close()

    assert sorted(deleted[0] + deleted[1]) == sorted(key_ids)
    reader = store_reader(server)
    for key_id in key_ids:
        assert sum(t.endswith("KeyDeleted") for t in reader.event_topics(key_id)) == 1
