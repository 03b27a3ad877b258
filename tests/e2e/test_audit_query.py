"""``keyledger audit events`` and ``audit history`` against a running server.

The commands run as separate processes on the server's store while the
server runs, as an auditor would run them.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.audit_helpers import advance, keyledger_audit

ROOT_ARN = "arn:aws:iam::111122223333:root"
APP_ARN = "arn:aws:iam::111122223333:user/app"
DAY_SECONDS = 86400


def json_lines(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def last_key_id(record: dict[str, Any]) -> str:
    """Return the id of the last key in a record's resources."""
    arns = [r["ARN"] for r in record["resources"] if ":key/" in r["ARN"]]
    return str(arns[-1].rsplit("/", 1)[-1])


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


@pytest.fixture
def audited(fresh_server_factory: Any, tmp_path: Path) -> Any:
    """A dev-clock server with two principals: the account root and a user."""
    credentials = tmp_path / "credentials.toml"
    credentials.write_text(
        "[[principals]]\n"
        'access_key_id = "AKIAROOT"\n'
        'secret_access_key = "root-secret"\n'
        'account_id = "111122223333"\n'
        "\n"
        "[[principals]]\n"
        'access_key_id = "AKIAAPP"\n'
        'secret_access_key = "app-secret"\n'
        'account_id = "111122223333"\n'
        f'arn = "{APP_ARN}"\n'
        'identity_policy = \'\'\'{"Version": "2012-10-17", "Statement": '
        '[{"Effect": "Allow", "Action": ["kms:Encrypt", "kms:DescribeKey"], '
        '"Resource": "*"}]}\'\'\'\n'
    )
    return fresh_server_factory(
        extra_args=["--dev-clock", "--credentials-file", str(credentials)]
    )


def test_events_json_lines_are_stored_records(audited: Any, store_reader: Any) -> None:
    kms = audited.client(access_key="AKIAROOT", secret_key="root-secret")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.encrypt(KeyId=key_id, Plaintext=b"secret text")

    lines = keyledger_audit(audited, "events", "--format", "json")

    stored = store_reader(audited).query(
        "SELECT record FROM keyledger_audit ORDER BY seq"
    )
    assert lines.returncode == 0, lines.stderr
    assert lines.stdout.splitlines() == [str(row[0]) for row in stored]
    records = json_lines(lines)
    assert [record["eventName"] for record in records] == ["CreateKey", "Encrypt"]
    assert records[1]["eventSource"] == "kms.amazonaws.com"


def test_events_filters(audited: Any) -> None:
    root = audited.client(access_key="AKIAROOT", secret_key="root-secret")
    app = audited.client(access_key="AKIAAPP", secret_key="app-secret")
    west = audited.client(
        region="us-west-2", access_key="AKIAROOT", secret_key="root-secret"
    )
    first = root.create_key()["KeyMetadata"]["KeyId"]
    second = root.create_key()["KeyMetadata"]["KeyId"]
    west_key = west.create_key()["KeyMetadata"]["KeyId"]
    app.encrypt(KeyId=first, Plaintext=b"one")
    with pytest.raises(app.exceptions.ClientError):
        # The user's identity policy does not allow kms:Decrypt.
        app.decrypt(
            CiphertextBlob=root.encrypt(KeyId=first, Plaintext=b"x")["CiphertextBlob"]
        )
    root.disable_key(KeyId=second)
    with pytest.raises(root.exceptions.DisabledException):
        root.encrypt(KeyId=second, Plaintext=b"two")
    later = advance(audited, DAY_SECONDS)
    root.describe_key(KeyId=second)

    by_key = json_lines(
        keyledger_audit(audited, "events", "--key", second, "--format", "json")
    )
    by_principal = json_lines(
        keyledger_audit(audited, "events", "--principal", APP_ARN, "--format", "json")
    )
    by_action = json_lines(
        keyledger_audit(audited, "events", "--action", "CreateKey", "--format", "json")
    )
    any_error = json_lines(
        keyledger_audit(audited, "events", "--error", "--format", "json")
    )
    one_error = json_lines(
        keyledger_audit(
            audited, "events", "--error", "DisabledException", "--format", "json"
        )
    )
    since = json_lines(
        keyledger_audit(
            audited, "events", "--since", iso(later - 60), "--format", "json"
        )
    )
    until = json_lines(
        keyledger_audit(
            audited, "events", "--until", iso(later - 60), "--format", "json"
        )
    )
    west_only = json_lines(
        keyledger_audit(audited, "events", "--region", "us-west-2", "--format", "json")
    )
    other_account = json_lines(
        keyledger_audit(
            audited, "events", "--account", "444455556666", "--format", "json"
        )
    )

    assert [r["eventName"] for r in by_key] == [
        "CreateKey",
        "DisableKey",
        "Encrypt",
        "DescribeKey",
    ]
    assert all(r["resources"][0]["ARN"].endswith(second) for r in by_key)
    assert [r["eventName"] for r in by_principal] == ["Encrypt", "Decrypt"]
    assert {r["userIdentity"]["arn"] for r in by_principal} == {APP_ARN}
    assert len(by_action) == 3
    assert [r["errorCode"] for r in any_error] == [
        "AccessDeniedException",
        "DisabledException",
    ]
    assert [r["errorCode"] for r in one_error] == ["DisabledException"]
    assert [r["eventName"] for r in since] == ["DescribeKey"]
    assert "DescribeKey" not in [r["eventName"] for r in until]
    assert (
        len(until)
        == len(json_lines(keyledger_audit(audited, "events", "--format", "json"))) - 1
    )
    assert [r["awsRegion"] for r in west_only] == ["us-west-2"]
    assert west_only[0]["resources"][0]["ARN"].endswith(west_key)
    assert other_account == []


def test_events_pages_with_next_token(audited: Any) -> None:
    kms = audited.client(access_key="AKIAROOT", secret_key="root-secret")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    for _ in range(6):
        kms.encrypt(KeyId=key_id, Plaintext=b"page")
    everything = json_lines(keyledger_audit(audited, "events", "--format", "json"))

    pages: list[list[dict[str, Any]]] = []
    after = "0"
    while True:
        result = keyledger_audit(
            audited, "events", "--format", "json", "--limit", "3", "--after-seq", after
        )
        pages.append(json_lines(result))
        if "next token" not in result.stderr:
            break
        after = result.stderr.split("--after-seq", 1)[1].split()[0]

    assert [len(page) for page in pages] == [3, 3, 1]
    assert [record for page in pages for record in page] == everything


def test_events_by_alias_follow_its_targets(audited: Any) -> None:
    kms = audited.client(access_key="AKIAROOT", secret_key="root-secret")
    old = kms.create_key()["KeyMetadata"]["KeyId"]
    new = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.encrypt(KeyId=old, Plaintext=b"before the alias")
    kms.create_alias(AliasName="alias/app", TargetKeyId=old)
    kms.encrypt(KeyId="alias/app", Plaintext=b"through the alias")
    kms.update_alias(AliasName="alias/app", TargetKeyId=new)
    kms.encrypt(KeyId=old, Plaintext=b"old key after the move")
    kms.encrypt(KeyId=new, Plaintext=b"new key after the move")
    kms.delete_alias(AliasName="alias/app")
    kms.encrypt(KeyId=new, Plaintext=b"after the deletion")

    result = keyledger_audit(
        audited, "events", "--key", "alias/app", "--format", "json"
    )

    records = json_lines(result)
    summary = [(r["eventName"], last_key_id(r)) for r in records]
    # The records of each key while the alias pointed at it, and the alias's
    # own changes. The alias no longer exists, so the trail found it.
    assert summary == [
        ("CreateAlias", old),
        ("Encrypt", old),
        ("UpdateAlias", new),
        ("Encrypt", new),
        ("DeleteAlias", new),
    ]
    assert f"selects key {old}" in result.stderr
    assert f"selects key {new}" in result.stderr


def test_events_rejects_bad_arguments(audited: Any) -> None:
    not_a_key = keyledger_audit(audited, "events", "--key", "not-a-key")
    bad_time = keyledger_audit(audited, "events", "--since", "yesterday")

    assert not_a_key.returncode == 1
    assert "is not a key id, key ARN, alias name or alias ARN" in not_a_key.stderr
    assert bad_time.returncode == 2
    assert "is not an ISO 8601 time" in bad_time.stderr


def test_history_names_who_caused_each_event(
    fresh_server_factory: Any,
) -> None:
    server = fresh_server_factory(extra_args=["--dev-clock"])
    kms = server.client()
    key_id = kms.create_key(Description="history")["KeyMetadata"]["KeyId"]
    kms.update_key_description(KeyId=key_id, Description="renamed")
    kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "team", "TagValue": "audit"}])
    scheduled = kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    request_id = scheduled["ResponseMetadata"]["RequestId"]
    # Past the waiting period the sweep deletes the key as a service event.
    advance(server, 8 * DAY_SECONDS)

    entries = json_lines(keyledger_audit(server, "history", key_id, "--format", "json"))
    table = keyledger_audit(server, "history", key_id)

    assert [entry["Event"] for entry in entries] == [
        "KeyCreated",
        "KeyDescriptionUpdated",
        "KeyTagged",
        "KeyDeletionScheduled",
        "KeyDeleted",
    ]
    assert [entry["Version"] for entry in entries] == [1, 2, 3, 4, 5]
    assert [entry["EventName"] for entry in entries] == [
        "CreateKey",
        "UpdateKeyDescription",
        "TagResource",
        "ScheduleKeyDeletion",
        "DeleteKey",
    ]
    assert entries[0]["CausedBy"] == "arn:aws:iam::111122223333:root"
    assert entries[3]["RequestId"] == request_id
    # CloudTrail records work KMS does itself as AwsServiceEvent, invoked by
    # kms.amazonaws.com ("Logging AWS KMS API calls with AWS CloudTrail").
    assert entries[4]["CausedBy"] == "kms.amazonaws.com"
    assert entries[4]["EventType"] == "AwsServiceEvent"
    assert table.returncode == 0, table.stderr
    assert "KeyDeleted" in table.stdout
    assert "kms.amazonaws.com (service event)" in table.stdout
