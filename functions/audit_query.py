"""``keyledger audit events``: print the audit records that match filters.

It streams the records page by page. It only reads the store, so it may run
while a server uses it, and it does not need the root key.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from domain.identifiers import key_arn
from functions.audit_command import (
    add_format,
    alias_periods_of,
    key_reference,
    key_uuid,
    moment_argument,
    run_with_store,
)

if TYPE_CHECKING:
    from events.audit_queries import AuditQueries, AuditRow


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    add_store_arguments: Callable[[argparse.ArgumentParser], None],
) -> None:
    """Add ``events`` to ``keyledger audit``."""
    events = commands.add_parser(
        "events",
        help="print the audit records that match filters",
        description="Print audit records in the order they were written. Every "
        "filter given must match. --format json prints each record exactly as "
        "stored, one CloudTrail record a line.",
    )
    add_store_arguments(events)
    events.add_argument(
        "--key",
        help="key id, key ARN, alias name or alias ARN; an alias selects the "
        "records of each key it pointed at while it pointed there, and the "
        "records of the requests that changed it",
    )
    events.add_argument("--principal", help="the caller's ARN")
    events.add_argument("--action", help="the action (eventName), such as Decrypt")
    events.add_argument(
        "--error",
        nargs="?",
        const="",
        metavar="CODE",
        help="only failed requests; with CODE, only that error (such as "
        "AccessDeniedException)",
    )
    events.add_argument("--since", type=moment_argument, help="ISO 8601 time, included")
    events.add_argument("--until", type=moment_argument, help="ISO 8601 time, included")
    events.add_argument("--account", help="the account of the key (12 digits)")
    events.add_argument("--region", help="the Region, such as us-east-1")
    events.add_argument(
        "--limit", type=_positive, help="print at most this many records"
    )
    events.add_argument(
        "--after-seq",
        type=_not_negative,
        default=0,
        help="start after this sequence number (the next token a limited "
        "command prints)",
    )
    add_format(events)
    events.set_defaults(run=run_events)


def _positive(text: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a whole number of at least 1"
        )
    return int(text)


def _not_negative(text: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
    return int(text)


def run_events(arguments: argparse.Namespace) -> int:
    return run_with_store(arguments, lambda queries: _events(queries, arguments))


def _events(queries: AuditQueries, arguments: argparse.Namespace) -> int:
    from events.audit_filters import AuditFilter

    keys: tuple[Any, ...] | None = None
    alias_ids: tuple[str, ...] = ()
    if arguments.key is not None:
        keys, alias_ids = _key_selection(queries, arguments)
    error = arguments.error
    audit_filter = AuditFilter(
        keys=keys,
        alias_aggregate_ids=alias_ids,
        principal_arn=arguments.principal,
        event_name=arguments.action,
        any_error=error == "",
        error_code=error or None,
        since=arguments.since,
        until=arguments.until,
        account_id=arguments.account,
        region=arguments.region,
    )
    limit = arguments.limit
    # Reading one record more than the limit shows whether another page follows.
    rows = queries.records(
        audit_filter, arguments.after_seq, None if limit is None else limit + 1
    )
    out = sys.stdout
    if arguments.format == "table":
        out.write(_TABLE_HEADER)
    last_seq = None
    for printed, row in enumerate(rows):
        if limit is not None and printed == limit:
            print(f"next token: --after-seq {last_seq}", file=sys.stderr)
            break
        if arguments.format == "json":
            out.write(row.record + "\n")
        else:
            out.write(_table_line(row))
        last_seq = row.seq
    out.flush()
    return 0


def _key_selection(
    queries: AuditQueries, arguments: argparse.Namespace
) -> tuple[tuple[Any, ...], tuple[str, ...]]:
    """Turn --key into key periods, and print on stderr what an alias selected."""
    from events.audit_filters import KeyPeriod

    reference = key_reference(arguments.key)
    if reference.key_id is not None:
        return (KeyPeriod(reference.key_id, _arn_of(queries, reference.key_id)),), ()
    periods = alias_periods_of(queries, reference, arguments)
    if not periods:
        print(f"{arguments.key} never pointed at a key", file=sys.stderr)
    for period in periods:
        until = "now" if period.end is None else _iso(period.end.timestamp())
        print(
            f"{period.alias_name} in {period.account_id} {period.region} selects "
            f"key {period.key_id} from {_iso(period.start.timestamp())} to {until}",
            file=sys.stderr,
        )
    keys = tuple(
        KeyPeriod(
            period.key_id,
            _arn_of(queries, period.key_id),
            period.start.timestamp(),
            None if period.end is None else period.end.timestamp(),
        )
        for period in periods
    )
    alias_ids = tuple(sorted({period.alias_aggregate_id for period in periods}))
    return keys, alias_ids


def _arn_of(queries: AuditQueries, key_id: str) -> str | None:
    events = queries.aggregate_events(key_uuid(key_id))
    if not events:
        return None
    created = events[0]
    return key_arn(created.region, created.account_id, key_id)


_TABLE_HEADER = (
    f"{'SEQ':>8}  {'EVENT TIME':<20}  {'EVENT NAME':<32}  {'ACCOUNT':<12}  "
    f"{'REGION':<14}  {'KEY ID':<36}  {'ERROR':<30}  PRINCIPAL\n"
)


def _table_line(row: AuditRow) -> str:
    principal = row.principal_arn or "kms.amazonaws.com (service event)"
    return (
        f"{row.seq:>8}  {_iso(row.event_time):<20}  {row.event_name:<32}  "
        f"{row.account_id:<12}  {row.region:<14}  {row.key_id or '-':<36}  "
        f"{row.error_code or '-':<30}  {principal}\n"
    )


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
