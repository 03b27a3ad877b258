"""``keyledger audit replay``: a key rebuilt at a past moment equals what the
read actions returned at that moment.

The test changes one key in many ways over simulated days (the server's dev
clock), and at several moments records the raw JSON of DescribeKey,
ListAliases, ListResourceTags, GetKeyPolicy, ListGrants, GetKeyRotationStatus
and ListKeyRotations. Afterwards it replays the key at each moment, with the
server still running, and compares.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from tests.e2e.audit_helpers import advance, keyledger_audit

DAY_SECONDS = 86400
APP_ARN = "arn:aws:iam::111122223333:user/app"
CUSTOM_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Id": "replay-test",
        "Statement": [
            {
                "Sid": "Root may do everything",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
)


def snapshot(raw: Any, key_id: str) -> dict[str, Any]:
    """What the read actions return for the key now, as raw JSON."""
    rotations = raw.ok(
        "ListKeyRotations", {"KeyId": key_id, "IncludeKeyMaterial": "ALL_KEY_MATERIAL"}
    )["Rotations"]
    for entry in rotations:
        del entry["KeyId"]
    return {
        "KeyMetadata": raw.ok("DescribeKey", {"KeyId": key_id})["KeyMetadata"],
        "Aliases": raw.ok("ListAliases", {"KeyId": key_id})["Aliases"],
        "Tags": raw.ok("ListResourceTags", {"KeyId": key_id})["Tags"],
        "Policy": raw.ok("GetKeyPolicy", {"KeyId": key_id, "PolicyName": "default"})[
            "Policy"
        ],
        "Grants": raw.ok("ListGrants", {"KeyId": key_id})["Grants"],
        "RotationStatus": raw.ok("GetKeyRotationStatus", {"KeyId": key_id}),
        "KeyMaterials": rotations,
    }


def replayed(server: Any, key: str, moment: float) -> dict[str, Any]:
    at = datetime.fromtimestamp(moment, UTC).isoformat()
    result = keyledger_audit(server, "replay", key, "--at", at)
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_replay_matches_what_was_read_at_each_moment(
    fresh_server_factory: Any, raw_for: Any
) -> None:
    server = fresh_server_factory(extra_args=["--dev-clock"])
    raw = raw_for(server)
    moments: list[tuple[float, dict[str, Any]]] = []

    def capture() -> None:
        moments.append((advance(server, 0), snapshot(raw, key_id)))

    key_id = raw.ok(
        "CreateKey",
        {"Description": "day 0", "Tags": [{"TagKey": "team", "TagValue": "audit"}]},
    )["KeyMetadata"]["KeyId"]
    other_key = raw.ok("CreateKey", {})["KeyMetadata"]["KeyId"]
    raw.ok("CreateAlias", {"AliasName": "alias/replay-a", "TargetKeyId": key_id})
    capture()

    advance(server, DAY_SECONDS)
    raw.ok("UpdateKeyDescription", {"KeyId": key_id, "Description": "day 1"})
    raw.ok(
        "TagResource", {"KeyId": key_id, "Tags": [{"TagKey": "env", "TagValue": "a"}]}
    )
    raw.ok("UntagResource", {"KeyId": key_id, "TagKeys": ["team"]})
    first_grant = raw.ok(
        "CreateGrant",
        {"KeyId": key_id, "GranteePrincipal": APP_ARN, "Operations": ["Encrypt"]},
    )["GrantId"]
    raw.ok("EnableKeyRotation", {"KeyId": key_id, "RotationPeriodInDays": 90})
    raw.ok("CreateAlias", {"AliasName": "alias/replay-b", "TargetKeyId": key_id})
    capture()

    advance(server, 2 * DAY_SECONDS)
    raw.ok("DisableKey", {"KeyId": key_id})
    raw.ok("PutKeyPolicy", {"KeyId": key_id, "Policy": CUSTOM_POLICY})
    raw.ok("UpdateAlias", {"AliasName": "alias/replay-a", "TargetKeyId": other_key})
    capture()

    advance(server, DAY_SECONDS)
    raw.ok("EnableKey", {"KeyId": key_id})
    raw.ok("RotateKeyOnDemand", {"KeyId": key_id})
    raw.ok("RevokeGrant", {"KeyId": key_id, "GrantId": first_grant})
    raw.ok(
        "CreateGrant",
        {
            "KeyId": key_id,
            "GranteePrincipal": APP_ARN,
            "Operations": ["Decrypt"],
            "Name": "second",
        },
    )
    raw.ok("UpdateAlias", {"AliasName": "alias/replay-a", "TargetKeyId": key_id})
    capture()

    # 91 days on, the sweep that moving the clock runs rotates the key.
    advance(server, 91 * DAY_SECONDS)
    raw.ok("DeleteAlias", {"AliasName": "alias/replay-b"})
    capture()

    advance(server, DAY_SECONDS)
    raw.ok("ScheduleKeyDeletion", {"KeyId": key_id, "PendingWindowInDays": 7})
    capture()

    advance(server, DAY_SECONDS)
    raw.ok("CancelKeyDeletion", {"KeyId": key_id})
    capture()

    advance(server, DAY_SECONDS)
    raw.ok("ScheduleKeyDeletion", {"KeyId": key_id, "PendingWindowInDays": 7})
    advance(server, 8 * DAY_SECONDS)
    end = advance(server, 0)

    states = [state for _, state in moments]
    # The moments differ in what the test changed.
    assert [s["KeyMetadata"]["Description"] for s in states[:2]] == ["day 0", "day 1"]
    assert len(states[4]["KeyMaterials"]) == 3
    assert states[5]["KeyMetadata"]["KeyState"] == "PendingDeletion"
    assert states[6]["KeyMetadata"]["KeyState"] == "Disabled"
    for moment, state in moments:
        document = replayed(server, key_id, moment)
        for member, value in state.items():
            assert document[member] == value, (moment, member)
    after_deletion = replayed(server, key_id, end)
    assert after_deletion["Deleted"] is True


def test_replay_lists_changes_since(fresh_server_factory: Any, raw_for: Any) -> None:
    server = fresh_server_factory(extra_args=["--dev-clock"])
    raw = raw_for(server)
    key_id = raw.ok("CreateKey", {})["KeyMetadata"]["KeyId"]
    raw.ok("CreateAlias", {"AliasName": "alias/later", "TargetKeyId": key_id})
    moment = advance(server, DAY_SECONDS)
    disabled = raw.call("DisableKey", {"KeyId": key_id})
    raw.ok("DeleteAlias", {"AliasName": "alias/later"})

    document = replayed(server, "alias/later", moment)

    assert document["KeyMetadata"]["KeyId"] == key_id
    assert document["KeyMetadata"]["KeyState"] == "Enabled"
    assert [alias["AliasName"] for alias in document["Aliases"]] == ["alias/later"]
    changes = [
        (c["Aggregate"], c["Event"], c["EventName"]) for c in document["ChangesSince"]
    ]
    assert changes == [
        ("key", "KeyDisabled", "DisableKey"),
        ("alias/later", "AliasDeleted", "DeleteAlias"),
    ]
    assert (
        document["ChangesSince"][0]["RequestId"] == disabled.headers["x-amzn-requestid"]
    )


def test_replay_before_creation_is_an_error(
    fresh_server_factory: Any, raw_for: Any
) -> None:
    server = fresh_server_factory(extra_args=["--dev-clock"])
    raw = raw_for(server)
    key_id = raw.ok("CreateKey", {})["KeyMetadata"]["KeyId"]

    result = keyledger_audit(server, "replay", key_id, "--at", "2001-01-01T00:00:00Z")

    assert result.returncode == 1
    assert f"key {key_id} did not exist yet" in result.stderr
