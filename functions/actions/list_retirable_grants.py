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
    grant_list_entry,
    grant_list_response,
    grant_page_request,
    reject_unsupported,
)

_MARKER_KIND = "retirable-grants"


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    limit, after_position = grant_page_request(params, _MARKER_KIND)
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
    next_position = page[-1].position if truncated else None
    return grant_list_response(_MARKER_KIND, entries, next_position)
