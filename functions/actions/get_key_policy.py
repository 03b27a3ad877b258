"""GetKeyPolicy: the key policy of a key, by its one name, ``default``."""

from __future__ import annotations

from typing import Any

from domain.identifiers import KEY_FORMS
from domain.principal import Caller
from functions.key_policies import DEFAULT_POLICY_NAME, check_policy_name
from functions.keys import key_for_use
from functions.services import Services


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    check_policy_name(params)
    key = key_for_use(
        services, caller, "GetKeyPolicy", params["KeyId"], params, KEY_FORMS
    )

    return {"Policy": key.policy, "PolicyName": DEFAULT_POLICY_NAME}
