"""``keyledger audit verify`` and ``public-key`` on a real server's store.

The server signs a digest every second (``--audit-digest-interval 1``). The
tests drive it with boto3, change its database directly in the tamper tests,
and run the commands as an auditor would, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.conftest import keyledger_command

FAST_DIGESTS = ["--audit-digest-interval", "1"]


def run_audit(server: Any, *arguments: str) -> subprocess.CompletedProcess[str]:
    """Run ``keyledger audit ...`` with the server's store flags."""
    command = [*keyledger_command(), "audit", *arguments]
    command += ["--data-dir", str(server.data_dir)]
    if server.database_url:
        command += ["--database-url", server.database_url]
    environment = {**os.environ}
    environment.pop("KEYLEDGER_ROOT_KEY", None)
    return subprocess.run(
        command, capture_output=True, text=True, timeout=120, env=environment
    )


def verify_json(server: Any, *arguments: str) -> tuple[int, dict[str, Any]]:
    result = run_audit(server, "verify", "--format", "json", *arguments)
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def change(reader: Any, statement: str, params: tuple[Any, ...] = ()) -> None:
    """Write to the server's database directly, committing the change."""
    if reader.is_postgres:
        # The reader's PostgreSQL connection runs in autocommit mode.
        reader.query(statement, params)
        return
    connection = sqlite3.connect(reader.sqlite_path, timeout=30)
    try:
        connection.execute(statement, params)
        connection.commit()
    finally:
        connection.close()


def head_seq(reader: Any) -> int:
    return int(reader.query("SELECT seq FROM keyledger_audit_head WHERE id = 1")[0][0])


def wait_for_signed_head(reader: Any, timeout: float = 20.0) -> int:
    """Wait until a digest covers the chain head; return the head's number."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        head = head_seq(reader)
        signed = reader.query("SELECT MAX(last_seq) FROM keyledger_audit_digests")
        if head > 0 and signed[0][0] == head:
            return head
        time.sleep(0.2)
    pytest.fail("no digest covered the chain head in time")


def make_traffic(kms: Any) -> str:
    key_id: str = kms.create_key(Description="audited")["KeyMetadata"]["KeyId"]
    kms.create_alias(
        AliasName=f"alias/audited-{uuid.uuid4().hex[:8]}", TargetKeyId=key_id
    )
    for _ in range(3):
        blob = kms.encrypt(KeyId=key_id, Plaintext=b"secret")["CiphertextBlob"]
        kms.decrypt(CiphertextBlob=blob)
    kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "team", "TagValue": "audit"}])
    kms.disable_key(KeyId=key_id)
    with pytest.raises(ClientError):
        kms.encrypt(KeyId=key_id, Plaintext=b"refused")
    return key_id


@pytest.fixture
def audited(fresh_server_factory: Callable[..., Any], store_reader: Any) -> Any:
    """A dev-clock server with traffic whose whole trail is signed."""
    server = fresh_server_factory(extra_args=[*FAST_DIGESTS, "--dev-clock"])
    kms = server.client()
    key_id = make_traffic(kms)
    reader = store_reader(server)
    wait_for_signed_head(reader)
    server.key_id = key_id
    server.reader = reader
    return server


def test_real_trail_verifies_while_server_runs(audited: Any) -> None:
    kms = audited.client()
    doomed = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.schedule_key_deletion(KeyId=doomed, PendingWindowInDays=7)
    # The sweep deletes the key at the end of its waiting period and records
    # it as a service event with the key's lifecycle events.
    response = httpx.post(
        audited.endpoint + "/_keyledger/dev-clock",
        json={"Seconds": 8 * 86400},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    head = wait_for_signed_head(audited.reader)
    stored_events = audited.reader.query(
        f"SELECT COUNT(*) FROM {audited.reader.events_table}"
    )[0][0]

    status, report = verify_json(audited)

    assert status == 0, report
    assert report["intact"] is True
    assert report["problem"] is None
    assert report["recordsChecked"] == head
    assert report["lastSignedSeq"] == head
    assert report["digestsChecked"] >= 1
    assert report["eventsChecked"] == stored_events


def test_text_output_names_checked_range(audited: Any) -> None:
    head = head_seq(audited.reader)

    result = run_audit(audited, "verify")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Audit trail intact: records 1-{head} verified")


def test_public_key_verifies_out_of_band(audited: Any, tmp_path: Any) -> None:
    first = run_audit(audited, "public-key")
    second = run_audit(audited, "public-key")
    key_file = tmp_path / "audit-public-key.pem"
    key_file.write_text(first.stdout)

    status, report = verify_json(audited, "--public-key", str(key_file))

    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("-----BEGIN PUBLIC KEY-----\n")
    assert first.stdout.rstrip().endswith("-----END PUBLIC KEY-----")
    assert second.stdout == first.stdout
    assert status == 0, report
    assert report["intact"] is True


def test_edited_record_exits_1(audited: Any) -> None:
    change(
        audited.reader,
        "UPDATE keyledger_audit SET record = replace(record, 'audited', 'innocent')"
        " WHERE seq = 1",
    )

    result = run_audit(audited, "verify")

    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.startswith("Audit trail tampered: record 1 was changed.")


def test_deleted_record_exits_1(audited: Any) -> None:
    change(audited.reader, "DELETE FROM keyledger_audit WHERE seq = 3")

    status, report = verify_json(audited)

    assert status == 1
    assert report["intact"] is False
    assert report["problem"]["kind"] == "record_missing"
    assert report["problem"]["message"] == "record 3 is missing"


def test_edited_key_event_exits_1(audited: Any) -> None:
    reader = audited.reader
    key = reader.originator_id(audited.key_id)
    table = reader.events_table
    state = reader.query(
        f"SELECT state FROM {table} WHERE originator_id = ? AND originator_version = 1",
        (key,),
    )[0][0]
    changed = bytes(state).replace(b"audited", b"innocent")
    assert changed != bytes(state)
    change(
        reader,
        f"UPDATE {table} SET state = ? WHERE originator_id = ?"
        " AND originator_version = 1",
        (changed, key),
    )

    status, report = verify_json(audited)

    assert status == 1
    assert report["problem"]["kind"] == "event_changed"
    assert report["problem"]["event"] == f"{audited.key_id}/1"


def test_tail_cut_is_caught_only_before_last_digest(audited: Any) -> None:
    reader = audited.reader
    signed = head_seq(reader)
    # Restart with an interval long enough that the next records stay unsigned.
    audited.stop()
    audited.extra_args = ["--audit-digest-interval", "3600"]
    audited.start()
    kms = audited.client()
    # Records that save no lifecycle event: a cut that removed a key's events'
    # records would leave the events unreferenced, and be caught by that.
    kms.describe_key(KeyId=audited.key_id)
    kms.list_keys()
    audited.stop()
    unsigned_head = head_seq(reader)
    assert unsigned_head > signed

    before = run_audit(audited, "verify")
    cut_after(reader, signed)
    after_digest = run_audit(audited, "verify")
    cut_after(reader, signed - 2)
    before_digest = run_audit(audited, "verify")

    assert before.returncode == 0
    assert (
        f"Records {signed + 1}-{unsigned_head} come after the last signed digest"
        in (before.stdout)
    )
    # The documented window: a cut after the last digest goes unnoticed.
    assert after_digest.returncode == 0, after_digest.stdout
    assert before_digest.returncode == 1
    assert (
        f"records after {signed - 2} are missing: signed digest" in before_digest.stdout
    )


def cut_after(reader: Any, seq: int) -> None:
    """Delete the records after ``seq`` and move the chain head back to it."""
    change(reader, "DELETE FROM keyledger_audit WHERE seq > ?", (seq,))
    hashed = reader.query("SELECT hash FROM keyledger_audit WHERE seq = ?", (seq,))
    change(
        reader,
        "UPDATE keyledger_audit_head SET seq = ?, hash = ? WHERE id = 1",
        (seq, hashed[0][0]),
    )


def test_usage_errors_exit_2(audited: Any, tmp_path: Any) -> None:
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("not a key")

    reversed_range = run_audit(audited, "verify", "--from-seq", "5", "--to-seq", "2")
    missing_file = run_audit(audited, "verify", "--public-key", str(tmp_path / "none"))
    bad_key = run_audit(audited, "verify", "--public-key", str(not_pem))
    bad_format = run_audit(audited, "verify", "--format", "xml")

    assert reversed_range.returncode == 2
    assert "--from-seq 5 is after --to-seq 2" in reversed_range.stderr
    assert missing_file.returncode == 2
    assert "cannot read" in missing_file.stderr
    assert bad_key.returncode == 2
    assert "not a PEM public key" in bad_key.stderr
    assert bad_format.returncode == 2


def test_digest_interval_below_one_second_is_rejected() -> None:
    result = subprocess.run(
        [*keyledger_command(), "serve", "--audit-digest-interval", "0.5"],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2
    assert "--audit-digest-interval" in result.stderr
