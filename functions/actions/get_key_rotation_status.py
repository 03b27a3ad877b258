"""GetKeyRotationStatus: whether a key rotates automatically, and when next.

KeyLedger rotates on demand before RotateKeyOnDemand returns, so no on-demand
rotation is ever in progress and OnDemandRotationStartDate is never present.
"""

from __future__ import annotations

from typing import Any

from domain.identifiers import KEY_FORMS
from domain.principal import Caller
from domain.rotation import check_generated_material, reported_rotation_enabled
from functions.keys import key_for_use
from functions.services import Services


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    key = key_for_use(
        services, caller, "GetKeyRotationStatus", params["KeyId"], params, KEY_FORMS
    )
    # For a key with imported key material AWS returns
    # UnsupportedOperationException "<key ARN> origin is EXTERNAL which is not
    # valid for this operation.", as bug reports against AWS tools quote it.
    # Older versions of API_GetKeyRotationStatus claimed its status "is always
    # false", but the text in the botocore 1.44.8 model no longer does.
    # NOTE: those reports predate on-demand rotation of imported key material
    # (2025), so AWS may behave differently now.
    check_generated_material(key)

    enabled = reported_rotation_enabled(key)
    # The AWS CLI and developer guide examples show the key id here, not the
    # key ARN that Encrypt and ScheduleKeyDeletion return.
    result: dict[str, Any] = {"KeyRotationEnabled": enabled, "KeyId": key.key_id}
    if enabled:
        result["RotationPeriodInDays"] = key.rotation_period_in_days
        result["NextRotationDate"] = key.next_rotation_date
    return result
