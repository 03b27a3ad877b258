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
    NotFoundException,
    ValidationException,
)
from domain.identifiers import key_arn
from domain.key import ENCRYPT_DECRYPT, SYMMETRIC_DEFAULT, Key
from domain.principal import Caller
from functions.access import authorize_key
from functions.keys import key_for_use, resolve_key
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
    permission: str,
    params: Mapping[str, Any],
    blob: bytes,
    context: Mapping[str, str] | None,
    requested_key_id: str | None,
    algorithm: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> tuple[Key, str, bytes]:
    """Open a ciphertext blob; return its key, key material id and plaintext.

    ``permission`` is the one the caller needs on the blob's key (Decrypt,
    or ReEncryptFrom). A KeyId that the caller names must resolve to the
    blob's own key, or the call fails with IncorrectKeyException. An
    encryption algorithm that the caller names must suit that key, or the
    call fails with InvalidKeyUsageException. Every other failure, whatever
    part of the blob or context is wrong, is the same
    InvalidCiphertextException.
    """
    header = parse_header(blob)
    request_alias = None
    named = None
    if requested_key_id is not None:
        named = resolve_key(services, caller, permission, requested_key_id)
        if named.key_id != header.key_id:
            raise IncorrectKeyException(
                "The key ID in the request does not identify a KMS key that can "
                "perform this operation."
            )
        request_alias = named.alias_name
    key = _key_of_blob(services, caller, permission, header.key_id)
    if named is not None and named.account_id != key.account_id:
        # A bare key id names a key of the caller's own account, so another
        # account's key is not found by it, as in every other action.
        arn = key_arn(caller.region, named.account_id, named.key_id)
        raise NotFoundException(f"Key '{arn}' does not exist")
    authorize_key(
        services,
        caller,
        permission,
        key,
        params,
        request_alias,
        extra,
        # A caller who named the key gets an error naming that key. Otherwise
        # AWS names no resource, only the ciphertext.
        denied_error=None
        if requested_key_id is not None
        else lambda: _blob_access_denied(caller, permission),
    )
    # Messages name the action, which for ReEncryptFrom is ReEncrypt.
    action = "ReEncrypt" if permission == "ReEncryptFrom" else permission
    check_encryption_algorithm(key, algorithm, action)
    key.check_usable()
    key.check_not_expired(services.clock.now())
    if header.key_material_id not in key.key_materials:
        raise InvalidCiphertextException(INVALID_CIPHERTEXT_MESSAGE)
    material = services.vault.opened(key, header.key_material_id)
    return key, header.key_material_id, material.decrypt(blob, context)


def _key_of_blob(
    services: Services, caller: Caller, permission: str, key_id: str
) -> Key:
    store_key = services.store.cached_key(key_id)
    if store_key is None:
        # A blob that names no key at all is as unusable as a blob with a
        # broken tag.
        raise InvalidCiphertextException(INVALID_CIPHERTEXT_MESSAGE)
    if store_key.region != caller.region:
        raise _blob_access_denied(caller, permission)
    store_key.check_exists()
    return store_key


def _blob_access_denied(caller: Caller, permission: str) -> AccessDeniedException:
    # AWS rejects a blob whose key the caller cannot use with this message,
    # whether the key is in another Region, or no policy allows, or one
    # denies, and names no key ARN.
    return AccessDeniedException(
        f"User: {caller.principal.arn} is not authorized to perform: "
        f"kms:{permission} on the resource associated with this ciphertext "
        "because the resource does not exist in this Region, no "
        "resource-based policies allow access, or a resource-based policy "
        "explicitly denies access"
    )


def ignores_ciphertext(params: Mapping[str, Any]) -> bool:
    """Tell whether a dry run requests the access check alone (IGNORE_CIPHERTEXT)."""
    return params.get("DryRun") is True and "IGNORE_CIPHERTEXT" in (
        params.get("DryRunModifiers") or ()
    )


def authorize_without_ciphertext(
    services: Services,
    caller: Caller,
    permission: str,
    params: Mapping[str, Any],
    key_member: str,
) -> None:
    """Check only that the caller may use the key a dry run names.

    The key is the one ``key_member`` names, or else the one a well-formed
    blob names. The ciphertext itself is never opened.
    """
    text = params.get(key_member)
    if text is None:
        key_id = key_id_of_blob(params.get("CiphertextBlob") or b"")
        if key_id is None:
            # NOTE: AWS's response to IGNORE_CIPHERTEXT without a key is not
            # documented. Without a key there is nothing to check access to.
            raise ValidationException(
                f"{key_member} is required when DryRunModifiers contains "
                "IGNORE_CIPHERTEXT and no valid CiphertextBlob names the key."
            )
        text = key_id
    key_for_use(services, caller, permission, text, params)


def key_id_of_blob(blob: bytes) -> str | None:
    """Return the id of the key a blob names, or None if it has no valid header."""
    try:
        return parse_header(blob).key_id
    except InvalidCiphertextException:
        return None


def algorithm_of(params: Mapping[str, Any], name: str = "EncryptionAlgorithm") -> str:
    value = params.get(name)
    return str(value) if value is not None else SYMMETRIC_DEFAULT
