"""ListAliases: the caller's aliases in this Region, by name, one page at a time.

KeyLedger has no AWS managed keys, so it lists no ``alias/aws/*`` entries.
"""

from __future__ import annotations

from typing import Any

from domain.identifiers import KEY_FORMS, alias_arn
from domain.principal import Caller
from functions.access import authorize_account
from functions.keys import alias_name_can_exist, existing_key
from functions.services import Services
from functions.wire import decode_marker, encode_marker

# ListAliases takes a Limit of 1 to 100 and defaults to 50, though the service
# model allows up to 1000. A larger Limit gets at most 100 entries, which the
# API permits: KMS "might return fewer" than the Limit.
DEFAULT_LIMIT = 50
MAX_LIMIT = 100
_MARKER_KIND = "aliases"


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    limit = min(params.get("Limit", DEFAULT_LIMIT), MAX_LIMIT)
    after_name = (
        decode_marker(_MARKER_KIND, params.get("Marker"), alias_name_can_exist) or ""
    )
    authorize_account(services, caller, "ListAliases", params)
    target_key_id = None
    if "KeyId" in params:
        # ListAliases is governed by identity policies alone, so the key's
        # own policy is not asked.
        target_key_id = existing_key(
            services, caller, "ListAliases", params["KeyId"], KEY_FORMS
        ).key_id
    account_id = caller.principal.account_id

    rows = services.store.list_aliases(
        account_id, caller.region, after_name, limit + 1, target_key_id
    )

    page, truncated = rows[:limit], len(rows) > limit
    result: dict[str, Any] = {
        "Aliases": [
            {
                "AliasName": row.alias_name,
                "AliasArn": alias_arn(caller.region, account_id, row.alias_name),
                "TargetKeyId": row.target_key_id,
                "CreationDate": row.creation_date,
                "LastUpdatedDate": row.last_updated_date,
            }
            for row in page
        ],
        "Truncated": truncated,
    }
    if truncated:
        result["NextMarker"] = encode_marker(_MARKER_KIND, page[-1].alias_name)
    return result
