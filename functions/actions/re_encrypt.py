"""ReEncrypt: decrypt under the source key, then encrypt under the destination.

The source side makes every check Decrypt makes (source key, source context);
the new blob carries only the destination context.
"""

from __future__ import annotations

from typing import Any

from domain.grant import check_grant_tokens
from domain.key import SYMMETRIC_DEFAULT
from domain.principal import Caller
from functions import symmetric
from functions.keys import key_for_use, resolve_key_id
from functions.services import Services


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    check_grant_tokens(params.get("GrantTokens"))
    if symmetric.ignores_ciphertext(params):
        # The dry run ends here, with both access checks made.
        key_for_use(services, caller, "ReEncryptTo", params["DestinationKeyId"], params)
        symmetric.authorize_without_ciphertext(
            services, caller, "ReEncryptFrom", params, "SourceKeyId"
        )
        return {}
    destination_id = resolve_key_id(
        services, caller, "ReEncryptTo", params["DestinationKeyId"]
    )
    same_key = symmetric.key_id_of_blob(params["CiphertextBlob"]) == destination_id
    extra = {"kms:reencryptonsamekey": "true" if same_key else "false"}
    destination = key_for_use(
        services,
        caller,
        "ReEncryptTo",
        params["DestinationKeyId"],
        params,
        extra=extra,
    )
    symmetric.check_encryption_algorithm(
        destination, params.get("DestinationEncryptionAlgorithm"), "ReEncrypt"
    )

    source, source_material_id, plaintext = symmetric.decrypt(
        services,
        caller,
        "ReEncryptFrom",
        params,
        params["CiphertextBlob"],
        params.get("SourceEncryptionContext"),
        params.get("SourceKeyId"),
        params.get("SourceEncryptionAlgorithm"),
        extra,
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
