"""Decrypt: open a ciphertext blob; the blob names its own key."""

from __future__ import annotations

from typing import Any

from domain.grant import check_grant_tokens
from domain.key import SYMMETRIC_DEFAULT
from domain.principal import Caller
from functions import symmetric
from functions.services import Services
from functions.wire import reject_unsupported


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    reject_unsupported(params, "Recipient")
    check_grant_tokens(params.get("GrantTokens"))
    if symmetric.ignores_ciphertext(params):
        # The dry run ends here, with the access check made.
        symmetric.authorize_without_ciphertext(
            services, caller, "Decrypt", params, "KeyId"
        )
        return {}

    key, key_material_id, plaintext = symmetric.decrypt(
        services,
        caller,
        "Decrypt",
        params,
        params["CiphertextBlob"],
        params.get("EncryptionContext"),
        params.get("KeyId"),
        # An algorithm that does not suit the blob's key gets
        # InvalidKeyUsageException naming the key, as Encrypt does.
        params.get("EncryptionAlgorithm"),
    )

    return {
        "KeyId": key.arn,
        "Plaintext": plaintext,
        "EncryptionAlgorithm": SYMMETRIC_DEFAULT,
        "KeyMaterialId": key_material_id,
    }
