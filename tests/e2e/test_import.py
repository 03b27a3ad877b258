"""Imported key material through boto3: CreateKey with Origin EXTERNAL,
GetParametersForImport, ImportKeyMaterial, DeleteImportedKeyMaterial, expiry.

Key material is wrapped on the client side with ``cryptography``, as the AWS
KMS developer guide's "Encrypt the key material" describes it. AWS facts come
from the AWS KMS API reference pages of the three import actions, the
developer guide's "Key states of AWS KMS keys", and, where noted, LocalStack's
snapshots recorded against AWS.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

ALGORITHMS = [
    "RSAES_OAEP_SHA_1",
    "RSAES_OAEP_SHA_256",
    "RSA_AES_KEY_WRAP_SHA_1",
    "RSA_AES_KEY_WRAP_SHA_256",
]
DOES_NOT_EXPIRE = "KEY_MATERIAL_DOES_NOT_EXPIRE"
DAY = 86400
# Seconds ValidTo stays ahead of the moved dev clock, so the endpoint's own
# sweep finds nothing due and the timer must do the work.
MARGIN_SECONDS = 4
WAIT_FOR_SWEEP_SECONDS = 30


def error_of(operation: Callable[..., Any], **params: Any) -> dict[str, str]:
    """Call ``operation`` expecting a KMS error; return its code and message."""
    with pytest.raises(ClientError) as raised:
        operation(**params)
    error: dict[str, str] = raised.value.response["Error"]
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return error


def oaep(algorithm: str) -> padding.OAEP:
    hash_algorithm: hashes.HashAlgorithm = (
        hashes.SHA1() if algorithm.endswith("SHA_1") else hashes.SHA256()
    )
    return padding.OAEP(padding.MGF1(hash_algorithm), hash_algorithm, None)


def wrap(public_key_der: bytes, algorithm: str, material: bytes) -> bytes:
    """Wrap key material as "Encrypt the key material" shows.

    RSAES_OAEP_*: RSA-OAEP of the material. RSA_AES_KEY_WRAP_*: RSA-OAEP of a
    fresh AES-256 key, followed by the material wrapped under that key with
    AES Key Wrap with Padding (RFC 5649).
    """
    public_key = serialization.load_der_public_key(public_key_der)
    assert isinstance(public_key, rsa.RSAPublicKey)
    if algorithm.startswith("RSAES_OAEP"):
        return public_key.encrypt(material, oaep(algorithm))
    aes_key = os.urandom(32)
    return public_key.encrypt(aes_key, oaep(algorithm)) + aes_key_wrap_with_padding(
        aes_key, material
    )


def external_key(kms: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]
    return metadata


def parameters(
    kms: Any,
    key_id: str,
    algorithm: str = "RSAES_OAEP_SHA_256",
    spec: str = "RSA_2048",
) -> dict[str, Any]:
    result: dict[str, Any] = kms.get_parameters_for_import(
        KeyId=key_id, WrappingAlgorithm=algorithm, WrappingKeySpec=spec
    )
    return result


def import_material(
    kms: Any,
    key_id: str,
    material: bytes,
    algorithm: str = "RSAES_OAEP_SHA_256",
    **options: Any,
) -> dict[str, Any]:
    """Fetch fresh import parameters, wrap ``material`` and import it."""
    options.setdefault("ExpirationModel", DOES_NOT_EXPIRE)
    issued = parameters(kms, key_id, algorithm)
    result: dict[str, Any] = kms.import_key_material(
        KeyId=key_id,
        ImportToken=issued["ImportToken"],
        EncryptedKeyMaterial=wrap(issued["PublicKey"], algorithm, material),
        **options,
    )
    return result


def imported_key(kms: Any, material: bytes | None = None) -> tuple[str, bytes]:
    """An EXTERNAL key with key material imported; return its id and material."""
    key_id = external_key(kms)["KeyId"]
    material = material or os.urandom(32)
    import_material(kms, key_id, material)
    return key_id, material


def describe(kms: Any, key_id: str) -> dict[str, Any]:
    metadata: dict[str, Any] = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    return metadata


def advance_dev_clock(server: Any, seconds: float) -> None:
    response = httpx.post(
        server.endpoint + "/_keyledger/dev-clock", json={"Seconds": seconds}, timeout=30
    )
    assert response.status_code == 200, response.text


def sealing_key_of(reader: Any, sealing_id: str) -> bytes | None:
    rows = reader.query(
        "SELECT wrapped_sealing_key FROM keyledger_sealing_keys"
        " WHERE key_material_id = ?",
        (sealing_id,),
    )
    return bytes(rows[0][0]) if rows else None


def sealing_table_on_disk(reader: Any) -> dict[str, bytes]:
    """The bytes of the files holding the sealing-key table, as the disk has them."""
    if not reader.is_postgres:
        return reader.raw_files()
    # CHECKPOINT writes buffered pages out; both it and pg_read_binary_file
    # need the superuser that the suite's default URL connects as.
    reader.query("CHECKPOINT")
    rows = reader.query(
        "SELECT pg_read_binary_file(pg_relation_filepath(?::regclass))",
        (f'"{reader.schema}".keyledger_sealing_keys',),
    )
    return {"keyledger_sealing_keys relation file": bytes(rows[0][0])}


def wait_until_off_disk(reader: Any, secret: bytes) -> None:
    """Poll the database files until none contains ``secret``.

    An erasure can be held back by another connection's old read; a later
    sweep then finishes it.
    """
    deadline = time.monotonic() + WAIT_FOR_SWEEP_SECONDS
    while True:
        holding = [
            place
            for place, content in sealing_table_on_disk(reader).items()
            if secret in content
        ]
        if not holding:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"the erased sealing key is still in {holding}")
        time.sleep(0.5)


def wait_for_topic(reader: Any, key_id: str, suffix: str) -> list[str]:
    deadline = time.monotonic() + WAIT_FOR_SWEEP_SECONDS
    topics = reader.event_topics(key_id)
    while not any(topic.endswith(suffix) for topic in topics):
        if time.monotonic() > deadline:
            pytest.fail(f"no {suffix} event within {WAIT_FOR_SWEEP_SECONDS} s")
        time.sleep(0.2)
        topics = reader.event_topics(key_id)
    return topics


# The import flow, end to end.


def test_external_key_imports_and_encrypts(kms: Any) -> None:
    created = external_key(kms)
    key_id = created["KeyId"]
    before = describe(kms, key_id)
    issued_at = datetime.now(UTC)
    issued = parameters(kms, key_id, "RSAES_OAEP_SHA_256", "RSA_2048")
    public_key = serialization.load_der_public_key(issued["PublicKey"])
    assert isinstance(public_key, rsa.RSAPublicKey)
    material = os.urandom(32)
    wrapped = public_key.encrypt(material, oaep("RSAES_OAEP_SHA_256"))

    imported = kms.import_key_material(
        KeyId=key_id,
        ImportToken=issued["ImportToken"],
        EncryptedKeyMaterial=wrapped,
        ExpirationModel=DOES_NOT_EXPIRE,
    )
    after = describe(kms, key_id)
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"imported")["CiphertextBlob"]
    decrypted = kms.decrypt(CiphertextBlob=blob)

    # CreateKey with Origin EXTERNAL: no key material, so PendingImport.
    assert created["KeyState"] == "PendingImport"
    assert created["Enabled"] is False
    assert created["Origin"] == "EXTERNAL"
    assert "CurrentKeyMaterialId" not in created
    assert before["KeyState"] == "PendingImport"
    assert "ExpirationModel" not in before
    # GetParametersForImport: the key ARN, an RSA public key, an import token,
    # and a validity of 24 hours.
    assert issued["KeyId"] == created["Arn"]
    assert isinstance(public_key, rsa.RSAPublicKey)
    assert public_key.key_size == 2048
    assert issued["ImportToken"]
    expected_valid_to = issued_at + timedelta(hours=24)
    assert abs(issued["ParametersValidTo"] - expected_valid_to) < timedelta(minutes=5)
    assert imported["KeyId"] == created["Arn"]
    assert len(imported["KeyMaterialId"]) == 64
    assert after["KeyState"] == "Enabled"
    assert after["Enabled"] is True
    assert after["ExpirationModel"] == DOES_NOT_EXPIRE
    assert "ValidTo" not in after
    assert after["CurrentKeyMaterialId"] == imported["KeyMaterialId"]
    assert decrypted["Plaintext"] == b"imported"
    assert decrypted["KeyMaterialId"] == imported["KeyMaterialId"]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_reimported_material_decrypts_old_ciphertext(kms: Any, algorithm: str) -> None:
    key_id = external_key(kms)["KeyId"]
    material = os.urandom(32)
    first = import_material(kms, key_id, material, algorithm)
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"kept across import")["CiphertextBlob"]

    deleted = kms.delete_imported_key_material(KeyId=key_id)
    while_deleted = describe(kms, key_id)
    rejected = error_of(kms.decrypt, CiphertextBlob=blob)
    second = import_material(kms, key_id, material, algorithm)
    decrypted = kms.decrypt(CiphertextBlob=blob)

    assert deleted["KeyMaterialId"] == first["KeyMaterialId"]
    assert while_deleted["KeyState"] == "PendingImport"
    assert rejected["Code"] == "KMSInvalidStateException"
    assert second["KeyMaterialId"] == first["KeyMaterialId"]
    assert describe(kms, key_id)["KeyState"] == "Enabled"
    assert decrypted["Plaintext"] == b"kept across import"


@pytest.mark.parametrize("spec", ["RSA_3072", "RSA_4096"])
def test_larger_wrapping_keys_work(kms: Any, spec: str) -> None:
    key_id = external_key(kms)["KeyId"]
    issued = parameters(kms, key_id, "RSA_AES_KEY_WRAP_SHA_256", spec)
    public_key = serialization.load_der_public_key(issued["PublicKey"])
    material = os.urandom(32)

    kms.import_key_material(
        KeyId=key_id,
        ImportToken=issued["ImportToken"],
        EncryptedKeyMaterial=wrap(
            issued["PublicKey"], "RSA_AES_KEY_WRAP_SHA_256", material
        ),
        ExpirationModel=DOES_NOT_EXPIRE,
    )

    assert isinstance(public_key, rsa.RSAPublicKey)
    assert public_key.key_size == int(spec[4:])
    assert describe(kms, key_id)["KeyState"] == "Enabled"


def test_each_get_parameters_gives_new_wrapping_key(kms: Any) -> None:
    key_id = external_key(kms)["KeyId"]

    first = parameters(kms, key_id)
    second = parameters(kms, key_id)

    assert first["PublicKey"] != second["PublicKey"]
    assert first["ImportToken"] != second["ImportToken"]


# Wrapping choices.


def test_pkcs1_wrapping_is_rejected(kms: Any) -> None:
    key_id = external_key(kms)["KeyId"]

    error = error_of(
        kms.get_parameters_for_import,
        KeyId=key_id,
        WrappingAlgorithm="RSAES_PKCS1_V1_5",
        WrappingKeySpec="RSA_2048",
    )

    # GetParametersForImport: "As of October 10, 2023, KMS does not support
    # the RSAES_PKCS1_V1_5 wrapping algorithm."
    assert error["Code"] == "UnsupportedOperationException"
    assert "RSAES_PKCS1_V1_5" in error["Message"]


@pytest.mark.parametrize(
    ("algorithm", "spec"), [("SM2PKE", "SM2"), ("RSAES_OAEP_SHA_256", "SM2")]
)
def test_china_region_wrapping_is_rejected(kms: Any, algorithm: str, spec: str) -> None:
    key_id = external_key(kms)["KeyId"]

    error = error_of(
        kms.get_parameters_for_import,
        KeyId=key_id,
        WrappingAlgorithm=algorithm,
        WrappingKeySpec=spec,
    )

    assert error["Code"] == "UnsupportedOperationException"


def test_import_actions_reject_generated_key(kms: Any) -> None:
    key = kms.create_key()["KeyMetadata"]
    key_id = key["KeyId"]
    other_id = external_key(kms)["KeyId"]
    token = parameters(kms, other_id)["ImportToken"]

    errors = [
        error_of(
            kms.get_parameters_for_import,
            KeyId=key_id,
            WrappingAlgorithm="RSAES_OAEP_SHA_256",
            WrappingKeySpec="RSA_2048",
        ),
        error_of(
            kms.import_key_material,
            KeyId=key_id,
            ImportToken=token,
            EncryptedKeyMaterial=b"x" * 256,
            ExpirationModel=DOES_NOT_EXPIRE,
        ),
        error_of(kms.delete_imported_key_material, KeyId=key_id),
    ]

    # "Key states of AWS KMS keys": UnsupportedOperationException for a key
    # that cannot have imported key material.
    for error in errors:
        assert error["Code"] == "UnsupportedOperationException"
        assert error["Message"] == (
            f"{key['Arn']} origin is AWS_KMS which is not valid for this operation."
        )


# Failed imports change nothing.


def test_garbage_import_fails_cleanly_and_changes_nothing(
    server: Any, kms: Any, store_reader: Any
) -> None:
    key_id = external_key(kms)["KeyId"]
    issued = parameters(kms, key_id)
    reader = store_reader(server)
    topics_before = reader.event_topics(key_id)

    error = error_of(
        kms.import_key_material,
        KeyId=key_id,
        ImportToken=issued["ImportToken"],
        EncryptedKeyMaterial=b"garbage" * 40,
        ExpirationModel=DOES_NOT_EXPIRE,
    )
    after_failure = describe(kms, key_id)
    topics_after = reader.event_topics(key_id)
    material = os.urandom(32)
    kms.import_key_material(
        KeyId=key_id,
        ImportToken=issued["ImportToken"],
        EncryptedKeyMaterial=wrap(issued["PublicKey"], "RSAES_OAEP_SHA_256", material),
        ExpirationModel=DOES_NOT_EXPIRE,
    )

    # InvalidCiphertextException, from ImportKeyMaterial: "KMS could not
    # decrypt the encrypted (wrapped) key material."
    assert error["Code"] == "InvalidCiphertextException"
    assert after_failure["KeyState"] == "PendingImport"
    assert after_failure["Enabled"] is False
    assert topics_after == topics_before
    assert describe(kms, key_id)["KeyState"] == "Enabled"


@pytest.mark.parametrize("length", [16, 31, 33, 64])
def test_material_of_wrong_length_is_rejected(kms: Any, length: int) -> None:
    key_id = external_key(kms)["KeyId"]
    issued = parameters(kms, key_id)

    error = error_of(
        kms.import_key_material,
        KeyId=key_id,
        ImportToken=issued["ImportToken"],
        EncryptedKeyMaterial=wrap(
            issued["PublicKey"], "RSAES_OAEP_SHA_256", os.urandom(length)
        ),
        ExpirationModel=DOES_NOT_EXPIRE,
    )

    assert error["Code"] == "IncorrectKeyMaterialException"
    assert describe(kms, key_id)["KeyState"] == "PendingImport"


def test_material_wrapped_with_other_algorithm_is_rejected(kms: Any) -> None:
    key_id = external_key(kms)["KeyId"]
    issued = parameters(kms, key_id, "RSAES_OAEP_SHA_256")

    error = error_of(
        kms.import_key_material,
        KeyId=key_id,
        ImportToken=issued["ImportToken"],
        EncryptedKeyMaterial=wrap(
            issued["PublicKey"], "RSAES_OAEP_SHA_1", os.urandom(32)
        ),
        ExpirationModel=DOES_NOT_EXPIRE,
    )

    assert error["Code"] == "InvalidCiphertextException"


def test_different_material_cannot_replace_imported(kms: Any) -> None:
    key_id, _ = imported_key(kms)
    kms.delete_imported_key_material(KeyId=key_id)

    error = error_of(import_material, kms=kms, key_id=key_id, material=os.urandom(32))

    # ImportKeyMaterial: "you can reimport the same key material into that KMS
    # key, but you cannot import different key material".
    assert error["Code"] == "IncorrectKeyMaterialException"
    assert describe(kms, key_id)["KeyState"] == "PendingImport"


# Import tokens.


def test_token_of_another_key_is_invalid(kms: Any) -> None:
    key_id = external_key(kms)["KeyId"]
    other_id = external_key(kms)["KeyId"]
    issued = parameters(kms, other_id)

    error = error_of(
        kms.import_key_material,
        KeyId=key_id,
        ImportToken=issued["ImportToken"],
        EncryptedKeyMaterial=wrap(
            issued["PublicKey"], "RSAES_OAEP_SHA_256", os.urandom(32)
        ),
        ExpirationModel=DOES_NOT_EXPIRE,
    )

    # InvalidImportTokenException: "the provided import token is invalid or is
    # associated with a different KMS key".
    assert error["Code"] == "InvalidImportTokenException"


@pytest.mark.parametrize("change", ["flipped", "truncated", "random"])
def test_changed_token_is_invalid(kms: Any, change: str) -> None:
    key_id = external_key(kms)["KeyId"]
    issued = parameters(kms, key_id)
    token = issued["ImportToken"]
    changed = {
        "flipped": token[:-1] + bytes([token[-1] ^ 1]),
        "truncated": token[:-1],
        "random": os.urandom(len(token)),
    }[change]

    error = error_of(
        kms.import_key_material,
        KeyId=key_id,
        ImportToken=changed,
        EncryptedKeyMaterial=wrap(
            issued["PublicKey"], "RSAES_OAEP_SHA_256", os.urandom(32)
        ),
        ExpirationModel=DOES_NOT_EXPIRE,
    )

    assert error["Code"] == "InvalidImportTokenException"
    assert base64.b64encode(token).decode() not in error["Message"]
    assert describe(kms, key_id)["KeyState"] == "PendingImport"


def test_used_token_is_invalid(kms: Any) -> None:
    key_id = external_key(kms)["KeyId"]
    issued = parameters(kms, key_id)
    material = os.urandom(32)
    wrapped = wrap(issued["PublicKey"], "RSAES_OAEP_SHA_256", material)
    kms.import_key_material(
        KeyId=key_id,
        ImportToken=issued["ImportToken"],
        EncryptedKeyMaterial=wrapped,
        ExpirationModel=DOES_NOT_EXPIRE,
    )

    error = error_of(
        kms.import_key_material,
        KeyId=key_id,
        ImportToken=issued["ImportToken"],
        EncryptedKeyMaterial=wrapped,
        ExpirationModel=DOES_NOT_EXPIRE,
    )

    # "You must download a new public key and import token for each import
    # operation" (developer guide, "Download the public key and import token").
    assert error["Code"] == "InvalidImportTokenException"


def test_token_expires_after_24_hours(fresh_server_factory: Any) -> None:
    server = fresh_server_factory(extra_args=["--dev-clock"])
    kms = server.client()
    key_id = external_key(kms)["KeyId"]
    issued = parameters(kms, key_id)
    wrapped = wrap(issued["PublicKey"], "RSAES_OAEP_SHA_256", os.urandom(32))

    advance_dev_clock(server, DAY)
    error = error_of(
        kms.import_key_material,
        KeyId=key_id,
        ImportToken=issued["ImportToken"],
        EncryptedKeyMaterial=wrapped,
        ExpirationModel=DOES_NOT_EXPIRE,
    )

    assert error["Code"] == "ExpiredImportTokenException"
    assert describe(kms, key_id)["KeyState"] == "PendingImport"


# Expiration model.


def test_missing_valid_to_is_rejected(kms: Any) -> None:
    key_id = external_key(kms)["KeyId"]
    issued = parameters(kms, key_id)

    error = error_of(
        kms.import_key_material,
        KeyId=key_id,
        ImportToken=issued["ImportToken"],
        EncryptedKeyMaterial=wrap(
            issued["PublicKey"], "RSAES_OAEP_SHA_256", os.urandom(32)
        ),
    )

    # ExpirationModel defaults to KEY_MATERIAL_EXPIRES; the message is AWS's,
    # as LocalStack's AWS-validated snapshot recorded it.
    assert error["Code"] == "ValidationException"
    assert error["Message"] == (
        "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES"
    )


@pytest.mark.parametrize(
    ("model", "valid_to"),
    [
        (DOES_NOT_EXPIRE, timedelta(days=1)),
        ("KEY_MATERIAL_EXPIRES", timedelta(days=-1)),
        ("KEY_MATERIAL_EXPIRES", timedelta(days=366)),
    ],
    ids=["valid-to-without-expiry", "past", "over-365-days"],
)
def test_invalid_valid_to_is_rejected(
    kms: Any, model: str, valid_to: timedelta
) -> None:
    key_id = external_key(kms)["KeyId"]
    issued = parameters(kms, key_id)

    error = error_of(
        kms.import_key_material,
        KeyId=key_id,
        ImportToken=issued["ImportToken"],
        EncryptedKeyMaterial=wrap(
            issued["PublicKey"], "RSAES_OAEP_SHA_256", os.urandom(32)
        ),
        ExpirationModel=model,
        ValidTo=datetime.now(UTC) + valid_to,
    )

    assert error["Code"] == "ValidationException"
    assert describe(kms, key_id)["KeyState"] == "PendingImport"


def test_expiring_material_shows_valid_to(kms: Any) -> None:
    key_id = external_key(kms)["KeyId"]
    valid_to = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)

    import_material(
        kms,
        key_id,
        os.urandom(32),
        ExpirationModel="KEY_MATERIAL_EXPIRES",
        ValidTo=valid_to,
    )
    metadata = describe(kms, key_id)

    assert metadata["ExpirationModel"] == "KEY_MATERIAL_EXPIRES"
    assert metadata["ValidTo"] == valid_to


# A key pending import, against the "Key states of AWS KMS keys" table.


def test_pending_import_key_rejects_cryptography(kms: Any) -> None:
    key = external_key(kms)
    key_id = key["KeyId"]
    other_id = kms.create_key()["KeyMetadata"]["KeyId"]
    other_blob = kms.encrypt(KeyId=other_id, Plaintext=b"x")["CiphertextBlob"]

    errors = {
        "Encrypt": error_of(kms.encrypt, KeyId=key_id, Plaintext=b"x"),
        "GenerateDataKey": error_of(
            kms.generate_data_key, KeyId=key_id, KeySpec="AES_256"
        ),
        "GenerateDataKeyWithoutPlaintext": error_of(
            kms.generate_data_key_without_plaintext, KeyId=key_id, KeySpec="AES_256"
        ),
        "ReEncrypt": error_of(
            kms.re_encrypt, CiphertextBlob=other_blob, DestinationKeyId=key_id
        ),
        "EnableKey": error_of(kms.enable_key, KeyId=key_id),
        "DisableKey": error_of(kms.disable_key, KeyId=key_id),
    }

    # Table detail: "KMSInvalidStateException: <key ARN> is pending import."
    for action, error in errors.items():
        assert error["Code"] == "KMSInvalidStateException", action
        assert error["Message"] == f"{key['Arn']} is pending import.", action


def test_pending_import_key_allows_management(kms: Any, request: Any) -> None:
    key_id = external_key(kms)["KeyId"]
    alias_name = f"alias/import-{abs(hash(request.node.name))}"

    kms.update_key_description(KeyId=key_id, Description="waiting for import")
    kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "stage", "TagValue": "byok"}])
    kms.create_alias(AliasName=alias_name, TargetKeyId=key_id)
    tags = kms.list_resource_tags(KeyId=key_id)["Tags"]
    metadata = describe(kms, alias_name)
    kms.delete_alias(AliasName=alias_name)
    deletion = kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    cancelled = kms.cancel_key_deletion(KeyId=key_id)

    assert tags == [{"TagKey": "stage", "TagValue": "byok"}]
    assert metadata["Description"] == "waiting for import"
    assert deletion["KeyState"] == "PendingDeletion"
    assert cancelled["KeyId"] == metadata["Arn"]
    # With no key material, the key goes back to waiting for it.
    assert describe(kms, key_id)["KeyState"] == "PendingImport"


def test_delete_on_pending_import_key_has_no_effect(kms: Any) -> None:
    key = external_key(kms)

    result = kms.delete_imported_key_material(KeyId=key["KeyId"])

    assert result["KeyId"] == key["Arn"]
    assert "KeyMaterialId" not in result
    assert describe(kms, key["KeyId"])["KeyState"] == "PendingImport"


def test_delete_of_unknown_key_material_is_not_found(kms: Any) -> None:
    key_id, _ = imported_key(kms)

    error = error_of(
        kms.delete_imported_key_material, KeyId=key_id, KeyMaterialId="0" * 64
    )

    assert error["Code"] == "NotFoundException"
    assert describe(kms, key_id)["KeyState"] == "Enabled"


def test_delete_keeps_key_pending_deletion(kms: Any) -> None:
    key_id, _ = imported_key(kms)
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)

    kms.delete_imported_key_material(KeyId=key_id)

    # DeleteImportedKeyMaterial: a key pending deletion keeps its state.
    assert describe(kms, key_id)["KeyState"] == "PendingDeletion"


def test_disabled_key_rejects_with_disabled_exception(kms: Any) -> None:
    key_id, material = imported_key(kms)
    kms.disable_key(KeyId=key_id)

    error = error_of(kms.encrypt, KeyId=key_id, Plaintext=b"x")
    import_material(kms, key_id, material)

    assert error["Code"] == "DisabledException"
    assert describe(kms, key_id)["KeyState"] == "Disabled"


# New key material and on-demand rotation.


def test_new_material_becomes_current_on_rotation(kms: Any) -> None:
    key_id, _ = imported_key(kms)
    first_id = describe(kms, key_id)["CurrentKeyMaterialId"]
    old_blob = kms.encrypt(KeyId=key_id, Plaintext=b"first")["CiphertextBlob"]

    pending = import_material(
        kms, key_id, os.urandom(32), ImportType="NEW_KEY_MATERIAL"
    )
    before_rotation = describe(kms, key_id)["CurrentKeyMaterialId"]
    second_new = error_of(
        import_material,
        kms=kms,
        key_id=key_id,
        material=os.urandom(32),
        ImportType="NEW_KEY_MATERIAL",
    )
    kms.rotate_key_on_demand(KeyId=key_id)
    after_rotation = describe(kms, key_id)["CurrentKeyMaterialId"]
    new_blob = kms.encrypt(KeyId=key_id, Plaintext=b"second")["CiphertextBlob"]

    assert before_rotation == first_id
    assert second_new["Code"] == "KMSInvalidStateException"
    assert after_rotation == pending["KeyMaterialId"]
    assert kms.decrypt(CiphertextBlob=old_blob)["KeyMaterialId"] == first_id
    assert kms.decrypt(CiphertextBlob=new_blob)["KeyMaterialId"] == after_rotation


def test_rotation_without_new_material_is_rejected(kms: Any) -> None:
    key_id, _ = imported_key(kms)

    error = error_of(kms.rotate_key_on_demand, KeyId=key_id)

    assert error["Code"] == "KMSInvalidStateException"


def test_reimport_with_key_material_id(kms: Any) -> None:
    key_id, material = imported_key(kms)
    key_material_id = describe(kms, key_id)["CurrentKeyMaterialId"]

    result = import_material(
        kms,
        key_id,
        material,
        ImportType="EXISTING_KEY_MATERIAL",
        KeyMaterialId=key_material_id,
        KeyMaterialDescription="restored",
    )
    wrong = error_of(
        import_material,
        kms=kms,
        key_id=key_id,
        material=material,
        ImportType="EXISTING_KEY_MATERIAL",
        KeyMaterialId="0" * 64,
    )

    assert result["KeyMaterialId"] == key_material_id
    assert wrong["Code"] == "IncorrectKeyMaterialException"


# Crypto-shredding and expiry, against the database files.


def test_deleted_material_leaves_no_sealing_key_on_disk(
    fresh_server_factory: Any, store_reader: Any
) -> None:
    # A short sweep interval, so an erasure held back by another connection's
    # old read is finished while the test waits.
    server = fresh_server_factory(extra_args=["--sweep-interval", "1"])
    kms = server.client()
    key_id, material = imported_key(kms)
    key_material_id = describe(kms, key_id)["CurrentKeyMaterialId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"shredded")["CiphertextBlob"]
    reader = store_reader(server)
    wrapped = sealing_key_of(reader, key_material_id)
    assert wrapped is not None
    # The check below means something only if the bytes were on disk.
    assert any(wrapped in content for content in sealing_table_on_disk(reader).values())

    kms.delete_imported_key_material(KeyId=key_id)

    assert sealing_key_of(reader, key_material_id) is None
    wait_until_off_disk(reader, wrapped)
    assert error_of(kms.decrypt, CiphertextBlob=blob)["Code"] == (
        "KMSInvalidStateException"
    )
    import_material(kms, key_id, material)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"shredded"


def test_material_expires_with_no_request(
    fresh_server_factory: Any, store_reader: Any
) -> None:
    server = fresh_server_factory(extra_args=["--dev-clock", "--sweep-interval", "1"])
    kms = server.client()
    key_id = external_key(kms)["KeyId"]
    material = os.urandom(32)
    valid_to = datetime.now(UTC) + timedelta(days=2)
    import_material(
        kms, key_id, material, ExpirationModel="KEY_MATERIAL_EXPIRES", ValidTo=valid_to
    )
    key_material_id = describe(kms, key_id)["CurrentKeyMaterialId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"expiring")["CiphertextBlob"]
    reader = store_reader(server)
    wrapped = sealing_key_of(reader, key_material_id)
    assert wrapped is not None

    seconds_left = (valid_to - datetime.now(UTC)).total_seconds()
    advance_dev_clock(server, seconds_left - MARGIN_SECONDS)
    assert describe(kms, key_id)["KeyState"] == "Enabled"
    topics = wait_for_topic(reader, key_id, "ImportedKeyMaterialExpired")

    assert topics[-1].endswith("ImportedKeyMaterialExpired")
    assert describe(kms, key_id)["KeyState"] == "PendingImport"
    assert sealing_key_of(reader, key_material_id) is None
    wait_until_off_disk(reader, wrapped)
    assert error_of(kms.encrypt, KeyId=key_id, Plaintext=b"x")["Code"] == (
        "KMSInvalidStateException"
    )
    import_material(kms, key_id, material)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"expiring"


def test_import_secrets_never_reach_log_or_store(
    fresh_server_factory: Any, store_reader: Any
) -> None:
    server = fresh_server_factory(extra_args=["--log-level", "debug"])
    kms = server.client()
    key_id = external_key(kms)["KeyId"]
    material = os.urandom(32)
    issued = parameters(kms, key_id)
    token = issued["ImportToken"]
    kms.import_key_material(
        KeyId=key_id,
        ImportToken=token,
        EncryptedKeyMaterial=wrap(issued["PublicKey"], "RSAES_OAEP_SHA_256", material),
        ExpirationModel=DOES_NOT_EXPIRE,
    )
    unused = parameters(kms, key_id)["ImportToken"]
    reader = store_reader(server)
    server.stop()

    stored = b"".join(reader.all_cell_bytes())
    on_disk = b"".join(reader.raw_files().values())
    log = server.log_text().encode()
    for secret in (token, unused, material):
        for form in (secret, secret.hex().encode(), base64.b64encode(secret)):
            assert form not in stored
            assert form not in on_disk
            assert form not in log


# ListKeyRotations and GetKeyRotationStatus on a key with imported key material.
# Field names and values: API_ListKeyRotations and API_RotationsListEntry.


def rotations(kms: Any, key_id: str, **params: Any) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = kms.list_key_rotations(KeyId=key_id, **params)[
        "Rotations"
    ]
    return listed


def all_key_material(kms: Any, key_id: str) -> list[dict[str, Any]]:
    return rotations(kms, key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL")


def test_list_rotations_describes_imported_key_material(kms: Any) -> None:
    key_id = external_key(kms)["KeyId"]
    valid_to = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    first_id = import_material(
        kms,
        key_id,
        os.urandom(32),
        ExpirationModel="KEY_MATERIAL_EXPIRES",
        ValidTo=valid_to,
        KeyMaterialDescription="first material",
    )["KeyMaterialId"]
    first_entry = {
        "KeyId": key_id,
        "KeyMaterialId": first_id,
        "KeyMaterialState": "CURRENT",
        "ImportState": "IMPORTED",
        "KeyMaterialDescription": "first material",
        "ExpirationModel": "KEY_MATERIAL_EXPIRES",
        "ValidTo": valid_to,
    }

    before_rotation = all_key_material(kms, key_id)
    second_id = import_material(
        kms, key_id, os.urandom(32), ImportType="NEW_KEY_MATERIAL"
    )["KeyMaterialId"]
    pending_only = rotations(kms, key_id)
    with_pending = all_key_material(kms, key_id)
    first_page = kms.list_key_rotations(
        KeyId=key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL", Limit=1
    )
    kms.rotate_key_on_demand(KeyId=key_id)
    rotated = rotations(kms, key_id)
    second_page = kms.list_key_rotations(
        KeyId=key_id,
        IncludeKeyMaterial="ALL_KEY_MATERIAL",
        Limit=1,
        Marker=first_page["NextMarker"],
    )
    after_rotation = all_key_material(kms, key_id)

    # ROTATIONS_ONLY lists completed rotations only; ALL_KEY_MATERIAL adds the
    # first key material and the key material pending rotation, which have no
    # RotationDate or RotationType.
    assert before_rotation == [first_entry]
    assert pending_only == []
    assert with_pending == [
        first_entry,
        {
            "KeyId": key_id,
            "KeyMaterialId": second_id,
            "KeyMaterialState": "PENDING_ROTATION",
            "ImportState": "IMPORTED",
            "ExpirationModel": DOES_NOT_EXPIRE,
        },
    ]
    [rotation] = rotated
    assert rotation["KeyMaterialId"] == second_id
    assert rotation["KeyMaterialState"] == "CURRENT"
    assert rotation["RotationType"] == "ON_DEMAND"
    assert abs(rotation["RotationDate"] - datetime.now(UTC)) < timedelta(minutes=5)
    assert rotation["ImportState"] == "IMPORTED"
    assert rotation["ExpirationModel"] == DOES_NOT_EXPIRE
    # ValidTo comes only with KEY_MATERIAL_EXPIRES, and no description was given.
    assert "ValidTo" not in rotation
    assert "KeyMaterialDescription" not in rotation
    assert after_rotation == [
        {**first_entry, "KeyMaterialState": "NON_CURRENT"},
        rotation,
    ]
    # The pending entry of page one became the rotation entry of page two.
    assert first_page["Truncated"] is True
    assert second_page["Rotations"] == [rotation]
    assert second_page["Truncated"] is False


def test_list_rotations_keeps_deleted_material(kms: Any) -> None:
    key_id, material = imported_key(kms)
    first_id = describe(kms, key_id)["CurrentKeyMaterialId"]
    pending_id = import_material(
        kms, key_id, os.urandom(32), ImportType="NEW_KEY_MATERIAL"
    )["KeyMaterialId"]

    kms.delete_imported_key_material(KeyId=key_id, KeyMaterialId=pending_id)
    without_pending = all_key_material(kms, key_id)
    kms.delete_imported_key_material(KeyId=key_id)
    deleted = all_key_material(kms, key_id)
    import_material(kms, key_id, material)
    reimported = all_key_material(kms, key_id)

    # KeyMaterialState: key material pending rotation "is not permanently
    # associated with the KMS key", so deleting it removes it from the list.
    assert [entry["KeyMaterialId"] for entry in without_pending] == [first_id]
    # ImportState: deleted key material stays associated, waiting for import.
    [entry] = deleted
    assert entry["KeyMaterialId"] == first_id
    assert entry["ImportState"] == "PENDING_IMPORT"
    assert entry["KeyMaterialState"] == "CURRENT"
    assert [entry["ImportState"] for entry in reimported] == ["IMPORTED"]


def test_list_rotations_empty_before_import(kms: Any) -> None:
    key_id = external_key(kms)["KeyId"]

    assert rotations(kms, key_id) == []
    assert all_key_material(kms, key_id) == []


def test_imported_rotation_entry_raw_fields(kms: Any, raw: Any) -> None:
    key_id = external_key(kms)["KeyId"]
    valid_to = (datetime.now(UTC) + timedelta(days=10)).replace(microsecond=0)
    import_material(
        kms,
        key_id,
        os.urandom(32),
        ExpirationModel="KEY_MATERIAL_EXPIRES",
        ValidTo=valid_to,
    )

    listed = raw.ok(
        "ListKeyRotations", {"KeyId": key_id, "IncludeKeyMaterial": "ALL_KEY_MATERIAL"}
    )

    [entry] = listed["Rotations"]
    assert set(entry) == {
        "KeyId",
        "KeyMaterialId",
        "KeyMaterialState",
        "ImportState",
        "ExpirationModel",
        "ValidTo",
    }
    # Timestamps travel as epoch seconds, as in every JSON 1.1 response.
    assert entry["ValidTo"] == valid_to.timestamp()


def test_expired_material_listed_pending_import(
    fresh_server_factory: Any,
) -> None:
    server = fresh_server_factory(extra_args=["--dev-clock"])
    kms = server.client()
    key_id = external_key(kms)["KeyId"]
    valid_to = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    import_material(
        kms,
        key_id,
        os.urandom(32),
        ExpirationModel="KEY_MATERIAL_EXPIRES",
        ValidTo=valid_to,
    )

    # The dev-clock endpoint runs the sweep once the clock has moved.
    advance_dev_clock(server, 3 * DAY)
    [entry] = all_key_material(kms, key_id)

    assert describe(kms, key_id)["KeyState"] == "PendingImport"
    assert entry["ImportState"] == "PENDING_IMPORT"
    assert entry["ExpirationModel"] == "KEY_MATERIAL_EXPIRES"
    assert entry["ValidTo"] == valid_to


@pytest.mark.parametrize("imported", [False, True], ids=["pending-import", "enabled"])
def test_rotation_status_rejects_imported_key(kms: Any, imported: bool) -> None:
    key = external_key(kms)
    if imported:
        import_material(kms, key["KeyId"], os.urandom(32))

    error = error_of(kms.get_key_rotation_status, KeyId=key["KeyId"])

    # API_GetKeyRotationStatus lists UnsupportedOperationException; AWS's
    # message for a key with imported key material is the origin message.
    assert error["Code"] == "UnsupportedOperationException"
    assert error["Message"] == (
        f"{key['Arn']} origin is EXTERNAL which is not valid for this operation."
    )


def test_concurrent_get_parameters_all_succeed(kms: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    key_id = external_key(kms)["KeyId"]

    # Each call saves an event on the same key, so most of them lose an
    # optimistic-concurrency race at least once; none may fail for it.
    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(lambda _: parameters(kms, key_id), range(12)))

    tokens = {result["ImportToken"] for result in results}
    assert len(tokens) == 12


def test_token_expired_by_other_server_is_expired(
    fresh_server_factory: Any,
) -> None:
    first = fresh_server_factory()
    # A second server on the same store whose clock runs a day ahead, as a
    # host with a skewed clock would; its sweep erases the wrapping key.
    ahead = type(first)(
        data_dir=first.data_dir,
        database_url=first.database_url,
        extra_args=["--dev-clock"],
    ).start()
    try:
        kms = first.client()
        key_id = external_key(kms)["KeyId"]
        issued = parameters(kms, key_id)
        advance_dev_clock(ahead, 25 * 3600)

        error = error_of(
            kms.import_key_material,
            KeyId=key_id,
            ImportToken=issued["ImportToken"],
            EncryptedKeyMaterial=wrap(
                issued["PublicKey"], "RSAES_OAEP_SHA_256", os.urandom(32)
            ),
            ExpirationModel=DOES_NOT_EXPIRE,
        )
    finally:
        ahead.stop()

    assert error["Code"] == "ExpiredImportTokenException"
    assert describe(kms, key_id)["KeyState"] == "PendingImport"
