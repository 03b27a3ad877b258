"""Key rotation through boto3 and raw HTTP: EnableKeyRotation,
DisableKeyRotation, GetKeyRotationStatus, RotateKeyOnDemand, ListKeyRotations,
and automatic rotation by the sweep of a running server.

Expected values come from the AWS KMS API reference pages of each action
(API_EnableKeyRotation, API_GetKeyRotationStatus, API_RotateKeyOnDemand,
API_ListKeyRotations, API_RotationsListEntry) and from the developer guide:
"Rotate AWS KMS keys", and "Key states of AWS KMS keys", whose table details
give the error messages. The guide's AWS CLI and CloudTrail examples show the
key id, not the key ARN, in the KeyId of these responses.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

ACCOUNT_ID = "111122223333"
REGION = "us-east-1"
DAY = 86400
ONE_DAY = timedelta(days=1)
CLOCK_SLACK = timedelta(seconds=30)
WAIT_FOR_SWEEP_SECONDS = 30
# Seconds the rotation date stays ahead of the moved clock: long enough that
# the dev-clock endpoint's own sweep finds nothing due, short enough to wait.
MARGIN_SECONDS = 4
ROTATED_TOPIC = "KeyMaterialRotated"
ROTATION_ACTIONS = (
    "enable_key_rotation",
    "disable_key_rotation",
    "get_key_rotation_status",
    "rotate_key_on_demand",
    "list_key_rotations",
)


def key_arn(key_id: str) -> str:
    return f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{key_id}"


def error_of(operation: Callable[..., Any], **params: Any) -> dict[str, str]:
    """Call ``operation`` expecting a KMS error; return its code and message."""
    with pytest.raises(ClientError) as raised:
        operation(**params)
    error: dict[str, str] = raised.value.response["Error"]
    return error


def new_key(kms: Any) -> str:
    key_id: str = kms.create_key(Description="rotation")["KeyMetadata"]["KeyId"]
    return key_id


def current_material(kms: Any, key_id: str) -> str:
    material: str = kms.describe_key(KeyId=key_id)["KeyMetadata"][
        "CurrentKeyMaterialId"
    ]
    return material


def material_of(kms: Any, blob: bytes, **params: Any) -> str:
    """Decrypt ``blob`` and return the id of the key material that opened it."""
    material: str = kms.decrypt(CiphertextBlob=blob, **params)["KeyMaterialId"]
    return material


def advance_dev_clock(server: Any, seconds: float) -> None:
    response = httpx.post(
        server.endpoint + "/_keyledger/dev-clock", json={"Seconds": seconds}, timeout=60
    )
    assert response.status_code == 200, response.text


def rotation_topics(reader: Any, key_id: str) -> list[str]:
    return [t for t in reader.event_topics(key_id) if t.endswith(ROTATED_TOPIC)]


def wait_for_rotations(reader: Any, key_id: str, count: int) -> None:
    """Poll the store until the key has ``count`` rotation events."""
    deadline = time.monotonic() + WAIT_FOR_SWEEP_SECONDS
    while len(rotation_topics(reader, key_id)) < count:
        if time.monotonic() > deadline:
            topics = reader.event_topics(key_id)
            pytest.fail(f"no rotation within {WAIT_FOR_SWEEP_SECONDS} s: {topics}")
        time.sleep(0.2)


def sealing_key_rows(reader: Any, key_id: str) -> list[bytes]:
    rows = reader.query(
        "SELECT wrapped_sealing_key FROM keyledger_sealing_keys WHERE key_id = ?",
        (key_id,),
    )
    return [bytes(row[0]) for row in rows]


# GetKeyRotationStatus, EnableKeyRotation and DisableKeyRotation.


def test_new_key_rotation_is_off(kms: Any) -> None:
    key_id = new_key(kms)

    status = kms.get_key_rotation_status(KeyId=key_id)

    assert status["KeyRotationEnabled"] is False
    assert status["KeyId"] == key_id
    assert "RotationPeriodInDays" not in status
    assert "NextRotationDate" not in status
    # KeyLedger finishes on-demand rotations before replying, so none is ever
    # in progress.
    assert "OnDemandRotationStartDate" not in status


def test_enable_rotation_defaults_to_365_days(kms: Any) -> None:
    key_id = new_key(kms)
    before = datetime.now(UTC)

    response = kms.enable_key_rotation(KeyId=key_id)
    status = kms.get_key_rotation_status(KeyId=key_id)

    # API_EnableKeyRotation: the response has no members; the default period
    # is 365 days, and the first rotation is one period after enabling.
    assert set(response) == {"ResponseMetadata"}
    assert status["KeyRotationEnabled"] is True
    assert status["RotationPeriodInDays"] == 365
    next_date = status["NextRotationDate"]
    assert before + 365 * ONE_DAY - CLOCK_SLACK <= next_date
    assert next_date <= datetime.now(UTC) + 365 * ONE_DAY + CLOCK_SLACK


@pytest.mark.parametrize("period", [90, 2560])
def test_enable_rotation_accepts_period_bounds(kms: Any, period: int) -> None:
    key_id = new_key(kms)
    before = datetime.now(UTC)

    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=period)
    status = kms.get_key_rotation_status(KeyId=key_id)

    # API_EnableKeyRotation: RotationPeriodInDays is 90 to 2560.
    assert status["RotationPeriodInDays"] == period
    assert status["NextRotationDate"] >= before + period * ONE_DAY - CLOCK_SLACK
    assert status["NextRotationDate"] <= datetime.now(UTC) + period * ONE_DAY


@pytest.mark.parametrize("period", [0, 89, 2561])
def test_enable_rotation_rejects_period_outside_range(
    raw: Any, kms_error_check: Any, period: int
) -> None:
    key_id = raw.ok("CreateKey", {})["KeyMetadata"]["KeyId"]

    response = raw.call(
        "EnableKeyRotation", {"KeyId": key_id, "RotationPeriodInDays": period}
    )

    kms_error_check(response, "ValidationException")
    assert f"Value '{period}' at 'rotationPeriodInDays'" in response.message
    status = raw.ok("GetKeyRotationStatus", {"KeyId": key_id})
    assert status["KeyRotationEnabled"] is False


def test_enable_rotation_again_changes_period_and_date(kms: Any) -> None:
    key_id = new_key(kms)
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=365)
    first = kms.get_key_rotation_status(KeyId=key_id)

    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=180)
    second = kms.get_key_rotation_status(KeyId=key_id)

    # API_EnableKeyRotation: RotationPeriodInDays can change the period of a
    # key whose rotation is already on. The period still counts from the day
    # rotation was enabled.
    assert second["RotationPeriodInDays"] == 180
    moved = first["NextRotationDate"] - second["NextRotationDate"]
    assert abs(moved - 185 * ONE_DAY) < timedelta(seconds=1)


def test_disable_rotation_turns_status_off(kms: Any) -> None:
    key_id = new_key(kms)
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)

    response = kms.disable_key_rotation(KeyId=key_id)
    status = kms.get_key_rotation_status(KeyId=key_id)

    assert set(response) == {"ResponseMetadata"}
    assert status["KeyRotationEnabled"] is False
    assert "RotationPeriodInDays" not in status
    assert "NextRotationDate" not in status


def test_disable_rotation_when_off_succeeds(kms: Any) -> None:
    key_id = new_key(kms)

    kms.disable_key_rotation(KeyId=key_id)

    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False


def test_rotation_actions_accept_key_arn(kms: Any) -> None:
    key_id = new_key(kms)
    arn = key_arn(key_id)

    kms.enable_key_rotation(KeyId=arn, RotationPeriodInDays=120)
    status = kms.get_key_rotation_status(KeyId=arn)
    rotated = kms.rotate_key_on_demand(KeyId=arn)
    listed = kms.list_key_rotations(KeyId=arn)
    kms.disable_key_rotation(KeyId=arn)

    assert status["RotationPeriodInDays"] == 120
    assert status["KeyId"] == key_id
    assert rotated["KeyId"] == key_id
    assert [entry["KeyId"] for entry in listed["Rotations"]] == [key_id]


@pytest.mark.parametrize("action", ROTATION_ACTIONS)
def test_rotation_action_rejects_alias(kms: Any, action: str) -> None:
    key_id = new_key(kms)
    alias = f"alias/rotation-{key_id}"
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)

    error = error_of(getattr(kms, action), KeyId=alias)

    # These actions take the key id or key ARN only (API reference: KeyId).
    assert error["Code"] == "NotFoundException"
    assert error["Message"] == f"Invalid keyId '{alias}'"


@pytest.mark.parametrize("action", ROTATION_ACTIONS)
def test_rotation_action_on_missing_key_is_not_found(kms: Any, action: str) -> None:
    missing = "0987dcba-09fe-87dc-65ba-ab0987654321"

    error = error_of(getattr(kms, action), KeyId=missing)

    assert error["Code"] == "NotFoundException"
    assert error["Message"] == f"Key '{key_arn(missing)}' does not exist"


# Key states (the rotation calls must honour them).


def test_rotation_calls_honour_key_state(kms: Any) -> None:
    key_id = new_key(kms)
    arn = key_arn(key_id)
    kms.enable_key_rotation(KeyId=key_id)
    changes = (
        kms.enable_key_rotation,
        kms.disable_key_rotation,
        kms.rotate_key_on_demand,
    )

    kms.disable_key(KeyId=key_id)
    disabled_errors = [error_of(change, KeyId=key_id) for change in changes]
    disabled_status = kms.get_key_rotation_status(KeyId=key_id)
    kms.enable_key(KeyId=key_id)
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    pending_errors = [error_of(change, KeyId=key_id) for change in changes]
    pending_status = kms.get_key_rotation_status(KeyId=key_id)
    kms.cancel_key_deletion(KeyId=key_id)
    cancelled_status = kms.get_key_rotation_status(KeyId=key_id)

    # "Key states of AWS KMS keys": [1] DisabledException "<key ARN> is
    # disabled." and [3] KMSInvalidStateException "<key ARN> is pending
    # deletion."; GetKeyRotationStatus works in both states.
    for error in disabled_errors:
        assert error == {"Code": "DisabledException", "Message": f"{arn} is disabled."}
    for error in pending_errors:
        assert error == {
            "Code": "KMSInvalidStateException",
            "Message": f"{arn} is pending deletion.",
        }
    # API_GetKeyRotationStatus: disabling a key leaves its rotation status;
    # pending deletion reports false, and cancelling restores true.
    assert disabled_status["KeyRotationEnabled"] is True
    assert pending_status["KeyRotationEnabled"] is False
    assert cancelled_status["KeyRotationEnabled"] is True
    assert cancelled_status["RotationPeriodInDays"] == 365
    assert kms.list_key_rotations(KeyId=key_id)["Rotations"] == []


# RotateKeyOnDemand.


def test_rotate_on_demand_makes_new_material_current(kms: Any) -> None:
    key_id = new_key(kms)
    first_material = current_material(kms, key_id)
    old_blob = kms.encrypt(KeyId=key_id, Plaintext=b"old")["CiphertextBlob"]

    response = kms.rotate_key_on_demand(KeyId=key_id)

    assert response["KeyId"] == key_id
    new_material = current_material(kms, key_id)
    assert new_material != first_material
    assert len(new_material) == 64
    new_blob = kms.encrypt(KeyId=key_id, Plaintext=b"new")["CiphertextBlob"]
    assert material_of(kms, new_blob) == new_material
    assert material_of(kms, old_blob) == first_material
    assert kms.decrypt(CiphertextBlob=old_blob)["Plaintext"] == b"old"
    data_key = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    assert data_key["KeyMaterialId"] == new_material
    [entry] = kms.list_key_rotations(KeyId=key_id)["Rotations"]
    assert entry["KeyMaterialId"] == new_material
    assert entry["RotationType"] == "ON_DEMAND"
    assert entry["KeyMaterialState"] == "CURRENT"
    assert abs(entry["RotationDate"] - datetime.now(UTC)) < CLOCK_SLACK


def test_rotate_on_demand_keeps_automatic_schedule(kms: Any) -> None:
    key_id = new_key(kms)
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=730)
    before = kms.get_key_rotation_status(KeyId=key_id)

    kms.rotate_key_on_demand(KeyId=key_id)
    after = kms.get_key_rotation_status(KeyId=key_id)

    # API_RotateKeyOnDemand: on-demand rotations do not change existing
    # automatic rotation schedules.
    assert after["KeyRotationEnabled"] is True
    assert after["RotationPeriodInDays"] == 730
    assert after["NextRotationDate"] == before["NextRotationDate"]


def test_rotate_on_demand_leaves_automatic_rotation_off(kms: Any) -> None:
    key_id = new_key(kms)

    kms.rotate_key_on_demand(KeyId=key_id)

    # On-demand rotation works whether or not automatic rotation is enabled.
    status = kms.get_key_rotation_status(KeyId=key_id)
    assert status["KeyRotationEnabled"] is False
    assert "NextRotationDate" not in status


def test_rotate_on_demand_stops_after_25(kms: Any) -> None:
    key_id = new_key(kms)
    for _ in range(25):
        kms.rotate_key_on_demand(KeyId=key_id)
    material = current_material(kms, key_id)

    error = error_of(kms.rotate_key_on_demand, KeyId=key_id)

    # API_RotateKeyOnDemand: at most 25 on-demand rotations per KMS key;
    # LimitExceededException is the quota error of its error list.
    assert error["Code"] == "LimitExceededException"
    assert key_arn(key_id) in error["Message"]
    assert current_material(kms, key_id) == material
    assert len(kms.list_key_rotations(KeyId=key_id)["Rotations"]) == 25


def test_re_encrypt_onto_same_key_uses_current_material(kms: Any) -> None:
    key_id = new_key(kms)
    first_material = current_material(kms, key_id)
    context = {"purpose": "rotation"}
    old_blob = kms.encrypt(
        KeyId=key_id, Plaintext=b"move me", EncryptionContext=context
    )["CiphertextBlob"]
    kms.rotate_key_on_demand(KeyId=key_id)
    new_material = current_material(kms, key_id)

    result = kms.re_encrypt(
        CiphertextBlob=old_blob,
        SourceEncryptionContext=context,
        DestinationKeyId=key_id,
        DestinationEncryptionContext=context,
    )

    # API_ReEncrypt: SourceKeyMaterialId is the material that decrypted,
    # DestinationKeyMaterialId the one that encrypted.
    assert result["SourceKeyMaterialId"] == first_material
    assert result["DestinationKeyMaterialId"] == new_material
    assert result["KeyId"] == key_arn(key_id)
    moved = kms.decrypt(
        CiphertextBlob=result["CiphertextBlob"], EncryptionContext=context
    )
    assert moved["Plaintext"] == b"move me"
    assert moved["KeyMaterialId"] == new_material


def flip_last_byte(blob: bytes) -> bytes:
    return blob[:-1] + bytes([blob[-1] ^ 0x01])


TAMPERED_OLD_BLOBS: dict[str, Callable[[bytes, dict[str, str]], tuple[bytes, Any]]] = {
    "flipped-tag-bit": lambda blob, ctx: (flip_last_byte(blob), ctx),
    "flipped-ciphertext-bit": lambda blob, ctx: (
        blob[:-17] + bytes([blob[-17] ^ 0x80]) + blob[-16:],
        ctx,
    ),
    "truncated": lambda blob, ctx: (blob[:-1], ctx),
    "context-value-changed": lambda blob, ctx: (blob, {"tenant": "other"}),
    "context-missing": lambda blob, ctx: (blob, None),
    "context-entry-added": lambda blob, ctx: (blob, {**ctx, "extra": "1"}),
}


@pytest.mark.parametrize("case", sorted(TAMPERED_OLD_BLOBS))
def test_old_material_ciphertext_tampered_is_rejected(kms: Any, case: str) -> None:
    key_id = new_key(kms)
    context = {"tenant": "alpha"}
    old_blob = kms.encrypt(KeyId=key_id, Plaintext=b"x", EncryptionContext=context)[
        "CiphertextBlob"
    ]
    kms.rotate_key_on_demand(KeyId=key_id)
    blob, used_context = TAMPERED_OLD_BLOBS[case](old_blob, context)
    params: dict[str, Any] = {"CiphertextBlob": blob}
    if used_context is not None:
        params["EncryptionContext"] = used_context

    error = error_of(kms.decrypt, **params)

    assert error["Code"] == "InvalidCiphertextException"
    assert material_of(kms, old_blob, EncryptionContext=context) != current_material(
        kms, key_id
    )


def test_old_material_ciphertext_with_wrong_key_is_rejected(kms: Any) -> None:
    key_id = new_key(kms)
    other_key_id = new_key(kms)
    old_blob = kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    kms.rotate_key_on_demand(KeyId=key_id)

    error = error_of(kms.decrypt, CiphertextBlob=old_blob, KeyId=other_key_id)

    assert error["Code"] == "IncorrectKeyException"


# ListKeyRotations.


def test_list_rotations_of_new_key(kms: Any) -> None:
    key_id = new_key(kms)

    rotations_only = kms.list_key_rotations(KeyId=key_id)
    all_material = kms.list_key_rotations(
        KeyId=key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL"
    )

    # API_ListKeyRotations: ROTATIONS_ONLY is the default; ALL_KEY_MATERIAL
    # adds the first key material, which has no RotationDate or RotationType
    # (API_RotationsListEntry).
    assert rotations_only["Rotations"] == []
    assert rotations_only["Truncated"] is False
    assert "NextMarker" not in rotations_only
    assert all_material["Rotations"] == [
        {
            "KeyId": key_id,
            "KeyMaterialId": current_material(kms, key_id),
            "KeyMaterialState": "CURRENT",
        }
    ]


def test_list_rotations_pages_with_marker(kms: Any) -> None:
    key_id = new_key(kms)
    first_material = current_material(kms, key_id)
    for _ in range(5):
        kms.rotate_key_on_demand(KeyId=key_id)
    everything = kms.list_key_rotations(KeyId=key_id, Limit=1000)["Rotations"]

    pages = []
    params: dict[str, Any] = {"KeyId": key_id, "Limit": 2}
    while True:
        page = kms.list_key_rotations(**params)
        pages.append(page)
        if not page["Truncated"]:
            break
        params["Marker"] = page["NextMarker"]

    assert [len(page["Rotations"]) for page in pages] == [2, 2, 1]
    assert [page["Truncated"] for page in pages] == [True, True, False]
    assert "NextMarker" not in pages[-1]
    assert [e for page in pages for e in page["Rotations"]] == everything
    assert len(everything) == 5
    assert [e["KeyMaterialState"] for e in everything] == ["NON_CURRENT"] * 4 + [
        "CURRENT"
    ]
    dates = [e["RotationDate"] for e in everything]
    assert dates == sorted(dates)
    assert {e["RotationType"] for e in everything} == {"ON_DEMAND"}
    all_material = kms.list_key_rotations(
        KeyId=key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL", Limit=4
    )
    assert [e["KeyMaterialId"] for e in all_material["Rotations"]] == [
        first_material,
        *[e["KeyMaterialId"] for e in everything[:3]],
    ]
    assert all_material["Truncated"] is True


def test_list_rotations_paginator_returns_every_rotation(kms: Any) -> None:
    key_id = new_key(kms)
    for _ in range(3):
        kms.rotate_key_on_demand(KeyId=key_id)

    paginator = kms.get_paginator("list_key_rotations")
    pages = list(paginator.paginate(KeyId=key_id, PaginationConfig={"PageSize": 1}))

    assert len(pages) == 3
    assert len({p["Rotations"][0]["KeyMaterialId"] for p in pages}) == 3


def test_list_rotations_rejects_marker_of_other_list(kms: Any) -> None:
    key_id = new_key(kms)
    other_key_id = new_key(kms)
    for rotated in (key_id, other_key_id):
        kms.rotate_key_on_demand(KeyId=rotated)
        kms.rotate_key_on_demand(KeyId=rotated)
    marker = kms.list_key_rotations(KeyId=key_id, Limit=1)["NextMarker"]

    other_key = error_of(
        kms.list_key_rotations, KeyId=other_key_id, Limit=1, Marker=marker
    )
    other_option = error_of(
        kms.list_key_rotations,
        KeyId=key_id,
        Limit=1,
        Marker=marker,
        IncludeKeyMaterial="ALL_KEY_MATERIAL",
    )
    made_up = error_of(kms.list_key_rotations, KeyId=key_id, Marker="bm90IGEgbWFya2Vy")

    assert other_key["Code"] == "InvalidMarkerException"
    assert other_option["Code"] == "InvalidMarkerException"
    assert made_up["Code"] == "InvalidMarkerException"


@pytest.mark.parametrize("limit", [0, 1001])
def test_list_rotations_rejects_limit_outside_range(
    raw: Any, kms_error_check: Any, limit: int
) -> None:
    key_id = raw.ok("CreateKey", {})["KeyMetadata"]["KeyId"]

    response = raw.call("ListKeyRotations", {"KeyId": key_id, "Limit": limit})

    # API_ListKeyRotations: Limit is 1 to 1000.
    kms_error_check(response, "ValidationException")
    assert f"Value '{limit}' at 'limit'" in response.message


def test_list_rotations_of_pending_key_succeeds(kms: Any) -> None:
    key_id = new_key(kms)
    kms.rotate_key_on_demand(KeyId=key_id)
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)

    listed = kms.list_key_rotations(KeyId=key_id)

    assert len(listed["Rotations"]) == 1


# Automatic rotation by the running server's sweep.


def dev_clock_server(fresh_server_factory: Any, sweep_interval: str = "1") -> Any:
    return fresh_server_factory(
        extra_args=["--dev-clock", "--sweep-interval", sweep_interval]
    )


def test_automatic_rotation_happens_with_no_request(
    fresh_server_factory: Any, store_reader: Any
) -> None:
    server = dev_clock_server(fresh_server_factory)
    kms = server.client()
    reader = store_reader(server)
    key_id = new_key(kms)
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    first_material = current_material(kms, key_id)
    old_blob = kms.encrypt(KeyId=key_id, Plaintext=b"before")["CiphertextBlob"]

    advance_dev_clock(server, 91 * DAY)
    wait_for_rotations(reader, key_id, 1)

    [rotation] = kms.list_key_rotations(KeyId=key_id)["Rotations"]
    assert rotation["RotationType"] == "AUTOMATIC"
    assert rotation["KeyMaterialState"] == "CURRENT"
    new_material = rotation["KeyMaterialId"]
    assert new_material != first_material
    assert current_material(kms, key_id) == new_material
    new_blob = kms.encrypt(KeyId=key_id, Plaintext=b"after")["CiphertextBlob"]
    assert material_of(kms, new_blob) == new_material
    assert material_of(kms, old_blob) == first_material
    status = kms.get_key_rotation_status(KeyId=key_id)
    next_date = status["NextRotationDate"]
    assert abs(next_date - (rotation["RotationDate"] + 90 * ONE_DAY)) < timedelta(
        seconds=1
    )
    [(due,)] = reader.query(
        "SELECT rotation_due FROM keyledger_rotation_schedule WHERE key_id = ?",
        (key_id,),
    )
    assert abs(float(due) - next_date.timestamp()) < 1
    assert len(sealing_key_rows(reader, key_id)) == 2


def test_sweep_timer_rotates_when_due(
    fresh_server_factory: Any, store_reader: Any
) -> None:
    server = dev_clock_server(fresh_server_factory)
    kms = server.client()
    reader = store_reader(server)
    key_id = new_key(kms)
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)

    # The endpoint sweeps once, before the due date; the timer must do the rest.
    advance_dev_clock(server, 90 * DAY - MARGIN_SECONDS)
    assert rotation_topics(reader, key_id) == []
    wait_for_rotations(reader, key_id, 1)

    assert len(rotation_topics(reader, key_id)) == 1


def test_disabled_key_is_rotated_only_once_enabled(
    fresh_server_factory: Any, store_reader: Any
) -> None:
    server = dev_clock_server(fresh_server_factory)
    kms = server.client()
    reader = store_reader(server)
    key_id = new_key(kms)
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    kms.disable_key(KeyId=key_id)

    advance_dev_clock(server, 91 * DAY)

    # "Rotate AWS KMS keys": KMS does not rotate a disabled key; once it is
    # enabled again, a rotation that fell due meanwhile happens at once.
    assert rotation_topics(reader, key_id) == []
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    kms.enable_key(KeyId=key_id)
    wait_for_rotations(reader, key_id, 1)
    assert kms.list_key_rotations(KeyId=key_id)["Rotations"][0]["RotationType"] == (
        "AUTOMATIC"
    )


def test_on_demand_rotation_conflicts_with_imminent_automatic_one(
    fresh_server_factory: Any,
) -> None:
    server = dev_clock_server(fresh_server_factory, sweep_interval="3600")
    kms = server.client()
    key_id = new_key(kms)
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    advance_dev_clock(server, 90 * DAY - 600)

    error = error_of(kms.rotate_key_on_demand, KeyId=key_id)

    # ConflictException (API reference): an automatic rotation is scheduled to
    # begin within the next 20 minutes.
    assert error["Code"] == "ConflictException"
    assert kms.list_key_rotations(KeyId=key_id)["Rotations"] == []


def test_two_servers_sweeping_at_once_rotate_once(
    server_processes: Any, store_reader: Any
) -> None:
    data_dir, database_url = server_processes.empty_store()
    # Only the dev-clock endpoint sweeps: the timers are an hour apart.
    args = ["--dev-clock", "--sweep-interval", "3600"]
    first = server_processes.process(data_dir, database_url, args).start()
    second = server_processes.twin(first, args)
    kms = first.client()
    key_id = new_key(kms)
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    start = threading.Barrier(2)

    def advance(server: Any) -> None:
        start.wait()
        advance_dev_clock(server, 91 * DAY)

    threads = [threading.Thread(target=advance, args=(s,)) for s in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    reader = store_reader(first)
    assert len(rotation_topics(reader, key_id)) == 1
    assert len(sealing_key_rows(reader, key_id)) == 2
    assert len(second.client().list_key_rotations(KeyId=key_id)["Rotations"]) == 1


def test_every_key_material_decrypts_after_restart(
    fresh_server_factory: Any, store_reader: Any
) -> None:
    server = dev_clock_server(fresh_server_factory)
    kms = server.client()
    reader = store_reader(server)
    key_id = new_key(kms)
    context = {"case": "restart"}
    blobs: dict[str, bytes] = {}

    def encrypt_under_current(label: str) -> None:
        blobs[label] = kms.encrypt(
            KeyId=key_id, Plaintext=label.encode(), EncryptionContext=context
        )["CiphertextBlob"]

    encrypt_under_current("first")
    kms.rotate_key_on_demand(KeyId=key_id)
    encrypt_under_current("on-demand")
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    advance_dev_clock(server, 91 * DAY)
    wait_for_rotations(reader, key_id, 2)
    encrypt_under_current("automatic")
    advance_dev_clock(server, 91 * DAY)
    wait_for_rotations(reader, key_id, 3)
    encrypt_under_current("second-automatic")
    listed = kms.list_key_rotations(
        KeyId=key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL"
    )["Rotations"]

    server.restart()

    kms = server.client()
    materials = [entry["KeyMaterialId"] for entry in listed]
    assert len(set(materials)) == 4
    assert [entry.get("RotationType") for entry in listed] == [
        None,
        "ON_DEMAND",
        "AUTOMATIC",
        "AUTOMATIC",
    ]
    for label, material in zip(blobs, materials, strict=True):
        result = kms.decrypt(CiphertextBlob=blobs[label], EncryptionContext=context)
        assert result["Plaintext"] == label.encode()
        assert result["KeyMaterialId"] == material
    assert (
        kms.list_key_rotations(KeyId=key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL")[
            "Rotations"
        ]
        == listed
    )


def sealing_table_on_disk(reader: Any) -> dict[str, bytes]:
    """The bytes of the files holding the sealing-key table, as the disk has them."""
    if not reader.is_postgres:
        return reader.raw_files()
    # CHECKPOINT and pg_read_binary_file need a superuser, which the suite's
    # default URL (user postgres) is. CHECKPOINT writes buffered pages out.
    reader.query("CHECKPOINT")
    rows = reader.query(
        "SELECT pg_read_binary_file(pg_relation_filepath(?::regclass))",
        (f'"{reader.schema}".keyledger_sealing_keys',),
    )
    return {"keyledger_sealing_keys relation file": bytes(rows[0][0])}


def wait_until_erased(reader: Any, wrapped_sealing_keys: list[bytes]) -> None:
    """Poll the database files until none contains any of ``wrapped_sealing_keys``."""
    deadline = time.monotonic() + WAIT_FOR_SWEEP_SECONDS
    while True:
        holding = [
            place
            for place, content in sealing_table_on_disk(reader).items()
            if any(wrapped in content for wrapped in wrapped_sealing_keys)
        ]
        if not holding:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"erased sealing keys are still in {holding}")
        time.sleep(0.5)


def test_deleting_rotated_key_shreds_every_material(
    fresh_server_factory: Any, store_reader: Any
) -> None:
    server = dev_clock_server(fresh_server_factory)
    kms = server.client()
    reader = store_reader(server)
    key_id = new_key(kms)
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"doomed")["CiphertextBlob"]
    kms.rotate_key_on_demand(KeyId=key_id)
    kms.rotate_key_on_demand(KeyId=key_id)
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    advance_dev_clock(server, 91 * DAY)
    wait_for_rotations(reader, key_id, 3)
    wrapped = sealing_key_rows(reader, key_id)
    assert len(wrapped) == 4
    on_disk = sealing_table_on_disk(reader).values()
    # The erasure check means something only if the bytes were there.
    assert all(any(w in content for content in on_disk) for w in wrapped)

    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    advance_dev_clock(server, 7 * DAY + 60)
    deadline = time.monotonic() + WAIT_FOR_SWEEP_SECONDS
    while not reader.event_topics(key_id)[-1].endswith("KeyDeleted"):
        if time.monotonic() > deadline:
            pytest.fail("the key was not deleted")
        time.sleep(0.2)

    assert sealing_key_rows(reader, key_id) == []
    assert (
        reader.query(
            "SELECT key_id FROM keyledger_rotation_schedule WHERE key_id = ?",
            (key_id,),
        )
        == []
    )
    wait_until_erased(reader, wrapped)
    assert error_of(kms.decrypt, CiphertextBlob=blob)["Code"] in (
        "NotFoundException",
        "InvalidCiphertextException",
    )


def test_rotation_responses_over_raw_http(raw: Any) -> None:
    key_id = raw.ok("CreateKey", {})["KeyMetadata"]["KeyId"]
    raw.ok("EnableKeyRotation", {"KeyId": key_id, "RotationPeriodInDays": 90})

    status = raw.ok("GetKeyRotationStatus", {"KeyId": key_id})
    rotated = raw.ok("RotateKeyOnDemand", {"KeyId": key_id})
    listed = raw.ok("ListKeyRotations", {"KeyId": key_id})

    # Timestamps travel as epoch seconds, as in every JSON 1.1 response.
    assert isinstance(status["NextRotationDate"], int | float)
    assert rotated == {"KeyId": key_id}
    [entry] = listed["Rotations"]
    assert isinstance(entry["RotationDate"], int | float)
    assert set(entry) == {
        "KeyId",
        "KeyMaterialId",
        "KeyMaterialState",
        "RotationDate",
        "RotationType",
    }


def test_list_key_rotations_rejects_marker_with_non_ascii_digits(kms: Any) -> None:
    import base64

    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    forged = base64.urlsafe_b64encode(f"rotations:{key_id}:0:\u00b2".encode()).decode()

    with pytest.raises(ClientError) as failure:
        kms.list_key_rotations(KeyId=key_id, Marker=forged)

    assert failure.value.response["Error"]["Code"] == "InvalidMarkerException"
