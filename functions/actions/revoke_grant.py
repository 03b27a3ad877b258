"""RevokeGrant: delete a grant of a key, by the key's policy rather than the grant.

RevokeGrant takes no grant token ("Managing grants"), and works in every key
state ("Key states of AWS KMS keys").
"""

from __future__ import annotations

from typing import Any

from domain.grant import check_grant_id
from domain.identifiers import KEY_FORMS
from domain.principal import Caller
from functions.keys import key_for_update
from functions.services import Services


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    grant_id = params["GrantId"]
    check_grant_id(grant_id)
    key = key_for_update(
        services, caller, "RevokeGrant", params["KeyId"], params, KEY_FORMS
    )

    key.revoke_grant(grant_id, services.clock.now())

    services.store.save(key)
    return {}
