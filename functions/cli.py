"""The ``keyledger`` command."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from functions.audit_cli import add_audit_parser
from functions.settings import Settings, parse_port, parse_sweep_interval

if TYPE_CHECKING:
    import uvicorn

logger = logging.getLogger("keyledger.server")

LOG_LEVELS = ("debug", "info", "warning", "error")
# uvicorn exits with this status when it cannot start, for one when the port
# is taken.
STARTUP_FAILURE_STATUS = 3


def _port_argument(text: str) -> int:
    try:
        return parse_port(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _sweep_interval_argument(text: str) -> float:
    try:
        return parse_sweep_interval(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the flags that choose the store, shared by serve and the audit commands."""
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="folder for the embedded store and the root key file (KEYLEDGER_DATA_DIR, "
        "default $XDG_DATA_HOME/keyledger or ~/.local/share/keyledger)",
    )
    parser.add_argument(
        "--credentials-file",
        type=Path,
        help="TOML file declaring the callers (KEYLEDGER_CREDENTIALS_FILE; default: "
        "the development credential test/test)",
    )
    parser.add_argument(
        "--database-url",
        help="postgresql://user:password@host:port/database[?schema=NAME] to use "
        "PostgreSQL instead of the embedded SQLite store (KEYLEDGER_DATABASE_URL)",
    )
    parser.add_argument(
        "--root-key-file",
        type=Path,
        help="file of the 32-byte root key (KEYLEDGER_ROOT_KEY_FILE, default "
        "<data-dir>/root.key); KEYLEDGER_ROOT_KEY in the environment wins over it",
    )


def _serve_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="start the KMS server",
        description="Start the KMS server. Each flag overrides its KEYLEDGER_* "
        "environment variable.",
    )
    serve.add_argument(
        "--host", help="address to bind (KEYLEDGER_HOST, default 127.0.0.1)"
    )
    serve.add_argument(
        "--port",
        type=_port_argument,
        help="TCP port, 1 to 65535 (KEYLEDGER_PORT, default 8080)",
    )
    add_store_arguments(serve)
    serve.add_argument(
        "--sweep-interval",
        type=_sweep_interval_argument,
        help="seconds between sweeps for due deletions, rotations and expiries, "
        "at least 1 "
        "(KEYLEDGER_SWEEP_INTERVAL, default 60)",
    )
    serve.add_argument(
        "--audit-digest-interval",
        type=_sweep_interval_argument,
        help="seconds between signed digests of the audit trail, at least 1; a "
        "digest is signed only when there are new records "
        "(KEYLEDGER_AUDIT_DIGEST_INTERVAL, default 60)",
    )
    serve.add_argument(
        "--dev-clock",
        action="store_true",
        default=None,
        help="let loopback clients move the server's clock forward, for testing "
        "(KEYLEDGER_DEV_CLOCK); never in production",
    )
    serve.add_argument(
        "--log-level",
        type=str.lower,
        choices=LOG_LEVELS,
        default=os.environ.get("KEYLEDGER_LOG_LEVEL", "info"),
        help="debug, info, warning or error (KEYLEDGER_LOG_LEVEL, default info)",
    )


class StopRequested(Exception):
    """SIGINT or SIGTERM arrived: leave the server loop and close the store."""

    def __init__(self, signal_number: int) -> None:
        super().__init__(signal_number)
        self.signal_name = signal.Signals(signal_number).name


def _raise_stop(signal_number: int, _: object) -> None:
    raise StopRequested(signal_number)


def _stop_on_signals() -> None:
    # uvicorn shuts down gracefully on these signals, then restores the
    # handlers it found and raises the signal again. Finding these handlers,
    # it lands here instead of dying, so the store is closed and the process
    # exits with status 0.
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, _raise_stop)


def settings_from(arguments: argparse.Namespace) -> Settings:
    settings = Settings.from_environment()
    for name in (
        "host",
        "port",
        "data_dir",
        "credentials_file",
        "database_url",
        "root_key_file",
        "sweep_interval",
        "audit_digest_interval",
        "dev_clock",
    ):
        value = getattr(arguments, name, None)
        if value is not None:
            setattr(settings, name, value)
    return settings


def serve(arguments: argparse.Namespace) -> int:
    import uvicorn

    from events.root_key import RootKeyError
    from events.store import (
        InvalidDatabaseUrl,
        RootKeyMismatch,
        StoreUnavailable,
        describe_store,
    )
    from functions.app import create_app
    from functions.credentials import CredentialsFileError
    from functions.logs import configure_logging
    from functions.services import build_services

    configure_logging(arguments.log_level)
    try:
        settings = settings_from(arguments)
        services = build_services(settings)
    except StoreUnavailable as error:
        logger.error(
            "cannot start: %s (store %s)%s",
            error,
            describe_store(settings.data_dir, settings.database_url),
            _postgres_failure(settings.database_url),
        )
        return 2
    except (
        CredentialsFileError,
        RootKeyError,
        RootKeyMismatch,
        InvalidDatabaseUrl,
        ValueError,
        OSError,
    ) as error:
        logger.error("cannot start: %s", error)
        return 2
    if settings.dev_clock:
        logger.warning(
            "DEV CLOCK ON: loopback clients can move this server's clock forward "
            "with POST /_keyledger/dev-clock; never run production like this"
        )

    def announce() -> None:
        logger.info(
            "KeyLedger listening on http://%s:%d, data directory %s, store %s",
            settings.host,
            settings.port,
            settings.data_dir,
            describe_store(settings.data_dir, settings.database_url),
            extra={
                "address": f"{settings.host}:{settings.port}",
                "data_dir": str(settings.data_dir),
                "store": describe_store(settings.data_dir, settings.database_url),
            },
        )

    app = create_app(services)
    _stop_on_signals()
    # Everything built so far (the service model, the app, the caches' first
    # entries) lives as long as the process. Freezing it keeps the collector's
    # full passes from walking it again and again, which showed up as long
    # pauses in the latency tail under load.
    gc.collect()
    gc.freeze()
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        server_header=False,
    )
    server = _announcing_server(config, announce)
    status = 0
    try:
        server.run()
    except StopRequested as stop:
        logger.info("stopping on signal %s", stop.signal_name)
    except SystemExit:
        if server.started:
            raise
        # uvicorn has logged the cause, such as the port being in use.
        logger.error(
            "cannot start: the server could not listen on http://%s:%d",
            settings.host,
            settings.port,
        )
        status = STARTUP_FAILURE_STATUS
    finally:
        services.close()
        logger.info("KeyLedger stopped")
    return status


def _announcing_server(
    config: uvicorn.Config, announce: Callable[[], None]
) -> uvicorn.Server:
    """Return a uvicorn server that calls ``announce`` once it listens."""
    import uvicorn

    class AnnouncingServer(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if self.started:
                announce()

    return AnnouncingServer(config)


def _postgres_failure(database_url: str | None) -> str:
    """Return PostgreSQL's own reason for refusing a connection, as a suffix.

    The connection pool reports only a timeout, which hides a missing
    database or a rejected login.
    """
    if not database_url:
        return ""
    try:
        import psycopg

        # The schema parameter is KeyLedger's, not libpq's.
        with psycopg.connect(database_url.split("?", 1)[0], connect_timeout=5):
            return ""
    except Exception as error:
        # Whatever fails here is the reason to report.
        # libpq's messages name the host and database, never the password.
        reason = str(error).strip().splitlines()
        return f"; PostgreSQL says: {reason[0]}" if reason else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="keyledger",
        description="KeyLedger: a key management service that speaks the AWS KMS API.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    _serve_parser(subparsers)
    add_audit_parser(subparsers, add_store_arguments)
    arguments = parser.parse_args(argv)
    if arguments.command == "serve" and arguments.log_level not in LOG_LEVELS:
        # argparse checks the choices of a flag, not of its default.
        parser.error(
            f"KEYLEDGER_LOG_LEVEL: {arguments.log_level!r} is not one of "
            f"{', '.join(LOG_LEVELS)}"
        )
    if arguments.command == "serve":
        return serve(arguments)
    if arguments.command == "audit":
        return int(arguments.run(arguments))
    parser.error(f"unknown command {arguments.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
