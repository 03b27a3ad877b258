"""Audit records shaped like the CloudTrail events AWS KMS writes.

The shapes follow the examples in the AWS KMS Developer Guide, "Logging AWS
KMS API calls with AWS CloudTrail" and its per-operation pages (CreateKey,
Encrypt, Decrypt, ReEncrypt, CreateGrant, RetireGrant, ImportKeyMaterial,
DeleteKey, RotateKey, DeleteExpiredKeyMaterial, ...), and the CloudTrail User
Guide's "CloudTrail userIdentity element".

A record never contains plaintext, key material, data keys, ciphertext, import
tokens, wrapping keys or grant tokens. :mod:`functions.cloudtrail_elements`
leaves out the request members that carry them by name. As CloudTrail does, it
also leaves out the response elements of the cryptographic operations and of
the reads.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from functions.cloudtrail_elements import (
    additional_event_data,
    convert_members,
    element_date,
    request_parameters,
    response_elements,
)

# The element functions stay importable from here, where the record is built.
__all__ = [
    "additional_event_data",
    "api_call_record",
    "element_date",
    "key_resources",
    "request_parameters",
    "response_elements",
    "service_event_record",
    "timestamp",
    "user_identity",
]

EVENT_VERSION = "1.11"
EVENT_SOURCE = "kms.amazonaws.com"
# The invokedBy, sourceIPAddress and userAgent value of work AWS KMS does by
# itself (the DeleteKey, RotateKey and DeleteExpiredKeyMaterial examples).
AWS_INTERNAL = "AWS Internal"
RESOURCE_TYPE = "AWS::KMS::Key"
"""The resource type CloudTrail gives key and alias ARNs alike."""


def timestamp(moment: datetime) -> str:
    """Format a moment as CloudTrail's eventTime: UTC, whole seconds, Z."""
    return _whole_second(math.floor(moment.timestamp()))


@functools.lru_cache(maxsize=8)
def _whole_second(seconds: int) -> str:
    # Records come many to a second, so the formatted second is kept.
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
        "responseElements": convert_members(response) if response else None,
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
