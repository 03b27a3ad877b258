"""``keyledger audit export`` against a running server's store, to a folder and
to S3 (a moto server on loopback).

The layout is CloudTrail's, from the AWS CloudTrail User Guide pages
"CloudTrail log file examples" (log file name format) and "CloudTrail digest
file structure" (digest file location and fields).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.audit_helpers import advance, keyledger_audit

LOG_FILE_PATH = re.compile(
    r"AWSLogs/(?P<account>\d{12})/CloudTrail/(?P<region>[a-z0-9-]+)/"
    r"(?P<year>\d{4})/(?P<month>\d{2})/(?P<day>\d{2})/"
    r"(?P=account)_CloudTrail_(?P=region)_"
    r"(?P=year)(?P=month)(?P=day)T\d{4}Z_[A-Za-z0-9]{16}\.json\.gz"
)
DIGEST_FILE_PATH = re.compile(
    r"AWSLogs/(?P<account>\d{12})/CloudTrail-Digest/(?P<region>[a-z0-9-]+)/"
    r"(?P<year>\d{4})/(?P<month>\d{2})/(?P<day>\d{2})/"
    r"(?P=account)_CloudTrail-Digest_(?P=region)_(?P<trail>[A-Za-z0-9._-]+)_"
    r"(?P=region)_(?P=year)(?P=month)(?P=day)T\d{6}Z\.json\.gz"
)
BUCKET = "amzn-s3-demo-bucket"


def run_export(
    server: Any, *arguments: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return keyledger_audit(server, "export", *arguments, env=env)


@pytest.fixture
def busy_server(fresh_server_factory: Callable[..., Any]) -> Any:
    """A server whose trail spans two Regions, several slices and two hours."""
    server = fresh_server_factory(extra_args=["--dev-clock"])
    kms = server.client()
    key_id = kms.create_key(Description="export")["KeyMetadata"]["KeyId"]
    for _ in range(3):
        kms.encrypt(KeyId=key_id, Plaintext=b"not in the trail")
    advance(server, 400)
    kms.describe_key(KeyId=key_id)
    server.client(region="eu-west-1").list_keys()
    advance(server, 3700)
    kms.list_keys()
    return server


def stored_records(store_reader: Callable[[Any], Any], server: Any) -> list[Any]:
    rows = store_reader(server).query("SELECT record FROM keyledger_audit ORDER BY seq")
    return [json.loads(row[0]) for row in rows]


def read_tree(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_export_to_folder_holds_stored_records(
    busy_server: Any, store_reader: Callable[[Any], Any], tmp_path: Path
) -> None:
    out = tmp_path / "out"

    result = run_export(busy_server, "--to", str(out))

    assert result.returncode == 0, result.stderr
    files = read_tree(out)
    log_files = {path: body for path, body in files.items() if "/CloudTrail/" in path}
    digest_files = {
        path: body for path, body in files.items() if "/CloudTrail-Digest/" in path
    }
    assert set(files) == set(log_files) | set(digest_files)
    for path in log_files:
        assert LOG_FILE_PATH.fullmatch(path), path
    for path in digest_files:
        match = DIGEST_FILE_PATH.fullmatch(path)
        assert match, path
        assert match["trail"] == "keyledger"

    exported = []
    for path, body in log_files.items():
        document = json.loads(gzip.decompress(body))
        assert list(document) == ["Records"]
        match = LOG_FILE_PATH.fullmatch(path)
        assert match
        for record in document["Records"]:
            assert record["awsRegion"] == match["region"]
            assert record["recipientAccountId"] == match["account"]
        exported.extend(document["Records"])
    stored = stored_records(store_reader, busy_server)
    # CreateKey, 3 Encrypt, DescribeKey, ListKeys in eu-west-1, ListKeys.
    assert len(stored) == 7
    assert sorted(exported, key=json.dumps) == sorted(stored, key=json.dumps)
    assert {path.split("/")[3] for path in log_files} == {"us-east-1", "eu-west-1"}
    assert "Exported 7 records" in result.stdout


def test_digest_files_list_log_file_hashes(busy_server: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"

    assert run_export(busy_server, "--to", str(out)).returncode == 0

    files = read_tree(out)
    listed = set()
    for path, body in files.items():
        if "/CloudTrail-Digest/" not in path:
            continue
        digest = json.loads(gzip.decompress(body))
        assert digest["digestS3Object"] == path
        for entry in digest["logFiles"]:
            assert entry["hashAlgorithm"] == "SHA-256"
            text = gzip.decompress(files[entry["s3Object"]])
            assert hashlib.sha256(text).hexdigest() == entry["hashValue"]
            listed.add(entry["s3Object"])
    assert listed == {path for path in files if "/CloudTrail/" in path}


def test_export_again_changes_nothing(busy_server: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run_export(busy_server, "--to", str(out)).returncode == 0
    before = read_tree(out)

    again = run_export(busy_server, "--to", str(out))

    assert again.returncode == 0, again.stderr
    assert read_tree(out) == before
    assert f"({len(before)} of them unchanged)" in again.stdout


def s3_client(endpoint: str) -> Any:
    import boto3

    return boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint)


def test_export_to_s3_matches_folder_export(
    busy_server: Any, moto_s3: str, tmp_path: Path
) -> None:
    s3 = s3_client(moto_s3)
    s3.create_bucket(Bucket=BUCKET)
    out = tmp_path / "out"
    assert run_export(busy_server, "--to", str(out)).returncode == 0

    # The endpoint comes from AWS_ENDPOINT_URL_S3, as boto3 reads it.
    result = run_export(
        busy_server,
        "--to",
        f"s3://{BUCKET}/audit/trail",
        env={"AWS_ENDPOINT_URL_S3": moto_s3},
    )

    assert result.returncode == 0, result.stderr
    listing = s3.list_objects_v2(Bucket=BUCKET)["Contents"]
    keys = {item["Key"] for item in listing}
    folder = read_tree(out)
    assert keys == {f"audit/trail/{path}" for path in folder}
    for path, body in folder.items():
        obj = s3.get_object(Bucket=BUCKET, Key=f"audit/trail/{path}")
        content = obj["Body"].read()
        if "/CloudTrail/" in path:
            assert content == body
            continue
        digest = json.loads(gzip.decompress(content))
        assert digest["digestS3Bucket"] == BUCKET
        assert digest["digestS3Object"] == f"audit/trail/{path}"
        for entry in digest["logFiles"]:
            assert entry["s3Bucket"] == BUCKET
            assert entry["s3Object"].startswith("audit/trail/AWSLogs/")


def test_export_to_s3_with_endpoint_flag(busy_server: Any, moto_s3: str) -> None:
    s3 = s3_client(moto_s3)
    s3.create_bucket(Bucket=BUCKET)

    result = run_export(
        busy_server, "--to", f"s3://{BUCKET}", "--endpoint-url", moto_s3
    )

    assert result.returncode == 0, result.stderr
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert keys
    assert all(key.startswith("AWSLogs/") for key in keys)


def test_export_to_missing_bucket_fails(busy_server: Any, moto_s3: str) -> None:
    result = run_export(
        busy_server, "--to", "s3://no-such-bucket", "--endpoint-url", moto_s3
    )

    assert result.returncode == 1
    assert "NoSuchBucket" in result.stderr
    assert "Traceback" not in result.stderr


def test_export_rejects_reversed_time_range(busy_server: Any, tmp_path: Path) -> None:
    result = run_export(
        busy_server,
        "--to",
        str(tmp_path / "out"),
        "--since",
        "2030-01-02T00:00:00Z",
        "--until",
        "2030-01-01T00:00:00Z",
    )

    assert result.returncode == 2
    assert "--since must be earlier than --until" in result.stderr
    assert not (tmp_path / "out").exists()


def wait_for_signed_digest(reader: Any, seq: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = reader.query("SELECT MAX(last_seq) FROM keyledger_audit_digests")
        if rows and rows[0][0] is not None and int(rows[0][0]) >= seq:
            return
        time.sleep(0.2)
    pytest.fail(f"no signed digest covered seq {seq} within {timeout} s")


def test_digest_files_carry_signed_keyledger_digests(
    fresh_server_factory: Callable[..., Any],
    store_reader: Callable[[Any], Any],
    tmp_path: Path,
) -> None:
    from cryptography.hazmat.primitives import serialization

    server = fresh_server_factory(extra_args=["--audit-digest-interval", "1"])
    kms = server.client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.encrypt(KeyId=key_id, Plaintext=b"x")
    reader = store_reader(server)
    head = int(reader.query("SELECT MAX(seq) FROM keyledger_audit")[0][0])
    wait_for_signed_digest(reader, head)

    result = run_export(server, "--to", str(tmp_path / "out"))

    assert result.returncode == 0, result.stderr
    public_pem = reader.query("SELECT public_key FROM keyledger_audit_signing_key")[0][
        0
    ]
    public_key = serialization.load_pem_public_key(str(public_pem).encode("ascii"))
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    stored_digests = {
        int(row[0]): (str(row[1]), str(row[2]))
        for row in reader.query(
            "SELECT number, document, signature FROM keyledger_audit_digests"
        )
    }
    embedded = {}
    for path, body in read_tree(tmp_path / "out").items():
        if "/CloudTrail-Digest/" not in path:
            continue
        digest = json.loads(gzip.decompress(body))
        assert digest["digestPublicKeyFingerprint"] == hashlib.sha256(der).hexdigest()
        for entry in digest["keyLedgerDigests"]:
            embedded[entry["number"]] = (entry["document"], entry["signature"])
    assert embedded
    for number, (document, signature) in embedded.items():
        assert stored_digests[number] == (document, signature)
        # The embedded document and signature verify with the public key alone.
        public_key.verify(base64.b64decode(signature), document.encode("utf-8"))
