"""Encrypt: up to 4 KiB of plaintext under a symmetric key."""

from __future__ import annotations

from typing import Any

from domain.grant import check_grant_tokens
from domain.principal import Caller
from functions import symmetric
from functions.keys import key_for_use
from functions.services import Services


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    check_grant_tokens(params.get("GrantTokens"))
    key = key_for_use(services, caller, "Encrypt", params["KeyId"], params)
    symmetric.check_encryption_algorithm(
        key, params.get("EncryptionAlgorithm"), "Encrypt"
    )

    blob = symmetric.encrypt(
        services, key, params["Plaintext"], params.get("EncryptionContext")
    )

    return {
        "CiphertextBlob": blob,
        "KeyId": key.arn,
        "EncryptionAlgorithm": symmetric.algorithm_of(params),
    }
