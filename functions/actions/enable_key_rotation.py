"""EnableKeyRotation: rotate a key's key material automatically every period."""

from __future__ import annotations

from typing import Any

from domain.identifiers import KEY_FORMS
from domain.principal import Caller
from domain.rotation import DEFAULT_ROTATION_PERIOD_IN_DAYS
from functions.keys import key_for_update
from functions.services import Services


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    # The service model bounds RotationPeriodInDays to 90..2560, and the
    # validator has checked it.
    period = params.get("RotationPeriodInDays", DEFAULT_ROTATION_PERIOD_IN_DAYS)
    key = key_for_update(
        services, caller, "EnableKeyRotation", params["KeyId"], params, KEY_FORMS
    )

    key.enable_rotation(period, services.clock.now())

    services.store.save(key)
    return {}
