"""How fast the daemon applies a one-row drop with 100,000 pairs loaded, and what it costs idle.

Run with ``python -m benchmarks daemon`` (``--quick`` for a smoke run, ``--strict`` to exit 1
when a target is missed). The catalog is ``--files`` CSV files of digital products (one SKU
each, so the initial sync is one write per pair); the sandbox runs as its own process, rate
limit off. Figures printed next to their targets (README, "Daemon latency"):

* drop to visible: from the rename of a write-then-rename drop of one changed row to the
  sandbox answering with the new value, median <= 150 ms and p95 <= 300 ms over ``--drops``
  drops; the baseline, measured in the same run, is the same one-row change written in place,
  which the watcher holds for ``settle_ms`` as it held every drop before the rename rule;
* idle CPU of the daemon over ``--idle-seconds`` (< 1 %);
* resident memory of the daemon with every pair tracked (< 300 MB).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from benchmarks._common import Check, add_strict_option, ratio, table, verdict
from catalog_sync.demo.testing import (
    DaemonProcess,
    daemon_env,
    start_sandbox_process,
    wait_until,
)
from catalog_sync.sandbox.testing import new_test_key
from catalog_sync.state import open_state
from catalog_sync.support.files import write_atomically

HEADER = "id,name,taxCode,eccn,countryOfOrigin\n"
TICKS = os.sysconf("SC_CLK_TCK")


def pair_id(n: int) -> str:
    """The id of the n-th benchmark pair."""
    return f"BENCH-{n:06d}"


def file_text(first: int, count: int, renamed: dict[int, str]) -> str:
    """One catalog file's text: rows ``first .. first+count``, some renamed."""
    rows = (
        f"{pair_id(n)},{renamed.get(n, f'Product {n}')},4512.100_A,EAR99,US\n"
        for n in range(first, first + count)
    )
    return HEADER + "".join(rows)


class Catalog:
    """The benchmark's catalog folder; ``drop`` changes one row by write-then-rename."""

    def __init__(self, folder: Path, pairs: int, files: int) -> None:
        self.folder = folder
        self.per_file = pairs // files
        self.files = files
        self.renamed: dict[int, str] = {}
        folder.mkdir(parents=True)
        for index in range(files):
            self._path(index).write_text(file_text(*self._span(index), {}), encoding="utf-8")

    def _span(self, index: int) -> tuple[int, int]:
        return index * self.per_file, self.per_file

    def _path(self, index: int) -> Path:
        return self.folder / f"catalog-{index:03d}.csv"

    def prepare(self, n: int, name: str, *, in_place: bool = False) -> Callable[[], None]:
        """Compute the new file for renaming pair ``n``; the returned call drops it, by
        write-then-rename or, ``in_place``, by rewriting the file under its own name."""
        self.renamed[n] = name
        index = n // self.per_file
        text = file_text(*self._span(index), self.renamed)
        path = self._path(index)

        def drop() -> None:
            if in_place:
                path.write_text(text, encoding="utf-8")
            else:
                write_atomically(path, [text], private=False)

        return drop


def remote_name(api: httpx.Client, n: int) -> str:
    """The SKU's name at the sandbox."""
    return str(api.get(f"/skus/{pair_id(n)}").json().get("name"))


def time_drop(
    api: httpx.Client, catalog: Catalog, n: int, name: str, *, in_place: bool = False
) -> float:
    """Seconds from the rename (or the in-place write) to the sandbox answering the new name."""
    drop = catalog.prepare(n, name, in_place=in_place)
    started = time.perf_counter()
    drop()
    wait_until(lambda: remote_name(api, n) == name, timeout=60, interval=0.005)
    return time.perf_counter() - started


def reconcile(env: dict[str, str]) -> None:
    """One full ``catalog-sync reconcile``."""
    subprocess.run(
        [sys.executable, "-m", "catalog_sync", "reconcile"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def last_run_id(state: Path) -> int:
    """The id of the newest finished run (0 before any)."""
    with open_state(state) as store:
        run = store.last_run()
    return 0 if run is None else run.id


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks daemon", description="drop latency, idle CPU and memory"
    )
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--drops", type=int, default=20, help="write-then-rename drops timed")
    parser.add_argument(
        "--baseline-drops", type=int, default=5, help="in-place writes timed (the baseline)"
    )
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    add_strict_option(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.pairs, args.files, args.drops, args.baseline_drops = 200, 10, 3, 1
        args.idle_seconds = 2.0
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; with ``--strict``, exit 1 if a target is missed."""
    args = _arguments(argv)
    # SIGTERM unwinds like Ctrl-C, so the sandbox and the daemon are stopped, never orphaned.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    workdir = Path(tempfile.mkdtemp(prefix="catalog-sync-bench-"))
    sandbox, base_url = start_sandbox_process()
    try:
        return verdict(run(args, workdir, base_url), strict=args.strict)
    finally:
        sandbox.send_signal(signal.SIGTERM)
        sandbox.wait(30)
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass(frozen=True)
class Measured:
    """What one run measured, in seconds, percent and MB."""

    drops: list[float]
    in_place: list[float]
    idle_cpu: float
    rss: float


def run(args: argparse.Namespace, workdir: Path, base_url: str) -> list[Check]:
    """The measurements, against a running sandbox; the checks, printed by the caller."""
    key = new_test_key()
    env = daemon_env(
        base_url=base_url,
        api_key=key,
        workdir=workdir,
        extra={"CATALOG_SYNC_RATE_LIMIT": "100000", "CATALOG_SYNC_MAX_CONCURRENCY": "64"},
    )
    catalog = Catalog(workdir / "catalogs", args.pairs, args.files)
    print(f"{args.pairs} pairs in {args.files} files under {workdir}")
    started = time.perf_counter()
    reconcile(env)
    print(f"initial sync by `catalog-sync reconcile`: {time.perf_counter() - started:.1f} s")
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}) as api:
        measured = measure(args, catalog, env, api, workdir / "state" / "catalog-sync.db")
    return report(args, measured)


def measure(
    args: argparse.Namespace, catalog: Catalog, env: dict[str, str], api: httpx.Client, state: Path
) -> Measured:
    """Drops, in-place writes and the idle window against one daemon."""
    step = max(1, args.pairs // (args.drops + args.baseline_drops + 1))
    before = last_run_id(state)
    with DaemonProcess(env, state.parent.parent / "daemon.log") as daemon:
        started = time.perf_counter()
        wait_until(lambda: last_run_id(state) > before, timeout=1200, interval=0.1)
        print(f"daemon start-up (parse + in-sync check): {time.perf_counter() - started:.1f} s")
        in_place = [
            time_drop(api, catalog, (i + 1) * step, f"in place {i}", in_place=True)
            for i in range(args.baseline_drops)
        ]
        drops = [
            time_drop(api, catalog, (args.baseline_drops + i + 1) * step, f"drop {i}")
            for i in range(args.drops)
        ]
        time.sleep(1)  # let the last run's report writing end before the idle window opens
        cpu_before = cpu_seconds(daemon.pid)
        time.sleep(args.idle_seconds)
        idle_cpu = (cpu_seconds(daemon.pid) - cpu_before) / args.idle_seconds * 100
        rss = rss_mb(daemon.pid)
    print(f"drops (ms): {', '.join(f'{v * 1000:.0f}' for v in drops)}")
    print(f"in place (ms): {', '.join(f'{v * 1000:.0f}' for v in in_place)}")
    return Measured(drops, in_place, idle_cpu, rss)


def report(args: argparse.Namespace, m: Measured) -> list[Check]:
    """The figures as a table (for the README) and as checks against their targets."""
    median, p95 = statistics.median(m.drops) * 1000, percentile(m.drops, 0.95) * 1000
    base_median = statistics.median(m.in_place) * 1000
    base_p95 = percentile(m.in_place, 0.95) * 1000
    print(f"\ndaemon latency, {args.pairs:,} pairs in {args.files} files\n")
    print(
        table(
            ["", "median", "p95", "drops"],
            [
                ["write-then-rename drop", f"{median:.0f} ms", f"{p95:.0f} ms", str(args.drops)],
                [
                    "baseline: written in place (settles)",
                    f"{base_median:.0f} ms",
                    f"{base_p95:.0f} ms",
                    str(args.baseline_drops),
                ],
            ],
        )
    )
    print()
    return [
        Check(
            "drop to visible, median",
            f"{median:.0f} ms ({ratio(median, base_median)} faster than in place, "
            f"{base_median:.0f} ms)",
            "<= 150 ms",
            median <= 150,
        ),
        Check(
            "drop to visible, p95",
            f"{p95:.0f} ms (in place: {base_p95:.0f} ms)",
            "<= 300 ms",
            p95 <= 300,
        ),
        Check(
            f"daemon idle CPU over {args.idle_seconds:g} s",
            f"{m.idle_cpu:.2f} %",
            "< 1 %",
            m.idle_cpu < 1,
        ),
        Check(
            f"daemon RSS with {args.pairs:,} pairs tracked",
            f"{m.rss:.0f} MB",
            "< 300 MB",
            m.rss < 300,
        ),
    ]


if __name__ == "__main__":
    sys.exit(main())
