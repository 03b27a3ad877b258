"""Helpers of the end-to-end tests of the ``keyledger audit`` commands."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import httpx

from tests.conftest import keyledger_command


def keyledger_audit(
    server: Any, *arguments: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``keyledger audit ...`` on the store of ``server``, with ``env``
    added to this process's environment."""
    command = [
        *keyledger_command(),
        "audit",
        *arguments,
        "--data-dir",
        str(server.data_dir),
    ]
    if server.database_url:
        command += ["--database-url", server.database_url]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )


def advance(server: Any, seconds: float) -> float:
    """Move the server's dev clock (which also runs its sweep); return its time."""
    response = httpx.post(
        server.endpoint + "/_keyledger/dev-clock",
        json={"Seconds": seconds},
        timeout=60,
    )
    assert response.status_code == 200, response.content
    now: float = json.loads(response.content)["Now"]
    return now
