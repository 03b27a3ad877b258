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
from datetime import datetime
from typing import Any

from domain.alias import Alias, alias_aggregate_id
from events.store import Store

PAGE_SIZE = 500
"""Rows read per query while streaming records."""

# Actions whose record names two keys in its resources. The key_id column
# holds only the first (ReEncrypt: the destination key; UpdateAlias: the
# alias's old target), so the second is found in the record itself.
TWO_KEY_ACTIONS = ("ReEncrypt", "UpdateAlias")
ALIAS_ACTIONS = ("CreateAlias", "UpdateAlias", "DeleteAlias")
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


@dataclass(frozen=True, slots=True)
class KeyPeriod:
    """A key, and optionally the time range (epoch seconds, end excluded) in
    which its records count."""

    key_id: str
    key_arn: str | None = None
    start: float | None = None
    end: float | None = None


@dataclass(frozen=True, slots=True)
class AliasPeriod:
    """A time during which an alias pointed at one key; ``end`` is None while
    it still does."""

    alias_name: str
    account_id: str
    region: str
    alias_aggregate_id: str
    key_id: str
    start: datetime
    end: datetime | None


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """The selection of ``keyledger audit events``: every field given must match."""

    keys: tuple[KeyPeriod, ...] | None = None
    """None selects records of any key; a tuple selects the records of these
    keys, within each one's period."""
    alias_aggregate_ids: tuple[str, ...] = ()
    """Also select the records that changed these aliases."""
    principal_arn: str | None = None
    event_name: str | None = None
    any_error: bool = False
    error_code: str | None = None
    since: float | None = None
    until: float | None = None
    account_id: str | None = None
    region: str | None = None


def like_pattern(text: str) -> str:
    """Return a LIKE pattern (with ESCAPE '\\') that finds ``text`` anywhere."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


_LIKE = "LIKE ? ESCAPE '\\'"


def resource_pattern(key_arn: str) -> str:
    """Return the LIKE pattern of a key ARN in a stored record's resources."""
    return like_pattern(f'"ARN":{json.dumps(key_arn)}')


def reference_pattern(originator_id: str, version: int | None = None) -> str:
    """Return the LIKE pattern of an event reference in ``event_hashes``."""
    prefix = f'"{originator_id}/' if version is None else f'"{originator_id}/{version}/'
    return like_pattern(prefix)


def _key_condition(period: KeyPeriod) -> tuple[str, list[Any]]:
    bounds = ""
    bound_params: list[Any] = []
    if period.start is not None:
        bounds += " AND event_time >= ?"
        bound_params.append(period.start)
    if period.end is not None:
        bounds += " AND event_time < ?"
        bound_params.append(period.end)
    clause = f"(key_id = ?{bounds})"
    params: list[Any] = [period.key_id, *bound_params]
    if period.key_arn is not None:
        names = ", ".join("?" for _ in TWO_KEY_ACTIONS)
        clause += f" OR (event_name IN ({names}) AND record {_LIKE}{bounds})"
        params += [*TWO_KEY_ACTIONS, resource_pattern(period.key_arn), *bound_params]
    return clause, params


def filter_clause(audit_filter: AuditFilter) -> tuple[str, list[Any]]:
    """Translate a filter into a WHERE clause (without WHERE) and its parameters."""
    clauses: list[str] = []
    params: list[Any] = []
    if audit_filter.keys is not None:
        alternatives: list[str] = []
        for period in audit_filter.keys:
            clause, clause_params = _key_condition(period)
            alternatives.append(clause)
            params += clause_params
        for aggregate_id in audit_filter.alias_aggregate_ids:
            alternatives.append(f"event_hashes {_LIKE}")
            params.append(reference_pattern(aggregate_id))
        # A key filter that names nothing selects nothing.
        clauses.append("(" + (" OR ".join(alternatives) or "1 = 0") + ")")
    simple = (
        ("principal_arn = ?", audit_filter.principal_arn),
        ("event_name = ?", audit_filter.event_name),
        ("error_code = ?", audit_filter.error_code),
        ("event_time >= ?", audit_filter.since),
        ("event_time <= ?", audit_filter.until),
        ("account_id = ?", audit_filter.account_id),
        ("region = ?", audit_filter.region),
    )
    for clause, value in simple:
        if value is not None:
            clauses.append(clause)
            params.append(value)
    if audit_filter.any_error:
        clauses.append("error_code IS NOT NULL")
    return " AND ".join(clauses) or "1 = 1", params


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
        # The store's own read path: the per-thread SQLite reader, or a pooled
        # PostgreSQL connection with the schema's table names.
        return self._store._read(statement, tuple(params))

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
            f" AND record {_LIKE} ORDER BY seq DESC LIMIT 1",
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
            f" AND event_hashes {_LIKE} ORDER BY seq LIMIT 1",
            (
                timestamp - MATCH_WINDOW_SECONDS,
                timestamp + MATCH_WINDOW_SECONDS,
                reference_pattern(originator_id, version),
            ),
        )
        return _row(rows[0]) if rows else None

    # Aliases.

    def alias_ids_of_key(self, key_id: str) -> set[uuid.UUID]:
        """Return the aggregate ids of every alias that pointed at the key.

        An alias that points at the key now is in the alias table. One that
        pointed at it before was moved away or deleted by a request whose
        record names the key first (UpdateAlias names the old target first),
        and that record references the alias's events.
        """
        ids: set[uuid.UUID] = set()
        rows = self._read(
            "SELECT account_id, region, alias_name FROM keyledger_aliases"
            " WHERE target_key_id = ?",
            (key_id,),
        )
        for row in rows:
            ids.add(
                alias_aggregate_id(row["account_id"], row["region"], row["alias_name"])
            )
        names = ", ".join("?" for _ in ALIAS_ACTIONS)
        records = self._read(
            "SELECT event_hashes FROM keyledger_audit"  # noqa: S608 - no input in the text
            f" WHERE key_id = ? AND error_code IS NULL AND event_name IN ({names})",
            (key_id, *ALIAS_ACTIONS),
        )
        for record in records:
            for reference in json.loads(record["event_hashes"]):
                ids.add(uuid.UUID(reference.split("/", 1)[0]))
        return ids

    def alias_owners(self, alias_name: str) -> set[tuple[str, str]]:
        """Return each (account, Region) where an alias of this name exists or existed.

        Current aliases come from the alias table; deleted ones from the
        successful CreateAlias records that name them.
        NOTE: finding deleted aliases reads every CreateAlias record.
        """
        owners = {
            (str(row["account_id"]), str(row["region"]))
            for row in self._read(
                "SELECT account_id, region FROM keyledger_aliases WHERE alias_name = ?",
                (alias_name,),
            )
        }
        rows = self._read(
            "SELECT DISTINCT account_id, region FROM keyledger_audit"
            " WHERE event_name = 'CreateAlias' AND error_code IS NULL"
            " AND record LIKE ? ESCAPE '\\'",
            (like_pattern(f'"aliasName":{json.dumps(alias_name)}'),),
        )
        owners.update((str(row["account_id"]), str(row["region"])) for row in rows)
        return owners

    def alias_periods(
        self, alias_name: str, account_id: str | None, region: str | None
    ) -> list[AliasPeriod]:
        """Return every time the alias pointed at a key, from the alias's events."""
        periods: list[AliasPeriod] = []
        for owner_account, owner_region in sorted(self.alias_owners(alias_name)):
            if account_id is not None and owner_account != account_id:
                continue
            if region is not None and owner_region != region:
                continue
            aggregate_id = alias_aggregate_id(owner_account, owner_region, alias_name)
            periods += _periods_of(
                alias_name,
                owner_account,
                owner_region,
                str(aggregate_id),
                self.aggregate_events(aggregate_id),
            )
        return sorted(periods, key=lambda period: period.start)

    # The event log.

    def aggregate_events(self, aggregate_id: uuid.UUID) -> list[Any]:
        """Return an aggregate's domain events, oldest first, decoded by the library."""
        return list(self._store._app.events.get(aggregate_id))


def _periods_of(
    alias_name: str,
    account_id: str,
    region: str,
    aggregate_id: str,
    events: Sequence[Any],
) -> list[AliasPeriod]:
    periods: list[AliasPeriod] = []
    target: str | None = None
    since: datetime | None = None

    def close(end: datetime | None) -> None:
        if target is not None and since is not None:
            periods.append(
                AliasPeriod(
                    alias_name, account_id, region, aggregate_id, target, since, end
                )
            )

    for event in events:
        if isinstance(
            event, Alias.AliasCreated | Alias.AliasRetargeted | Alias.AliasRecreated
        ):
            close(event.timestamp)
            target, since = event.target_key_id, event.timestamp
        elif isinstance(event, Alias.AliasDeleted):
            close(event.timestamp)
            target, since = None, None
    close(None)
    return periods
