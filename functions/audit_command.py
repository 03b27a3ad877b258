"""Pieces shared by ``keyledger audit events``, ``history`` and ``replay``.

These commands only read the store, so they may run while a server uses it,
and none needs the root key.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from domain.errors import NotFoundException
from domain.identifiers import KeyReference, parse_key_reference

if TYPE_CHECKING:
    from events.audit_queries import AliasPeriod, AuditQueries
    from events.store import Store

FORMATS = ("table", "json")


class CommandError(Exception):
    """The command cannot run with these arguments, for the reason in the message."""


def add_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format", choices=FORMATS, default="table", help="table (default) or json"
    )


def moment_argument(text: str) -> float:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time, such as 2026-05-01T12:00:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


# Opening the store.


def open_store(arguments: argparse.Namespace) -> Store:
    """Open the store that the flags name, without the root key.

    An embedded store that does not exist is an error, not a new store.
    """
    from events.store import Store
    from functions.cli import settings_from

    settings = settings_from(arguments)
    require_store(settings.data_dir, settings.database_url)
    return Store(
        Path(settings.data_dir), settings.database_url, pool_size=2, pre_ping=False
    )


def require_store(data_dir: Path, database_url: str | None) -> None:
    """Raise CommandError unless the embedded store exists: an audit command
    must never start a new, empty store at a mistyped path."""
    from events.store import SQLITE_FILE_NAME

    if not database_url:
        path = Path(data_dir) / SQLITE_FILE_NAME
        if not path.exists():
            raise CommandError(
                f"no KeyLedger store at {path}; give --data-dir or --database-url"
            )


def run_with_store(
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


def key_reference(text: str) -> KeyReference:
    """Parse a key id, key ARN, alias name or alias ARN given on the command line."""
    try:
        return parse_key_reference(text)
    except NotFoundException:
        raise CommandError(
            f"{text!r} is not a key id, key ARN, alias name or alias ARN"
        ) from None


def alias_periods_of(
    queries: AuditQueries, reference: KeyReference, arguments: argparse.Namespace
) -> list[AliasPeriod]:
    """Return the periods of the alias that KEY names, in the account and Region
    that its alias ARN names, or else --account and --region."""
    return queries.alias_periods(
        str(reference.alias_name),
        reference.account_id or arguments.account,
        reference.region or arguments.region,
    )


def key_uuid(key_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(key_id)
    except ValueError:
        raise CommandError(f"{key_id!r} is not a key id") from None
