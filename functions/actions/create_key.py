"""CreateKey: a new symmetric encryption key with key material made here, or
with none, for key material to be imported (Origin EXTERNAL)."""

from __future__ import annotations

from typing import Any

from domain.errors import UnsupportedOperationException, ValidationException
from domain.identifiers import new_key_id
from domain.key import ENCRYPT_DECRYPT, ORIGIN_AWS_KMS, SYMMETRIC_DEFAULT, Key
from domain.key_import import ORIGIN_EXTERNAL
from domain.principal import Caller
from functions.services import Services
from functions.wire import (
    check_tag_count,
    key_metadata,
    reject_unsupported,
    tags_from_wire,
)


def _check_supported(params: dict[str, Any]) -> None:
    # TODO: asymmetric and HMAC key specs, key policies, multi-Region keys and
    # custom key stores.
    if "KeySpec" in params and "CustomerMasterKeySpec" in params:
        raise ValidationException(
            "You cannot specify KeySpec and CustomerMasterKeySpec in the same request."
        )
    key_spec = params.get("KeySpec", params.get("CustomerMasterKeySpec"))
    if key_spec not in (None, SYMMETRIC_DEFAULT):
        raise UnsupportedOperationException(
            f"KeyLedger does not support the key spec {key_spec} yet."
        )
    key_usage = params.get("KeyUsage")
    if key_usage not in (None, ENCRYPT_DECRYPT):
        raise UnsupportedOperationException(
            f"KeyLedger does not support the key usage {key_usage} yet."
        )
    origin = params.get("Origin")
    if origin not in (None, ORIGIN_AWS_KMS, ORIGIN_EXTERNAL):
        raise UnsupportedOperationException(
            f"KeyLedger does not support the origin {origin} yet."
        )
    if params.get("MultiRegion"):
        raise UnsupportedOperationException(
            "KeyLedger does not support multi-Region keys yet."
        )
    if params.get("BypassPolicyLockoutSafetyCheck"):
        raise UnsupportedOperationException(
            "KeyLedger does not support key policies yet, so it cannot bypass "
            "the policy lockout safety check."
        )
    reject_unsupported(params, "Policy", "CustomKeyStoreId", "XksKeyId")


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    _check_supported(params)
    tags = tags_from_wire(params.get("Tags", []))
    check_tag_count({}, tags)

    account_id = caller.principal.account_id
    key_id = new_key_id()
    now = services.clock.now()
    description = params.get("Description", "")
    if params.get("Origin") == ORIGIN_EXTERNAL:
        # No key material yet: the key waits in PendingImport.
        key = Key.create_for_import(
            key_id=key_id,
            account_id=account_id,
            region=caller.region,
            description=description,
            tags=tags,
            now=now,
        )
        sealing_key_rows = []
    else:
        key_material_id, sealed, sealing_key_row = services.vault.seal_new_material(
            account_id, caller.region, key_id
        )
        key = Key.create(
            key_id=key_id,
            account_id=account_id,
            region=caller.region,
            description=description,
            tags=tags,
            key_material_id=key_material_id,
            sealed_key_material=sealed,
            now=now,
        )
        sealing_key_rows = [sealing_key_row]

    services.store.save(key, sealing_keys=sealing_key_rows)
    return {"KeyMetadata": key_metadata(key)}
