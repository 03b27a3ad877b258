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
    grant_list_entry,
    grant_list_response,
    grant_page_request,
    reject_unsupported,
)

_MARKER_KIND = "grants"


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    limit, after_position = grant_page_request(params, _MARKER_KIND)
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
    entries = [grant_list_entry(grant, key) for grant in page]
    next_position = page[-1].position if truncated else None
    return grant_list_response(_MARKER_KIND, entries, next_position)
