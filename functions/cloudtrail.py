"""Audit records shaped like the CloudTrail events AWS KMS writes.

A record never holds plaintext, key material, data keys, ciphertext, import
tokens or grant tokens: request members that carry them are left out, and so
are the response elements of the cryptographic operations, as CloudTrail
does.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

EVENT_VERSION = "1.11"
EVENT_SOURCE = "kms.amazonaws.com"

# Members that carry secrets or ciphertext, in requests and responses alike.
SECRET_MEMBERS = frozenset(
    {
        "Plaintext",
        "CiphertextBlob",
        "CiphertextForRecipient",
        "EncryptedKeyMaterial",
        "GrantToken",
        "GrantTokens",
        "ImportToken",
        "PublicKey",
        "PrivateKeyPlaintext",
        "PrivateKeyCiphertextBlob",
        "Recipient",
        "Mac",
        "Signature",
        "Message",
        "SharedSecret",
    }
)

# Actions whose response CloudTrail leaves out (responseElements null).
_NO_RESPONSE_ELEMENTS = frozenset(
    {
        "Decrypt",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateRandom",
        "ReEncrypt",
        "GetParametersForImport",
        "DescribeKey",
        "GetKeyPolicy",
        "GetKeyRotationStatus",
        "ListAliases",
        "ListGrants",
        "ListKeyPolicies",
        "ListKeyRotations",
        "ListKeys",
        "ListResourceTags",
        "ListRetirableGrants",
        "GetKeyLastUsage",
    }
)


def timestamp(moment: datetime) -> str:
    """Format a moment as CloudTrail's eventTime: UTC, whole seconds, Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def camel_case(name: str) -> str:
    return name[:1].lower() + name[1:]


# Maps whose keys are the caller's own words, kept as they are.
_FREE_FORM_MEMBERS = frozenset(
    {
        "EncryptionContext",
        "SourceEncryptionContext",
        "DestinationEncryptionContext",
        "EncryptionContextEquals",
        "EncryptionContextSubset",
    }
)


def _convert(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {
            camel_case(str(name)): (
                dict(member) if name in _FREE_FORM_MEMBERS else _convert(member)
            )
            for name, member in value.items()
            if name not in SECRET_MEMBERS
        }
    if isinstance(value, list | tuple):
        return [_convert(member) for member in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%b %d, %Y, %I:%M:%S %p")
    if isinstance(value, bytes):
        # No secret reaches here: secret members are dropped by name.
        return base64.b64encode(value).decode("ascii")
    return value


def request_parameters(action: str, params: Mapping[str, Any] | None) -> Any:
    """Return requestParameters: the request's members in camelCase, no secrets."""
    if not params:
        return None
    converted = _convert(params)
    return converted or None


def response_elements(action: str, result: Mapping[str, Any] | None) -> Any:
    """Return responseElements, or None where CloudTrail records none."""
    if result is None or action in _NO_RESPONSE_ELEMENTS:
        return None
    converted = _convert(result)
    return converted or None


def user_identity(
    principal_arn: str, account_id: str, access_key_id: str
) -> dict[str, Any]:
    """Describe the caller as CloudTrail's userIdentity does."""
    if principal_arn.endswith(":root"):
        identity_type = "Root"
    elif ":role/" in principal_arn:
        identity_type = "AssumedRole"
    else:
        identity_type = "IAMUser"
    return {
        "type": identity_type,
        "principalId": account_id if identity_type == "Root" else principal_arn,
        "arn": principal_arn,
        "accountId": account_id,
        "accessKeyId": access_key_id,
    }


def key_resources(key_arns: Sequence[str]) -> list[dict[str, str]]:
    resources = []
    for arn in dict.fromkeys(key_arns):
        account_id = arn.split(":")[4] if arn.count(":") >= 5 else ""
        resources.append({"accountId": account_id, "type": "AWS::KMS::Key", "ARN": arn})
    return resources


def api_call_record(
    *,
    event_id: str,
    request_id: str,
    event_time: datetime,
    action: str,
    identity: dict[str, Any],
    region: str,
    source_ip: str,
    user_agent: str,
    params: Mapping[str, Any] | None,
    result: Mapping[str, Any] | None,
    error_code: str | None,
    error_message: str | None,
    key_arns: Sequence[str],
    recipient_account_id: str,
    read_only: bool,
) -> dict[str, Any]:
    """Build the record of one API call, as CloudTrail shapes a KMS event."""
    record: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": identity,
        "eventTime": timestamp(event_time),
        "eventSource": EVENT_SOURCE,
        "eventName": action,
        "awsRegion": region,
        "sourceIPAddress": source_ip,
        "userAgent": user_agent,
        "requestParameters": request_parameters(action, params),
        "responseElements": response_elements(action, result),
        "requestID": request_id,
        "eventID": event_id,
        "readOnly": read_only,
        "resources": key_resources(key_arns),
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": recipient_account_id,
        "eventCategory": "Management",
    }
    if error_code is not None:
        record["errorCode"] = error_code
        record["errorMessage"] = error_message or ""
    return record


def service_event_record(
    *,
    event_id: str,
    event_time: datetime,
    event_name: str,
    region: str,
    key_arn: str,
    account_id: str,
    additional_event_data: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build the record of work KMS does by itself (AwsServiceEvent)."""
    record: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": {"accountId": account_id, "invokedBy": EVENT_SOURCE},
        "eventTime": timestamp(event_time),
        "eventSource": EVENT_SOURCE,
        "eventName": event_name,
        "awsRegion": region,
        "sourceIPAddress": EVENT_SOURCE,
        "userAgent": EVENT_SOURCE,
        "requestParameters": None,
        "responseElements": None,
        "eventID": event_id,
        "readOnly": False,
        "resources": key_resources([key_arn]),
        "eventType": "AwsServiceEvent",
        "managementEvent": True,
        "recipientAccountId": account_id,
        "eventCategory": "Management",
    }
    if additional_event_data:
        record["additionalEventData"] = dict(additional_event_data)
    return record
