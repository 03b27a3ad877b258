"""The rules of the sweep: work that falls due at a time, with no request.

For now that is deletion at the end of the waiting period. When a key is
deleted, AWS deletes the aliases that point at it too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from domain.alias import Alias
from domain.key import Key


def delete_due_key(
    key: Key, aliases: Sequence[Alias], now: datetime
) -> list[Key | Alias]:
    """Delete ``key`` and its aliases; return every aggregate to save together."""
    key.delete(now)
    changed: list[Key | Alias] = [key]
    for alias in aliases:
        if not alias.deleted and alias.target_key_id == key.key_id:
            alias.delete(now)
            changed.append(alias)
    return changed
