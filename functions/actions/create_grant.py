"""CreateGrant: let a grantee principal use a key for some grant operations."""

from __future__ import annotations

from typing import Any

from domain.errors import ValidationException
from domain.grant import (
    GrantConstraints,
    account_root_arn,
    check_grant_tokens,
    check_principal,
    make_grant_token,
    new_grant_id,
)
from domain.identifiers import KEY_FORMS
from domain.principal import Caller
from functions.keys import key_for_update
from functions.services import Services
from functions.wire import reject_unsupported


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    check_grant_tokens(params.get("GrantTokens"))
    # TODO: grants for AWS service principals, which need requests that
    # services send on a principal's behalf.
    reject_unsupported(params, "GranteeServicePrincipal", "RetiringServicePrincipal")
    grantee_principal = params.get("GranteePrincipal")
    if grantee_principal is None:
        # The model leaves GranteePrincipal optional because
        # GranteeServicePrincipal may take its place.
        # NOTE: AWS's message for this case is not confirmed.
        raise ValidationException(
            "Specify GranteePrincipal or GranteeServicePrincipal."
        )
    check_principal(grantee_principal, "GranteePrincipal", allow_service=True)
    retiring_principal = params.get("RetiringPrincipal")
    if retiring_principal is not None:
        check_principal(retiring_principal, "RetiringPrincipal", allow_service=True)
    constraints = GrantConstraints.from_wire(params.get("Constraints"))
    key = key_for_update(
        services, caller, "CreateGrant", params["KeyId"], params, KEY_FORMS
    )

    grant = key.create_grant(
        grant_id=new_grant_id(services.crypto.random_bytes),
        name=params.get("Name"),
        grantee_principal=grantee_principal,
        retiring_principal=retiring_principal,
        operations=params["Operations"],
        constraints=constraints,
        issuing_account=account_root_arn(caller.principal.account_id),
        now=services.clock.now(),
    )

    # A retry with the same Name returns the existing grant and records nothing.
    if key.pending_events:
        services.store.save(key)
    token = make_grant_token(key.key_id, grant.grant_id, services.crypto.random_bytes)
    return {"GrantToken": token, "GrantId": grant.grant_id}
