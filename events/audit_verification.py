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

from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from events.audit import GENESIS_HASH
from events.audit_digest_checks import DigestChain
from events.audit_digests import Digest, read_head
from events.audit_event_checks import (
    EventLedger,
    event_references,
    stored_event_hashes,
)
from events.audit_record_checks import (
    ChainWalk,
    check_columns,
    check_link,
    read_records,
    stored_chain_hash,
)
from events.audit_tampering import Problem, Tampered, tampered
from events.store import Store

PAGE_SIZE = 5000


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
        rows = store.read(
            "SELECT MIN(last_seq) AS last_seq FROM keyledger_audit_digests"
            " WHERE last_seq >= ? AND number <= ?",
            (last, newest),
        )
        covering = rows[0]["last_seq"] if rows else None
        if covering is not None:
            last = min(int(covering), head.seq)
    whole = first == 1 and last == head.seq
    report = VerificationReport(first_seq=first, last_seq=last, whole_trail=whole)
    if first > last and not whole:
        # The range contains no record of the trail, so nothing is checked.
        return report
    try:
        _walk(store, public_key, newest, head.seq, report, page_size, head.hash)
        if whole:
            _check_nothing_after_head(store)
    except Tampered as error:
        report.problem = error.problem
    return report


def _check_nothing_after_head(store: Store) -> None:
    """Raise Tampered if a record lies past the chain's end.

    A writer appends records and moves the head in one transaction, so a
    record past the head is one that no writer made, unless it committed
    between the reads: the head is read once more to tell.
    """
    head = read_head(store)
    rows = store.read(
        "SELECT MIN(seq) AS seq FROM keyledger_audit WHERE seq > ?", (head.seq,)
    )
    beyond = rows[0]["seq"] if rows else None
    if beyond is None:
        return
    if int(beyond) > read_head(store).seq:
        raise tampered(
            "record_inserted",
            f"record {beyond} was inserted: it lies past the chain head at {head.seq}",
            seq=int(beyond),
        )


def _newest_digest_number(store: Store) -> int:
    rows = store.read("SELECT MAX(number) AS number FROM keyledger_audit_digests", ())
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
    digests = DigestChain(store, public_key, newest_digest)
    events = EventLedger(stored_event_hashes(store, page_size))
    walk = ChainWalk(previous_hash=GENESIS_HASH, expected_seq=first)
    if first > 1:
        previous_hash = stored_chain_hash(store, first - 1)
        if previous_hash is not None:
            # A partial check trusts the record before its range.
            walk.previous_hash = previous_hash
    # Digests that end before the range are checked but cover nothing here.
    while digests.current is not None and digests.current.last_seq < first:
        report.last_signed_seq = digests.current.last_seq
        digests.advance()

    for row in read_records(store, first, last, page_size):
        seq = int(row["seq"])
        computed = check_link(walk, row)
        check_columns(seq, row)
        events.claim(seq, event_references(seq, str(row["event_hashes"])))
        walk.previous_hash = computed
        walk.remember(seq, computed)
        walk.expected_seq = seq + 1
        report.records_checked += 1
        while digests.current is not None and digests.current.last_seq == seq:
            digest = digests.current
            if digest.last_hash != computed:
                raise tampered(
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
        raise tampered(
            "records_missing",
            f"records after {present} are missing: the chain head is at {last}",
            seq=present + 1,
        )
    if last == head_seq and present > 0 and walk.previous_hash != head_hash:
        raise tampered(
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


def _records_missing(present: int, digest: Digest) -> Tampered:
    return tampered(
        "records_missing",
        f"records after {present} are missing: signed digest {digest.number} "
        f"covers up to {digest.last_seq}",
        seq=present + 1,
        digest_number=digest.number,
    )


def _check_unclaimed(
    store: Store, events: EventLedger, head_seq: int, page_size: int
) -> None:
    unclaimed = events.unclaimed()
    if not unclaimed:
        return
    # Events written after the check began belong to records after the head.
    for row in read_records(store, head_seq + 1, 2**62, page_size):
        events.forget(event_references(int(row["seq"]), str(row["event_hashes"])))
    unclaimed = events.unclaimed()
    if unclaimed:
        originator_id, version = unclaimed[0]
        name = f"{originator_id}/{version}"
        raise tampered(
            "event_unreferenced",
            f"stored event {name} is not in the audit trail: it was inserted "
            "into the key's stream directly",
            event=name,
        )
