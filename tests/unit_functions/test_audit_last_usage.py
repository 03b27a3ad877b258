"""GetKeyLastUsage's TrackingStartDate for a key older than the audit trail.

The API reference defines TrackingStartDate as "the date from which KMS began
recording cryptographic activity for this key, or the date the KMS key was
created, whichever is later". KeyLedger began recording with the store's
first audit record, so a key created before it gets that record's time.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from domain.clock import AdjustableClock
from domain.principal import Caller, Principal
from events.audit_queries import AuditQueries
from functions.actions import create_key, encrypt, get_key_last_usage
from functions.audit import RequestAudit, recording

ACCOUNT = "111122223333"
CALLER = Caller(Principal(ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root", "test"), "us-east-1")


def test_tracking_starts_at_first_record_for_older_key(open_services: Any) -> None:
    clock = AdjustableClock()
    services = open_services(clock)
    # A handler called outside a request writes its events without a record,
    # as a store did before it had an audit trail.
    key_id = create_key.handle(services, CALLER, {})["KeyMetadata"]["KeyId"]
    clock.advance(timedelta(days=10))
    audit = RequestAudit("request-1", clock.now(), "127.0.0.1", "test")
    audit.action = "Encrypt"
    audit.caller = CALLER
    audit.params = {"KeyId": key_id}
    with recording(audit):
        encrypt.handle(services, CALLER, {"KeyId": key_id, "Plaintext": b"x"})
    services.audit_writer.write_now([audit.entry(None, None, None)])

    usage = get_key_last_usage.handle(services, CALLER, {"KeyId": key_id})

    first_record = AuditQueries(services.store).tracking_start()
    assert first_record == audit.event_time.timestamp()
    assert usage["TrackingStartDate"] == audit.event_time
    assert usage["KeyCreationDate"] < usage["TrackingStartDate"]
    assert usage["KeyLastUsage"]["Operation"] == "Encrypt"
    assert usage["KeyLastUsage"]["KmsRequestId"] == "request-1"
    assert usage["KeyLastUsage"]["CloudTrailEventId"] == audit.event_id
