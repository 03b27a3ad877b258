"""ImportKeyMaterial: unwrap key material with an import's wrapping key and
install it in a key with origin EXTERNAL.

Every check, the unwrapping included, runs before the one event is recorded,
so a rejected import leaves the key exactly as it was.
"""

from __future__ import annotations

from typing import Any

from domain.errors import ExpiredImportTokenException
from domain.identifiers import KEY_FORMS
from domain.key_import import (
    ImportType,
    check_key_material_length,
    check_new_key_material_request,
    expiration_of,
    imported_key_material_id,
)
from domain.key_wrapping import unwrap_key_material
from domain.principal import Caller
from events.vault import KeyMaterialUnavailable
from functions.keys import key_for_update
from functions.services import Services


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    now = services.clock.now()
    expiration = expiration_of(
        params.get("ExpirationModel"), params.get("ValidTo"), now
    )
    import_type = params.get("ImportType")
    requested_key_material_id = params.get("KeyMaterialId")
    if import_type == ImportType.NEW_KEY_MATERIAL:
        check_new_key_material_request(requested_key_material_id)
    key = key_for_update(
        services, caller, "ImportKeyMaterial", params["KeyId"], params, KEY_FORMS
    )
    parameters = key.import_parameters_for(params["ImportToken"], now)

    try:
        wrapping_key = services.vault.open_wrapping_key(key, parameters)
    except KeyMaterialUnavailable:
        # Another process's sweep erased the wrapping key because its clock
        # passed the 24 hours first: unused parameters lose their wrapping key
        # only by expiring.
        raise ExpiredImportTokenException(
            f"The import token for {key.arn} expired. Call GetParametersForImport "
            "for a new wrapping public key and import token."
        ) from None
    material = unwrap_key_material(
        parameters.wrapping_algorithm, wrapping_key, params["EncryptedKeyMaterial"]
    )
    check_key_material_length(material)
    key_material_id = imported_key_material_id(key.key_id, material)
    key.check_key_material_import(
        key_material_id, import_type, requested_key_material_id
    )
    sealing_key_rows = []
    sealed = key.key_materials.get(key_material_id)
    if sealed is None:
        sealed, sealing_key_row = services.vault.seal_material(
            key.account_id, key.region, key.key_id, key_material_id, material
        )
        sealing_key_rows.append(sealing_key_row)
    key.import_key_material(
        key_material_id=key_material_id,
        sealed_key_material=sealed,
        parameters=parameters,
        expiration=expiration,
        import_type=import_type,
        requested_key_material_id=requested_key_material_id,
        description=params.get("KeyMaterialDescription"),
        now=now,
    )

    services.store.save(key, sealing_keys=sealing_key_rows)
    return {"KeyId": key.arn, "KeyMaterialId": key_material_id}
