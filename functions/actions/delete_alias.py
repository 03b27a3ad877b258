"""DeleteAlias: remove an alias; the key it pointed at is unchanged."""

from __future__ import annotations

from typing import Any

from domain.principal import Caller
from functions.keys import authorize_alias, authorize_alias_target, existing_alias
from functions.services import Services


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    authorize_alias(services, caller, "DeleteAlias", params["AliasName"], params)
    alias = existing_alias(services, caller, params["AliasName"])
    authorize_alias_target(services, caller, "DeleteAlias", alias, params)

    alias.delete(services.clock.now())

    services.store.save(alias)
    return {}
