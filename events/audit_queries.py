"""Read queries over the audit trail and the event log, for the auditor's commands.

Records are read in pages by sequence number, so a query over a large trail
streams: at most one page of rows is in memory at a time. Every query here
only reads, so it may run while a server writes to the same store.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from events.audit_alias_history import (
    AliasPeriod,
    alias_ids_of_key,
    alias_owners,
    alias_periods,
)
from events.audit_filters import (
    LIKE,
    AuditFilter,
    KeyPeriod,
    filter_clause,
    reference_pattern,
    resource_pattern,
)
from events.store import Store

# The filter names that callers import from here with the queries.
__all__ = ["AliasPeriod", "AuditFilter", "AuditQueries", "AuditRow", "KeyPeriod"]

PAGE_SIZE = 500
"""Rows read per query while streaming records."""

# The operations that GetKeyLastUsage reports, as KeyLastUsageTrackingOperation
# lists them in the botocore 1.44.8 model, limited to those KeyLedger serves.
TRACKED_OPERATIONS = (
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncrypt",
)
# How far apart a record's event time (when the request arrived) and the
# timestamp of an event it wrote may be when the record is looked up by time.
MATCH_WINDOW_SECONDS = 600.0

_COLUMNS = (
    "seq, event_id, event_time, account_id, region, event_name, principal_arn,"
    " key_id, error_code, record, event_hashes"
)


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One row of ``keyledger_audit``."""

    seq: int
    event_id: str
    event_time: float
    account_id: str
    region: str
    event_name: str
    principal_arn: str | None
    key_id: str | None
    error_code: str | None
    record: str
    """The CloudTrail record exactly as stored (canonical JSON)."""
    event_hashes: str

    def references(self) -> list[str]:
        """Return the ``originator_id/version/sha256`` of each event written with it."""
        references: list[str] = json.loads(self.event_hashes)
        return references

    def cloudtrail(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.record)
        return parsed


def _row(row: Mapping[str, Any]) -> AuditRow:
    return AuditRow(
        seq=int(row["seq"]),
        event_id=str(row["event_id"]),
        event_time=float(row["event_time"]),
        account_id=str(row["account_id"]),
        region=str(row["region"]),
        event_name=str(row["event_name"]),
        principal_arn=row["principal_arn"],
        key_id=row["key_id"],
        error_code=row["error_code"],
        record=str(row["record"]),
        event_hashes=str(row["event_hashes"]),
    )


class AuditQueries:
    """Queries over one store's audit trail and event log."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def _read(self, statement: str, params: Sequence[Any]) -> list[Mapping[str, Any]]:
        return self._store.read(statement, tuple(params))

    # Records.

    def records(
        self,
        audit_filter: AuditFilter,
        after_seq: int = 0,
        limit: int | None = None,
        page_size: int = PAGE_SIZE,
    ) -> Iterator[AuditRow]:
        """Yield matching records in sequence order, one page of rows at a time."""
        where, params = filter_clause(audit_filter)
        statement = (
            f"SELECT {_COLUMNS} FROM keyledger_audit"  # noqa: S608 - no input in the text
            f" WHERE ({where}) AND seq > ? ORDER BY seq LIMIT ?"
        )
        remaining = limit
        while remaining is None or remaining > 0:
            size = page_size if remaining is None else min(page_size, remaining)
            rows = self._read(statement, [*params, after_seq, size])
            for row in rows:
                audit_row = _row(row)
                after_seq = audit_row.seq
                yield audit_row
            if remaining is not None:
                remaining -= len(rows)
            if len(rows) < size:
                return

    def tracking_start(self) -> float | None:
        """Return the event time of the trail's first record (None: no records)."""
        rows = self._read(
            "SELECT event_time FROM keyledger_audit ORDER BY seq LIMIT 1", ()
        )
        return float(rows[0]["event_time"]) if rows else None

    def last_cryptographic_use(self, key_id: str, key_arn: str) -> AuditRow | None:
        """Return the record of the key's last successful tracked operation.

        A ReEncrypt uses two keys and counts for both. Its key_id column contains
        the destination key, so the source key is found in the record's
        resources. That search starts after the last use found by key_id (or
        the key's first record) so it reads only newer rows.
        """
        operations = ", ".join("?" for _ in TRACKED_OPERATIONS)
        rows = self._read(
            f"SELECT {_COLUMNS} FROM keyledger_audit"  # noqa: S608 - no input in the text
            f" WHERE key_id = ? AND error_code IS NULL AND event_name IN ({operations})"
            " ORDER BY seq DESC LIMIT 1",
            (key_id, *TRACKED_OPERATIONS),
        )
        found = _row(rows[0]) if rows else None
        if found is not None:
            after_seq = found.seq
        else:
            first = self._read(
                "SELECT MIN(seq) AS seq FROM keyledger_audit WHERE key_id = ?",
                (key_id,),
            )
            after_seq = int(first[0]["seq"] or 0) if first else 0
        # NOTE: this reads every ReEncrypt record after after_seq. So a key
        # unused for a long time, on a busy trail, makes it slow.
        source_rows = self._read(
            f"SELECT {_COLUMNS} FROM keyledger_audit"  # noqa: S608 - no input in the text
            " WHERE seq > ? AND event_name = 'ReEncrypt' AND error_code IS NULL"
            f" AND record {LIKE} ORDER BY seq DESC LIMIT 1",
            (after_seq, resource_pattern(key_arn)),
        )
        return _row(source_rows[0]) if source_rows else found

    def lifecycle_records_of_key(self, key_id: str) -> Iterator[AuditRow]:
        """Yield the key's records that wrote events, in sequence order."""
        statement = (
            f"SELECT {_COLUMNS} FROM keyledger_audit"  # noqa: S608 - no input in the text
            " WHERE key_id = ? AND event_hashes <> '[]' AND seq > ?"
            " ORDER BY seq LIMIT ?"
        )
        after_seq = 0
        while True:
            rows = self._read(statement, (key_id, after_seq, PAGE_SIZE))
            for row in rows:
                audit_row = _row(row)
                after_seq = audit_row.seq
                yield audit_row
            if len(rows) < PAGE_SIZE:
                return

    def record_of_event(
        self, originator_id: str, version: int, timestamp: float
    ) -> AuditRow | None:
        """Find the record that references one stored event, near its timestamp."""
        rows = self._read(
            f"SELECT {_COLUMNS} FROM keyledger_audit"  # noqa: S608 - no input in the text
            " WHERE event_time >= ? AND event_time <= ?"
            f" AND event_hashes {LIKE} ORDER BY seq LIMIT 1",
            (
                timestamp - MATCH_WINDOW_SECONDS,
                timestamp + MATCH_WINDOW_SECONDS,
                reference_pattern(originator_id, version),
            ),
        )
        return _row(rows[0]) if rows else None

    # Aliases.

    def alias_ids_of_key(self, key_id: str) -> set[uuid.UUID]:
        """Return the aggregate ids of every alias that pointed at the key."""
        return alias_ids_of_key(self._store, key_id)

    def alias_owners(self, alias_name: str) -> set[tuple[str, str]]:
        """Return each (account, Region) that has or had an alias of this name."""
        return alias_owners(self._store, alias_name)

    def alias_periods(
        self, alias_name: str, account_id: str | None, region: str | None
    ) -> list[AliasPeriod]:
        """Return every time the alias pointed at a key, from the alias's events."""
        return alias_periods(self._store, alias_name, account_id, region)

    # The event log.

    def aggregate_events(self, aggregate_id: uuid.UUID) -> list[Any]:
        """Return an aggregate's domain events, oldest first, decoded by the library."""
        return self._store.stored_events(aggregate_id)
