"""DisableKey: Disable a key, so that cryptographic use is refused."""

from __future__ import annotations

from typing import Any

from domain.identifiers import KEY_FORMS
from domain.principal import Caller
from functions.keys import key_for_update
from functions.services import Services


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    key = key_for_update(
        services, caller, "DisableKey", params["KeyId"], params, KEY_FORMS
    )

    key.disable(services.clock.now())

    services.store.save(key)
    return {}
