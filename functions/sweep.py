"""Run the sweep: delete keys whose waiting period has ended.

The rules are the domain's; this module finds the due keys through the store
and saves what the rules decide. Two processes sweeping at once do the work
once: the second loses the optimistic-concurrency race and moves on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from domain.alias import Alias
from domain.sweep import delete_due_key
from events.store import ConcurrencyConflict
from functions.services import Services

logger = logging.getLogger("keyledger.sweep")


@dataclass
class SweepReport:
    deleted_key_ids: list[str] = field(default_factory=list)


def run_sweep(services: Services) -> SweepReport:
    report = SweepReport()
    store = services.store
    store.retry_shred()
    now = services.clock.now()
    for key_id in store.keys_due_for_deletion(now.timestamp()):
        key = store.load_key(key_id)
        if key is None or not key.is_deletion_due(now):
            continue
        aliases: list[Alias] = []
        for alias_name in store.alias_names_of_key(key_id):
            alias = store.load_alias(key.account_id, key.region, alias_name)
            if alias is not None:
                aliases.append(alias)
        changed = delete_due_key(key, aliases, now)
        try:
            store.save(*changed)
        except ConcurrencyConflict:
            logger.info("key %s was changed by another process; skipped", key.arn)
            continue
        services.vault.forget(key)
        report.deleted_key_ids.append(key_id)
        logger.info(
            "deleted key at the end of its waiting period",
            extra={"key_arn": key.arn, "aliases_deleted": len(changed) - 1},
        )
    return report
