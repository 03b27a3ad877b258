"""``keyledger audit events``, ``history`` and ``replay``: read the audit trail.

``events`` prints the records that match its filters, streaming them page by
page. ``history`` prints a key's lifecycle events with who caused each.
``replay`` prints a key as it was at a moment, rebuilt from its events, and
what changed since. All three only read the store, so they may run while a
server uses it, and none needs the root key.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from domain.identifiers import key_arn, parse_key_reference

if TYPE_CHECKING:
    from events.audit_queries import AuditQueries, AuditRow
    from events.store import Store
    from functions.audit_replay import TimelineEntry

FORMATS = ("table", "json")


class CommandError(Exception):
    """The command cannot run with these arguments, for the reason in the message."""


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    add_store_arguments: Callable[[argparse.ArgumentParser], None],
) -> None:
    """Add this module's subcommands to ``keyledger audit``."""
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
    events.add_argument("--since", type=_moment, help="ISO 8601 time, included")
    events.add_argument("--until", type=_moment, help="ISO 8601 time, included")
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
    _add_format(events)
    events.set_defaults(run=run_events)

    history = commands.add_parser(
        "history",
        help="print a key's lifecycle events and who caused each",
        description="Print every lifecycle event of a key, oldest first, with the "
        "audit record of the request or service event that wrote it.",
    )
    add_store_arguments(history)
    history.add_argument("key", help="key id, key ARN, alias name or alias ARN")
    _add_owner_arguments(history)
    _add_format(history)
    history.set_defaults(run=run_history)

    replay = commands.add_parser(
        "replay",
        help="print a key as it was at a moment, and what changed since",
        description="Rebuild a key from its events up to --at and print it as "
        "DescribeKey, ListAliases, ListResourceTags, GetKeyPolicy, ListGrants "
        "and GetKeyRotationStatus returned it then (times in epoch seconds, as "
        "on the wire), followed by the lifecycle events after --at.",
    )
    add_store_arguments(replay)
    replay.add_argument("key", help="key id, key ARN, alias name or alias ARN")
    replay.add_argument(
        "--at",
        type=_moment,
        required=True,
        help="ISO 8601 time, such as 2026-05-01T12:00:00Z",
    )
    _add_owner_arguments(replay)
    replay.set_defaults(run=run_replay)


def _add_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format", choices=FORMATS, default="table", help="table (default) or json"
    )


def _add_owner_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--account", help="the alias's account, for an alias name")
    parser.add_argument("--region", help="the alias's Region, for an alias name")


def _moment(text: str) -> float:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time, such as 2026-05-01T12:00:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


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


# Opening the store.


def open_store(arguments: argparse.Namespace) -> Store:
    """Open the store that the flags name, without the root key.

    An embedded store that does not exist is an error, not a new store.
    """
    from events.store import SQLITE_FILE_NAME, Store
    from functions.cli import settings_from

    settings = settings_from(arguments)
    if not settings.database_url:
        path = Path(settings.data_dir) / SQLITE_FILE_NAME
        if not path.exists():
            raise CommandError(
                f"no KeyLedger store at {path}; give --data-dir or --database-url"
            )
    return Store(
        Path(settings.data_dir), settings.database_url, pool_size=2, pre_ping=False
    )


def _run_with_store(
    arguments: argparse.Namespace, body: Callable[[AuditQueries], int]
) -> int:
    from events.audit_queries import AuditQueries
    from events.store import StoreUnavailable

    try:
        store = open_store(arguments)
    except (CommandError, StoreUnavailable, ValueError) as error:
        print(f"keyledger audit: {error}", file=sys.stderr)
        return 2
    try:
        return body(AuditQueries(store))
    except CommandError as error:
        print(f"keyledger audit: {error}", file=sys.stderr)
        return 1
    except StoreUnavailable as error:
        print(f"keyledger audit: the store failed: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader (head, less) went away; that is not an error.
        return 0
    finally:
        store.close()


# audit events


def run_events(arguments: argparse.Namespace) -> int:
    return _run_with_store(arguments, lambda queries: _events(queries, arguments))


def _events(queries: AuditQueries, arguments: argparse.Namespace) -> int:
    from events.audit_queries import AuditFilter

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
    from events.audit_queries import KeyPeriod

    reference = _reference(arguments.key)
    if reference.key_id is not None:
        return (KeyPeriod(reference.key_id, _arn_of(queries, reference.key_id)),), ()
    periods = queries.alias_periods(
        str(reference.alias_name),
        reference.account_id or arguments.account,
        reference.region or arguments.region,
    )
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


def _reference(text: str) -> Any:
    from domain.errors import NotFoundException

    try:
        return parse_key_reference(text)
    except NotFoundException:
        raise CommandError(
            f"{text!r} is not a key id, key ARN, alias name or alias ARN"
        ) from None


def _arn_of(queries: AuditQueries, key_id: str) -> str | None:
    events = queries.aggregate_events(_uuid(key_id))
    if not events:
        return None
    created = events[0]
    return key_arn(created.region, created.account_id, key_id)


def _uuid(key_id: str) -> Any:
    import uuid

    try:
        return uuid.UUID(key_id)
    except ValueError:
        raise CommandError(f"{key_id!r} is not a key id") from None


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


# audit history and audit replay


def run_history(arguments: argparse.Namespace) -> int:
    return _run_with_store(arguments, lambda queries: _history(queries, arguments))


def _history(queries: AuditQueries, arguments: argparse.Namespace) -> int:
    from functions.audit_replay import KeyTimeline, history

    key_id = _key_of(queries, arguments, None)
    timeline = KeyTimeline(queries, key_id)
    if not timeline.exists:
        raise CommandError(f"key {key_id} has no events in this store")
    _print_entries(history(timeline), arguments.format, sys.stdout)
    return 0


def run_replay(arguments: argparse.Namespace) -> int:
    return _run_with_store(arguments, lambda queries: _replay(queries, arguments))


def _replay(queries: AuditQueries, arguments: argparse.Namespace) -> int:
    from functions.audit_replay import KeyTimeline, replay

    moment = datetime.fromtimestamp(arguments.at, UTC)
    key_id = _key_of(queries, arguments, moment)
    timeline = KeyTimeline(queries, key_id)
    if not timeline.exists:
        raise CommandError(f"key {key_id} has no events in this store")
    document = replay(timeline, moment)
    if document is None:
        raise CommandError(f"key {key_id} did not exist yet at {moment.isoformat()}")
    sys.stdout.write(wire_json(document, indent=2) + "\n")
    return 0


def _key_of(
    queries: AuditQueries, arguments: argparse.Namespace, moment: datetime | None
) -> str:
    """Return the key id that KEY names; an alias names the key it pointed at
    at ``moment`` (or last, when ``moment`` is None)."""
    reference = _reference(arguments.key)
    if reference.key_id is not None:
        _uuid(reference.key_id)
        return str(reference.key_id)
    periods = queries.alias_periods(
        str(reference.alias_name),
        reference.account_id or arguments.account,
        reference.region or arguments.region,
    )
    if moment is not None:
        periods = [
            period
            for period in periods
            if period.start <= moment and (period.end is None or moment < period.end)
        ]
    owners = {(period.account_id, period.region) for period in periods}
    if len(owners) > 1:
        raise CommandError(
            f"{reference.text} exists in several accounts or Regions; give "
            "--account and --region, or the alias ARN"
        )
    if not periods:
        raise CommandError(f"{reference.text} did not point at a key then")
    chosen = periods[-1]
    print(f"{reference.text} points at key {chosen.key_id}", file=sys.stderr)
    return chosen.key_id


def _print_entries(
    entries: Iterable[TimelineEntry], output_format: str, out: TextIO
) -> None:
    if output_format == "json":
        for entry in entries:
            out.write(wire_json(entry.to_json()) + "\n")
        return
    out.write(
        f"{'VERSION':>7}  {'EVENT TIME':<24}  {'EVENT':<28}  {'CAUSED BY':<20}  "
        "PRINCIPAL / REQUEST ID\n"
    )
    for entry in entries:
        cause = "no audit record"
        principal_and_request = "-"
        if entry.record is not None:
            cloudtrail = entry.record.cloudtrail()
            cause = entry.record.event_name
            principal_and_request = (
                f"{entry.record.principal_arn} {cloudtrail.get('requestID', '')}"
                if entry.record.principal_arn
                else "kms.amazonaws.com (service event)"
            )
        moment = entry.timestamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
        out.write(
            f"{entry.version:>7}  {moment[:-3] + 'Z':<24}  "
            f"{entry.event_class:<28}  {cause:<20}  {principal_and_request}\n"
        )


def wire_json(value: Any, indent: int | None = None) -> str:
    """Serialize as the KMS wire does: times as epoch seconds to the millisecond."""
    return json.dumps(value, default=_wire_default, indent=indent)


def _wire_default(value: object) -> object:
    if isinstance(value, datetime):
        return round(value.timestamp(), 3)
    raise TypeError(f"cannot serialize {type(value).__name__}")
