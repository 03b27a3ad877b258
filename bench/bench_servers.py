"""Start, seed and stop the servers that kms_http.py measures.

Every server binds to 127.0.0.1 on a free port, runs in a session of its own
so that stopping it also stops any child it forks, and writes its output to a
log file in the run's temporary directory.
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
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config

HOST = "127.0.0.1"
REGION = "us-east-1"
ACCESS_KEY = "test"
SECRET_KEY = "test"
BENCH_DIR = Path(__file__).resolve().parent
SERVER_NAMES = ("keyledger", "ceiling", "moto")
KMS_SERVER_NAMES = ("keyledger", "moto")

READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0

# Fake credentials and a dead endpoint, so that no AWS client started by the
# benchmark (boto3 here, or anything inside a server) can reach real AWS.
SAFE_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": ACCESS_KEY,
    "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
}


class BenchSetupError(RuntimeError):
    """A server could not be found, started or seeded."""


@dataclass
class ServerProcess:
    """A server started by the benchmark, and where to reach it."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"


@dataclass(frozen=True)
class KmsSeed:
    """The key a server's requests name, and a ciphertext blob to decrypt."""

    key_id: str
    ciphertext_blob: bytes


def find_keyledger(explicit: str | None) -> Path:
    """Return the `keyledger` console script to run, or raise BenchSetupError."""
    if explicit:
        candidate = Path(explicit)
    else:
        # The script is installed next to the interpreter of its environment.
        beside_python = Path(sys.executable).parent / "keyledger"
        on_path = shutil.which("keyledger")
        if beside_python.exists():
            candidate = beside_python
        elif on_path:
            candidate = Path(on_path)
        else:
            candidate = beside_python
    if not (candidate.is_file() and os.access(candidate, os.X_OK)):
        raise BenchSetupError(
            f"keyledger command not found at {candidate}. Install the project "
            "into this environment (pip install .), pass --keyledger PATH, or "
            "leave keyledger out with --servers ceiling,moto."
        )
    return candidate


def check_python_packages() -> None:
    """Raise BenchSetupError if a package the servers or the seeding need is absent."""
    missing = []
    for module in ("fastapi", "uvicorn", "moto", "boto3"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise BenchSetupError(
            f"missing Python packages in {sys.executable}: {', '.join(missing)}. "
            "Install the project's test extras: pip install '.[test]'."
        )


def find_free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def keyledger_python(keyledger: Path | None) -> str:
    """Return the Python that runs the keyledger script, else this one.

    The ceiling runs on that interpreter so that it gets the same installed
    uvicorn, and so the same loop and HTTP implementations, as KeyLedger.
    """
    if keyledger is not None:
        with keyledger.open("rb") as script:
            first_line = script.readline()
        if first_line.startswith(b"#!"):
            interpreter = first_line[2:].decode(errors="replace").strip()
            if os.path.isfile(interpreter) and os.access(interpreter, os.X_OK):
                return interpreter
    return sys.executable


def describe_uvicorn_defaults(python: str) -> str:
    """Name the loop and HTTP implementations that uvicorn's "auto" picks in python."""
    code = (
        "import importlib.util as u;"
        "print('uvloop' if u.find_spec('uvloop') else 'asyncio',"
        " 'httptools' if u.find_spec('httptools') else 'h11')"
    )
    completed = subprocess.run(
        [python, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    if completed.returncode != 0:
        return f"unknown ({python} failed: {completed.stderr.strip()[-200:]})"
    loop, http = completed.stdout.split()
    return f"loop={loop}, http={http} ({python})"


def server_command(
    name: str, port: int, keyledger: Path | None, data_dir: Path, ceiling_python: str
) -> list[str]:
    """Build the command line that serves `name` on HOST:port."""
    if name == "keyledger":
        if keyledger is None:
            raise BenchSetupError("keyledger requested but no keyledger command found")
        return [
            str(keyledger), "serve",
            "--host", HOST, "--port", str(port),
            "--data-dir", str(data_dir),
        ]  # fmt: skip
    if name == "ceiling":
        # The settings `keyledger serve` gives uvicorn: its defaults (one
        # worker, --loop auto, --http auto) with no access log and no Server
        # header. The access log alone costs about a fifth of the ceiling's
        # rate (asyncio and h11, 2 cores, wrk at 8 connections).
        return [
            ceiling_python, "-m", "uvicorn", "ceiling_app:app",
            "--app-dir", str(BENCH_DIR),
            "--host", HOST, "--port", str(port),
            "--no-access-log",
            "--no-server-header",
        ]  # fmt: skip
    if name == "moto":
        return [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)]
    raise BenchSetupError(f"unknown server {name!r}; expected one of {SERVER_NAMES}")


def start_server(
    name: str, command: list[str], port: int, work_dir: Path
) -> ServerProcess:
    """Start one server and wait until it accepts connections."""
    log_path = work_dir / f"{name}.log"
    environment = {**os.environ, **SAFE_AWS_ENVIRONMENT}
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=work_dir,
            env=environment,
            start_new_session=True,
        )
    server = ServerProcess(name=name, port=port, process=process, log_path=log_path)
    try:
        wait_until_ready(server)
    except BaseException:
        stop_server(server)
        raise
    return server


def wait_until_ready(server: ServerProcess) -> None:
    """Poll the server's port until it accepts a connection, for at most a minute."""
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        exit_code = server.process.poll()
        if exit_code is not None:
            raise BenchSetupError(
                f"{server.name} exited with code {exit_code} before it accepted "
                f"connections. Last lines of {server.log_path}:\n{log_tail(server)}"
            )
        try:
            with socket.create_connection((HOST, server.port), timeout=1.0):
                return
        except OSError:
            time.sleep(0.1)
    raise BenchSetupError(
        f"{server.name} did not accept connections on {HOST}:{server.port} within "
        f"{READY_TIMEOUT_SECONDS:.0f} s. Last lines of {server.log_path}:\n"
        f"{log_tail(server)}"
    )


def log_tail(server: ServerProcess, max_lines: int = 20) -> str:
    """Return the last lines of a server's log, for error messages."""
    try:
        lines = server.log_path.read_text(errors="replace").splitlines()
    except OSError as error:
        return f"(log not readable: {error})"
    return "\n".join(lines[-max_lines:])


def stop_server(server: ServerProcess) -> None:
    """Stop a server's process group: SIGTERM, then SIGKILL after a grace period."""
    if server.process.poll() is not None:
        return
    # start_new_session=True made the server its own process group leader, so
    # its process id is also the id of the group holding it and its children.
    group_id = server.process.pid
    try:
        os.killpg(group_id, signal.SIGTERM)
        server.process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        print(
            f"{server.name} (pid {group_id}) ignored SIGTERM for "
            f"{STOP_TIMEOUT_SECONDS:.0f} s; sending SIGKILL",
            file=sys.stderr,
        )
        try:
            os.killpg(group_id, signal.SIGKILL)
        except ProcessLookupError:
            return
        server.process.wait(timeout=STOP_TIMEOUT_SECONDS)


def seed_kms_server(server: ServerProcess, plaintext: bytes) -> KmsSeed:
    """Create a symmetric key through boto3 and encrypt `plaintext` under it."""
    client = boto3.client(
        "kms",
        endpoint_url=server.url,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(connect_timeout=10, read_timeout=30, retries={"max_attempts": 1}),
    )
    try:
        key_id = client.create_key(Description="kms_http benchmark")["KeyMetadata"][
            "KeyId"
        ]
        ciphertext_blob = client.encrypt(KeyId=key_id, Plaintext=plaintext)[
            "CiphertextBlob"
        ]
    except Exception as error:
        raise BenchSetupError(
            f"seeding {server.name} at {server.url} failed: {error}. "
            f"Last lines of {server.log_path}:\n{log_tail(server)}"
        ) from error
    return KmsSeed(key_id=key_id, ciphertext_blob=ciphertext_blob)


def ceiling_seed(kms_seeds: dict[str, KmsSeed], plaintext: bytes) -> KmsSeed:
    """Borrow a KMS server's key id and blob, so the ceiling gets same-sized bodies."""
    for seed in kms_seeds.values():
        return seed
    # No KMS server in this run, so a random key id and random bytes stand in.
    # NOTE: the 150 bytes of overhead per blob are an estimate, not a
    # measured AWS ciphertext size.
    stand_in_blob = os.urandom(150 + len(plaintext))
    return KmsSeed(key_id=str(uuid.uuid4()), ciphertext_blob=stand_in_blob)


def measure_background_cpu(seconds: float = 1.0) -> float | None:
    """Return the share of all CPUs busy over `seconds`, or None without /proc/stat.

    Sampled while the benchmark's own servers are idle, it shows how much
    other processes on the machine would take from the measurement.
    """
    try:
        before = read_cpu_times()
        time.sleep(seconds)
        after = read_cpu_times()
    except (OSError, ValueError, IndexError):
        return None
    total = after[0] - before[0]
    idle = after[1] - before[1]
    return 1.0 - idle / total if total > 0 else 0.0


def read_cpu_times() -> tuple[int, int]:
    """Return (total, idle + iowait) jiffies of all CPUs from /proc/stat."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    return sum(fields), fields[3] + fields[4]
