"""Canonical encoding of an encryption context for use as authenticated data."""

from __future__ import annotations

import struct
from collections.abc import Mapping

_LENGTH = struct.Struct(">I")


def encode_encryption_context(context: Mapping[str, str] | None) -> bytes:
    """Encode ``context`` so that two different contexts never give the same bytes.

    The pairs are sorted by the UTF-8 bytes of their keys, and every count, key
    and value is length-prefixed, so no choice of separators inside keys or
    values can make two contexts collide. The empty context and a missing one
    encode alike, as AWS treats them alike.
    """
    if not context:
        return _LENGTH.pack(0)
    pairs = sorted(
        (key.encode("utf-8"), value.encode("utf-8")) for key, value in context.items()
    )
    parts = [_LENGTH.pack(len(pairs))]
    for key, value in pairs:
        parts.append(_LENGTH.pack(len(key)))
        parts.append(key)
        parts.append(_LENGTH.pack(len(value)))
        parts.append(value)
    return b"".join(parts)
