"""Benchmark KeyLedger's HTTP API against a FastAPI ceiling and moto's KMS.

The script starts the servers on 127.0.0.1, seeds a key in each KMS server
with boto3, then replays SigV4-signed KMS requests with wrk. Rounds are
interleaved: in every round, each operation and concurrency is run against
every server back to back, so a slow period of the machine hits all of them.
It prints medians over rounds, KeyLedger's ratios to the other two, and a
PASS/MISS check of the targets at concurrency 8. A second figure, chosen with
--only import-time, is the cold import time of the per-action Lambda entry
point against FastAPI alone.

Run it with the environment's interpreter, for example:
    /tmp/kv/bin/python bench/kms_http.py --rounds 3 --duration 5
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType

from bench_report import (
    CellRun,
    check_targets,
    print_failures,
    print_ratio_table,
    print_results_table,
    print_targets,
    summarize,
)
from bench_servers import (
    KMS_SERVER_NAMES,
    SAFE_AWS_ENVIRONMENT,
    SERVER_NAMES,
    BenchSetupError,
    KmsSeed,
    ServerProcess,
    ceiling_seed,
    check_python_packages,
    describe_uvicorn_defaults,
    find_free_port,
    find_keyledger,
    keyledger_python,
    measure_background_cpu,
    seed_kms_server,
    server_command,
    start_server,
    stop_server,
)
from import_time import ImportTiming, measure_import_times, print_import_times
from wrk_replay import (
    OPERATIONS,
    ReplayError,
    check_wrk,
    probe,
    run_wrk,
    sign_request,
    write_request_file,
)

MAX_ROUNDS = 100
MAX_DURATION_SECONDS = 600
# Share of the CPUs that other processes may keep busy before a round is
# flagged, because above it the servers and wrk no longer have the machine
# to themselves.
BACKGROUND_CPU_WARNING = 0.10


@dataclass
class LoadRun:
    """Every round's cells, and the conditions they were measured in."""

    runs: list[CellRun]
    uvicorn_stack: str
    background_cpu: list[float | None]


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Measure requests per second and latency of KMS calls against "
            "KeyLedger, a trivial FastAPI ceiling and moto's server, and the cold "
            "import time of the per-action Lambda entry point."
        ),
    )
    operations = ",".join(OPERATIONS)
    servers = ",".join(SERVER_NAMES)
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        metavar="N",
        help="interleaved rounds; the tables show medians over them (default: 3)",
    )
    parser.add_argument(
        "--duration",
        type=int,
        default=5,
        metavar="SECONDS",
        help="measured load per cell and round, in whole seconds (default: 5)",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=1,
        metavar="SECONDS",
        help="unmeasured load before each measured cell, 0 for none (default: 1)",
    )
    parser.add_argument(
        "--concurrency",
        type=comma_separated_integers,
        default=[1, 8, 64],
        metavar="LIST",
        help="comma-separated open connections per cell (default: 1,8,64)",
    )
    parser.add_argument(
        "--ops",
        type=choice_list(OPERATIONS),
        default=list(OPERATIONS),
        metavar="LIST",
        help=f"comma-separated operations (default: {operations})",
    )
    parser.add_argument(
        "--servers",
        type=choice_list(SERVER_NAMES),
        default=list(SERVER_NAMES),
        metavar="LIST",
        help=f"comma-separated servers to measure (default: {servers})",
    )
    parser.add_argument(
        "--only",
        choices=("load", "import-time"),
        help="run only the load benchmark or only the import-time figure "
        "(default: both)",
    )
    parser.add_argument(
        "--import-runs",
        type=int,
        default=7,
        metavar="N",
        help="fresh Python processes per module for the import-time median "
        "(default: 7)",
    )
    parser.add_argument(
        "--keyledger",
        metavar="PATH",
        help="keyledger command to serve (default: the one in this Python's "
        "bin directory, else the one on PATH)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        metavar="FILE",
        help="also write every round's figures and the medians to FILE as JSON",
    )
    arguments = parser.parse_args(argv)

    if not 1 <= arguments.rounds <= MAX_ROUNDS:
        parser.error(f"--rounds must be between 1 and {MAX_ROUNDS}")
    if not 1 <= arguments.duration <= MAX_DURATION_SECONDS:
        parser.error(f"--duration must be between 1 and {MAX_DURATION_SECONDS} seconds")
    if not 0 <= arguments.warmup <= MAX_DURATION_SECONDS:
        parser.error(f"--warmup must be between 0 and {MAX_DURATION_SECONDS} seconds")
    if not 1 <= arguments.import_runs <= MAX_ROUNDS:
        parser.error(f"--import-runs must be between 1 and {MAX_ROUNDS}")
    return arguments


def comma_separated_integers(text: str) -> list[int]:
    try:
        values = list(dict.fromkeys(int(p) for p in text.split(",") if p.strip()))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected integers like 1,8,64, got {text!r}"
        ) from None
    if not values or any(not 1 <= value <= 10_000 for value in values):
        raise argparse.ArgumentTypeError(
            f"concurrency must be 1 to 10000, got {text!r}"
        )
    return values


def choice_list(allowed: Iterable[str]) -> Callable[[str], list[str]]:
    """Build an argparse type that reads comma-separated names out of `allowed`."""
    names = list(allowed)

    def parse(text: str) -> list[str]:
        # dict.fromkeys drops repeats and keeps the order given.
        values = list(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))
        unknown = [value for value in values if value not in names]
        if not values or unknown:
            raise argparse.ArgumentTypeError(
                f"invalid value {text!r}; choose from {','.join(names)}"
            )
        return values

    return parse


def raise_keyboard_interrupt(signal_number: int, frame: FrameType | None) -> None:
    """Turn SIGTERM into KeyboardInterrupt, so the same cleanup stops the servers."""
    raise KeyboardInterrupt


def run_cell(
    wrk: str,
    server: ServerProcess,
    seed: KmsSeed,
    operation_name: str,
    concurrency: int,
    plaintexts: tuple[bytes, bytes],
    arguments: argparse.Namespace,
    round_number: int,
    work_dir: Path,
) -> CellRun:
    """Sign a fresh request, check it once, warm up, then measure one cell."""
    operation = OPERATIONS[operation_name]
    body = operation.build_body(seed, *plaintexts)
    request = sign_request(operation.action, body, server.port)
    request_file = work_dir / f"request-{server.name}-{operation.name}.txt"
    write_request_file(request, request_file)
    # The ceiling returns a Plaintext field whatever the action is.
    response_field = (
        "Plaintext" if server.name == "ceiling" else operation.response_field
    )

    cell = CellRun(round_number, operation.name, concurrency, server.name, result=None)
    try:
        probe(request, server.port, response_field)
        if arguments.warmup:
            run_wrk(wrk, server.url, request_file, concurrency, arguments.warmup)
        cell.result = run_wrk(
            wrk, server.url, request_file, concurrency, arguments.duration
        )
    except ReplayError as error:
        cell.failure = str(error)
        exit_code = server.process.poll()
        if exit_code is not None:
            cell.failure += f" ({server.name} exited with code {exit_code})"

    if cell.is_clean and cell.result is not None:
        outcome = (
            f"{cell.result.requests_per_second:,.0f} req/s,"
            f" p50 {cell.result.p50_ms:.2f} ms, p99 {cell.result.p99_ms:.2f} ms"
        )
    else:
        outcome = f"ERROR: {cell.describe_failure()}"
    print(
        f"[round {round_number}/{arguments.rounds}] {operation.name} c={concurrency}"
        f" {server.name}: {outcome}",
        file=sys.stderr,
        flush=True,
    )
    return cell


def check_background_cpu(round_number: int) -> float | None:
    """Measure how busy the machine is before a round, and warn when it is busy."""
    busy = measure_background_cpu()
    if busy is not None and busy > BACKGROUND_CPU_WARNING:
        print(
            f"WARNING: before round {round_number}, other processes kept "
            f"{busy:.0%} of the CPUs busy; this round's figures will be low and noisy",
            file=sys.stderr,
        )
    return busy


def run_load_benchmark(arguments: argparse.Namespace) -> LoadRun:
    """Start the servers, run every round of every cell, and stop the servers."""
    wrk = check_wrk()
    check_python_packages()
    keyledger = (
        find_keyledger(arguments.keyledger)
        if "keyledger" in arguments.servers
        else None
    )

    cells = len(arguments.ops) * len(arguments.concurrency) * len(arguments.servers)
    estimate_seconds = (
        arguments.rounds * cells * (arguments.duration + arguments.warmup)
    )
    print(
        f"{arguments.rounds} rounds of {cells} cells: about "
        f"{estimate_seconds / 60:.0f} min of load",
        file=sys.stderr,
    )

    ceiling_python = keyledger_python(keyledger)
    uvicorn_stack = describe_uvicorn_defaults(ceiling_python)
    print(f"uvicorn defaults resolve to {uvicorn_stack}", file=sys.stderr)

    servers: dict[str, ServerProcess] = {}
    runs: list[CellRun] = []
    background_cpu: list[float | None] = []
    with tempfile.TemporaryDirectory(prefix="keyledger-bench-") as work_name:
        work_dir = Path(work_name)
        try:
            for name in arguments.servers:
                data_dir = work_dir / f"{name}-data"
                data_dir.mkdir()
                port = find_free_port()
                command = server_command(
                    name, port, keyledger, data_dir, ceiling_python
                )
                servers[name] = start_server(name, command, port, work_dir)
                print(
                    f"started {name} on port {port} (pid {servers[name].process.pid})",
                    file=sys.stderr,
                )

            plaintexts = (os.urandom(32), os.urandom(4096))
            seeds = {
                name: seed_kms_server(server, plaintexts[0])
                for name, server in servers.items()
                if name in KMS_SERVER_NAMES
            }
            if "ceiling" in servers:
                seeds["ceiling"] = ceiling_seed(seeds, plaintexts[0])

            for round_number in range(1, arguments.rounds + 1):
                background_cpu.append(check_background_cpu(round_number))
                for operation_name in arguments.ops:
                    for concurrency in arguments.concurrency:
                        for name in arguments.servers:
                            runs.append(
                                run_cell(
                                    wrk,
                                    servers[name],
                                    seeds[name],
                                    operation_name,
                                    concurrency,
                                    plaintexts,
                                    arguments,
                                    round_number,
                                    work_dir,
                                )
                            )
        finally:
            for server in servers.values():
                stop_server(server)
    return LoadRun(runs, uvicorn_stack, background_cpu)


def describe_machine(load: LoadRun) -> dict[str, object]:
    wrk_version = subprocess.run(
        ["wrk", "--version"], capture_output=True, text=True, check=False, timeout=10
    ).stdout.splitlines()
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        # The first two words, "wrk <version>", without the copyright notice.
        "wrk": " ".join(wrk_version[0].split()[:2]) if wrk_version else None,
        "uvicorn": load.uvicorn_stack,
        "background_cpu_before_rounds": load.background_cpu,
    }


def format_shares(shares: list[float | None]) -> str:
    return ", ".join("unknown" if share is None else f"{share:.0%}" for share in shares)


def report_load(
    arguments: argparse.Namespace, load: LoadRun, machine: dict[str, object]
) -> dict[str, object]:
    """Print the load tables and return them for the JSON file."""
    runs = load.runs
    summaries = summarize(runs)
    print()
    print(
        f"Median over {arguments.rounds} rounds of {arguments.duration} s "
        f"(warm-up {arguments.warmup} s) on {machine['date']}, "
        f"{machine['cpu_count']} CPUs, {machine['wrk']}"
    )
    print(f"uvicorn: {machine['uvicorn']}")
    print(f"CPU busy before each round: {format_shares(load.background_cpu)}")
    print_results_table(
        summaries, arguments.ops, arguments.concurrency, arguments.servers
    )
    print_failures(summaries)
    verdicts: dict[str, str] = {}
    if "keyledger" in arguments.servers:
        print()
        print_ratio_table(summaries, arguments.ops, arguments.concurrency)
        print()
        verdicts = check_targets(summaries, arguments.ops)
        print_targets(verdicts)
    return {
        "runs": [asdict(run) for run in runs],
        "medians": [asdict(summary) for summary in summaries.values()],
        "targets": verdicts,
    }


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    # Children inherit these: fake credentials and a dead AWS endpoint.
    os.environ.update(SAFE_AWS_ENVIRONMENT)
    signal.signal(signal.SIGTERM, raise_keyboard_interrupt)

    document: dict[str, object] = {"arguments": vars(arguments)}
    started = time.monotonic()
    try:
        if arguments.only != "import-time":
            load = run_load_benchmark(arguments)
            machine = describe_machine(load)
            document["machine"] = machine
            document["load"] = report_load(arguments, load, machine)
        if arguments.only != "load":
            if arguments.only != "import-time":
                print()
            timings: list[ImportTiming] = measure_import_times(
                arguments.import_runs, "Encrypt"
            )
            print_import_times(timings)
            document["import_time"] = [asdict(timing) for timing in timings]
    except (BenchSetupError, ReplayError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "interrupted; the servers started by this run are stopped", file=sys.stderr
        )
        return 130

    print(f"\nfinished in {time.monotonic() - started:.0f} s", file=sys.stderr)
    if arguments.json is not None:
        arguments.json.write_text(json.dumps(document, indent=2, default=str) + "\n")
        print(f"wrote {arguments.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
