"""GenerateDataKeyWithoutPlaintext: a data key returned only encrypted."""

from __future__ import annotations

from typing import Any

from domain.principal import Caller
from functions.actions.generate_data_key import make_data_key
from functions.services import Services


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    result = make_data_key(services, caller, "GenerateDataKeyWithoutPlaintext", params)
    del result["Plaintext"]
    return result
