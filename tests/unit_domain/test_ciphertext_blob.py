"""Ciphertext blobs: layout, reproducibility, and every way decryption must fail.

Every failure to decrypt raises InvalidCiphertextException with an empty
message, whatever was wrong, so the error is no oracle for which part of a
blob or context was changed.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Mapping
from typing import Any

import pytest

from domain.ciphertext import (
    FORMAT_VERSION,
    HEADER_LENGTH,
    IV_LENGTH,
    KEY_ID_LENGTH,
    KEY_MATERIAL_ID_LENGTH,
    MIN_BLOB_LENGTH,
    TAG_LENGTH,
    parse_header,
)
from domain.crypto import CryptoService, OpenedKeyMaterial
from domain.errors import InvalidCiphertextException

KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
OTHER_KEY_ID = "0987dcba-09fe-87dc-65ba-ab0987654321"
PLAINTEXT = b"sixteen byte msg"
CONTEXT = {"Department": "Finance", "Project": "Alpha"}


def new_key_material(random: Any) -> tuple[CryptoService, OpenedKeyMaterial]:
    crypto = CryptoService(random=random)
    material = crypto.new_key_material()
    key_material_id = crypto.new_key_material_id()
    return crypto, OpenedKeyMaterial(KEY_ID, key_material_id, material)


def make_blob(
    counting_random: Any,
    plaintext: bytes = PLAINTEXT,
    context: Mapping[str, str] | None = CONTEXT,
) -> tuple[OpenedKeyMaterial, bytes]:
    crypto, opened = new_key_material(counting_random(b"blob"))
    return opened, opened.encrypt(plaintext, context, crypto.new_iv())


def assert_rejected(
    opened: OpenedKeyMaterial, blob: bytes, context: Mapping[str, str] | None
) -> None:
    with pytest.raises(InvalidCiphertextException) as caught:
        opened.decrypt(blob, context)
    assert type(caught.value) is InvalidCiphertextException
    # Every cause gets the same empty message, so the error is no oracle.
    assert caught.value.message == ""
    assert str(caught.value) == ""


def flip_bit(blob: bytes, index: int, bit: int) -> bytes:
    changed = bytearray(blob)
    changed[index] ^= 1 << bit
    return bytes(changed)


# Layout and reproducibility.


def test_blob_layout_places_each_field_at_its_offset(counting_random: Any) -> None:
    crypto, opened = new_key_material(counting_random(b"layout"))
    iv = crypto.new_iv()

    blob = opened.encrypt(PLAINTEXT, CONTEXT, iv)

    key_id_end = 1 + KEY_ID_LENGTH
    material_end = key_id_end + KEY_MATERIAL_ID_LENGTH
    assert blob[0] == FORMAT_VERSION == 1
    assert blob[1:key_id_end] == uuid.UUID(KEY_ID).bytes
    assert blob[key_id_end:material_end] == bytes.fromhex(opened.key_material_id)
    assert blob[material_end:HEADER_LENGTH] == iv
    assert len(blob) == HEADER_LENGTH + len(PLAINTEXT) + TAG_LENGTH
    assert HEADER_LENGTH == 1 + 16 + 32 + 12
    assert MIN_BLOB_LENGTH == HEADER_LENGTH + 16


def test_parse_header_reads_back_the_fields(counting_random: Any) -> None:
    crypto, opened = new_key_material(counting_random(b"header"))
    iv = crypto.new_iv()
    blob = opened.encrypt(PLAINTEXT, None, iv)

    header = parse_header(blob)

    assert header.key_id == KEY_ID
    assert header.key_material_id == opened.key_material_id
    assert len(header.key_material_id) == 64
    assert header.iv == iv
    assert len(header.iv) == IV_LENGTH
    assert header.raw == blob[:HEADER_LENGTH]


def test_fixed_randomness_reproduces_blob_bytes(counting_random: Any) -> None:
    first_crypto, first = new_key_material(counting_random(b"fixed"))
    second_crypto, second = new_key_material(counting_random(b"fixed"))

    first_blob = first.encrypt(PLAINTEXT, CONTEXT, first_crypto.new_iv())
    second_blob = second.encrypt(PLAINTEXT, CONTEXT, second_crypto.new_iv())

    assert first.key_material_id == second.key_material_id
    assert first_blob == second_blob


def test_other_randomness_changes_blob_bytes(counting_random: Any) -> None:
    first_crypto, first = new_key_material(counting_random(b"one"))
    second_crypto, second = new_key_material(counting_random(b"two"))

    first_blob = first.encrypt(PLAINTEXT, CONTEXT, first_crypto.new_iv())
    second_blob = second.encrypt(PLAINTEXT, CONTEXT, second_crypto.new_iv())

    assert first.key_material_id != second.key_material_id
    assert first_blob[HEADER_LENGTH:] != second_blob[HEADER_LENGTH:]


def test_each_encryption_draws_a_new_iv(counting_random: Any) -> None:
    crypto, opened = new_key_material(counting_random(b"ivs"))

    blobs = [opened.encrypt(PLAINTEXT, CONTEXT, crypto.new_iv()) for _ in range(3)]

    ivs = {parse_header(blob).iv for blob in blobs}
    assert len(ivs) == 3
    assert all(opened.decrypt(blob, CONTEXT) == PLAINTEXT for blob in blobs)


@pytest.mark.parametrize("length", [0, 1, 4096])
def test_round_trip_of_plaintext_lengths(counting_random: Any, length: int) -> None:
    plaintext = bytes(range(256)) * (length // 256) + bytes(range(length % 256))

    opened, blob = make_blob(counting_random, plaintext=plaintext)

    assert len(blob) == HEADER_LENGTH + length + TAG_LENGTH
    assert opened.decrypt(blob, CONTEXT) == plaintext


def test_repr_names_ids_but_not_material(counting_random: Any) -> None:
    crypto = CryptoService(random=counting_random(b"repr"))
    material = crypto.new_key_material()
    opened = OpenedKeyMaterial(KEY_ID, "cd" * 32, material)

    text = repr(opened)

    assert KEY_ID in text
    assert material.hex() not in text
    assert repr(material) not in text


# The negative matrix.


def test_wrong_key_material_is_rejected(counting_random: Any) -> None:
    opened, blob = make_blob(counting_random)
    other_material = CryptoService(random=counting_random(b"other")).new_key_material()
    impostor = OpenedKeyMaterial(KEY_ID, opened.key_material_id, other_material)

    assert_rejected(impostor, blob, CONTEXT)


def test_blob_of_another_key_is_rejected(counting_random: Any) -> None:
    # The same material and material id under another key: only the check of
    # the header's key id can refuse it, because the tag covers the blob's own
    # header.
    opened, blob = make_blob(counting_random)
    material = CryptoService(random=counting_random(b"blob")).new_key_material()
    other = OpenedKeyMaterial(OTHER_KEY_ID, opened.key_material_id, material)

    assert_rejected(other, blob, CONTEXT)


def test_blob_of_another_key_material_id_is_rejected(counting_random: Any) -> None:
    # The same material under another id: only the header check can refuse it.
    _, blob = make_blob(counting_random)
    material = CryptoService(random=counting_random(b"blob")).new_key_material()
    other_id = OpenedKeyMaterial(KEY_ID, "ff" * 32, material)

    assert_rejected(other_id, blob, CONTEXT)


REGIONS = {
    "version": (0, 1),
    "key id": (1, 1 + KEY_ID_LENGTH),
    "key material id": (1 + KEY_ID_LENGTH, 1 + KEY_ID_LENGTH + KEY_MATERIAL_ID_LENGTH),
    "iv": (HEADER_LENGTH - IV_LENGTH, HEADER_LENGTH),
    "ciphertext": (HEADER_LENGTH, HEADER_LENGTH + len(PLAINTEXT)),
    "tag": (
        HEADER_LENGTH + len(PLAINTEXT),
        HEADER_LENGTH + len(PLAINTEXT) + TAG_LENGTH,
    ),
}


@pytest.mark.parametrize("region", list(REGIONS))
def test_every_flipped_bit_is_rejected(counting_random: Any, region: str) -> None:
    opened, blob = make_blob(counting_random)
    start, end = REGIONS[region]
    assert end - start > 0

    for index in range(start, end):
        for bit in range(8):
            assert_rejected(opened, flip_bit(blob, index, bit), CONTEXT)

    assert opened.decrypt(blob, CONTEXT) == PLAINTEXT


def test_regions_cover_the_whole_blob(counting_random: Any) -> None:
    _, blob = make_blob(counting_random)

    covered = sorted(REGIONS.values())

    assert covered[0][0] == 0
    assert covered[-1][1] == len(blob)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(covered))


def test_every_length_below_minimum_is_rejected(counting_random: Any) -> None:
    opened, blob = make_blob(counting_random, plaintext=b"")
    assert len(blob) == MIN_BLOB_LENGTH

    for length in range(MIN_BLOB_LENGTH):
        assert_rejected(opened, blob[:length], CONTEXT)


def test_cut_tag_is_rejected(counting_random: Any) -> None:
    opened, blob = make_blob(counting_random)

    for cut in range(1, TAG_LENGTH + 1):
        assert_rejected(opened, blob[:-cut], CONTEXT)


def test_appended_bytes_are_rejected(counting_random: Any) -> None:
    opened, blob = make_blob(counting_random)

    assert_rejected(opened, blob + b"\x00", CONTEXT)
    assert_rejected(opened, blob + blob[-TAG_LENGTH:], CONTEXT)


def test_spliced_blob_is_rejected(
    counting_random: Any,
) -> None:
    crypto, opened = new_key_material(counting_random(b"splice"))
    first = opened.encrypt(PLAINTEXT, CONTEXT, crypto.new_iv())
    second = opened.encrypt(PLAINTEXT, CONTEXT, crypto.new_iv())

    assert_rejected(opened, first[:HEADER_LENGTH] + second[HEADER_LENGTH:], CONTEXT)


# Decrypt (AWS KMS API reference), EncryptionContext: decrypting needs "an
# exact case-sensitive match" of the context used to encrypt.
CHANGED_CONTEXTS = {
    "entry changed": {"Department": "Finance", "Project": "Beta"},
    "entry missing": {"Department": "Finance"},
    "entry added": {**CONTEXT, "Stage": "prod"},
    "key case changed": {"department": "Finance", "Project": "Alpha"},
    "value case changed": {"Department": "finance", "Project": "Alpha"},
    "key and value swapped": {"Finance": "Department", "Project": "Alpha"},
    "empty": {},
    "none": None,
}


@pytest.mark.parametrize("case", list(CHANGED_CONTEXTS))
def test_changed_context_is_rejected(counting_random: Any, case: str) -> None:
    opened, blob = make_blob(counting_random)

    assert_rejected(opened, blob, CHANGED_CONTEXTS[case])


def test_unexpected_context_is_rejected(
    counting_random: Any,
) -> None:
    opened, blob = make_blob(counting_random, context=None)

    assert_rejected(opened, blob, {"Department": "Finance"})
    assert_rejected(opened, blob, {"": ""})


def test_reordered_context_decrypts(counting_random: Any) -> None:
    opened, blob = make_blob(counting_random)

    reordered = {"Project": "Alpha", "Department": "Finance"}

    assert opened.decrypt(blob, reordered) == PLAINTEXT


@pytest.mark.parametrize(
    ("encrypt_with", "decrypt_with"),
    [(None, {}), ({}, None), (None, None), ({}, {})],
)
def test_empty_context_and_none_are_equivalent(
    counting_random: Any,
    encrypt_with: dict[str, str] | None,
    decrypt_with: dict[str, str] | None,
) -> None:
    opened, blob = make_blob(counting_random, context=encrypt_with)

    assert opened.decrypt(blob, decrypt_with) == PLAINTEXT
