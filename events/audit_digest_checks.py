"""The check of the signed digests, made one digest at a time as the walk
reaches the record each one ends at."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from events.audit_digests import (
    SIGNATURE_ALGORITHM,
    Digest,
    document_fields,
    iter_digests,
    signature_is_valid,
    timestamp,
)
from events.audit_signing import public_key_fingerprint
from events.audit_tampering import tampered
from events.store import Store


class DigestChain:
    """Checks the digests in order, one at a time, as the walk reaches them."""

    def __init__(
        self, store: Store, public_key: Ed25519PublicKey | None, up_to_number: int
    ) -> None:
        self._digests = iter_digests(store, up_to_number)
        self._public_key = public_key
        self._fingerprint = public_key_fingerprint(public_key) if public_key else None
        self._expected_number = 1
        self._previous: Digest | None = None
        self._up_to_number = up_to_number
        self.checked = 0
        self.current: Digest | None = None
        self.advance()

    def advance(self) -> None:
        """Check the next digest and make it current (None after the last)."""
        digest = next(self._digests, None)
        if digest is None:
            if self._expected_number <= self._up_to_number:
                raise tampered(
                    "digest_missing",
                    f"signed digest {self._expected_number} is missing",
                    digest_number=self._expected_number,
                )
            self.current = None
            return
        self._check(digest)
        self._previous = digest
        self._expected_number += 1
        self.checked += 1
        self.current = digest

    def _check(self, digest: Digest) -> None:
        number = digest.number
        if number != self._expected_number:
            raise tampered(
                "digest_missing",
                f"signed digest {self._expected_number} is missing",
                digest_number=self._expected_number,
            )
        if self._public_key is None:
            raise tampered(
                "digest_invalid",
                f"signed digest {number} exists but the store has no audit "
                "signing key to check it with",
                digest_number=number,
            )
        if not signature_is_valid(self._public_key, digest):
            raise tampered(
                "digest_invalid",
                f"signed digest {number} has an invalid signature",
                digest_number=number,
            )
        previous = self._previous
        expected = {
            "digestNumber": number,
            "firstSequenceNumber": digest.first_seq,
            "lastSequenceNumber": digest.last_seq,
            "lastHash": digest.last_hash,
            "digestEndTime": timestamp(digest.created),
            "previousDigestSignature": previous.signature if previous else None,
            "digestPublicKeyFingerprint": self._fingerprint,
            "digestSignatureAlgorithm": SIGNATURE_ALGORITHM,
        }
        try:
            fields = document_fields(digest.document)
        except ValueError:
            fields = {}
        for name, value in expected.items():
            if fields.get(name) != value:
                raise tampered(
                    "digest_invalid",
                    f"signed digest {number} was changed: its {name} does not "
                    "match its columns or the digest before it",
                    digest_number=number,
                )
        first_expected = previous.last_seq + 1 if previous else 1
        if digest.first_seq != first_expected or digest.last_seq < digest.first_seq:
            raise tampered(
                "digest_invalid",
                f"signed digest {number} covers records {digest.first_seq}-"
                f"{digest.last_seq}, but should start at record {first_expected}",
                digest_number=number,
            )
