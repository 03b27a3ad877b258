"""The request and response members of an audit record, as CloudTrail writes them.

Names are camelCase, dates are CloudTrail's element dates, and members that
carry plaintext, key material, ciphertext, tokens or wrapping keys are left
out by name. The response elements of the cryptographic operations and of
the reads are left out whole, as CloudTrail does.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from domain.ciphertext import parse_header
from domain.errors import KMSError
from domain.grant import parse_grant_token

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


def convert_members(value: Any) -> Any:
    """Convert wire members to CloudTrail's: camelCase names, dates, no secrets."""
    if isinstance(value, Mapping):
        return {
            camel_case(str(name)): _convert_member(str(name), member)
            for name, member in value.items()
            if name not in SECRET_MEMBERS
        }
    if isinstance(value, list | tuple):
        return [convert_members(member) for member in value]
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
    return convert_members(member)


def request_parameters(action: str, params: Mapping[str, Any] | None) -> Any:
    """Return requestParameters: the request's members in camelCase, no secrets."""
    converted = convert_members(params) if params else {}
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
    converted = convert_members(result)
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
