"""GetKeyRotationStatus: whether a key rotates automatically, and when next.

KeyLedger rotates on demand before RotateKeyOnDemand returns, so no on-demand
rotation is ever in progress and OnDemandRotationStartDate is never present.
"""

from __future__ import annotations

from typing import Any

from domain.identifiers import KEY_FORMS
from domain.principal import Caller
from domain.rotation import reported_rotation_enabled
from functions.keys import key_for_use
from functions.services import Services


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    key = key_for_use(
        services, caller, "GetKeyRotationStatus", params["KeyId"], KEY_FORMS
    )

    enabled = reported_rotation_enabled(key)
    # The AWS CLI and developer guide examples show the key id here, not the
    # key ARN that Encrypt and ScheduleKeyDeletion return.
    result: dict[str, Any] = {"KeyRotationEnabled": enabled, "KeyId": key.key_id}
    if enabled:
        result["RotationPeriodInDays"] = key.rotation_period_in_days
        result["NextRotationDate"] = key.next_rotation_date
    return result
