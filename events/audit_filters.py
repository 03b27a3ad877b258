"""The filters of ``keyledger audit events``, translated into SQL.

Values go in as parameters, never into the SQL text, and the LIKE patterns
escape the caller's text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# Actions whose record names two keys in its resources. The key_id column
# holds only the first (ReEncrypt: the destination key; UpdateAlias: the
# alias's old target), so the second is found in the record itself.
TWO_KEY_ACTIONS = ("ReEncrypt", "UpdateAlias")


@dataclass(frozen=True, slots=True)
class KeyPeriod:
    """A key, and optionally the time range (epoch seconds, end excluded) in
    which its records count."""

    key_id: str
    key_arn: str | None = None
    start: float | None = None
    end: float | None = None


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


LIKE = "LIKE ? ESCAPE '\\'"


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
        clause += f" OR (event_name IN ({names}) AND record {LIKE}{bounds})"
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
            alternatives.append(f"event_hashes {LIKE}")
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
