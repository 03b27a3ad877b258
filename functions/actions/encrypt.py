"""Encrypt: up to 4 KiB of plaintext under a symmetric key."""

from __future__ import annotations

from typing import Any

from domain.principal import Caller
from functions import symmetric
from functions.keys import key_for_use
from functions.services import Services
from functions.wire import reject_grant_tokens


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    reject_grant_tokens(params)
    key = key_for_use(services, caller, "Encrypt", params["KeyId"])
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
