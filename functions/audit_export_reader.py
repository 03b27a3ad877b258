"""The reads of ``keyledger audit export``: which records each log file holds.

The export works in slices of one account, Region and five minutes, and in
whole hours of them, the span of a digest file.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from functions.audit_export_destinations import ExportFailed
from functions.audit_export_layout import (
    DIGEST_SECONDS,
    SliceKey,
    StoredRecord,
    cloudtrail_time,
    slice_index,
)

if TYPE_CHECKING:
    from events.store import Store

_SCAN_PAGE = 10_000

_SCAN = (
    "SELECT seq, account_id, region, event_time FROM keyledger_audit"
    " WHERE seq > ? AND seq <= ? AND event_time >= ? AND event_time < ?"
    " ORDER BY seq LIMIT ?"
)
_READ_RECORDS = (
    "SELECT seq, event_time, record FROM keyledger_audit"
    " WHERE seq >= ? AND seq <= ? AND account_id = ? AND region = ? ORDER BY seq"
)
_READ_DIGESTS = (
    "SELECT number, first_seq, last_seq, last_hash, created, document, signature"
    " FROM keyledger_audit_digests WHERE last_seq >= ? AND first_seq <= ?"
    " ORDER BY number"
)


@dataclasses.dataclass(frozen=True, slots=True)
class ExportRange:
    """The records asked for; the export grows it to whole slices."""

    since: float | None = None
    until: float | None = None
    first_seq: int | None = None
    last_seq: int | None = None

    @property
    def has_seq_bounds(self) -> bool:
        return self.first_seq is not None or self.last_seq is not None


class TrailReader:
    """Reads the trail for an export, on either backend."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def head_seq(self) -> int:
        rows = self._store.read("SELECT seq FROM keyledger_audit_head WHERE id = 1", ())
        return int(rows[0]["seq"]) if rows else 0

    def plan(self, export_range: ExportRange, head: int) -> dict[SliceKey, list[int]]:
        """Return the seqs of every slice, up to ``head``, of the hours the range
        touches.

        The export works in whole hours of one account and Region, the span
        of one digest file, so a range never writes a digest file that lists
        only some of its hour's log files.
        """
        since, until = export_range.since, export_range.until
        low = math.floor(since / DIGEST_SECONDS) if since is not None else None
        # --until is exclusive: an hour that starts at it is not touched.
        high = math.ceil(until / DIGEST_SECONDS) - 1 if until is not None else None
        first = (export_range.first_seq or 1) - 1
        last = min(head, export_range.last_seq or head)
        touched = self._scan(first, last, low, high)
        if not export_range.has_seq_bounds or not touched:
            return touched
        # A seq range can cut an hour; read the rest of each hour it touched.
        hours = {(key.account_id, key.region, key.hour) for key in touched}
        low = min(hour for _, _, hour in hours)
        high = max(hour for _, _, hour in hours)
        whole = self._scan(0, head, low, high)
        return {
            key: seqs
            for key, seqs in whole.items()
            if (key.account_id, key.region, key.hour) in hours
        }

    def _scan(
        self, after: int, last: int, low: int | None, high: int | None
    ) -> dict[SliceKey, list[int]]:
        """Group the seqs in (after, last] of the hours low..high by slice."""
        # One second of margin on each side: the hour of a row is decided in
        # Python below, never by the float comparison in SQL.
        start = float(low * DIGEST_SECONDS - 1) if low is not None else -1e300
        end = float((high + 1) * DIGEST_SECONDS + 1) if high is not None else 1e300
        slices: dict[SliceKey, list[int]] = {}
        while True:
            rows = self._store.read(_SCAN, (after, last, start, end, _SCAN_PAGE))
            for row in rows:
                index = slice_index(float(row["event_time"]))
                key = SliceKey(str(row["account_id"]), str(row["region"]), index)
                if (low is not None and key.hour < low) or (
                    high is not None and key.hour > high
                ):
                    continue
                slices.setdefault(key, []).append(int(row["seq"]))
            if len(rows) < _SCAN_PAGE:
                return slices
            after = int(rows[-1]["seq"])

    def records(self, key: SliceKey, seqs: Sequence[int]) -> list[StoredRecord]:
        expected = set(seqs)
        rows = self._store.read(
            _READ_RECORDS, (seqs[0], seqs[-1], key.account_id, key.region)
        )
        found = [
            StoredRecord(int(row["seq"]), float(row["event_time"]), str(row["record"]))
            for row in rows
            if int(row["seq"]) in expected
        ]
        if len(found) != len(expected):
            # Rows are only appended, so a planned row that is gone was deleted
            # while the export ran.
            raise ExportFailed(
                f"audit records {seqs[0]} to {seqs[-1]} changed during the export; "
                "run `keyledger audit verify` and export again"
            )
        return found

    def covering_digests(self, first_seq: int, last_seq: int) -> list[dict[str, Any]]:
        rows = self._store.read(_READ_DIGESTS, (first_seq, last_seq))
        return [
            {
                "number": int(row["number"]),
                "firstSeq": int(row["first_seq"]),
                "lastSeq": int(row["last_seq"]),
                "lastHash": str(row["last_hash"]),
                "created": cloudtrail_time(float(row["created"])),
                "document": str(row["document"]),
                "signature": str(row["signature"]),
            }
            for row in rows
        ]

    def public_key_fingerprint(self) -> str | None:
        """Return the fingerprint of the audit signing key, as its digests name it."""
        from events.audit_signing import (
            load_public_key,
            public_key_fingerprint,
            stored_public_key,
        )

        pem = stored_public_key(self._store)
        if not pem:
            return None
        return public_key_fingerprint(load_public_key(pem))
