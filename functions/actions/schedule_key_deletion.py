"""ScheduleKeyDeletion: delete a key after a waiting period of 7 to 30 days."""

from __future__ import annotations

from typing import Any

from domain.identifiers import KEY_FORMS
from domain.principal import Caller
from functions.keys import key_for_update
from functions.services import Services

DEFAULT_PENDING_WINDOW_IN_DAYS = 30


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    window = params.get("PendingWindowInDays", DEFAULT_PENDING_WINDOW_IN_DAYS)
    key = key_for_update(
        services, caller, "ScheduleKeyDeletion", params["KeyId"], params, KEY_FORMS
    )

    key.schedule_deletion(window, services.clock.now())

    services.store.save(key)
    return {
        "KeyId": key.arn,
        "DeletionDate": key.deletion_date,
        "KeyState": key.state.value,
        "PendingWindowInDays": window,
    }
