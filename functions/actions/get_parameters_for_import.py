"""GetParametersForImport: a fresh RSA wrapping key and import token for a key
with origin EXTERNAL, valid together for 24 hours and one import.

Making an RSA_4096 key takes about a second, so this action runs in a worker
thread, never on the event loop.
"""

from __future__ import annotations

from typing import Any

from domain.identifiers import KEY_FORMS
from domain.key_import import (
    WrappingAlgorithm,
    check_wrapping_choice,
    issue_import_token,
)
from domain.key_wrapping import generate_wrapping_key, wrapping_public_key
from domain.principal import Caller
from events.store import ConcurrencyConflict
from functions.keys import key_for_update, key_for_use
from functions.services import Services

ACTION = "GetParametersForImport"
SAVE_ATTEMPTS = 20


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    algorithm = params["WrappingAlgorithm"]
    wrapping_key_spec = params["WrappingKeySpec"]
    bits = check_wrapping_choice(algorithm, wrapping_key_spec)
    key_reference = params["KeyId"]
    # Check the key before paying for an RSA key pair it could not use.
    key_for_use(
        services, caller, ACTION, key_reference, params, KEY_FORMS
    ).check_import_allowed()

    # Make the key pair once, outside the save loop: a request that loses
    # the optimistic-concurrency race to another writer retries the save with
    # the same key pair instead of spending another second making a new one.
    private_key = generate_wrapping_key(bits)
    for attempt in range(1, SAVE_ATTEMPTS + 1):
        key = key_for_update(services, caller, ACTION, key_reference, params, KEY_FORMS)
        key.check_import_allowed()
        issued = issue_import_token(services.crypto.random_bytes)
        sealed_wrapping_key, sealing_key_row = services.vault.seal_wrapping_key(
            key.account_id, key.region, key.key_id, issued.parameters_id, private_key
        )
        parameters = key.issue_import_parameters(
            parameters_id=issued.parameters_id,
            wrapping_algorithm=WrappingAlgorithm(algorithm),
            wrapping_key_spec=wrapping_key_spec,
            token_digest=issued.digest,
            sealed_wrapping_key=sealed_wrapping_key,
            now=services.clock.now(),
        )
        try:
            services.store.save(key, sealing_keys=[sealing_key_row])
        except ConcurrencyConflict:
            if attempt == SAVE_ATTEMPTS:
                raise
            continue
        break

    return {
        "KeyId": key.arn,
        "ImportToken": issued.token,
        "PublicKey": wrapping_public_key(private_key),
        "ParametersValidTo": parameters.valid_to,
    }
