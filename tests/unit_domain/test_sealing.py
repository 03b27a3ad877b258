"""Sealing key material at rest and wrapping sealing keys under the root key.

Sealed material is bound to its account, Region, key id and key material id,
so it opens only where it was sealed. Any tampering or any wrong key raises
SealingError.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from domain.crypto import (
    KEY_MATERIAL_LENGTH,
    SEALING_KEY_LENGTH,
    CryptoService,
    MaterialBinding,
    SealingError,
)

BINDING = MaterialBinding(
    account_id="111122223333",
    region="us-east-1",
    key_id="1234abcd-12ab-34cd-56ef-1234567890ab",
    key_material_id="ab" * 32,
)
ROOT_KEY = bytes(range(32))
OTHER_ROOT_KEY = bytes(range(1, 33))

CHANGED_BINDINGS = {
    "account": dataclasses.replace(BINDING, account_id="444455556666"),
    "region": dataclasses.replace(BINDING, region="us-west-2"),
    "key id": dataclasses.replace(
        BINDING, key_id="0987dcba-09fe-87dc-65ba-ab0987654321"
    ),
    "key material id": dataclasses.replace(BINDING, key_material_id="cd" * 32),
    # The same characters moved across a field boundary.
    "account and region boundary": dataclasses.replace(
        BINDING, account_id="11112222333", region="3us-east-1"
    ),
    "region and key id boundary": dataclasses.replace(
        BINDING,
        region="us-east-11234abcd",
        key_id="-12ab-34cd-56ef-1234567890ab",
    ),
}


@pytest.fixture
def crypto(counting_random: Any) -> CryptoService:
    return CryptoService(random=counting_random(b"sealing"))


def flip_bit(data: bytes, index: int, bit: int) -> bytes:
    changed = bytearray(data)
    changed[index] ^= 1 << bit
    return bytes(changed)


def test_seal_then_open_returns_the_material(crypto: CryptoService) -> None:
    material = crypto.new_key_material()

    sealed = crypto.seal(material, BINDING)

    assert len(material) == KEY_MATERIAL_LENGTH
    assert len(sealed.sealing_key) == SEALING_KEY_LENGTH
    assert material not in sealed.sealed
    assert crypto.open(sealed.sealed, sealed.sealing_key, BINDING) == material


def test_each_seal_uses_a_new_sealing_key(crypto: CryptoService) -> None:
    material = crypto.new_key_material()

    first = crypto.seal(material, BINDING)
    second = crypto.seal(material, BINDING)

    assert first.sealing_key != second.sealing_key
    assert first.sealed != second.sealed


def test_fixed_randomness_reproduces_sealed_bytes(counting_random: Any) -> None:
    first = CryptoService(random=counting_random(b"same"))
    second = CryptoService(random=counting_random(b"same"))

    sealed_first = first.seal(first.new_key_material(), BINDING)
    sealed_second = second.seal(second.new_key_material(), BINDING)

    assert sealed_first == sealed_second


@pytest.mark.parametrize("field", list(CHANGED_BINDINGS))
def test_open_with_changed_binding_fails(crypto: CryptoService, field: str) -> None:
    sealed = crypto.seal(crypto.new_key_material(), BINDING)

    with pytest.raises(SealingError):
        crypto.open(sealed.sealed, sealed.sealing_key, CHANGED_BINDINGS[field])


def test_open_with_wrong_sealing_key_fails(crypto: CryptoService) -> None:
    sealed = crypto.seal(crypto.new_key_material(), BINDING)
    other = crypto.seal(crypto.new_key_material(), BINDING)

    with pytest.raises(SealingError):
        crypto.open(sealed.sealed, other.sealing_key, BINDING)


def test_every_flipped_bit_of_sealed_material_fails(crypto: CryptoService) -> None:
    sealed = crypto.seal(crypto.new_key_material(), BINDING)

    for index in range(len(sealed.sealed)):
        for bit in range(8):
            with pytest.raises(SealingError):
                crypto.open(
                    flip_bit(sealed.sealed, index, bit), sealed.sealing_key, BINDING
                )


def test_every_truncation_of_sealed_material_fails(crypto: CryptoService) -> None:
    sealed = crypto.seal(crypto.new_key_material(), BINDING)

    for length in range(len(sealed.sealed)):
        with pytest.raises(SealingError):
            crypto.open(sealed.sealed[:length], sealed.sealing_key, BINDING)


def test_wrap_then_unwrap_returns_the_sealing_key(crypto: CryptoService) -> None:
    sealed = crypto.seal(crypto.new_key_material(), BINDING)

    wrapped = crypto.wrap_sealing_key(ROOT_KEY, sealed.sealing_key, BINDING)

    assert sealed.sealing_key not in wrapped
    assert crypto.unwrap_sealing_key(ROOT_KEY, wrapped, BINDING) == sealed.sealing_key


def test_unwrap_with_wrong_root_key_fails(crypto: CryptoService) -> None:
    sealed = crypto.seal(crypto.new_key_material(), BINDING)
    wrapped = crypto.wrap_sealing_key(ROOT_KEY, sealed.sealing_key, BINDING)

    with pytest.raises(SealingError):
        crypto.unwrap_sealing_key(OTHER_ROOT_KEY, wrapped, BINDING)


@pytest.mark.parametrize("field", list(CHANGED_BINDINGS))
def test_unwrap_with_changed_binding_fails(crypto: CryptoService, field: str) -> None:
    sealed = crypto.seal(crypto.new_key_material(), BINDING)
    wrapped = crypto.wrap_sealing_key(ROOT_KEY, sealed.sealing_key, BINDING)

    with pytest.raises(SealingError):
        crypto.unwrap_sealing_key(ROOT_KEY, wrapped, CHANGED_BINDINGS[field])


def test_every_flipped_bit_of_wrapped_key_fails(crypto: CryptoService) -> None:
    sealed = crypto.seal(crypto.new_key_material(), BINDING)
    wrapped = crypto.wrap_sealing_key(ROOT_KEY, sealed.sealing_key, BINDING)

    for index in range(len(wrapped)):
        for bit in range(8):
            with pytest.raises(SealingError):
                crypto.unwrap_sealing_key(
                    ROOT_KEY, flip_bit(wrapped, index, bit), BINDING
                )


def test_every_truncation_of_wrapped_key_fails(crypto: CryptoService) -> None:
    sealed = crypto.seal(crypto.new_key_material(), BINDING)
    wrapped = crypto.wrap_sealing_key(ROOT_KEY, sealed.sealing_key, BINDING)

    for length in range(len(wrapped)):
        with pytest.raises(SealingError):
            crypto.unwrap_sealing_key(ROOT_KEY, wrapped[:length], BINDING)


def test_sealed_material_does_not_pass_as_wrapped_key(crypto: CryptoService) -> None:
    # The two AEAD uses carry different domain labels in their AAD, so bytes
    # made by one never open as the other even under the same key.
    material = crypto.new_key_material()
    sealed = crypto.seal(material, BINDING)
    wrapped = crypto.wrap_sealing_key(sealed.sealing_key, material, BINDING)

    with pytest.raises(SealingError):
        crypto.unwrap_sealing_key(sealed.sealing_key, sealed.sealed, BINDING)
    with pytest.raises(SealingError):
        crypto.open(wrapped, sealed.sealing_key, BINDING)


def test_sealing_error_message_names_no_secret(crypto: CryptoService) -> None:
    material = crypto.new_key_material()
    sealed = crypto.seal(material, BINDING)

    with pytest.raises(SealingError) as caught:
        crypto.open(sealed.sealed, bytes(SEALING_KEY_LENGTH), BINDING)

    message = str(caught.value)
    assert message
    assert material.hex() not in message
    assert sealed.sealing_key.hex() not in message
