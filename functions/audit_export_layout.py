"""CloudTrail's file layout for exported audit records: log files and digest files.

CloudTrail delivers a trail as gzipped JSON objects ``{"Records": [...]}``,
one per account, Region and delivery (about every five minutes), under
``AWSLogs/<account>/CloudTrail/<region>/<YYYY>/<MM>/<DD>/``. Once an hour it
delivers a digest file that lists the SHA-256 of each log file delivered in
that hour and points to the previous digest file, under
``AWSLogs/<account>/CloudTrail-Digest/...``. The names and fields follow the
AWS CloudTrail User Guide pages "CloudTrail log file examples" and
"CloudTrail digest file structure".

KeyLedger cuts the trail into five-minute slices of event time and treats the
end of a slice as its delivery time. So a log file contains the records of
one account and Region from the five minutes before the time in its name.
Every name and byte is derived from the stored records, so exporting the
same records again writes the same files.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

SLICE_SECONDS = 300
"""CloudTrail delivers log files about every five minutes."""
DIGEST_SECONDS = 3600
"""CloudTrail delivers one digest file an hour for each Region."""
MAX_RECORDS_PER_FILE = 5000
"""A slice with more records is written as several files, in seq order.

NOTE: CloudTrail documents no limit on records per file; this one bounds the
memory an export needs."""
HASH_ALGORITHM = "SHA-256"


@dataclass(frozen=True, slots=True, order=True)
class SliceKey:
    """Five minutes of one account's records in one Region."""

    account_id: str
    region: str
    index: int
    """The slice's start in epoch seconds, divided by SLICE_SECONDS."""

    @property
    def start(self) -> int:
        return self.index * SLICE_SECONDS

    @property
    def hour(self) -> int:
        """The hour of event time the slice is in, in epoch hours."""
        return self.start // DIGEST_SECONDS

    @property
    def end(self) -> int:
        """The delivery time: the first second after the slice."""
        return self.start + SLICE_SECONDS


def slice_index(event_time: float) -> int:
    return math.floor(event_time / SLICE_SECONDS)


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """One row of the trail, as stored."""

    seq: int
    event_time: float
    record: str
    """The CloudTrail record as the canonical JSON text that was hashed."""


@dataclass(frozen=True, slots=True)
class LogFile:
    """A gzipped log file and the names and hashes its digest file lists."""

    key: str
    """The object key below the export's prefix, starting with AWSLogs/."""
    account_id: str
    region: str
    delivered: int
    """Epoch seconds of the time in the name."""
    body: bytes
    sha256: str
    """Hex SHA-256 of the uncompressed JSON, as CloudTrail's hashValue."""
    first_seq: int
    last_seq: int
    record_count: int
    oldest_event_time: float
    newest_event_time: float


@dataclass(frozen=True, slots=True)
class DigestFile:
    key: str
    body: bytes
    sha256: str
    """Hex SHA-256 of the uncompressed JSON, as the next digest's
    previousDigestHashValue."""


def _utc(epoch_seconds: float) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, UTC)


def cloudtrail_time(epoch_seconds: float) -> str:
    """Format a moment as CloudTrail's digest files do: UTC, whole seconds, Z."""
    return _utc(epoch_seconds).strftime("%Y-%m-%dT%H:%M:%SZ")


def unique_string(account_id: str, region: str, slice_start: int, part: int) -> str:
    """Derive the 16-character UniqueString of a log file's name.

    CloudTrail's is random and only keeps files from overwriting each other.
    This one is derived from the slice and part, so a later export of a slice
    that has gained records replaces its file instead of adding one beside it.
    """
    seed = f"{account_id}/{region}/{slice_start}/{part}".encode()
    digest = hashlib.sha256(seed).digest()
    return base64.b32encode(digest).decode("ascii")[:16]


def log_file_key(
    account_id: str, region: str, delivered: int, unique: str, prefix: str = ""
) -> str:
    """Name a log file as CloudTrail does:
    AccountID_CloudTrail_RegionName_YYYYMMDDTHHmmZ_UniqueString.json.gz."""
    moment = _utc(delivered)
    folder = f"AWSLogs/{account_id}/CloudTrail/{region}/{moment:%Y/%m/%d}"
    name = f"{account_id}_CloudTrail_{region}_{moment:%Y%m%dT%H%MZ}_{unique}.json.gz"
    return f"{prefix}{folder}/{name}"


def digest_file_key(
    account_id: str, region: str, trail_name: str, end: int, prefix: str = ""
) -> str:
    """Name a digest file as CloudTrail does, after the end of its hour."""
    moment = _utc(end)
    folder = f"AWSLogs/{account_id}/CloudTrail-Digest/{region}/{moment:%Y/%m/%d}"
    name = (
        f"{account_id}_CloudTrail-Digest_{region}_{trail_name}_{region}_"
        f"{moment:%Y%m%dT%H%M%SZ}.json.gz"
    )
    return f"{prefix}{folder}/{name}"


def compress(text: str) -> bytes:
    # mtime=0 keeps the gzip header, and so the file, the same on every export.
    return gzip.compress(text.encode("utf-8"), compresslevel=6, mtime=0)


def build_log_file(
    key: SliceKey, part: int, records: Sequence[StoredRecord], prefix: str = ""
) -> LogFile:
    """Write one log file's records, in seq order, as ``{"Records": [...]}``.

    The stored record texts are joined as they are, so each element of
    Records is exactly the record that the chain hashed.
    """
    text = '{"Records":[' + ",".join(row.record for row in records) + "]}"
    times = [row.event_time for row in records]
    return LogFile(
        key=log_file_key(
            key.account_id,
            key.region,
            key.end,
            unique_string(key.account_id, key.region, key.start, part),
            prefix,
        ),
        account_id=key.account_id,
        region=key.region,
        delivered=key.end,
        body=compress(text),
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        first_seq=records[0].seq,
        last_seq=records[-1].seq,
        record_count=len(records),
        oldest_event_time=min(times),
        newest_event_time=max(times),
    )


def digest_hour_end(delivered: int) -> int:
    """Return the end of the digest hour that covers a log file.

    A digest covers the log files delivered after its start and up to and
    including its end, so a file delivered on the hour belongs to the hour
    that ends then.
    """
    return math.ceil(delivered / DIGEST_SECONDS) * DIGEST_SECONDS


@dataclass(frozen=True, slots=True)
class DigestContext:
    """The fields that every digest file of one export shares."""

    trail_name: str
    bucket: str | None
    """The S3 bucket, or None for an export to a folder."""
    prefix: str
    public_key_fingerprint: str | None
    """Hex SHA-256 of the audit signing key's DER public key, if there is one."""


def build_digest_files(
    log_files: Sequence[LogFile],
    context: DigestContext,
    covering_digests: Callable[[int, int], Sequence[Mapping[str, Any]]],
) -> list[DigestFile]:
    """Write the hourly digest files of the given log files, chained per Region.

    ``covering_digests(first_seq, last_seq)`` returns KeyLedger's signed
    digests of the chain that cover any record in that seq range.
    """
    hours: dict[tuple[str, str], dict[int, list[LogFile]]] = {}
    for log_file in log_files:
        by_hour = hours.setdefault((log_file.account_id, log_file.region), {})
        by_hour.setdefault(digest_hour_end(log_file.delivered), []).append(log_file)

    digests: list[DigestFile] = []
    for (account_id, region), by_hour in sorted(hours.items()):
        previous: tuple[str, DigestFile] | None = None
        for end in sorted(by_hour):
            files = sorted(by_hour[end], key=lambda item: item.key)
            key = digest_file_key(
                account_id, region, context.trail_name, end, context.prefix
            )
            first_seq = min(item.first_seq for item in files)
            last_seq = max(item.last_seq for item in files)
            document = _digest_document(
                account_id,
                end,
                key,
                files,
                context,
                previous,
                covering_digests(first_seq, last_seq),
            )
            text = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
            digest = DigestFile(
                key=key,
                body=compress(text),
                sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
            )
            digests.append(digest)
            previous = (key, digest)
    return digests


def _digest_document(
    account_id: str,
    end: int,
    key: str,
    files: Sequence[LogFile],
    context: DigestContext,
    previous: tuple[str, DigestFile] | None,
    keyledger_digests: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    previous_key, previous_digest = previous if previous else (None, None)
    return {
        "awsAccountId": account_id,
        "digestStartTime": cloudtrail_time(end - DIGEST_SECONDS),
        "digestEndTime": cloudtrail_time(end),
        "digestS3Bucket": context.bucket,
        "digestS3Object": key,
        "digestPublicKeyFingerprint": context.public_key_fingerprint,
        # KeyLedger does not sign the digest file itself: the signatures are
        # those of the KeyLedger digests in keyLedgerDigests.
        "digestSignatureAlgorithm": None,
        "newestEventTime": cloudtrail_time(max(f.newest_event_time for f in files)),
        "oldestEventTime": cloudtrail_time(min(f.oldest_event_time for f in files)),
        "previousDigestS3Bucket": context.bucket if previous_key else None,
        "previousDigestS3Object": previous_key,
        "previousDigestHashValue": previous_digest.sha256 if previous_digest else None,
        "previousDigestHashAlgorithm": HASH_ALGORITHM if previous_digest else None,
        "previousDigestSignature": None,
        "logFiles": [
            {
                "s3Bucket": context.bucket,
                "s3Object": item.key,
                "hashValue": item.sha256,
                "hashAlgorithm": HASH_ALGORITHM,
                "newestEventTime": cloudtrail_time(item.newest_event_time),
                "oldestEventTime": cloudtrail_time(item.oldest_event_time),
                "keyLedgerFirstSeq": item.first_seq,
                "keyLedgerLastSeq": item.last_seq,
                "keyLedgerRecordCount": item.record_count,
            }
            for item in files
        ],
        "keyLedgerDigests": list(keyledger_digests),
    }
