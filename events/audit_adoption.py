"""Bring a store's older lifecycle events into its audit trail.

A store written before KeyLedger kept an audit trail holds lifecycle events
that no record references, and verify would report each as inserted into a
key's stream. When such a store gets its trail, the first records written
are ``AdoptExistingEvents`` service events that reference every event
already stored, so from then on each event is covered by the chain.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from events.audit import (
    AuditEntry,
    canonical_json,
    event_reference,
)
from events.audit_event_checks import stored_event_hashes
from events.store import Store

EVENT_NAME = "AdoptExistingEvents"
_REFERENCES_PER_RECORD = 1000
_PAGE_SIZE = 5000


def adopt_existing_events(store: Store, now: datetime) -> bool:
    """Reference every stored event from the trail's first records, if the
    trail is still empty. Returns whether records were written."""
    return store.append_audit_to_empty_trail(lambda: _adoption_batch(store, now))


def _adoption_batch(
    store: Store, now: datetime
) -> list[tuple[AuditEntry, Sequence[str]]]:
    hashes = stored_event_hashes(store, _PAGE_SIZE)
    if not hashes:
        return []
    owners = _owners(store)
    groups: dict[tuple[str, str], list[str]] = {}
    for (originator_id, version), hashed in sorted(hashes.items()):
        owner = owners.get(originator_id, ("", ""))
        groups.setdefault(owner, []).append(
            event_reference(originator_id, version, hashed)
        )
    batch: list[tuple[AuditEntry, Sequence[str]]] = []
    for (account_id, region), references in sorted(groups.items()):
        for start in range(0, len(references), _REFERENCES_PER_RECORD):
            chunk = references[start : start + _REFERENCES_PER_RECORD]
            batch.append((_entry(account_id, region, len(chunk), now), chunk))
    return batch


def _owners(store: Store) -> dict[str, tuple[str, str]]:
    """Return each aggregate's account and Region, from its first event."""
    rows = store.read(
        f"SELECT originator_id, state FROM {store.events_table}"  # noqa: S608
        " WHERE originator_version = 1",
        (),
    )
    owners: dict[str, tuple[str, str]] = {}
    for row in rows:
        state = row["state"]
        try:
            document = json.loads(
                bytes(state) if isinstance(state, memoryview) else state
            )
        except (ValueError, TypeError):
            continue
        if isinstance(document, dict):
            owners[str(uuid.UUID(str(row["originator_id"])))] = (
                str(document.get("account_id", "")),
                str(document.get("region", "")),
            )
    return owners


def _entry(account_id: str, region: str, count: int, now: datetime) -> AuditEntry:
    event_id = str(uuid.uuid4())
    record: dict[str, Any] = {
        "eventVersion": "1.11",
        "userIdentity": {"accountId": account_id, "invokedBy": "AWS Internal"},
        "eventTime": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "kms.amazonaws.com",
        "eventName": EVENT_NAME,
        "awsRegion": region,
        "sourceIPAddress": "AWS Internal",
        "userAgent": "AWS Internal",
        "requestParameters": None,
        "responseElements": None,
        "eventID": event_id,
        "readOnly": False,
        "resources": [],
        "eventType": "AwsServiceEvent",
        "managementEvent": True,
        "recipientAccountId": account_id,
        "eventCategory": "Management",
        "serviceEventDetails": {"eventsAdopted": count},
    }
    return AuditEntry(
        event_id=event_id,
        event_time=now.timestamp(),
        account_id=account_id,
        region=region,
        event_name=EVENT_NAME,
        principal_arn=None,
        key_id=None,
        error_code=None,
        record=canonical_json(record),
    )
