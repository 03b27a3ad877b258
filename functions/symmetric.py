"""Encrypt and decrypt under a symmetric key: shared by every action that makes
or opens a ciphertext blob, so the encryption context reaches each of them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.ciphertext import parse_header
from domain.errors import (
    INVALID_CIPHERTEXT_MESSAGE,
    AccessDeniedException,
    IncorrectKeyException,
    InvalidCiphertextException,
    InvalidKeyUsageException,
)
from domain.key import ENCRYPT_DECRYPT, SYMMETRIC_DEFAULT, Key
from domain.principal import Caller
from functions.keys import resolve_key_id
from functions.services import Services


def check_encryption_algorithm(key: Key, algorithm: str | None, action: str) -> None:
    if key.key_usage != ENCRYPT_DECRYPT:
        raise InvalidKeyUsageException(
            f"{key.arn} key usage is {key.key_usage} which is not valid for {action}."
        )
    if algorithm not in (None, SYMMETRIC_DEFAULT):
        raise InvalidKeyUsageException(
            f"The encryption algorithm {algorithm} is not supported by "
            f"{key.arn}, whose key spec is {key.key_spec}."
        )


def encrypt(
    services: Services,
    key: Key,
    plaintext: bytes,
    context: Mapping[str, str] | None,
) -> bytes:
    """Encrypt under the key's current key material; the key must be usable."""
    key.check_usable()
    key.check_not_expired(services.clock.now())
    material = services.vault.opened(key, key.current_key_material_id)
    return material.encrypt(plaintext, context, services.crypto.new_iv())


def decrypt(
    services: Services,
    caller: Caller,
    action: str,
    blob: bytes,
    context: Mapping[str, str] | None,
    requested_key_id: str | None,
    algorithm: str | None = None,
) -> tuple[Key, str, bytes]:
    """Open a ciphertext blob; return its key, key material id and plaintext.

    A KeyId that the caller names must resolve to the blob's own key, or the
    call fails with IncorrectKeyException. An encryption algorithm that the
    caller names must suit that key, or the call fails with
    InvalidKeyUsageException. Every other failure, whatever part of the blob
    or context is wrong, is the same InvalidCiphertextException.
    """
    header = parse_header(blob)
    if requested_key_id is not None:
        named_key_id = resolve_key_id(services, caller, action, requested_key_id)
        if named_key_id != header.key_id:
            raise IncorrectKeyException(
                "The key ID in the request does not identify a KMS key that can "
                "perform this operation."
            )
    key = _key_of_blob(services, caller, action, header.key_id)
    check_encryption_algorithm(key, algorithm, action)
    key.check_usable()
    key.check_not_expired(services.clock.now())
    if header.key_material_id not in key.key_materials:
        raise InvalidCiphertextException(INVALID_CIPHERTEXT_MESSAGE)
    material = services.vault.opened(key, header.key_material_id)
    return key, header.key_material_id, material.decrypt(blob, context)


def _key_of_blob(services: Services, caller: Caller, action: str, key_id: str) -> Key:
    store_key = services.store.cached_key(key_id)
    if store_key is None:
        # A blob that names no key at all is as unusable as a blob with a
        # broken tag.
        raise InvalidCiphertextException(INVALID_CIPHERTEXT_MESSAGE)
    if (
        store_key.account_id != caller.principal.account_id
        or store_key.region != caller.region
    ):
        # AWS rejects a blob of a key the caller cannot reach with this
        # AccessDeniedException, one message for another account and another
        # Region, and names no key ARN.
        raise AccessDeniedException(
            f"User: {caller.principal.arn} is not authorized to perform: "
            f"kms:{action} on the resource associated with this ciphertext "
            "because the resource does not exist in this Region, no "
            "resource-based policies allow access, or a resource-based policy "
            "explicitly denies access"
        )
    store_key.check_exists()
    return store_key


def algorithm_of(params: Mapping[str, Any], name: str = "EncryptionAlgorithm") -> str:
    value = params.get(name)
    return str(value) if value is not None else SYMMETRIC_DEFAULT
