"""The problem that the audit trail's verification reports when it finds tampering."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Problem:
    """The first sign of tampering that the walk found."""

    kind: str
    """One of: record_changed, record_missing, record_inserted,
    record_reordered, records_missing, digest_mismatch, digest_invalid,
    digest_missing, event_changed, event_missing, event_unreferenced."""
    message: str
    seq: int | None = None
    digest_number: int | None = None
    event: str | None = None
    """``originator_id/version`` of a stored lifecycle event."""

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "message": self.message,
            "seq": self.seq,
            "digestNumber": self.digest_number,
            "event": self.event,
        }


class Tampered(Exception):
    """Stops the walk at the first problem, which it carries."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def tampered(kind: str, message: str, **where: Any) -> Tampered:
    """Build the exception that reports one problem of this kind."""
    return Tampered(Problem(kind, message, **where))
