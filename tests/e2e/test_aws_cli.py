"""The AWS CLI (version 1) drives KeyLedger through ``aws kms`` commands.

Every command runs as a subprocess with fake credentials, no shared config
files, no instance metadata and a dead default endpoint, so a command that
misses the server fails on loopback instead of reaching AWS. Values the CLI
prints as base64 (ciphertext blobs, plaintext, random bytes) are decoded
before comparison.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ACCOUNT_ID = "111122223333"
REGION = "us-east-1"
DEAD_ENDPOINT = "http://127.0.0.1:9"

# "Command line return codes in the AWS CLI" (AWS CLI version 1 user guide):
# 255 means the command failed, with errors from the CLI or from the service.
FAILED_COMMAND_EXIT_CODE = 255


def aws_cli_path() -> Path:
    """Find the ``aws`` script installed next to this interpreter."""
    script = Path(sys.executable).with_name("aws")
    if not script.exists():
        pytest.fail(
            f"the AWS CLI is not installed at {script}; "
            "install it with: pip install 'awscli==1.46.3'"
        )
    return script


def cli_environment(**variables: str) -> dict[str, str]:
    """Build an environment that keeps the CLI on loopback with fake credentials."""
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("AWS_")
    }
    environment.update(
        {
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            # An explicit --endpoint-url overrides this dead address, so any
            # command that loses its endpoint fails here instead of calling AWS.
            "AWS_ENDPOINT_URL": DEAD_ENDPOINT,
        }
    )
    environment.update(variables)
    return environment


@dataclass
class AwsCli:
    """Runs ``aws`` against one endpoint and keeps blob files in one directory."""

    endpoint: str | None
    work_dir: Path
    environment: dict[str, str]

    def run(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        command = [str(aws_cli_path()), "--region", REGION, "--output", "json"]
        if self.endpoint is not None:
            command += ["--endpoint-url", self.endpoint]
        # Options given after the defaults win, so a test may pass --output text.
        command += arguments
        return subprocess.run(
            command,
            capture_output=True,
            text=True,
            env=self.environment,
            cwd=self.work_dir,
            timeout=120,
            check=False,
        )

    def json(self, *arguments: str) -> Any:
        """Run a command that must succeed and parse what it prints."""
        completed = self.run(*arguments)
        assert completed.returncode == 0, completed.stderr
        return json.loads(completed.stdout) if completed.stdout.strip() else {}

    def text(self, *arguments: str) -> str:
        completed = self.run(*arguments, "--output", "text")
        assert completed.returncode == 0, completed.stderr
        return completed.stdout.strip()

    def describe(self, key_id: str) -> dict[str, Any]:
        metadata: dict[str, Any] = self.json("kms", "describe-key", "--key-id", key_id)[
            "KeyMetadata"
        ]
        return metadata

    def error(self, *arguments: str) -> str:
        """Run a command that the service must reject and return its error text."""
        completed = self.run(*arguments)
        assert completed.returncode == FAILED_COMMAND_EXIT_CODE, (
            completed.returncode,
            completed.stdout,
            completed.stderr,
        )
        assert completed.stdout == ""
        return completed.stderr.strip("\n")

    def write_blob(self, data: bytes) -> str:
        """Store bytes in a file and return the ``fileb://`` argument naming it."""
        path = self.work_dir / f"blob-{uuid.uuid4().hex}.bin"
        path.write_bytes(data)
        return f"fileb://{path}"


def service_error_prefix(error_code: str, operation: str) -> str:
    # awscli 1.46 prints botocore's ClientError text, which has this form, and
    # has no structured error formats yet.
    return f"An error occurred ({error_code}) when calling the {operation} operation: "


@pytest.fixture
def aws(server: Any, tmp_path: Path) -> AwsCli:
    return AwsCli(server.endpoint, tmp_path, cli_environment())


def create_key(aws: AwsCli, *arguments: str) -> dict[str, Any]:
    metadata: dict[str, Any] = aws.json("kms", "create-key", *arguments)["KeyMetadata"]
    return metadata


def unique_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# Keys, aliases and tags.


def test_create_key_with_description_and_tags(aws: AwsCli) -> None:
    tag_value = unique_name("ledger")

    metadata = create_key(
        aws,
        "--description",
        "AWS CLI key",
        "--tags",
        f"TagKey=team,TagValue={tag_value}",
        "TagKey=purpose,TagValue=e2e",
    )

    # Field values from the CreateKey and KeyMetadata pages of the AWS KMS
    # API Reference, for a symmetric encryption key with default settings.
    key_id = metadata["KeyId"]
    assert str(uuid.UUID(key_id)) == key_id
    assert metadata["Arn"] == f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{key_id}"
    assert metadata["AWSAccountId"] == ACCOUNT_ID
    assert metadata["Description"] == "AWS CLI key"
    assert metadata["Enabled"] is True
    assert metadata["KeyState"] == "Enabled"
    assert metadata["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert metadata["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert metadata["Origin"] == "AWS_KMS"
    assert metadata["KeyManager"] == "CUSTOMER"
    assert metadata["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]
    assert metadata["MultiRegion"] is False

    tags = aws.json("kms", "list-resource-tags", "--key-id", key_id)["Tags"]
    assert sorted(tags, key=lambda tag: tag["TagKey"]) == [
        {"TagKey": "purpose", "TagValue": "e2e"},
        {"TagKey": "team", "TagValue": tag_value},
    ]


def test_describe_key_by_id_and_arn(aws: AwsCli) -> None:
    created = create_key(aws, "--description", "described")

    by_id = aws.describe(created["KeyId"])
    by_arn = aws.describe(created["Arn"])

    assert by_id == created
    assert by_arn == created


def test_describe_unknown_key_is_not_found(aws: AwsCli) -> None:
    missing = str(uuid.uuid4())

    message = aws.error("kms", "describe-key", "--key-id", missing)

    assert message.startswith(service_error_prefix("NotFoundException", "DescribeKey"))


def test_list_keys_includes_new_key(aws: AwsCli) -> None:
    created = create_key(aws)

    # The CLI follows NextMarker itself, so the output contains every page.
    keys = aws.json("kms", "list-keys")["Keys"]

    assert {"KeyId": created["KeyId"], "KeyArn": created["Arn"]} in keys


def test_create_alias_then_list_and_use_it(aws: AwsCli) -> None:
    created = create_key(aws)
    alias_name = f"alias/{unique_name('cli')}"

    completed = aws.run(
        "kms",
        "create-alias",
        "--alias-name",
        alias_name,
        "--target-key-id",
        created["KeyId"],
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == ""

    aliases = aws.json("kms", "list-aliases", "--key-id", created["KeyId"])["Aliases"]
    assert len(aliases) == 1
    alias = aliases[0]
    # Field names and the alias ARN form from the ListAliases page of the
    # AWS KMS API Reference.
    assert alias["AliasName"] == alias_name
    assert alias["AliasArn"] == f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:{alias_name}"
    assert alias["TargetKeyId"] == created["KeyId"]
    assert "CreationDate" in alias

    all_names = [
        item["AliasName"] for item in aws.json("kms", "list-aliases")["Aliases"]
    ]
    assert alias_name in all_names

    assert aws.describe(alias_name)["Arn"] == created["Arn"]

    encrypted = aws.json(
        "kms", "encrypt", "--key-id", alias_name, "--plaintext", aws.write_blob(b"x")
    )
    assert encrypted["KeyId"] == created["Arn"]


def test_tag_resource_then_untag(aws: AwsCli) -> None:
    created = create_key(aws)

    tag_completed = aws.run(
        "kms",
        "tag-resource",
        "--key-id",
        created["KeyId"],
        "--tags",
        "TagKey=env,TagValue=test",
        "TagKey=owner,TagValue=cli",
    )
    assert tag_completed.returncode == 0, tag_completed.stderr
    assert tag_completed.stdout == ""

    tags = aws.json("kms", "list-resource-tags", "--key-id", created["KeyId"])["Tags"]
    assert sorted(tags, key=lambda tag: tag["TagKey"]) == [
        {"TagKey": "env", "TagValue": "test"},
        {"TagKey": "owner", "TagValue": "cli"},
    ]

    untag_completed = aws.run(
        "kms", "untag-resource", "--key-id", created["KeyId"], "--tag-keys", "env"
    )
    assert untag_completed.returncode == 0, untag_completed.stderr

    remaining = aws.json("kms", "list-resource-tags", "--key-id", created["KeyId"])
    assert remaining["Tags"] == [{"TagKey": "owner", "TagValue": "cli"}]


# Cryptographic operations.

# Not valid UTF-8, so a server or client that treats plaintext as text breaks it.
SAMPLE_PLAINTEXT = bytes(range(256)) + b"\x00\xff KeyLedger"


def test_encrypt_then_decrypt_with_encryption_context(aws: AwsCli) -> None:
    created = create_key(aws)

    encrypted = aws.json(
        "kms",
        "encrypt",
        "--key-id",
        created["KeyId"],
        "--plaintext",
        aws.write_blob(SAMPLE_PLAINTEXT),
        "--encryption-context",
        "purpose=e2e,team=ledger",
    )

    assert encrypted["KeyId"] == created["Arn"]
    assert encrypted["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    blob = base64.b64decode(encrypted["CiphertextBlob"])
    assert SAMPLE_PLAINTEXT not in blob

    # Decrypt with --query Plaintext and text output prints the base64 text.
    plaintext_base64 = aws.text(
        "kms",
        "decrypt",
        "--ciphertext-blob",
        aws.write_blob(blob),
        "--encryption-context",
        "team=ledger,purpose=e2e",
        "--query",
        "Plaintext",
    )
    assert base64.b64decode(plaintext_base64) == SAMPLE_PLAINTEXT

    decrypted = aws.json(
        "kms",
        "decrypt",
        "--ciphertext-blob",
        aws.write_blob(blob),
        "--encryption-context",
        "purpose=e2e,team=ledger",
    )
    assert decrypted["KeyId"] == created["Arn"]
    assert decrypted["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"


def flip_bit(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


# Each case changes one thing about a valid decrypt of a blob encrypted under
# the context purpose=e2e,team=ledger. The Decrypt page of the AWS KMS API
# Reference names the errors: IncorrectKeyException when the named key is not
# the blob's key, InvalidCiphertextException for everything else.
DECRYPT_NEGATIVE_CASES = {
    "wrong key": ("other key", "purpose=e2e,team=ledger", "IncorrectKeyException"),
    "flipped bit": ("flip", "purpose=e2e,team=ledger", "InvalidCiphertextException"),
    "truncated blob": (
        "truncate",
        "purpose=e2e,team=ledger",
        "InvalidCiphertextException",
    ),
    "context value changed": (
        None,
        "purpose=e2e,team=LEDGER",
        "InvalidCiphertextException",
    ),
    "context entry missing": (None, "purpose=e2e", "InvalidCiphertextException"),
    "context entry added": (
        None,
        "purpose=e2e,team=ledger,extra=1",
        "InvalidCiphertextException",
    ),
    "context absent": (None, None, "InvalidCiphertextException"),
}


@pytest.mark.parametrize(
    ("change", "context", "error_code"),
    list(DECRYPT_NEGATIVE_CASES.values()),
    ids=list(DECRYPT_NEGATIVE_CASES),
)
def test_decrypt_negative_matrix(
    aws: AwsCli, change: str | None, context: str | None, error_code: str
) -> None:
    created = create_key(aws)
    encrypted = aws.json(
        "kms",
        "encrypt",
        "--key-id",
        created["KeyId"],
        "--plaintext",
        aws.write_blob(b"negative matrix"),
        "--encryption-context",
        "purpose=e2e,team=ledger",
    )
    blob = base64.b64decode(encrypted["CiphertextBlob"])

    arguments = ["kms", "decrypt"]
    if change == "flip":
        blob = flip_bit(blob, len(blob) // 2)
    elif change == "truncate":
        blob = blob[:-1]
    elif change == "other key":
        arguments += ["--key-id", create_key(aws)["Arn"]]
    arguments += ["--ciphertext-blob", aws.write_blob(blob)]
    if context is not None:
        arguments += ["--encryption-context", context]

    message = aws.error(*arguments)

    assert message.startswith(service_error_prefix(error_code, "Decrypt"))
    assert "negative matrix" not in message


def test_generate_data_key_then_decrypt_it(aws: AwsCli) -> None:
    created = create_key(aws)

    generated = aws.json(
        "kms",
        "generate-data-key",
        "--key-id",
        created["Arn"],
        "--key-spec",
        "AES_256",
        "--encryption-context",
        "purpose=data-key",
    )

    # GenerateDataKey (AWS KMS API Reference): AES_256 is a 256-bit data key.
    plaintext_data_key = base64.b64decode(generated["Plaintext"])
    assert len(plaintext_data_key) == 32
    assert generated["KeyId"] == created["Arn"]

    decrypted_base64 = aws.text(
        "kms",
        "decrypt",
        "--ciphertext-blob",
        aws.write_blob(base64.b64decode(generated["CiphertextBlob"])),
        "--encryption-context",
        "purpose=data-key",
        "--query",
        "Plaintext",
    )
    assert base64.b64decode(decrypted_base64) == plaintext_data_key


def test_generate_data_key_with_number_of_bytes(aws: AwsCli) -> None:
    created = create_key(aws)

    generated = aws.json(
        "kms",
        "generate-data-key",
        "--key-id",
        created["KeyId"],
        "--number-of-bytes",
        "64",
    )

    assert len(base64.b64decode(generated["Plaintext"])) == 64


def test_re_encrypt_moves_blob_to_other_key(aws: AwsCli) -> None:
    source = create_key(aws)
    destination = create_key(aws)
    encrypted = aws.json(
        "kms",
        "encrypt",
        "--key-id",
        source["KeyId"],
        "--plaintext",
        aws.write_blob(SAMPLE_PLAINTEXT),
        "--encryption-context",
        "stage=source",
    )

    re_encrypted = aws.json(
        "kms",
        "re-encrypt",
        "--ciphertext-blob",
        aws.write_blob(base64.b64decode(encrypted["CiphertextBlob"])),
        "--source-encryption-context",
        "stage=source",
        "--destination-key-id",
        destination["KeyId"],
        "--destination-encryption-context",
        "stage=destination",
    )

    # Field names and values from the ReEncrypt page of the AWS KMS API Reference.
    assert re_encrypted["SourceKeyId"] == source["Arn"]
    assert re_encrypted["KeyId"] == destination["Arn"]
    assert re_encrypted["SourceEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert re_encrypted["DestinationEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"

    new_blob = aws.write_blob(base64.b64decode(re_encrypted["CiphertextBlob"]))
    decrypted = aws.json(
        "kms",
        "decrypt",
        "--ciphertext-blob",
        new_blob,
        "--encryption-context",
        "stage=destination",
    )
    assert decrypted["KeyId"] == destination["Arn"]
    assert base64.b64decode(decrypted["Plaintext"]) == SAMPLE_PLAINTEXT

    message = aws.error(
        "kms",
        "decrypt",
        "--ciphertext-blob",
        new_blob,
        "--encryption-context",
        "stage=source",
    )
    assert message.startswith(
        service_error_prefix("InvalidCiphertextException", "Decrypt")
    )


def test_generate_random_returns_requested_length(aws: AwsCli) -> None:
    first = base64.b64decode(
        aws.json("kms", "generate-random", "--number-of-bytes", "32")["Plaintext"]
    )
    second = base64.b64decode(
        aws.json("kms", "generate-random", "--number-of-bytes", "32")["Plaintext"]
    )

    assert len(first) == 32
    assert len(second) == 32
    assert first != second


# Key state.


def test_encrypt_with_disabled_key_fails(aws: AwsCli) -> None:
    created = create_key(aws)
    plaintext = aws.write_blob(b"disabled")

    disabled = aws.run("kms", "disable-key", "--key-id", created["KeyId"])
    assert disabled.returncode == 0, disabled.stderr

    assert aws.describe(created["KeyId"])["KeyState"] == "Disabled"
    message = aws.error(
        "kms", "encrypt", "--key-id", created["KeyId"], "--plaintext", plaintext
    )
    assert message.startswith(service_error_prefix("DisabledException", "Encrypt"))
    assert created["Arn"] in message

    enabled = aws.run("kms", "enable-key", "--key-id", created["KeyId"])
    assert enabled.returncode == 0, enabled.stderr
    encrypted = aws.json(
        "kms", "encrypt", "--key-id", created["KeyId"], "--plaintext", plaintext
    )
    assert encrypted["KeyId"] == created["Arn"]


def test_schedule_then_cancel_key_deletion(aws: AwsCli) -> None:
    created = create_key(aws)

    scheduled = aws.json(
        "kms",
        "schedule-key-deletion",
        "--key-id",
        created["KeyId"],
        "--pending-window-in-days",
        "7",
    )

    # ScheduleKeyDeletion (AWS KMS API Reference) returns the key ARN, the
    # PendingDeletion state and the window that was applied.
    assert scheduled["KeyId"] == created["Arn"]
    assert scheduled["KeyState"] == "PendingDeletion"
    assert scheduled["PendingWindowInDays"] == 7
    # Without a timestamp format in the config, CLI version 1 prints epoch seconds.
    seven_days = 7 * 24 * 3600
    assert scheduled["DeletionDate"] - created["CreationDate"] >= seven_days

    pending = aws.describe(created["KeyId"])
    assert pending["KeyState"] == "PendingDeletion"
    assert pending["Enabled"] is False
    assert pending["DeletionDate"] == scheduled["DeletionDate"]

    # "Key states of AWS KMS keys": a key pending deletion cannot encrypt.
    message = aws.error(
        "kms",
        "encrypt",
        "--key-id",
        created["KeyId"],
        "--plaintext",
        aws.write_blob(b"x"),
    )
    assert message.startswith(
        service_error_prefix("KMSInvalidStateException", "Encrypt")
    )

    cancelled = aws.json("kms", "cancel-key-deletion", "--key-id", created["KeyId"])
    assert cancelled == {"KeyId": created["Arn"]}

    # "Cancel key deletion" (AWS KMS Developer Guide): the key is left Disabled.
    restored = aws.describe(created["KeyId"])
    assert restored["KeyState"] == "Disabled"
    assert restored["Enabled"] is False
    assert "DeletionDate" not in restored


# Endpoint selection.


def test_service_endpoint_variable_replaces_endpoint_option(
    server: Any, tmp_path: Path
) -> None:
    # awscli 1.46 builds its clients with botocore 1.44, which reads
    # AWS_ENDPOINT_URL_KMS ahead of AWS_ENDPOINT_URL ("Service-specific
    # endpoints" in the AWS SDKs and Tools Reference Guide).
    environment = cli_environment(AWS_ENDPOINT_URL_KMS=server.endpoint)
    aws = AwsCli(None, tmp_path, environment)

    created = create_key(aws, "--description", "through AWS_ENDPOINT_URL_KMS")
    described = aws.describe(created["KeyId"])

    assert described["Description"] == "through AWS_ENDPOINT_URL_KMS"
    # boto3 with an explicit endpoint finds the key, so the CLI used this server.
    through_boto3 = server.client().describe_key(KeyId=created["KeyId"])
    assert through_boto3["KeyMetadata"]["Arn"] == created["Arn"]


def test_command_without_endpoint_fails_locally(tmp_path: Path) -> None:
    aws = AwsCli(None, tmp_path, cli_environment())

    completed = aws.run("kms", "list-keys")

    assert completed.returncode == FAILED_COMMAND_EXIT_CODE
    assert (
        f'Could not connect to the endpoint URL: "{DEAD_ENDPOINT}/"' in completed.stderr
    )
