"""The import contracts in pyproject.toml hold: imports point one way,
the domain knows no web framework or database driver, and action handlers
and the per-action Lambda path never reach FastAPI."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_are_kept() -> None:
    command = Path(sys.executable).with_name("lint-imports")
    if not command.exists():
        found = shutil.which("lint-imports")
        if found is None:
            pytest.fail("import-linter is not installed; install the test extras")
        command = Path(found)

    result = subprocess.run(
        [str(command), "--config", str(PROJECT_ROOT / "pyproject.toml")],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
