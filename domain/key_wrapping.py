"""The RSA wrapping keys of an import, and unwrapping the key material they carry.

The algorithms are those of the developer guide's "Encrypt the key material":

- RSAES_OAEP_SHA_1 and RSAES_OAEP_SHA_256 encrypt the key material directly
  with RSA-OAEP, whose MGF1 uses the same hash.
- RSA_AES_KEY_WRAP_SHA_1 and RSA_AES_KEY_WRAP_SHA_256 encrypt a fresh 256-bit
  AES key with that RSA-OAEP, then wrap the key material under the AES key
  with AES Key Wrap with Padding (RFC 5649). The encrypted key material is
  the RSA ciphertext, as long as the modulus, followed by the wrapped key
  material.

Every failure to unwrap raises the same InvalidCiphertextException, so the
error reveals nothing about which step failed.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.keywrap import (
    InvalidUnwrap,
    aes_key_unwrap_with_padding,
)

from domain.errors import InvalidCiphertextException
from domain.key_import import WrappingAlgorithm

RSA_PUBLIC_EXPONENT = 65537
_AES_KEY_LENGTH = 32
_UNWRAP_FAILED_MESSAGE = (
    "The encrypted key material could not be decrypted with the wrapping key "
    "and wrapping algorithm of this import token."
)


def generate_wrapping_key(bits: int) -> bytes:
    """Make an RSA key pair; return the private key as unencrypted PKCS #8 DER.

    The caller seals it at once: it is as secret as the key material it will
    unwrap.
    """
    private_key = rsa.generate_private_key(RSA_PUBLIC_EXPONENT, bits)
    return private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def wrapping_public_key(private_key_der: bytes) -> bytes:
    """Return the public key as DER SubjectPublicKeyInfo, as AWS returns it.

    OpenSSL reads it with ``-pubin -keyform DER``, as the developer guide's
    examples do.
    """
    private_key = _load_private_key(private_key_der)
    return private_key.public_key().public_bytes(
        serialization.Encoding.DER,
        serialization.PublicFormat.SubjectPublicKeyInfo,
    )


def unwrap_key_material(
    algorithm: WrappingAlgorithm, private_key_der: bytes, encrypted: bytes
) -> bytes:
    """Decrypt ``encrypted`` key material with the wrapping private key."""
    private_key = _load_private_key(private_key_der)
    oaep = _oaep(algorithm)
    if algorithm in (
        WrappingAlgorithm.RSAES_OAEP_SHA_1,
        WrappingAlgorithm.RSAES_OAEP_SHA_256,
    ):
        return _rsa_decrypt(private_key, encrypted, oaep)
    modulus_length = (private_key.key_size + 7) // 8
    if len(encrypted) <= modulus_length:
        raise InvalidCiphertextException(_UNWRAP_FAILED_MESSAGE)
    aes_key = _rsa_decrypt(private_key, encrypted[:modulus_length], oaep)
    if len(aes_key) != _AES_KEY_LENGTH:
        raise InvalidCiphertextException(_UNWRAP_FAILED_MESSAGE)
    try:
        return aes_key_unwrap_with_padding(aes_key, encrypted[modulus_length:])
    except (InvalidUnwrap, ValueError):
        raise InvalidCiphertextException(_UNWRAP_FAILED_MESSAGE) from None


def _oaep(algorithm: WrappingAlgorithm) -> padding.OAEP:
    sha1_algorithms = (
        WrappingAlgorithm.RSAES_OAEP_SHA_1,
        WrappingAlgorithm.RSA_AES_KEY_WRAP_SHA_1,
    )
    hash_algorithm: hashes.HashAlgorithm = (
        hashes.SHA1()  # noqa: S303 - AWS's RSAES_OAEP_SHA_1, inside OAEP only
        if algorithm in sha1_algorithms
        else hashes.SHA256()
    )
    return padding.OAEP(
        mgf=padding.MGF1(algorithm=hash_algorithm), algorithm=hash_algorithm, label=None
    )


def _rsa_decrypt(
    private_key: rsa.RSAPrivateKey, ciphertext: bytes, oaep: padding.OAEP
) -> bytes:
    try:
        return private_key.decrypt(ciphertext, oaep)
    except ValueError:
        raise InvalidCiphertextException(_UNWRAP_FAILED_MESSAGE) from None


def _load_private_key(private_key_der: bytes) -> rsa.RSAPrivateKey:
    # The key was made here and comes back only through authenticated
    # sealing, so the slow consistency check of a 4096-bit key adds nothing.
    private_key = serialization.load_der_private_key(
        private_key_der, password=None, unsafe_skip_rsa_key_validation=True
    )
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise TypeError("a wrapping key must be an RSA private key")
    return private_key
