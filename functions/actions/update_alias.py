"""UpdateAlias: point an existing alias at another key of the caller's."""

from __future__ import annotations

from typing import Any

from domain.identifiers import KEY_FORMS
from domain.principal import Caller
from functions.keys import (
    authorize_alias,
    authorize_alias_target,
    existing_alias,
    key_for_use,
)
from functions.services import Services


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    authorize_alias(services, caller, "UpdateAlias", params["AliasName"], params)
    alias = existing_alias(services, caller, params["AliasName"])
    authorize_alias_target(services, caller, "UpdateAlias", alias, params)
    target = key_for_use(
        services, caller, "UpdateAlias", params["TargetKeyId"], params, KEY_FORMS
    )
    target.check_manageable()

    alias.retarget(target.key_id, services.clock.now())

    services.store.save(alias)
    return {}
