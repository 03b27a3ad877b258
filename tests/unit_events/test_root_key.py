"""The root key provider: a 32-byte owner-only file, or base64 in the environment."""

from __future__ import annotations

import base64
import multiprocessing
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from events.root_key import (
    RootKeyError,
    load_or_create_root_key_file,
    root_key_from_environment,
)

RACERS = 8
RACE_ROUNDS = 5


def file_mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# The file provider.


def test_new_root_key_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "data" / "root.key"

    root_key = load_or_create_root_key_file(path)

    assert len(root_key) == 32
    assert path.read_bytes() == root_key
    assert file_mode(path) == 0o600
    assert file_mode(path.parent) == 0o700
    assert sorted(p.name for p in path.parent.iterdir()) == ["root.key"]


def test_root_key_file_ignores_open_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        path = tmp_path / "root.key"
        load_or_create_root_key_file(path)
    finally:
        os.umask(previous)

    assert file_mode(path) == 0o600


def test_existing_root_key_file_is_reused(tmp_path: Path) -> None:
    path = tmp_path / "root.key"
    first = load_or_create_root_key_file(path)
    inode = path.stat().st_ino

    second = load_or_create_root_key_file(path)

    assert second == first
    assert path.stat().st_ino == inode


def test_root_key_file_is_read_as_given(tmp_path: Path) -> None:
    path = tmp_path / "root.key"
    path.write_bytes(bytes(range(32)))

    assert load_or_create_root_key_file(path) == bytes(range(32))


def test_each_new_file_gets_its_own_root_key(tmp_path: Path) -> None:
    first = load_or_create_root_key_file(tmp_path / "one" / "root.key")
    second = load_or_create_root_key_file(tmp_path / "two" / "root.key")

    assert first != second


@pytest.mark.parametrize("length", [0, 16, 31, 33, 64])
def test_root_key_file_of_wrong_length_is_rejected(tmp_path: Path, length: int) -> None:
    path = tmp_path / "root.key"
    path.write_bytes(b"\x01" * length)

    with pytest.raises(RootKeyError) as caught:
        load_or_create_root_key_file(path)

    assert str(path) in str(caught.value)
    assert path.read_bytes() == b"\x01" * length


def test_unreadable_root_key_path_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "root.key"
    path.mkdir()

    with pytest.raises(RootKeyError) as caught:
        load_or_create_root_key_file(path)

    assert str(path) in str(caught.value)


def _race_for_root_key(path: str, barrier: Any, results: Any) -> None:
    try:
        barrier.wait(timeout=30)
        root_key = load_or_create_root_key_file(Path(path))
        results.put(("ok", root_key.hex()))
    except BaseException as error:
        results.put(("error", repr(error)))


def test_processes_racing_on_empty_directory_agree(tmp_path: Path) -> None:
    # fork, because the worker is defined in a test module that a spawned
    # interpreter could not import by name.
    context = multiprocessing.get_context("fork")
    for round_number in range(RACE_ROUNDS):
        directory = tmp_path / f"round{round_number}"
        path = directory / "root.key"
        barrier = context.Barrier(RACERS)
        results = context.Queue()
        processes = [
            context.Process(
                target=_race_for_root_key, args=(str(path), barrier, results)
            )
            for _ in range(RACERS)
        ]
        for process in processes:
            process.start()
        outcomes = [results.get(timeout=60) for _ in range(RACERS)]
        for process in processes:
            process.join(timeout=60)

        assert [status for status, _ in outcomes] == ["ok"] * RACERS, outcomes
        assert {value for _, value in outcomes} == {path.read_bytes().hex()}
        assert sorted(p.name for p in directory.iterdir()) == ["root.key"]
        assert file_mode(path) == 0o600
        assert all(process.exitcode == 0 for process in processes)


# The environment provider.


def test_base64_root_key_from_environment_is_decoded() -> None:
    root_key = bytes(range(32))

    assert root_key_from_environment(base64.b64encode(root_key).decode()) == root_key


@pytest.mark.parametrize(
    "value",
    [
        "not base64!",
        base64.b64encode(bytes(range(32))).decode().rstrip("="),
        base64.b64encode(bytes(range(32))).decode() + "\n",
        " " + base64.b64encode(bytes(range(32))).decode(),
        # The URL-safe alphabet, in which bytes 0xfb 0xff give '-' and '_'.
        base64.urlsafe_b64encode(b"\xfb\xff" * 16).decode(),
    ],
)
def test_malformed_base64_in_environment_is_rejected(value: str) -> None:
    with pytest.raises(RootKeyError) as caught:
        root_key_from_environment(value)

    assert value.strip() not in str(caught.value)


@pytest.mark.parametrize("length", [0, 16, 31, 33, 64])
def test_environment_root_key_of_wrong_length_is_rejected(length: int) -> None:
    value = base64.b64encode(b"\x07" * length).decode()

    with pytest.raises(RootKeyError) as caught:
        root_key_from_environment(value)

    message = str(caught.value)
    assert "32" in message
    if value:
        assert value not in message
