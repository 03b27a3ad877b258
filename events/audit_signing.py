"""The audit signing key and the signed digests of the audit chain.

A digest covers the records after the previous digest's last one, up to the
chain's end when it is signed. Its document (canonical JSON) names that
range, the chain hash at its last record, the previous digest's signature
and the fingerprint of the public key. The signature is Ed25519 over the
document's UTF-8 bytes. Because each document contains its predecessor's
signature, digests form a chain of their own, as CloudTrail's digest files do.

The signing key is an Ed25519 key pair made on first use. Its public half is
stored as PEM. Its private half is stored wrapped under the root key, bound
to a purpose label, so it never opens as a sealing key or as key material.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from domain.crypto import CryptoService, MaterialBinding, SealingError
from events.audit import canonical_json
from events.store import Store

SIGNATURE_ALGORITHM = "Ed25519"

# The wrapped private key's binding. A real sealing key is bound to a key id
# (a UUID) and a key material id (64 hex digits), so these labels never match
# one, and the wrapped signing key cannot be passed off as either.
_SIGNING_KEY_BINDING = MaterialBinding(
    account_id="",
    region="",
    key_id="keyledger-audit-signing-key",
    key_material_id="ed25519-private-key/v1",
)

_READ_SIGNING_KEY = (
    "SELECT public_key, wrapped_private_key FROM keyledger_audit_signing_key"
    " WHERE id = 1"
)
_INSERT_SIGNING_KEY = (
    "INSERT INTO keyledger_audit_signing_key"
    " (id, public_key, wrapped_private_key, created) VALUES (1, ?, ?, ?)"
    " ON CONFLICT (id) DO NOTHING"
)
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


class SigningKeyMismatch(Exception):
    """The stored public key is not the public half of the sealed private key."""


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


def public_key_fingerprint(public_key: Ed25519PublicKey) -> str:
    """Return the SHA-256 of the key's DER SubjectPublicKeyInfo, as hex."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_public_key(pem: str | bytes) -> Ed25519PublicKey:
    """Parse a PEM public key, or raise ValueError if it is not an Ed25519 key."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as error:
        raise ValueError(f"not a PEM public key: {error}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(
            f"the audit signing key is Ed25519, not {type(key).__name__.lstrip('_')}"
        )
    return key


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


def signature_is_valid(public_key: Ed25519PublicKey, digest: Digest) -> bool:
    try:
        signature = base64.b64decode(digest.signature, validate=True)
        public_key.verify(signature, digest.document.encode("utf-8"))
    except (InvalidSignature, ValueError):
        return False
    return True


# Reading the store.


def read_head(store: Store) -> ChainHead:
    rows = store._read(_READ_HEAD, ())
    if not rows:
        return ChainHead(0, "0" * 64)
    return ChainHead(int(rows[0]["seq"]), str(rows[0]["hash"]))


def last_digest(store: Store) -> Digest | None:
    rows = store._read(_READ_LAST_DIGEST, ())
    return _digest_of(rows[0]) if rows else None


def read_digest(store: Store, number: int) -> Digest | None:
    rows = store._read(_READ_DIGEST, (number,))
    return _digest_of(rows[0]) if rows else None


def iter_digests(
    store: Store, up_to_number: int, page_size: int = 1000
) -> Iterator[Digest]:
    """Yield the stored digests numbered up to ``up_to_number``, in order."""
    after = 0
    while after < up_to_number:
        rows = store._read(_READ_DIGEST_PAGE, (after, page_size))
        if not rows:
            return
        for row in rows:
            digest = _digest_of(row)
            if digest.number > up_to_number:
                return
            yield digest
            after = digest.number


def stored_public_key(store: Store) -> str | None:
    rows = store._read(_READ_SIGNING_KEY, ())
    return str(rows[0]["public_key"]) if rows else None


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


def _write(store: Store, statement: str, params: tuple[Any, ...]) -> None:
    """Run one write in its own transaction on either backend."""
    # NOTE: Store has no public write method for tables beside the log, so
    # this uses its datastore the way Store.append_audit does.
    from eventsourcing.persistence import PersistenceError

    from events.store import StoreUnavailable

    datastore = store._datastore
    try:
        with datastore.transaction(commit=True) as cursor:
            if store.is_postgres:
                from events.postgres_store import to_postgres

                cursor.execute(to_postgres(statement, datastore.schema), params)
            else:
                cursor.execute(statement, params)
    except PersistenceError as error:
        raise StoreUnavailable(str(error)) from error


# The signer.


class AuditSigner:
    """Creates the audit signing key on first use and signs digests with it.

    Several processes may share one store. Creating the key and signing a
    digest each insert one row under a unique id: the key's fixed id, or the
    digest's number. The insert is skipped on conflict, so when two processes
    race, one row wins and the loser reads and uses it.
    """

    def __init__(self, store: Store, crypto: CryptoService, root_key: bytes) -> None:
        self._store = store
        self._crypto = crypto
        self._root_key = root_key
        self._private_key: Ed25519PrivateKey | None = None
        self._lock = threading.Lock()

    def public_key_pem(self) -> str:
        """Return the signing key's public half as PEM, creating the key if needed."""
        return public_key_pem(self.private_key().public_key())

    def private_key(self) -> Ed25519PrivateKey:
        """Return the signing key, opened from the store or created there.

        Raises SigningKeyMismatch when the stored public key is not the
        public half of the stored private key: someone replaced one of them.
        """
        with self._lock:
            if self._private_key is None:
                self._private_key = self._load_or_create()
            return self._private_key

    def _load_or_create(self) -> Ed25519PrivateKey:
        rows = self._store._read(_READ_SIGNING_KEY, ())
        if not rows:
            self._create()
            rows = self._store._read(_READ_SIGNING_KEY, ())
        public_pem = str(rows[0]["public_key"])
        wrapped = bytes(rows[0]["wrapped_private_key"])
        try:
            raw = self._crypto.unwrap_sealing_key(
                self._root_key, wrapped, _SIGNING_KEY_BINDING
            )
        except SealingError:
            raise SigningKeyMismatch(
                "the audit signing key's private half does not open under the "
                "root key: it was replaced, or the root key is not this store's"
            ) from None
        private_key = Ed25519PrivateKey.from_private_bytes(raw)
        if public_key_pem(private_key.public_key()) != public_pem:
            raise SigningKeyMismatch(
                "the stored audit public key is not the public half of the "
                "sealed audit signing key: the public key was replaced"
            )
        return private_key

    def _create(self) -> None:
        private_key = Ed25519PrivateKey.generate()
        raw = private_key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        wrapped = self._crypto.wrap_sealing_key(
            self._root_key, raw, _SIGNING_KEY_BINDING
        )
        created = datetime.now(UTC).timestamp()
        _write(
            self._store,
            _INSERT_SIGNING_KEY,
            (public_key_pem(private_key.public_key()), wrapped, created),
        )

    def sign_digest(self, now: datetime, interval_seconds: float) -> Digest | None:
        """Sign a digest of the records added since the last one, if it is due.

        A digest is due when there are new records and at least
        ``interval_seconds`` have passed since the last digest (the first one
        is due as soon as there is a record). Returns the new digest, or None
        when none was due or another process signed it first.
        """
        previous = last_digest(self._store)
        head = read_head(self._store)
        covered = previous.last_seq if previous else 0
        if head.seq <= covered:
            return None
        created = now.timestamp()
        if previous is not None and created - previous.created < interval_seconds:
            return None
        private_key = self.private_key()
        number = previous.number + 1 if previous else 1
        document = digest_document(
            number=number,
            first_seq=covered + 1,
            last_seq=head.seq,
            last_hash=head.hash,
            created=created,
            previous_signature=previous.signature if previous else None,
            fingerprint=public_key_fingerprint(private_key.public_key()),
        )
        signature = base64.b64encode(private_key.sign(document.encode("utf-8")))
        digest = Digest(
            number=number,
            first_seq=covered + 1,
            last_seq=head.seq,
            last_hash=head.hash,
            created=created,
            document=document,
            signature=signature.decode("ascii"),
        )
        _write(
            self._store,
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
        stored = read_digest(self._store, number)
        if stored is None or stored.signature != digest.signature:
            return None
        return digest


def document_fields(document: str) -> dict[str, Any]:
    """Parse a digest document, or raise ValueError if it is not a JSON object."""
    value = json.loads(document)
    if not isinstance(value, dict):
        raise ValueError("a digest document is a JSON object")
    return value
