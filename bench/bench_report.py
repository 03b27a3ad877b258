"""Aggregate the runs of kms_http.py over rounds and print its tables."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from wrk_replay import WrkResult

# Targets for KeyLedger at concurrency 8: a share of the ceiling's requests
# per second, and a multiple of moto's.
TARGET_CONCURRENCY = 8
TARGET_CEILING_SHARE = 0.40
TARGET_MOTO_MULTIPLE = 8.0

# wrk's error counters, as its own summary names them.
ERROR_LABELS = {
    "connect": "socket connect errors",
    "read": "socket read errors",
    "write": "socket write errors",
    "timeout": "timeouts",
    "status": "non-2xx or 3xx responses",
}


@dataclass
class CellRun:
    """One round of one cell: a wrk result, or why the cell has none."""

    round_number: int
    operation: str
    concurrency: int
    server: str
    result: WrkResult | None
    failure: str | None = None

    @property
    def is_clean(self) -> bool:
        """True when wrk ran and saw no error of any kind."""
        return (
            self.failure is None
            and self.result is not None
            and self.result.error_count == 0
            and self.result.requests > 0
        )

    def describe_failure(self) -> str:
        if self.failure is not None:
            return self.failure
        if self.result is None or self.result.requests == 0:
            return "no request completed"
        counts = ", ".join(
            f"{ERROR_LABELS.get(kind, kind)} {count}"
            for kind, count in self.result.errors.items()
        )
        return (
            f"{self.result.error_count} errors, "
            f"{self.result.requests} completed requests ({counts})"
        )


@dataclass
class CellSummary:
    """Medians over rounds of one (operation, concurrency, server) cell.

    A cell with any failed or erroring round has no medians, because its
    request rate would count error responses as served requests.
    """

    operation: str
    concurrency: int
    server: str
    rounds: int
    requests_per_second: float | None
    p50_ms: float | None
    p99_ms: float | None
    failures: list[str]


CellKey = tuple[str, int, str]


def summarize(runs: list[CellRun]) -> dict[CellKey, CellSummary]:
    """Group runs by cell and take medians over the clean rounds."""
    grouped: dict[CellKey, list[CellRun]] = {}
    for run in runs:
        grouped.setdefault((run.operation, run.concurrency, run.server), []).append(run)

    summaries = {}
    for key, cell_runs in grouped.items():
        failures = [
            f"round {run.round_number}: {run.describe_failure()}"
            for run in cell_runs
            if not run.is_clean
        ]
        results = [run.result for run in cell_runs if run.result is not None]
        has_medians = not failures and bool(results)
        summaries[key] = CellSummary(
            operation=key[0],
            concurrency=key[1],
            server=key[2],
            rounds=len(cell_runs),
            requests_per_second=(
                statistics.median(r.requests_per_second for r in results)
                if has_medians
                else None
            ),
            p50_ms=statistics.median(r.p50_ms for r in results)
            if has_medians
            else None,
            p99_ms=statistics.median(r.p99_ms for r in results)
            if has_medians
            else None,
            failures=failures,
        )
    return summaries


def rate(summaries: dict[CellKey, CellSummary], key: CellKey) -> float | None:
    summary = summaries.get(key)
    return summary.requests_per_second if summary else None


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def format_number(value: float | None, digits: int) -> str:
    return "ERROR" if value is None else f"{value:,.{digits}f}"


def print_results_table(
    summaries: dict[CellKey, CellSummary],
    operations: list[str],
    concurrencies: list[int],
    servers: list[str],
) -> None:
    """Print one line per cell with the median req/s, p50 and p99 over rounds."""
    print(
        f"{'operation':<10} {'conc':>4}  {'server':<10} "
        f"{'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}"
    )
    for operation in operations:
        for concurrency in concurrencies:
            for server in servers:
                summary = summaries.get((operation, concurrency, server))
                if summary is None:
                    continue
                print(
                    f"{operation:<10} {concurrency:>4}  {server:<10} "
                    f"{format_number(summary.requests_per_second, 0):>9} "
                    f"{format_number(summary.p50_ms, 2):>8} "
                    f"{format_number(summary.p99_ms, 2):>8}"
                )


def print_failures(summaries: dict[CellKey, CellSummary]) -> bool:
    """Print every cell that had a failed round; return True if there was one."""
    failed = [summary for summary in summaries.values() if summary.failures]
    if not failed:
        return False
    print()
    print("!" * 72)
    print("ERRORS: these cells are not reported as throughput")
    for summary in failed:
        for failure in summary.failures:
            print(
                f"  {summary.operation} c={summary.concurrency} {summary.server}:"
                f" {failure}"
            )
    print("!" * 72)
    return True


def print_ratio_table(
    summaries: dict[CellKey, CellSummary],
    operations: list[str],
    concurrencies: list[int],
) -> None:
    """Print KeyLedger's req/s as a share of the ceiling's and a multiple of moto's."""
    print(
        f"{'operation':<10} {'conc':>4}  "
        f"{'keyledger/ceiling':>17} {'keyledger/moto':>15}"
    )
    for operation in operations:
        for concurrency in concurrencies:
            keyledger = rate(summaries, (operation, concurrency, "keyledger"))
            of_ceiling = ratio(
                keyledger, rate(summaries, (operation, concurrency, "ceiling"))
            )
            of_moto = ratio(
                keyledger, rate(summaries, (operation, concurrency, "moto"))
            )
            print(
                f"{operation:<10} {concurrency:>4}  "
                f"{format_ratio(of_ceiling, percent=True):>17} "
                f"{format_ratio(of_moto, percent=False):>15}"
            )


def format_ratio(value: float | None, percent: bool) -> str:
    if value is None:
        return "n/a"
    return f"{value:.0%}" if percent else f"{value:.1f}x"


def check_targets(
    summaries: dict[CellKey, CellSummary], operations: list[str]
) -> dict[str, str]:
    """Return PASS, MISS or a reason per operation for the concurrency-8 targets."""
    verdicts = {}
    for operation in operations:
        keyledger = rate(summaries, (operation, TARGET_CONCURRENCY, "keyledger"))
        of_ceiling = ratio(
            keyledger, rate(summaries, (operation, TARGET_CONCURRENCY, "ceiling"))
        )
        of_moto = ratio(
            keyledger, rate(summaries, (operation, TARGET_CONCURRENCY, "moto"))
        )
        if of_ceiling is None or of_moto is None:
            verdicts[operation] = (
                "n/a (keyledger, ceiling and moto all need clean cells at c=8)"
            )
        elif of_ceiling >= TARGET_CEILING_SHARE and of_moto >= TARGET_MOTO_MULTIPLE:
            verdicts[operation] = (
                f"PASS ({of_ceiling:.0%} of ceiling, {of_moto:.1f}x moto)"
            )
        else:
            verdicts[operation] = (
                f"MISS ({of_ceiling:.0%} of ceiling, {of_moto:.1f}x moto)"
            )
    return verdicts


def print_targets(verdicts: dict[str, str]) -> None:
    print(
        f"Targets at concurrency {TARGET_CONCURRENCY}: keyledger >= "
        f"{TARGET_CEILING_SHARE:.0%} of the ceiling's req/s and >= "
        f"{TARGET_MOTO_MULTIPLE:.0f}x moto's"
    )
    for operation, verdict in verdicts.items():
        print(f"  {operation:<10} {verdict}")
