"""Imported key material in-process, with a clock the test moves.

Requests go through the whole protocol layer (SigV4, validation, handler) by
``functions.protocol.handle``; the sweep runs by ``run_sweep``, as the
server's timer and the Lambda sweep handler run it. Each test runs on SQLite
and on PostgreSQL.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from domain.clock import AdjustableClock
from domain.key_import import wrapping_key_sealing_id
from functions.services import Services
from functions.settings import Settings
from functions.sweep import run_sweep

from .conftest import serve_signed

DAY = timedelta(days=1)
OAEP_SHA_256 = padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)


def serve(
    services: Services, action: str, params: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    """Serve a signed request; return the status and the decoded body."""
    status, body = serve_signed(services, action, params)
    result: dict[str, Any] = json.loads(body)
    return status, result


def call(services: Services, action: str, params: dict[str, Any]) -> dict[str, Any]:
    status, result = serve(services, action, params)
    assert status == 200, (action, result)
    return result


def error_type(services: Services, action: str, params: dict[str, Any]) -> str:
    status, result = serve(services, action, params)
    assert status == 400, (action, result)
    return str(result["__type"])


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def external_key(services: Services) -> str:
    metadata = call(services, "CreateKey", {"Origin": "EXTERNAL"})["KeyMetadata"]
    return str(metadata["KeyId"])


def get_parameters(services: Services, key_id: str) -> dict[str, Any]:
    return call(
        services,
        "GetParametersForImport",
        {
            "KeyId": key_id,
            "WrappingAlgorithm": "RSAES_OAEP_SHA_256",
            "WrappingKeySpec": "RSA_2048",
        },
    )


def import_params(
    key_id: str, issued: dict[str, Any], material: bytes, **options: Any
) -> dict[str, Any]:
    public_key = serialization.load_der_public_key(
        base64.b64decode(issued["PublicKey"])
    )
    assert isinstance(public_key, rsa.RSAPublicKey)
    return {
        "KeyId": key_id,
        "ImportToken": issued["ImportToken"],
        "EncryptedKeyMaterial": b64(public_key.encrypt(material, OAEP_SHA_256)),
        **options,
    }


def import_material(
    services: Services, key_id: str, material: bytes, **options: Any
) -> dict[str, Any]:
    options.setdefault("ExpirationModel", "KEY_MATERIAL_DOES_NOT_EXPIRE")
    issued = get_parameters(services, key_id)
    params = import_params(key_id, issued, material, **options)
    return call(services, "ImportKeyMaterial", params)


def state_of(services: Services, key_id: str) -> str:
    metadata = call(services, "DescribeKey", {"KeyId": key_id})["KeyMetadata"]
    return str(metadata["KeyState"])


def test_sweep_expires_material_at_valid_to(
    open_services: Callable[[AdjustableClock], Services],
) -> None:
    clock = AdjustableClock()
    services = open_services(clock)
    key_id = external_key(services)
    material = os.urandom(32)
    valid_to = clock.now() + 10 * DAY
    imported = import_material(
        services,
        key_id,
        material,
        ExpirationModel="KEY_MATERIAL_EXPIRES",
        ValidTo=valid_to.timestamp(),
    )
    key_material_id = imported["KeyMaterialId"]
    blob = call(services, "Encrypt", {"KeyId": key_id, "Plaintext": b64(b"due")})[
        "CiphertextBlob"
    ]

    clock.advance(valid_to - clock.now() - timedelta(seconds=1))
    early = run_sweep(services)
    state_before = state_of(services, key_id)
    clock.advance(timedelta(seconds=2))
    report = run_sweep(services)

    assert early.expired_key_material_ids == []
    assert state_before == "Enabled"
    assert report.expired_key_material_ids == [key_material_id]
    assert state_of(services, key_id) == "PendingImport"
    assert services.store.wrapped_sealing_key(key_material_id) is None
    assert error_type(services, "Decrypt", {"CiphertextBlob": blob}) == (
        "KMSInvalidStateException"
    )
    assert run_sweep(services).expired_key_material_ids == []
    import_material(services, key_id, material)
    decrypted = call(services, "Decrypt", {"CiphertextBlob": blob})
    assert base64.b64decode(decrypted["Plaintext"]) == b"due"


def test_sweep_erases_unused_wrapping_key(
    open_services: Callable[[AdjustableClock], Services],
) -> None:
    clock = AdjustableClock()
    services = open_services(clock)
    key_id = external_key(services)
    issued = get_parameters(services, key_id)
    key = services.store.load_key(key_id)
    assert key is not None
    [parameters_id] = key.import_parameters
    sealing_id = wrapping_key_sealing_id(parameters_id)
    assert services.store.wrapped_sealing_key(sealing_id) is not None

    clock.advance(DAY)
    report = run_sweep(services)

    assert report.expired_key_material_ids == []
    assert services.store.wrapped_sealing_key(sealing_id) is None
    assert (
        error_type(
            services,
            "ImportKeyMaterial",
            import_params(
                key_id,
                issued,
                os.urandom(32),
                ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
            ),
        )
        == "ExpiredImportTokenException"
    )


def test_used_wrapping_key_is_erased_at_import(
    open_services: Callable[[AdjustableClock], Services],
) -> None:
    services = open_services(AdjustableClock())
    key_id = external_key(services)

    import_material(services, key_id, os.urandom(32))

    key = services.store.load_key(key_id)
    assert key is not None
    [parameters] = key.import_parameters.values()
    assert parameters.used
    assert parameters.sealed_wrapping_key is None
    sealing_id = wrapping_key_sealing_id(parameters.parameters_id)
    assert services.store.wrapped_sealing_key(sealing_id) is None


def test_key_deletion_shreds_every_import_secret(
    open_services: Callable[[AdjustableClock], Services],
) -> None:
    clock = AdjustableClock()
    services = open_services(clock)
    key_id = external_key(services)
    first = import_material(services, key_id, os.urandom(32))
    second = import_material(
        services, key_id, os.urandom(32), ImportType="NEW_KEY_MATERIAL"
    )
    get_parameters(services, key_id)
    key = services.store.load_key(key_id)
    assert key is not None
    sealing_ids = [first["KeyMaterialId"], second["KeyMaterialId"]] + [
        wrapping_key_sealing_id(p) for p in key.import_parameters
    ]
    assert services.store.wrapped_sealing_key(sealing_ids[-1]) is not None

    call(services, "ScheduleKeyDeletion", {"KeyId": key_id, "PendingWindowInDays": 7})
    clock.advance(7 * DAY)
    report = run_sweep(services)

    assert report.deleted_key_ids == [key_id]
    for sealing_id in sealing_ids:
        assert services.store.wrapped_sealing_key(sealing_id) is None
    far_future = (clock.now() + 400 * DAY).timestamp()
    assert services.store.keys_with_expiry_due(far_future) == []


def test_wrapping_key_and_token_never_stored_or_logged(
    open_services: Callable[[AdjustableClock], Services],
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    services = open_services(AdjustableClock())
    key_id = external_key(services)
    material = os.urandom(32)
    issued = get_parameters(services, key_id)
    token = base64.b64decode(issued["ImportToken"])
    key = services.store.load_key(key_id)
    assert key is not None
    [parameters] = key.import_parameters.values()
    private_key_der = services.vault.open_wrapping_key(key, parameters)
    private_key = serialization.load_der_private_key(private_key_der, None)
    assert isinstance(private_key, rsa.RSAPrivateKey)
    assert private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == base64.b64decode(issued["PublicKey"])
    call(
        services,
        "ImportKeyMaterial",
        import_params(
            key_id, issued, material, ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE"
        ),
    )
    services.close()

    stored = stored_bytes(settings)
    logged = "\n".join(record.getMessage() for record in caplog.records) + "\n".join(
        repr(record.__dict__) for record in caplog.records
    )
    for secret in (token, private_key_der, material):
        for form in (secret, secret.hex().encode(), base64.b64encode(secret)):
            assert form not in stored
            assert form.decode("latin-1") not in logged


def stored_bytes(settings: Settings) -> bytes:
    """Everything the store holds: the SQLite files, or every PostgreSQL row."""
    if not settings.database_url:
        files = Path(settings.data_dir).glob("keyledger.sqlite3*")
        return b"".join(path.read_bytes() for path in files)
    import psycopg

    base_url, _, query = settings.database_url.partition("?schema=")
    chunks: list[bytes] = []
    with psycopg.connect(base_url, autocommit=True) as connection:
        tables = connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (query,),
        ).fetchall()
        for (table,) in tables:
            for row in connection.execute(f'SELECT * FROM "{query}"."{table}"'):
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        chunks.append(bytes(value))
                    elif value is not None:
                        chunks.append(str(value).encode())
    return b"\n".join(chunks)


def test_expired_material_unusable_before_sweep(
    open_services: Callable[[AdjustableClock], Services],
) -> None:
    clock = AdjustableClock()
    services = open_services(clock)
    key_id = external_key(services)
    valid_to = clock.now() + 10 * DAY
    import_material(
        services,
        key_id,
        os.urandom(32),
        ExpirationModel="KEY_MATERIAL_EXPIRES",
        ValidTo=valid_to.timestamp(),
    )
    blob = call(services, "Encrypt", {"KeyId": key_id, "Plaintext": b64(b"late")})[
        "CiphertextBlob"
    ]

    # Past ValidTo with no sweep run yet: the key must already refuse use.
    clock.advance(valid_to - clock.now() + timedelta(seconds=1))

    plaintext = {"KeyId": key_id, "Plaintext": b64(b"x")}
    assert error_type(services, "Encrypt", plaintext) == "KMSInvalidStateException"
    assert error_type(services, "Decrypt", {"CiphertextBlob": blob}) == (
        "KMSInvalidStateException"
    )
