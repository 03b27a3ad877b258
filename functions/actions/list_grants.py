"""ListGrants: the grants of one key, oldest first, one page at a time.

It works in every key state ("Key states of AWS KMS keys").
"""

from __future__ import annotations

from typing import Any

from domain.grant import check_grant_id
from domain.identifiers import KEY_FORMS
from domain.principal import Caller
from functions.keys import key_for_use
from functions.services import Services
from functions.wire import (
    decode_marker,
    encode_marker,
    grant_list_entry,
    reject_unsupported,
)

# ListGrants takes a Limit of 1 to 100 and defaults to 50, though the service
# model allows up to 1000. A larger Limit gets at most 100 entries, which the
# API permits: KMS "might return fewer" than the Limit.
DEFAULT_LIMIT = 50
MAX_LIMIT = 100
_MARKER_KIND = "grants"


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    limit = min(params.get("Limit", DEFAULT_LIMIT), MAX_LIMIT)
    marker = decode_marker(_MARKER_KIND, params.get("Marker"), str.isdecimal)
    after_position = int(marker) if marker is not None else 0
    # TODO: the GranteeServicePrincipal filter, once grants can name service
    # principals.
    reject_unsupported(params, "GranteeServicePrincipal")
    grant_id = params.get("GrantId")
    if grant_id is not None:
        check_grant_id(grant_id)
    grantee_principal = params.get("GranteePrincipal")
    key = key_for_use(
        services, caller, "ListGrants", params["KeyId"], params, KEY_FORMS
    )

    grants = [
        grant
        for grant in key.grants.values()
        if grant.position > after_position
        and (grant_id is None or grant.grant_id == grant_id)
        and (grantee_principal is None or grant.grantee_principal == grantee_principal)
    ]

    page, truncated = grants[:limit], len(grants) > limit
    result: dict[str, Any] = {
        "Grants": [grant_list_entry(grant, key) for grant in page],
        "Truncated": truncated,
    }
    if truncated:
        result["NextMarker"] = encode_marker(_MARKER_KIND, str(page[-1].position))
    return result
