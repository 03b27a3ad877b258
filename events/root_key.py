"""The root key provider: the one secret that wraps every sealing key.

It comes from ``KEYLEDGER_ROOT_KEY`` (base64, environment only, never a flag
that ``ps`` would show) or from a file of 32 random bytes that KeyLedger
creates on first start with owner-only permissions.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
from pathlib import Path

from domain.crypto import ROOT_KEY_LENGTH


class RootKeyError(Exception):
    """The root key is missing, unreadable or malformed; the server cannot start."""


def root_key_from_environment(value: str) -> bytes:
    try:
        root_key = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise RootKeyError("KEYLEDGER_ROOT_KEY is not valid base64") from None
    if len(root_key) != ROOT_KEY_LENGTH:
        raise RootKeyError(
            f"KEYLEDGER_ROOT_KEY must decode to {ROOT_KEY_LENGTH} bytes, "
            f"not {len(root_key)}"
        )
    return root_key


def load_or_create_root_key_file(path: Path) -> bytes:
    """Read the root key file, creating it first if it does not exist.

    A new key is written to a temporary file, fsynced, then hard-linked into
    place. Linking fails if the name exists, so when two processes start at
    once on an empty data directory, both end up reading the one that won.
    """
    if not path.exists():
        _create_root_key_file(path)
    try:
        root_key = path.read_bytes()
    except OSError as error:
        raise RootKeyError(
            f"cannot read root key file {path}: {error.strerror}"
        ) from None
    if len(root_key) != ROOT_KEY_LENGTH:
        raise RootKeyError(
            f"root key file {path} holds {len(root_key)} bytes, "
            f"expected {ROOT_KEY_LENGTH}"
        )
    return root_key


def _create_root_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(os.urandom(ROOT_KEY_LENGTH))
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
        _fsync_directory(path.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
