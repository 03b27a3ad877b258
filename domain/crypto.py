"""The crypto service: key material, sealing, and symmetric encryption.

All cryptography comes from ``cryptography``'s AES-256-GCM. Randomness comes in
as a parameter, so tests can fix IVs and key material and reproduce blobs
byte for byte.
"""

from __future__ import annotations

import hmac
import os
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.ciphertext import (
    HEADER_LENGTH,
    IV_LENGTH,
    KEY_MATERIAL_ID_LENGTH,
    build_header,
    parse_header,
)
from domain.encryption_context import encode_encryption_context
from domain.errors import INVALID_CIPHERTEXT_MESSAGE, InvalidCiphertextException

RandomSource = Callable[[int], bytes]

KEY_MATERIAL_LENGTH = 32
SEALING_KEY_LENGTH = 32
ROOT_KEY_LENGTH = 32
_SEAL_NONCE_LENGTH = 12
_SEALED_MATERIAL_DOMAIN = b"keyledger/sealed-key-material/v1"
_WRAPPED_SEALING_KEY_DOMAIN = b"keyledger/wrapped-sealing-key/v1"
_ROOT_KEY_CHECK_DOMAIN = b"keyledger/root-key-check/v1"


class SealingError(Exception):
    """Sealed key material or a wrapped sealing key failed to open.

    It means tampering, a wrong root key, or material moved onto another key;
    it is never shown to a client as anything but an internal error.
    """


@dataclass(frozen=True, slots=True)
class MaterialBinding:
    """The key a key material belongs to; the material opens only on this key."""

    account_id: str
    region: str
    key_id: str
    key_material_id: str

    def encode(self, domain: bytes) -> bytes:
        parts = [domain]
        for value in (self.account_id, self.region, self.key_id, self.key_material_id):
            encoded = value.encode("utf-8")
            parts.append(struct.pack(">I", len(encoded)))
            parts.append(encoded)
        return b"".join(parts)


@dataclass(frozen=True, slots=True)
class SealedMaterial:
    sealed: bytes
    """The key material encrypted under its sealing key; safe to store in events."""
    sealing_key: bytes
    """The secret that opens ``sealed``; it is stored only wrapped by the root key."""


class OpenedKeyMaterial:
    """One key material in memory, ready to encrypt and decrypt blobs."""

    __slots__ = ("_aead", "key_id", "key_material_id")

    def __init__(self, key_id: str, key_material_id: str, material: bytes) -> None:
        self.key_id = key_id
        self.key_material_id = key_material_id
        self._aead = AESGCM(material)

    def __repr__(self) -> str:
        return (
            f"OpenedKeyMaterial(key_id={self.key_id!r}, "
            f"key_material_id={self.key_material_id!r})"
        )

    def encrypt(
        self, plaintext: bytes, context: Mapping[str, str] | None, iv: bytes
    ) -> bytes:
        header = build_header(self.key_id, self.key_material_id, iv)
        aad = header + encode_encryption_context(context)
        return header + self._aead.encrypt(iv, plaintext, aad)

    def decrypt(self, blob: bytes, context: Mapping[str, str] | None) -> bytes:
        header = parse_header(blob)
        if header.key_id != self.key_id or header.key_material_id != (
            self.key_material_id
        ):
            raise InvalidCiphertextException(INVALID_CIPHERTEXT_MESSAGE)
        aad = header.raw + encode_encryption_context(context)
        try:
            return self._aead.decrypt(header.iv, blob[HEADER_LENGTH:], aad)
        except InvalidTag:
            raise InvalidCiphertextException(INVALID_CIPHERTEXT_MESSAGE) from None


class CryptoService:
    """Makes, seals and opens key material; encrypts under it."""

    def __init__(self, random: RandomSource = os.urandom) -> None:
        self._random = random

    def random_bytes(self, length: int) -> bytes:
        return self._random(length)

    def new_iv(self) -> bytes:
        return self._random(IV_LENGTH)

    def new_key_material(self) -> bytes:
        return self._random(KEY_MATERIAL_LENGTH)

    def new_key_material_id(self) -> str:
        """Return a new key material id: 64 hex digits, as AWS writes them."""
        return self._random(KEY_MATERIAL_ID_LENGTH).hex()

    def seal(self, material: bytes, binding: MaterialBinding) -> SealedMaterial:
        """Encrypt ``material`` under a fresh sealing key, bound to its key."""
        sealing_key = self._random(SEALING_KEY_LENGTH)
        nonce = self._random(_SEAL_NONCE_LENGTH)
        sealed = nonce + AESGCM(sealing_key).encrypt(
            nonce, material, binding.encode(_SEALED_MATERIAL_DOMAIN)
        )
        return SealedMaterial(sealed=sealed, sealing_key=sealing_key)

    def open(
        self, sealed: bytes, sealing_key: bytes, binding: MaterialBinding
    ) -> bytes:
        nonce, body = sealed[:_SEAL_NONCE_LENGTH], sealed[_SEAL_NONCE_LENGTH:]
        try:
            return AESGCM(sealing_key).decrypt(
                nonce, body, binding.encode(_SEALED_MATERIAL_DOMAIN)
            )
        except (InvalidTag, ValueError):
            raise SealingError("sealed key material failed to open") from None

    def root_key_check_value(self, root_key: bytes) -> bytes:
        """Return a value that identifies ``root_key`` without revealing it."""
        return hmac.digest(root_key, _ROOT_KEY_CHECK_DOMAIN, "sha256")

    def wrap_sealing_key(
        self, root_key: bytes, sealing_key: bytes, binding: MaterialBinding
    ) -> bytes:
        nonce = self._random(_SEAL_NONCE_LENGTH)
        return nonce + AESGCM(root_key).encrypt(
            nonce, sealing_key, binding.encode(_WRAPPED_SEALING_KEY_DOMAIN)
        )

    def unwrap_sealing_key(
        self, root_key: bytes, wrapped: bytes, binding: MaterialBinding
    ) -> bytes:
        nonce, body = wrapped[:_SEAL_NONCE_LENGTH], wrapped[_SEAL_NONCE_LENGTH:]
        try:
            return AESGCM(root_key).decrypt(
                nonce, body, binding.encode(_WRAPPED_SEALING_KEY_DOMAIN)
            )
        except (InvalidTag, ValueError):
            raise SealingError("wrapped sealing key failed to open") from None
