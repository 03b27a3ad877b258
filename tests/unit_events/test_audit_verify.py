"""Tamper detection of the audit trail, on a store changed directly in SQL.

Each test builds a trail in-process (records through Store.append_audit,
lifecycle events saved with their record), signs digests, then changes the
database the way an attacker with write access could, and checks what
verify_trail reports. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from domain.crypto import CryptoService
from domain.key import Key
from events.audit import AuditEntry, canonical_json, chain_hash, current_source
from events.audit_digests import digest_document
from events.audit_signing import (
    AuditSigner,
    SigningKeyMismatch,
    load_public_key,
    public_key_fingerprint,
    public_key_pem,
)
from events.audit_tampering import Problem
from events.audit_verification import verify_trail
from events.projection import SealingKeyRow
from events.store import SQLITE_FILE_NAME, Store

from .conftest import ACCOUNT, BACKENDS, REGION, StoreDatabase

PRINCIPAL = f"arn:aws:iam::{ACCOUNT}:user/auditor"
START = datetime(2030, 1, 15, 9, 30, tzinfo=UTC)
ROOT_KEY = bytes(range(32))
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def make_entry(number: int, event_name: str = "Encrypt", key_id: str | None = None):
    """A record whose indexed columns agree with its CloudTrail-shaped JSON."""
    moment = START + timedelta(seconds=number)
    event_id = str(uuid.UUID(int=number))
    resources = []
    if key_id is not None:
        arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}"
        resources.append({"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": arn})
    record = {
        "eventVersion": "1.08",
        "eventID": event_id,
        "eventName": event_name,
        "eventTime": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "awsRegion": REGION,
        "recipientAccountId": ACCOUNT,
        "userIdentity": {"type": "IAMUser", "arn": PRINCIPAL},
        "resources": resources,
    }
    return AuditEntry(
        event_id=event_id,
        event_time=moment.timestamp(),
        account_id=ACCOUNT,
        region=REGION,
        event_name=event_name,
        principal_arn=PRINCIPAL,
        key_id=key_id,
        error_code=None,
        record=canonical_json(record),
    )


class OneRecord:
    """An audit source that commits one given record with the next save."""

    def __init__(self, entry: AuditEntry) -> None:
        self._entry = entry

    def entry_for_save(self, aggregates: Sequence[Any]) -> AuditEntry | None:
        return self._entry

    def committed(self, entry: AuditEntry) -> None:
        pass


@contextmanager
def recorded_as(entry: AuditEntry) -> Iterator[None]:
    token = current_source.set(OneRecord(entry))
    try:
        yield
    finally:
        current_source.reset(token)


@dataclass
class Trail:
    """A trail of 122 records and two signed digests over a store.

    Records 1-51 are under digest 1 (record 1 creates the key), records
    52-102 under digest 2 (record 102 disables it), records 103-122 are
    after the last digest.
    """

    database: StoreDatabase
    store: Store
    signer: AuditSigner
    key: Key
    next_number: int = 1

    def append(self, count: int) -> None:
        entries = [make_entry(self.next_number + index) for index in range(count)]
        self.store.append_audit(entries)
        self.next_number += count

    def save_key(self, event_name: str, sealing: Sequence[SealingKeyRow] = ()) -> None:
        entry = make_entry(self.next_number, event_name, self.key.key_id)
        with recorded_as(entry):
            self.store.save(self.key, sealing_keys=sealing)
        self.next_number += 1

    def sign(self) -> None:
        moment = START + timedelta(minutes=self.next_number)
        digest = self.signer.sign_digest(moment, 60)
        assert digest is not None

    def verify(self, **options: Any) -> Any:
        public_key = self.signer.private_key().public_key()
        return verify_trail(self.store, public_key, page_size=17, **options)

    def problem(self, **options: Any) -> Problem:
        """Verify, and return the problem found; the trail must not verify."""
        report = self.verify(**options)
        assert report.problem is not None, "the trail verified as intact"
        problem: Problem = report.problem
        return problem

    # Changing the database directly.

    def sql(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return run_sql(self.database, statement, params)

    def row(self, seq: int) -> dict[str, Any]:
        columns = (
            "seq, event_id, event_time, account_id, region, event_name,"
            " principal_arn, key_id, error_code, record, event_hashes, prev_hash, hash"
        )
        rows = self.sql(f"SELECT {columns} FROM keyledger_audit WHERE seq = ?", (seq,))
        names = [name.strip() for name in columns.split(",")]
        return dict(zip(names, rows[0], strict=True))

    def edit_record(self, seq: int) -> None:
        """Turn an Encrypt record into a Decrypt one, column and JSON alike."""
        self.sql(
            "UPDATE keyledger_audit SET event_name = 'Decrypt',"
            " record = replace(record, 'Encrypt', 'Decrypt') WHERE seq = ?",
            (seq,),
        )

    def recompute_chain_from(self, seq: int) -> None:
        """Rewrite every hash from ``seq`` on, and the head, as an attacker would."""
        previous = self.row(seq - 1)["hash"] if seq > 1 else "0" * 64
        last = self.sql("SELECT MAX(seq) FROM keyledger_audit")[0][0]
        for current in range(seq, last + 1):
            row = self.row(current)
            hashed = chain_hash(previous, current, row["record"], row["event_hashes"])
            self.sql(
                "UPDATE keyledger_audit SET prev_hash = ?, hash = ? WHERE seq = ?",
                (previous, hashed, current),
            )
            previous = hashed
        self.sql(
            "UPDATE keyledger_audit_head SET seq = ?, hash = ? WHERE id = 1",
            (last, previous),
        )

    def cut_after(self, seq: int) -> None:
        """Delete the records after ``seq`` and move the head back to it."""
        self.sql("DELETE FROM keyledger_audit WHERE seq > ?", (seq,))
        self.sql(
            "UPDATE keyledger_audit_head SET seq = ?, hash = ? WHERE id = 1",
            (seq, self.row(seq)["hash"]),
        )

    def events_table(self) -> str:
        return (
            "keyledger_events"
            if self.database.backend == "postgres"
            else ("stored_events")
        )

    def originator_id(self) -> Any:
        key_uuid = uuid.UUID(self.key.key_id)
        return key_uuid if self.database.backend == "postgres" else key_uuid.hex


def run_sql(
    database: StoreDatabase, statement: str, params: Sequence[Any] = ()
) -> list[tuple[Any, ...]]:
    """Run one statement, written with ``?`` placeholders, outside the Store."""
    if database.backend == "postgres":
        import psycopg

        base = str(database.database_url).split("?", 1)[0]
        with psycopg.connect(base, autocommit=True) as connection:
            connection.execute(f'SET search_path TO "{database.schema}"')
            cursor = connection.execute(statement.replace("?", "%s"), tuple(params))
            return (
                [tuple(row) for row in cursor.fetchall()] if cursor.description else []
            )
    connection = sqlite3.connect(database.data_dir / SQLITE_FILE_NAME, timeout=30)
    try:
        cursor = connection.execute(statement, tuple(params))
        rows = [tuple(row) for row in cursor.fetchall()]
        connection.commit()
        return rows
    finally:
        connection.close()


def new_key(store: Store, entry_number: int) -> Key:
    key_id = str(uuid.UUID(int=10**6 + entry_number))
    material_id = hashlib.sha256(key_id.encode()).hexdigest()
    key = Key.create(
        key_id=key_id,
        account_id=ACCOUNT,
        region=REGION,
        description="before",
        tags={},
        key_material_id=material_id,
        sealed_key_material="c2VhbGVk",
        now=START,
    )
    row = SealingKeyRow(material_id, key_id, b"wrapped:" + key_id.encode())
    with recorded_as(make_entry(entry_number, "CreateKey", key_id)):
        store.save(key, sealing_keys=[row])
    return key


@pytest.fixture
def trail(database: StoreDatabase) -> Trail:
    store = database.open()
    signer = AuditSigner(store, CryptoService(), ROOT_KEY)
    key = new_key(store, 1)
    built = Trail(database, store, signer, key, next_number=2)
    built.append(50)
    built.sign()
    built.append(50)
    built.key.disable(START + timedelta(hours=1))
    built.save_key("DisableKey")
    built.sign()
    built.append(20)
    return built


# A clean trail.


def test_clean_trail_verifies(trail: Trail) -> None:
    report = trail.verify()

    assert report.problem is None
    assert report.intact
    assert report.whole_trail
    assert report.records_checked == 122
    assert report.digests_checked == 2
    assert report.events_checked == 2
    assert report.last_signed_seq == 102


def test_one_row_pages_verify_the_same(trail: Trail) -> None:
    public_key = trail.signer.private_key().public_key()

    report = verify_trail(trail.store, public_key, page_size=1)

    assert report.intact
    assert report.records_checked == 122
    assert report.events_checked == 2


def test_digests_chain_by_previous_signature(trail: Trail) -> None:
    rows = trail.sql(
        "SELECT number, first_seq, last_seq, document, signature"
        " FROM keyledger_audit_digests ORDER BY number"
    )
    first, second = (json.loads(row[3]) for row in rows)

    assert [row[:3] for row in rows] == [(1, 1, 51), (2, 52, 102)]
    assert first["previousDigestSignature"] is None
    assert second["previousDigestSignature"] == rows[0][4]
    assert second["lastHash"] == trail.row(102)["hash"]
    assert second["digestSignatureAlgorithm"] == "Ed25519"


def test_digest_signature_checks_with_public_key_alone(trail: Trail) -> None:
    pem = trail.signer.public_key_pem()
    public_key = load_public_key(pem)

    report = verify_trail(trail.store, public_key)

    assert report.intact
    assert report.digests_checked == 2


def test_range_checks_only_its_records(trail: Trail) -> None:
    report = trail.verify(from_seq=60, to_seq=70)

    assert report.intact
    assert not report.whole_trail
    assert report.first_seq == 60
    # The walk runs on to the end of digest 2 to compare its hash.
    assert report.last_seq == 102
    assert report.records_checked == 43


def test_range_catches_change_inside_it(trail: Trail) -> None:
    trail.edit_record(65)

    problem = trail.problem(from_seq=60, to_seq=70)

    assert problem.message == "record 65 was changed"


# Records changed, removed, inserted, reordered.


def test_edited_record_is_named(trail: Trail) -> None:
    trail.edit_record(30)

    problem = trail.problem()

    assert problem.kind == "record_changed"
    assert problem.seq == 30
    assert problem.message == "record 30 was changed"


@pytest.mark.parametrize(
    ("seq", "digest_number", "message"),
    [
        (30, 1, "records 1-51 do not match signed digest 1"),
        (80, 2, "records 52-102 do not match signed digest 2"),
    ],
)
def test_edit_with_recomputed_chain_fails_signed_digest(
    trail: Trail, seq: int, digest_number: int, message: str
) -> None:
    trail.edit_record(seq)
    trail.recompute_chain_from(seq)

    problem = trail.problem()

    assert problem.kind == "digest_mismatch"
    assert problem.digest_number == digest_number
    assert problem.message == message


def test_unsigned_rewrite_goes_undetected(
    trail: Trail,
) -> None:
    # The documented window: nothing signed covers records after the last
    # digest, so a rewrite of them with a recomputed chain verifies.
    trail.edit_record(110)
    trail.recompute_chain_from(110)

    report = trail.verify()

    assert report.intact


def test_edit_of_last_record_without_head_is_caught(trail: Trail) -> None:
    trail.edit_record(122)
    row = trail.row(122)
    rehashed = chain_hash(row["prev_hash"], 122, row["record"], row["event_hashes"])
    trail.sql("UPDATE keyledger_audit SET hash = ? WHERE seq = 122", (rehashed,))

    problem = trail.problem()

    assert problem.message == (
        "record 122 was changed: the chain head does not match it"
    )


def test_deleted_record_is_missing(trail: Trail) -> None:
    trail.sql("DELETE FROM keyledger_audit WHERE seq = 30")

    problem = trail.problem()

    assert problem.kind == "record_missing"
    assert problem.message == "record 30 is missing"


def test_deleted_records_are_named_as_range(trail: Trail) -> None:
    trail.sql("DELETE FROM keyledger_audit WHERE seq >= 30 AND seq <= 33")

    problem = trail.problem()

    assert problem.message == "records 30-33 are missing"


def test_inserted_record_is_named(trail: Trail) -> None:
    # Make room at 30 by moving every later record up by one, then insert a
    # forged record that links to record 29 and hashes correctly itself.
    trail.sql("UPDATE keyledger_audit SET seq = -(seq + 1) WHERE seq >= 30")
    trail.sql("UPDATE keyledger_audit SET seq = -seq WHERE seq < 0")
    forged = make_entry(9999)
    previous = trail.row(29)["hash"]
    hashed = chain_hash(previous, 30, forged.record, "[]")
    trail.sql(
        "INSERT INTO keyledger_audit (seq, event_id, event_time, account_id, region,"
        " event_name, principal_arn, key_id, error_code, record, event_hashes,"
        " prev_hash, hash) VALUES (30, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, '[]', ?, ?)",
        (
            forged.event_id,
            forged.event_time,
            ACCOUNT,
            REGION,
            "Encrypt",
            PRINCIPAL,
            forged.record,
            previous,
            hashed,
        ),
    )

    problem = trail.problem()

    assert problem.kind == "record_inserted"
    assert problem.message == "record 30 was inserted"


def test_swapped_records_are_reordered(trail: Trail) -> None:
    first, second = trail.row(30), trail.row(31)
    columns = [name for name in first if name != "seq"]
    assignments = ", ".join(f"{name} = ?" for name in columns)
    for seq, source in ((30, second), (31, first)):
        values = [source[name] for name in columns]
        trail.sql(
            f"UPDATE keyledger_audit SET {assignments} WHERE seq = ?", (*values, seq)
        )

    problem = trail.problem()

    assert problem.kind == "record_reordered"
    assert problem.message == "record 30 was inserted or reordered"


def test_changed_column_is_caught(trail: Trail) -> None:
    # The key_id column is not hashed, but queries filter on it.
    trail.sql(
        "UPDATE keyledger_audit SET key_id = ? WHERE seq = 102",
        (str(uuid.uuid4()),),
    )

    problem = trail.problem()

    assert problem.seq == 102
    assert problem.message == (
        "record 102 was changed: its key_id column does not match the chained record"
    )


# The tail.


def test_tail_cut_before_last_digest_is_caught(trail: Trail) -> None:
    trail.cut_after(80)

    problem = trail.problem()

    assert problem.kind == "records_missing"
    assert problem.message == (
        "records after 80 are missing: signed digest 2 covers up to 102"
    )


def test_tail_cut_without_moving_head_is_caught(trail: Trail) -> None:
    trail.sql("DELETE FROM keyledger_audit WHERE seq > 110")

    problem = trail.problem()

    assert problem.message == (
        "records after 110 are missing: the chain head is at 122"
    )


def test_tail_cut_after_last_digest_goes_undetected(trail: Trail) -> None:
    trail.cut_after(102)

    report = trail.verify()

    assert report.intact
    assert report.records_checked == 102
    docs = (PROJECT_ROOT / "docs" / "audit.md").read_text()
    assert "after the last signed digest" in docs


# Digests and the signing key.


def test_deleted_digest_is_missing(trail: Trail) -> None:
    trail.sql("DELETE FROM keyledger_audit_digests WHERE number = 1")

    problem = trail.problem()

    assert problem.kind == "digest_missing"
    assert problem.message == "signed digest 1 is missing"


def test_changed_digest_document_has_invalid_signature(trail: Trail) -> None:
    trail.sql(
        "UPDATE keyledger_audit_digests SET document = replace(document,"
        " '\"lastSequenceNumber\":51', '\"lastSequenceNumber\":50') WHERE number = 1"
    )

    problem = trail.problem()

    assert problem.kind == "digest_invalid"
    assert problem.message == "signed digest 1 has an invalid signature"


def test_digest_column_changed_is_caught(trail: Trail) -> None:
    trail.sql("UPDATE keyledger_audit_digests SET last_seq = 50 WHERE number = 1")

    problem = trail.problem()

    assert problem.message == (
        "signed digest 1 was changed: its lastSequenceNumber does not match its "
        "columns or the digest before it"
    )


def test_resigned_digests_fail_auditor_key(trail: Trail) -> None:
    auditor_copy = load_public_key(trail.signer.public_key_pem())
    forger = Ed25519PrivateKey.generate()
    resign_digests(trail, forger)

    report = verify_trail(trail.store, auditor_copy)

    assert report.problem is not None
    assert report.problem.message == "signed digest 1 has an invalid signature"


def test_replaced_public_key_is_caught_with_root_key(trail: Trail) -> None:
    forger = Ed25519PrivateKey.generate()
    resign_digests(trail, forger)
    fresh_signer = AuditSigner(trail.store, CryptoService(), ROOT_KEY)

    with pytest.raises(SigningKeyMismatch, match="public key was replaced"):
        fresh_signer.private_key()


def test_signing_key_opens_only_under_its_root_key(trail: Trail) -> None:
    other_root = bytes(32)
    signer = AuditSigner(trail.store, CryptoService(), other_root)

    with pytest.raises(SigningKeyMismatch, match="does not open under the root key"):
        signer.private_key()


def resign_digests(trail: Trail, forger: Ed25519PrivateKey) -> None:
    """Replace the stored public key and re-sign every digest with ``forger``."""
    pem = public_key_pem(forger.public_key())
    trail.sql(
        "UPDATE keyledger_audit_signing_key SET public_key = ? WHERE id = 1", (pem,)
    )
    rows = trail.sql(
        "SELECT number, first_seq, last_seq, last_hash, created"
        " FROM keyledger_audit_digests ORDER BY number"
    )
    previous = None
    for number, first_seq, last_seq, last_hash, created in rows:
        document = digest_document(
            number=number,
            first_seq=first_seq,
            last_seq=last_seq,
            last_hash=last_hash,
            created=created,
            previous_signature=previous,
            fingerprint=public_key_fingerprint(forger.public_key()),
        )
        signature = base64.b64encode(forger.sign(document.encode())).decode()
        trail.sql(
            "UPDATE keyledger_audit_digests SET document = ?, signature = ?"
            " WHERE number = ?",
            (document, signature, number),
        )
        previous = signature


# Lifecycle events in the key's own stream.


def test_edited_lifecycle_event_is_caught(trail: Trail) -> None:
    table = trail.events_table()
    state = trail.sql(
        f"SELECT state FROM {table} WHERE originator_id = ? AND originator_version = 1",
        (trail.originator_id(),),
    )[0][0]
    changed = bytes(state).replace(b"before", b"altered")
    assert changed != bytes(state)
    trail.sql(
        f"UPDATE {table} SET state = ? WHERE originator_id = ?"
        " AND originator_version = 1",
        (changed, trail.originator_id()),
    )

    problem = trail.problem()

    assert problem.kind == "event_changed"
    assert problem.seq == 1
    assert problem.message == (
        f"stored event {trail.key.key_id}/1 was changed (record 1 names it)"
    )


def test_event_inserted_into_key_stream_is_caught(trail: Trail) -> None:
    table = trail.events_table()
    topic, state = trail.sql(
        f"SELECT topic, state FROM {table} WHERE originator_id = ?"
        " AND originator_version = 2",
        (trail.originator_id(),),
    )[0]
    trail.sql(
        f"INSERT INTO {table} (originator_id, originator_version, topic, state)"
        " VALUES (?, 3, ?, ?)",
        (trail.originator_id(), topic, bytes(state)),
    )

    problem = trail.problem()

    assert problem.kind == "event_unreferenced"
    assert problem.message == (
        f"stored event {trail.key.key_id}/3 is not in the audit trail: it was "
        "inserted into the key's stream directly"
    )


def test_deleted_lifecycle_event_is_caught(trail: Trail) -> None:
    trail.sql(
        f"DELETE FROM {trail.events_table()} WHERE originator_id = ?"
        " AND originator_version = 2",
        (trail.originator_id(),),
    )

    problem = trail.problem()

    assert problem.kind == "event_missing"
    assert problem.seq == 102


# Signing.


def test_digest_waits_for_interval(trail: Trail) -> None:
    last = trail.sql("SELECT created FROM keyledger_audit_digests WHERE number = 2")
    created = datetime.fromtimestamp(last[0][0], UTC)

    too_soon = trail.signer.sign_digest(created + timedelta(seconds=59), 60)
    due = trail.signer.sign_digest(created + timedelta(seconds=60), 60)

    assert too_soon is None
    assert due is not None
    assert (due.number, due.first_seq, due.last_seq) == (3, 103, 122)


def test_no_digest_without_new_records(trail: Trail) -> None:
    trail.signer.sign_digest(START + timedelta(days=1), 60)

    again = trail.signer.sign_digest(START + timedelta(days=2), 60)

    assert again is None


def test_racing_processes_create_one_signing_key(database: StoreDatabase) -> None:
    stores = [database.open(), database.open()]
    signers = [AuditSigner(store, CryptoService(), ROOT_KEY) for store in stores]
    barrier = threading.Barrier(len(signers))
    keys: list[str] = []

    def create(signer: AuditSigner) -> None:
        barrier.wait()
        keys.append(signer.public_key_pem())

    threads = [threading.Thread(target=create, args=(signer,)) for signer in signers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    stored = run_sql(database, "SELECT public_key FROM keyledger_audit_signing_key")
    assert len(keys) == 2
    assert keys[0] == keys[1]
    assert [row[0] for row in stored] == [keys[0]]


def test_signing_key_is_wrapped_not_plain(trail: Trail) -> None:
    private_key = trail.signer.private_key()
    raw = private_key.private_bytes_raw()
    wrapped = trail.sql("SELECT wrapped_private_key FROM keyledger_audit_signing_key")

    assert raw not in bytes(wrapped[0][0])


# A large trail.


@pytest.mark.skipif("sqlite" not in BACKENDS, reason="the run excludes sqlite")
def test_trail_of_100000_records_verifies(tmp_path: Path) -> None:
    store = Store(tmp_path / "large")
    try:
        signer = AuditSigner(store, CryptoService(), ROOT_KEY)
        batch = 5000
        for first in range(1, 100_001, batch):
            store.append_audit([make_entry(first + i) for i in range(batch)])
            if first % 25_000 == 1:
                signer.sign_digest(START + timedelta(minutes=first), 60)
        signer.sign_digest(START + timedelta(days=365), 60)
        public_key = signer.private_key().public_key()

        started = time.perf_counter()
        report = verify_trail(store, public_key)
        elapsed = time.perf_counter() - started
    finally:
        store.close()

    print(f"verified 100,000 records in {elapsed:.2f} s")
    assert report.intact
    assert report.records_checked == 100_000
    assert report.digests_checked == 5
    assert report.last_signed_seq == 100_000
    limit = float(os.environ.get("KEYLEDGER_TEST_VERIFY_SECONDS", "60"))
    assert elapsed < limit
