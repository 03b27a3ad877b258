"""Closing the services while a sweep runs.

The local server runs each sweep in a worker thread, which cancelling the
sweeper's asyncio task does not stop. Closing SQLite under a WAL checkpoint
that still runs crashed the process with SIGSEGV, so close() must wait.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from functions.services import Services, build_services
from functions.settings import Settings
from functions.sweep import SweepReport, run_sweep


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    built = build_services(Settings(data_dir=tmp_path / "data"))
    yield built
    if not built.closed:
        built.close()


def test_close_waits_for_running_sweep(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    sweep_started = threading.Event()
    sweep_may_end = threading.Event()
    store_closed = threading.Event()
    closed_while_sweeping: list[bool] = []
    retry_shred = services.store.retry_shred
    close_store = services.store.close

    def blocking_retry_shred() -> None:
        sweep_started.set()
        sweep_may_end.wait(30)
        closed_while_sweeping.append(store_closed.is_set())
        retry_shred()

    def recording_close() -> None:
        store_closed.set()
        close_store()

    monkeypatch.setattr(services.store, "retry_shred", blocking_retry_shred)
    monkeypatch.setattr(services.store, "close", recording_close)
    sweeper = threading.Thread(target=run_sweep, args=(services,))
    sweeper.start()
    assert sweep_started.wait(30)

    closer = threading.Thread(target=services.close)
    closer.start()
    closer.join(timeout=0.5)
    still_waiting = closer.is_alive()
    sweep_may_end.set()
    sweeper.join(30)
    closer.join(30)

    assert still_waiting
    assert closed_while_sweeping == [False]
    assert store_closed.is_set()


def test_sweep_after_close_does_nothing(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    services.close()

    def fail() -> None:
        raise AssertionError("the sweep used the closed store")

    monkeypatch.setattr(services.store, "retry_shred", fail)

    assert run_sweep(services) == SweepReport()
