"""Automatic rotation by the sweep, in-process, with a clock the test moves.

Requests go through the whole protocol layer (SigV4, validation, handler) by
``functions.protocol.handle``; the sweep runs either by ``run_sweep`` or by
the FastAPI app's own timer. Each test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from domain.clock import AdjustableClock
from domain.rotation import RotationType
from events.projection import SealingKeyRow
from functions.app import create_app
from functions.services import Services
from functions.settings import Settings
from functions.sweep import run_sweep

from .conftest import serve_signed

DAY = timedelta(days=1)
WAIT_FOR_TIMER_SECONDS = 20


def call(services: Services, action: str, params: dict[str, Any]) -> dict[str, Any]:
    """Serve a signed request; it must succeed."""
    status, body = serve_signed(services, action, params)
    result: dict[str, Any] = json.loads(body)
    assert status == 200, (action, result)
    return result


def encrypt(services: Services, key_id: str, plaintext: bytes) -> str:
    params = {"KeyId": key_id, "Plaintext": base64.b64encode(plaintext).decode()}
    blob: str = call(services, "Encrypt", params)["CiphertextBlob"]
    return blob


def decrypt(services: Services, blob: str) -> tuple[bytes, str]:
    """Return the plaintext and the id of the key material that opened it."""
    result = call(services, "Decrypt", {"CiphertextBlob": blob})
    return base64.b64decode(result["Plaintext"]), str(result["KeyMaterialId"])


def current_material(services: Services, key_id: str) -> str:
    metadata = call(services, "DescribeKey", {"KeyId": key_id})["KeyMetadata"]
    return str(metadata["CurrentKeyMaterialId"])


def rotating_key(services: Services, period: int = 90) -> str:
    key_id: str = call(services, "CreateKey", {})["KeyMetadata"]["KeyId"]
    call(
        services,
        "EnableKeyRotation",
        {"KeyId": key_id, "RotationPeriodInDays": period},
    )
    return key_id


def test_sweep_rotates_due_key_with_no_request(
    open_services: Callable[..., Services],
) -> None:
    clock = AdjustableClock()
    services = open_services(clock)
    key_id = rotating_key(services, 90)
    first_material = current_material(services, key_id)
    old_blob = encrypt(services, key_id, b"before rotation")

    clock.advance(89 * DAY)
    early = run_sweep(services)
    clock.advance(2 * DAY)
    before_sweep = clock.now()
    report = run_sweep(services)

    assert early.rotated_key_ids == []
    assert report.rotated_key_ids == [key_id]
    stored = services.store.load_key(key_id)
    assert stored is not None
    [rotation] = stored.rotations
    assert rotation.rotation_type is RotationType.AUTOMATIC
    assert before_sweep <= rotation.rotation_date <= clock.now()
    new_material = rotation.key_material_id
    assert new_material != first_material
    assert services.store.wrapped_sealing_key(new_material) is not None
    assert current_material(services, key_id) == new_material
    new_blob = encrypt(services, key_id, b"after rotation")
    assert decrypt(services, new_blob) == (b"after rotation", new_material)
    assert decrypt(services, old_blob) == (b"before rotation", first_material)
    status = call(services, "GetKeyRotationStatus", {"KeyId": key_id})
    expected_next = rotation.rotation_date + 90 * DAY
    assert status["NextRotationDate"] == pytest.approx(expected_next.timestamp(), abs=1)
    assert run_sweep(services).rotated_key_ids == []


def test_re_encrypt_moves_old_ciphertext_to_current_material(
    open_services: Callable[..., Services],
) -> None:
    clock = AdjustableClock()
    services = open_services(clock)
    key_id = rotating_key(services, 90)
    first_material = current_material(services, key_id)
    old_blob = encrypt(services, key_id, b"kept secret")
    clock.advance(91 * DAY)
    run_sweep(services)
    new_material = current_material(services, key_id)

    result = call(
        services,
        "ReEncrypt",
        {"CiphertextBlob": old_blob, "DestinationKeyId": key_id},
    )

    # ReEncrypt (API reference): SourceKeyMaterialId names the material that
    # decrypted, DestinationKeyMaterialId the one that encrypted.
    assert result["SourceKeyMaterialId"] == first_material
    assert result["DestinationKeyMaterialId"] == new_material
    assert decrypt(services, result["CiphertextBlob"]) == (b"kept secret", new_material)


def test_server_timer_rotates_due_key(
    settings: Settings, open_services: Callable[..., Services]
) -> None:
    settings.sweep_interval = 0.05
    clock = AdjustableClock()
    services = open_services(clock)
    key_id = rotating_key(services, 90)
    clock.advance(91 * DAY)

    app = create_app(services)

    async def serve_until_rotated() -> list[RotationType]:
        # The app's lifespan starts the sweep timer, as uvicorn would.
        async with app.router.lifespan_context(app):
            deadline = time.monotonic() + WAIT_FOR_TIMER_SECONDS
            while time.monotonic() < deadline:
                stored = services.store.load_key(key_id)
                if stored is not None and stored.rotations:
                    return [rotation.rotation_type for rotation in stored.rotations]
                await asyncio.sleep(0.05)
        return []

    assert asyncio.run(serve_until_rotated()) == [RotationType.AUTOMATIC]


def test_disabled_key_is_rotated_once_enabled_again(
    open_services: Callable[..., Services],
) -> None:
    clock = AdjustableClock()
    services = open_services(clock)
    key_id = rotating_key(services, 90)
    call(services, "DisableKey", {"KeyId": key_id})
    clock.advance(120 * DAY)

    while_disabled = run_sweep(services)
    call(services, "EnableKey", {"KeyId": key_id})
    enabled_at = clock.now()
    after_enable = run_sweep(services)

    assert while_disabled.rotated_key_ids == []
    assert after_enable.rotated_key_ids == [key_id]
    status = call(services, "GetKeyRotationStatus", {"KeyId": key_id})
    assert status["NextRotationDate"] == pytest.approx(
        (enabled_at + 90 * DAY).timestamp(), abs=5
    )


def test_key_pending_deletion_is_not_rotated(
    open_services: Callable[..., Services],
) -> None:
    clock = AdjustableClock()
    services = open_services(clock)
    key_id = rotating_key(services, 90)
    clock.advance(85 * DAY)
    call(services, "ScheduleKeyDeletion", {"KeyId": key_id, "PendingWindowInDays": 7})
    clock.advance(6 * DAY)

    while_pending = run_sweep(services)
    call(services, "CancelKeyDeletion", {"KeyId": key_id})
    after_cancel = run_sweep(services)
    call(services, "EnableKey", {"KeyId": key_id})
    after_enable = run_sweep(services)

    assert while_pending.rotated_key_ids == []
    # A cancelled deletion leaves the key disabled, so it still waits.
    assert after_cancel.rotated_key_ids == []
    assert after_enable.rotated_key_ids == [key_id]


def test_restarted_process_catches_up_once(
    open_services: Callable[..., Services],
) -> None:
    first_clock = AdjustableClock()
    before_stop = open_services(first_clock)
    key_id = rotating_key(before_stop, 90)
    before_stop.close()
    # The next process starts a year later: four periods have passed.
    clock = AdjustableClock()
    clock.advance(365 * DAY)
    after_start = open_services(clock)

    first_sweep = run_sweep(after_start)
    second_sweep = run_sweep(after_start)

    assert first_sweep.rotated_key_ids == [key_id]
    assert second_sweep.rotated_key_ids == []
    stored = after_start.store.load_key(key_id)
    assert stored is not None
    assert len(stored.rotations) == 1
    assert stored.next_rotation_date is not None
    assert stored.next_rotation_date > clock.now() + 89 * DAY


def test_sweeper_that_loses_race_rotates_nothing(
    open_services: Callable[..., Services], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = AdjustableClock()
    winner = open_services(clock)
    loser = open_services(clock)
    key_id = rotating_key(winner, 90)
    clock.advance(91 * DAY)
    # The loser read the schedule and the key before the winner saved.
    due_key_ids = loser.store.keys_due_for_rotation(clock.now().timestamp())
    stale_key = loser.store.load_key(key_id)
    sealed_by_loser: list[SealingKeyRow] = []
    seal = loser.vault.seal_new_material

    def record_seal(account_id: str, region: str, key: str) -> Any:
        result = seal(account_id, region, key)
        sealed_by_loser.append(result[2])
        return result

    monkeypatch.setattr(loser.vault, "seal_new_material", record_seal)

    won = run_sweep(winner)
    monkeypatch.setattr(loser.store, "keys_due_for_rotation", lambda *_: due_key_ids)
    monkeypatch.setattr(loser.store, "load_key", lambda _: stale_key)
    lost = run_sweep(loser)

    assert due_key_ids == [key_id]
    assert won.rotated_key_ids == [key_id]
    assert lost.rotated_key_ids == []
    stored = winner.store.load_key(key_id)
    assert stored is not None
    assert len(stored.rotations) == 1
    # The loser's sealing key was in the transaction that failed.
    [loser_row] = sealed_by_loser
    assert loser.store.wrapped_sealing_key(loser_row.key_material_id) is None


def test_concurrent_sweeps_rotate_once(
    open_services: Callable[..., Services],
) -> None:
    clock = AdjustableClock()
    sweepers = [open_services(clock) for _ in range(3)]
    key_id = rotating_key(sweepers[0], 90)
    clock.advance(91 * DAY)
    start = threading.Barrier(len(sweepers))
    rotated: list[str] = []

    def sweep(services: Services) -> None:
        start.wait()
        rotated.extend(run_sweep(services).rotated_key_ids)

    threads = [threading.Thread(target=sweep, args=(s,)) for s in sweepers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert rotated == [key_id]
    stored = sweepers[0].store.load_key(key_id)
    assert stored is not None
    assert len(stored.rotations) == 1


def test_rotation_events_survive_replay(
    open_services: Callable[..., Services],
) -> None:
    clock = AdjustableClock()
    services = open_services(clock)
    key_id = rotating_key(services, 180)
    call(services, "RotateKeyOnDemand", {"KeyId": key_id})
    clock.advance(181 * DAY)
    run_sweep(services)

    replayed = open_services(clock).store.load_key(key_id)

    assert replayed is not None
    assert replayed.rotation_period_in_days == 180
    assert [r.rotation_type for r in replayed.rotations] == [
        RotationType.ON_DEMAND,
        RotationType.AUTOMATIC,
    ]
    rotated_at = replayed.rotations[-1].rotation_date
    assert replayed.next_rotation_date == rotated_at + 180 * DAY
    assert len(replayed.key_materials) == 3
    assert replayed.current_key_material_id == replayed.rotations[-1].key_material_id
