"""The ciphertext blob: a self-describing AES-256-GCM envelope.

Layout, all lengths in bytes::

    version (1) | key id (16) | key material id (32) | IV (12) | ciphertext | tag (16)

The header (everything before the ciphertext) and the canonical encryption
context form the additional authenticated data, so a changed header, a changed
context or a changed ciphertext all fail the tag check.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass

from domain.errors import INVALID_CIPHERTEXT_MESSAGE, InvalidCiphertextException

FORMAT_VERSION = 1
KEY_ID_LENGTH = 16
KEY_MATERIAL_ID_LENGTH = 32
IV_LENGTH = 12
TAG_LENGTH = 16
HEADER_LENGTH = 1 + KEY_ID_LENGTH + KEY_MATERIAL_ID_LENGTH + IV_LENGTH
MIN_BLOB_LENGTH = HEADER_LENGTH + TAG_LENGTH


@dataclass(frozen=True, slots=True)
class CiphertextHeader:
    key_id: str
    key_material_id: str
    iv: bytes
    raw: bytes
    """The header bytes exactly as they appear in the blob."""


def build_header(key_id: str, key_material_id: str, iv: bytes) -> bytes:
    return (
        bytes((FORMAT_VERSION,))
        + uuid.UUID(key_id).bytes
        + bytes.fromhex(key_material_id)
        + iv
    )


@functools.lru_cache(maxsize=65536)
def _key_id_text(key_id_bytes: bytes) -> str:
    # Decrypt parses a header on every call, and a service has few keys.
    return str(uuid.UUID(bytes=key_id_bytes))


def parse_header(blob: bytes) -> CiphertextHeader:
    """Read the header of ``blob``, or raise InvalidCiphertextException.

    Every malformed blob gets the same error as a failed tag check, so the
    error reveals nothing to a caller about which part was wrong.
    """
    if len(blob) < MIN_BLOB_LENGTH or blob[0] != FORMAT_VERSION:
        raise InvalidCiphertextException(INVALID_CIPHERTEXT_MESSAGE)
    key_id = _key_id_text(blob[1 : 1 + KEY_ID_LENGTH])
    material_start = 1 + KEY_ID_LENGTH
    material_end = material_start + KEY_MATERIAL_ID_LENGTH
    return CiphertextHeader(
        key_id=key_id,
        key_material_id=blob[material_start:material_end].hex(),
        iv=blob[material_end:HEADER_LENGTH],
        raw=blob[:HEADER_LENGTH],
    )
