"""Fixtures for end-to-end tests that talk raw HTTP and read the store directly.

boto3 validates parameters and signs on the client's side, so it never sends
the malformed, unsigned or tampered requests that the protocol layer must
reject. The ``raw`` fixture signs any body and headers with botocore's SigV4
signer, at a time the test chooses, and sends the bytes exactly as given.
The ``store_reader`` fixture opens a server's database (SQLite file or
PostgreSQL schema) to check what reached the disk.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

CONTENT_TYPE = "application/x-amz-json-1.1"
DEFAULT_REGION = "us-east-1"
SQLITE_FILE_NAME = "keyledger.sqlite3"

# Text that must never reach a client: a leaked traceback names these.
PYTHON_LEAK_MARKERS = (
    "Traceback",
    'File "',
    "Error:",
    "KeyError",
    "TypeError",
    "ValueError",
    "AttributeError",
    "IndexError",
    "RecursionError",
    "UnicodeDecodeError",
    "JSONDecodeError",
    "sqlite3.",
    "psycopg",
    "eventsourcing",
    "NoneType",
)


class FixedTimeSigV4Auth(SigV4Auth):  # type: ignore[misc]
    """botocore's SigV4 signer, signing at a given time instead of now.

    ``add_auth`` reads the current time itself. This signer runs the same
    steps with the request timestamp the test chose, so a request can be
    signed in the past or the future without patching any clock.
    """

    def __init__(
        self, credentials: Credentials, region: str, moment: dt.datetime
    ) -> None:
        super().__init__(credentials, "kms", region)
        self._timestamp = moment.astimezone(dt.UTC).strftime(SIGV4_TIMESTAMP)

    def add_auth(self, request: AWSRequest) -> None:
        request.context["timestamp"] = self._timestamp
        self._modify_request_before_signing(request)
        canonical_request = self.canonical_request(request)
        string_to_sign = self.string_to_sign(request, canonical_request)
        signature = self.signature(string_to_sign, request)
        self._inject_signature_to_request(request, signature)


@dataclass
class SignedRequest:
    """A signed request, still editable, so tests can change it after signing."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes


@dataclass
class RawResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes
    json: Any = None
    """The parsed body, or None when it is not JSON."""

    @property
    def error_type(self) -> str | None:
        if isinstance(self.json, dict):
            value = self.json.get("__type")
            return str(value) if value is not None else None
        return None

    @property
    def message(self) -> str:
        if isinstance(self.json, dict):
            return str(self.json.get("message", ""))
        return ""


def encode_body(payload: Any) -> bytes:
    if payload is None:
        return b""
    if isinstance(payload, bytes):
        return payload
    return json.dumps(payload).encode("utf-8")


def sign(
    endpoint: str,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    *,
    region: str = DEFAULT_REGION,
    access_key: str = "test",
    secret_key: str = "test",
    session_token: str | None = None,
    moment: dt.datetime | None = None,
    method: str = "POST",
    path: str = "/",
) -> SignedRequest:
    """Sign ``body`` and ``headers`` with SigV4 for ``endpoint`` at ``moment``."""
    request = AWSRequest(
        method=method, url=endpoint + path, data=body, headers=dict(headers or {})
    )
    credentials = Credentials(access_key, secret_key, session_token)
    signer = FixedTimeSigV4Auth(credentials, region, moment or dt.datetime.now(dt.UTC))
    signer.add_auth(request)
    return SignedRequest(
        method=method,
        url=endpoint + path,
        headers={name: str(value) for name, value in request.headers.items()},
        body=body,
    )


def send(request: SignedRequest, timeout: float = 30.0) -> RawResponse:
    """Send the request's bytes as they are; httpx adds only Content-Length."""
    with httpx.Client(timeout=timeout) as client:
        response = client.request(
            request.method, request.url, headers=request.headers, content=request.body
        )
    return to_raw_response(response)


def to_raw_response(response: httpx.Response) -> RawResponse:
    try:
        parsed = json.loads(response.content) if response.content else None
    except ValueError:
        parsed = None
    return RawResponse(
        status=response.status_code,
        headers={name.lower(): value for name, value in response.headers.items()},
        body=response.content,
        json=parsed,
    )


def kms_headers(action: str | None) -> dict[str, str]:
    headers = {"Content-Type": CONTENT_TYPE}
    if action is not None:
        headers["X-Amz-Target"] = f"TrentService.{action}"
    return headers


@dataclass
class RawKms:
    """Signed raw KMS calls against one endpoint, with one set of credentials."""

    endpoint: str
    region: str = DEFAULT_REGION
    access_key: str = "test"
    secret_key: str = "test"
    session_token: str | None = None
    responses: list[RawResponse] = field(default_factory=list)
    """Every response received, so tests can scan them all for leaks."""

    def signed(
        self,
        action: str | None,
        payload: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
        moment: dt.datetime | None = None,
        method: str = "POST",
        path: str = "/",
    ) -> SignedRequest:
        """Sign a KMS call; ``payload`` is a dict, raw bytes, or None for no body."""
        return sign(
            self.endpoint,
            encode_body(payload),
            {**kms_headers(action), **(headers or {})},
            region=self.region,
            access_key=self.access_key,
            secret_key=self.secret_key,
            session_token=self.session_token,
            moment=moment,
            method=method,
            path=path,
        )

    def send(self, request: SignedRequest) -> RawResponse:
        response = send(request)
        self.responses.append(response)
        return response

    def call(
        self, action: str | None, payload: Any = None, **options: Any
    ) -> RawResponse:
        return self.send(self.signed(action, payload, **options))

    def ok(self, action: str, payload: Any = None) -> dict[str, Any]:
        """Make a call that must succeed and return its parsed result."""
        response = self.call(action, payload)
        assert response.status == 200, (action, response.status, response.body)
        result: dict[str, Any] = response.json
        return result

    def with_credentials(
        self, access_key: str, secret_key: str, session_token: str | None = None
    ) -> RawKms:
        return RawKms(
            self.endpoint,
            self.region,
            access_key,
            secret_key,
            session_token,
            self.responses,
        )


def assert_clean_kms_error(
    response: RawResponse, error_type: str, status: int = 400
) -> None:
    """Check the shape every KMS error shares: type, status, headers, no leak."""
    assert response.status == status, response.body
    assert response.error_type == error_type, response.body
    assert isinstance(response.json, dict)
    assert set(response.json) <= {"__type", "message"}, response.json
    assert response.headers.get("content-type") == CONTENT_TYPE
    assert response.headers.get("x-amzn-requestid")
    assert_no_python_leak(response.body)


def assert_no_python_leak(body: bytes) -> None:
    text = body.decode("utf-8", errors="replace")
    for marker in PYTHON_LEAK_MARKERS:
        assert marker not in text, f"{marker!r} leaked in {text[:500]!r}"


@pytest.fixture
def raw(server: Any) -> RawKms:
    """Raw signed KMS calls to the shared server of the current backend."""
    return RawKms(server.endpoint)


@pytest.fixture
def raw_for() -> Callable[..., RawKms]:
    """Build raw KMS callers for servers a test starts itself."""

    def build(server: Any, **options: Any) -> RawKms:
        return RawKms(server.endpoint, **options)

    return build


@pytest.fixture
def raw_http() -> Any:
    """The signing and sending functions, for requests RawKms cannot shape."""

    class RawHttp:
        sign = staticmethod(sign)
        send = staticmethod(send)
        to_raw_response = staticmethod(to_raw_response)
        encode_body = staticmethod(encode_body)
        kms_headers = staticmethod(kms_headers)
        assert_clean_kms_error = staticmethod(assert_clean_kms_error)
        assert_no_python_leak = staticmethod(assert_no_python_leak)

    return RawHttp


@pytest.fixture
def kms_error_check() -> Callable[..., None]:
    return assert_clean_kms_error


# Reading what the store wrote.


class StoreReader:
    """Read a server's database directly: the SQLite file or the PostgreSQL schema."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.is_postgres = bool(server.database_url)
        self.schema: str | None = None
        if self.is_postgres:
            query = parse_qs(urlsplit(server.database_url).query)
            self.schema = query["schema"][0]

    @property
    def sqlite_path(self) -> Path:
        return Path(self.server.data_dir) / SQLITE_FILE_NAME

    @property
    def events_table(self) -> str:
        return "keyledger_events" if self.is_postgres else "stored_events"

    def originator_id(self, key_id: str) -> Any:
        """The originator_id column value of a key's events: uuid or hex text."""
        import uuid

        value = uuid.UUID(key_id)
        return value if self.is_postgres else value.hex

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        if self.is_postgres:
            import psycopg

            base = self.server.database_url.split("?", 1)[0]
            with psycopg.connect(base, autocommit=True) as connection:
                connection.execute(f'SET search_path TO "{self.schema}"')
                yield connection
        else:
            connection = sqlite3.connect(self.sqlite_path, timeout=30)
            try:
                yield connection
            finally:
                connection.close()

    def query(
        self, statement: str, params: Sequence[Any] = ()
    ) -> list[tuple[Any, ...]]:
        """Run one statement written with ``?`` placeholders on either backend."""
        if self.is_postgres:
            statement = statement.replace("?", "%s")
        with self._connection() as connection:
            cursor = connection.execute(statement, tuple(params))
            if cursor.description is None:
                return []
            return [tuple(row) for row in cursor.fetchall()]

    def event_topics(self, key_id: str) -> list[str]:
        rows = self.query(
            f"SELECT topic FROM {self.events_table} WHERE originator_id = ?"
            " ORDER BY originator_version",
            (self.originator_id(key_id),),
        )
        return [str(row[0]) for row in rows]

    def table_names(self) -> list[str]:
        if self.is_postgres:
            rows = self.query(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = ?",
                (self.schema,),
            )
        else:
            rows = self.query("SELECT name FROM sqlite_master WHERE type = 'table'")
        return sorted(str(row[0]) for row in rows)

    def all_cell_bytes(self) -> list[bytes]:
        """Every value of every row of every table, as bytes, for leak scans."""
        cells: list[bytes] = []
        for table in self.table_names():
            quoted = f'"{table}"'
            for row in self.query(f"SELECT * FROM {quoted}"):
                cells.extend(_cell_bytes(value) for value in row if value is not None)
        return cells

    def raw_files(self) -> dict[str, bytes]:
        """The SQLite database, WAL and shared-memory files as they lie on disk."""
        files: dict[str, bytes] = {}
        for suffix in ("", "-wal", "-shm", "-journal"):
            path = Path(str(self.sqlite_path) + suffix)
            if path.exists():
                files[path.name] = path.read_bytes()
        return files


def _cell_bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode("utf-8")


@pytest.fixture
def store_reader() -> Callable[[Any], StoreReader]:
    return StoreReader


# Servers that share one store.


def _root_conftest(config: pytest.Config) -> Any:
    """The suite's top-level conftest module, which defines KeyLedgerServer."""
    for plugin in config.pluginmanager.get_plugins():
        if hasattr(plugin, "KeyLedgerServer") and hasattr(
            plugin, "new_postgres_schema"
        ):
            return plugin
    raise LookupError("tests/conftest.py is not loaded")


@dataclass
class ServerProcesses:
    """Start ``keyledger serve`` processes on a store of the test's choosing.

    ``fresh_server_factory`` gives every server a store of its own. These
    tests need several processes on one store: a second server on the data
    directory and database of a first, or two servers started at once on an
    empty store.
    """

    backend: str
    root: Any
    directory: Path
    started: list[Any] = field(default_factory=list)
    schemas: list[str] = field(default_factory=list)

    def empty_store(self) -> tuple[Path, str | None]:
        """Return a new data directory and, on PostgreSQL, a new empty schema's URL."""
        data_dir = self.directory / f"store{len(self.schemas)}-{len(self.started)}"
        if self.backend != "postgres":
            return data_dir, None
        if not self.root.postgres_available():
            self.root.missing_dependency("PostgreSQL is not reachable")
        schema = self.root.new_postgres_schema()
        self.schemas.append(schema)
        return data_dir, self.root.postgres_url_for(schema)

    def process(
        self,
        data_dir: Path,
        database_url: str | None,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> Any:
        """A server on this store, not yet started; it is stopped after the test."""
        server = self.root.KeyLedgerServer(
            data_dir=data_dir,
            database_url=database_url,
            extra_args=list(extra_args),
            env=dict(env or {}),
        )
        self.started.append(server)
        return server

    def twin(self, server: Any, extra_args: Sequence[str] = ()) -> Any:
        """Start a second server on the data directory and database of ``server``."""
        return self.process(server.data_dir, server.database_url, extra_args).start()

    def close(self) -> None:
        for server in self.started:
            server.stop()
        for schema in self.schemas:
            self.root.drop_postgres_schema(schema)


@pytest.fixture
def server_processes(
    request: pytest.FixtureRequest, fresh_server_factory: Any, tmp_path: Path
) -> Iterator[ServerProcesses]:
    """Processes that share a store, on the backend of ``fresh_server_factory``."""
    processes = ServerProcesses(
        backend=fresh_server_factory.backend,
        root=_root_conftest(request.config),
        directory=tmp_path / "shared",
    )
    yield processes
    processes.close()
