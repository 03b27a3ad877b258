"""The CloudTrail record shapes, checked against the AWS KMS Developer Guide's
examples ("Logging AWS KMS API calls with AWS CloudTrail" and its pages per
operation) and the CloudTrail User Guide's "CloudTrail userIdentity element".
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from domain.ciphertext import build_header
from domain.grant import make_grant_token
from functions import cloudtrail

KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = f"arn:aws:kms:us-west-2:111122223333:key/{KEY_ID}"
MATERIAL_ID = "123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0"
OTHER_MATERIAL_ID = "96083e4fb6dbc41d77578a213a6b6669c044dd4c143e96755396d2bf11fd6068"


def blob(key_material_id: str) -> bytes:
    """A ciphertext blob whose header names ``key_material_id``."""
    return build_header(KEY_ID, key_material_id, b"\x01" * 12) + b"\x02" * 48


def test_element_date_has_no_leading_zeros() -> None:
    # ImportKeyMaterial example: "validTo": "May 21, 2025, 5:47:45 AM".
    moment = datetime(2025, 5, 21, 5, 47, 45, tzinfo=UTC)
    assert cloudtrail.element_date(moment) == "May 21, 2025, 5:47:45 AM"


def test_element_date_afternoon_and_midnight() -> None:
    # CreateKey example: "creationDate": "Aug 10, 2022, 10:38:27 PM".
    evening = datetime(2022, 8, 10, 22, 38, 27, tzinfo=UTC)
    assert cloudtrail.element_date(evening) == "Aug 10, 2022, 10:38:27 PM"
    midnight = datetime(2024, 1, 2, 0, 5, 9, tzinfo=UTC)
    assert cloudtrail.element_date(midnight) == "Jan 2, 2024, 12:05:09 AM"
    noon = datetime(2024, 1, 2, 12, 0, 0, tzinfo=UTC)
    assert cloudtrail.element_date(noon) == "Jan 2, 2024, 12:00:00 PM"


def test_event_time_is_iso_utc() -> None:
    moment = datetime(2025, 5, 20, 20, 46, 16, 999, tzinfo=UTC)
    assert cloudtrail.timestamp(moment) == "2025-05-20T20:46:16Z"


def test_root_identity() -> None:
    identity = cloudtrail.user_identity(
        "arn:aws:iam::111122223333:root", "111122223333", "AKIAROOT"
    )
    assert identity == {
        "type": "Root",
        "principalId": "111122223333",
        "arn": "arn:aws:iam::111122223333:root",
        "accountId": "111122223333",
        "accessKeyId": "AKIAROOT",
    }


def test_iam_user_identity_names_user() -> None:
    arn = "arn:aws:iam::111122223333:user/Alice"
    identity = cloudtrail.user_identity(arn, "111122223333", "AKIAALICE")
    assert identity["type"] == "IAMUser"
    assert identity["arn"] == arn
    assert identity["userName"] == "Alice"
    assert identity["accountId"] == "111122223333"
    assert identity["accessKeyId"] == "AKIAALICE"
    assert "sessionContext" not in identity


def test_role_identity_has_session_issuer() -> None:
    arn = "arn:aws:iam::111122223333:role/path/RoleToBeAssumed"
    identity = cloudtrail.user_identity(arn, "111122223333", "AKIAROLE")
    assert identity["type"] == "AssumedRole"
    issuer = identity["sessionContext"]["sessionIssuer"]
    assert issuer["type"] == "Role"
    assert issuer["arn"] == arn
    assert issuer["accountId"] == "111122223333"
    assert issuer["userName"] == "RoleToBeAssumed"
    assert "userName" not in identity


def test_request_parameters_drop_secrets() -> None:
    params = {
        "KeyId": KEY_ID,
        "Plaintext": b"secret",
        "EncryptionContext": {"Department": "Engineering"},
        "GrantTokens": ["token"],
    }
    assert cloudtrail.request_parameters("Encrypt", params) == {
        "keyId": KEY_ID,
        "encryptionContext": {"Department": "Engineering"},
    }


def test_import_request_keeps_only_public_members() -> None:
    params = {
        "KeyId": KEY_ID,
        "ImportToken": b"token",
        "EncryptedKeyMaterial": b"wrapped",
        "ValidTo": datetime(2025, 5, 21, 5, 47, 45, tzinfo=UTC),
        "ExpirationModel": "KEY_MATERIAL_EXPIRES",
    }
    assert cloudtrail.request_parameters("ImportKeyMaterial", params) == {
        "keyId": KEY_ID,
        "validTo": "May 21, 2025, 5:47:45 AM",
        "expirationModel": "KEY_MATERIAL_EXPIRES",
    }


def test_decrypt_always_records_algorithm() -> None:
    # "The CloudTrail log entry for a Decrypt operation always includes the
    # encryptionAlgorithm in the requestParameters even if the encryption
    # algorithm wasn't specified in the request."
    params = {"CiphertextBlob": blob(MATERIAL_ID)}
    assert cloudtrail.request_parameters("Decrypt", params) == {
        "encryptionAlgorithm": "SYMMETRIC_DEFAULT"
    }


def test_encryption_context_keys_keep_their_case() -> None:
    params = {"KeyId": KEY_ID, "EncryptionContext": {"Project": "Alpha"}}
    recorded = cloudtrail.request_parameters("GenerateDataKey", params)
    assert recorded["encryptionContext"] == {"Project": "Alpha"}


def test_key_metadata_keeps_aws_account_id() -> None:
    # CreateKey example: "keyMetadata": {"AWSAccountId": "111122223333", ...}.
    result = {"KeyMetadata": {"AWSAccountId": "111122223333", "KeyId": KEY_ID}}
    assert cloudtrail.response_elements("CreateKey", result) == {
        "keyMetadata": {"AWSAccountId": "111122223333", "keyId": KEY_ID}
    }


def test_crypto_and_read_responses_are_null() -> None:
    for action in ("Encrypt", "Decrypt", "GenerateDataKey", "ReEncrypt", "ListKeys"):
        assert cloudtrail.response_elements(action, {"KeyId": KEY_ARN}) is None
    assert cloudtrail.response_elements("GetKeyPolicy", {"Policy": "{}"}) is None


def test_crypto_records_name_key_material() -> None:
    assert cloudtrail.additional_event_data(
        "Encrypt", {"KeyId": KEY_ID}, {"CiphertextBlob": blob(MATERIAL_ID)}
    ) == {"keyMaterialId": MATERIAL_ID}
    assert cloudtrail.additional_event_data(
        "Decrypt", {"CiphertextBlob": blob(MATERIAL_ID)}, {"KeyId": KEY_ARN}
    ) == {"keyMaterialId": MATERIAL_ID}
    assert cloudtrail.additional_event_data(
        "ReEncrypt",
        {"CiphertextBlob": blob(MATERIAL_ID)},
        {"CiphertextBlob": blob(OTHER_MATERIAL_ID)},
    ) == {
        "sourceKeyMaterialId": MATERIAL_ID,
        "destinationKeyMaterialId": OTHER_MATERIAL_ID,
    }


def test_garbage_ciphertext_adds_no_material() -> None:
    assert (
        cloudtrail.additional_event_data(
            "Decrypt", {"CiphertextBlob": b"short"}, {"KeyId": KEY_ARN}
        )
        is None
    )


def test_retire_grant_records_grant_id() -> None:
    # RetireGrant example: requestParameters null, additionalEventData.grantId.
    grant_id = "ab" * 32
    token = make_grant_token(KEY_ID, grant_id, lambda size: b"\x00" * size)
    assert cloudtrail.request_parameters("RetireGrant", {"GrantToken": token}) is None
    assert cloudtrail.response_elements("RetireGrant", {}) is None
    assert cloudtrail.additional_event_data(
        "RetireGrant", {"GrantToken": token}, {}
    ) == {"grantId": grant_id}


def test_failed_call_has_error_and_no_extra_data() -> None:
    record = cloudtrail.api_call_record(
        event_id=str(uuid.uuid4()),
        request_id="req",
        event_time=datetime(2025, 1, 1, tzinfo=UTC),
        action="Decrypt",
        identity={"type": "Root"},
        region="us-west-2",
        source_ip="192.0.2.0",
        user_agent="agent",
        params={"CiphertextBlob": blob(MATERIAL_ID)},
        result=None,
        error_code="IncorrectKeyException",
        error_message="The key ID in the request does not identify a CMK.",
        key_arns=[KEY_ARN],
        recipient_account_id="111122223333",
        read_only=True,
    )
    assert record["errorCode"] == "IncorrectKeyException"
    assert (
        record["errorMessage"] == "The key ID in the request does not identify a CMK."
    )
    assert record["responseElements"] is None
    assert "additionalEventData" not in record
    assert record["resources"] == [
        {"accountId": "111122223333", "type": "AWS::KMS::Key", "ARN": KEY_ARN}
    ]


def test_service_event_is_invoked_by_aws_internal() -> None:
    # DeleteExpiredKeyMaterial example.
    record = cloudtrail.service_event_record(
        event_id="cfa932fd-0d3a-4a76-a8b8-616863a2b547",
        event_time=datetime(2025, 5, 22, 19, 55, 11, tzinfo=UTC),
        event_name="DeleteExpiredKeyMaterial",
        region="us-west-2",
        key_arn=KEY_ARN,
        account_id="111122223333",
        details={"keyId": KEY_ID, "keyMaterialId": MATERIAL_ID},
    )
    assert record == {
        "eventVersion": "1.11",
        "userIdentity": {"accountId": "111122223333", "invokedBy": "AWS Internal"},
        "eventTime": "2025-05-22T19:55:11Z",
        "eventSource": "kms.amazonaws.com",
        "eventName": "DeleteExpiredKeyMaterial",
        "awsRegion": "us-west-2",
        "sourceIPAddress": "AWS Internal",
        "userAgent": "AWS Internal",
        "requestParameters": None,
        "responseElements": None,
        "eventID": "cfa932fd-0d3a-4a76-a8b8-616863a2b547",
        "readOnly": False,
        "resources": [
            {"accountId": "111122223333", "type": "AWS::KMS::Key", "ARN": KEY_ARN}
        ],
        "eventType": "AwsServiceEvent",
        "managementEvent": True,
        "recipientAccountId": "111122223333",
        "eventCategory": "Management",
        "serviceEventDetails": {"keyId": KEY_ID, "keyMaterialId": MATERIAL_ID},
    }
