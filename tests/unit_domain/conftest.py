"""Fixtures for the domain tests: the Wycheproof vectors and fixed randomness."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# The shared vectors sit beside the project, never inside it.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
WYCHEPROOF_DIR = PROJECT_ROOT.parent / "shared" / "vectors" / "wycheproof"


def _missing_dependency(reason: str) -> None:
    # The same rule as the suite's shared helper, which importlib mode cannot
    # import: skip locally, but CI must never pass by skipping.
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI must run this test)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def wycheproof_aes_gcm() -> dict[str, Any]:
    """The parsed Wycheproof ``aes_gcm_test.json``."""
    path = WYCHEPROOF_DIR / "aes_gcm_test.json"
    if not path.is_file():
        _missing_dependency(f"Wycheproof vectors not found at {path}")
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


class CountingRandom:
    """A deterministic random source: SHA-256 of a seed and a call counter.

    Two instances with the same seed return the same bytes in the same order,
    so a CryptoService built on them reproduces blobs byte for byte.
    """

    def __init__(self, seed: bytes) -> None:
        self._seed = seed
        self._calls = 0

    def __call__(self, length: int) -> bytes:
        self._calls += 1
        output = b""
        block = 0
        while len(output) < length:
            output += hashlib.sha256(
                self._seed + self._calls.to_bytes(8, "big") + block.to_bytes(4, "big")
            ).digest()
            block += 1
        return output[:length]


@pytest.fixture
def counting_random() -> Callable[[bytes], CountingRandom]:
    return CountingRandom
