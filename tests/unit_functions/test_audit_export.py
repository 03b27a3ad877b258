"""The CloudTrail file layout of ``keyledger audit export``, and the export
itself over an in-process store on each backend.

Names and fields come from the AWS CloudTrail User Guide: "CloudTrail log
file examples" (log file name format and its example) and "CloudTrail digest
file structure" (digest file location, sample digest file).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import sqlite3
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from domain.clock import AdjustableClock
from events.audit import AuditEntry, canonical_json
from functions.audit_export import ExportRange, export_trail
from functions.audit_export_destinations import (
    ExportFailed,
    FolderDestination,
    S3Destination,
    open_destination,
)
from functions.audit_export_layout import (
    DigestContext,
    SliceKey,
    StoredRecord,
    build_digest_files,
    build_log_file,
    digest_file_key,
    digest_hour_end,
    log_file_key,
    slice_index,
    unique_string,
)
from functions.services import Services

ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"

LOG_FILE_PATH = re.compile(
    r"AWSLogs/(?P<account>\d{12})/CloudTrail/(?P<region>[a-z0-9-]+)/"
    r"(?P<year>\d{4})/(?P<month>\d{2})/(?P<day>\d{2})/"
    r"(?P=account)_CloudTrail_(?P=region)_"
    r"(?P=year)(?P=month)(?P=day)T\d{4}Z_[A-Za-z0-9]{16}\.json\.gz"
)


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def record_text(event_id: str, event_time: float, region: str = "us-east-2") -> str:
    moment = datetime.fromtimestamp(event_time, UTC)
    return canonical_json(
        {
            "eventVersion": "1.11",
            "eventID": event_id,
            "eventTime": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": "kms.amazonaws.com",
            "eventName": "Encrypt",
            "awsRegion": region,
        }
    )


# File names, from the AWS examples.


def test_log_file_key_matches_aws_example() -> None:
    delivered = int(epoch("2015-08-01T02:10:00"))

    key = log_file_key(ACCOUNT, "us-east-2", delivered, "Mu0KsOhtH1ar15ZZ")

    assert key == (
        "AWSLogs/111122223333/CloudTrail/us-east-2/2015/08/01/"
        "111122223333_CloudTrail_us-east-2_20150801T0210Z_Mu0KsOhtH1ar15ZZ.json.gz"
    )


def test_digest_file_key_matches_aws_example() -> None:
    end = int(epoch("2015-08-17T15:01:31"))

    key = digest_file_key(ACCOUNT, "us-east-2", "your-trail-name", end, "logs/")

    assert key == (
        "logs/AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/"
        "111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_"
        "20150817T150131Z.json.gz"
    )


def test_unique_string_is_16_characters_and_stable() -> None:
    first = unique_string(ACCOUNT, "us-east-2", 1_438_394_700, 0)

    assert re.fullmatch(r"[A-Z2-7]{16}", first)
    assert unique_string(ACCOUNT, "us-east-2", 1_438_394_700, 0) == first
    assert unique_string(ACCOUNT, "us-east-2", 1_438_394_700, 1) != first
    assert unique_string(ACCOUNT, "eu-west-1", 1_438_394_700, 0) != first


# Slices and hours.


@pytest.mark.parametrize(
    ("event_time", "expected_name_time", "expected_folder"),
    [
        ("2015-08-01T02:05:00", "20150801T0210Z", "2015/08/01"),
        ("2015-08-01T02:09:59", "20150801T0210Z", "2015/08/01"),
        ("2015-08-01T02:10:00", "20150801T0215Z", "2015/08/01"),
        # Delivered at midnight, so in the next day's folder.
        ("2015-08-01T23:58:00", "20150802T0000Z", "2015/08/02"),
    ],
)
def test_log_file_is_named_after_its_slice_end(
    event_time: str, expected_name_time: str, expected_folder: str
) -> None:
    moment = epoch(event_time)
    key = SliceKey(ACCOUNT, "us-east-2", slice_index(moment))

    log_file = build_log_file(
        key, 0, [StoredRecord(1, moment, record_text("a", moment))]
    )

    assert f"/{expected_folder}/" in log_file.key
    assert f"_{expected_name_time}_" in log_file.key
    assert LOG_FILE_PATH.fullmatch(log_file.key)


def test_digest_hour_ends_at_or_after_delivery() -> None:
    assert digest_hour_end(int(epoch("2015-08-17T15:00:00"))) == epoch(
        "2015-08-17T15:00:00"
    )
    assert digest_hour_end(int(epoch("2015-08-17T15:05:00"))) == epoch(
        "2015-08-17T16:00:00"
    )


# File contents.


def test_log_file_holds_records_exactly() -> None:
    moment = epoch("2015-08-01T02:06:00")
    rows = [
        StoredRecord(7, moment, record_text("first", moment)),
        StoredRecord(9, moment + 30, record_text("second", moment + 30)),
    ]

    log_file = build_log_file(
        SliceKey(ACCOUNT, "us-east-2", slice_index(moment)), 0, rows
    )
    text = gzip.decompress(log_file.body)

    assert json.loads(text) == {"Records": [json.loads(row.record) for row in rows]}
    assert log_file.sha256 == hashlib.sha256(text).hexdigest()
    assert (log_file.first_seq, log_file.last_seq, log_file.record_count) == (7, 9, 2)


def test_log_file_bytes_repeat_exactly() -> None:
    moment = epoch("2015-08-01T02:06:00")
    rows = [StoredRecord(1, moment, record_text("a", moment))]
    key = SliceKey(ACCOUNT, "us-east-2", slice_index(moment))

    assert build_log_file(key, 0, rows).body == build_log_file(key, 0, rows).body


def _log_file_at(seq: int, when: str, region: str = "us-east-2") -> Any:
    moment = epoch(when)
    key = SliceKey(ACCOUNT, region, slice_index(moment))
    return build_log_file(
        key, 0, [StoredRecord(seq, moment, record_text(when, moment))]
    )


def test_digest_files_chain_hourly() -> None:
    first_hour = [
        _log_file_at(1, "2015-08-17T14:01:00"),
        _log_file_at(2, "2015-08-17T14:31:00"),
    ]
    second_hour = [_log_file_at(3, "2015-08-17T15:10:00")]
    context = DigestContext("trail-1", "amzn-s3-demo-bucket", "", "ab" * 32)
    covering = [{"number": 1, "firstSeq": 1, "lastSeq": 2}]

    digests = build_digest_files(
        first_hour + second_hour,
        context,
        lambda first, last: covering if (first, last) == (1, 2) else [],
    )

    assert [digest.key.rsplit("_", 1)[1] for digest in digests] == [
        "20150817T150000Z.json.gz",
        "20150817T160000Z.json.gz",
    ]
    first = json.loads(gzip.decompress(digests[0].body))
    second = json.loads(gzip.decompress(digests[1].body))
    assert first["awsAccountId"] == ACCOUNT
    assert first["digestStartTime"] == "2015-08-17T14:00:00Z"
    assert first["digestEndTime"] == "2015-08-17T15:00:00Z"
    assert first["digestS3Bucket"] == "amzn-s3-demo-bucket"
    assert first["digestS3Object"] == digests[0].key
    assert first["digestPublicKeyFingerprint"] == "ab" * 32
    assert first["oldestEventTime"] == "2015-08-17T14:01:00Z"
    assert first["newestEventTime"] == "2015-08-17T14:31:00Z"
    assert first["previousDigestS3Object"] is None
    assert first["previousDigestHashValue"] is None
    assert [entry["s3Object"] for entry in first["logFiles"]] == [
        item.key for item in first_hour
    ]
    assert [entry["hashValue"] for entry in first["logFiles"]] == [
        hashlib.sha256(gzip.decompress(item.body)).hexdigest() for item in first_hour
    ]
    assert {entry["hashAlgorithm"] for entry in first["logFiles"]} == {"SHA-256"}
    assert first["keyLedgerDigests"] == covering
    assert second["previousDigestS3Bucket"] == "amzn-s3-demo-bucket"
    assert second["previousDigestS3Object"] == digests[0].key
    assert second["previousDigestHashAlgorithm"] == "SHA-256"
    assert (
        second["previousDigestHashValue"]
        == hashlib.sha256(gzip.decompress(digests[0].body)).hexdigest()
    )
    assert second["keyLedgerDigests"] == []


def test_digest_chains_are_separate_per_region() -> None:
    files = [
        _log_file_at(1, "2015-08-17T14:01:00", "us-east-2"),
        _log_file_at(2, "2015-08-17T15:01:00", "eu-west-1"),
    ]

    digests = build_digest_files(
        files, DigestContext("trail-1", None, "", None), lambda first, last: []
    )

    documents = [json.loads(gzip.decompress(digest.body)) for digest in digests]
    assert len(documents) == 2
    assert all(document["previousDigestS3Object"] is None for document in documents)
    assert {"/eu-west-1/" in digest.key for digest in digests} == {True, False}


# Destinations.


def test_destination_parses_s3_bucket_and_prefix() -> None:
    destination = open_destination("s3://amzn-s3-demo-bucket/some/prefix/", None)

    assert isinstance(destination, S3Destination)
    assert destination.bucket == "amzn-s3-demo-bucket"
    assert destination.prefix == "some/prefix/"


@pytest.mark.parametrize("target", ["s3://", "s3:///prefix", "https://example.test/x"])
def test_destination_rejects_invalid_target(target: str) -> None:
    with pytest.raises(ValueError, match="invalid destination"):
        open_destination(target, None)


def test_folder_destination_leaves_no_temporary_file(tmp_path: Path) -> None:
    destination = FolderDestination(tmp_path)

    assert destination.write("a/b.json.gz", b"one") is True
    assert destination.write("a/b.json.gz", b"one") is False
    assert destination.write("a/b.json.gz", b"two") is True

    assert [path.name for path in (tmp_path / "a").iterdir()] == ["b.json.gz"]
    assert (tmp_path / "a" / "b.json.gz").read_bytes() == b"two"


# The export over a real store.


def append_records(services: Services, rows: list[tuple[str, str, str]]) -> None:
    """Append one record per (account, region, time) to the chain, in order."""
    entries = []
    for account, region, when in rows:
        moment = epoch(when)
        entries.append(
            AuditEntry(
                event_id=str(uuid.uuid4()),
                event_time=moment,
                account_id=account,
                region=region,
                event_name="Encrypt",
                principal_arn=f"arn:aws:iam::{account}:root",
                key_id=None,
                error_code=None,
                record=record_text(f"{account}-{when}", moment, region),
            )
        )
    services.store.append_audit(entries)


def stored_records(services: Services) -> dict[int, Any]:
    rows = services.store.read("SELECT seq, record FROM keyledger_audit", ())
    return {int(row["seq"]): json.loads(row["record"]) for row in rows}


def exported_files(root: Path) -> dict[str, Any]:
    return {
        str(path.relative_to(root)): json.loads(gzip.decompress(path.read_bytes()))
        for path in sorted(root.rglob("*.json.gz"))
    }


TRAIL = [
    (ACCOUNT, "us-east-2", "2015-08-17T14:01:00"),
    (ACCOUNT, "us-east-2", "2015-08-17T14:02:00"),
    (OTHER_ACCOUNT, "us-east-2", "2015-08-17T14:03:00"),
    (ACCOUNT, "eu-west-1", "2015-08-17T14:03:30"),
    (ACCOUNT, "us-east-2", "2015-08-17T14:07:00"),
    (ACCOUNT, "us-east-2", "2015-08-17T15:20:00"),
    (ACCOUNT, "us-east-2", "2015-08-18T09:00:00"),
]


@pytest.fixture
def services(open_services: Callable[[AdjustableClock], Services]) -> Services:
    built = open_services(AdjustableClock())
    append_records(built, TRAIL)
    return built


def test_export_writes_every_record_once(services: Services, tmp_path: Path) -> None:
    summary = export_trail(
        services.store, FolderDestination(tmp_path), ExportRange(), "t1"
    )

    files = exported_files(tmp_path)
    log_files = {path: body for path, body in files.items() if "/CloudTrail/" in path}
    exported = [record for body in log_files.values() for record in body["Records"]]
    assert sorted(exported, key=json.dumps) == sorted(
        stored_records(services).values(), key=json.dumps
    )
    assert all(LOG_FILE_PATH.fullmatch(path) for path in log_files)
    # Slices: ACCOUNT us-east-2 14:00-14:05, 14:05-14:10, 15:20, 09:00;
    # OTHER_ACCOUNT us-east-2 14:00-14:05; ACCOUNT eu-west-1 14:00-14:05.
    assert len(log_files) == 6
    assert "Exported 7 records up to seq 7 in 6 log files and 5 digest files" in summary


def test_export_groups_by_account_and_region(
    services: Services, tmp_path: Path
) -> None:
    export_trail(services.store, FolderDestination(tmp_path), ExportRange(), "t1")

    for path, body in exported_files(tmp_path).items():
        if "/CloudTrail/" not in path:
            continue
        account, region = path.split("/")[1], path.split("/")[3]
        assert {record["awsRegion"] for record in body["Records"]} == {region}
        assert all(record["eventID"].startswith(account) for record in body["Records"])


def test_export_again_writes_same_files(services: Services, tmp_path: Path) -> None:
    first = tmp_path / "first"
    second = tmp_path / "second"
    export_trail(services.store, FolderDestination(first), ExportRange(), "t1")
    export_trail(services.store, FolderDestination(second), ExportRange(), "t1")

    summary = export_trail(
        services.store, FolderDestination(first), ExportRange(), "t1"
    )

    first_files = {p.relative_to(first): p.read_bytes() for p in first.rglob("*.gz")}
    second_files = {p.relative_to(second): p.read_bytes() for p in second.rglob("*.gz")}
    assert first_files == second_files
    assert "(11 of them unchanged)" in summary
    assert not [path for path in first.rglob("*") if path.name.endswith(".tmp")]


def test_time_range_grows_to_whole_hours(services: Services, tmp_path: Path) -> None:
    full = tmp_path / "full"
    export_trail(services.store, FolderDestination(full), ExportRange(), "t1")
    ranged = tmp_path / "ranged"

    export_trail(
        services.store,
        FolderDestination(ranged),
        ExportRange(
            since=epoch("2015-08-17T14:06:00"), until=epoch("2015-08-17T14:06:01")
        ),
        "t1",
    )

    ranged_files = exported_files(ranged)
    records = [
        record["eventID"]
        for path, body in ranged_files.items()
        if "/CloudTrail/" in path
        for record in body["Records"]
    ]
    # Every record of the hour 14:00-15:00, in all accounts and Regions.
    assert sorted(records) == sorted(
        f"{account}-{when}"
        for account, _, when in TRAIL
        if when.startswith("2015-08-17T14")
    )
    full_files = exported_files(full)
    for path, body in ranged_files.items():
        if "/CloudTrail/" in path:
            assert full_files[path] == body


def test_seq_range_exports_the_hours_it_touches(
    services: Services, tmp_path: Path
) -> None:
    export_trail(
        services.store,
        FolderDestination(tmp_path),
        ExportRange(first_seq=6, last_seq=6),
        "t1",
    )

    files = exported_files(tmp_path)
    log_paths = [path for path in files if "/CloudTrail/" in path]
    assert len(log_paths) == 1
    assert [r["eventID"] for r in files[log_paths[0]]["Records"]] == [
        f"{ACCOUNT}-2015-08-17T15:20:00"
    ]


def test_empty_range_writes_nothing(services: Services, tmp_path: Path) -> None:
    summary = export_trail(
        services.store,
        FolderDestination(tmp_path / "out"),
        ExportRange(since=epoch("2020-01-01T00:00:00")),
        "t1",
    )

    assert summary.startswith("No audit records")
    assert not (tmp_path / "out").exists()


def insert_keyledger_digest(
    services: Services, settings: Any, first: int, last: int
) -> None:
    statement = (
        "INSERT INTO keyledger_audit_digests (number, first_seq, last_seq, last_hash,"
        " created, document, signature) VALUES (?, ?, ?, ?, ?, ?, ?)"
    )
    values = (
        1,
        first,
        last,
        "ff" * 32,
        epoch("2015-08-17T14:10:00"),
        '{"d":1}',
        "c2ln",
    )
    if settings.database_url:
        import psycopg

        from events.postgres_store import to_postgres

        base, _, query = settings.database_url.partition("?schema=")
        with psycopg.connect(base, autocommit=True) as connection:
            connection.execute(to_postgres(statement, query), values)
        return
    connection = sqlite3.connect(Path(settings.data_dir) / "keyledger.sqlite3")
    with connection:
        connection.execute(statement, values)
    connection.close()


def test_digest_file_carries_covering_keyledger_digest(
    services: Services, settings: Any, tmp_path: Path
) -> None:
    insert_keyledger_digest(services, settings, 1, 3)

    export_trail(services.store, FolderDestination(tmp_path), ExportRange(), "t1")

    digests = {
        path: body
        for path, body in exported_files(tmp_path).items()
        if "Digest" in path
    }
    covered = {
        path: body["keyLedgerDigests"]
        for path, body in digests.items()
        if body["keyLedgerDigests"]
    }
    expected = {
        "number": 1,
        "firstSeq": 1,
        "lastSeq": 3,
        "lastHash": "ff" * 32,
        "created": "2015-08-17T14:10:00Z",
        "document": '{"d":1}',
        "signature": "c2ln",
    }
    # Seqs 1, 2 and 3 are in the 14:00 hours of ACCOUNT and OTHER_ACCOUNT in
    # us-east-2; seq 4 (eu-west-1) is after the KeyLedger digest.
    assert len(covered) == 2
    assert all(value == [expected] for value in covered.values())


def test_export_to_s3_puts_every_file(services: Services, moto_s3: str) -> None:
    import boto3

    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=moto_s3)
    s3.create_bucket(Bucket="amzn-s3-demo-bucket")

    export_trail(
        services.store,
        S3Destination("amzn-s3-demo-bucket", "trail", moto_s3),
        ExportRange(),
        "t1",
    )

    listing = s3.list_objects_v2(Bucket="amzn-s3-demo-bucket")["Contents"]
    keys = sorted(item["Key"] for item in listing)
    assert len(keys) == 6 + 5
    assert all(key.startswith("trail/AWSLogs/") for key in keys)
    digest_key = next(key for key in keys if "CloudTrail-Digest" in key)
    body = s3.get_object(Bucket="amzn-s3-demo-bucket", Key=digest_key)["Body"].read()
    digest = json.loads(gzip.decompress(body))
    assert digest["digestS3Bucket"] == "amzn-s3-demo-bucket"
    assert digest["digestS3Object"] == digest_key
    for entry in digest["logFiles"]:
        log_object = s3.get_object(Bucket="amzn-s3-demo-bucket", Key=entry["s3Object"])
        log_text = gzip.decompress(log_object["Body"].read())
        assert hashlib.sha256(log_text).hexdigest() == entry["hashValue"]


def test_export_to_missing_bucket_fails(services: Services, moto_s3: str) -> None:
    with pytest.raises(ExportFailed, match="NoSuchBucket"):
        export_trail(
            services.store,
            S3Destination("missing-bucket", "", moto_s3),
            ExportRange(),
            "t1",
        )
