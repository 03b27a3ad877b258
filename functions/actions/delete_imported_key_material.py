"""DeleteImportedKeyMaterial: crypto-shred imported key material.

The key material's sealing key is erased in the same transaction as the
event, so what the log keeps of it can never be opened again. Importing the
same key material restores the key, and its old ciphertexts decrypt again.
"""

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
        services,
        caller,
        "DeleteImportedKeyMaterial",
        params["KeyId"],
        params,
        KEY_FORMS,
    )

    key_material_id = key.delete_imported_key_material(
        params.get("KeyMaterialId"), services.clock.now()
    )

    if key.pending_events:
        services.store.save(key)
    if key_material_id is not None:
        services.vault.forget_key_materials([key_material_id])
    result: dict[str, Any] = {"KeyId": key.arn}
    if key_material_id is not None:
        result["KeyMaterialId"] = key_material_id
    return result
