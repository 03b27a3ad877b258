"""Imported key material on the Key aggregate: wrapping, import tokens, expiry.

AWS facts asserted here come from the AWS KMS API reference pages
GetParametersForImport, ImportKeyMaterial and DeleteImportedKeyMaterial, the
developer guide pages "Key states of AWS KMS keys", "Download the wrapping
public key and import token" and "Encrypt the key material", and, where
noted, from LocalStack's snapshots recorded against AWS.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

from domain.errors import (
    ExpiredImportTokenException,
    IncorrectKeyMaterialException,
    InvalidCiphertextException,
    InvalidImportTokenException,
    KMSInvalidStateException,
    NotFoundException,
    UnsupportedOperationException,
    ValidationException,
)
from domain.key import Key
from domain.key_import import (
    IMPORT_TOKEN_LENGTH,
    ExpirationModel,
    ImportParameters,
    WrappingAlgorithm,
    check_key_material_length,
    check_wrapping_choice,
    expiration_of,
    imported_key_material_id,
    issue_import_token,
)
from domain.key_state import KeyState
from domain.key_wrapping import (
    generate_wrapping_key,
    unwrap_key_material,
    wrapping_public_key,
)

KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
OTHER_KEY_ID = "0987dcba-09ab-87cd-65ef-0987654321ba"
KEY_ARN = "arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SEALED = "c2VhbGVkIGtleSBtYXRlcmlhbA=="
NOW = datetime(2030, 1, 15, 9, 30, tzinfo=UTC)
DOES_NOT_EXPIRE = expiration_of("KEY_MATERIAL_DOES_NOT_EXPIRE", None, NOW)
ALL_ALGORITHMS = list(WrappingAlgorithm)


@pytest.fixture(scope="module")
def wrapping_key() -> bytes:
    """One RSA_2048 wrapping private key (PKCS #8 DER) for the module."""
    return generate_wrapping_key(2048)


def oaep(algorithm: WrappingAlgorithm) -> padding.OAEP:
    hash_algorithm: hashes.HashAlgorithm = (
        hashes.SHA1() if algorithm.value.endswith("SHA_1") else hashes.SHA256()
    )
    return padding.OAEP(padding.MGF1(hash_algorithm), hash_algorithm, None)


def wrap(public_key_der: bytes, algorithm: WrappingAlgorithm, material: bytes) -> bytes:
    """Wrap key material as a client does, following "Encrypt the key material"."""
    public_key = serialization.load_der_public_key(public_key_der)
    assert isinstance(public_key, rsa.RSAPublicKey)
    if algorithm.value.startswith("RSAES_OAEP"):
        return public_key.encrypt(material, oaep(algorithm))
    aes_key = os.urandom(32)
    return public_key.encrypt(aes_key, oaep(algorithm)) + aes_key_wrap_with_padding(
        aes_key, material
    )


def counting_random() -> Callable[[int], bytes]:
    calls = [0]

    def random(length: int) -> bytes:
        calls[0] += 1
        seed = calls[0].to_bytes(4, "big")
        return hashlib.shake_256(b"import-test" + seed).digest(length)

    return random


def external_key(key_id: str = KEY_ID) -> Key:
    key = Key.create_for_import(
        key_id=key_id,
        account_id="111122223333",
        region="us-east-2",
        description="imported",
        tags={},
        now=NOW,
    )
    key.collect_events()
    return key


def generated_key() -> Key:
    key = Key.create(
        key_id=KEY_ID,
        account_id="111122223333",
        region="us-east-2",
        description="made by KMS",
        tags={},
        key_material_id="ab" * 32,
        sealed_key_material=SEALED,
        now=NOW,
    )
    key.collect_events()
    return key


def issue(
    key: Key,
    now: datetime = NOW,
    algorithm: WrappingAlgorithm = WrappingAlgorithm.RSAES_OAEP_SHA_256,
) -> tuple[ImportParameters, bytes]:
    issued = issue_import_token(os.urandom)
    parameters = key.issue_import_parameters(
        parameters_id=issued.parameters_id,
        wrapping_algorithm=algorithm,
        wrapping_key_spec="RSA_2048",
        token_digest=issued.digest,
        sealed_wrapping_key="c2VhbGVkIHdyYXBwaW5nIGtleQ==",
        now=now,
    )
    return parameters, issued.token


def import_material(
    key: Key,
    material: bytes,
    *,
    now: datetime = NOW,
    expiration: Any = DOES_NOT_EXPIRE,
    import_type: str | None = None,
    requested_key_material_id: str | None = None,
    description: str | None = None,
) -> str:
    """Import ``material`` through the key's commands, as the handler does."""
    _, token = issue(key, now)
    parameters = key.import_parameters_for(token, now)
    key_material_id = imported_key_material_id(key.key_id, material)
    key.check_key_material_import(
        key_material_id, import_type, requested_key_material_id
    )
    key.import_key_material(
        key_material_id=key_material_id,
        sealed_key_material=SEALED,
        parameters=parameters,
        expiration=expiration,
        import_type=import_type,
        requested_key_material_id=requested_key_material_id,
        description=description,
        now=now,
    )
    return key_material_id


# Keys created for import.


def test_external_key_starts_pending_import() -> None:
    key = external_key()

    assert key.state is KeyState.PENDING_IMPORT
    assert key.origin == "EXTERNAL"
    assert key.key_materials == {}
    assert key.current_key_material_id is None
    assert key.imported_expiration == (None, None)


@pytest.mark.parametrize("command", ["enable", "disable", "check_usable"])
def test_pending_import_key_rejects_use_and_toggling(command: str) -> None:
    key = external_key()
    calls = {
        "enable": lambda: key.enable(NOW),
        "disable": lambda: key.disable(NOW),
        "check_usable": key.check_usable,
    }

    with pytest.raises(KMSInvalidStateException) as caught:
        calls[command]()

    # "Key states of AWS KMS keys", table detail: "<key ARN> is pending import."
    assert caught.value.message == f"{KEY_ARN} is pending import."
    assert key.pending_events == []


def test_pending_import_key_allows_management() -> None:
    key = external_key()

    key.update_description("new", NOW)
    key.tag({"Stage": "prod"}, NOW)
    key.untag(["Stage"], NOW)
    key.schedule_deletion(7, NOW)

    assert key.state is KeyState.PENDING_DELETION


def test_generated_key_rejects_import_actions() -> None:
    key = generated_key()

    for call in (
        key.check_import_allowed,
        lambda: key.delete_imported_key_material(None, NOW),
    ):
        with pytest.raises(UnsupportedOperationException) as caught:
            call()
        assert caught.value.message == (
            f"{KEY_ARN} origin is AWS_KMS which is not valid for this operation."
        )


def test_key_pending_deletion_rejects_import() -> None:
    key = external_key()
    key.schedule_deletion(7, NOW)

    with pytest.raises(KMSInvalidStateException) as caught:
        issue(key)

    assert caught.value.message == f"{KEY_ARN} is pending deletion."


# Wrapping choices and unwrapping.


@pytest.mark.parametrize("spec", ["RSA_2048", "RSA_3072", "RSA_4096"])
@pytest.mark.parametrize("algorithm", [a.value for a in ALL_ALGORITHMS])
def test_wrapping_choice_accepts_every_rsa_pair(algorithm: str, spec: str) -> None:
    assert check_wrapping_choice(algorithm, spec) == int(spec[4:])


@pytest.mark.parametrize(
    ("algorithm", "spec"),
    [
        ("RSAES_PKCS1_V1_5", "RSA_2048"),
        ("SM2PKE", "SM2"),
        ("SM2PKE", "RSA_2048"),
        ("RSAES_OAEP_SHA_256", "SM2"),
    ],
)
def test_wrapping_choice_rejects_unsupported(algorithm: str, spec: str) -> None:
    with pytest.raises(UnsupportedOperationException):
        check_wrapping_choice(algorithm, spec)


def test_pkcs1_error_names_withdrawal_date() -> None:
    with pytest.raises(UnsupportedOperationException) as caught:
        check_wrapping_choice("RSAES_PKCS1_V1_5", "RSA_4096")

    assert "October 10, 2023" in caught.value.message


@pytest.mark.parametrize("algorithm", ALL_ALGORITHMS)
def test_unwrap_returns_client_wrapped_material(
    wrapping_key: bytes, algorithm: WrappingAlgorithm
) -> None:
    material = os.urandom(32)
    encrypted = wrap(wrapping_public_key(wrapping_key), algorithm, material)

    assert unwrap_key_material(algorithm, wrapping_key, encrypted) == material


def test_public_key_is_der_subject_public_key_info(wrapping_key: bytes) -> None:
    public_key = serialization.load_der_public_key(wrapping_public_key(wrapping_key))

    assert isinstance(public_key, rsa.RSAPublicKey)
    assert public_key.key_size == 2048
    assert public_key.public_numbers().e == 65537


@pytest.mark.parametrize(
    ("wrapped_with", "unwrapped_with"),
    [
        (WrappingAlgorithm.RSAES_OAEP_SHA_1, WrappingAlgorithm.RSAES_OAEP_SHA_256),
        (WrappingAlgorithm.RSAES_OAEP_SHA_256, WrappingAlgorithm.RSAES_OAEP_SHA_1),
        (
            WrappingAlgorithm.RSA_AES_KEY_WRAP_SHA_256,
            WrappingAlgorithm.RSA_AES_KEY_WRAP_SHA_1,
        ),
        (
            WrappingAlgorithm.RSAES_OAEP_SHA_256,
            WrappingAlgorithm.RSA_AES_KEY_WRAP_SHA_256,
        ),
    ],
)
def test_unwrap_with_another_algorithm_fails(
    wrapping_key: bytes,
    wrapped_with: WrappingAlgorithm,
    unwrapped_with: WrappingAlgorithm,
) -> None:
    encrypted = wrap(wrapping_public_key(wrapping_key), wrapped_with, os.urandom(32))

    with pytest.raises(InvalidCiphertextException):
        unwrap_key_material(unwrapped_with, wrapping_key, encrypted)


@pytest.mark.parametrize("algorithm", ALL_ALGORITHMS)
@pytest.mark.parametrize(
    "damage",
    ["garbage", "flipped-bit", "truncated", "extended", "other-key"],
)
def test_unwrap_of_damaged_material_fails(
    wrapping_key: bytes, algorithm: WrappingAlgorithm, damage: str
) -> None:
    public_key = wrapping_public_key(wrapping_key)
    encrypted = wrap(public_key, algorithm, os.urandom(32))
    damaged = {
        "garbage": b"garbage" * 40,
        "flipped-bit": encrypted[:-1] + bytes([encrypted[-1] ^ 1]),
        "truncated": encrypted[:-8],
        "extended": encrypted + b"\x00" * 8,
        "other-key": wrap(
            wrapping_public_key(generate_wrapping_key(2048)),
            algorithm,
            os.urandom(32),
        ),
    }[damage]

    with pytest.raises(InvalidCiphertextException):
        unwrap_key_material(algorithm, wrapping_key, damaged)


@pytest.mark.parametrize("length", [0, 16, 31, 33, 64])
def test_symmetric_material_must_be_32_bytes(length: int) -> None:
    with pytest.raises(IncorrectKeyMaterialException):
        check_key_material_length(b"\x01" * length)


# Import tokens.


def test_token_of_issued_parameters_is_found() -> None:
    key = external_key()
    parameters, token = issue(key)

    assert len(token) == IMPORT_TOKEN_LENGTH
    assert key.import_parameters_for(token, NOW) == parameters
    # GetParametersForImport: "Each public key and import token set is valid
    # for 24 hours."
    assert parameters.valid_to == NOW + timedelta(hours=24)


def test_issued_event_keeps_no_token() -> None:
    key = external_key()
    _, token = issue(key)

    [event] = key.collect_events()

    recorded = repr(vars(event))
    assert token.hex() not in recorded
    assert token[1 + 16 :].hex() not in recorded
    assert repr(token[1 + 16 :]) not in recorded
    assert isinstance(event, Key.ImportParametersIssued)
    assert (
        event.token_digest
        == hashlib.sha256(b"keyledger/import-token/v1" + token).hexdigest()
    )


@pytest.mark.parametrize(
    "change",
    ["flipped-secret", "flipped-id", "truncated", "extended", "version", "empty"],
)
def test_changed_token_is_invalid(change: str) -> None:
    key = external_key()
    _, token = issue(key)
    changed = {
        "flipped-secret": token[:-1] + bytes([token[-1] ^ 1]),
        "flipped-id": token[:3] + bytes([token[3] ^ 1]) + token[4:],
        "truncated": token[:-1],
        "extended": token + b"\x00",
        "version": b"\x02" + token[1:],
        "empty": b"",
    }[change]

    with pytest.raises(InvalidImportTokenException) as caught:
        key.import_parameters_for(changed, NOW)

    assert token.hex() not in caught.value.message


def test_token_of_another_key_is_invalid() -> None:
    key = external_key()
    other = external_key(OTHER_KEY_ID)
    _, token = issue(other)

    with pytest.raises(InvalidImportTokenException):
        key.import_parameters_for(token, NOW)


def test_token_expires_after_24_hours() -> None:
    key = external_key()
    _, token = issue(key)
    key.import_parameters_for(token, NOW + timedelta(hours=24) - timedelta(seconds=1))

    with pytest.raises(ExpiredImportTokenException):
        key.import_parameters_for(token, NOW + timedelta(hours=24))


def test_token_serves_one_import() -> None:
    key = external_key()
    _, token = issue(key)
    parameters = key.import_parameters_for(token, NOW)
    material = os.urandom(32)
    key.import_key_material(
        key_material_id=imported_key_material_id(KEY_ID, material),
        sealed_key_material=SEALED,
        parameters=parameters,
        expiration=DOES_NOT_EXPIRE,
        import_type=None,
        requested_key_material_id=None,
        description=None,
        now=NOW,
    )

    with pytest.raises(InvalidImportTokenException):
        key.import_parameters_for(token, NOW)
    assert key.import_parameters[parameters.parameters_id].sealed_wrapping_key is None


def test_tokens_differ_for_each_issue() -> None:
    random = counting_random()

    first = issue_import_token(random)
    second = issue_import_token(random)

    assert first.token != second.token
    assert first.parameters_id != second.parameters_id


# Key material ids.


def test_key_material_id_derivation() -> None:
    material = os.urandom(32)

    first = imported_key_material_id(KEY_ID, material)

    assert first == imported_key_material_id(KEY_ID, material)
    assert first != imported_key_material_id(OTHER_KEY_ID, material)
    assert first != imported_key_material_id(KEY_ID, os.urandom(32))
    # BackingKeyIdType in the service model: 64 lower-case hexadecimal digits.
    assert len(first) == 64
    assert set(first) <= set("0123456789abcdef")
    assert material.hex() not in first


# Expiration.


def test_default_expiry_needs_valid_to() -> None:
    with pytest.raises(ValidationException) as caught:
        expiration_of(None, None, NOW)

    # The message AWS returned, as recorded in LocalStack's AWS-validated
    # snapshot of ImportKeyMaterial without ValidTo.
    assert caught.value.message == (
        "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES"
    )


def test_valid_to_is_rejected_without_expiry() -> None:
    with pytest.raises(ValidationException):
        expiration_of("KEY_MATERIAL_DOES_NOT_EXPIRE", NOW.timestamp() + 60, NOW)


@pytest.mark.parametrize(
    "offset",
    [timedelta(0), timedelta(seconds=-1), timedelta(days=365, seconds=1)],
    ids=["now", "past", "over-365-days"],
)
def test_valid_to_must_be_within_365_days(offset: timedelta) -> None:
    with pytest.raises(ValidationException):
        expiration_of("KEY_MATERIAL_EXPIRES", (NOW + offset).timestamp(), NOW)


@pytest.mark.parametrize("value", [1e300, -1e300, float("nan")])
def test_unrepresentable_valid_to_is_rejected(value: float) -> None:
    with pytest.raises(ValidationException):
        expiration_of("KEY_MATERIAL_EXPIRES", value, NOW)


def test_valid_to_365_days_ahead_is_accepted() -> None:
    valid_to = NOW + timedelta(days=365)

    expiration = expiration_of(None, valid_to.timestamp(), NOW)

    assert expiration.model is ExpirationModel.KEY_MATERIAL_EXPIRES
    assert expiration.valid_to == valid_to


# Importing.


def test_first_import_enables_key_with_current_material() -> None:
    key = external_key()

    key_material_id = import_material(key, os.urandom(32), description="v1")

    assert key.state is KeyState.ENABLED
    assert key.current_key_material_id == key_material_id
    assert key.key_materials == {key_material_id: SEALED}
    assert key.imported_materials[key_material_id].description == "v1"
    assert key.imported_expiration == (
        ExpirationModel.KEY_MATERIAL_DOES_NOT_EXPIRE,
        None,
    )


def test_expiring_import_reports_valid_to() -> None:
    key = external_key()
    valid_to = NOW + timedelta(days=30)

    import_material(
        key, os.urandom(32), expiration=expiration_of(None, valid_to.timestamp(), NOW)
    )

    assert key.imported_expiration == (ExpirationModel.KEY_MATERIAL_EXPIRES, valid_to)


def test_different_material_is_incorrect_after_first_import() -> None:
    key = external_key()
    import_material(key, os.urandom(32))
    key.collect_events()

    with pytest.raises(IncorrectKeyMaterialException):
        import_material(key, os.urandom(32))

    assert [type(e) for e in key.collect_events()] == [Key.ImportParametersIssued]


def test_existing_import_type_on_new_key_is_incorrect() -> None:
    key = external_key()

    with pytest.raises(IncorrectKeyMaterialException):
        import_material(key, os.urandom(32), import_type="EXISTING_KEY_MATERIAL")

    assert key.state is KeyState.PENDING_IMPORT


def test_reimport_after_delete_restores_same_id() -> None:
    key = external_key()
    material = os.urandom(32)
    first_id = import_material(key, material, description="kept")
    key.delete_imported_key_material(None, NOW)

    second_id = import_material(key, material, import_type="EXISTING_KEY_MATERIAL")

    assert second_id == first_id
    assert key.state is KeyState.ENABLED
    assert key.key_materials == {first_id: SEALED}
    # ImportKeyMaterial: without a description, KMS keeps the last one given.
    assert key.imported_materials[first_id].description == "kept"


def test_reimport_with_key_material_id_checks_it() -> None:
    key = external_key()
    material = os.urandom(32)
    key_material_id = import_material(key, material)

    import_material(key, material, requested_key_material_id=key_material_id)
    with pytest.raises(IncorrectKeyMaterialException):
        import_material(key, material, requested_key_material_id="0" * 64)


def test_new_import_rejects_key_material_id() -> None:
    key = external_key()

    with pytest.raises(ValidationException):
        import_material(
            key,
            os.urandom(32),
            import_type="NEW_KEY_MATERIAL",
            requested_key_material_id="0" * 64,
        )


def test_new_import_type_of_associated_material_is_incorrect() -> None:
    key = external_key()
    material = os.urandom(32)
    import_material(key, material)

    with pytest.raises(IncorrectKeyMaterialException):
        import_material(key, material, import_type="NEW_KEY_MATERIAL")


def test_new_material_waits_pending_rotation() -> None:
    key = external_key()
    first_id = import_material(key, os.urandom(32))

    new_id = import_material(key, os.urandom(32), import_type="NEW_KEY_MATERIAL")

    assert key.current_key_material_id == first_id
    assert key.key_material_pending_rotation == new_id
    assert key.is_pending_rotation(new_id)
    assert not key.is_pending_rotation(first_id)
    assert key.state is KeyState.ENABLED


def test_second_pending_material_is_rejected() -> None:
    key = external_key()
    import_material(key, os.urandom(32))
    pending_id = import_material(key, os.urandom(32), import_type="NEW_KEY_MATERIAL")
    rejected = os.urandom(32)

    with pytest.raises(KMSInvalidStateException) as caught:
        import_material(key, rejected, import_type="NEW_KEY_MATERIAL")

    # LocalStack's wording, from its AWS-validated tests.
    rejected_id = imported_key_material_id(KEY_ID, rejected)
    assert caught.value.message == (
        f"New key material (id: {rejected_id}) cannot be imported into KMS key "
        f"{KEY_ARN}, because another key material (id: {pending_id}) is pending "
        "rotation."
    )


# Rotation to imported key material.


def test_rotation_makes_pending_material_current() -> None:
    key = external_key()
    first_id = import_material(key, os.urandom(32))
    new_id = import_material(key, os.urandom(32), import_type="NEW_KEY_MATERIAL")
    later = NOW + timedelta(hours=1)

    rotated_id = key.rotate_to_imported_key_material(later)

    assert rotated_id == new_id
    assert key.current_key_material_id == new_id
    assert key.key_material_pending_rotation is None
    assert set(key.key_materials) == {first_id, new_id}
    [rotation] = key.rotations
    assert rotation.key_material_id == new_id
    assert rotation.rotation_date == later
    assert rotation.rotation_type.value == "ON_DEMAND"


def test_rotation_without_pending_material_is_rejected() -> None:
    key = external_key()
    import_material(key, os.urandom(32))

    with pytest.raises(KMSInvalidStateException):
        key.rotate_to_imported_key_material(NOW)

    assert key.rotations == []


# Deleting imported key material.


def test_delete_current_material_makes_key_pending_import() -> None:
    key = external_key()
    key_material_id = import_material(key, os.urandom(32))
    key.collect_events()

    deleted = key.delete_imported_key_material(None, NOW)

    assert deleted == key_material_id
    assert key.state is KeyState.PENDING_IMPORT
    assert key.key_materials == {}
    assert key.current_key_material_id == key_material_id
    assert not key.imported_materials[key_material_id].imported
    assert [type(e) for e in key.collect_events()] == [Key.ImportedKeyMaterialDeleted]


def test_delete_of_non_current_material_makes_key_pending_import() -> None:
    key = external_key()
    first_id = import_material(key, os.urandom(32))
    import_material(key, os.urandom(32), import_type="NEW_KEY_MATERIAL")
    key.rotate_to_imported_key_material(NOW)

    key.delete_imported_key_material(first_id, NOW)

    # ImportKeyMaterial: "you will need to import all of the key materials
    # associated with the KMS key to change its state to Enabled".
    assert key.state is KeyState.PENDING_IMPORT


def test_delete_of_pending_material_disassociates_it() -> None:
    key = external_key()
    first_id = import_material(key, os.urandom(32))
    pending_id = import_material(key, os.urandom(32), import_type="NEW_KEY_MATERIAL")

    key.delete_imported_key_material(pending_id, NOW)

    assert key.state is KeyState.ENABLED
    assert list(key.imported_materials) == [first_id]
    assert key.key_material_pending_rotation is None
    import_material(key, os.urandom(32), import_type="NEW_KEY_MATERIAL")


def test_delete_without_material_has_no_effect() -> None:
    key = external_key()

    assert key.delete_imported_key_material(None, NOW) is None

    assert key.pending_events == []
    assert key.state is KeyState.PENDING_IMPORT


def test_delete_twice_records_one_event() -> None:
    key = external_key()
    key_material_id = import_material(key, os.urandom(32))
    key.delete_imported_key_material(None, NOW)
    key.collect_events()

    assert key.delete_imported_key_material(None, NOW) == key_material_id

    assert key.pending_events == []


def test_delete_of_unknown_material_is_not_found() -> None:
    key = external_key()
    import_material(key, os.urandom(32))

    with pytest.raises(NotFoundException):
        key.delete_imported_key_material("0" * 64, NOW)


def test_delete_keeps_key_pending_deletion() -> None:
    key = external_key()
    import_material(key, os.urandom(32))
    key.schedule_deletion(7, NOW)

    key.delete_imported_key_material(None, NOW)

    # DeleteImportedKeyMaterial: "When the specified KMS key is in the
    # PendingDeletion state, this operation does not change the KMS key's
    # state."
    assert key.state is KeyState.PENDING_DELETION


def test_cancelled_deletion_without_material_waits_for_import() -> None:
    key = external_key()
    import_material(key, os.urandom(32))
    key.schedule_deletion(7, NOW)
    key.delete_imported_key_material(None, NOW)

    key.cancel_deletion(NOW)

    assert key.state is KeyState.PENDING_IMPORT


def test_cancelled_deletion_with_material_leaves_key_disabled() -> None:
    key = external_key()
    import_material(key, os.urandom(32))
    key.schedule_deletion(7, NOW)

    key.cancel_deletion(NOW)

    assert key.state is KeyState.DISABLED


def test_reimport_into_disabled_key_keeps_it_disabled() -> None:
    key = external_key()
    material = os.urandom(32)
    import_material(key, material)
    key.disable(NOW)

    import_material(key, material)

    assert key.state is KeyState.DISABLED


# Expiry.


def test_expiry_shreds_due_material_only() -> None:
    key = external_key()
    valid_to = NOW + timedelta(days=10)
    key_material_id = import_material(
        key, os.urandom(32), expiration=expiration_of(None, valid_to.timestamp(), NOW)
    )
    key.collect_events()

    early = key.expire_imported_key_material(valid_to - timedelta(seconds=1))
    expired = key.expire_imported_key_material(valid_to)

    assert early == []
    assert expired == [key_material_id]
    assert [type(e) for e in key.collect_events()] == [Key.ImportedKeyMaterialExpired]
    assert key.state is KeyState.PENDING_IMPORT
    assert key.key_materials == {}
    assert key.imported_expiration == (ExpirationModel.KEY_MATERIAL_EXPIRES, None)


def test_expiry_erases_unused_wrapping_keys() -> None:
    key = external_key()
    parameters, token = issue(key)
    key.collect_events()
    after = parameters.valid_to

    key.expire_imported_key_material(after)

    assert [type(e) for e in key.collect_events()] == [Key.ImportParametersExpired]
    assert key.import_parameters[parameters.parameters_id].sealed_wrapping_key is None
    with pytest.raises(ExpiredImportTokenException):
        key.import_parameters_for(token, after)
    assert key.expire_imported_key_material(after + timedelta(days=1)) == []
    assert key.pending_events == []
