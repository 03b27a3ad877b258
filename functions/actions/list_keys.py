"""ListKeys: the caller's keys in this Region, oldest first, one page at a time."""

from __future__ import annotations

import re
from typing import Any

from domain.identifiers import key_arn
from domain.principal import Caller
from functions.access import authorize_account
from functions.services import Services
from functions.wire import decode_marker, encode_marker

DEFAULT_LIMIT = 100
_MARKER_KIND = "keys"
# ResourceOwners values: the caller's own keys, and keys other accounts share
# through AWS Resource Access Manager, which KeyLedger does not have.
SELF = "SELF"
# A position is a row number that the store keeps in a signed 64-bit column.
# int() also accepts signs, spaces, underscores and non-ASCII digits, which no
# issued marker contains.
_POSITION = re.compile(r"[0-9]{1,19}")
_MAX_POSITION = 2**63 - 1


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    authorize_account(services, caller, "ListKeys", params)
    limit = params.get("Limit", DEFAULT_LIMIT)
    marker = decode_marker(_MARKER_KIND, params.get("Marker"), _is_position)
    after_position = int(marker) if marker is not None else 0
    account_id = caller.principal.account_id
    if SELF not in params.get("ResourceOwners", [SELF]):
        # Only keys shared with the caller are asked for, and no account
        # shares keys here.
        return {"Keys": [], "Truncated": False}

    rows = services.store.list_keys(
        account_id, caller.region, after_position, limit + 1
    )

    page, truncated = rows[:limit], len(rows) > limit
    result: dict[str, Any] = {
        "Keys": [
            {"KeyId": key_id, "KeyArn": key_arn(caller.region, account_id, key_id)}
            for _, key_id in page
        ],
        "Truncated": truncated,
    }
    if truncated:
        result["NextMarker"] = encode_marker(_MARKER_KIND, str(page[-1][0]))
    return result


def _is_position(text: str) -> bool:
    return _POSITION.fullmatch(text) is not None and int(text) <= _MAX_POSITION
