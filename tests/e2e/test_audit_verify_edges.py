"""``keyledger audit verify`` on the edges: rows past the chain's end, stores
older than the trail, empty ranges, a mistyped store, and damaged tables.

Found by trying to fool the verifier as an auditor would.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.conftest import keyledger_command
from tests.e2e.test_audit_verify import FAST_DIGESTS, change, run_audit, verify_json


def test_record_past_the_chain_head_is_reported(
    fresh_server_factory: Any, store_reader: Any
) -> None:
    server = fresh_server_factory(extra_args=FAST_DIGESTS)
    kms = server.client()
    kms.create_key()
    server.stop()
    reader = store_reader(server)
    head = reader.query("SELECT seq FROM keyledger_audit_head WHERE id = 1")[0][0]
    change(
        reader,
        "INSERT INTO keyledger_audit (seq, event_id, event_time, account_id, region,"
        " event_name, principal_arn, key_id, error_code, record, event_hashes,"
        " prev_hash, hash) SELECT seq + 1, 'forged', event_time, account_id, region,"
        " event_name, principal_arn, key_id, error_code, record, event_hashes, hash,"
        " 'ab' FROM keyledger_audit WHERE seq = ?",
        (head,),
    )

    status, report = verify_json(server)

    assert status == 1
    assert report["problem"]["kind"] == "record_inserted"
    assert report["problem"]["seq"] == head + 1


def test_store_older_than_the_trail_verifies_after_a_start(
    fresh_server_factory: Any, store_reader: Any
) -> None:
    server = fresh_server_factory()
    kms = server.client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "a", "TagValue": "b"}])
    server.stop()
    reader = store_reader(server)
    # Make it a store from before the audit trail: events and no records.
    change(reader, "DELETE FROM keyledger_audit")
    change(reader, "DELETE FROM keyledger_audit_digests")
    change(
        reader,
        "UPDATE keyledger_audit_head SET seq = 0, hash = "
        "'0000000000000000000000000000000000000000000000000000000000000000'",
    )

    server.start()
    server.client().describe_key(KeyId=key_id)
    server.stop()
    status, report = verify_json(server)
    names = [
        row[0]
        for row in reader.query("SELECT event_name FROM keyledger_audit ORDER BY seq")
    ]

    assert status == 0, report
    assert names[0] == "AdoptExistingEvents"
    assert names[-1] == "DescribeKey"


def test_range_past_the_last_record_checks_nothing(fresh_server_factory: Any) -> None:
    server = fresh_server_factory()
    server.client().create_key()
    server.stop()

    status, report = verify_json(server, "--from-seq", "100")

    assert status == 0
    assert report["recordsChecked"] == 0
    assert report["intact"] is True


def test_mistyped_store_is_an_error_and_creates_nothing(tmp_path: Path) -> None:
    class Missing:
        data_dir = tmp_path / "no-such-store"
        database_url = None

    for command in ("verify", "public-key", "export"):
        extra = ["--to", str(tmp_path / "out")] if command == "export" else []
        result = run_audit(Missing(), command, *extra)

        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert "no KeyLedger store" in result.stderr
    assert not (tmp_path / "no-such-store").exists()


def test_event_state_edited_as_text_is_a_changed_event(
    fresh_server_factory: Any, store_reader: Any
) -> None:
    server = fresh_server_factory()
    server.client().create_key(Description="before")
    server.stop()
    reader = store_reader(server)
    if reader.is_postgres:
        change(
            reader,
            f"UPDATE {reader.events_table} SET state = state || '\\x20'::bytea",
        )
    else:
        change(reader, "UPDATE stored_events SET state = CAST(state AS TEXT) || ' '")

    status, report = verify_json(server)

    assert status == 1
    assert report["problem"]["kind"] == "event_changed"


def test_deleted_newest_digests_are_caught_with_expect_digest(
    fresh_server_factory: Any, store_reader: Any
) -> None:
    server = fresh_server_factory(extra_args=FAST_DIGESTS)
    kms = server.client()
    kms.create_key()
    deadline = time.monotonic() + 20
    reader = store_reader(server)
    while time.monotonic() < deadline:
        if reader.query("SELECT COUNT(*) FROM keyledger_audit_digests")[0][0]:
            break
        time.sleep(0.2)
    server.stop()
    status, report = verify_json(server)
    newest = report["newestDigest"]
    change(reader, "DELETE FROM keyledger_audit_digests WHERE number = ?", (newest,))

    unaware, _ = verify_json(server)
    status_after, after = verify_json(server, "--expect-digest", str(newest))

    assert status == 0
    assert newest >= 1
    # Without the number noted earlier, a deleted newest digest leaves no gap.
    assert unaware == 0
    assert status_after == 1
    assert after["problem"]["kind"] == "digests_missing"


def test_closed_output_is_not_a_verified_trail(fresh_server_factory: Any) -> None:
    server = fresh_server_factory()
    server.client().create_key()
    command = [*keyledger_command(), "audit", "verify", "--data-dir"]
    command.append(str(server.data_dir))
    if server.database_url:
        command += ["--database-url", server.database_url]
    reader, writer = os.pipe()
    os.close(reader)

    try:
        result = subprocess.run(
            command, stdout=writer, stderr=subprocess.PIPE, text=True, timeout=120
        )
    finally:
        os.close(writer)

    assert result.returncode == 2
    assert "standard output was closed" in result.stderr
    assert "cannot open the store" not in result.stderr
    assert "Traceback" not in result.stderr
