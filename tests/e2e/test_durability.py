"""What the store keeps across restarts and shares between server processes.

Each test runs on SQLite and on PostgreSQL. Several processes on one store
must never see stale state: a change written by one is seen by the other on
its very next request.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

# Errors a write may end with when every retry of an optimistic-concurrency
# race is lost: KMSInternalException is what AWS KMS returns for a service
# fault (AWS KMS API Reference, Common Errors and each action's Errors list).
RETRY_EXHAUSTED_ERRORS = {"KMSInternalException"}


def error_code(call: Callable[..., Any], **params: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call(**params)
    return str(caught.value.response["Error"]["Code"])


# Restart.


def test_restart_keeps_keys_aliases_tags_and_ciphertexts(
    fresh_server_factory: Any,
) -> None:
    server = fresh_server_factory()
    kms = server.client()
    enabled = kms.create_key(
        Description="kept across restarts",
        Tags=[{"TagKey": "team", "TagValue": "ledger"}],
    )["KeyMetadata"]
    disabled = kms.create_key()["KeyMetadata"]
    pending = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/durable", TargetKeyId=enabled["KeyId"])
    kms.tag_resource(
        KeyId=enabled["KeyId"], Tags=[{"TagKey": "stage", "TagValue": "test"}]
    )
    kms.untag_resource(KeyId=enabled["KeyId"], TagKeys=["team"])
    blob = kms.encrypt(
        KeyId="alias/durable",
        Plaintext=b"before the restart",
        EncryptionContext={"purpose": "durability"},
    )["CiphertextBlob"]
    data_key = kms.generate_data_key(KeyId=enabled["KeyId"], KeySpec="AES_256")
    disabled_blob = kms.encrypt(KeyId=disabled["KeyId"], Plaintext=b"x")[
        "CiphertextBlob"
    ]
    kms.disable_key(KeyId=disabled["KeyId"])
    deletion_date = kms.schedule_key_deletion(
        KeyId=pending["KeyId"], PendingWindowInDays=7
    )["DeletionDate"]

    server.restart()
    kms = server.client()

    decrypted = kms.decrypt(
        CiphertextBlob=blob, EncryptionContext={"purpose": "durability"}
    )
    assert decrypted["Plaintext"] == b"before the restart"
    assert decrypted["KeyId"] == enabled["Arn"]
    reopened = kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"])
    assert reopened["Plaintext"] == data_key["Plaintext"]
    described = kms.describe_key(KeyId="alias/durable")["KeyMetadata"]
    assert described["KeyId"] == enabled["KeyId"]
    assert described["Description"] == "kept across restarts"
    assert described["CreationDate"] == enabled["CreationDate"]
    assert kms.list_resource_tags(KeyId=enabled["KeyId"])["Tags"] == [
        {"TagKey": "stage", "TagValue": "test"}
    ]
    aliases = {a["AliasName"]: a for a in kms.list_aliases()["Aliases"]}
    assert aliases["alias/durable"]["TargetKeyId"] == enabled["KeyId"]
    assert kms.describe_key(KeyId=disabled["KeyId"])["KeyMetadata"]["KeyState"] == (
        "Disabled"
    )
    assert error_code(kms.decrypt, CiphertextBlob=disabled_blob) == "DisabledException"
    pending_now = kms.describe_key(KeyId=pending["KeyId"])["KeyMetadata"]
    assert pending_now["KeyState"] == "PendingDeletion"
    assert pending_now["DeletionDate"] == deletion_date
    listed = {k["KeyId"] for k in kms.list_keys()["Keys"]}
    assert listed == {enabled["KeyId"], disabled["KeyId"], pending["KeyId"]}


def test_restart_twice_keeps_the_root_key(fresh_server_factory: Any) -> None:
    server = fresh_server_factory()
    root_key = (server.data_dir / "root.key").read_bytes()
    kms = server.client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"twice")["CiphertextBlob"]

    server.restart()
    server.restart()

    assert (server.data_dir / "root.key").read_bytes() == root_key
    assert server.client().decrypt(CiphertextBlob=blob)["Plaintext"] == b"twice"


# Two processes on one store.


def test_second_server_uses_new_key_at_once(
    fresh_server_factory: Any, server_processes: Any
) -> None:
    first = fresh_server_factory()
    second = server_processes.twin(first)
    kms_first, kms_second = first.client(), second.client()

    key = kms_first.create_key(Description="shared")["KeyMetadata"]
    kms_first.create_alias(AliasName="alias/shared", TargetKeyId=key["KeyId"])
    blob = kms_second.encrypt(KeyId="alias/shared", Plaintext=b"across")[
        "CiphertextBlob"
    ]

    assert kms_first.decrypt(CiphertextBlob=blob)["Plaintext"] == b"across"
    assert kms_second.describe_key(KeyId=key["KeyId"])["KeyMetadata"][
        "Description"
    ] == ("shared")
    assert [k["KeyId"] for k in kms_second.list_keys()["Keys"]] == [key["KeyId"]]


def test_second_server_refuses_disabled_key_at_once(
    fresh_server_factory: Any, server_processes: Any
) -> None:
    first = fresh_server_factory()
    second = server_processes.twin(first)
    kms_first, kms_second = first.client(), second.client()
    key_id = kms_first.create_key()["KeyMetadata"]["KeyId"]
    # Warm the second server's caches of the key and its opened material.
    blob = kms_second.encrypt(KeyId=key_id, Plaintext=b"cached")["CiphertextBlob"]
    assert kms_second.decrypt(CiphertextBlob=blob)["Plaintext"] == b"cached"

    kms_first.disable_key(KeyId=key_id)

    assert error_code(kms_second.encrypt, KeyId=key_id, Plaintext=b"x") == (
        "DisabledException"
    )
    assert error_code(kms_second.decrypt, CiphertextBlob=blob) == "DisabledException"
    assert (
        error_code(kms_second.generate_data_key, KeyId=key_id, KeySpec="AES_256")
        == "DisabledException"
    )
    assert kms_second.describe_key(KeyId=key_id)["KeyMetadata"]["Enabled"] is False

    kms_first.enable_key(KeyId=key_id)

    assert kms_second.decrypt(CiphertextBlob=blob)["Plaintext"] == b"cached"


def test_second_server_sees_scheduled_deletion(
    fresh_server_factory: Any, server_processes: Any
) -> None:
    first = fresh_server_factory()
    second = server_processes.twin(first)
    kms_first, kms_second = first.client(), second.client()
    key_id = kms_first.create_key()["KeyMetadata"]["KeyId"]
    blob = kms_second.encrypt(KeyId=key_id, Plaintext=b"soon gone")["CiphertextBlob"]

    kms_first.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)

    assert error_code(kms_second.decrypt, CiphertextBlob=blob) == (
        "KMSInvalidStateException"
    )
    kms_second.cancel_key_deletion(KeyId=key_id)
    assert kms_first.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"


def test_second_server_follows_moved_alias(
    fresh_server_factory: Any, server_processes: Any
) -> None:
    first = fresh_server_factory()
    second = server_processes.twin(first)
    kms_first, kms_second = first.client(), second.client()
    old_key = kms_first.create_key()["KeyMetadata"]
    new_key = kms_first.create_key()["KeyMetadata"]
    kms_first.create_alias(AliasName="alias/moving", TargetKeyId=old_key["KeyId"])
    assert (
        kms_second.encrypt(KeyId="alias/moving", Plaintext=b"a")["KeyId"]
        == (old_key["Arn"])
    )

    kms_first.update_alias(AliasName="alias/moving", TargetKeyId=new_key["KeyId"])

    assert (
        kms_second.encrypt(KeyId="alias/moving", Plaintext=b"a")["KeyId"]
        == (new_key["Arn"])
    )


WRITERS = 8
ROUNDS = 6


def test_concurrent_writers_on_two_servers_leave_consistent_state(
    fresh_server_factory: Any, server_processes: Any, store_reader: Any
) -> None:
    first = fresh_server_factory()
    second = server_processes.twin(first)
    key_id = first.client().create_key(Description="start")["KeyMetadata"]["KeyId"]
    # boto3 builds clients through a shared session that is not thread-safe,
    # so every writer's client is made here, before the threads start.
    clients = [(first if n % 2 == 0 else second).client() for n in range(WRITERS)]
    start = threading.Barrier(WRITERS)
    lock = threading.Lock()
    successes: list[tuple[int, int, str]] = []
    failures: list[str] = []

    def write_once(kms: Any, writer: int, round_number: int) -> str:
        if round_number % 2 == 0:
            kms.tag_resource(
                KeyId=key_id,
                Tags=[
                    {"TagKey": f"writer-{writer}", "TagValue": f"round-{round_number}"}
                ],
            )
            return "tag"
        kms.update_key_description(
            KeyId=key_id, Description=f"writer-{writer}-round-{round_number}"
        )
        return "describe"

    def write(writer: int) -> None:
        kms = clients[writer]
        start.wait()
        for round_number in range(ROUNDS):
            try:
                operation = write_once(kms, writer, round_number)
            except ClientError as error:
                with lock:
                    failures.append(str(error.response["Error"]["Code"]))
                continue
            with lock:
                successes.append((writer, round_number, operation))

    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(write, range(WRITERS)))

    assert set(failures) <= RETRY_EXHAUSTED_ERRORS, failures
    assert len(successes) + len(failures) == WRITERS * ROUNDS
    # Most writes must get through: retries exist so that races are not errors.
    assert len(successes) >= WRITERS * ROUNDS // 2, (len(successes), failures)

    expected_tags = {}
    for writer in range(WRITERS):
        tagged = [r for w, r, op in successes if w == writer and op == "tag"]
        if tagged:
            expected_tags[f"writer-{writer}"] = f"round-{max(tagged)}"
    descriptions = {
        f"writer-{w}-round-{r}" for w, r, op in successes if op == "describe"
    }
    for server in (first, second):
        kms = server.client()
        tags = {
            t["TagKey"]: t["TagValue"]
            for t in kms.list_resource_tags(KeyId=key_id)["Tags"]
        }
        assert tags == expected_tags
        description = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Description"]
        assert description in descriptions
    # One event per write that succeeded, after the creation: none lost, none
    # doubled by a retry.
    topics = store_reader(first).event_topics(key_id)
    assert len(topics) == 1 + len(successes)
    assert topics[0].endswith("KeyCreated")


def test_concurrent_creates_on_two_servers_all_listed(
    fresh_server_factory: Any, server_processes: Any
) -> None:
    first = fresh_server_factory()
    second = server_processes.twin(first)
    clients = [(first if n % 2 == 0 else second).client() for n in range(WRITERS)]

    def create(writer: int) -> list[str]:
        return [clients[writer].create_key()["KeyMetadata"]["KeyId"] for _ in range(5)]

    with ThreadPoolExecutor(WRITERS) as pool:
        created = [key for keys in pool.map(create, range(WRITERS)) for key in keys]

    for server in (first, second):
        kms = server.client()
        listed = []
        marker: dict[str, str] = {}
        while True:
            page = kms.list_keys(Limit=7, **marker)
            listed += [k["KeyId"] for k in page["Keys"]]
            if not page.get("Truncated"):
                break
            marker = {"Marker": page["NextMarker"]}
        assert sorted(listed) == sorted(created)
        assert len(set(listed)) == WRITERS * 5


# Start and stop.


@pytest.mark.parametrize(
    "sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"]
)
def test_signal_stops_server_cleanly(fresh_server_factory: Any, sig: int) -> None:
    server = fresh_server_factory()
    server.client().create_key()

    exit_code = server.stop(sig)

    assert exit_code == 0
    log = server.log_text()
    assert "KeyLedger stopped" in log
    assert "Traceback" not in log


def test_start_up_log_names_address_and_store(
    fresh_server_factory: Any,
) -> None:
    server = fresh_server_factory()

    log = server.log_text()

    line = next(line for line in log.splitlines() if "KeyLedger listening" in line)
    assert f"http://127.0.0.1:{server.port}" in line
    assert str(server.data_dir) in line
    if server.database_url:
        assert "store postgresql://127.0.0.1:5432/" in line
        assert "password" not in line
    else:
        assert f"store sqlite:{server.data_dir / 'keyledger.sqlite3'}" in line


def test_simultaneous_start_shares_one_root_key(
    server_processes: Any,
) -> None:
    data_dir, database_url = server_processes.empty_store()
    servers = [server_processes.process(data_dir, database_url) for _ in range(2)]
    errors: list[BaseException] = []

    def start(server: Any) -> None:
        try:
            server.start()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=start, args=(s,)) for s in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors, errors
    root_key = data_dir / "root.key"
    assert len(root_key.read_bytes()) == 32
    assert root_key.stat().st_mode & 0o777 == 0o600
    assert not [p for p in data_dir.iterdir() if p.name.startswith(".root.key")]
    first, second = (server.client() for server in servers)
    key_first = first.create_key()["KeyMetadata"]["KeyId"]
    key_second = second.create_key()["KeyMetadata"]["KeyId"]
    blob_first = first.encrypt(KeyId=key_first, Plaintext=b"one")["CiphertextBlob"]
    blob_second = second.encrypt(KeyId=key_second, Plaintext=b"two")["CiphertextBlob"]
    assert second.decrypt(CiphertextBlob=blob_first)["Plaintext"] == b"one"
    assert first.decrypt(CiphertextBlob=blob_second)["Plaintext"] == b"two"


def test_server_refuses_a_root_key_other_than_the_stores(
    fresh_server_factory: Any,
) -> None:
    import base64
    import os as os_module

    first = fresh_server_factory()
    key_id = first.client().create_key()["KeyMetadata"]["KeyId"]
    first.stop()
    other_root_key = base64.b64encode(os_module.urandom(32)).decode("ascii")

    # Same store, same data directory, another root key from the environment.
    wrong = type(first)(
        data_dir=first.data_dir,
        database_url=first.database_url,
        env={"KEYLEDGER_ROOT_KEY": other_root_key},
    )
    with pytest.raises(RuntimeError) as failure:
        wrong.start()

    assert "root key does not match" in str(failure.value)
    restarted = first.start()
    encrypted = restarted.client().encrypt(KeyId=key_id, Plaintext=b"x")
    assert encrypted["KeyId"].endswith(key_id)
