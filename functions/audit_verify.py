"""``keyledger audit verify`` and ``keyledger audit public-key``.

``verify`` checks the trail against its hash chain, its signed digests and
the stored lifecycle events, and names the first problem. Exit status: 0
when the trail is intact, 1 when it was tampered with, 2 when the check
could not run (invalid arguments, unreadable key file, store unavailable).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from events.audit_verification import VerificationReport
    from events.store import Store

EXIT_INTACT = 0
EXIT_TAMPERED = 1
EXIT_USAGE = 2


class _UsageError(Exception):
    """An error in the command's arguments, whose message names the fix."""


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    add_store_arguments: Callable[[argparse.ArgumentParser], None],
) -> None:
    """Add this module's subcommands to ``keyledger audit``."""
    verify = commands.add_parser(
        "verify",
        help="check the audit trail for tampering",
        description="Check the audit trail against its hash chain, its signed "
        "digests and the stored lifecycle events, and name the first record "
        "that was changed, inserted, removed or reordered. Records after the "
        "last signed digest are protected by the chain alone. Exit status: 0 "
        "intact, 1 tampered, 2 the check could not run.",
    )
    add_store_arguments(verify)
    verify.add_argument(
        "--public-key",
        type=Path,
        metavar="FILE",
        help="PEM file of the audit public key, obtained out of band, to check "
        "the digests with instead of the key stored in the database; the root "
        "key is not needed then",
    )
    verify.add_argument(
        "--from-seq", type=_positive_int, help="first record to check (default 1)"
    )
    verify.add_argument(
        "--to-seq", type=_positive_int, help="last record to check (default: the last)"
    )
    verify.add_argument(
        "--from-time",
        type=_moment,
        help="check from the first record at or after this time "
        "(ISO 8601, such as 2030-01-15T09:30:00Z, or epoch seconds)",
    )
    verify.add_argument(
        "--to-time",
        type=_moment,
        help="check up to the last record at or before this time "
        "(ISO 8601 or epoch seconds)",
    )
    verify.add_argument(
        "--expect-digest",
        type=_positive_int,
        metavar="N",
        help="report the trail as tampered unless signed digest N is still "
        "there: give the newest digest number from an earlier check or export, "
        "so that deleting the newest digests and what they cover is caught",
    )
    verify.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="output format (default text)",
    )
    verify.set_defaults(run=run_verify)

    public_key = commands.add_parser(
        "public-key",
        help="print the audit signing key's public half as PEM",
        description="Print the public half of the key that signs the audit "
        "trail's digests, as PEM, creating the key if the store has none yet. "
        "Keep a copy outside the store and pass it to verify --public-key.",
    )
    add_store_arguments(public_key)
    public_key.set_defaults(run=run_public_key)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a record number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a record number of 1 or more"
        )
    return value


def _moment(text: str) -> float:
    """Return epoch seconds from ISO 8601 (naive means UTC) or epoch seconds."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time or epoch seconds"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _error(message: str) -> int:
    print(f"keyledger audit: error: {message}", file=sys.stderr)
    return EXIT_USAGE


# verify


def run_verify(arguments: argparse.Namespace) -> int:
    from events.root_key import RootKeyError
    from events.store import RootKeyMismatch, StoreUnavailable

    try:
        if arguments.public_key is not None:
            return _verify_with_key_file(arguments)
        return _verify_with_stored_key(arguments)
    except _UsageError as error:
        return _error(str(error))
    except BrokenPipeError:
        # The reader went away before the whole result was written, so the
        # result may be incomplete: this is not a verified trail. Python
        # would report the pipe again when it flushes standard output at
        # exit, so that goes to /dev/null instead.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return _error("standard output was closed before the result was written")
    except (StoreUnavailable, RootKeyMismatch, RootKeyError, OSError) as error:
        return _error(f"cannot open the store: {error}")
    except (sqlite3.Error, OverflowError) as error:
        # A table so damaged that it cannot be read as the store's tables.
        return _error(f"cannot read the store: {error}")


def _verify_with_key_file(arguments: argparse.Namespace) -> int:
    from events.audit_signing import load_public_key
    from events.store import Store
    from functions.audit_command import CommandError, require_store
    from functions.cli import settings_from

    path: Path = arguments.public_key
    try:
        public_key = load_public_key(path.read_bytes())
    except OSError as error:
        raise _UsageError(f"cannot read {path}: {error.strerror}") from None
    except ValueError as error:
        raise _UsageError(f"{path}: {error}") from None
    settings = settings_from(arguments)
    try:
        require_store(settings.data_dir, settings.database_url)
    except CommandError as error:
        print(f"keyledger audit: {error}", file=sys.stderr)
        return EXIT_USAGE
    store = Store(settings.data_dir, settings.database_url)
    try:
        return _check(store, public_key, arguments)
    finally:
        store.close()


def _verify_with_stored_key(arguments: argparse.Namespace) -> int:
    from events.audit_signing import SigningKeyMismatch, stored_public_key
    from functions.audit_cli import open_services

    services = open_services(arguments)
    try:
        public_key = None
        if stored_public_key(services.store) is not None:
            try:
                public_key = services.audit_signer.private_key().public_key()
            except SigningKeyMismatch as error:
                _print_signing_key_problem(str(error), arguments.format)
                return EXIT_TAMPERED
        return _check(services.store, public_key, arguments)
    finally:
        services.close()


def _print_signing_key_problem(message: str, output_format: str) -> None:
    if output_format == "json":
        problem = {"kind": "signing_key_changed", "message": message}
        print(json.dumps({"intact": False, "problem": problem}))
    else:
        print(f"Audit trail tampered: {message}.")


def _check(store: Store, public_key: Any, arguments: argparse.Namespace) -> int:
    from events.audit_tampering import Problem
    from events.audit_verification import verify_trail

    from_seq, to_seq = _range(store, arguments)
    report = verify_trail(store, public_key, from_seq=from_seq, to_seq=to_seq)
    newest = _newest_digest(store)
    expected = arguments.expect_digest
    if report.problem is None and expected is not None and newest < expected:
        report.problem = Problem(
            "digests_missing",
            f"signed digest {expected} is missing: the newest left is {newest}, so "
            "digests, and the records they covered, were removed",
            digest_number=expected,
        )
    if arguments.format == "json":
        print(json.dumps({**report.as_json(), "newestDigest": newest}))
    else:
        print(_text(report))
        if report.intact and newest:
            print(
                f"Newest signed digest: {newest}. Note it, and give "
                f"--expect-digest {newest} to the next check."
            )
    return EXIT_INTACT if report.intact else EXIT_TAMPERED


def _newest_digest(store: Store) -> int:
    rows = store.read("SELECT MAX(number) AS number FROM keyledger_audit_digests", ())
    value = rows[0]["number"] if rows else None
    return int(value) if value is not None else 0


def _range(
    store: Store, arguments: argparse.Namespace
) -> tuple[int | None, int | None]:
    if arguments.from_seq is not None and arguments.from_time is not None:
        raise _UsageError("give --from-seq or --from-time, not both")
    if arguments.to_seq is not None and arguments.to_time is not None:
        raise _UsageError("give --to-seq or --to-time, not both")
    from_seq: int | None = arguments.from_seq
    to_seq: int | None = arguments.to_seq
    if from_seq is not None and to_seq is not None and from_seq > to_seq:
        raise _UsageError(
            f"--from-seq {from_seq} is after --to-seq {to_seq}; give a first "
            "record at or before the last"
        )
    if arguments.from_time is not None:
        rows = store.read(
            "SELECT MIN(seq) AS seq FROM keyledger_audit WHERE event_time >= ?",
            (arguments.from_time,),
        )
        found = rows[0]["seq"] if rows else None
        # With no record that late, the range is empty: start past the end.
        from_seq = int(found) if found is not None else 2**62
    if arguments.to_time is not None:
        rows = store.read(
            "SELECT MAX(seq) AS seq FROM keyledger_audit WHERE event_time <= ?",
            (arguments.to_time,),
        )
        found = rows[0]["seq"] if rows else None
        to_seq = int(found) if found is not None else 0
    return from_seq, to_seq


def _text(report: VerificationReport) -> str:
    counts = (
        f"{_count(report.records_checked, 'record')}, "
        f"{_count(report.digests_checked, 'signed digest')} and "
        f"{_count(report.events_checked, 'stored event')} checked"
    )
    if report.problem is not None:
        return f"Audit trail tampered: {report.problem.message}.\n({counts})"
    if report.records_checked == 0:
        return f"Audit trail intact: no records in the range ({counts})."
    lines = [
        f"Audit trail intact: records {report.first_seq}-{report.last_seq} "
        f"verified ({counts})."
    ]
    if report.last_signed_seq < report.last_seq:
        unsigned_from = max(report.last_signed_seq + 1, report.first_seq)
        lines.append(
            f"Records {unsigned_from}-{report.last_seq} come after the last signed "
            "digest: only the hash chain protects them, and cutting them off "
            "would go undetected."
        )
    return "\n".join(lines)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


# public-key


def run_public_key(arguments: argparse.Namespace) -> int:
    from events.audit_signing import SigningKeyMismatch
    from events.root_key import RootKeyError
    from events.store import RootKeyMismatch, StoreUnavailable
    from functions.audit_cli import open_services

    try:
        services = open_services(arguments)
    except (StoreUnavailable, RootKeyMismatch, RootKeyError, OSError) as error:
        return _error(f"cannot open the store: {error}")
    try:
        pem = services.audit_signer.public_key_pem()
    except SigningKeyMismatch as error:
        print(f"keyledger audit: error: {error}", file=sys.stderr)
        return EXIT_TAMPERED
    finally:
        services.close()
    sys.stdout.write(pem)
    return EXIT_INTACT
