"""GenerateRandom: 1 to 1024 random bytes from the operating system's CSPRNG."""

from __future__ import annotations

from typing import Any

from domain.principal import Caller
from functions.access import authorize_account
from functions.services import Services
from functions.wire import reject_unsupported


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    reject_unsupported(params, "CustomKeyStoreId", "Recipient")
    authorize_account(services, caller, "GenerateRandom", params)

    return {"Plaintext": services.crypto.random_bytes(params["NumberOfBytes"])}
