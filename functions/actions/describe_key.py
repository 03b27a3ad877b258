"""DescribeKey: a key's metadata, by any of the four identifier forms."""

from __future__ import annotations

from typing import Any

from domain.grant import check_grant_tokens
from domain.principal import Caller
from functions.keys import key_for_use
from functions.services import Services
from functions.wire import key_metadata


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    check_grant_tokens(params.get("GrantTokens"))
    key = key_for_use(services, caller, "DescribeKey", params["KeyId"], params)

    return {"KeyMetadata": key_metadata(key)}
