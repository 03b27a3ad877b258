"""The dependencies every handler receives, built once per process."""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from domain.clock import AdjustableClock, Clock, SystemClock
from domain.crypto import CryptoService
from events.audit import AuditWriter, LoopAuditBatcher
from events.audit_adoption import adopt_existing_events
from events.audit_signing import AuditSigner
from events.root_key import load_or_create_root_key_file, root_key_from_environment
from events.store import Store
from events.vault import KeyMaterialVault
from functions.credentials import CredentialStore
from functions.service_model import kms_operation_names
from functions.settings import Settings
from functions.sigv4 import SigV4Verifier
from functions.validation import RequestValidator, load_validator

logger = logging.getLogger("keyledger.server")

# A sweep takes milliseconds on a small store, so waiting longer than this
# for one to end means it is stuck.
SWEEP_WAIT_ON_CLOSE_SECONDS = 60.0


@dataclass
class Services:
    settings: Settings
    store: Store
    crypto: CryptoService
    vault: KeyMaterialVault
    clock: Clock
    verifier: SigV4Verifier
    validator: RequestValidator
    operation_names: frozenset[str]
    audit_writer: AuditWriter
    """Commits the audit records of requests that save no events, in batches."""
    audit_signer: AuditSigner
    """Signs digests of the audit chain with the audit signing key."""
    loop_audit: LoopAuditBatcher | None = None
    """Commits those records on the server's event loop instead (SQLite only)."""
    sweep_lock: threading.Lock = field(default_factory=threading.Lock)
    """Held by a running sweep. A sweep runs in a worker thread that
    cancelling its asyncio task does not stop, so close() takes this lock to
    keep the store open until the sweep ends."""
    closed: bool = False

    @property
    def dev_clock(self) -> AdjustableClock | None:
        return self.clock if isinstance(self.clock, AdjustableClock) else None

    def close(self) -> None:
        """Close the store, once no sweep uses it."""
        acquired = self.sweep_lock.acquire(timeout=SWEEP_WAIT_ON_CLOSE_SECONDS)
        if not acquired:
            logger.warning(
                "a sweep is still running after %.0f s; closing the store anyway",
                SWEEP_WAIT_ON_CLOSE_SECONDS,
            )
        try:
            self.closed = True
            self.audit_writer.close()
            self.store.close()
        finally:
            if acquired:
                self.sweep_lock.release()


def build_services(
    settings: Settings, clock: Clock | None = None, *, adopt_events: bool = True
) -> Services:
    """Open the store and wire every dependency from ``settings``."""
    if clock is None:
        clock = AdjustableClock() if settings.dev_clock else SystemClock()
    root_key_text = os.environ.get("KEYLEDGER_ROOT_KEY")
    if root_key_text:
        root_key = root_key_from_environment(root_key_text)
    else:
        root_key = load_or_create_root_key_file(settings.root_key_path)
    store = Store(
        Path(settings.data_dir),
        settings.database_url,
        settings.database_pool_size,
        settings.database_pre_ping,
    )
    crypto = CryptoService()
    try:
        store.check_root_key(crypto.root_key_check_value(root_key))
    except Exception:
        store.close()
        raise
    if settings.credentials_file:
        credentials = CredentialStore.from_file(settings.credentials_file)
    else:
        credentials = CredentialStore.development_default()
    validator = load_validator()
    # A signature's 15-minute window guards against skew between the client's
    # clock and the server's, so it is checked against the wall clock even
    # when the dev clock has been moved forward.
    signature_clock = clock.wall_clock if isinstance(clock, AdjustableClock) else clock
    if adopt_events:
        # A store written before the audit trail gets its events referenced
        # by the trail's first records; read-only commands leave it as it is.
        adopt_existing_events(store, clock.now())
    audit_writer = AuditWriter(store.append_audit)
    return Services(
        settings=settings,
        store=store,
        crypto=crypto,
        vault=KeyMaterialVault(store, crypto, root_key),
        clock=clock,
        verifier=SigV4Verifier(credentials, now=signature_clock.now),
        validator=validator,
        operation_names=kms_operation_names(),
        audit_writer=audit_writer,
        loop_audit=None
        if store.is_postgres
        else LoopAuditBatcher(store.append_audit_unless_locked, audit_writer),
        audit_signer=AuditSigner(store, crypto, root_key),
    )
