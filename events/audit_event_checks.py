"""The check of records' event references against the stored lifecycle events.

Each reference names a stored event (``originator_id/version``) and the
SHA-256 of the event as the store holds it. The hashes are recomputed from
the library's events table, and each stored event must be named by exactly
one record.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from events.audit import event_hash
from events.audit_tampering import tampered
from events.store import Store


def stored_event_hashes(store: Store, page_size: int) -> dict[tuple[str, int], str]:
    """Hash every stored lifecycle event, keyed by (originator id, version)."""
    events_table = store.events_table
    statement = (
        f"SELECT originator_id, originator_version, topic, state FROM {events_table}"  # noqa: S608
        " WHERE originator_id > ? OR (originator_id = ? AND originator_version > ?)"
        " ORDER BY originator_id, originator_version LIMIT ?"
    )
    first = (
        "SELECT originator_id, originator_version, topic, state"  # noqa: S608
        f" FROM {events_table} ORDER BY originator_id, originator_version LIMIT ?"
    )
    hashes: dict[tuple[str, int], str] = {}
    rows = store.read(first, (page_size,))
    while rows:
        for row in rows:
            originator_id = str(uuid.UUID(str(row["originator_id"])))
            version = int(row["originator_version"])
            state = row["state"]
            if isinstance(state, memoryview):
                state = bytes(state)
            hashes[(originator_id, version)] = event_hash(
                originator_id, version, str(row["topic"]), state
            )
        if len(rows) < page_size:
            break
        last = rows[-1]
        rows = store.read(
            statement,
            (
                last["originator_id"],
                last["originator_id"],
                last["originator_version"],
                page_size,
            ),
        )
    return hashes


class EventLedger:
    """Matches records' event references against the stored events."""

    def __init__(self, stored: dict[tuple[str, int], str]) -> None:
        self._unclaimed = stored
        self._claimed: dict[tuple[str, int], int] = {}
        self.checked = 0

    def claim(self, seq: int, references: list[str]) -> None:
        for reference in references:
            originator_id, version_text, hashed = _split_reference(seq, reference)
            key = (originator_id, int(version_text))
            name = f"{originator_id}/{version_text}"
            stored = self._unclaimed.pop(key, None)
            if stored is None:
                earlier = self._claimed.get(key)
                if earlier is not None:
                    raise tampered(
                        "record_changed",
                        f"record {seq} names stored event {name}, which record "
                        f"{earlier} already names",
                        seq=seq,
                        event=name,
                    )
                raise tampered(
                    "event_missing",
                    f"stored event {name} is missing (record {seq} names it)",
                    seq=seq,
                    event=name,
                )
            if stored != hashed:
                raise tampered(
                    "event_changed",
                    f"stored event {name} was changed (record {seq} names it)",
                    seq=seq,
                    event=name,
                )
            self._claimed[key] = seq
            self.checked += 1

    def unclaimed(self) -> list[tuple[str, int]]:
        return sorted(self._unclaimed)

    def forget(self, references: list[str]) -> None:
        for reference in references:
            parts = reference.split("/")
            if len(parts) == 3 and parts[1].isdigit():
                self._unclaimed.pop((parts[0], int(parts[1])), None)


def _split_reference(seq: int, reference: Any) -> tuple[str, str, str]:
    parts = reference.split("/") if isinstance(reference, str) else []
    if len(parts) != 3 or not parts[1].isdigit():
        raise tampered(
            "record_changed",
            f"record {seq} was changed: {reference!r} is not an event reference",
            seq=seq,
        )
    return parts[0], parts[1], parts[2]


def event_references(seq: int, event_hashes: str) -> list[str]:
    try:
        value = json.loads(event_hashes)
    except ValueError:
        value = None
    if not isinstance(value, list):
        raise tampered(
            "record_changed",
            f"record {seq} was changed: its event references are not a JSON list",
            seq=seq,
        )
    return value
