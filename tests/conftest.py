"""Fixtures shared by every test layer.

Every AWS client in the suite talks only to servers the suite starts on
loopback: the environment carries fake credentials, no instance metadata and
a dead default endpoint, so a client that misses its endpoint fails here
instead of reaching AWS.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

SAFE_AWS_ENVIRONMENT = {
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
os.environ.update(SAFE_AWS_ENVIRONMENT)
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_KMS"):
    os.environ.pop(_name, None)

POSTGRES_URL = os.environ.get(
    "KEYLEDGER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_VECTORS = PROJECT_ROOT.parent / "shared" / "vectors" / "wycheproof"
ON_CI = os.environ.get("CI", "").lower() == "true"


def missing_dependency(reason: str) -> None:
    """Skip a test whose dependency is absent, but fail under CI, which must run it."""
    if ON_CI:
        pytest.fail(f"{reason} (CI must run this test)")
    pytest.skip(reason)


def keyledger_command() -> list[str]:
    """The installed console script, so tests exercise the installed package."""
    script = Path(sys.executable).with_name("keyledger")
    if not script.exists():
        found = shutil.which("keyledger")
        if found is None:
            pytest.fail(
                "the keyledger command is not installed; pip install the project"
            )
        script = Path(found)
    return [str(script)]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            return True
    except Exception:
        return False


def new_postgres_schema() -> str:
    """Create an empty schema for one server, so runs never see each other's data."""
    import psycopg

    name = f"kl_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{name}"')
    return name


def drop_postgres_schema(name: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def postgres_url_for(schema: str) -> str:
    return f"{POSTGRES_URL}?schema={schema}"


@dataclass
class KeyLedgerServer:
    """A real ``keyledger serve`` process on a free loopback port."""

    data_dir: Path
    database_url: str | None = None
    extra_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> KeyLedgerServer:
        self.port = free_port()
        command = [
            *keyledger_command(),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            *self.extra_args,
        ]
        if self.database_url:
            command += ["--database-url", self.database_url]
        environment = {**os.environ, **self.env}
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-{self.port}.log"
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=environment
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"keyledger serve exited with {self.process.returncode}:\n"
                    + self.log_text()
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("keyledger serve did not start in time:\n" + self.log_text())

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def restart(self) -> KeyLedgerServer:
        self.stop()
        return self.start()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def client(
        self,
        service: str = "kms",
        region: str = "us-east-1",
        access_key: str = "test",
        secret_key: str = "test",
        **config: Any,
    ) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=Config(retries={"max_attempts": 1}, **config),
        )


BACKENDS = [
    name.strip()
    for name in os.environ.get("KEYLEDGER_TEST_BACKENDS", "sqlite,postgres").split(",")
    if name.strip()
]


@pytest.fixture(scope="session")
def postgres_url() -> str:
    if not postgres_available():
        missing_dependency(f"PostgreSQL is not reachable at {POSTGRES_URL}")
    return POSTGRES_URL


def _start_server(
    backend: str, directory: Path, **options: Any
) -> tuple[KeyLedgerServer, str | None]:
    schema = None
    database_url = None
    if backend == "postgres":
        if not postgres_available():
            missing_dependency(f"PostgreSQL is not reachable at {POSTGRES_URL}")
        schema = new_postgres_schema()
        database_url = postgres_url_for(schema)
    server = KeyLedgerServer(
        data_dir=directory / "data", database_url=database_url, **options
    )
    return server.start(), schema


@pytest.fixture(scope="session", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KeyLedgerServer]:
    """One running server per backend, shared by the tests that only add keys."""
    directory = tmp_path_factory.mktemp(f"server-{request.param}")
    running, schema = _start_server(request.param, directory)
    yield running
    running.stop()
    if schema:
        drop_postgres_schema(schema)


@pytest.fixture(params=BACKENDS)
def fresh_server_factory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Any]:
    """Start servers of this test's own, on an empty store, with extra options."""
    started: list[tuple[KeyLedgerServer, str | None]] = []
    backend: str = request.param

    def start(**options: Any) -> KeyLedgerServer:
        directory = tmp_path / f"server{len(started)}"
        running, schema = _start_server(backend, directory, **options)
        started.append((running, schema))
        return running

    start.backend = backend  # type: ignore[attr-defined]
    yield start
    for running, schema in started:
        running.stop()
        if schema:
            drop_postgres_schema(schema)


@pytest.fixture
def kms(server: KeyLedgerServer) -> Any:
    return server.client()


@pytest.fixture
def moto_s3() -> Iterator[str]:
    """Start a moto S3 server on loopback for one test; yield its endpoint URL."""
    import httpx
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    # moto keeps its buckets in the process, shared by every server it starts.
    httpx.post(endpoint + "/moto-api/reset", timeout=30).raise_for_status()
    yield endpoint
    server.stop()
