"""Run the sweep: delete keys whose waiting period has ended, rotate keys
whose automatic rotation is due, and erase imported key material that expired.

The rules are the domain's; this module finds the due keys through the store
and saves what the rules decide. Two processes sweeping at once do the work
once: the second loses the optimistic-concurrency race and moves on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from domain.alias import Alias
from domain.rotation import is_rotation_due
from domain.sweep import delete_due_key
from events.store import ConcurrencyConflict
from functions.audit import service_event
from functions.services import Services

logger = logging.getLogger("keyledger.sweep")


@dataclass
class SweepReport:
    deleted_key_ids: list[str] = field(default_factory=list)
    rotated_key_ids: list[str] = field(default_factory=list)
    expired_key_material_ids: list[str] = field(default_factory=list)


def run_sweep(services: Services) -> SweepReport:
    # Services.close() waits on this lock, so the store stays open until the
    # sweep ends. Two sweeps in one process, the timer's and the dev clock's,
    # take turns.
    with services.sweep_lock:
        if services.closed:
            return SweepReport()
        return _sweep(services)


def _sweep(services: Services) -> SweepReport:
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
            with service_event("DeleteKey", key, now):
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
    _rotate_due_keys(services, report)
    _expire_imported_key_material(services, report)
    return report


# Signed digests of the audit trail.


def sign_audit_digest(services: Services) -> None:
    """Sign a digest of the audit records added since the last one, when the
    digest interval has passed since it and there are new records."""
    with services.sweep_lock:
        if services.closed:
            return
        digest = services.audit_signer.sign_digest(
            services.clock.now(), services.settings.audit_digest_interval
        )
    if digest is not None:
        logger.info(
            "signed audit digest",
            extra={
                "digest_number": digest.number,
                "first_seq": digest.first_seq,
                "last_seq": digest.last_seq,
            },
        )


# Rotation.


def _rotate_due_keys(services: Services, report: SweepReport) -> None:
    """Give each key whose automatic rotation is due new key material.

    The new sealing key is written in the same transaction as the rotation
    event, so a sweep that loses the race to another process leaves neither.
    """
    store = services.store
    now = services.clock.now()
    for key_id in store.keys_due_for_rotation(now.timestamp()):
        key = store.load_key(key_id)
        if key is None or not is_rotation_due(key, now):
            continue
        key_material_id, sealed, sealing_key = services.vault.seal_new_material(
            key.account_id, key.region, key.key_id
        )
        key.rotate_automatically(key_material_id, sealed, now)
        try:
            with service_event("RotateKey", key, now):
                store.save(key, sealing_keys=[sealing_key])
        except ConcurrencyConflict:
            logger.info("key %s was changed by another process; skipped", key.arn)
            continue
        report.rotated_key_ids.append(key_id)
        logger.info(
            "rotated key material automatically",
            extra={"key_arn": key.arn, "key_material_id": key_material_id},
        )


# Imported key material.


def _expire_imported_key_material(services: Services, report: SweepReport) -> None:
    """Crypto-shred imported key material at its ValidTo, and unused wrapping
    keys once their import token expires, with no request needed."""
    store = services.store
    now = services.clock.now()
    for key_id in store.keys_with_expiry_due(now.timestamp()):
        key = store.load_key(key_id)
        if key is None:
            continue
        expired = key.expire_imported_key_material(now)
        if not key.pending_events:
            continue
        # CloudTrail names expired key material DeleteExpiredKeyMaterial. An
        # unused import token's wrapping key has no CloudTrail event, so
        # KeyLedger names its own.
        event_name = "DeleteExpiredKeyMaterial" if expired else "ExpireImportParameters"
        try:
            with service_event(event_name, key, now):
                store.save(key)
        except ConcurrencyConflict:
            logger.info("key %s was changed by another process; skipped", key.arn)
            continue
        services.vault.forget_key_materials(expired)
        report.expired_key_material_ids.extend(expired)
        for key_material_id in expired:
            logger.info(
                "imported key material expired and was erased",
                extra={"key_arn": key.arn, "key_material_id": key_material_id},
            )
