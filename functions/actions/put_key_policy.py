"""PutKeyPolicy: replace a key's policy, unless it would lock the caller out."""

from __future__ import annotations

from typing import Any

from domain.identifiers import KEY_FORMS
from domain.principal import Caller
from functions.key_policies import check_lockout, check_policy_name, parse_key_policy
from functions.keys import key_for_update
from functions.services import Services


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    check_policy_name(params)
    # NOTE: the key state table is read here as allowing PutKeyPolicy in
    # every state of an existing key, PendingDeletion included.
    key = key_for_update(
        services, caller, "PutKeyPolicy", params["KeyId"], params, KEY_FORMS
    )
    policy = parse_key_policy(services, params["Policy"])
    check_lockout(services, caller, policy, key, key.arn, params)

    key.put_policy(policy, services.clock.now())

    services.store.save(key)
    return {}
