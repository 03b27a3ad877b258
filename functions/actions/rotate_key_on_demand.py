"""RotateKeyOnDemand: make new key material current now.

AWS starts the rotation and finishes it in the background. KeyLedger finishes
it before replying, so the next Encrypt already uses the new key material.
"""

from __future__ import annotations

from typing import Any

from domain.errors import UnsupportedOperationException
from domain.identifiers import KEY_FORMS
from domain.key import ORIGIN_AWS_KMS
from domain.key_import import ORIGIN_EXTERNAL
from domain.principal import Caller
from functions.keys import key_for_update
from functions.services import Services


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    key = key_for_update(
        services, caller, "RotateKeyOnDemand", params["KeyId"], params, KEY_FORMS
    )
    now = services.clock.now()
    key.check_on_demand_rotation(now)

    if key.origin == ORIGIN_EXTERNAL:
        # KMS makes no key material for such a key: it rotates to the key
        # material imported for rotation (ImportType NEW_KEY_MATERIAL).
        key.rotate_to_imported_key_material(now)
        services.store.save(key)
        return {"KeyId": key.key_id}
    if key.origin != ORIGIN_AWS_KMS:
        raise UnsupportedOperationException(
            f"{key.arn} origin is {key.origin} which is not valid for this operation."
        )
    key_material_id, sealed, sealing_key = services.vault.seal_new_material(
        key.account_id, key.region, key.key_id
    )
    key.rotate_on_demand(key_material_id, sealed, now)

    services.store.save(key, sealing_keys=[sealing_key])
    # The developer guide's on-demand rotation and CloudTrail examples show the
    # key id here, not the key ARN.
    return {"KeyId": key.key_id}
