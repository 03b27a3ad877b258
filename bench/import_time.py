"""Measure how long importing a module takes in a fresh Python process.

This approximates the import share of a Lambda cold start: each run is a new
interpreter, so no module is already loaded. One unmeasured run first writes
the bytecode caches (__pycache__), as `pip install` does for a deployment
package, and the operating system's file cache is warm after it, which a real
cold start does not guarantee. Interpreter start-up itself is not counted.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass

from bench_servers import SAFE_AWS_ENVIRONMENT

# The child times the import alone and reports whether FastAPI came in with
# it, since the per-action Lambda entry point must not import FastAPI.
CHILD_CODE = """
import importlib, json, sys, time
start = time.perf_counter()
importlib.import_module(sys.argv[1])
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "fastapi_loaded": "fastapi" in sys.modules}))
"""
CHILD_TIMEOUT_SECONDS = 120

LAMBDA_MODULE = "functions.lambda_action"


@dataclass
class ImportTiming:
    """Median import time of one module over fresh processes, or why there is none."""

    label: str
    module: str
    median_ms: float | None
    runs: int
    fastapi_loaded: bool | None
    problem: str | None = None


def time_import(
    label: str, module: str, runs: int, extra_environment: dict[str, str]
) -> ImportTiming:
    """Import `module` in `runs` fresh processes and return the median time."""
    environment = {**os.environ, **SAFE_AWS_ENVIRONMENT, **extra_environment}
    # Without bytecode caches every run would compile from source, which
    # measures the compiler rather than the import.
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    # A neutral working directory, so the installed package is imported
    # rather than whatever files the current directory holds.
    with tempfile.TemporaryDirectory(prefix="keyledger-import-") as work_dir:
        seconds: list[float] = []
        fastapi_loaded = False
        # Run 0 only primes the caches and is left out of the median.
        for run_number in range(runs + 1):
            completed = subprocess.run(
                [sys.executable, "-c", CHILD_CODE, module],
                capture_output=True,
                text=True,
                cwd=work_dir,
                env=environment,
                timeout=CHILD_TIMEOUT_SECONDS,
                check=False,
            )
            if completed.returncode != 0:
                return ImportTiming(
                    label,
                    module,
                    None,
                    0,
                    None,
                    describe_import_failure(module, completed.stderr),
                )
            report = json.loads(completed.stdout.strip().splitlines()[-1])
            if run_number == 0:
                continue
            seconds.append(float(report["seconds"]))
            fastapi_loaded = fastapi_loaded or bool(report["fastapi_loaded"])
    return ImportTiming(
        label, module, statistics.median(seconds) * 1000, runs, fastapi_loaded
    )


def describe_import_failure(module: str, stderr: str) -> str:
    lines = stderr.strip().splitlines()
    last_line = lines[-1] if lines else "no output"
    top_package = module.split(".")[0]
    if "ModuleNotFoundError" in last_line and (
        f"'{module}'" in last_line or f"'{top_package}'" in last_line
    ):
        return "not built"
    return f"import failed: {last_line}"


def measure_import_times(runs: int, action: str) -> list[ImportTiming]:
    """Time the per-action Lambda entry point against FastAPI alone."""
    return [
        time_import(
            f"{LAMBDA_MODULE} (KEYLEDGER_ACTION={action})",
            LAMBDA_MODULE,
            runs,
            {"KEYLEDGER_ACTION": action},
        ),
        time_import("fastapi alone", "fastapi", runs, {}),
    ]


def print_import_times(timings: list[ImportTiming]) -> None:
    print(f"Cold import time, median of fresh processes ({sys.executable})")
    print(f"{'module':<52} {'median ms':>9} {'runs':>4}  imports fastapi")
    for timing in timings:
        if timing.median_ms is None:
            print(f"{timing.label:<52} {timing.problem}")
            continue
        loaded = "yes" if timing.fastapi_loaded else "no"
        print(f"{timing.label:<52} {timing.median_ms:>9.1f} {timing.runs:>4}  {loaded}")

    by_module = {timing.module: timing for timing in timings}
    lambda_timing = by_module.get(LAMBDA_MODULE)
    fastapi_timing = by_module.get("fastapi")
    if (
        lambda_timing
        and fastapi_timing
        and lambda_timing.median_ms is not None
        and fastapi_timing.median_ms
    ):
        share = lambda_timing.median_ms / fastapi_timing.median_ms
        print(
            f"{LAMBDA_MODULE} takes {share:.0%} of the time of importing fastapi alone"
        )
