"""CreateAlias: a new alias in the caller's account and Region."""

from __future__ import annotations

from typing import Any

from domain.alias import Alias, check_alias_name
from domain.identifiers import KEY_FORMS
from domain.principal import Caller
from functions.keys import authorize_alias, key_for_use
from functions.services import Services


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    alias_name = params["AliasName"]
    check_alias_name(alias_name)
    authorize_alias(services, caller, "CreateAlias", alias_name, params)
    target = key_for_use(
        services, caller, "CreateAlias", params["TargetKeyId"], params, KEY_FORMS
    )
    target.check_manageable()
    account_id = caller.principal.account_id
    now = services.clock.now()

    alias = services.store.load_alias(account_id, caller.region, alias_name)
    if alias is None:
        # The stored target is always the bare key id, whatever form named it.
        alias = Alias.create(
            account_id=account_id,
            region=caller.region,
            alias_name=alias_name,
            target_key_id=target.key_id,
            now=now,
        )
    else:
        alias.recreate(target.key_id, now)

    services.store.save(alias)
    return {}
