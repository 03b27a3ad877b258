"""Audit records through boto3 over real HTTP, read back from the database.

Expected shapes come from the AWS KMS Developer Guide, "Logging AWS KMS API
calls with AWS CloudTrail" and its examples per operation (CreateKey,
Encrypt, Decrypt, GenerateDataKey, ReEncrypt, CreateAlias, CreateGrant,
RetireGrant, ScheduleKeyDeletion, EnableKey, ImportKeyMaterial), and the
CloudTrail User Guide's "CloudTrail userIdentity element".
"""

from __future__ import annotations

import base64
import json
import os
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from events.audit import event_hash
from tests.conftest import (
    BACKENDS,
    KeyLedgerServer,
    _start_server,
    drop_postgres_schema,
)
from tests.e2e.conftest import StoreReader

ACCOUNT = "111122223333"
REGION = "us-east-1"
ROOT_ARN = f"arn:aws:iam::{ACCOUNT}:root"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/Alice"
APP_ROLE = f"arn:aws:iam::{ACCOUNT}:role/app"
UUID_PATTERN = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)
EVENT_TIME_PATTERN = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
# "May 21, 2025, 5:47:45 AM" (ImportKeyMaterial example).
ELEMENT_DATE_PATTERN = re.compile(
    r"^[A-Z][a-z]{2} [1-9]\d?, \d{4}, (1[0-2]|[1-9]):[0-5]\d:[0-5]\d (AM|PM)$"
)
API_CALL_FIELDS = {
    "eventVersion",
    "userIdentity",
    "eventTime",
    "eventSource",
    "eventName",
    "awsRegion",
    "sourceIPAddress",
    "userAgent",
    "requestParameters",
    "responseElements",
    "requestID",
    "eventID",
    "readOnly",
    "resources",
    "eventType",
    "managementEvent",
    "recipientAccountId",
    "eventCategory",
}
ALICE_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "kms:DescribeKey", "Resource": "*"}
        ],
    }
)
PRINCIPALS = [
    ("AKIAROOT", None, None),
    ("AKIAALICE", ALICE, ALICE_POLICY),
    ("AKIAAPP", APP_ROLE, ALICE_POLICY),
]


def credentials_file(path: Path) -> Path:
    lines = []
    for access_key_id, arn, policy in PRINCIPALS:
        lines += [
            "[[principals]]",
            f'access_key_id = "{access_key_id}"',
            f'secret_access_key = "{access_key_id.lower()}-secret"',
            f'account_id = "{ACCOUNT}"',
        ]
        if arn is not None:
            lines.append(f'arn = "{arn}"')
        if policy is not None:
            lines.append(f"identity_policy = '{policy}'")
        lines.append("")
    path.write_text("\n".join(lines))
    return path


def start_audit_server(backend: str, directory: Path, *extra: str) -> Any:
    path = credentials_file(directory / "credentials.toml")
    return _start_server(
        backend, directory, extra_args=["--credentials-file", str(path), *extra]
    )


@pytest.fixture(scope="module", params=BACKENDS)
def audit_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KeyLedgerServer]:
    directory = tmp_path_factory.mktemp(f"audit-{request.param}")
    running, schema = start_audit_server(request.param, directory)
    yield running
    running.stop()
    if schema:
        drop_postgres_schema(schema)


def client(server: KeyLedgerServer, access_key_id: str = "AKIAROOT") -> Any:
    return server.client(
        access_key=access_key_id, secret_key=f"{access_key_id.lower()}-secret"
    )


@pytest.fixture
def kms(audit_server: KeyLedgerServer) -> Any:
    return client(audit_server)


@pytest.fixture
def reader(audit_server: KeyLedgerServer) -> StoreReader:
    return StoreReader(audit_server)


# Reading records.


def request_id(response: dict[str, Any]) -> str:
    return str(response["ResponseMetadata"]["RequestId"])


def failure(call: Callable[..., Any], **params: Any) -> ClientError:
    with pytest.raises(ClientError) as caught:
        call(**params)
    return caught.value


def rows(reader: StoreReader) -> list[tuple[Any, ...]]:
    return reader.query(
        "SELECT seq, event_name, key_id, error_code, record, event_hashes,"
        " principal_arn FROM keyledger_audit ORDER BY seq"
    )


def record_of(reader: StoreReader, request: str) -> dict[str, Any]:
    """The one record whose requestID is ``request``; fails on none or two."""
    found = [
        json.loads(row[4])
        for row in rows(reader)
        if json.loads(row[4]).get("requestID") == request
    ]
    assert len(found) == 1, f"{len(found)} records for request {request}"
    return found[0]


def row_of(reader: StoreReader, request: str) -> tuple[Any, ...]:
    found = [
        row for row in rows(reader) if json.loads(row[4]).get("requestID") == request
    ]
    assert len(found) == 1, f"{len(found)} rows for request {request}"
    return found[0]


def key_resource(arn: str) -> dict[str, str]:
    return {"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": arn}


def check_common(record: dict[str, Any], name: str, request: str) -> None:
    """Check the fields every API call record has, with their fixed values."""
    assert set(record) >= API_CALL_FIELDS
    assert record["eventVersion"] == "1.11"
    assert record["eventSource"] == "kms.amazonaws.com"
    assert record["eventName"] == name
    assert record["awsRegion"] == REGION
    assert record["sourceIPAddress"] == "127.0.0.1"
    assert "Boto3" in record["userAgent"]
    assert record["requestID"] == request
    assert UUID_PATTERN.match(record["eventID"])
    assert EVENT_TIME_PATTERN.match(record["eventTime"])
    assert record["eventType"] == "AwsApiCall"
    assert record["managementEvent"] is True
    assert record["eventCategory"] == "Management"
    assert record["recipientAccountId"] == ACCOUNT
    assert "tlsDetails" not in record


def root_identity() -> dict[str, str]:
    return {
        "type": "Root",
        "principalId": ACCOUNT,
        "arn": ROOT_ARN,
        "accountId": ACCOUNT,
        "accessKeyId": "AKIAROOT",
    }


def new_key(kms: Any, **params: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = kms.create_key(**params)["KeyMetadata"]
    return metadata


# Successful calls.


def test_create_key_record(kms: Any, reader: StoreReader) -> None:
    response = kms.create_key(Description="audited", KeyUsage="ENCRYPT_DECRYPT")
    metadata = response["KeyMetadata"]
    record = record_of(reader, request_id(response))

    check_common(record, "CreateKey", request_id(response))
    assert record["userIdentity"] == root_identity()
    assert record["readOnly"] is False
    assert record["requestParameters"] == {
        "description": "audited",
        "keyUsage": "ENCRYPT_DECRYPT",
    }
    recorded = record["responseElements"]["keyMetadata"]
    assert recorded["AWSAccountId"] == ACCOUNT
    assert recorded["keyId"] == metadata["KeyId"]
    assert recorded["arn"] == metadata["Arn"]
    assert recorded["keyState"] == "Enabled"
    assert recorded["enabled"] is True
    assert recorded["keyManager"] == "CUSTOMER"
    assert recorded["encryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]
    assert ELEMENT_DATE_PATTERN.match(recorded["creationDate"])
    assert record["resources"] == [key_resource(metadata["Arn"])]
    assert "errorCode" not in record


def test_encrypt_record(kms: Any, reader: StoreReader) -> None:
    metadata = new_key(kms)
    response = kms.encrypt(
        KeyId=metadata["Arn"],
        Plaintext=b"audit plaintext",
        EncryptionContext={"Department": "Engineering"},
        EncryptionAlgorithm="SYMMETRIC_DEFAULT",
    )
    record = record_of(reader, request_id(response))

    check_common(record, "Encrypt", request_id(response))
    assert record["userIdentity"] == root_identity()
    assert record["readOnly"] is True
    assert record["requestParameters"] == {
        "keyId": metadata["Arn"],
        "encryptionContext": {"Department": "Engineering"},
        "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
    }
    assert record["responseElements"] is None
    assert record["additionalEventData"] == {
        "keyMaterialId": metadata["CurrentKeyMaterialId"]
    }
    assert record["resources"] == [key_resource(metadata["Arn"])]


def test_decrypt_record_adds_algorithm(kms: Any, reader: StoreReader) -> None:
    metadata = new_key(kms)
    blob = kms.encrypt(
        KeyId=metadata["KeyId"],
        Plaintext=b"x",
        EncryptionContext={"Project": "Alpha"},
    )["CiphertextBlob"]
    response = kms.decrypt(CiphertextBlob=blob, EncryptionContext={"Project": "Alpha"})
    record = record_of(reader, request_id(response))

    check_common(record, "Decrypt", request_id(response))
    assert record["requestParameters"] == {
        "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
        "encryptionContext": {"Project": "Alpha"},
    }
    assert record["responseElements"] is None
    assert record["additionalEventData"] == {
        "keyMaterialId": metadata["CurrentKeyMaterialId"]
    }
    assert record["resources"] == [key_resource(metadata["Arn"])]
    assert record["readOnly"] is True


def test_generate_data_key_record(kms: Any, reader: StoreReader) -> None:
    metadata = new_key(kms)
    response = kms.generate_data_key(
        KeyId=metadata["KeyId"],
        KeySpec="AES_256",
        EncryptionContext={"Department": "Engineering", "Project": "Alpha"},
    )
    record = record_of(reader, request_id(response))

    check_common(record, "GenerateDataKey", request_id(response))
    assert record["requestParameters"] == {
        "keyId": metadata["KeyId"],
        "keySpec": "AES_256",
        "encryptionContext": {"Department": "Engineering", "Project": "Alpha"},
    }
    assert record["responseElements"] is None
    assert record["additionalEventData"] == {
        "keyMaterialId": metadata["CurrentKeyMaterialId"]
    }


def test_re_encrypt_record_lists_source_then_destination(
    kms: Any, reader: StoreReader
) -> None:
    source = new_key(kms)
    destination = new_key(kms)
    blob = kms.encrypt(KeyId=source["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    response = kms.re_encrypt(
        CiphertextBlob=blob,
        DestinationKeyId=destination["KeyId"],
        DestinationEncryptionContext={"Level": "3A"},
    )
    record = record_of(reader, request_id(response))

    check_common(record, "ReEncrypt", request_id(response))
    assert record["requestParameters"] == {
        "destinationKeyId": destination["KeyId"],
        "destinationEncryptionContext": {"Level": "3A"},
    }
    assert record["responseElements"] is None
    assert record["additionalEventData"] == {
        "sourceKeyMaterialId": source["CurrentKeyMaterialId"],
        "destinationKeyMaterialId": destination["CurrentKeyMaterialId"],
    }
    assert record["resources"] == [
        key_resource(source["Arn"]),
        key_resource(destination["Arn"]),
    ]


def test_enable_key_record_names_key_arn(kms: Any, reader: StoreReader) -> None:
    metadata = new_key(kms)
    kms.disable_key(KeyId=metadata["KeyId"])
    response = kms.enable_key(KeyId=metadata["KeyId"])
    record = record_of(reader, request_id(response))

    check_common(record, "EnableKey", request_id(response))
    assert record["readOnly"] is False
    assert record["requestParameters"] == {"keyId": metadata["KeyId"]}
    assert record["responseElements"] == {"keyId": metadata["Arn"]}


def test_create_alias_record(kms: Any, reader: StoreReader) -> None:
    metadata = new_key(kms)
    name = f"alias/audit-{uuid.uuid4().hex[:8]}"
    response = kms.create_alias(AliasName=name, TargetKeyId=metadata["KeyId"])
    record = record_of(reader, request_id(response))

    check_common(record, "CreateAlias", request_id(response))
    assert record["requestParameters"] == {
        "aliasName": name,
        "targetKeyId": metadata["KeyId"],
    }
    assert record["responseElements"] == {"keyId": metadata["Arn"]}
    alias_arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:{name}"
    assert record["resources"] == [
        key_resource(metadata["Arn"]),
        key_resource(alias_arn),
    ]


def test_grant_records_hide_the_token(kms: Any, reader: StoreReader) -> None:
    metadata = new_key(kms)
    created = kms.create_grant(
        KeyId=metadata["Arn"],
        GranteePrincipal=ALICE,
        Operations=["Encrypt", "RetireGrant"],
        Constraints={"EncryptionContextSubset": {"ContextKey1": "Value1"}},
    )
    record = record_of(reader, request_id(created))

    check_common(record, "CreateGrant", request_id(created))
    assert record["requestParameters"] == {
        "keyId": metadata["Arn"],
        "granteePrincipal": ALICE,
        "operations": ["Encrypt", "RetireGrant"],
        "constraints": {"encryptionContextSubset": {"ContextKey1": "Value1"}},
    }
    assert record["responseElements"] == {
        "grantId": created["GrantId"],
        "keyId": metadata["Arn"],
    }

    retired = kms.retire_grant(GrantToken=created["GrantToken"])
    record = record_of(reader, request_id(retired))
    check_common(record, "RetireGrant", request_id(retired))
    assert record["requestParameters"] is None
    assert record["responseElements"] is None
    assert record["additionalEventData"] == {"grantId": created["GrantId"]}
    assert record["resources"] == [key_resource(metadata["Arn"])]

    text = "\n".join(str(row[4]) for row in rows(reader))
    assert created["GrantToken"] not in text


def test_schedule_key_deletion_record(kms: Any, reader: StoreReader) -> None:
    metadata = new_key(kms)
    response = kms.schedule_key_deletion(
        KeyId=metadata["KeyId"], PendingWindowInDays=20
    )
    record = record_of(reader, request_id(response))

    check_common(record, "ScheduleKeyDeletion", request_id(response))
    assert record["requestParameters"] == {
        "keyId": metadata["KeyId"],
        "pendingWindowInDays": 20,
    }
    elements = record["responseElements"]
    assert set(elements) == {"keyId", "keyState", "deletionDate"}
    assert elements["keyId"] == metadata["Arn"]
    assert elements["keyState"] == "PendingDeletion"
    deletion = response["DeletionDate"].astimezone(UTC)
    hour = deletion.hour % 12 or 12
    meridiem = "AM" if deletion.hour < 12 else "PM"
    assert elements["deletionDate"] == (
        f"{deletion:%b} {deletion.day}, {deletion.year}, "
        f"{hour}:{deletion:%M:%S} {meridiem}"
    )


def test_iam_user_and_role_identities(
    audit_server: KeyLedgerServer, kms: Any, reader: StoreReader
) -> None:
    metadata = new_key(kms)
    as_alice = client(audit_server, "AKIAALICE").describe_key(KeyId=metadata["Arn"])
    as_app = client(audit_server, "AKIAAPP").describe_key(KeyId=metadata["Arn"])

    alice = record_of(reader, request_id(as_alice))["userIdentity"]
    assert alice["type"] == "IAMUser"
    assert alice["arn"] == ALICE
    assert alice["userName"] == "Alice"
    assert alice["accountId"] == ACCOUNT
    assert alice["accessKeyId"] == "AKIAALICE"

    app = record_of(reader, request_id(as_app))["userIdentity"]
    assert app["type"] == "AssumedRole"
    assert app["accessKeyId"] == "AKIAAPP"
    assert app["sessionContext"]["sessionIssuer"]["arn"] == APP_ROLE
    assert app["sessionContext"]["sessionIssuer"]["userName"] == "app"
    assert app["sessionContext"]["sessionIssuer"]["type"] == "Role"

    describe = record_of(reader, request_id(as_app))
    assert describe["readOnly"] is True
    assert describe["responseElements"] is None


# Failed calls.


def check_failure(
    reader: StoreReader, error: ClientError, name: str, code: str
) -> dict[str, Any]:
    request = request_id(error.response)
    record = record_of(reader, request)
    check_common(record, name, request)
    assert record["errorCode"] == code
    assert record["errorMessage"] == error.response["Error"]["Message"]
    assert record["responseElements"] is None
    assert "additionalEventData" not in record
    return record


def test_validation_error_record(kms: Any, reader: StoreReader) -> None:
    metadata = new_key(kms)
    error = failure(kms.retire_grant, KeyId=metadata["KeyId"])
    assert error.response["Error"]["Code"] == "ValidationException"
    record = check_failure(reader, error, "RetireGrant", "ValidationException")
    assert record["requestParameters"] == {"keyId": metadata["KeyId"]}
    assert record["readOnly"] is False


def test_invalid_body_still_leaves_record(kms: Any, reader: StoreReader) -> None:
    metadata = new_key(kms)
    error = failure(
        kms.schedule_key_deletion, KeyId=metadata["KeyId"], PendingWindowInDays=3
    )
    assert error.response["Error"]["Code"] == "ValidationException"
    record = check_failure(reader, error, "ScheduleKeyDeletion", "ValidationException")
    # NOTE: a body that fails validation leaves no parsed parameters, so its
    # record has requestParameters null and no resources.
    assert record["requestParameters"] is None
    assert record["resources"] == []


def test_access_denied_record(
    audit_server: KeyLedgerServer, kms: Any, reader: StoreReader
) -> None:
    metadata = new_key(kms)
    alice = client(audit_server, "AKIAALICE")
    error = failure(alice.encrypt, KeyId=metadata["Arn"], Plaintext=b"denied secret")
    assert error.response["Error"]["Code"] == "AccessDeniedException"
    record = check_failure(reader, error, "Encrypt", "AccessDeniedException")
    assert record["userIdentity"]["arn"] == ALICE
    assert record["requestParameters"] == {"keyId": metadata["Arn"]}
    assert record["resources"] == [key_resource(metadata["Arn"])]
    row = row_of(reader, request_id(error.response))
    assert row[3] == "AccessDeniedException"
    assert row[6] == ALICE


def test_not_found_record(kms: Any, reader: StoreReader) -> None:
    missing = str(uuid.uuid4())
    error = failure(kms.describe_key, KeyId=missing)
    assert error.response["Error"]["Code"] == "NotFoundException"
    record = check_failure(reader, error, "DescribeKey", "NotFoundException")
    assert record["requestParameters"] == {"keyId": missing}
    assert record["resources"] == []


def test_disabled_key_record(kms: Any, reader: StoreReader) -> None:
    metadata = new_key(kms)
    kms.disable_key(KeyId=metadata["KeyId"])
    error = failure(kms.encrypt, KeyId=metadata["KeyId"], Plaintext=b"x")
    assert error.response["Error"]["Code"] == "DisabledException"
    record = check_failure(reader, error, "Encrypt", "DisabledException")
    assert record["resources"] == [key_resource(metadata["Arn"])]


def test_invalid_ciphertext_record(kms: Any, reader: StoreReader) -> None:
    metadata = new_key(kms)
    blob = bytearray(
        kms.encrypt(KeyId=metadata["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    )
    blob[-1] ^= 1
    error = failure(kms.decrypt, CiphertextBlob=bytes(blob))
    assert error.response["Error"]["Code"] == "InvalidCiphertextException"
    record = check_failure(reader, error, "Decrypt", "InvalidCiphertextException")
    assert record["requestParameters"] == {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"}


def test_dry_run_record(kms: Any, reader: StoreReader) -> None:
    metadata = new_key(kms)
    error = failure(kms.encrypt, KeyId=metadata["KeyId"], Plaintext=b"x", DryRun=True)
    assert error.response["Error"]["Code"] == "DryRunOperationException"
    record = check_failure(reader, error, "Encrypt", "DryRunOperationException")
    assert record["requestParameters"] == {"keyId": metadata["KeyId"], "dryRun": True}


# Counting and secrets, on a server of the test's own.


@pytest.fixture
def own_server(fresh_server_factory: Any, tmp_path: Path) -> Iterator[Any]:
    yield fresh_server_factory(
        extra_args=[
            "--credentials-file",
            str(credentials_file(tmp_path / "credentials.toml")),
            "--dev-clock",
        ]
    )


def oaep_wrap(public_key_der: bytes, material: bytes) -> bytes:
    public_key = serialization.load_der_public_key(public_key_der)
    assert isinstance(public_key, rsa.RSAPublicKey)
    sha256 = hashes.SHA256()
    return public_key.encrypt(
        material, padding.OAEP(padding.MGF1(sha256), sha256, None)
    )


def test_one_record_per_request_and_no_secret(own_server: Any) -> None:
    kms = client(own_server)
    reader = StoreReader(own_server)
    secrets: list[bytes] = []
    requests: list[str] = []

    def made(response: dict[str, Any]) -> dict[str, Any]:
        requests.append(request_id(response))
        return response

    plaintext = b"the plaintext nobody may read in the trail"
    secrets.append(plaintext)
    key = made(kms.create_key())["KeyMetadata"]
    encrypted = made(kms.encrypt(KeyId=key["KeyId"], Plaintext=plaintext))
    secrets.append(encrypted["CiphertextBlob"])
    made(kms.decrypt(CiphertextBlob=encrypted["CiphertextBlob"]))
    data_key = made(kms.generate_data_key(KeyId=key["KeyId"], NumberOfBytes=32))
    secrets += [data_key["Plaintext"], data_key["CiphertextBlob"]]
    without = made(
        kms.generate_data_key_without_plaintext(KeyId=key["KeyId"], KeySpec="AES_128")
    )
    secrets.append(without["CiphertextBlob"])
    re_encrypted = made(
        kms.re_encrypt(
            CiphertextBlob=encrypted["CiphertextBlob"], DestinationKeyId=key["KeyId"]
        )
    )
    secrets.append(re_encrypted["CiphertextBlob"])
    secrets.append(made(kms.generate_random(NumberOfBytes=48))["Plaintext"])
    grant = made(
        kms.create_grant(
            KeyId=key["KeyId"], GranteePrincipal=ALICE, Operations=["Decrypt"]
        )
    )
    secrets.append(grant["GrantToken"].encode())
    made(
        kms.encrypt(
            KeyId=key["KeyId"], Plaintext=b"x", GrantTokens=[grant["GrantToken"]]
        )
    )
    made(kms.retire_grant(GrantToken=grant["GrantToken"]))

    external = made(kms.create_key(Origin="EXTERNAL"))["KeyMetadata"]
    issued = made(
        kms.get_parameters_for_import(
            KeyId=external["KeyId"],
            WrappingAlgorithm="RSAES_OAEP_SHA_256",
            WrappingKeySpec="RSA_2048",
        )
    )
    material = os.urandom(32)
    wrapped = oaep_wrap(issued["PublicKey"], material)
    secrets += [material, issued["ImportToken"], issued["PublicKey"], wrapped]
    valid_to = datetime.now(UTC) + timedelta(days=3)
    imported = made(
        kms.import_key_material(
            KeyId=external["KeyId"],
            ImportToken=issued["ImportToken"],
            EncryptedKeyMaterial=wrapped,
            ExpirationModel="KEY_MATERIAL_EXPIRES",
            ValidTo=valid_to,
        )
    )
    import_record = record_of(reader, request_id(imported))
    assert set(import_record["requestParameters"]) == {
        "keyId",
        "validTo",
        "expirationModel",
    }
    assert ELEMENT_DATE_PATTERN.match(import_record["requestParameters"]["validTo"])
    assert import_record["responseElements"]["keyId"] == external["Arn"]
    current = kms.describe_key(KeyId=external["KeyId"])
    requests.append(request_id(current))
    assert (
        import_record["responseElements"]["keyMaterialId"]
        == (current["KeyMetadata"]["CurrentKeyMaterialId"])
    )

    error = failure(kms.decrypt, CiphertextBlob=b"\x01" * 80)
    requests.append(request_id(error.response))

    stored = rows(reader)
    recorded = [json.loads(row[4]).get("requestID") for row in stored]
    assert sorted(recorded) == sorted(requests)
    assert len(stored) == len(requests)

    cells = reader.all_cell_bytes()
    audit_text = "\n".join(str(row[4]) for row in stored).encode()
    for secret in secrets:
        forms = [
            secret,
            base64.b64encode(secret),
            base64.urlsafe_b64encode(secret).rstrip(b"="),
        ]
        for form in forms:
            assert form not in audit_text
            assert not any(form in cell for cell in cells if b"eventVersion" in cell)


# Lifecycle records and their events.


def stored_event_hashes(reader: StoreReader, key_id: str) -> dict[int, str]:
    """Hash each stored event of the key, as the audit trail references it."""
    events = reader.query(
        f"SELECT originator_version, topic, state FROM {reader.events_table}"
        " WHERE originator_id = ? ORDER BY originator_version",
        (reader.originator_id(key_id),),
    )
    return {
        int(version): event_hash(key_id, int(version), str(topic), bytes(state))
        for version, topic, state in events
    }


def references(row: tuple[Any, ...]) -> list[tuple[str, int, str]]:
    parsed = []
    for text in json.loads(row[5]):
        originator, version, hashed = text.split("/")
        parsed.append((originator, int(version), hashed))
    return parsed


def test_lifecycle_records_reference_their_events(
    kms: Any, reader: StoreReader
) -> None:
    created = kms.create_key(Description="first")
    key_id = created["KeyMetadata"]["KeyId"]
    updated = kms.update_key_description(KeyId=key_id, Description="second")
    encrypted = kms.encrypt(KeyId=key_id, Plaintext=b"x")
    hashes_by_version = stored_event_hashes(reader, key_id)
    assert len(hashes_by_version) == 2

    create_refs = references(row_of(reader, request_id(created)))
    assert create_refs == [(str(uuid.UUID(key_id)), 1, hashes_by_version[1])]
    update_refs = references(row_of(reader, request_id(updated)))
    assert update_refs == [(str(uuid.UUID(key_id)), 2, hashes_by_version[2])]
    assert references(row_of(reader, request_id(encrypted))) == []


# Service events, moved along by the dev clock.


def advance(server: Any, seconds: float) -> None:
    import httpx

    response = httpx.post(
        server.endpoint + "/_keyledger/dev-clock", json={"Seconds": seconds}, timeout=30
    )
    assert response.status_code == 200, response.text


def service_records(
    reader: StoreReader, name: str, key_id: str
) -> list[tuple[Any, ...]]:
    return [row for row in rows(reader) if row[1] == name and row[2] == key_id]


def check_service_event(record: dict[str, Any], name: str, arn: str) -> None:
    assert record["eventVersion"] == "1.11"
    assert record["userIdentity"] == {"accountId": ACCOUNT, "invokedBy": "AWS Internal"}
    assert record["eventSource"] == "kms.amazonaws.com"
    assert record["eventName"] == name
    assert record["awsRegion"] == REGION
    assert record["sourceIPAddress"] == "AWS Internal"
    assert record["userAgent"] == "AWS Internal"
    assert record["requestParameters"] is None
    assert "requestID" not in record
    assert UUID_PATTERN.match(record["eventID"])
    assert record["readOnly"] is False
    assert record["resources"] == [key_resource(arn)]
    assert record["eventType"] == "AwsServiceEvent"
    assert record["managementEvent"] is True
    assert record["recipientAccountId"] == ACCOUNT
    assert record["eventCategory"] == "Management"


def test_sweep_leaves_service_event_records(own_server: Any) -> None:
    kms = client(own_server)
    reader = StoreReader(own_server)
    doomed = new_key(kms)
    kms.schedule_key_deletion(KeyId=doomed["KeyId"], PendingWindowInDays=7)
    rotating = new_key(kms)
    kms.enable_key_rotation(KeyId=rotating["KeyId"], RotationPeriodInDays=90)
    external = new_key(kms, Origin="EXTERNAL")
    issued = kms.get_parameters_for_import(
        KeyId=external["KeyId"],
        WrappingAlgorithm="RSAES_OAEP_SHA_256",
        WrappingKeySpec="RSA_2048",
    )
    kms.import_key_material(
        KeyId=external["KeyId"],
        ImportToken=issued["ImportToken"],
        EncryptedKeyMaterial=oaep_wrap(issued["PublicKey"], os.urandom(32)),
        ExpirationModel="KEY_MATERIAL_EXPIRES",
        ValidTo=datetime.now(UTC) + timedelta(days=2),
    )
    imported_material = kms.describe_key(KeyId=external["KeyId"])["KeyMetadata"][
        "CurrentKeyMaterialId"
    ]

    advance(own_server, 91 * 86400)

    (deleted,) = service_records(reader, "DeleteKey", doomed["KeyId"])
    record = json.loads(deleted[4])
    check_service_event(record, "DeleteKey", doomed["Arn"])
    assert record["responseElements"] == {"keyId": doomed["Arn"]}
    (reference,) = references(deleted)
    assert reference[0] == str(uuid.UUID(doomed["KeyId"]))
    assert reference[2] == stored_event_hashes(reader, doomed["KeyId"])[reference[1]]
    assert reader.event_topics(doomed["KeyId"])[reference[1] - 1].endswith("KeyDeleted")

    (rotated,) = service_records(reader, "RotateKey", rotating["KeyId"])
    record = json.loads(rotated[4])
    check_service_event(record, "RotateKey", rotating["Arn"])
    assert record["responseElements"] is None
    now_current = kms.describe_key(KeyId=rotating["KeyId"])["KeyMetadata"]
    assert record["serviceEventDetails"] == {
        "rotationType": "AUTOMATIC",
        "keyOrigin": "AWS_KMS",
        "previousKeyMaterialId": rotating["CurrentKeyMaterialId"],
        "currentKeyMaterialId": now_current["CurrentKeyMaterialId"],
    }
    assert references(rotated)

    (expired,) = service_records(reader, "DeleteExpiredKeyMaterial", external["KeyId"])
    record = json.loads(expired[4])
    check_service_event(record, "DeleteExpiredKeyMaterial", external["Arn"])
    assert record["serviceEventDetails"] == {
        "keyId": external["KeyId"],
        "keyMaterialId": imported_material,
    }
    assert references(expired)
