"""Decrypt: open a ciphertext blob; the blob names its own key."""

from __future__ import annotations

from typing import Any

from domain.errors import INVALID_CIPHERTEXT_MESSAGE, InvalidCiphertextException
from domain.key import SYMMETRIC_DEFAULT
from domain.principal import Caller
from functions import symmetric
from functions.services import Services
from functions.wire import reject_grant_tokens, reject_unsupported


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    reject_unsupported(params, "Recipient")
    reject_grant_tokens(params)
    if params.get("EncryptionAlgorithm") not in (None, SYMMETRIC_DEFAULT):
        # Only symmetric keys exist, and their blobs are SYMMETRIC_DEFAULT.
        raise InvalidCiphertextException(INVALID_CIPHERTEXT_MESSAGE)

    key, key_material_id, plaintext = symmetric.decrypt(
        services,
        caller,
        "Decrypt",
        params["CiphertextBlob"],
        params.get("EncryptionContext"),
        params.get("KeyId"),
    )

    return {
        "KeyId": key.arn,
        "Plaintext": plaintext,
        "EncryptionAlgorithm": SYMMETRIC_DEFAULT,
        "KeyMaterialId": key_material_id,
    }
