"""The audit signing key, and the signer of the audit chain's digests.

The signing key is an Ed25519 key pair made on first use. Its public half is
stored as PEM. Its private half is stored wrapped under the root key, bound
to a purpose label, so it never opens as a sealing key or as key material.
The digests themselves, their document and their rows, are in
:mod:`events.audit_digests`.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from datetime import UTC, datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from domain.crypto import CryptoService, MaterialBinding, SealingError
from events.audit_digests import (
    Digest,
    digest_document,
    insert_digest,
    last_digest,
    read_digest,
    read_head,
)
from events.store import Store

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


class SigningKeyMismatch(Exception):
    """The stored public key is not the public half of the sealed private key."""


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


# Reading the store.


def stored_public_key(store: Store) -> str | None:
    rows = store.read(_READ_SIGNING_KEY, ())
    return str(rows[0]["public_key"]) if rows else None


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
        rows = self._store.read(_READ_SIGNING_KEY, ())
        if not rows:
            self._create()
            rows = self._store.read(_READ_SIGNING_KEY, ())
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
        self._store.write(
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
        insert_digest(self._store, digest)
        stored = read_digest(self._store, number)
        if stored is None or stored.signature != digest.signature:
            return None
        return digest
