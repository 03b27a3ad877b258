"""AWS Lambda entry point that serves every KMS action through the FastAPI app.

It suits a single-function deployment behind a function URL or an API Gateway
HTTP API. For a faster cold start, deploy one function per action with
``functions.lambda_action`` instead.
"""

from __future__ import annotations

from typing import Any

from mangum import Mangum

from functions import protocol
from functions.app import create_app
from functions.lambda_services import PerContainer
from functions.services import Services


def _serve_every_action(services: Services) -> Mangum:
    # A container sleeps between invocations, so a sweep timer inside it
    # would not run on time: the sweep has its own scheduled function.
    app = create_app(services, run_sweeper=False)
    return Mangum(app, lifespan="off", text_mime_types=[protocol.CONTENT_TYPE])


container = PerContainer(_serve_every_action)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Serve one function URL or HTTP API request (payload format 2.0)."""
    return container.get()(event, context)
