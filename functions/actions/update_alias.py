"""UpdateAlias: point an existing alias at another key of the caller's."""

from __future__ import annotations

from typing import Any

from domain.errors import NotFoundException
from domain.identifiers import KEY_FORMS, alias_arn
from domain.principal import Caller
from functions.keys import key_for_use
from functions.services import Services


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    alias_name = params["AliasName"]
    account_id = caller.principal.account_id
    alias = services.store.load_alias(account_id, caller.region, alias_name)
    if alias is None:
        raise NotFoundException(
            f"Alias {alias_arn(caller.region, account_id, alias_name)} is not found."
        )
    alias.check_exists()
    target = key_for_use(
        services, caller, "UpdateAlias", params["TargetKeyId"], KEY_FORMS
    )
    target.check_manageable()

    alias.retarget(target.key_id, services.clock.now())

    services.store.save(alias)
    return {}
