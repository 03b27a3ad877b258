"""``keyledger audit export``: write the trail as CloudTrail log and digest files.

The export reads the trail up to its end at the moment the command starts,
so records committed while it runs wait for the next export. It exports
whole hours of each account and Region, the span of a digest file. A range
given by time or seq grows to the hours it touches. So every log file it
writes is the one a full export writes, and every digest file lists all the
log files of its hour. Log files are written before the digest files that
list them. The digest files chain within one export: the first digest file
of each account and Region has null previous-digest fields.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from functions.audit_export_destinations import (
    Destination,
    ExportFailed,
    open_destination,
)
from functions.audit_export_layout import (
    MAX_RECORDS_PER_FILE,
    DigestContext,
    LogFile,
    build_digest_files,
    build_log_file,
)
from functions.audit_export_reader import ExportRange, TrailReader

if TYPE_CHECKING:
    from events.store import Store

DEFAULT_TRAIL_NAME = "keyledger"
# CloudTrail's trail names: 3 to 128 letters, digits, periods, underscores
# and hyphens, starting and ending with a letter or digit, with no two of
# the separators in a row.
_TRAIL_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|[._-](?![._-])){1,126}[A-Za-z0-9]")

# ExportRange is the range argument of export_trail, so it is importable here.
__all__ = ["ExportRange", "export_trail", "register", "run_export"]


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    add_store_arguments: Callable[[argparse.ArgumentParser], None],
) -> None:
    """Add ``export`` to ``keyledger audit``."""
    export = commands.add_parser(
        "export",
        help="write the trail as CloudTrail log files and digest files",
        description="Write the audit records as CloudTrail does: gzipped JSON "
        "log files of five minutes each, by account, Region and date, with an "
        "hourly digest file listing their SHA-256, to a folder or an S3 bucket. "
        "A time or seq range grows to the whole hours it touches. "
        "Running the same export again writes the same files.",
    )
    add_store_arguments(export)
    export.add_argument(
        "--to",
        required=True,
        dest="destination",
        help="a folder, or s3://bucket[/prefix] for an S3 bucket",
    )
    export.add_argument(
        "--since",
        type=_moment_argument,
        help="export records from this time on, ISO 8601 (UTC unless it names "
        "an offset), for example 2025-01-31T12:00:00Z",
    )
    export.add_argument(
        "--until",
        type=_moment_argument,
        help="export records before this time, ISO 8601 like --since",
    )
    export.add_argument(
        "--first-seq",
        type=_seq_argument,
        help="export records from this sequence number on",
    )
    export.add_argument(
        "--last-seq",
        type=_seq_argument,
        help="export records up to and including this sequence number",
    )
    export.add_argument(
        "--trail-name",
        type=_trail_name_argument,
        default=DEFAULT_TRAIL_NAME,
        help=f"trail name in the digest file names (default {DEFAULT_TRAIL_NAME})",
    )
    export.add_argument(
        "--endpoint-url",
        help="S3 endpoint for an s3:// destination (default: AWS_ENDPOINT_URL_S3, "
        "AWS_ENDPOINT_URL or AWS's own)",
    )
    export.set_defaults(run=run_export)


def _moment_argument(text: str) -> float:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid time {text!r}: use ISO 8601, for example 2025-01-31T12:00:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _seq_argument(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"invalid sequence number {text!r}: use a whole number of at least 1"
        )
    return value


def _trail_name_argument(text: str) -> str:
    if not _TRAIL_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"invalid trail name {text!r}: use 3 to 128 letters, digits, periods, "
            "underscores and hyphens, starting and ending with a letter or digit"
        )
    return text


def run_export(arguments: argparse.Namespace) -> int:
    from events.root_key import RootKeyError
    from events.store import InvalidDatabaseUrl, RootKeyMismatch, StoreUnavailable
    from functions.audit_cli import open_services
    from functions.credentials import CredentialsFileError

    export_range = ExportRange(
        arguments.since, arguments.until, arguments.first_seq, arguments.last_seq
    )
    problem = _range_problem(export_range)
    if problem:
        return _fail(problem, 2)
    try:
        destination = open_destination(arguments.destination, arguments.endpoint_url)
    except ValueError as error:
        return _fail(str(error), 2)

    try:
        services = open_services(arguments)
    except (
        StoreUnavailable,
        RootKeyError,
        RootKeyMismatch,
        InvalidDatabaseUrl,
        CredentialsFileError,
        ValueError,
        OSError,
    ) as error:
        return _fail(f"cannot open the store: {error}", 1)
    try:
        summary = export_trail(
            services.store, destination, export_range, arguments.trail_name
        )
    except StoreUnavailable as error:
        return _fail(f"cannot read the store: {error}", 1)
    except ExportFailed as error:
        return _fail(str(error), 1)
    finally:
        services.close()
    print(summary)
    return 0


def _fail(message: str, status: int) -> int:
    print(f"keyledger audit export: {message}", file=sys.stderr)
    return status


def _range_problem(export_range: ExportRange) -> str | None:
    since, until = export_range.since, export_range.until
    if since is not None and until is not None and since >= until:
        return "--since must be earlier than --until"
    first, last = export_range.first_seq, export_range.last_seq
    if first is not None and last is not None and first > last:
        return "--first-seq must not be greater than --last-seq"
    return None


def export_trail(
    store: Store, destination: Destination, export_range: ExportRange, trail_name: str
) -> str:
    """Write the log files and digest files of the range; return a summary line."""
    reader = TrailReader(store)
    head = reader.head_seq()
    plan = reader.plan(export_range, head)
    if not plan:
        return "No audit records in that range; nothing was exported."

    log_files: list[LogFile] = []
    unchanged = 0
    records = 0
    for key in sorted(plan):
        for part, chunk in enumerate(_chunks(plan[key], MAX_RECORDS_PER_FILE)):
            rows = reader.records(key, chunk)
            log_file = build_log_file(key, part, rows, destination.prefix)
            if not _write(destination, log_file.key, log_file.body):
                unchanged += 1
            records += log_file.record_count
            # The digest needs only the file's name and hashes, not its bytes.
            log_files.append(dataclasses.replace(log_file, body=b""))

    context = DigestContext(
        trail_name=trail_name,
        bucket=destination.bucket,
        prefix=destination.prefix,
        public_key_fingerprint=reader.public_key_fingerprint(),
    )
    digests = build_digest_files(log_files, context, reader.covering_digests)
    for digest in digests:
        if not _write(destination, digest.key, digest.body):
            unchanged += 1

    return (
        f"Exported {records} records up to seq {head} in {len(log_files)} log files "
        f"and {len(digests)} digest files to {destination.description} "
        f"({unchanged} of them unchanged)."
    )


def _write(destination: Destination, key: str, body: bytes) -> bool:
    try:
        return destination.write(key, body)
    except ExportFailed:
        raise
    except OSError as error:
        raise ExportFailed(f"cannot write {key}: {error}") from error


def _chunks(values: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
