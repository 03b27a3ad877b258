"""Shapes of the KMS wire format shared by several actions."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from domain.errors import (
    InvalidMarkerException,
    TagException,
    UnsupportedOperationException,
)
from domain.grant import Grant
from domain.key import SYMMETRIC_DEFAULT, Key
from domain.key_state import KeyState

MAX_TAGS_PER_KEY = 50
_RESERVED_TAG_PREFIX = "aws:"
# ListGrants and ListRetirableGrants take a Limit of 1 to 100 and default to
# 50, though the service model allows up to 1000. A larger Limit gets at most
# 100 entries, which the API permits: KMS "might return fewer" than the Limit.
GRANT_LIST_DEFAULT_LIMIT = 50
GRANT_LIST_MAX_LIMIT = 100


def key_metadata(key: Key) -> dict[str, Any]:
    """Build KeyMetadata as DescribeKey returns it."""
    metadata: dict[str, Any] = {
        "AWSAccountId": key.account_id,
        "KeyId": key.key_id,
        "Arn": key.arn,
        "CreationDate": key.creation_date,
        "Enabled": key.state is KeyState.ENABLED,
        "Description": key.description,
        "KeyUsage": key.key_usage,
        "KeyState": key.state.value,
        "Origin": key.origin,
        "KeyManager": "CUSTOMER",
        "CustomerMasterKeySpec": key.key_spec,
        "KeySpec": key.key_spec,
        "EncryptionAlgorithms": [SYMMETRIC_DEFAULT],
        "MultiRegion": key.multi_region,
    }

    # A key with origin EXTERNAL has no current key material before its first
    # import.
    if key.current_key_material_id is not None:
        metadata["CurrentKeyMaterialId"] = key.current_key_material_id
    # ExpirationModel and ValidTo describe imported key material (origin
    # EXTERNAL) once some was imported; ValidTo only while some expires.
    expiration_model, valid_to = key.imported_expiration
    if expiration_model is not None:
        metadata["ExpirationModel"] = expiration_model.value
    if valid_to is not None:
        metadata["ValidTo"] = valid_to
    # KeyMetadata has PendingDeletionWindowInDays only for a multi-Region
    # primary key in PendingReplicaDeletion. A key in PendingDeletion has only
    # its DeletionDate.
    if key.state is KeyState.PENDING_DELETION:
        metadata["DeletionDate"] = key.deletion_date
    return metadata


def grant_list_entry(grant: Grant, key: Key) -> dict[str, Any]:
    """Build a GrantListEntry as ListGrants and ListRetirableGrants return it.

    KeyId is the key ARN, and a grant created without a Name has an empty
    Name, as the ListGrants output in "Managing grants" and "Creating grants"
    shows.
    """
    entry: dict[str, Any] = {
        "KeyId": key.arn,
        "GrantId": grant.grant_id,
        "Name": grant.name or "",
        "CreationDate": grant.creation_date,
        "GranteePrincipal": grant.grantee_principal,
        "IssuingAccount": grant.issuing_account,
        "Operations": list(grant.operations),
    }
    if grant.retiring_principal is not None:
        entry["RetiringPrincipal"] = grant.retiring_principal
    if not grant.constraints.empty:
        entry["Constraints"] = grant.constraints.to_wire()
    return entry


def grant_page_request(params: Mapping[str, Any], marker_kind: str) -> tuple[int, int]:
    """Return a grant list's page size and the grant position its page follows.

    Position 0 starts at the first grant. A marker names the position of the
    last grant on the page before.
    """
    limit = min(params.get("Limit", GRANT_LIST_DEFAULT_LIMIT), GRANT_LIST_MAX_LIMIT)
    marker = decode_marker(marker_kind, params.get("Marker"), str.isdecimal)
    after_position = int(marker) if marker is not None else 0
    return limit, after_position


def grant_list_response(
    marker_kind: str, entries: list[dict[str, Any]], next_position: int | None
) -> dict[str, Any]:
    """Build the response of ListGrants or ListRetirableGrants.

    ``next_position`` is the position of the page's last grant when more
    grants follow, and None on the last page.
    """
    result: dict[str, Any] = {"Grants": entries, "Truncated": next_position is not None}
    if next_position is not None:
        result["NextMarker"] = encode_marker(marker_kind, str(next_position))
    return result


def to_epoch(value: datetime) -> float:
    return round(value.timestamp(), 3)


def encode_marker(kind: str, position: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{position}".encode()).decode("ascii")


def decode_marker(
    kind: str,
    marker: str | None,
    is_valid_position: Callable[[str], bool] | None = None,
) -> str | None:
    """Return the position a marker from an earlier page stands for.

    Markers are opaque to clients; one that this server did not issue for
    this list gets InvalidMarkerException, as AWS returns. A client can forge
    a marker, so ``is_valid_position`` rejects any position this list would
    never issue before it reaches a query.
    """
    if marker is None:
        return None
    try:
        text = base64.urlsafe_b64decode(marker.encode("ascii")).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        raise InvalidMarkerException("The marker is not valid.") from None
    prefix = f"{kind}:"
    if not text.startswith(prefix):
        raise InvalidMarkerException("The marker is not valid.")
    position = text[len(prefix) :]
    if is_valid_position is not None and not is_valid_position(position):
        raise InvalidMarkerException("The marker is not valid.")
    return position


def tags_from_wire(tags: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """Check a Tags parameter as KMS does and return it as a mapping."""
    result: dict[str, str] = {}
    for tag in tags:
        tag_key = tag["TagKey"]
        if tag_key.lower().startswith(_RESERVED_TAG_PREFIX):
            raise TagException(
                f"Tag keys beginning with '{_RESERVED_TAG_PREFIX}' are reserved "
                f"for AWS use: {tag_key}"
            )
        if tag_key in result:
            raise TagException(f"Duplicate tag key {tag_key} in the request.")
        result[tag_key] = tag["TagValue"]
    return result


def check_tag_count(existing: Mapping[str, str], added: Mapping[str, str]) -> None:
    total = len({**existing, **added})
    if total > MAX_TAGS_PER_KEY:
        raise TagException(
            f"A key can have at most {MAX_TAGS_PER_KEY} tags; "
            f"this request would give it {total}."
        )


def tags_to_wire(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"TagKey": k, "TagValue": v} for k, v in tags.items()]


def reject_unsupported(params: Mapping[str, Any], *names: str) -> None:
    """Refuse parameters whose behaviour KeyLedger does not have yet.

    TODO: Recipient (Nitro Enclaves attestation) and custom key stores.
    """
    for name in names:
        if params.get(name) is not None:
            raise UnsupportedOperationException(
                f"KeyLedger does not support the {name} parameter yet."
            )
