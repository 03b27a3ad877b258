"""AWS Lambda entry point that serves one KMS action, without FastAPI.

``KEYLEDGER_ACTION`` names the action, for example ``Encrypt``. Requests for
any other action get UnknownOperationException. Requests come from a Lambda
function URL or an API Gateway HTTP API, through Mangum and the lean ASGI app.
"""

from __future__ import annotations

import os
from typing import Any

from mangum import Mangum

from functions import protocol
from functions.lambda_services import LambdaConfigurationError, PerContainer
from functions.lean import LeanApp
from functions.registry import HANDLER_MODULES
from functions.services import Services

ACTION_VARIABLE = "KEYLEDGER_ACTION"


def configured_action() -> str:
    """Return the action named by KEYLEDGER_ACTION, which KeyLedger must implement."""
    action = os.environ.get(ACTION_VARIABLE, "").strip()
    if not action:
        raise LambdaConfigurationError(
            f"{ACTION_VARIABLE} is not set: set it to the KMS action this "
            "function serves, for example Encrypt"
        )
    if action not in HANDLER_MODULES:
        raise LambdaConfigurationError(
            f"{ACTION_VARIABLE} is {action!r}, which is not an action KeyLedger "
            f"implements; use one of {', '.join(sorted(HANDLER_MODULES))}"
        )
    return action


def _serve_one_action(services: Services) -> Mangum:
    action = configured_action()
    return Mangum(
        LeanApp(services, only_action=action),
        lifespan="off",
        text_mime_types=[protocol.CONTENT_TYPE],
    )


container = PerContainer(_serve_one_action, check_environment=configured_action)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Serve one function URL or HTTP API request (payload format 2.0)."""
    return container.get()(event, context)
