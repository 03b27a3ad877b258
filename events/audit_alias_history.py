"""The history of aliases: which keys an alias pointed at, and when.

An alias's own events (created, retargeted, deleted, recreated) give the
times it pointed at each key. The audit trail finds the aliases that no
longer exist, or no longer point at a key.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.alias import Alias, alias_aggregate_id
from events.audit_filters import like_pattern
from events.store import Store

ALIAS_ACTIONS = ("CreateAlias", "UpdateAlias", "DeleteAlias")


@dataclass(frozen=True, slots=True)
class AliasPeriod:
    """A time during which an alias pointed at one key; ``end`` is None while
    it still does."""

    alias_name: str
    account_id: str
    region: str
    alias_aggregate_id: str
    key_id: str
    start: datetime
    end: datetime | None


def alias_ids_of_key(store: Store, key_id: str) -> set[uuid.UUID]:
    """Return the aggregate ids of every alias that pointed at the key.

    An alias that points at the key now is in the alias table. One that
    pointed at it before was moved away or deleted by a request whose
    record names the key first (UpdateAlias names the old target first),
    and that record references the alias's events.
    """
    ids: set[uuid.UUID] = set()
    rows = store.read(
        "SELECT account_id, region, alias_name FROM keyledger_aliases"
        " WHERE target_key_id = ?",
        (key_id,),
    )
    for row in rows:
        ids.add(alias_aggregate_id(row["account_id"], row["region"], row["alias_name"]))
    names = ", ".join("?" for _ in ALIAS_ACTIONS)
    records = store.read(
        "SELECT event_hashes FROM keyledger_audit"  # noqa: S608 - no input in the text
        f" WHERE key_id = ? AND error_code IS NULL AND event_name IN ({names})",
        (key_id, *ALIAS_ACTIONS),
    )
    for record in records:
        for reference in json.loads(record["event_hashes"]):
            ids.add(uuid.UUID(reference.split("/", 1)[0]))
    return ids


def alias_owners(store: Store, alias_name: str) -> set[tuple[str, str]]:
    """Return each (account, Region) where an alias of this name exists or existed.

    Current aliases come from the alias table; deleted ones from the
    successful CreateAlias records that name them.
    NOTE: finding deleted aliases reads every CreateAlias record.
    """
    owners = {
        (str(row["account_id"]), str(row["region"]))
        for row in store.read(
            "SELECT account_id, region FROM keyledger_aliases WHERE alias_name = ?",
            (alias_name,),
        )
    }
    rows = store.read(
        "SELECT DISTINCT account_id, region FROM keyledger_audit"
        " WHERE event_name = 'CreateAlias' AND error_code IS NULL"
        " AND record LIKE ? ESCAPE '\\'",
        (like_pattern(f'"aliasName":{json.dumps(alias_name)}'),),
    )
    owners.update((str(row["account_id"]), str(row["region"])) for row in rows)
    return owners


def alias_periods(
    store: Store, alias_name: str, account_id: str | None, region: str | None
) -> list[AliasPeriod]:
    """Return every time the alias pointed at a key, from the alias's events."""
    periods: list[AliasPeriod] = []
    for owner_account, owner_region in sorted(alias_owners(store, alias_name)):
        if account_id is not None and owner_account != account_id:
            continue
        if region is not None and owner_region != region:
            continue
        aggregate_id = alias_aggregate_id(owner_account, owner_region, alias_name)
        periods += _periods_of(
            alias_name,
            owner_account,
            owner_region,
            str(aggregate_id),
            store.stored_events(aggregate_id),
        )
    return sorted(periods, key=lambda period: period.start)


def _periods_of(
    alias_name: str,
    account_id: str,
    region: str,
    aggregate_id: str,
    events: Sequence[Any],
) -> list[AliasPeriod]:
    periods: list[AliasPeriod] = []
    target: str | None = None
    since: datetime | None = None

    def close(end: datetime | None) -> None:
        if target is not None and since is not None:
            periods.append(
                AliasPeriod(
                    alias_name, account_id, region, aggregate_id, target, since, end
                )
            )

    for event in events:
        if isinstance(
            event, Alias.AliasCreated | Alias.AliasRetargeted | Alias.AliasRecreated
        ):
            close(event.timestamp)
            target, since = event.target_key_id, event.timestamp
        elif isinstance(event, Alias.AliasDeleted):
            close(event.timestamp)
            target, since = None, None
    close(None)
    return periods
