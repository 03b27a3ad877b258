"""GetKeyLastUsage reads its response from the audit trail.

Expected behaviour from the AWS KMS API reference, GetKeyLastUsage and
KeyLastUsageData: the last *successful* cryptographic operation, its
timestamp, CloudTrail event id and KMS request id; an empty KeyLastUsage for a
key never used; ReEncrypt counts for its source and its destination key;
alias names are not accepted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


def encrypt_records(server: Any, key_id: str) -> list[dict[str, Any]]:
    command = [
        str(Path(sys.executable).with_name("keyledger")),
        "audit",
        "events",
        "--key",
        key_id,
        "--action",
        "Encrypt",
        "--format",
        "json",
        "--data-dir",
        str(server.data_dir),
    ]
    if server.database_url:
        command += ["--database-url", server.database_url]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_unused_key_has_empty_last_usage(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.describe_key(KeyId=key_id)

    usage = kms.get_key_last_usage(KeyId=key_id)

    assert usage["KeyId"] == key_id
    assert usage["KeyLastUsage"] == {}
    # Tracking began before this key existed, so it starts at its creation.
    assert usage["TrackingStartDate"] == usage["KeyCreationDate"]


def test_last_usage_names_the_encrypt_record(server: Any, kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    encrypted = kms.encrypt(KeyId=key_id, Plaintext=b"usage")
    request_id = encrypted["ResponseMetadata"]["RequestId"]
    kms.describe_key(KeyId=key_id)
    kms.get_key_last_usage(KeyId=key_id)

    usage = kms.get_key_last_usage(KeyId=key_id)["KeyLastUsage"]

    [record] = encrypt_records(server, key_id)
    assert usage["Operation"] == "Encrypt"
    assert usage["KmsRequestId"] == request_id
    assert usage["CloudTrailEventId"] == record["eventID"]
    assert record["requestID"] == request_id
    assert usage["Timestamp"].strftime("%Y-%m-%dT%H:%M:%SZ") == record["eventTime"]


def test_failed_operations_do_not_count(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.generate_data_key(
        KeyId=key_id, KeySpec="AES_256", EncryptionContext={"app": "a"}
    )["CiphertextBlob"]
    with pytest.raises(kms.exceptions.InvalidCiphertextException):
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"app": "b"})
    kms.disable_key(KeyId=key_id)
    with pytest.raises(kms.exceptions.DisabledException):
        kms.encrypt(KeyId=key_id, Plaintext=b"refused")

    usage = kms.get_key_last_usage(KeyId=key_id)["KeyLastUsage"]

    assert usage["Operation"] == "GenerateDataKey"


def test_reencrypt_counts_for_both_keys(kms: Any) -> None:
    source = kms.create_key()["KeyMetadata"]["KeyId"]
    destination = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=source, Plaintext=b"moving")["CiphertextBlob"]
    moved = kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=destination)

    source_usage = kms.get_key_last_usage(KeyId=source)["KeyLastUsage"]
    destination_usage = kms.get_key_last_usage(KeyId=destination)["KeyLastUsage"]

    request_id = moved["ResponseMetadata"]["RequestId"]
    assert source_usage["Operation"] == "ReEncrypt"
    assert destination_usage["Operation"] == "ReEncrypt"
    assert source_usage["KmsRequestId"] == request_id
    assert destination_usage["KmsRequestId"] == request_id


def test_last_usage_by_arn_not_alias(kms: Any) -> None:
    metadata = kms.create_key()["KeyMetadata"]
    kms.create_alias(
        AliasName="alias/last-usage-" + metadata["KeyId"], TargetKeyId=metadata["KeyId"]
    )
    kms.decrypt(
        CiphertextBlob=kms.encrypt(KeyId=metadata["Arn"], Plaintext=b"x")[
            "CiphertextBlob"
        ]
    )

    by_arn = kms.get_key_last_usage(KeyId=metadata["Arn"])

    assert by_arn["KeyId"] == metadata["KeyId"]
    assert by_arn["KeyLastUsage"]["Operation"] == "Decrypt"
    with pytest.raises(kms.exceptions.NotFoundException):
        kms.get_key_last_usage(KeyId="alias/last-usage-" + metadata["KeyId"])


def test_last_usage_of_missing_key_is_not_found(kms: Any) -> None:
    with pytest.raises(kms.exceptions.NotFoundException):
        kms.get_key_last_usage(KeyId="11111111-2222-3333-4444-555555555555")
