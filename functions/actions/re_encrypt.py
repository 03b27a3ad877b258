"""ReEncrypt: decrypt under the source key, then encrypt under the destination.

The source side makes every check Decrypt makes (source key, source context);
the new blob carries only the destination context.
"""

from __future__ import annotations

from typing import Any

from domain.key import SYMMETRIC_DEFAULT
from domain.principal import Caller
from functions import symmetric
from functions.keys import key_for_use
from functions.services import Services
from functions.wire import reject_grant_tokens


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    reject_grant_tokens(params)
    destination = key_for_use(services, caller, "ReEncrypt", params["DestinationKeyId"])
    symmetric.check_encryption_algorithm(
        destination, params.get("DestinationEncryptionAlgorithm"), "ReEncrypt"
    )

    source, source_material_id, plaintext = symmetric.decrypt(
        services,
        caller,
        "ReEncrypt",
        params["CiphertextBlob"],
        params.get("SourceEncryptionContext"),
        params.get("SourceKeyId"),
        params.get("SourceEncryptionAlgorithm"),
    )
    blob = symmetric.encrypt(
        services, destination, plaintext, params.get("DestinationEncryptionContext")
    )

    return {
        "CiphertextBlob": blob,
        "SourceKeyId": source.arn,
        "KeyId": destination.arn,
        "SourceEncryptionAlgorithm": SYMMETRIC_DEFAULT,
        "DestinationEncryptionAlgorithm": symmetric.algorithm_of(
            params, "DestinationEncryptionAlgorithm"
        ),
        "SourceKeyMaterialId": source_material_id,
        "DestinationKeyMaterialId": destination.current_key_material_id,
    }
