"""ListKeyPolicies: the names of a key's policies, which is always ``default``."""

from __future__ import annotations

from typing import Any

from domain.identifiers import KEY_FORMS
from domain.principal import Caller
from functions.key_policies import DEFAULT_POLICY_NAME
from functions.keys import key_for_use
from functions.services import Services


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    key_for_use(services, caller, "ListKeyPolicies", params["KeyId"], params, KEY_FORMS)

    # One name fits on any page, so Limit and Marker change nothing.
    return {"PolicyNames": [DEFAULT_POLICY_NAME], "Truncated": False}
