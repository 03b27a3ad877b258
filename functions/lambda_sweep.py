"""AWS Lambda entry point for the sweep, run by an EventBridge schedule.

Mangum takes only HTTP events, so this is a plain handler. It ignores the
event: every invocation runs one sweep, so only the schedule should be
allowed to invoke it.
"""

from __future__ import annotations

import logging
from typing import Any

from functions.lambda_services import PerContainer
from functions.services import Services
from functions.sweep import run_sweep

logger = logging.getLogger("keyledger.sweep")


def _services(services: Services) -> Services:
    return services


container = PerContainer(_services)


def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    """Run one sweep and return how many keys it deleted."""
    report = run_sweep(container.get())
    deleted = len(report.deleted_key_ids)
    logger.info("sweep finished", extra={"deleted_key_count": deleted})
    return {"deletedKeyCount": deleted}
