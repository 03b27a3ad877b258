"""ListRetirableGrants: the grants in this Region that name a retiring principal.

The retiring principal must be in the caller's account; the grants may be on
keys of any account (API_ListRetirableGrants). They come from the
keyledger_grants table, not from replaying every key.
"""

from __future__ import annotations

from typing import Any

from domain.errors import ValidationException
from domain.grant import check_principal, principal_account
from domain.principal import Caller
from functions.access import access_denied, authorize_account
from functions.services import Services
from functions.wire import (
    decode_marker,
    encode_marker,
    grant_list_entry,
    reject_unsupported,
)

# The same Limit rule as ListGrants: 1 to 100, default 50.
DEFAULT_LIMIT = 50
MAX_LIMIT = 100
_MARKER_KIND = "retirable-grants"


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    limit = min(params.get("Limit", DEFAULT_LIMIT), MAX_LIMIT)
    marker = decode_marker(_MARKER_KIND, params.get("Marker"), str.isdecimal)
    after_position = int(marker) if marker is not None else 0
    # TODO: the RetiringServicePrincipal filter, once grants can name service
    # principals.
    reject_unsupported(params, "RetiringServicePrincipal")
    retiring_principal = params.get("RetiringPrincipal")
    if retiring_principal is None:
        # NOTE: AWS's message for this case is not confirmed.
        raise ValidationException(
            "Specify RetiringPrincipal or RetiringServicePrincipal."
        )
    check_principal(retiring_principal, "RetiringPrincipal")
    if principal_account(retiring_principal) != caller.principal.account_id:
        # NOTE: AWS documents that the principal must be in the caller's
        # account, but not the error it returns otherwise.
        raise access_denied(caller, "ListRetirableGrants", retiring_principal)
    authorize_account(services, caller, "ListRetirableGrants", params)

    rows = services.store.retirable_grants(
        retiring_principal, caller.region, after_position, limit + 1
    )

    page, truncated = rows[:limit], len(rows) > limit
    entries = []
    for row in page:
        key = services.store.cached_key(row.key_id)
        grant = key.grants.get(row.grant_id) if key is not None else None
        if key is not None and grant is not None:
            entries.append(grant_list_entry(grant, key))
    result: dict[str, Any] = {"Grants": entries, "Truncated": truncated}
    if truncated:
        result["NextMarker"] = encode_marker(_MARKER_KIND, str(page[-1].position))
    return result
