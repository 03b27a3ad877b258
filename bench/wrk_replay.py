"""Sign KMS requests with botocore and replay them with wrk.

Each measured cell gets a freshly signed request (a SigV4 signature is valid
for 15 minutes), which one plain HTTP call checks first and wrk then sends
over and over through replay.lua.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench_servers import ACCESS_KEY, BENCH_DIR, HOST, REGION, SECRET_KEY, KmsSeed
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

REPLAY_SCRIPT = BENCH_DIR / "replay.lua"
CONTENT_TYPE = "application/x-amz-json-1.1"
# Seconds wrk waits for one response before it counts a timeout error.
WRK_TIMEOUT_SECONDS = 10
# Seconds allowed beyond a wrk run's duration before the run is abandoned.
WRK_GRACE_SECONDS = 60
# The most threads wrk gets: the benchmark was written for a 2-core machine,
# where more load-generator threads would only take CPU from the server.
MAX_WRK_THREADS = 2


@dataclass(frozen=True)
class Operation:
    """One benchmarked KMS call: its wire action and how to build its body."""

    name: str
    action: str
    build_body: Callable[[KmsSeed, bytes, bytes], dict[str, str]]
    response_field: str


def encode_base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# Bodies take (seed, 32-byte plaintext, 4 KiB plaintext). The plaintexts are
# drawn once per run, so every server receives the same bytes to encrypt.
OPERATIONS: dict[str, Operation] = {
    "encrypt32": Operation(
        "encrypt32",
        "Encrypt",
        lambda seed, small, large: {
            "KeyId": seed.key_id,
            "Plaintext": encode_base64(small),
        },
        "CiphertextBlob",
    ),
    "encrypt4k": Operation(
        "encrypt4k",
        "Encrypt",
        lambda seed, small, large: {
            "KeyId": seed.key_id,
            "Plaintext": encode_base64(large),
        },
        "CiphertextBlob",
    ),
    "decrypt": Operation(
        "decrypt",
        "Decrypt",
        lambda seed, small, large: {
            "CiphertextBlob": encode_base64(seed.ciphertext_blob)
        },
        "Plaintext",
    ),
    "gdk": Operation(
        "gdk",
        "GenerateDataKey",
        lambda seed, small, large: {"KeyId": seed.key_id, "KeySpec": "AES_256"},
        "CiphertextBlob",
    ),
}


@dataclass(frozen=True)
class SignedRequest:
    """An HTTP request exactly as it goes on the wire, minus Content-Length."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class WrkResult:
    """What one wrk run measured. Latencies are in milliseconds."""

    requests: int
    duration_seconds: float
    p50_ms: float
    p99_ms: float
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.duration_seconds if self.duration_seconds else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


class ReplayError(RuntimeError):
    """wrk is missing, failed, or the signed request was not answered with 200."""


def check_wrk() -> str:
    """Return the path of wrk, or raise ReplayError saying how to install it."""
    path = shutil.which("wrk")
    if path is None:
        raise ReplayError(
            "wrk not found on PATH. The load benchmark replays requests with wrk: "
            "install it (Debian/Ubuntu: apt-get install wrk) and run again, or "
            "run only the import-time figure with --only import-time."
        )
    return path


def sign_request(action: str, body: dict[str, str], port: int) -> SignedRequest:
    """Sign a KMS JSON 1.1 request to HOST:port with SigV4, as boto3 would."""
    payload = json.dumps(body).encode()
    request = AWSRequest(
        method="POST",
        url=f"http://{HOST}:{port}/",
        data=payload,
        headers={
            "Content-Type": CONTENT_TYPE,
            "X-Amz-Target": f"TrentService.{action}",
        },
    )
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "kms", REGION).add_auth(request)

    # SigV4 signs the Host header that botocore derives from the URL, so wrk
    # must send that value, and the request file carries it explicitly.
    headers = {"Host": f"{HOST}:{port}"}
    headers.update({name: str(value) for name, value in request.headers.items()})
    headers.pop("Content-Length", None)
    return SignedRequest(method="POST", path="/", headers=headers, body=payload)


def write_request_file(request: SignedRequest, path: Path) -> None:
    """Write the request in the line format that replay.lua reads."""
    head = [request.method, request.path]
    head += [f"{name}: {value}" for name, value in request.headers.items()]
    path.write_bytes("\n".join(head).encode("ascii") + b"\n\n" + request.body)


def probe(request: SignedRequest, port: int, response_field: str) -> None:
    """Send the request once and raise ReplayError unless it gets 200 and the field."""
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        connection.request(request.method, request.path, request.body, request.headers)
        response = connection.getresponse()
        status = response.status
        text = response.read().decode(errors="replace")
    except OSError as error:
        raise ReplayError(f"probe request to {HOST}:{port} failed: {error}") from error
    finally:
        connection.close()

    if status != 200:
        raise ReplayError(f"probe request got HTTP {status}: {text[:300]}")
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        raise ReplayError(f"probe response is not JSON: {text[:300]}") from None
    if not isinstance(document, dict) or response_field not in document:
        raise ReplayError(f"probe response has no {response_field}: {text[:300]}")


RESULT_PATTERN = re.compile(
    r"REPLAY_RESULT requests=(?P<requests>\d+) duration_us=(?P<duration>\d+)"
    r" p50_us=(?P<p50>\d+) p99_us=(?P<p99>\d+)"
    r" connect=(?P<connect>\d+) read=(?P<read>\d+) write=(?P<write>\d+)"
    r" status=(?P<status>\d+) timeout=(?P<timeout>\d+)"
)
ERROR_KINDS = ("connect", "read", "write", "status", "timeout")


def run_wrk(
    wrk: str, url: str, request_file: Path, connections: int, duration_seconds: int
) -> WrkResult:
    """Replay the request file against url with `connections` open connections."""
    threads = min(MAX_WRK_THREADS, connections)
    command = [
        wrk,
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={duration_seconds}s",
        f"--timeout={WRK_TIMEOUT_SECONDS}s",
        f"--script={REPLAY_SCRIPT}",
        url,
        "--",
        str(request_file),
    ]
    try:
        completed = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=duration_seconds + WRK_GRACE_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ReplayError(
            f"wrk ran {WRK_GRACE_SECONDS} s past its {duration_seconds} s duration; "
            "abandoned"
        ) from None
    match = RESULT_PATTERN.search(completed.stdout)
    if completed.returncode != 0 or match is None:
        raise ReplayError(
            f"wrk exited with code {completed.returncode} and no result line: "
            f"{(completed.stderr or completed.stdout).strip()[:500]}"
        )

    errors = {kind: int(match[kind]) for kind in ERROR_KINDS}
    return WrkResult(
        requests=int(match["requests"]),
        duration_seconds=int(match["duration"]) / 1e6,
        p50_ms=int(match["p50"]) / 1000,
        p99_ms=int(match["p99"]) / 1000,
        errors={kind: count for kind, count in errors.items() if count},
    )
