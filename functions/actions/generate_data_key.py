"""GenerateDataKey: a random data key, in plaintext and encrypted."""

from __future__ import annotations

from typing import Any

from domain.grant import check_grant_tokens
from domain.principal import Caller
from functions import symmetric
from functions.keys import key_for_use
from functions.services import Services
from functions.wire import reject_unsupported

DATA_KEY_LENGTHS = {"AES_256": 32, "AES_128": 16}


def make_data_key(
    services: Services, caller: Caller, action: str, params: dict[str, Any]
) -> dict[str, Any]:
    """Make a data key and encrypt it under the KeyId with the request's context."""
    reject_unsupported(params, "Recipient")
    check_grant_tokens(params.get("GrantTokens"))
    key = key_for_use(services, caller, action, params["KeyId"], params)
    symmetric.check_encryption_algorithm(key, None, action)
    length = params.get("NumberOfBytes") or DATA_KEY_LENGTHS[params["KeySpec"]]

    plaintext_data_key = services.crypto.random_bytes(length)
    encrypted_data_key = symmetric.encrypt(
        services, key, plaintext_data_key, params.get("EncryptionContext")
    )

    return {
        "CiphertextBlob": encrypted_data_key,
        "Plaintext": plaintext_data_key,
        "KeyId": key.arn,
        "KeyMaterialId": key.current_key_material_id,
    }


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    return make_data_key(services, caller, "GenerateDataKey", params)
