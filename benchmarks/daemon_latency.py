"""How fast the daemon applies a one-row change with 100,000 pairs loaded, and what it costs.

Run with ``python -m benchmarks.daemon_latency`` (``--pairs``/``--drops`` for a quick try). The
catalog is ``--files`` CSV files of digital products (one SKU each, so the initial sync is one
write per pair); the sandbox runs as its own process, rate limit off. Figures printed next to
their targets:

* change-to-remote latency of a write-then-rename drop, median < 500 ms and p95 < 1 s, over
  ``--drops`` drops, against a baseline measured in the same run: the same change applied by a
  full, non-incremental ``catalog-sync reconcile`` (timed from the drop to the remote update);
* idle CPU of the daemon over ``--idle-seconds`` (< 1 %);
* resident memory of the daemon with every pair tracked (< 300 MB).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

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

    def prepare(self, n: int, name: str) -> Callable[[], None]:
        """Compute the new file for renaming pair ``n``; the returned call drops it."""
        self.renamed[n] = name
        index = n // self.per_file
        text = file_text(*self._span(index), self.renamed)
        path = self._path(index)

        def drop() -> None:
            write_atomically(path, [text], private=False)

        return drop


def remote_name(api: httpx.Client, n: int) -> str:
    """The SKU's name at the sandbox."""
    return str(api.get(f"/skus/{pair_id(n)}").json().get("name"))


def time_drop(api: httpx.Client, catalog: Catalog, n: int, name: str) -> float:
    """Seconds from the rename to the sandbox answering with the new name."""
    drop = catalog.prepare(n, name)
    started = time.perf_counter()
    drop()
    wait_until(lambda: remote_name(api, n) == name, timeout=60, interval=0.005)
    return time.perf_counter() - started


def time_full_reconcile(api: httpx.Client, catalog: Catalog, env: dict[str, str], n: int) -> float:
    """Seconds from the drop to the update applied by a full ``catalog-sync reconcile``."""
    drop = catalog.prepare(n, f"baseline {n}")
    started = time.perf_counter()
    drop()
    reconcile(env)
    assert remote_name(api, n) == f"baseline {n}"
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


def report(name: str, value: float, unit: str, target: float) -> None:
    """One figure next to its target."""
    verdict = "ok" if value < target else "MISSED"
    print(f"{name:<42} {value:>9.1f} {unit:<3} target < {target:g} {unit}  {verdict}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; exit 1 if a target is missed."""
    parser = argparse.ArgumentParser(description="daemon latency, idle CPU and memory")
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--drops", type=int, default=20)
    parser.add_argument("--baseline-drops", type=int, default=3)
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    args = parser.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the sandbox and the daemon are stopped, never orphaned.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    workdir = Path(tempfile.mkdtemp(prefix="catalog-sync-bench-"))
    sandbox, base_url = start_sandbox_process()
    try:
        return run(args, workdir, base_url)
    finally:
        sandbox.send_signal(signal.SIGTERM)
        sandbox.wait(30)


def run(args: argparse.Namespace, workdir: Path, base_url: str) -> int:
    """The measurements, against a running sandbox."""
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
    api = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"})
    step = max(1, args.pairs // (args.drops + args.baseline_drops + 1))
    baseline = [
        time_full_reconcile(api, catalog, env, (i + 1) * step) for i in range(args.baseline_drops)
    ]
    state = workdir / "state" / "catalog-sync.db"
    before = last_run_id(state)
    with DaemonProcess(env, workdir / "daemon.log") as daemon:
        started = time.perf_counter()
        wait_until(lambda: last_run_id(state) > before, timeout=600, interval=0.1)
        print(f"daemon start-up (parse + in-sync check): {time.perf_counter() - started:.1f} s")
        latencies = [
            time_drop(api, catalog, (args.baseline_drops + i + 1) * step, f"drop {i}")
            for i in range(args.drops)
        ]
        time.sleep(1)  # let the last run's report writing end before the idle window opens
        cpu_before = cpu_seconds(daemon.pid)
        time.sleep(args.idle_seconds)
        idle_cpu = (cpu_seconds(daemon.pid) - cpu_before) / args.idle_seconds * 100
        rss = rss_mb(daemon.pid)
    api.close()
    median, p95 = statistics.median(latencies), percentile(latencies, 0.95)
    full = statistics.median(baseline) if baseline else float("nan")
    print()
    report("change to remote, median (ms)", median * 1000, "ms", 500)
    report("change to remote, p95 (ms)", p95 * 1000, "ms", 1000)
    report(f"daemon idle CPU over {args.idle_seconds:g} s", idle_cpu, "%", 1)
    report(f"daemon RSS with {args.pairs} pairs tracked", rss, "MB", 300)
    print(f"{'baseline: full reconcile, median (ms)':<42} {full * 1000:>9.1f} ms")
    print(f"{'speed-up of the daemon over the baseline':<42} {full / median:>9.1f} x")
    print(f"latencies (ms): {', '.join(f'{v * 1000:.0f}' for v in latencies)}")
    missed = median >= 0.5 or p95 >= 1 or idle_cpu >= 1 or rss >= 300
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
