"""GetKeyLastUsage: the last successful cryptographic operation with a key.

The response comes from the audit trail: the newest successful record of a
tracked operation on the key (KeyLastUsageTrackingOperation in the botocore
1.44.8 model; KeyLedger serves Decrypt, Encrypt, GenerateDataKey,
GenerateDataKeyWithoutPlaintext and ReEncrypt of those). A ReEncrypt counts
for its source key and its destination key alike, as the API reference says.

Tracking starts with the store's first audit record: TrackingStartDate is
that record's time, or the key's creation date when the key is younger
("whichever is later").
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from domain.identifiers import KEY_FORMS
from domain.principal import Caller
from events.audit_queries import AuditQueries
from functions.keys import key_for_use
from functions.services import Services


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    # Alias names are not supported, and the key must be in the caller's
    # account ("Cross-account use: No").
    key = key_for_use(
        services, caller, "GetKeyLastUsage", params["KeyId"], params, KEY_FORMS
    )

    queries = AuditQueries(services.store)
    last_use = queries.last_cryptographic_use(key.key_id, key.arn)
    first_record = queries.tracking_start()

    creation_date = key.creation_date
    tracking_start = creation_date
    if first_record is not None:
        tracking_start = max(creation_date, datetime.fromtimestamp(first_record, UTC))
    usage: dict[str, Any] = {}
    if last_use is not None:
        usage = {
            "Operation": last_use.event_name,
            "Timestamp": datetime.fromtimestamp(last_use.event_time, UTC),
            "CloudTrailEventId": last_use.event_id,
            "KmsRequestId": last_use.cloudtrail().get("requestID"),
        }
    # NOTE: the API reference calls KeyId "the globally unique identifier for
    # the KMS key" and gives no example; KeyLedger returns the key id, not the ARN.
    return {
        "KeyId": key.key_id,
        "KeyLastUsage": usage,
        "TrackingStartDate": tracking_start,
        "KeyCreationDate": creation_date,
    }
