"""The signed digests of the audit chain: their document and their rows.

A digest covers the records after the previous digest's last one, up to the
chain's end when it is signed. Its document (canonical JSON) names that
range, the chain hash at its last record, the previous digest's signature
and the fingerprint of the public key. The signature is Ed25519 over the
document's UTF-8 bytes. Because each document contains its predecessor's
signature, digests form a chain of their own, as CloudTrail's digest files do.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from events.audit import canonical_json
from events.store import Store

SIGNATURE_ALGORITHM = "Ed25519"

_DIGEST_COLUMNS = "number, first_seq, last_seq, last_hash, created, document, signature"
_READ_LAST_DIGEST = (
    f"SELECT {_DIGEST_COLUMNS} FROM keyledger_audit_digests"  # noqa: S608
    " ORDER BY number DESC LIMIT 1"
)
_READ_DIGEST_PAGE = (
    f"SELECT {_DIGEST_COLUMNS} FROM keyledger_audit_digests"  # noqa: S608
    " WHERE number > ? ORDER BY number LIMIT ?"
)
_READ_DIGEST = (
    f"SELECT {_DIGEST_COLUMNS} FROM keyledger_audit_digests"  # noqa: S608
    " WHERE number = ?"
)
_INSERT_DIGEST = (
    f"INSERT INTO keyledger_audit_digests ({_DIGEST_COLUMNS})"  # noqa: S608
    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (number) DO NOTHING"
)
_READ_HEAD = "SELECT seq, hash FROM keyledger_audit_head WHERE id = 1"


@dataclass(frozen=True, slots=True)
class Digest:
    """One signed digest as stored: its columns, its document and signature."""

    number: int
    first_seq: int
    last_seq: int
    last_hash: str
    created: float
    """Epoch seconds."""
    document: str
    signature: str
    """Base64 Ed25519 signature over the document's UTF-8 bytes."""


@dataclass(frozen=True, slots=True)
class ChainHead:
    seq: int
    hash: str


def timestamp(epoch_seconds: float) -> str:
    """Format a digest's time as ISO 8601 UTC with microseconds."""
    moment = datetime.fromtimestamp(epoch_seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def digest_document(
    *,
    number: int,
    first_seq: int,
    last_seq: int,
    last_hash: str,
    created: float,
    previous_signature: str | None,
    fingerprint: str,
) -> str:
    """Build the canonical JSON document that a digest's signature covers."""
    return canonical_json(
        {
            "digestNumber": number,
            "firstSequenceNumber": first_seq,
            "lastSequenceNumber": last_seq,
            "lastHash": last_hash,
            "digestEndTime": timestamp(created),
            "previousDigestSignature": previous_signature,
            "digestPublicKeyFingerprint": fingerprint,
            "digestSignatureAlgorithm": SIGNATURE_ALGORITHM,
        }
    )


def document_fields(document: str) -> dict[str, Any]:
    """Parse a digest document, or raise ValueError if it is not a JSON object."""
    value = json.loads(document)
    if not isinstance(value, dict):
        raise ValueError("a digest document is a JSON object")
    return value


def signature_is_valid(public_key: Ed25519PublicKey, digest: Digest) -> bool:
    try:
        signature = base64.b64decode(digest.signature, validate=True)
        public_key.verify(signature, digest.document.encode("utf-8"))
    except (InvalidSignature, ValueError):
        return False
    return True


# Reading the store.


def read_head(store: Store) -> ChainHead:
    rows = store.read(_READ_HEAD, ())
    if not rows:
        return ChainHead(0, "0" * 64)
    return ChainHead(int(rows[0]["seq"]), str(rows[0]["hash"]))


def last_digest(store: Store) -> Digest | None:
    rows = store.read(_READ_LAST_DIGEST, ())
    return _digest_of(rows[0]) if rows else None


def read_digest(store: Store, number: int) -> Digest | None:
    rows = store.read(_READ_DIGEST, (number,))
    return _digest_of(rows[0]) if rows else None


def iter_digests(
    store: Store, up_to_number: int, page_size: int = 1000
) -> Iterator[Digest]:
    """Yield the stored digests numbered up to ``up_to_number``, in order."""
    after = 0
    while after < up_to_number:
        rows = store.read(_READ_DIGEST_PAGE, (after, page_size))
        if not rows:
            return
        for row in rows:
            digest = _digest_of(row)
            if digest.number > up_to_number:
                return
            yield digest
            after = digest.number


def insert_digest(store: Store, digest: Digest) -> None:
    """Store a digest, unless one of its number is already stored."""
    store.write(
        _INSERT_DIGEST,
        (
            digest.number,
            digest.first_seq,
            digest.last_seq,
            digest.last_hash,
            digest.created,
            digest.document,
            digest.signature,
        ),
    )


def _digest_of(row: Any) -> Digest:
    return Digest(
        number=int(row["number"]),
        first_seq=int(row["first_seq"]),
        last_seq=int(row["last_seq"]),
        last_hash=str(row["last_hash"]),
        created=float(row["created"]),
        document=str(row["document"]),
        signature=str(row["signature"]),
    )
