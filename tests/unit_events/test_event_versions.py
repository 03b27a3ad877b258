"""Events written in an older shape still replay, through their upcasters.

KeyCreated gained its ``policy`` in version 2. A key created before, whose
KeyCreated has no policy and no class_version, must load with the default
key policy of its account, as it had then.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path

from domain.key import Key
from domain.policy import default_key_policy
from events.store import Store

ACCOUNT = "111122223333"
NOW = datetime(2030, 1, 15, 9, 30, tzinfo=UTC)


def write_key(store: Store, policy: str | None) -> str:
    key_id = str(uuid.uuid4())
    key = Key.create(
        key_id=key_id,
        account_id=ACCOUNT,
        region="us-east-1",
        description="made by an older KeyLedger",
        tags={"team": "a"},
        key_material_id="aa" * 32,
        sealed_key_material="c2VhbGVk",
        now=NOW,
        policy=policy,
    )
    store.save(key)
    return key_id


def rewrite_as_version_1(database: Path, key_id: str) -> dict[str, object]:
    """Turn the stored KeyCreated into the shape version 1 wrote."""
    connection = sqlite3.connect(database)
    with connection:
        (state,) = connection.execute(
            "SELECT state FROM stored_events WHERE originator_id = ? "
            "AND originator_version = 1",
            (uuid.UUID(key_id).hex,),
        ).fetchone()
        document = json.loads(state)
        document.pop("policy")
        document.pop("class_version")
        connection.execute(
            "UPDATE stored_events SET state = ? WHERE originator_id = ? "
            "AND originator_version = 1",
            (json.dumps(document).encode(), uuid.UUID(key_id).hex),
        )
    connection.close()
    return document


def test_version_2_key_created_records_its_policy(tmp_path: Path) -> None:
    store = Store(tmp_path)
    key_id = write_key(store, '{"Statement": []}')

    state = json.loads(
        sqlite3.connect(tmp_path / "keyledger.sqlite3")
        .execute(
            "SELECT state FROM stored_events WHERE originator_id = ? "
            "AND originator_version = 1",
            (uuid.UUID(key_id).hex,),
        )
        .fetchone()[0]
    )
    store.close()

    assert state["class_version"] == 2
    assert state["policy"] == '{"Statement": []}'


def test_version_1_key_created_replays_with_the_default_policy(tmp_path: Path) -> None:
    writer = Store(tmp_path)
    key_id = write_key(writer, None)
    writer.close()
    old_shape = rewrite_as_version_1(tmp_path / "keyledger.sqlite3", key_id)

    reader = Store(tmp_path)
    key = reader.load_key(key_id)
    reader.close()

    assert "policy" not in old_shape
    assert key is not None
    assert key.policy_text is None
    assert key.policy == default_key_policy(ACCOUNT)
    assert key.description == "made by an older KeyLedger"
    assert key.tags == {"team": "a"}
    assert key.version == 1
