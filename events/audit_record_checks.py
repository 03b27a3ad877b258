"""The walk along the hash chain of audit records, one record at a time.

Each record's chain hash is recomputed from the hash before it, its sequence
number, its record and its event references. The indexed columns beside each
record must agree with the chained record, because queries filter on them.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from events.audit import chain_hash
from events.audit_tampering import tampered
from events.store import Store

# How far back the walk looks for an inserted record's predecessor, and how
# far either way for the place a reordered record came from.
LOOKBACK = 1000

_READ_RECORDS = (
    "SELECT seq, event_id, event_time, account_id, region, event_name,"
    " principal_arn, key_id, error_code, record, event_hashes, prev_hash, hash"
    " FROM keyledger_audit WHERE seq >= ? AND seq <= ? ORDER BY seq LIMIT ?"
)


def read_records(
    store: Store, first_seq: int, last_seq: int, page_size: int
) -> Iterator[Mapping[str, Any]]:
    after = first_seq
    while after <= last_seq:
        rows = store.read(_READ_RECORDS, (after, last_seq, page_size))
        if not rows:
            return
        yield from rows
        after = int(rows[-1]["seq"]) + 1


def check_columns(seq: int, row: Mapping[str, Any]) -> None:
    """Check the indexed columns against the chained record they come from.

    Only the record is in the chain hash, and queries filter on the columns,
    so a changed column could hide a record from a query without this check.
    """
    try:
        record = json.loads(row["record"])
    except ValueError:
        record = None
    if not isinstance(record, dict):
        raise tampered(
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
            raise tampered(
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
        raise tampered(
            "record_changed",
            f"record {seq} was changed: its event_time column does not match "
            "the chained record",
            seq=seq,
        )


@dataclass
class ChainWalk:
    previous_hash: str
    expected_seq: int
    recent: OrderedDict[str, int] = field(default_factory=OrderedDict)

    def remember(self, seq: int, hashed: str) -> None:
        self.recent[hashed] = seq
        if len(self.recent) > LOOKBACK:
            self.recent.popitem(last=False)


def check_link(walk: ChainWalk, row: Mapping[str, Any]) -> str:
    """Check one record's place in the chain and return its recomputed hash."""
    seq = int(row["seq"])

    if seq > walk.expected_seq:
        missing = walk.expected_seq
        text = (
            f"record {missing} is missing"
            if seq == missing + 1
            else f"records {missing}-{seq - 1} are missing"
        )
        raise tampered("record_missing", text, seq=missing)

    stored_prev = str(row["prev_hash"])
    stored_hash = str(row["hash"])
    content = (str(row["record"]), str(row["event_hashes"]))
    computed = chain_hash(walk.previous_hash, seq, *content)
    if stored_prev == walk.previous_hash:
        if computed != stored_hash:
            raise tampered("record_changed", f"record {seq} was changed", seq=seq)
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
        raise tampered("record_inserted", text, seq=first)

    # A record moved from elsewhere still hashes correctly at its old place.
    nearby = range(max(seq - LOOKBACK, 1), seq + LOOKBACK + 1)
    if any(chain_hash(stored_prev, place, *content) == stored_hash for place in nearby):
        raise tampered(
            "record_reordered", f"record {seq} was inserted or reordered", seq=seq
        )
    raise tampered("record_changed", f"record {seq} was changed", seq=seq)


def stored_chain_hash(store: Store, seq: int) -> str | None:
    """Return the chain hash stored with record ``seq``, or None without one."""
    rows = store.read(_READ_RECORDS, (seq, seq, 1))
    return str(rows[0]["hash"]) if rows else None
