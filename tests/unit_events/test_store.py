"""The store on each backend: events, optimistic concurrency, lookup tables.

Every test runs once on SQLite and once on PostgreSQL, each on an empty
database of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.alias import Alias, alias_aggregate_id
from domain.key import Key
from domain.key_state import KeyState
from events.projection import SealingKeyRow
from events.store import ConcurrencyConflict, Store

ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"
REGION = "us-east-1"
OTHER_REGION = "eu-west-1"
NOW = datetime(2030, 1, 15, 9, 30, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)

CreateKey = Callable[..., tuple[Key, SealingKeyRow]]


def create_alias(
    store: Store, name: str, target_key_id: str, now: datetime = NOW, **owner: str
) -> Alias:
    alias = Alias.create(
        account_id=owner.get("account_id", ACCOUNT),
        region=owner.get("region", REGION),
        alias_name=name,
        target_key_id=target_key_id,
        now=now,
    )
    store.save(alias)
    return alias


def all_key_ids(
    store: Store, account_id: str = ACCOUNT, region: str = REGION
) -> list[str]:
    return [key_id for _, key_id in store.list_keys(account_id, region, 0, 1000)]


# Saving and loading.


def test_saved_key_loads_with_the_same_state(
    database: Any, create_key: CreateKey
) -> None:
    writer = database.open()
    key, row = create_key(
        writer, description="payroll", tags={"Project": "Alpha", "Stage": "prod"}
    )

    loaded = database.open().load_key(key.key_id)

    assert loaded is not None
    assert loaded is not key
    assert loaded.key_id == key.key_id
    assert loaded.arn == key.arn
    assert loaded.account_id == ACCOUNT
    assert loaded.region == REGION
    assert loaded.description == "payroll"
    assert loaded.tags == {"Project": "Alpha", "Stage": "prod"}
    assert loaded.state is KeyState.ENABLED
    assert loaded.creation_date == NOW
    assert loaded.key_materials == {row.key_material_id: "c2VhbGVk"}
    assert loaded.version == 1


def test_lifecycle_changes_survive_a_reload(
    store: Store, create_key: CreateKey
) -> None:
    key, _ = create_key(store)
    key.disable(LATER)
    key.tag({"Stage": "prod"}, LATER)
    key.schedule_deletion(7, LATER)
    store.save(key)

    loaded = store.load_key(key.key_id)

    assert loaded is not None
    assert loaded.state is KeyState.PENDING_DELETION
    assert loaded.deletion_date == LATER + timedelta(days=7)
    assert loaded.pending_window_in_days == 7
    assert loaded.tags == {"Stage": "prod"}
    assert loaded.version == 4


def test_load_of_unknown_key_returns_none(store: Store) -> None:
    assert store.load_key(str(uuid.uuid4())) is None


def test_load_key_of_an_alias_id_returns_none(
    store: Store, create_key: CreateKey
) -> None:
    key, _ = create_key(store)
    create_alias(store, "alias/payroll", key.key_id)

    alias_id = alias_aggregate_id(ACCOUNT, REGION, "alias/payroll")

    assert store.load_key(str(alias_id)) is None


def test_saved_alias_loads_with_the_same_state(
    store: Store, create_key: CreateKey
) -> None:
    key, _ = create_key(store)
    create_alias(store, "alias/payroll", key.key_id)

    loaded = store.load_alias(ACCOUNT, REGION, "alias/payroll")

    assert loaded is not None
    assert loaded.target_key_id == key.key_id
    assert loaded.creation_date == NOW
    assert store.load_alias(ACCOUNT, OTHER_REGION, "alias/payroll") is None
    assert store.load_alias(ACCOUNT, REGION, "alias/other") is None


# Optimistic concurrency.


def test_stale_copy_of_a_key_conflicts(database: Any, create_key: CreateKey) -> None:
    store = database.open()
    key, _ = create_key(store)
    first = store.load_key(key.key_id)
    second = database.open().load_key(key.key_id)
    assert first is not None
    assert second is not None
    first.disable(LATER)
    second.disable(LATER)

    store.save(first)
    with pytest.raises(ConcurrencyConflict):
        store.save(second)

    stored = store.load_key(key.key_id)
    assert stored is not None
    assert stored.version == 2
    assert stored.state is KeyState.DISABLED


def test_conflicting_key_save_writes_no_lookup_rows(
    store: Store, create_key: CreateKey
) -> None:
    key, _ = create_key(store)
    first = store.load_key(key.key_id)
    second = store.load_key(key.key_id)
    assert first is not None
    assert second is not None
    first.disable(LATER)
    second.schedule_deletion(7, LATER)

    store.save(first)
    with pytest.raises(ConcurrencyConflict):
        store.save(second)

    assert store.keys_due_for_deletion((LATER + timedelta(days=365)).timestamp()) == []


def test_second_create_of_one_alias_conflicts(
    store: Store, create_key: CreateKey
) -> None:
    first_key, _ = create_key(store)
    second_key, _ = create_key(store)
    first = Alias.create(
        account_id=ACCOUNT,
        region=REGION,
        alias_name="alias/payroll",
        target_key_id=first_key.key_id,
        now=NOW,
    )
    second = Alias.create(
        account_id=ACCOUNT,
        region=REGION,
        alias_name="alias/payroll",
        target_key_id=second_key.key_id,
        now=LATER,
    )

    store.save(first)
    with pytest.raises(ConcurrencyConflict):
        store.save(second)

    assert store.alias_target(ACCOUNT, REGION, "alias/payroll") == first_key.key_id
    assert len(store.list_aliases(ACCOUNT, REGION, "", 100)) == 1


def test_conflicting_create_writes_no_sealing_key(store: Store) -> None:
    key_id = str(uuid.uuid4())

    def new_copy(key_material_id: str) -> Key:
        return Key.create(
            key_id=key_id,
            account_id=ACCOUNT,
            region=REGION,
            description="",
            tags={},
            key_material_id=key_material_id,
            sealed_key_material="c2VhbGVk",
            now=NOW,
        )

    store.save(
        new_copy("aa" * 32), sealing_keys=[SealingKeyRow("aa" * 32, key_id, b"one")]
    )
    with pytest.raises(ConcurrencyConflict):
        store.save(
            new_copy("bb" * 32),
            sealing_keys=[SealingKeyRow("bb" * 32, key_id, b"two")],
        )

    assert store.wrapped_sealing_key("aa" * 32) == b"one"
    assert store.wrapped_sealing_key("bb" * 32) is None
    assert all_key_ids(store) == [key_id]


# The keys table: ListKeys and the sweep.


def test_list_keys_returns_keys_in_creation_order(
    store: Store, create_key: CreateKey
) -> None:
    created = []
    for index in range(5):
        key, _ = create_key(store)
        created.append(key.key_id)
        create_key(store, account_id=OTHER_ACCOUNT)
        if index % 2:
            create_key(store, region=OTHER_REGION)

    listed = store.list_keys(ACCOUNT, REGION, 0, 100)

    assert [key_id for _, key_id in listed] == created
    positions = [position for position, _ in listed]
    assert positions == sorted(positions)
    assert len(set(positions)) == 5
    assert len(all_key_ids(store, OTHER_ACCOUNT, REGION)) == 5
    assert len(all_key_ids(store, ACCOUNT, OTHER_REGION)) == 2
    assert all_key_ids(store, OTHER_ACCOUNT, OTHER_REGION) == []


def test_list_keys_pages_by_position(store: Store, create_key: CreateKey) -> None:
    created = [create_key(store)[0].key_id for _ in range(5)]

    pages = []
    after = 0
    while True:
        page = store.list_keys(ACCOUNT, REGION, after, 2)
        if not page:
            break
        pages.append([key_id for _, key_id in page])
        after = page[-1][0]

    assert pages == [created[0:2], created[2:4], created[4:5]]


def test_deleted_key_leaves_list_keys(store: Store, create_key: CreateKey) -> None:
    created = [create_key(store)[0] for _ in range(3)]
    middle = created[1]
    first_page = store.list_keys(ACCOUNT, REGION, 0, 2)

    middle.schedule_deletion(7, NOW)
    middle.delete(NOW + timedelta(days=7))
    store.save(middle)

    assert all_key_ids(store) == [created[0].key_id, created[2].key_id]
    # A marker that pointed at the deleted key still continues the listing.
    rest = store.list_keys(ACCOUNT, REGION, first_page[-1][0], 2)
    assert [key_id for _, key_id in rest] == [created[2].key_id]


def test_keys_due_for_deletion_follow_schedule_and_cancel(
    store: Store, create_key: CreateKey
) -> None:
    late, _ = create_key(store)
    soon, _ = create_key(store)
    never, _ = create_key(store)
    late.schedule_deletion(30, NOW)
    soon.schedule_deletion(7, NOW)
    store.save(late, soon)
    week = (NOW + timedelta(days=7)).timestamp()
    month = (NOW + timedelta(days=30)).timestamp()

    assert store.keys_due_for_deletion(week - 1) == []
    assert store.keys_due_for_deletion(week) == [soon.key_id]
    assert store.keys_due_for_deletion(month) == [soon.key_id, late.key_id]
    assert store.keys_due_for_deletion(month, limit=1) == [soon.key_id]

    late.cancel_deletion(LATER)
    store.save(late)

    assert store.keys_due_for_deletion(month) == [soon.key_id]
    assert never.key_id not in store.keys_due_for_deletion(month * 2)


def test_deleted_key_is_no_longer_due(store: Store, create_key: CreateKey) -> None:
    key, _ = create_key(store)
    key.schedule_deletion(7, NOW)
    store.save(key)

    key.delete(NOW + timedelta(days=7))
    store.save(key)

    assert store.keys_due_for_deletion((NOW + timedelta(days=365)).timestamp()) == []


# The aliases table.


def test_alias_row_follows_create_retarget_delete_recreate(
    store: Store, create_key: CreateKey
) -> None:
    first, _ = create_key(store)
    second, _ = create_key(store)
    alias = create_alias(store, "alias/payroll", first.key_id)

    [row] = store.list_aliases(ACCOUNT, REGION, "", 100)
    assert row.alias_name == "alias/payroll"
    assert row.target_key_id == first.key_id
    assert row.creation_date == NOW.timestamp()
    assert row.last_updated_date == NOW.timestamp()
    assert store.alias_names_of_key(first.key_id) == ["alias/payroll"]

    alias.retarget(second.key_id, LATER)
    store.save(alias)

    [row] = store.list_aliases(ACCOUNT, REGION, "", 100)
    assert row.target_key_id == second.key_id
    assert row.creation_date == NOW.timestamp()
    assert row.last_updated_date == LATER.timestamp()
    assert store.alias_target(ACCOUNT, REGION, "alias/payroll") == second.key_id
    assert store.alias_names_of_key(first.key_id) == []
    assert store.alias_names_of_key(second.key_id) == ["alias/payroll"]

    alias.delete(LATER)
    store.save(alias)

    assert store.list_aliases(ACCOUNT, REGION, "", 100) == []
    assert store.alias_target(ACCOUNT, REGION, "alias/payroll") is None
    assert store.alias_names_of_key(second.key_id) == []

    recreated_at = LATER + timedelta(hours=1)
    alias.recreate(first.key_id, recreated_at)
    store.save(alias)

    [row] = store.list_aliases(ACCOUNT, REGION, "", 100)
    assert row.target_key_id == first.key_id
    assert row.creation_date == recreated_at.timestamp()
    assert row.last_updated_date == recreated_at.timestamp()


def test_list_aliases_orders_filters_and_pages(
    store: Store, create_key: CreateKey
) -> None:
    first, _ = create_key(store)
    second, _ = create_key(store)
    for name in ["alias/c", "alias/a", "alias/e"]:
        create_alias(store, name, first.key_id)
    for name in ["alias/d", "alias/b"]:
        create_alias(store, name, second.key_id)
    create_alias(store, "alias/a", first.key_id, account_id=OTHER_ACCOUNT)
    create_alias(store, "alias/z", first.key_id, region=OTHER_REGION)

    def names(rows: list[Any]) -> list[str]:
        return [row.alias_name for row in rows]

    assert names(store.list_aliases(ACCOUNT, REGION, "", 100)) == [
        "alias/a",
        "alias/b",
        "alias/c",
        "alias/d",
        "alias/e",
    ]
    assert names(store.list_aliases(ACCOUNT, REGION, "", 2)) == ["alias/a", "alias/b"]
    assert names(store.list_aliases(ACCOUNT, REGION, "alias/b", 2)) == [
        "alias/c",
        "alias/d",
    ]
    assert names(
        store.list_aliases(ACCOUNT, REGION, "", 100, target_key_id=second.key_id)
    ) == ["alias/b", "alias/d"]
    assert names(store.list_aliases(OTHER_ACCOUNT, REGION, "", 100)) == ["alias/a"]
    assert names(store.list_aliases(ACCOUNT, OTHER_REGION, "", 100)) == ["alias/z"]


# The sealing keys table.


def test_sealing_key_row_is_written_with_the_key(
    store: Store, create_key: CreateKey
) -> None:
    _, row = create_key(store)

    assert store.wrapped_sealing_key(row.key_material_id) == row.wrapped_sealing_key
    assert store.wrapped_sealing_key("00" * 32) is None


def test_sealing_key_row_outlives_schedule_and_cancel(
    store: Store, create_key: CreateKey
) -> None:
    key, row = create_key(store)

    key.schedule_deletion(7, NOW)
    store.save(key)
    key.cancel_deletion(LATER)
    store.save(key)

    assert store.wrapped_sealing_key(row.key_material_id) == row.wrapped_sealing_key


def test_deletion_erases_only_that_keys_sealing_key(
    store: Store, create_key: CreateKey
) -> None:
    doomed, doomed_row = create_key(store)
    survivor, survivor_row = create_key(store)
    doomed.schedule_deletion(7, NOW)
    store.save(doomed)

    doomed.delete(NOW + timedelta(days=7))
    store.save(doomed)

    assert store.wrapped_sealing_key(doomed_row.key_material_id) is None
    assert (
        store.wrapped_sealing_key(survivor_row.key_material_id)
        == survivor_row.wrapped_sealing_key
    )
    assert all_key_ids(store) == [survivor.key_id]


def test_key_and_aliases_deleted_in_one_save(
    store: Store, create_key: CreateKey
) -> None:
    key, row = create_key(store)
    other, _ = create_key(store)
    first = create_alias(store, "alias/first", key.key_id)
    second = create_alias(store, "alias/second", key.key_id)
    create_alias(store, "alias/other", other.key_id)
    key.schedule_deletion(7, NOW)
    store.save(key)

    due = NOW + timedelta(days=7)
    key.delete(due)
    first.delete(due)
    second.delete(due)
    store.save(key, first, second)

    assert store.alias_names_of_key(key.key_id) == []
    assert [row.alias_name for row in store.list_aliases(ACCOUNT, REGION, "", 100)] == [
        "alias/other"
    ]
    assert store.wrapped_sealing_key(row.key_material_id) is None


# The freshness check of cached keys.


def test_cached_key_sees_other_store_change(
    database: Any, create_key: CreateKey
) -> None:
    reader = database.open()
    writer = database.open()
    key, _ = create_key(writer)

    before = reader.cached_key(key.key_id)
    assert before is not None
    assert before.state is KeyState.ENABLED

    changed = writer.load_key(key.key_id)
    assert changed is not None
    changed.disable(LATER)
    writer.save(changed)

    after = reader.cached_key(key.key_id)
    assert after is not None
    assert after.state is KeyState.DISABLED
    assert after.version == 2
    assert reader.key_version(key.key_id) == 2


def test_cached_key_sees_other_store_deletion(
    database: Any, create_key: CreateKey
) -> None:
    reader = database.open()
    writer = database.open()
    key, _ = create_key(writer)
    assert reader.cached_key(key.key_id) is not None

    changed = writer.load_key(key.key_id)
    assert changed is not None
    changed.schedule_deletion(7, NOW)
    changed.delete(NOW + timedelta(days=7))
    writer.save(changed)

    after = reader.cached_key(key.key_id)
    assert after is not None
    assert after.deleted is True


def test_cached_key_is_reused_while_current(
    store: Store, create_key: CreateKey
) -> None:
    key, _ = create_key(store)

    first = store.cached_key(key.key_id)
    second = store.cached_key(key.key_id)

    assert first is not None
    assert first is second


@pytest.mark.parametrize(
    "key_id", ["not-a-uuid", "mrk-1234abcd12ab34cd56ef1234567890ab"]
)
def test_cached_key_of_malformed_id_returns_none(store: Store, key_id: str) -> None:
    assert store.cached_key(key_id) is None
    assert store.key_version(key_id) is None


def test_cached_key_of_unknown_id_returns_none(store: Store) -> None:
    assert store.cached_key(str(uuid.uuid4())) is None
