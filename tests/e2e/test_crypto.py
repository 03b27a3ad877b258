"""Cryptographic actions through boto3: Encrypt, Decrypt, ReEncrypt,
GenerateDataKey, GenerateDataKeyWithoutPlaintext and GenerateRandom.

Expected values come from the AWS KMS API reference pages of each action
(API_Encrypt, API_Decrypt, ...) and the developer guide's "Key states of AWS
KMS keys" table. Responses name the key by its key ARN whatever form the
request used.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

ACCOUNT_ID = "111122223333"
REGION = "us-east-1"
CONTEXT = {"tenant": "acme", "purpose": "invoices"}
# Blob layout: version (1), key id (16), key material id (32), IV (12),
# ciphertext, tag (16).
HEADER_LENGTH = 61
TAG_LENGTH = 16


def error_of(operation: Callable[..., Any], **params: Any) -> dict[str, str]:
    """Call ``operation`` expecting a KMS error; return the error's code and message."""
    with pytest.raises(ClientError) as raised:
        operation(**params)
    error: dict[str, str] = raised.value.response["Error"]
    return error


def alias_arn(alias_name: str) -> str:
    return f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:{alias_name}"


def new_key(kms: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = kms.create_key()["KeyMetadata"]
    return metadata


def new_alias(kms: Any, key_id: str, request: pytest.FixtureRequest) -> str:
    """Create an alias with a name unique to this test and backend."""
    suffix = re.sub(r"[^a-zA-Z0-9_-]", "-", request.node.name)[-60:]
    alias_name = f"alias/crypto-{suffix}-{key_id[:8]}"
    kms.create_alias(AliasName=alias_name, TargetKeyId=key_id)
    return alias_name


def four_forms(
    kms: Any, key: dict[str, Any], request: pytest.FixtureRequest
) -> list[str]:
    """Return the key id, key ARN, alias name and alias ARN of ``key``."""
    alias_name = new_alias(kms, key["KeyId"], request)
    return [key["KeyId"], key["Arn"], alias_name, alias_arn(alias_name)]


def disabled_key(kms: Any) -> dict[str, Any]:
    key = new_key(kms)
    kms.disable_key(KeyId=key["KeyId"])
    return key


def pending_key(kms: Any) -> dict[str, Any]:
    key = new_key(kms)
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    return key


def flip_bit(blob: bytes, index: int) -> bytes:
    return blob[:index] + bytes((blob[index] ^ 0x01,)) + blob[index + 1 :]


def assert_invalid_ciphertext(error: dict[str, str]) -> None:
    # AWS returns InvalidCiphertextException with an empty message, whatever
    # part of the blob or context was wrong.
    assert error["Code"] == "InvalidCiphertextException"
    assert error["Message"] == ""


# Encrypt


def test_encrypt_accepts_all_four_identifier_forms(
    kms: Any, request: pytest.FixtureRequest
) -> None:
    key = new_key(kms)

    for key_id in four_forms(kms, key, request):
        response = kms.encrypt(KeyId=key_id, Plaintext=b"four forms")

        # API_Encrypt: KeyId in the response is the key ARN.
        assert set(response) == {
            "CiphertextBlob",
            "KeyId",
            "EncryptionAlgorithm",
            "ResponseMetadata",
        }
        assert response["KeyId"] == key["Arn"], key_id
        assert response["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
        decrypted = kms.decrypt(CiphertextBlob=response["CiphertextBlob"])
        assert decrypted["Plaintext"] == b"four forms"


def test_encrypt_with_symmetric_default_algorithm_succeeds(kms: Any) -> None:
    key = new_key(kms)

    response = kms.encrypt(
        KeyId=key["KeyId"], Plaintext=b"x", EncryptionAlgorithm="SYMMETRIC_DEFAULT"
    )

    assert response["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"


def test_encrypt_same_plaintext_twice_gives_different_blobs(kms: Any) -> None:
    key = new_key(kms)

    first = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"same")["CiphertextBlob"]
    second = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"same")["CiphertextBlob"]

    assert first != second


def test_encrypt_blob_does_not_contain_the_plaintext(kms: Any) -> None:
    key = new_key(kms)
    plaintext = b"a fairly recognisable plaintext string"

    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=plaintext)["CiphertextBlob"]

    assert plaintext not in blob
    assert len(blob) == HEADER_LENGTH + len(plaintext) + TAG_LENGTH


def test_encrypt_accepts_4096_bytes(kms: Any) -> None:
    key = new_key(kms)
    plaintext = bytes(range(256)) * 16

    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=plaintext)["CiphertextBlob"]

    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == plaintext


def test_encrypt_of_4097_bytes_is_rejected(kms: Any) -> None:
    key = new_key(kms)

    error = error_of(kms.encrypt, KeyId=key["KeyId"], Plaintext=b"a" * 4097)

    # API_Encrypt: Plaintext length 1 to 4096; message as AWS returns it.
    assert error["Code"] == "ValidationException"
    assert error["Message"] == (
        "1 validation error detected: Value at 'plaintext' failed to satisfy "
        "constraint: Member must have length less than or equal to 4096"
    )


def test_encrypt_of_empty_plaintext_is_rejected(kms: Any) -> None:
    key = new_key(kms)

    error = error_of(kms.encrypt, KeyId=key["KeyId"], Plaintext=b"")

    assert error["Code"] == "ValidationException"
    assert "plaintext" in error["Message"]


@pytest.mark.parametrize(
    "algorithm", ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "SM2PKE"]
)
def test_encrypt_with_asymmetric_algorithm_is_invalid_key_usage(
    kms: Any, algorithm: str
) -> None:
    # API_Encrypt: InvalidKeyUsageException when the algorithm does not suit
    # the key spec.
    key = new_key(kms)

    error = error_of(
        kms.encrypt, KeyId=key["KeyId"], Plaintext=b"x", EncryptionAlgorithm=algorithm
    )

    assert error["Code"] == "InvalidKeyUsageException"
    assert key["Arn"] in error["Message"]


def test_encrypt_with_disabled_key_is_disabled(kms: Any) -> None:
    key = disabled_key(kms)

    error = error_of(kms.encrypt, KeyId=key["KeyId"], Plaintext=b"x")

    assert error["Code"] == "DisabledException"
    assert error["Message"] == f"{key['Arn']} is disabled."


def test_encrypt_with_pending_key_is_invalid_state(kms: Any) -> None:
    key = pending_key(kms)

    error = error_of(kms.encrypt, KeyId=key["KeyId"], Plaintext=b"x")

    assert error["Code"] == "KMSInvalidStateException"
    assert error["Message"] == f"{key['Arn']} is pending deletion."


def test_encrypt_with_unknown_key_is_not_found(kms: Any) -> None:
    missing = "6c0f2e4a-8b1d-4f3a-a5c7-9e2b4d6f8a0c"

    error = error_of(kms.encrypt, KeyId=missing, Plaintext=b"x")

    assert error["Code"] == "NotFoundException"
    assert error["Message"] == (
        f"Key 'arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{missing}' does not exist"
    )


@pytest.mark.parametrize("form", ["alias name", "alias ARN"])
def test_encrypt_with_unknown_alias_is_not_found(kms: Any, form: str) -> None:
    alias_name = "alias/crypto-never-created"
    key_id = alias_name if form == "alias name" else alias_arn(alias_name)

    error = error_of(kms.encrypt, KeyId=key_id, Plaintext=b"x")

    assert error["Code"] == "NotFoundException"
    assert error["Message"] == f"Alias {alias_arn(alias_name)} is not found."


# Decrypt


def test_decrypt_without_key_id(kms: Any) -> None:
    key = new_key(kms)
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"hello")["CiphertextBlob"]

    response = kms.decrypt(CiphertextBlob=blob)

    # API_Decrypt: KeyId is the ARN of the key that decrypted the ciphertext.
    assert set(response) == {
        "KeyId",
        "Plaintext",
        "EncryptionAlgorithm",
        "KeyMaterialId",
        "ResponseMetadata",
    }
    assert response["Plaintext"] == b"hello"
    assert response["KeyId"] == key["Arn"]
    assert response["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert response["KeyMaterialId"] == key["CurrentKeyMaterialId"]


def test_decrypt_accepts_all_four_identifier_forms(
    kms: Any, request: pytest.FixtureRequest
) -> None:
    key = new_key(kms)
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"named")["CiphertextBlob"]

    for key_id in four_forms(kms, key, request):
        response = kms.decrypt(CiphertextBlob=blob, KeyId=key_id)

        assert response["Plaintext"] == b"named", key_id
        assert response["KeyId"] == key["Arn"], key_id


def test_decrypt_with_symmetric_default_algorithm_succeeds(kms: Any) -> None:
    key = new_key(kms)
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]

    response = kms.decrypt(CiphertextBlob=blob, EncryptionAlgorithm="SYMMETRIC_DEFAULT")

    assert response["Plaintext"] == b"x"


def test_decrypt_with_matching_context_succeeds(kms: Any) -> None:
    key = new_key(kms)
    blob = kms.encrypt(
        KeyId=key["KeyId"], Plaintext=b"bound", EncryptionContext=CONTEXT
    )["CiphertextBlob"]

    response = kms.decrypt(
        CiphertextBlob=blob, EncryptionContext=dict(reversed(CONTEXT.items()))
    )

    assert response["Plaintext"] == b"bound"


def test_decrypt_with_unicode_context_succeeds(kms: Any) -> None:
    key = new_key(kms)
    context = {"städte": "Zürich=1;Genève", "": "empty key", "emoji": "\u2603"}
    blob = kms.encrypt(
        KeyId=key["KeyId"], Plaintext=b"unicode", EncryptionContext=context
    )["CiphertextBlob"]

    response = kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)

    assert response["Plaintext"] == b"unicode"


def test_decrypt_with_wrong_key_id_is_incorrect_key(
    kms: Any, request: pytest.FixtureRequest
) -> None:
    # API_Decrypt: IncorrectKeyException when KeyId names a key other than
    # the one that encrypted the ciphertext.
    key = new_key(kms)
    other = new_key(kms)
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]

    for key_id in four_forms(kms, other, request):
        error = error_of(kms.decrypt, CiphertextBlob=blob, KeyId=key_id)

        assert error["Code"] == "IncorrectKeyException", key_id


def test_decrypt_with_flipped_bit_anywhere_is_invalid_ciphertext(kms: Any) -> None:
    key = new_key(kms)
    blob = kms.encrypt(
        KeyId=key["KeyId"], Plaintext=b"sixteen bytes!!!", EncryptionContext=CONTEXT
    )["CiphertextBlob"]

    for index in range(len(blob)):
        error = error_of(
            kms.decrypt, CiphertextBlob=flip_bit(blob, index), EncryptionContext=CONTEXT
        )

        assert error["Code"] == "InvalidCiphertextException", index
        assert error["Message"] == "", index


@pytest.mark.parametrize(
    "length",
    [1, HEADER_LENGTH - 1, HEADER_LENGTH, HEADER_LENGTH + TAG_LENGTH, -1],
    ids=["one-byte", "short-header", "header-only", "no-ciphertext", "no-last-byte"],
)
def test_decrypt_of_truncated_blob_is_invalid_ciphertext(kms: Any, length: int) -> None:
    key = new_key(kms)
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"truncate me")["CiphertextBlob"]

    error = error_of(kms.decrypt, CiphertextBlob=blob[:length])

    assert_invalid_ciphertext(error)


def test_decrypt_of_extended_blob_is_invalid_ciphertext(kms: Any) -> None:
    key = new_key(kms)
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]

    error = error_of(kms.decrypt, CiphertextBlob=blob + b"\x00")

    assert_invalid_ciphertext(error)


def test_decrypt_of_random_bytes_is_invalid_ciphertext(kms: Any) -> None:
    error = error_of(kms.decrypt, CiphertextBlob=bytes(range(200)))

    assert_invalid_ciphertext(error)


@pytest.mark.parametrize(
    "context",
    [
        None,
        {},
        {"tenant": "acme"},
        {**CONTEXT, "extra": "entry"},
        {**CONTEXT, "tenant": "other"},
        {**CONTEXT, "tenant": "ACME"},
        {"Tenant": "acme", "purpose": "invoices"},
        {"tenantpurpose": "acmeinvoices"},
    ],
    ids=[
        "missing",
        "empty",
        "entry-missing",
        "entry-added",
        "value-changed",
        "value-case-changed",
        "key-case-changed",
        "entries-joined",
    ],
)
def test_decrypt_with_changed_context_is_invalid_ciphertext(
    kms: Any, context: dict[str, str] | None
) -> None:
    # API_Decrypt: the context must be an exact, case-sensitive match.
    key = new_key(kms)
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext=CONTEXT)[
        "CiphertextBlob"
    ]
    params: dict[str, Any] = {"CiphertextBlob": blob}
    if context is not None:
        params["EncryptionContext"] = context

    error = error_of(kms.decrypt, **params)

    assert_invalid_ciphertext(error)


def test_decrypt_with_unexpected_context_rejected(
    kms: Any,
) -> None:
    key = new_key(kms)
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]

    error = error_of(kms.decrypt, CiphertextBlob=blob, EncryptionContext={"a": "b"})

    assert_invalid_ciphertext(error)


def test_decrypt_with_regrouped_context_rejected(
    kms: Any,
) -> None:
    key = new_key(kms)
    blob = kms.encrypt(
        KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext={"a": "b", "c": "d"}
    )["CiphertextBlob"]

    for context in (
        {"a": "bc", "": "d"},
        {"a": "b\x00c", "": "d"},
        {"ab": "", "c": "d"},
    ):
        error = error_of(kms.decrypt, CiphertextBlob=blob, EncryptionContext=context)

        assert_invalid_ciphertext(error)


def test_decrypt_with_disabled_key_is_disabled(kms: Any) -> None:
    key = new_key(kms)
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    kms.disable_key(KeyId=key["KeyId"])

    error = error_of(kms.decrypt, CiphertextBlob=blob)

    assert error["Code"] == "DisabledException"
    assert error["Message"] == f"{key['Arn']} is disabled."


def test_decrypt_with_pending_key_is_invalid_state(kms: Any) -> None:
    key = new_key(kms)
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)

    error = error_of(kms.decrypt, CiphertextBlob=blob)

    assert error["Code"] == "KMSInvalidStateException"
    assert error["Message"] == f"{key['Arn']} is pending deletion."


def test_decrypt_after_cancelled_deletion_and_enable_succeeds(kms: Any) -> None:
    key = new_key(kms)
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"kept")["CiphertextBlob"]
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)

    kms.cancel_key_deletion(KeyId=key["KeyId"])
    kms.enable_key(KeyId=key["KeyId"])

    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"kept"


# ReEncrypt


def test_re_encrypt_moves_ciphertext_to_destination_key(kms: Any) -> None:
    source = new_key(kms)
    destination = new_key(kms)
    blob = kms.encrypt(KeyId=source["KeyId"], Plaintext=b"move me")["CiphertextBlob"]

    response = kms.re_encrypt(
        CiphertextBlob=blob, DestinationKeyId=destination["KeyId"]
    )

    # API_ReEncrypt: SourceKeyId and KeyId are key ARNs.
    assert set(response) == {
        "CiphertextBlob",
        "SourceKeyId",
        "KeyId",
        "SourceEncryptionAlgorithm",
        "DestinationEncryptionAlgorithm",
        "SourceKeyMaterialId",
        "DestinationKeyMaterialId",
        "ResponseMetadata",
    }
    assert response["SourceKeyId"] == source["Arn"]
    assert response["KeyId"] == destination["Arn"]
    assert response["SourceEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert response["DestinationEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert response["SourceKeyMaterialId"] == source["CurrentKeyMaterialId"]
    assert response["DestinationKeyMaterialId"] == destination["CurrentKeyMaterialId"]
    decrypted = kms.decrypt(CiphertextBlob=response["CiphertextBlob"])
    assert decrypted["Plaintext"] == b"move me"
    assert decrypted["KeyId"] == destination["Arn"]


def test_re_encrypt_accepts_four_identifier_forms(
    kms: Any, request: pytest.FixtureRequest
) -> None:
    source = new_key(kms)
    destination = new_key(kms)
    blob = kms.encrypt(KeyId=source["KeyId"], Plaintext=b"forms")["CiphertextBlob"]
    destination_forms = four_forms(kms, destination, request)
    source_forms = four_forms(kms, source, request)

    for destination_id, source_id in zip(destination_forms, source_forms, strict=True):
        response = kms.re_encrypt(
            CiphertextBlob=blob,
            SourceKeyId=source_id,
            DestinationKeyId=destination_id,
        )

        assert response["SourceKeyId"] == source["Arn"], source_id
        assert response["KeyId"] == destination["Arn"], destination_id


def test_re_encrypt_to_the_same_key_gives_a_new_blob(kms: Any) -> None:
    key = new_key(kms)
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"same key")["CiphertextBlob"]

    response = kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=key["KeyId"])

    assert response["CiphertextBlob"] != blob
    assert kms.decrypt(CiphertextBlob=response["CiphertextBlob"])["Plaintext"] == (
        b"same key"
    )


def test_re_encrypt_replaces_the_context(
    kms: Any,
) -> None:
    source = new_key(kms)
    destination = new_key(kms)
    blob = kms.encrypt(
        KeyId=source["KeyId"], Plaintext=b"p", EncryptionContext={"v": "1"}
    )["CiphertextBlob"]

    moved = kms.re_encrypt(
        CiphertextBlob=blob,
        SourceEncryptionContext={"v": "1"},
        DestinationKeyId=destination["KeyId"],
        DestinationEncryptionContext={"v": "2"},
    )["CiphertextBlob"]

    decrypted = kms.decrypt(CiphertextBlob=moved, EncryptionContext={"v": "2"})
    assert decrypted["Plaintext"] == b"p"
    for stale in ({"v": "1"}, None):
        params: dict[str, Any] = {"CiphertextBlob": moved}
        if stale is not None:
            params["EncryptionContext"] = stale
        assert_invalid_ciphertext(error_of(kms.decrypt, **params))


def test_re_encrypt_without_destination_context(
    kms: Any,
) -> None:
    source = new_key(kms)
    blob = kms.encrypt(
        KeyId=source["KeyId"], Plaintext=b"p", EncryptionContext={"v": "1"}
    )["CiphertextBlob"]

    moved = kms.re_encrypt(
        CiphertextBlob=blob,
        SourceEncryptionContext={"v": "1"},
        DestinationKeyId=source["KeyId"],
    )["CiphertextBlob"]

    assert kms.decrypt(CiphertextBlob=moved)["Plaintext"] == b"p"
    assert_invalid_ciphertext(
        error_of(kms.decrypt, CiphertextBlob=moved, EncryptionContext={"v": "1"})
    )


@pytest.mark.parametrize(
    "source_context",
    [None, {"v": "2"}, {"v": "1", "w": "0"}],
    ids=["missing", "changed", "added"],
)
def test_re_encrypt_with_wrong_source_context_is_invalid_ciphertext(
    kms: Any, source_context: dict[str, str] | None
) -> None:
    source = new_key(kms)
    destination = new_key(kms)
    blob = kms.encrypt(
        KeyId=source["KeyId"], Plaintext=b"p", EncryptionContext={"v": "1"}
    )["CiphertextBlob"]
    params: dict[str, Any] = {
        "CiphertextBlob": blob,
        "DestinationKeyId": destination["KeyId"],
    }
    if source_context is not None:
        params["SourceEncryptionContext"] = source_context

    error = error_of(kms.re_encrypt, **params)

    assert_invalid_ciphertext(error)


def test_re_encrypt_with_wrong_source_key_is_incorrect_key(kms: Any) -> None:
    source = new_key(kms)
    other = new_key(kms)
    blob = kms.encrypt(KeyId=source["KeyId"], Plaintext=b"p")["CiphertextBlob"]

    error = error_of(
        kms.re_encrypt,
        CiphertextBlob=blob,
        SourceKeyId=other["KeyId"],
        DestinationKeyId=source["KeyId"],
    )

    assert error["Code"] == "IncorrectKeyException"


def test_re_encrypt_of_flipped_blob_is_invalid_ciphertext(kms: Any) -> None:
    source = new_key(kms)
    blob = kms.encrypt(KeyId=source["KeyId"], Plaintext=b"p")["CiphertextBlob"]

    error = error_of(
        kms.re_encrypt,
        CiphertextBlob=flip_bit(blob, len(blob) - 1),
        DestinationKeyId=source["KeyId"],
    )

    assert_invalid_ciphertext(error)


@pytest.mark.parametrize("side", ["source", "destination"])
def test_re_encrypt_with_disabled_key_is_disabled(kms: Any, side: str) -> None:
    source = new_key(kms)
    destination = new_key(kms)
    blob = kms.encrypt(KeyId=source["KeyId"], Plaintext=b"p")["CiphertextBlob"]
    unusable = source if side == "source" else destination
    kms.disable_key(KeyId=unusable["KeyId"])

    error = error_of(
        kms.re_encrypt, CiphertextBlob=blob, DestinationKeyId=destination["KeyId"]
    )

    assert error["Code"] == "DisabledException"
    assert error["Message"] == f"{unusable['Arn']} is disabled."


@pytest.mark.parametrize("side", ["source", "destination"])
def test_re_encrypt_with_pending_key_is_invalid_state(kms: Any, side: str) -> None:
    source = new_key(kms)
    destination = new_key(kms)
    blob = kms.encrypt(KeyId=source["KeyId"], Plaintext=b"p")["CiphertextBlob"]
    unusable = source if side == "source" else destination
    kms.schedule_key_deletion(KeyId=unusable["KeyId"], PendingWindowInDays=7)

    error = error_of(
        kms.re_encrypt, CiphertextBlob=blob, DestinationKeyId=destination["KeyId"]
    )

    assert error["Code"] == "KMSInvalidStateException"
    assert error["Message"] == f"{unusable['Arn']} is pending deletion."


def test_re_encrypt_asymmetric_algorithm_rejected(
    kms: Any,
) -> None:
    key = new_key(kms)
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p")["CiphertextBlob"]

    error = error_of(
        kms.re_encrypt,
        CiphertextBlob=blob,
        DestinationKeyId=key["KeyId"],
        DestinationEncryptionAlgorithm="RSAES_OAEP_SHA_256",
    )

    assert error["Code"] == "InvalidKeyUsageException"


# GenerateDataKey and GenerateDataKeyWithoutPlaintext


@pytest.mark.parametrize(
    ("length_param", "expected_length"),
    [
        ({"KeySpec": "AES_256"}, 32),
        ({"KeySpec": "AES_128"}, 16),
        ({"NumberOfBytes": 1}, 1),
        ({"NumberOfBytes": 64}, 64),
        ({"NumberOfBytes": 1024}, 1024),
    ],
    ids=["aes-256", "aes-128", "one-byte", "64-bytes", "1024-bytes"],
)
def test_generate_data_key_response(
    kms: Any, length_param: dict[str, Any], expected_length: int
) -> None:
    key = new_key(kms)

    response = kms.generate_data_key(KeyId=key["KeyId"], **length_param)

    # API_GenerateDataKey: KeyId is the key ARN.
    assert set(response) == {
        "CiphertextBlob",
        "Plaintext",
        "KeyId",
        "KeyMaterialId",
        "ResponseMetadata",
    }
    assert len(response["Plaintext"]) == expected_length
    assert response["KeyId"] == key["Arn"]
    assert response["KeyMaterialId"] == key["CurrentKeyMaterialId"]
    decrypted = kms.decrypt(CiphertextBlob=response["CiphertextBlob"])
    assert decrypted["Plaintext"] == response["Plaintext"]
    assert decrypted["KeyId"] == key["Arn"]


def test_generate_data_key_gives_a_new_data_key_each_time(kms: Any) -> None:
    key = new_key(kms)

    first = kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")
    second = kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")

    assert first["Plaintext"] != second["Plaintext"]


def test_generate_data_key_accepts_all_four_identifier_forms(
    kms: Any, request: pytest.FixtureRequest
) -> None:
    key = new_key(kms)

    for key_id in four_forms(kms, key, request):
        response = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")

        assert response["KeyId"] == key["Arn"], key_id


@pytest.mark.parametrize(
    "action", ["generate_data_key", "generate_data_key_without_plaintext"]
)
def test_data_key_is_bound_to_its_encryption_context(kms: Any, action: str) -> None:
    key = new_key(kms)

    response = getattr(kms, action)(
        KeyId=key["KeyId"], KeySpec="AES_256", EncryptionContext=CONTEXT
    )

    decrypted = kms.decrypt(
        CiphertextBlob=response["CiphertextBlob"], EncryptionContext=CONTEXT
    )
    assert len(decrypted["Plaintext"]) == 32
    if "Plaintext" in response:
        assert decrypted["Plaintext"] == response["Plaintext"]
    for wrong in (None, {"tenant": "acme"}, {**CONTEXT, "extra": "x"}):
        params: dict[str, Any] = {"CiphertextBlob": response["CiphertextBlob"]}
        if wrong is not None:
            params["EncryptionContext"] = wrong
        assert_invalid_ciphertext(error_of(kms.decrypt, **params))


@pytest.mark.parametrize(
    "action", ["generate_data_key", "generate_data_key_without_plaintext"]
)
@pytest.mark.parametrize(
    "length_params",
    [{}, {"KeySpec": "AES_256", "NumberOfBytes": 32}],
    ids=["neither", "both"],
)
def test_data_key_needs_one_length_parameter(
    kms: Any, action: str, length_params: dict[str, Any]
) -> None:
    # API_GenerateDataKey: "You must specify either the KeySpec or the
    # NumberOfBytes parameter (but not both)".
    key = new_key(kms)

    error = error_of(getattr(kms, action), KeyId=key["KeyId"], **length_params)

    assert error["Code"] == "ValidationException"


def test_data_key_without_plaintext_response(
    kms: Any,
) -> None:
    key = new_key(kms)

    response = kms.generate_data_key_without_plaintext(
        KeyId=key["KeyId"], KeySpec="AES_128"
    )

    assert set(response) == {
        "CiphertextBlob",
        "KeyId",
        "KeyMaterialId",
        "ResponseMetadata",
    }
    assert response["KeyId"] == key["Arn"]
    assert response["KeyMaterialId"] == key["CurrentKeyMaterialId"]
    decrypted = kms.decrypt(CiphertextBlob=response["CiphertextBlob"])
    assert len(decrypted["Plaintext"]) == 16


def test_data_key_without_plaintext_four_forms(
    kms: Any, request: pytest.FixtureRequest
) -> None:
    key = new_key(kms)

    for key_id in four_forms(kms, key, request):
        response = kms.generate_data_key_without_plaintext(
            KeyId=key_id, NumberOfBytes=48
        )

        assert response["KeyId"] == key["Arn"], key_id


@pytest.mark.parametrize(
    "action", ["generate_data_key", "generate_data_key_without_plaintext"]
)
def test_data_key_with_disabled_key_is_disabled(kms: Any, action: str) -> None:
    key = disabled_key(kms)

    error = error_of(getattr(kms, action), KeyId=key["KeyId"], KeySpec="AES_256")

    # Key states table, footnote 1.
    assert error["Code"] == "DisabledException"
    assert error["Message"] == f"{key['Arn']} is disabled."


@pytest.mark.parametrize(
    "action", ["generate_data_key", "generate_data_key_without_plaintext"]
)
def test_data_key_with_pending_key_is_invalid_state(kms: Any, action: str) -> None:
    key = pending_key(kms)

    error = error_of(getattr(kms, action), KeyId=key["KeyId"], KeySpec="AES_256")

    assert error["Code"] == "KMSInvalidStateException"
    assert error["Message"] == f"{key['Arn']} is pending deletion."


@pytest.mark.parametrize(
    "action", ["generate_data_key", "generate_data_key_without_plaintext"]
)
def test_data_key_with_unknown_key_is_not_found(kms: Any, action: str) -> None:
    missing = "6c0f2e4a-8b1d-4f3a-a5c7-9e2b4d6f8a0d"

    error = error_of(getattr(kms, action), KeyId=missing, KeySpec="AES_256")

    assert error["Code"] == "NotFoundException"


# GenerateRandom


@pytest.mark.parametrize("length", [1, 32, 1024])
def test_generate_random_returns_the_requested_length(kms: Any, length: int) -> None:
    response = kms.generate_random(NumberOfBytes=length)

    assert set(response) == {"Plaintext", "ResponseMetadata"}
    assert len(response["Plaintext"]) == length


def test_generate_random_gives_different_bytes_each_time(kms: Any) -> None:
    first = kms.generate_random(NumberOfBytes=32)["Plaintext"]
    second = kms.generate_random(NumberOfBytes=32)["Plaintext"]

    assert first != second


@pytest.mark.parametrize(
    ("length", "constraint"),
    [
        (0, "Member must have value greater than or equal to 1"),
        (1025, "Member must have value less than or equal to 1024"),
    ],
)
def test_generate_random_length_outside_range(
    server: Any, length: int, constraint: str
) -> None:
    kms = server.client(parameter_validation=False)

    error = error_of(kms.generate_random, NumberOfBytes=length)

    # Messages as AWS returned them in 2023, recorded in LocalStack's
    # AWS-validated snapshot of GenerateRandom.
    assert error["Code"] == "ValidationException"
    assert error["Message"] == (
        f"1 validation error detected: Value '{length}' at 'numberOfBytes' "
        f"failed to satisfy constraint: {constraint}"
    )


def test_generate_random_without_number_of_bytes_is_rejected(kms: Any) -> None:
    # API_GenerateRandom: NumberOfBytes "is required", though the model marks
    # it optional.
    error = error_of(kms.generate_random)

    assert error["Code"] == "ValidationException"


def test_generate_random_missing_length_message(
    kms: Any,
) -> None:
    error = error_of(kms.generate_random)

    # Message as AWS returned it in 2023, recorded in LocalStack's
    # AWS-validated snapshot of GenerateRandom.
    assert error["Message"] == "NumberOfBytes is required."


# Grant tokens


@pytest.mark.parametrize(
    ("action", "params"),
    [
        ("encrypt", {"Plaintext": b"x"}),
        ("generate_data_key", {"KeySpec": "AES_256"}),
        ("generate_data_key_without_plaintext", {"KeySpec": "AES_256"}),
    ],
)
def test_grant_token_never_issued_rejected(
    kms: Any, action: str, params: dict[str, Any]
) -> None:
    # API_Encrypt and the other actions that take GrantTokens:
    # InvalidGrantTokenException when a grant token is not valid. This server
    # has issued no grants, so no token is valid.
    key = new_key(kms)
    token = "AQpAM2RhZTk1MGMyNTk2ZmZmMzEyYWVhOWViN2I1MWM4Mzc0MWFiYjc0ZDE1ODkyNGFl"

    error = error_of(
        getattr(kms, action), KeyId=key["KeyId"], GrantTokens=[token], **params
    )

    assert error["Code"] == "InvalidGrantTokenException"
    assert token not in error["Message"]


def test_decrypt_and_re_encrypt_reject_grant_tokens(
    kms: Any,
) -> None:
    key = new_key(kms)
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]

    decrypt_error = error_of(kms.decrypt, CiphertextBlob=blob, GrantTokens=["token"])
    re_encrypt_error = error_of(
        kms.re_encrypt,
        CiphertextBlob=blob,
        DestinationKeyId=key["KeyId"],
        GrantTokens=["token"],
    )

    assert decrypt_error["Code"] == "InvalidGrantTokenException"
    assert re_encrypt_error["Code"] == "InvalidGrantTokenException"


def test_empty_grant_token_list_is_accepted(kms: Any) -> None:
    key = new_key(kms)

    encrypted = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x", GrantTokens=[])
    decrypted = kms.decrypt(CiphertextBlob=encrypted["CiphertextBlob"], GrantTokens=[])

    assert decrypted["Plaintext"] == b"x"


def test_key_arn_of_another_partition_is_not_found(kms: Any) -> None:
    key = new_key(kms)
    other_partition = key["Arn"].replace("arn:aws:", "arn:aws-cn:", 1)

    error = error_of(kms.encrypt, KeyId=other_partition, Plaintext=b"x")

    assert error["Code"] == "NotFoundException"
    assert other_partition in error["Message"]
