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
import math
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from functions.audit_export_destinations import (
    Destination,
    ExportFailed,
    open_destination,
)
from functions.audit_export_layout import (
    DIGEST_SECONDS,
    MAX_RECORDS_PER_FILE,
    DigestContext,
    LogFile,
    SliceKey,
    StoredRecord,
    build_digest_files,
    build_log_file,
    cloudtrail_time,
    slice_index,
)

if TYPE_CHECKING:
    from events.store import Store

DEFAULT_TRAIL_NAME = "keyledger"
# CloudTrail's trail names: 3 to 128 letters, digits, periods, underscores
# and hyphens, starting and ending with a letter or digit, with no two of
# the separators in a row.
_TRAIL_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|[._-](?![._-])){1,126}[A-Za-z0-9]")
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
    reader = _TrailReader(store)
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


class _TrailReader:
    """Reads the trail through the store's read connection, on either backend."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def _read(self, statement: str, params: tuple[Any, ...]) -> list[Mapping[str, Any]]:
        # NOTE: Store has no public query method for the audit tables yet;
        # its _read runs a statement on SQLite or PostgreSQL alike.
        return self._store._read(statement, params)

    def head_seq(self) -> int:
        rows = self._read("SELECT seq FROM keyledger_audit_head WHERE id = 1", ())
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
            rows = self._read(_SCAN, (after, last, start, end, _SCAN_PAGE))
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
        rows = self._read(
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
        rows = self._read(_READ_DIGESTS, (first_seq, last_seq))
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
