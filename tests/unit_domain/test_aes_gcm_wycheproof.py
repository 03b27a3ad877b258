"""Wycheproof AES-GCM vectors through the primitive exactly as KeyLedger calls it.

Only the groups with a 256-bit key, a 96-bit IV and a 128-bit tag run. AWS
KMS's symmetric keys are AES-256-GCM with 12-byte IVs and 16-byte tags, and
KeyLedger uses GCM with no other sizes, for blobs, sealed key material and
wrapped sealing keys alike. Groups with 128- or 192-bit keys, or with IVs
other than 96 bits (0 to 2056 bits in the file), are skipped. KeyLedger
never builds such a cipher, so they would test ``cryptography`` rather than
KeyLedger's use of it.

Each vector goes through ``AESGCM(key).encrypt(iv, msg, aad)``, which returns
the ciphertext followed by the 16-byte tag, and ``AESGCM(key).decrypt(iv,
ct || tag, aad)``, the calls ``OpenedKeyMaterial`` and ``CryptoService`` make.
A valid vector must encrypt to its ``ct || tag`` and decrypt to its ``msg``.
An invalid one must fail to decrypt. Every invalid vector of these groups
has a modified tag.
"""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.ciphertext import HEADER_LENGTH, IV_LENGTH, TAG_LENGTH, build_header
from domain.crypto import KEY_MATERIAL_LENGTH, OpenedKeyMaterial
from domain.encryption_context import encode_encryption_context

KEY_BITS = KEY_MATERIAL_LENGTH * 8
IV_BITS = IV_LENGTH * 8
TAG_BITS = TAG_LENGTH * 8


def kms_vectors(document: dict[str, Any]) -> list[dict[str, Any]]:
    vectors = []
    for group in document["testGroups"]:
        sizes = (group["keySize"], group["ivSize"], group["tagSize"])
        if sizes == (KEY_BITS, IV_BITS, TAG_BITS):
            vectors.extend(group["tests"])
    return vectors


def test_kms_sizes_match_the_blob_format() -> None:
    # AWS KMS symmetric keys: SYMMETRIC_DEFAULT is AES-256-GCM (AWS KMS
    # developer guide, "Key spec reference").
    assert KEY_BITS == 256
    assert IV_BITS == 96
    assert TAG_BITS == 128


def test_vector_selection_covers_valid_and_tampered_vectors(
    wycheproof_aes_gcm: dict[str, Any],
) -> None:
    vectors = kms_vectors(wycheproof_aes_gcm)
    results = [vector["result"] for vector in vectors]

    assert len(vectors) == 66
    assert results.count("valid") == 39
    assert results.count("invalid") == 27


def test_valid_vectors_encrypt_and_decrypt(
    wycheproof_aes_gcm: dict[str, Any],
) -> None:
    checked = 0
    for vector in kms_vectors(wycheproof_aes_gcm):
        if vector["result"] == "invalid":
            continue
        key = bytes.fromhex(vector["key"])
        iv = bytes.fromhex(vector["iv"])
        aad = bytes.fromhex(vector["aad"])
        msg = bytes.fromhex(vector["msg"])
        sealed = bytes.fromhex(vector["ct"]) + bytes.fromhex(vector["tag"])

        encrypted = AESGCM(key).encrypt(iv, msg, aad)
        decrypted = AESGCM(key).decrypt(iv, sealed, aad)

        assert encrypted == sealed, f"tcId {vector['tcId']}: wrong ciphertext"
        assert decrypted == msg, f"tcId {vector['tcId']}: wrong plaintext"
        checked += 1
    assert checked == 39


def test_invalid_vectors_fail_to_decrypt(
    wycheproof_aes_gcm: dict[str, Any],
) -> None:
    checked = 0
    for vector in kms_vectors(wycheproof_aes_gcm):
        if vector["result"] != "invalid":
            continue
        key = bytes.fromhex(vector["key"])
        iv = bytes.fromhex(vector["iv"])
        aad = bytes.fromhex(vector["aad"])
        sealed = bytes.fromhex(vector["ct"]) + bytes.fromhex(vector["tag"])

        with pytest.raises(InvalidTag):
            AESGCM(key).decrypt(iv, sealed, aad)
        checked += 1
    assert checked == 27


def test_blob_body_is_the_primitive_output(
    wycheproof_aes_gcm: dict[str, Any],
) -> None:
    # Ties the vectors to the service: a blob's body is exactly AESGCM's
    # ct || tag over the header plus the encoded context, for vector keys.
    key_id = "1234abcd-12ab-34cd-56ef-1234567890ab"
    key_material_id = "ab" * 32
    context = {"Department": "Finance"}
    for vector in kms_vectors(wycheproof_aes_gcm):
        if vector["result"] == "invalid":
            continue
        key = bytes.fromhex(vector["key"])
        iv = bytes.fromhex(vector["iv"])
        msg = bytes.fromhex(vector["msg"])
        opened = OpenedKeyMaterial(key_id, key_material_id, key)
        header = build_header(key_id, key_material_id, iv)

        blob = opened.encrypt(msg, context, iv)

        expected = AESGCM(key).encrypt(
            iv, msg, header + encode_encryption_context(context)
        )
        assert blob[:HEADER_LENGTH] == header
        assert blob[HEADER_LENGTH:] == expected, f"tcId {vector['tcId']}"
        assert opened.decrypt(blob, context) == msg
