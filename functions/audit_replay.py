"""A key's timeline and its state at a past moment, rebuilt from its events.

``history`` lists the key's lifecycle events with the audit record of the
request (or the service event) that wrote each one. ``replay`` projects the
key's events up to a moment, and its aliases' events likewise, into what
DescribeKey, ListAliases, ListResourceTags, GetKeyPolicy, ListGrants,
GetKeyRotationStatus and ListKeyRotations returned at that moment.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventsourcing.application import project_aggregate

from domain.alias import Alias
from domain.identifiers import alias_arn
from domain.key import Key
from domain.key_state import KeyState
from domain.rotation import key_material_entries, reported_rotation_enabled
from events.audit_queries import AuditQueries, AuditRow
from functions.wire import grant_list_entry, key_metadata, tags_to_wire


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One lifecycle event, and the audit record that wrote it if one is found."""

    aggregate: str
    """``key`` for the key's own events, else the alias name."""
    version: int
    timestamp: datetime
    event_class: str
    record: AuditRow | None

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "Aggregate": self.aggregate,
            "Version": self.version,
            "EventTime": self.timestamp,
            "Event": self.event_class,
        }
        entry.update(caused_by(self.record))
        return entry


def caused_by(record: AuditRow | None) -> dict[str, Any]:
    """Describe who caused an event, from its audit record."""
    if record is None:
        # Events written before the trail began, or whose record is missing.
        return {"CausedBy": None}
    cloudtrail = record.cloudtrail()
    cause: dict[str, Any] = {
        "CausedBy": record.principal_arn or cloudtrail.get("eventSource"),
        "EventName": record.event_name,
        "EventType": cloudtrail.get("eventType"),
        "EventId": record.event_id,
        "AuditSeq": record.seq,
    }
    if "requestID" in cloudtrail:
        cause["RequestId"] = cloudtrail["requestID"]
    return cause


def event_class(event: Any) -> str:
    """Return the class name in the event's topic, such as ``KeyDisabled``."""
    return type(event).__qualname__.rsplit(".", 1)[-1]


class KeyTimeline:
    """A key's events and the events of every alias that pointed at it."""

    def __init__(self, queries: AuditQueries, key_id: str) -> None:
        self.queries = queries
        self.key_id = key_id
        self.key_events = queries.aggregate_events(uuid.UUID(key_id))
        self.alias_events: dict[uuid.UUID, list[Any]] = {}
        for alias_id in sorted(queries.alias_ids_of_key(key_id), key=str):
            events = queries.aggregate_events(alias_id)
            if events and isinstance(events[0], Alias.AliasCreated):
                self.alias_events[alias_id] = events
        self._records: dict[str, AuditRow] | None = None

    @property
    def exists(self) -> bool:
        return bool(self.key_events) and isinstance(self.key_events[0], Key.KeyCreated)

    def key_at(self, moment: datetime) -> Key | None:
        """Project the key's events up to ``moment``; None if it did not exist yet."""
        key: Key | None = project_aggregate(
            None, (event for event in self.key_events if event.timestamp <= moment)
        )
        return key

    def aliases_at(self, moment: datetime) -> list[dict[str, Any]]:
        """Return the aliases that pointed at the key at ``moment``, as ListAliases
        lists them (by name)."""
        entries = []
        for events in self.alias_events.values():
            alias: Alias | None = project_aggregate(
                None, (event for event in events if event.timestamp <= moment)
            )
            if alias is None or alias.deleted or alias.target_key_id != self.key_id:
                continue
            entries.append(
                {
                    "AliasName": alias.alias_name,
                    "AliasArn": alias_arn(
                        alias.region, alias.account_id, alias.alias_name
                    ),
                    "TargetKeyId": alias.target_key_id,
                    # ListAliases returns the alias table's epoch seconds,
                    # not rounded to the millisecond as other dates are.
                    "CreationDate": alias.creation_date.timestamp(),
                    "LastUpdatedDate": alias.last_updated_date.timestamp(),
                }
            )
        return sorted(entries, key=lambda entry: str(entry["AliasName"]))

    def entries(self, include_aliases: bool) -> list[TimelineEntry]:
        """Return the timeline in time order, each event with its record."""
        entries = [self._entry("key", event) for event in self.key_events]
        if include_aliases:
            for events in self.alias_events.values():
                name = str(events[0].alias_name)
                entries += [self._entry(name, event) for event in events]
        return sorted(entries, key=lambda entry: entry.timestamp)

    def _entry(self, aggregate: str, event: Any) -> TimelineEntry:
        originator_id = str(event.originator_id)
        version = int(event.originator_version)
        record = self._records_by_reference().get(f"{originator_id}/{version}")
        if record is None:
            record = self.queries.record_of_event(
                originator_id, version, event.timestamp.timestamp()
            )
        return TimelineEntry(
            aggregate, version, event.timestamp, event_class(event), record
        )

    def _records_by_reference(self) -> dict[str, AuditRow]:
        # The key's own lifecycle records, read once through the key_id index;
        # an event written by another key's request is looked up by time.
        if self._records is None:
            self._records = {}
            for row in self.queries.lifecycle_records_of_key(self.key_id):
                for reference in row.references():
                    originator_id, version, _ = reference.split("/", 2)
                    self._records[f"{originator_id}/{version}"] = row
        return self._records


def key_state_document(key: Key, aliases: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Describe a replayed key with the members of the read actions' responses."""
    document: dict[str, Any] = {
        "KeyMetadata": key_metadata(key),
        "Deleted": key.deleted,
        "Aliases": list(aliases),
        "Tags": tags_to_wire(dict(sorted(key.tags.items()))),
        "Policy": key.policy,
        "Grants": [grant_list_entry(grant, key) for grant in key.grants.values()],
        "RotationStatus": rotation_status(key),
        "KeyMaterials": key_materials(key),
    }
    if key.state is KeyState.PENDING_DELETION:
        document["DeletionDate"] = key.deletion_date
        document["PendingWindowInDays"] = key.pending_window_in_days
    return document


def rotation_status(key: Key) -> dict[str, Any]:
    """Return what GetKeyRotationStatus returned, for a key of generated key material.

    GetKeyRotationStatus refuses keys with imported key material, so for
    those this shows the stored settings instead.
    """
    enabled = reported_rotation_enabled(key)
    status: dict[str, Any] = {"KeyRotationEnabled": enabled, "KeyId": key.key_id}
    if enabled:
        status["RotationPeriodInDays"] = key.rotation_period_in_days
        status["NextRotationDate"] = key.next_rotation_date
    return status


def key_materials(key: Key) -> list[dict[str, Any]]:
    """List every key material id of the key, oldest first, with its state."""
    if key.imported_materials:
        return [
            {
                "KeyMaterialId": material.key_material_id,
                "Current": material.key_material_id == key.current_key_material_id,
                "Imported": material.imported,
                "ExpirationModel": material.expiration_model.value,
            }
            for material in key.imported_materials.values()
        ]
    entries = []
    for entry in key_material_entries(key, include_first=True):
        wire: dict[str, Any] = {
            "KeyMaterialId": entry.key_material_id,
            "KeyMaterialState": entry.state.value,
        }
        if entry.rotation_date is not None and entry.rotation_type is not None:
            wire["RotationDate"] = entry.rotation_date
            wire["RotationType"] = entry.rotation_type.value
        entries.append(wire)
    return entries


def replay(timeline: KeyTimeline, moment: datetime) -> dict[str, Any] | None:
    """Return the key as it was at ``moment`` and the changes since, or None when
    the key did not exist yet."""
    key = timeline.key_at(moment)
    if key is None:
        return None
    document = key_state_document(key, timeline.aliases_at(moment))
    document["At"] = moment
    document["ChangesSince"] = [
        entry.to_json()
        for entry in timeline.entries(include_aliases=True)
        if entry.timestamp > moment
    ]
    return document


def history(timeline: KeyTimeline) -> Iterable[TimelineEntry]:
    return timeline.entries(include_aliases=False)
