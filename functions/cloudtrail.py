"""Audit records shaped like the CloudTrail events AWS KMS writes.

The shapes follow the examples in the AWS KMS Developer Guide, "Logging AWS
KMS API calls with AWS CloudTrail" and its per-operation pages (CreateKey,
Encrypt, Decrypt, ReEncrypt, CreateGrant, RetireGrant, ImportKeyMaterial,
DeleteKey, RotateKey, DeleteExpiredKeyMaterial, ...), and the CloudTrail User
Guide's "CloudTrail userIdentity element".

A record never contains plaintext, key material, data keys, ciphertext, import
tokens, wrapping keys or grant tokens: request members that carry them are
left out by name, and so are the response elements of the cryptographic
operations and of the reads, as CloudTrail does.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from domain.ciphertext import parse_header
from domain.errors import KMSError
from domain.grant import parse_grant_token

EVENT_VERSION = "1.11"
EVENT_SOURCE = "kms.amazonaws.com"
# The invokedBy, sourceIPAddress and userAgent value of work AWS KMS does by
# itself (the DeleteKey, RotateKey and DeleteExpiredKeyMaterial examples).
AWS_INTERNAL = "AWS Internal"
RESOURCE_TYPE = "AWS::KMS::Key"
"""The resource type CloudTrail gives key and alias ARNs alike."""

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

# Actions whose response CloudTrail leaves out (responseElements null): the
# cryptographic operations, the reads, and RetireGrant, whose grant id goes
# to additionalEventData instead.
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
        "RetireGrant",
    }
)

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

# Timestamp members of requests: the JSON 1.1 protocol sends epoch seconds,
# and CloudTrail records a date (the ImportKeyMaterial example's validTo).
_TIMESTAMP_MEMBERS = frozenset({"ValidTo"})

# Member names CloudTrail does not lower-case: CreateKey's keyMetadata keeps
# "AWSAccountId" in the current example.
_KEPT_NAMES = frozenset({"AWSAccountId"})

# Operations whose record carries the key material a ciphertext names, in
# additionalEventData.keyMaterialId (the Encrypt, Decrypt and GenerateDataKey
# examples at eventVersion 1.11).
_MATERIAL_FROM_RESULT = frozenset(
    {"Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext"}
)


def timestamp(moment: datetime) -> str:
    """Format a moment as CloudTrail's eventTime: UTC, whole seconds, Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def element_date(moment: datetime) -> str:
    """Format a date inside requestParameters or responseElements.

    CloudTrail writes these as "May 21, 2025, 5:47:45 AM" in UTC: day and
    hour without a leading zero (the ImportKeyMaterial and CreateKey
    examples).
    """
    utc = moment.astimezone(UTC)
    hour = utc.hour % 12 or 12
    return (
        f"{utc:%b} {utc.day}, {utc.year}, {hour}:{utc:%M:%S} "
        f"{'AM' if utc.hour < 12 else 'PM'}"
    )


def camel_case(name: str) -> str:
    if name in _KEPT_NAMES:
        return name
    return name[:1].lower() + name[1:]


def _convert(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {
            camel_case(str(name)): _convert_member(str(name), member)
            for name, member in value.items()
            if name not in SECRET_MEMBERS
        }
    if isinstance(value, list | tuple):
        return [_convert(member) for member in value]
    if isinstance(value, datetime):
        return element_date(value)
    if isinstance(value, bytes):
        # No secret reaches here: secret members are dropped by name.
        return base64.b64encode(value).decode("ascii")
    return value


def _convert_member(name: str, member: Any) -> Any:
    if name in _FREE_FORM_MEMBERS and isinstance(member, Mapping):
        return dict(member)
    is_number = isinstance(member, int | float) and not isinstance(member, bool)
    if name in _TIMESTAMP_MEMBERS and is_number:
        return element_date(datetime.fromtimestamp(member, UTC))
    return _convert(member)


def request_parameters(action: str, params: Mapping[str, Any] | None) -> Any:
    """Return requestParameters: the request's members in camelCase, no secrets."""
    converted = _convert(params) if params else {}
    if action == "Decrypt":
        # "The CloudTrail log entry for a Decrypt operation always includes
        # the encryptionAlgorithm in the requestParameters even if the
        # encryption algorithm wasn't specified in the request."
        converted.setdefault("encryptionAlgorithm", "SYMMETRIC_DEFAULT")
    return converted or None


def response_elements(action: str, result: Mapping[str, Any] | None) -> Any:
    """Return responseElements, or None where CloudTrail records none."""
    if result is None or action in _NO_RESPONSE_ELEMENTS:
        return None
    converted = _convert(result)
    return converted or None


def additional_event_data(
    action: str,
    params: Mapping[str, Any] | None,
    result: Mapping[str, Any] | None,
) -> dict[str, str] | None:
    """Return additionalEventData for a successful call, where AWS KMS sets it.

    The key material ids come from the headers of the ciphertext blobs,
    never from their encrypted part.
    """
    params = params or {}
    if action == "RetireGrant":
        # A RetireGrant's record is written with its save, before any result.
        grant_id = _retired_grant_id(params)
        return {"grantId": grant_id} if grant_id else None
    if result is None:
        return None
    if action in _MATERIAL_FROM_RESULT:
        material = _key_material_id(result.get("CiphertextBlob"))
        return {"keyMaterialId": material} if material else None
    if action == "Decrypt":
        material = _key_material_id(params.get("CiphertextBlob"))
        return {"keyMaterialId": material} if material else None
    if action == "ReEncrypt":
        source = _key_material_id(params.get("CiphertextBlob"))
        destination = _key_material_id(result.get("CiphertextBlob"))
        if source is None or destination is None:
            return None
        return {"destinationKeyMaterialId": destination, "sourceKeyMaterialId": source}
    return None


def _key_material_id(blob: Any) -> str | None:
    if not isinstance(blob, bytes):
        return None
    try:
        return parse_header(blob).key_material_id
    except KMSError:
        return None


def _retired_grant_id(params: Mapping[str, Any]) -> str | None:
    grant_id = params.get("GrantId")
    if isinstance(grant_id, str):
        return grant_id
    token = params.get("GrantToken")
    if not isinstance(token, str):
        return None
    try:
        return parse_grant_token(token)[1]
    except KMSError:
        return None


def user_identity(
    principal_arn: str, account_id: str, access_key_id: str
) -> dict[str, Any]:
    """Describe the caller as CloudTrail's userIdentity does.

    NOTE: IAM gives each user and role a unique id (AIDA..., AROA...) for
    principalId, and a role's caller a session ARN under
    arn:aws:sts::...:assumed-role/. KeyLedger's principals have neither,
    so principalId is the IAM ARN (the account id for the root, as CloudTrail
    records it) and arn is the ARN the credentials file declares.
    """
    identity: dict[str, Any] = {
        "type": "IAMUser",
        "principalId": principal_arn,
        "arn": principal_arn,
        "accountId": account_id,
        "accessKeyId": access_key_id,
    }
    resource = principal_arn.split(":", 5)[-1]
    if resource == "root":
        identity["type"] = "Root"
        identity["principalId"] = account_id
    elif resource.startswith("role/"):
        identity["type"] = "AssumedRole"
        identity["sessionContext"] = {
            "sessionIssuer": {
                "type": "Role",
                "principalId": principal_arn,
                "arn": principal_arn,
                "accountId": account_id,
                "userName": resource.rsplit("/", 1)[-1],
            }
        }
    elif resource.startswith("user/"):
        identity["userName"] = resource.rsplit("/", 1)[-1]
    return identity


def key_resources(arns: Sequence[str]) -> list[dict[str, str]]:
    """Return the record's resources: each key or alias ARN once, in order."""
    resources = []
    for arn in dict.fromkeys(arns):
        account_id = arn.split(":")[4] if arn.count(":") >= 5 else ""
        resources.append({"accountId": account_id, "type": RESOURCE_TYPE, "ARN": arn})
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
    else:
        extra = additional_event_data(action, params, result)
        if extra:
            record["additionalEventData"] = extra
    return record


def service_event_record(
    *,
    event_id: str,
    event_time: datetime,
    event_name: str,
    region: str,
    key_arn: str,
    account_id: str,
    response: Mapping[str, Any] | None = None,
    details: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build the record of work KMS does by itself (AwsServiceEvent).

    ``response`` becomes responseElements and ``details`` becomes
    serviceEventDetails; a service event has no requestID.
    """
    record: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": {"accountId": account_id, "invokedBy": AWS_INTERNAL},
        "eventTime": timestamp(event_time),
        "eventSource": EVENT_SOURCE,
        "eventName": event_name,
        "awsRegion": region,
        "sourceIPAddress": AWS_INTERNAL,
        "userAgent": AWS_INTERNAL,
        "requestParameters": None,
        "responseElements": _convert(response) if response else None,
        "eventID": event_id,
        "readOnly": False,
        "resources": key_resources([key_arn]),
        "eventType": "AwsServiceEvent",
        "managementEvent": True,
        "recipientAccountId": account_id,
        "eventCategory": "Management",
    }
    if details:
        record["serviceEventDetails"] = dict(details)
    return record
