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
from functions.sweep import run_sweep, sign_audit_digest

logger = logging.getLogger("keyledger.sweep")


def _services(services: Services) -> Services:
    return services


container = PerContainer(_services)


def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    """Run one sweep, sign an audit digest if one is due, and return how many
    keys the sweep deleted and rotated, and how many imported key materials
    expired.

    Only counts leave the function. The sweep logs each key ARN and key
    material id itself, and neither is secret.
    """
    services = container.get()
    report = run_sweep(services)
    sign_audit_digest(services)
    counts = {
        "deletedKeyCount": len(report.deleted_key_ids),
        "rotatedKeyCount": len(report.rotated_key_ids),
        "expiredKeyMaterialCount": len(report.expired_key_material_ids),
    }
    logger.info(
        "sweep finished",
        extra={
            "deleted_key_count": counts["deletedKeyCount"],
            "rotated_key_count": counts["rotatedKeyCount"],
            "expired_key_material_count": counts["expiredKeyMaterialCount"],
        },
    )
    return counts
