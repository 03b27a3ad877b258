"""Check the audit trail against its hash chain, its signed digests and the log.

:func:`verify_trail` walks the records in sequence order, a page at a time,
and stops at the first problem it finds:

- each record's chain hash is recomputed from the hash before it, its
  sequence number, its record and its event references;
- each signed digest's signature is checked, digests must chain (number,
  range and previous signature), and the chain hash at a digest's last
  record must equal the digest's last hash;
- each event reference must match a stored lifecycle event, recomputed from
  the library's events table, and, on a check of the whole trail, every
  stored lifecycle event must be referenced by exactly one record;
- the indexed columns beside each record (event name, key id, principal and
  so on) must agree with the chained record, because queries filter on them.

Records after the last signed digest are protected by the chain alone:
whoever can write the database can cut them off, or rewrite them and
recompute the chain, without detection.
"""

from __future__ import annotations

import json
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from events.audit import GENESIS_HASH, chain_hash, event_hash
from events.audit_signing import (
    SIGNATURE_ALGORITHM,
    Digest,
    document_fields,
    iter_digests,
    public_key_fingerprint,
    read_head,
    signature_is_valid,
    timestamp,
)
from events.store import Store

PAGE_SIZE = 5000
# How far back the walk looks for an inserted record's predecessor, and how
# far either way for the place a reordered record came from.
_LOOKBACK = 1000

_READ_RECORDS = (
    "SELECT seq, event_id, event_time, account_id, region, event_name,"
    " principal_arn, key_id, error_code, record, event_hashes, prev_hash, hash"
    " FROM keyledger_audit WHERE seq >= ? AND seq <= ? ORDER BY seq LIMIT ?"
)


@dataclass(frozen=True, slots=True)
class Problem:
    """The first sign of tampering that the walk found."""

    kind: str
    """One of: record_changed, record_missing, record_inserted,
    record_reordered, records_missing, digest_mismatch, digest_invalid,
    digest_missing, event_changed, event_missing, event_unreferenced."""
    message: str
    seq: int | None = None
    digest_number: int | None = None
    event: str | None = None
    """``originator_id/version`` of a stored lifecycle event."""

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "message": self.message,
            "seq": self.seq,
            "digestNumber": self.digest_number,
            "event": self.event,
        }


@dataclass
class VerificationReport:
    first_seq: int
    last_seq: int
    whole_trail: bool
    records_checked: int = 0
    digests_checked: int = 0
    events_checked: int = 0
    last_signed_seq: int = 0
    """The last record any checked digest covers, or 0 when none does."""
    problem: Problem | None = None

    @property
    def intact(self) -> bool:
        return self.problem is None

    def as_json(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "wholeTrail": self.whole_trail,
            "firstSeq": self.first_seq,
            "lastSeq": self.last_seq,
            "recordsChecked": self.records_checked,
            "digestsChecked": self.digests_checked,
            "eventsChecked": self.events_checked,
            "lastSignedSeq": self.last_signed_seq,
            "problem": self.problem.as_json() if self.problem else None,
        }


class _Tampered(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def _fail(kind: str, message: str, **where: Any) -> _Tampered:
    return _Tampered(Problem(kind, message, **where))


# Digests.


class _DigestChain:
    """Checks the digests in order, one at a time, as the walk reaches them."""

    def __init__(
        self, store: Store, public_key: Ed25519PublicKey | None, up_to_number: int
    ) -> None:
        self._digests = iter_digests(store, up_to_number)
        self._public_key = public_key
        self._fingerprint = public_key_fingerprint(public_key) if public_key else None
        self._expected_number = 1
        self._previous: Digest | None = None
        self._up_to_number = up_to_number
        self.checked = 0
        self.current: Digest | None = None
        self.advance()

    def advance(self) -> None:
        """Check the next digest and make it current (None after the last)."""
        digest = next(self._digests, None)
        if digest is None:
            if self._expected_number <= self._up_to_number:
                raise _fail(
                    "digest_missing",
                    f"signed digest {self._expected_number} is missing",
                    digest_number=self._expected_number,
                )
            self.current = None
            return
        self._check(digest)
        self._previous = digest
        self._expected_number += 1
        self.checked += 1
        self.current = digest

    def _check(self, digest: Digest) -> None:
        number = digest.number
        if number != self._expected_number:
            raise _fail(
                "digest_missing",
                f"signed digest {self._expected_number} is missing",
                digest_number=self._expected_number,
            )
        if self._public_key is None:
            raise _fail(
                "digest_invalid",
                f"signed digest {number} exists but the store has no audit "
                "signing key to check it with",
                digest_number=number,
            )
        if not signature_is_valid(self._public_key, digest):
            raise _fail(
                "digest_invalid",
                f"signed digest {number} has an invalid signature",
                digest_number=number,
            )
        previous = self._previous
        expected = {
            "digestNumber": number,
            "firstSequenceNumber": digest.first_seq,
            "lastSequenceNumber": digest.last_seq,
            "lastHash": digest.last_hash,
            "digestEndTime": timestamp(digest.created),
            "previousDigestSignature": previous.signature if previous else None,
            "digestPublicKeyFingerprint": self._fingerprint,
            "digestSignatureAlgorithm": SIGNATURE_ALGORITHM,
        }
        try:
            fields = document_fields(digest.document)
        except ValueError:
            fields = {}
        for name, value in expected.items():
            if fields.get(name) != value:
                raise _fail(
                    "digest_invalid",
                    f"signed digest {number} was changed: its {name} does not "
                    "match its columns or the digest before it",
                    digest_number=number,
                )
        first_expected = previous.last_seq + 1 if previous else 1
        if digest.first_seq != first_expected or digest.last_seq < digest.first_seq:
            raise _fail(
                "digest_invalid",
                f"signed digest {number} covers records {digest.first_seq}-"
                f"{digest.last_seq}, but should start at record {first_expected}",
                digest_number=number,
            )


# Stored lifecycle events.


def _stored_event_hashes(store: Store, page_size: int) -> dict[tuple[str, int], str]:
    """Hash every stored lifecycle event, keyed by (originator id, version)."""
    events_table = store._events_table
    statement = (
        f"SELECT originator_id, originator_version, topic, state FROM {events_table}"  # noqa: S608
        " WHERE originator_id > ? OR (originator_id = ? AND originator_version > ?)"
        " ORDER BY originator_id, originator_version LIMIT ?"
    )
    first = (
        "SELECT originator_id, originator_version, topic, state"  # noqa: S608
        f" FROM {events_table} ORDER BY originator_id, originator_version LIMIT ?"
    )
    hashes: dict[tuple[str, int], str] = {}
    rows = store._read(first, (page_size,))
    while rows:
        for row in rows:
            originator_id = str(uuid.UUID(str(row["originator_id"])))
            version = int(row["originator_version"])
            hashes[(originator_id, version)] = event_hash(
                originator_id, version, str(row["topic"]), bytes(row["state"])
            )
        if len(rows) < page_size:
            break
        last = rows[-1]
        rows = store._read(
            statement,
            (
                last["originator_id"],
                last["originator_id"],
                last["originator_version"],
                page_size,
            ),
        )
    return hashes


class _EventLedger:
    """Matches records' event references against the stored events."""

    def __init__(self, stored: dict[tuple[str, int], str]) -> None:
        self._unclaimed = stored
        self._claimed: dict[tuple[str, int], int] = {}
        self.checked = 0

    def claim(self, seq: int, references: list[str]) -> None:
        for reference in references:
            originator_id, version_text, hashed = _split_reference(seq, reference)
            key = (originator_id, int(version_text))
            name = f"{originator_id}/{version_text}"
            stored = self._unclaimed.pop(key, None)
            if stored is None:
                earlier = self._claimed.get(key)
                if earlier is not None:
                    raise _fail(
                        "record_changed",
                        f"record {seq} names stored event {name}, which record "
                        f"{earlier} already names",
                        seq=seq,
                        event=name,
                    )
                raise _fail(
                    "event_missing",
                    f"stored event {name} is missing (record {seq} names it)",
                    seq=seq,
                    event=name,
                )
            if stored != hashed:
                raise _fail(
                    "event_changed",
                    f"stored event {name} was changed (record {seq} names it)",
                    seq=seq,
                    event=name,
                )
            self._claimed[key] = seq
            self.checked += 1

    def unclaimed(self) -> list[tuple[str, int]]:
        return sorted(self._unclaimed)

    def forget(self, references: list[str]) -> None:
        for reference in references:
            parts = reference.split("/")
            if len(parts) == 3 and parts[1].isdigit():
                self._unclaimed.pop((parts[0], int(parts[1])), None)


def _split_reference(seq: int, reference: Any) -> tuple[str, str, str]:
    parts = reference.split("/") if isinstance(reference, str) else []
    if len(parts) != 3 or not parts[1].isdigit():
        raise _fail(
            "record_changed",
            f"record {seq} was changed: {reference!r} is not an event reference",
            seq=seq,
        )
    return parts[0], parts[1], parts[2]


def _references(seq: int, event_hashes: str) -> list[str]:
    try:
        value = json.loads(event_hashes)
    except ValueError:
        value = None
    if not isinstance(value, list):
        raise _fail(
            "record_changed",
            f"record {seq} was changed: its event references are not a JSON list",
            seq=seq,
        )
    return value


# Records.


def _read_records(
    store: Store, first_seq: int, last_seq: int, page_size: int
) -> Iterator[Mapping[str, Any]]:
    after = first_seq
    while after <= last_seq:
        rows = store._read(_READ_RECORDS, (after, last_seq, page_size))
        if not rows:
            return
        yield from rows
        after = int(rows[-1]["seq"]) + 1


def _check_columns(seq: int, row: Mapping[str, Any]) -> None:
    """Check the indexed columns against the chained record they come from.

    Only the record is in the chain hash, and queries filter on the columns,
    so a changed column could hide a record from a query without this check.
    """
    try:
        record = json.loads(row["record"])
    except ValueError:
        record = None
    if not isinstance(record, dict):
        raise _fail(
            "record_changed", f"record {seq} was changed: it is not JSON", seq=seq
        )
    identity = record.get("userIdentity")
    resources = record.get("resources") or []
    key_ids = [
        str(item.get("ARN", "")).rsplit("/", 1)[-1]
        for item in resources
        if isinstance(item, dict) and ":key/" in str(item.get("ARN", ""))
    ]
    expected = {
        "event_id": record.get("eventID"),
        "event_name": record.get("eventName"),
        "region": record.get("awsRegion"),
        "account_id": record.get("recipientAccountId"),
        "error_code": record.get("errorCode"),
        "principal_arn": identity.get("arn") if isinstance(identity, dict) else None,
        "key_id": key_ids[0] if key_ids else None,
    }
    for column, value in expected.items():
        if row[column] != value:
            raise _fail(
                "record_changed",
                f"record {seq} was changed: its {column} column does not match "
                "the chained record",
                seq=seq,
            )
    event_time = record.get("eventTime")
    stored_second = datetime.fromtimestamp(float(row["event_time"]), UTC).replace(
        microsecond=0
    )
    if event_time != stored_second.strftime("%Y-%m-%dT%H:%M:%SZ"):
        raise _fail(
            "record_changed",
            f"record {seq} was changed: its event_time column does not match "
            "the chained record",
            seq=seq,
        )


@dataclass
class _Walk:
    previous_hash: str
    expected_seq: int
    recent: OrderedDict[str, int] = field(default_factory=OrderedDict)

    def remember(self, seq: int, hashed: str) -> None:
        self.recent[hashed] = seq
        if len(self.recent) > _LOOKBACK:
            self.recent.popitem(last=False)


def _check_link(walk: _Walk, row: Mapping[str, Any]) -> str:
    """Check one record's place in the chain and return its recomputed hash."""
    seq = int(row["seq"])

    if seq > walk.expected_seq:
        missing = walk.expected_seq
        text = (
            f"record {missing} is missing"
            if seq == missing + 1
            else f"records {missing}-{seq - 1} are missing"
        )
        raise _fail("record_missing", text, seq=missing)

    stored_prev = str(row["prev_hash"])
    stored_hash = str(row["hash"])
    content = (str(row["record"]), str(row["event_hashes"]))
    computed = chain_hash(walk.previous_hash, seq, *content)
    if stored_prev == walk.previous_hash:
        if computed != stored_hash:
            raise _fail("record_changed", f"record {seq} was changed", seq=seq)
        return computed

    # The record does not follow the one before it.
    skipped_from = walk.recent.get(stored_prev)
    if skipped_from is not None:
        first = skipped_from + 1
        text = (
            f"record {first} was inserted"
            if first == seq - 1
            else f"records {first}-{seq - 1} were inserted"
        )
        raise _fail("record_inserted", text, seq=first)

    # A record moved from elsewhere still hashes correctly at its old place.
    nearby = range(max(seq - _LOOKBACK, 1), seq + _LOOKBACK + 1)
    if any(chain_hash(stored_prev, place, *content) == stored_hash for place in nearby):
        raise _fail(
            "record_reordered", f"record {seq} was inserted or reordered", seq=seq
        )
    raise _fail("record_changed", f"record {seq} was changed", seq=seq)


def verify_trail(
    store: Store,
    public_key: Ed25519PublicKey | None,
    *,
    from_seq: int | None = None,
    to_seq: int | None = None,
    page_size: int = PAGE_SIZE,
) -> VerificationReport:
    """Verify the records from ``from_seq`` to ``to_seq`` (default: all).

    ``public_key`` checks the digests' signatures; None means the store has
    no signing key yet, which is only intact while there is no digest.
    Reads run while servers write: only digests and records that existed
    when the check began are checked, except that events written later are
    not reported as unreferenced.
    """
    # Digests first, then the head: every digest read was signed over
    # records that the head read after it includes.
    newest = _newest_digest_number(store)
    head = read_head(store)
    first = max(from_seq or 1, 1)
    last = head.seq if to_seq is None else min(to_seq, head.seq)
    if last < head.seq:
        # Walk on to the end of the digest that covers the range's last
        # record, so that digest's hash is compared too.
        rows = store._read(
            "SELECT MIN(last_seq) AS last_seq FROM keyledger_audit_digests"
            " WHERE last_seq >= ? AND number <= ?",
            (last, newest),
        )
        covering = rows[0]["last_seq"] if rows else None
        if covering is not None:
            last = min(int(covering), head.seq)
    whole = first == 1 and last == head.seq
    report = VerificationReport(first_seq=first, last_seq=last, whole_trail=whole)
    try:
        _walk(store, public_key, newest, head.seq, report, page_size, head.hash)
    except _Tampered as tampered:
        report.problem = tampered.problem
    return report


def _newest_digest_number(store: Store) -> int:
    rows = store._read("SELECT MAX(number) AS number FROM keyledger_audit_digests", ())
    value = rows[0]["number"] if rows else None
    return int(value) if value is not None else 0


def _walk(
    store: Store,
    public_key: Ed25519PublicKey | None,
    newest_digest: int,
    head_seq: int,
    report: VerificationReport,
    page_size: int,
    head_hash: str,
) -> None:
    first, last = report.first_seq, report.last_seq
    digests = _DigestChain(store, public_key, newest_digest)
    events = _EventLedger(_stored_event_hashes(store, page_size))
    walk = _Walk(previous_hash=GENESIS_HASH, expected_seq=first)
    if first > 1:
        rows = store._read(_READ_RECORDS, (first - 1, first - 1, 1))
        if rows:
            # A partial check trusts the record before its range.
            walk.previous_hash = str(rows[0]["hash"])
    # Digests that end before the range are checked but cover nothing here.
    while digests.current is not None and digests.current.last_seq < first:
        report.last_signed_seq = digests.current.last_seq
        digests.advance()

    for row in _read_records(store, first, last, page_size):
        seq = int(row["seq"])
        computed = _check_link(walk, row)
        _check_columns(seq, row)
        events.claim(seq, _references(seq, str(row["event_hashes"])))
        walk.previous_hash = computed
        walk.remember(seq, computed)
        walk.expected_seq = seq + 1
        report.records_checked += 1
        while digests.current is not None and digests.current.last_seq == seq:
            digest = digests.current
            if digest.last_hash != computed:
                raise _fail(
                    "digest_mismatch",
                    f"records {digest.first_seq}-{digest.last_seq} do not match "
                    f"signed digest {digest.number}",
                    seq=digest.first_seq,
                    digest_number=digest.number,
                )
            report.last_signed_seq = seq
            digests.advance()
        report.digests_checked = digests.checked
        report.events_checked = events.checked

    present = walk.expected_seq - 1
    pending = digests.current
    if pending is not None and pending.last_seq <= last:
        # A digest ends inside the range on a record the walk never reached.
        raise _records_missing(present, pending)
    if present < last:
        if pending is not None:
            raise _records_missing(present, pending)
        raise _fail(
            "records_missing",
            f"records after {present} are missing: the chain head is at {last}",
            seq=present + 1,
        )
    if last == head_seq and present > 0 and walk.previous_hash != head_hash:
        raise _fail(
            "record_changed",
            f"record {present} was changed: the chain head does not match it",
            seq=present,
        )
    if pending is not None and last == head_seq:
        # The head was moved back, with the records after it cut off.
        raise _records_missing(present, pending)
    if pending is not None:
        # Later digests lie after the range; still check their signatures.
        while digests.current is not None:
            digests.advance()
    report.digests_checked = digests.checked
    report.events_checked = events.checked
    if report.whole_trail:
        _check_unclaimed(store, events, head_seq, page_size)


def _records_missing(present: int, digest: Digest) -> _Tampered:
    return _fail(
        "records_missing",
        f"records after {present} are missing: signed digest {digest.number} "
        f"covers up to {digest.last_seq}",
        seq=present + 1,
        digest_number=digest.number,
    )


def _check_unclaimed(
    store: Store, events: _EventLedger, head_seq: int, page_size: int
) -> None:
    unclaimed = events.unclaimed()
    if not unclaimed:
        return
    # Events written after the check began belong to records after the head.
    for row in _read_records(store, head_seq + 1, 2**62, page_size):
        events.forget(_references(int(row["seq"]), str(row["event_hashes"])))
    unclaimed = events.unclaimed()
    if unclaimed:
        originator_id, version = unclaimed[0]
        name = f"{originator_id}/{version}"
        raise _fail(
            "event_unreferenced",
            f"stored event {name} is not in the audit trail: it was inserted "
            "into the key's stream directly",
            event=name,
        )
