"""Settings: every one has a command-line flag and an environment variable."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_SWEEP_INTERVAL_SECONDS = 60.0
MIN_SWEEP_INTERVAL_SECONDS = 1.0
DEFAULT_AUDIT_DIGEST_INTERVAL_SECONDS = 60.0

T = TypeVar("T")


class SettingsError(ValueError):
    """A setting's value is invalid; the message names the setting."""


def parse_port(text: str) -> int:
    """Return a TCP port number from 1 to 65535, or raise ValueError."""
    stripped = text.strip()
    if not stripped.isascii() or not stripped.isdigit():
        raise ValueError(f"{text!r} is not a port number from 1 to 65535")
    port = int(stripped)
    if not 1 <= port <= 65535:
        raise ValueError(f"{text!r} is not a port number from 1 to 65535")
    return port


def parse_sweep_interval(text: str) -> float:
    """Return a finite number of seconds, at least 1, or raise ValueError."""
    try:
        seconds = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(seconds) or seconds < MIN_SWEEP_INTERVAL_SECONDS:
        raise ValueError(
            f"{text!r} is not a finite number of seconds of at least "
            f"{MIN_SWEEP_INTERVAL_SECONDS:.0f}"
        )
    return seconds


def _from_variable(name: str, parse: Callable[[str], T]) -> T:
    try:
        return parse(os.environ[name])
    except ValueError as error:
        raise SettingsError(f"{name}: {error}") from None


def default_data_dir() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "keyledger"


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass
class Settings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    data_dir: Path = field(default_factory=default_data_dir)
    credentials_file: Path | None = None
    database_url: str | None = None
    root_key_file: Path | None = None
    sweep_interval: float = DEFAULT_SWEEP_INTERVAL_SECONDS
    audit_digest_interval: float = DEFAULT_AUDIT_DIGEST_INTERVAL_SECONDS
    """Seconds between signed digests of the audit trail."""
    dev_clock: bool = False
    database_pool_size: int = 10
    """PostgreSQL connections each process keeps open."""
    database_pre_ping: bool = False
    """Test each PostgreSQL connection before use: for processes that sleep
    between requests, like a frozen Lambda container, whose connections die."""

    @property
    def root_key_path(self) -> Path:
        return self.root_key_file or self.data_dir / "root.key"

    @classmethod
    def from_environment(cls) -> Settings:
        """Read the ``KEYLEDGER_*`` variables; flags given later override them."""
        environ = os.environ
        settings = cls()
        settings.host = environ.get("KEYLEDGER_HOST", settings.host)
        if "KEYLEDGER_PORT" in environ:
            settings.port = _from_variable("KEYLEDGER_PORT", parse_port)
        if environ.get("KEYLEDGER_DATA_DIR"):
            settings.data_dir = Path(environ["KEYLEDGER_DATA_DIR"])
        if environ.get("KEYLEDGER_CREDENTIALS_FILE"):
            settings.credentials_file = Path(environ["KEYLEDGER_CREDENTIALS_FILE"])
        settings.database_url = environ.get("KEYLEDGER_DATABASE_URL") or None
        if environ.get("KEYLEDGER_ROOT_KEY_FILE"):
            settings.root_key_file = Path(environ["KEYLEDGER_ROOT_KEY_FILE"])
        if environ.get("KEYLEDGER_SWEEP_INTERVAL"):
            settings.sweep_interval = _from_variable(
                "KEYLEDGER_SWEEP_INTERVAL", parse_sweep_interval
            )
        if environ.get("KEYLEDGER_AUDIT_DIGEST_INTERVAL"):
            settings.audit_digest_interval = _from_variable(
                "KEYLEDGER_AUDIT_DIGEST_INTERVAL", parse_sweep_interval
            )
        settings.dev_clock = _flag("KEYLEDGER_DEV_CLOCK")
        if environ.get("KEYLEDGER_DATABASE_POOL_SIZE"):
            settings.database_pool_size = _from_variable(
                "KEYLEDGER_DATABASE_POOL_SIZE", _parse_pool_size
            )
        return settings


def _parse_pool_size(text: str) -> int:
    stripped = text.strip()
    if not stripped.isascii() or not stripped.isdigit() or int(stripped) < 1:
        raise ValueError(f"{text!r} is not a whole number of connections of at least 1")
    return int(stripped)
