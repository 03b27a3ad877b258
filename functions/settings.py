"""Settings: every one has a command-line flag and an environment variable."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_SWEEP_INTERVAL_SECONDS = 60.0


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
            settings.port = int(environ["KEYLEDGER_PORT"])
        if environ.get("KEYLEDGER_DATA_DIR"):
            settings.data_dir = Path(environ["KEYLEDGER_DATA_DIR"])
        if environ.get("KEYLEDGER_CREDENTIALS_FILE"):
            settings.credentials_file = Path(environ["KEYLEDGER_CREDENTIALS_FILE"])
        settings.database_url = environ.get("KEYLEDGER_DATABASE_URL") or None
        if environ.get("KEYLEDGER_ROOT_KEY_FILE"):
            settings.root_key_file = Path(environ["KEYLEDGER_ROOT_KEY_FILE"])
        if environ.get("KEYLEDGER_SWEEP_INTERVAL"):
            settings.sweep_interval = float(environ["KEYLEDGER_SWEEP_INTERVAL"])
        settings.dev_clock = _flag("KEYLEDGER_DEV_CLOCK")
        if environ.get("KEYLEDGER_DATABASE_POOL_SIZE"):
            settings.database_pool_size = int(environ["KEYLEDGER_DATABASE_POOL_SIZE"])
        return settings
