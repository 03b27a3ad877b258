"""``keyledger audit history`` and ``replay``: a key's lifecycle over time.

``history`` prints a key's lifecycle events with who caused each.
``replay`` prints a key as it was at a moment, rebuilt from its events, and
what changed since. Both only read the store, so they may run while a server
uses it, and neither needs the root key.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from functions.audit_command import (
    CommandError,
    add_format,
    alias_periods_of,
    key_reference,
    key_uuid,
    moment_argument,
    run_with_store,
)

if TYPE_CHECKING:
    from events.audit_queries import AuditQueries
    from functions.audit_replay import TimelineEntry


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    add_store_arguments: Callable[[argparse.ArgumentParser], None],
) -> None:
    """Add ``history`` and ``replay`` to ``keyledger audit``."""
    history = commands.add_parser(
        "history",
        help="print a key's lifecycle events and who caused each",
        description="Print every lifecycle event of a key, oldest first, with the "
        "audit record of the request or service event that wrote it.",
    )
    add_store_arguments(history)
    history.add_argument("key", help="key id, key ARN, alias name or alias ARN")
    _add_owner_arguments(history)
    add_format(history)
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
        type=moment_argument,
        required=True,
        help="ISO 8601 time, such as 2026-05-01T12:00:00Z",
    )
    _add_owner_arguments(replay)
    replay.set_defaults(run=run_replay)


def _add_owner_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--account", help="the alias's account, for an alias name")
    parser.add_argument("--region", help="the alias's Region, for an alias name")


def run_history(arguments: argparse.Namespace) -> int:
    return run_with_store(arguments, lambda queries: _history(queries, arguments))


def _history(queries: AuditQueries, arguments: argparse.Namespace) -> int:
    from functions.audit_replay import KeyTimeline, history

    key_id = _key_of(queries, arguments, None)
    timeline = KeyTimeline(queries, key_id)
    if not timeline.exists:
        raise CommandError(f"key {key_id} has no events in this store")
    _print_entries(history(timeline), arguments.format, sys.stdout)
    return 0


def run_replay(arguments: argparse.Namespace) -> int:
    return run_with_store(arguments, lambda queries: _replay(queries, arguments))


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
    reference = key_reference(arguments.key)
    if reference.key_id is not None:
        key_uuid(reference.key_id)
        return str(reference.key_id)
    periods = alias_periods_of(queries, reference, arguments)
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
