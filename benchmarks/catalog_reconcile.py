"""Catalog reconciliation at scale: our reconciler against a naive script.

Builds a catalog of ``--pairs`` pairs (100,000 by default), then, against a sandbox with its
rate limit off, measures an initial sync, an unchanged re-run, a re-run with 1% of the rows
changed and a full audit, next to a naive script that writes every SKU and inventory item one
at a time on every run. Above :data:`NAIVE_WRITER_MAX` pairs (or with ``--baseline parse``) the
naive script would take hours, so a parse-only baseline stands in for it: our parser loading
the same catalog, its time and peak RSS printed beside ours; the speed-up check, which needs
the naive writer, is then skipped and the output says so. Then, against a sandbox at the live
limit (250 requests/s), it measures how much of the limit a 10,000-pair initial sync uses and
how many 429s it meets.

Every measured run happens in a fresh child process, so its peak RSS is that run's alone, and
the sandbox runs in another process, so its CPU and memory are never counted as ours.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import logging
import os
import random
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import httpx
from pydantic import SecretStr

from benchmarks._common import (
    BenchmarkError,
    Check,
    SandboxProcess,
    cpu_seconds,
    peak_rss_mb,
    ratio,
    sandbox_process,
    stopwatch,
    table,
)
from catalog_sync.catalog.files import catalog_paths, load_catalog_files
from catalog_sync.catalog.reconcile import ReconcileOptions, Reconciler
from catalog_sync.dr import DigitalRiverClient
from catalog_sync.sandbox.testing import new_test_key
from catalog_sync.state import open_state
from catalog_sync.support import logs

DEFAULT_PAIRS: Final = 100_000
QUICK_PAIRS: Final = 300
RATE_PAIRS: Final = 10_000
QUICK_RATE_PAIRS: Final = 100
LIVE_RATE_LIMIT: Final = 250.0
#: "No limiter": far above anything the sandbox can serve, so the budget never waits.
UNLIMITED: Final = 1_000_000.0
#: Rows per catalog file: a 1,000,000-row catalog in one file would pass the 100 MiB limit.
ROWS_PER_FILE: Final = 200_000
#: One row in this many is changed for the "1% changed" re-run.
CHANGE_EVERY: Final = 100
#: One row in this many is a digital product (a SKU with no inventory item).
DIGITAL_EVERY: Final = 10

#: Peak RSS targets of our process by catalog size: memory flat in the catalog.
TARGET_RSS_MB: Final = {100_000: 200.0, 1_000_000: 400.0}
#: The runs whose peak RSS is held to the target.
RSS_RUNS: Final = ("initial sync", "unchanged re-run", "full audit")
TARGET_WRITES_PER_CHANGE: Final = 2.0
TARGET_RATE_SHARE: Final = 0.95
#: CPU milliseconds of our process per API call during an initial sync.
TARGET_CPU_MS_PER_CALL: Final = 1.0
#: The initial sync at least this many times faster than the naive script.
TARGET_INITIAL_SPEEDUP: Final = 2.0
#: The largest catalog the naive writer runs on: at 1,000,000 pairs it would write one request
#: at a time for ~80 minutes, twice; above this a parse-only baseline stands in for it.
NAIVE_WRITER_MAX: Final = 100_000
#: ``--baseline``, by the name the output gives it: the naive writer, or our parser alone (the
#: default above NAIVE_WRITER_MAX).
BASELINES: Final = {"naive": "naive script", "parse": "parse-only baseline"}
#: The request-log fields the live-limit run reads (no bodies: the log may hold 500,000).
_RATE_LOG_FIELDS: Final = ("method", "status", "time")

_KEY_ENV: Final = "CATALOG_SYNC_BENCH_API_KEY"
_ROOT: Final = Path(__file__).resolve().parents[1]

HEADER: Final = (
    "id",
    "name",
    "description",
    "taxCode",
    "eccn",
    "hsCode",
    "countryOfOrigin",
    "partNumber",
    "manufacturerId",
    "weight",
    "weightUnit",
    "allowOversell",
    "itemBreadcrumb",
    "image",
    "url",
    "metadata.color",
    "metadata.collection",
)

#: (id prefix, product noun, HS code, category path, manufacturer, weight range in kg)
_FAMILIES: Final = (
    ("TC-TENT", "Tent", "6306.22.9030", "Outdoor > Camping > Tents", "trailcraft", (1.2, 6.0)),
    ("TC-PACK", "Backpack", "4202.92.3031", "Outdoor > Packs", "trailcraft", (0.8, 2.4)),
    ("TC-BAG", "Sleeping Bag", "9404.30.8000", "Outdoor > Sleeping", "trailcraft", (0.7, 2.0)),
    ("SA-HP", "Headphones", "8518.30.2000", "Audio > Headphones", "sonora-audio", (0.2, 0.5)),
    ("SA-CBL", "Audio Cable", "8544.42.9090", "Audio > Cables", "sonora-audio", (0.05, 0.4)),
    ("KW-KTL", "Kettle", "8516.71.0020", "Kitchen > Appliances", "kuechenwerk", (0.9, 1.8)),
    ("KW-PAN", "Cast Iron Pan", "7323.91.5020", "Kitchen > Cookware", "kuechenwerk", (1.5, 4.0)),
)
_DIGITAL: Final = (
    ("EB", "E-book", "Books > E-books"),
    ("WAR", "Extended Warranty", "Services > Warranties"),
)
_ECCNS: Final = ("EAR99", "EAR99", "EAR99", "5A992.c")
_COUNTRIES: Final = ("VN", "CN", "DE", "MX", "TW", "US", "PT")
_COLORS: Final = ("forest green", "sand", "slate", "black", "red", "ivory")
_ADJECTIVES: Final = ("Ridgeline", "Summit", "Traverse", "Harbor", "Cascade", "Aurora", "Basalt")
_PHYSICAL_TAX: Final = "4323.310_A"
_DIGITAL_TAX: Final = "4512.100_A"


# -- the catalog ------------------------------------------------------------------------------
def catalog_row(index: int, *, changed: bool = False) -> list[str]:
    """Row ``index`` of the benchmark catalog; the same index always gives the same row.

    With ``changed``, every :data:`CHANGE_EVERY`-th row differs in one of the ways a merchant
    edits a catalog: a shared attribute (written to both sides), a SKU-only field, or the
    item-only ``allowOversell``.
    """
    rng = random.Random(index)
    adjective = rng.choice(_ADJECTIVES)
    if index % DIGITAL_EVERY == DIGITAL_EVERY - 1:
        prefix, noun, path = rng.choice(_DIGITAL)
        row = {
            "id": f"{prefix}-{index:06d}",
            "name": f"{adjective} {noun} {index}",
            "description": f"Digital delivery: {adjective} {noun.lower()}.",
            "taxCode": _DIGITAL_TAX,
            "eccn": "EAR99",
            "countryOfOrigin": "US",
            "itemBreadcrumb": path,
        }
    else:
        prefix, noun, hs_code, path, maker, (low, high) = rng.choice(_FAMILIES)
        row = {
            "id": f"{prefix}-{index:06d}",
            "name": f"{adjective} {noun} {index}",
            "description": f"The {adjective} {noun.lower()}, built to last; model {index}.",
            "taxCode": _PHYSICAL_TAX,
            "eccn": rng.choice(_ECCNS),
            "hsCode": hs_code,
            "countryOfOrigin": rng.choice(_COUNTRIES),
            "partNumber": f"{prefix[3:]}{index:06d}",
            "manufacturerId": maker,
            "weight": f"{rng.uniform(low, high):.2f}",
            "weightUnit": "kg",
            "allowOversell": rng.choice(("true", "false", "")),
            "itemBreadcrumb": path,
            "metadata.color": rng.choice(_COLORS),
            "metadata.collection": adjective,
        }
    row["image"] = f"https://cdn.example.com/img/{row['id'].lower()}.jpg"
    row["url"] = f"https://shop.example.com/p/{row['id']}"
    if changed and is_changed(index):
        _change(row, index)
    return [row.get(name, "") for name in HEADER]


def is_changed(index: int) -> bool:
    """Whether row ``index`` differs in the changed catalog."""
    return index % CHANGE_EVERY == CHANGE_EVERY // 2


def _change(row: dict[str, str], index: int) -> None:
    how = (index // CHANGE_EVERY) % 3
    physical = row["taxCode"] == _PHYSICAL_TAX
    if how == 0 and physical:
        row["partNumber"] += "-R2"
    elif how == 2 and physical:
        row["allowOversell"] = "false" if row["allowOversell"] == "true" else "true"
    else:
        row["name"] += " (2025 edition)"


def write_catalog(path: Path, pairs: int, *, changed: bool = False) -> None:
    """Write the ``pairs``-row benchmark catalog as one CSV file."""
    _write_rows(path, range(pairs), changed=changed)


def write_catalog_files(folder: Path, pairs: int, *, changed: bool = False) -> None:
    """Write the benchmark catalog into ``folder``: one ``catalog.csv`` up to
    :data:`ROWS_PER_FILE` rows, else files of that many rows (a file of a million rows would be
    over the catalog's file-size limit, and refused whole)."""
    if pairs <= ROWS_PER_FILE:
        write_catalog(folder / "catalog.csv", pairs, changed=changed)
        return
    for number, start in enumerate(range(0, pairs, ROWS_PER_FILE)):
        rows = range(start, min(pairs, start + ROWS_PER_FILE))
        _write_rows(folder / f"catalog-{number:03}.csv", rows, changed=changed)


def _write_rows(path: Path, rows: range, *, changed: bool) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        writer.writerows(catalog_row(i, changed=changed) for i in rows)


# -- measured runs, each in its own process ---------------------------------------------------
@dataclass(frozen=True)
class WorkerSpec:
    """What one child process runs; the API key travels in the environment, never in argv."""

    kind: str
    base_url: str
    catalogs: str
    state: str = ""
    reports: str = ""
    audit: bool = False
    rate_limit: float = UNLIMITED
    #: Pairs the catalog holds: a run that read fewer failed to read a file.
    pairs: int = 0


@dataclass(frozen=True)
class Measured:
    """What a child process reports about its run."""

    seconds: float
    pairs: int
    api_calls: int
    write_calls: int
    failed: int
    peak_rss_mb: float
    #: CPU seconds of the whole worker process (start-up and catalog parsing included).
    cpu_seconds: float = 0.0

    @property
    def pairs_per_second(self) -> float:
        """Catalog pairs handled per second of wall time."""
        return self.pairs / self.seconds if self.seconds else 0.0


def run_worker(spec: WorkerSpec, api_key: str) -> Measured:
    """Run one measured phase in a fresh interpreter and return what it measured."""
    command = [sys.executable, "-m", "benchmarks.catalog_reconcile", "--worker"]
    completed = subprocess.run(
        [*command, json.dumps(asdict(spec))],
        cwd=_ROOT,
        env={**os.environ, _KEY_ENV: api_key},
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise BenchmarkError(f"the {spec.kind} worker failed with status {completed.returncode}")
    measured = Measured(**json.loads(completed.stdout.strip().splitlines()[-1]))
    if measured.failed:
        raise BenchmarkError(f"the {spec.kind} worker saw {measured.failed} failed writes")
    if measured.pairs != spec.pairs:
        raise BenchmarkError(
            f"the {spec.kind} worker read {measured.pairs:,} pairs of {spec.pairs:,}: "
            "a catalog file was refused, so the run would measure nothing"
        )
    return measured


def _worker(spec: WorkerSpec) -> Measured:
    logs.configure(level=logging.WARNING, stream=sys.stderr)
    api_key = os.environ[_KEY_ENV]
    if spec.kind == "naive":
        return _naive(spec, api_key)
    if spec.kind == "parse":
        return _parse_only(spec)
    return asyncio.run(_reconcile(spec, api_key))


async def _reconcile(spec: WorkerSpec, api_key: str) -> Measured:
    client = DigitalRiverClient(
        base_url=spec.base_url, api_key=SecretStr(api_key), rate_limit=spec.rate_limit
    )
    with open_state(Path(spec.state)) as store:
        async with client:
            reconciler = Reconciler(
                client, store, catalogs=Path(spec.catalogs), reports=Path(spec.reports)
            )
            with stopwatch() as elapsed:
                result = await reconciler.run(ReconcileOptions(audit=spec.audit))
    summary = result.report.summary
    return Measured(
        seconds=elapsed[0],
        pairs=summary.pairs_in_catalog,
        api_calls=summary.api_calls,
        write_calls=summary.write_calls,
        failed=summary.failed,
        peak_rss_mb=peak_rss_mb(),
        cpu_seconds=cpu_seconds(),
    )


def _naive(spec: WorkerSpec, api_key: str) -> Measured:
    """What a script without planning does: upsert both sides of every pair, one at a time.

    It parses with our parser (so only the planning differs), PUTs each SKU, and for a
    physical one updates the inventory item, creating it when the update finds none.
    """
    calls = writes = failed = 0
    headers = {"Authorization": f"Bearer {api_key}"}
    with (
        stopwatch() as elapsed,
        httpx.Client(base_url=spec.base_url, headers=headers, timeout=30.0) as http,
    ):
        catalog = load_catalog_files(catalog_paths([Path(spec.catalogs)]))
        for pair in catalog.pairs.values():
            sku = http.put(f"/skus/{pair.id}", json=dict(pair.sku))
            calls, writes, failed = calls + 1, writes + 1, failed + (not sku.is_success)
            if not sku.is_success or not sku.json().get("physical"):
                continue
            item = http.post(f"/inventory-items/{pair.id}", json=dict(pair.item))
            calls, writes = calls + 1, writes + 1
            if item.status_code == httpx.codes.NOT_FOUND:
                item = http.post("/inventory-items", json={"id": pair.id, **pair.item})
                calls, writes = calls + 1, writes + 1
            failed += not item.is_success
    return Measured(
        elapsed[0], len(catalog.pairs), calls, writes, failed, peak_rss_mb(), cpu_seconds()
    )


def _parse_only(spec: WorkerSpec) -> Measured:
    """The baseline that stands in for the naive script on large catalogs: the naive script's
    first step alone (our parser loading the catalog), nothing sent."""
    with stopwatch() as elapsed:
        catalog = load_catalog_files(catalog_paths([Path(spec.catalogs)]))
    return Measured(elapsed[0], len(catalog.pairs), 0, 0, 0, peak_rss_mb(), cpu_seconds())


# -- the benchmark ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Phase:
    """One row of the results: our run and the baseline's (naive script or parse-only)."""

    name: str
    ours: Measured
    baseline: Measured


@dataclass(frozen=True)
class Phases:
    """The rate-limit-off runs, and what the sandbox serving them cost."""

    runs: list[Phase]
    sandbox_peak_rss_mb: float
    sandbox_cpu_seconds: float
    #: API calls the sandbox answered in these runs, the baseline's included.
    calls: int
    seconds: float
    #: ``"naive"``: the naive writer ran beside ours; ``"parse"``: only our parser did.
    baseline: str


@dataclass(frozen=True)
class RateUse:
    """The live-limit run: its writes as the sandbox saw them."""

    run: Measured
    writes: int
    write_seconds: float
    rejected: int

    @property
    def write_rate(self) -> float:
        """Writes per second between the first write and the last."""
        return (self.writes - 1) / self.write_seconds if self.write_seconds else 0.0


def _progress(message: str) -> None:
    print(f"... {message}", file=sys.stderr, flush=True)


class _Workspace:
    """Files of one benchmark run: catalogs, state database, reports."""

    def __init__(self, root: Path, pairs: int) -> None:
        self.root = root
        self.pairs = pairs
        self.catalogs = root / "catalogs"
        self.catalogs.mkdir(parents=True)

    def spec(self, kind: str, base_url: str, **extra: Any) -> WorkerSpec:
        return WorkerSpec(
            kind,
            base_url,
            str(self.catalogs),
            state=str(self.root / "state.db"),
            reports=str(self.root / "reports"),
            pairs=self.pairs,
            **extra,
        )


def measure_phases(workspace: _Workspace, pairs: int, baseline: str) -> Phases:
    """The four runs, ours and the baseline's, against one sandbox with its rate limit off."""
    _progress(f"writing a {pairs}-pair catalog")
    write_catalog_files(workspace.catalogs, pairs)
    key = new_test_key()
    with stopwatch() as elapsed, sandbox_process(rate_limit=0) as sandbox:
        if baseline == "naive":
            initial, rerun = _naive_runs(workspace, key, sandbox)
        else:
            _progress("parse-only baseline: our parser loading the catalog")
            initial = rerun = run_worker(workspace.spec("parse", sandbox.base_url), key)
        ours = workspace.spec("reconcile", sandbox.base_url)
        results = [Phase("initial sync", _ours("initial sync", ours, key, sandbox), initial)]
        results.append(Phase("unchanged re-run", _ours("unchanged", ours, key, sandbox), rerun))
        write_catalog_files(workspace.catalogs, pairs, changed=True)
        results.append(Phase("1% changed", _ours("1% changed", ours, key, sandbox), rerun))
        audit = workspace.spec("reconcile", sandbox.base_url, audit=True)
        results.append(Phase("full audit", _ours("full audit", audit, key, sandbox), rerun))
        sandbox_rss, sandbox_cpu = sandbox.peak_rss_mb(), sandbox.cpu_seconds()
    calls = initial.api_calls + rerun.api_calls + sum(p.ours.api_calls for p in results)
    return Phases(results, sandbox_rss, sandbox_cpu, calls, elapsed[0], baseline)


def _naive_runs(
    workspace: _Workspace, key: str, sandbox: SandboxProcess
) -> tuple[Measured, Measured]:
    """The naive script's initial sync and re-run; the sandbox is emptied after them."""
    naive = workspace.spec("naive", sandbox.base_url)
    _progress("naive script: initial sync")
    initial = run_worker(naive, key)
    sandbox.clear_requests()
    _progress("naive script: re-run")
    rerun = run_worker(naive, key)
    sandbox.reset()
    return initial, rerun


def _ours(name: str, spec: WorkerSpec, key: str, sandbox: SandboxProcess) -> Measured:
    _progress(f"catalog-sync: {name}")
    measured = run_worker(spec, key)
    sandbox.clear_requests()
    return measured


def measure_rate(workspace: _Workspace, pairs: int) -> RateUse:
    """An initial sync of ``pairs`` pairs with client and sandbox both at the live limit."""
    write_catalog_files(workspace.catalogs, pairs)
    key = new_test_key()
    with sandbox_process(rate_limit=LIVE_RATE_LIMIT) as sandbox:
        _progress(f"catalog-sync: {pairs}-pair initial sync at {LIVE_RATE_LIMIT:g} requests/s")
        spec = workspace.spec("reconcile", sandbox.base_url, rate_limit=LIVE_RATE_LIMIT)
        run = run_worker(spec, key)
        log = sandbox.requests(_RATE_LOG_FIELDS)
    writes = [datetime.fromisoformat(e["time"]) for e in log if e["method"] != "GET"]
    window = (max(writes) - min(writes)).total_seconds() if writes else 0.0
    rejected = sum(1 for e in log if e["status"] == httpx.codes.TOO_MANY_REQUESTS)
    return RateUse(run, len(writes), window, rejected)


def rss_target_mb(pairs: int) -> tuple[int, float]:
    """The catalog size whose RSS target applies to a ``pairs``-pair run, and that target.

    A run up to 100,000 pairs is held to the 100,000-pair target, a larger one to the
    1,000,000-pair target: memory flat in the catalog means a smaller run never needs more.
    """
    size = min((s for s in TARGET_RSS_MB if s >= pairs), default=max(TARGET_RSS_MB))
    return size, TARGET_RSS_MB[size]


def rss_checks(pairs: int, measured: Phases) -> list[Check]:
    """Peak RSS of our initial sync, unchanged re-run and audit against the target, each next to
    the baseline's peak measured in the same run (either baseline parses the same catalog)."""
    size, target = rss_target_mb(pairs)
    name = BASELINES[measured.baseline]
    checks = []
    for phase in (p for p in measured.runs if p.name in RSS_RUNS):
        ours, baseline = phase.ours.peak_rss_mb, phase.baseline.peak_rss_mb
        checks.append(
            Check(
                f"peak RSS, {phase.name} at {pairs:,} pairs ({name} {baseline:.0f} MB)",
                f"{ours:.0f} MB",
                f"< {target:g} MB at {size:,} pairs",
                ours < target,
            )
        )
    return checks


def results_table(measured: Phases) -> str:
    """Each run's figures beside its baseline's: the naive writer's time, writes and ratios, or
    the parse-only baseline's time and peak RSS."""
    header = ["run", "wall s", "pairs/s", "API calls", "write calls", "peak RSS MB"]
    if measured.baseline == "naive":
        header += ["naive wall s", "naive writes", "time ratio", "writes ratio"]
    else:
        header += ["parse-only wall s", "parse-only peak RSS MB"]
    rows = []
    for p in measured.runs:
        row = [p.name, f"{p.ours.seconds:.2f}", f"{p.ours.pairs_per_second:,.0f}"]
        row += [f"{p.ours.api_calls:,}", f"{p.ours.write_calls:,}", f"{p.ours.peak_rss_mb:.0f}"]
        row.append(f"{p.baseline.seconds:.2f}")
        if measured.baseline == "naive":
            row.append(f"{p.baseline.write_calls:,}")
            row.append(ratio(p.ours.seconds, p.baseline.seconds))
            row.append(ratio(p.ours.write_calls, p.baseline.write_calls))
        else:
            row.append(f"{p.baseline.peak_rss_mb:.0f}")
        rows.append(row)
    return table(header, rows)


def report(pairs: int, measured: Phases, rate: RateUse) -> list[Check]:
    """Print the results table and return the checks against their targets."""
    phases = measured.runs
    print(f"\ncatalog reconcile, {pairs:,} pairs, sandbox rate limit off")
    if measured.baseline == "naive":
        print("(ratios: naive / catalog-sync; the naive script does the same work on every run)\n")
    else:
        print("(baseline: our parser alone loading the same catalog; no naive writer)\n")
    print(results_table(measured))
    by_name = {p.name: p.ours for p in phases}
    changed = sum(1 for i in range(pairs) if is_changed(i))
    per_change = by_name["1% changed"].write_calls / changed
    share = rate.write_rate / LIVE_RATE_LIMIT
    print(
        f"\nlive limit: {rate.run.pairs:,}-pair initial sync, {rate.writes:,} writes in "
        f"{rate.write_seconds:.1f} s = {rate.write_rate:.1f} writes/s "
        f"(wall {rate.run.seconds:.1f} s, {rate.run.api_calls:,} calls)"
    )
    sandbox_ms = 1000 * measured.sandbox_cpu_seconds / max(measured.calls, 1)
    print(
        f"sandbox (its own process) peak RSS {measured.sandbox_peak_rss_mb:.0f} MB, "
        f"CPU {measured.sandbox_cpu_seconds:.0f} s = {sandbox_ms:.2f} ms per call "
        f"({measured.calls:,} calls); rate-limit-off runs took {measured.seconds:.0f} s in all\n"
    )
    checks = [
        Check(
            "unchanged re-run writes",
            str(by_name["unchanged re-run"].write_calls),
            "0",
            by_name["unchanged re-run"].write_calls == 0,
        ),
        Check(
            f"1% changed: writes per changed pair ({changed:,} changed)",
            f"{per_change:.2f}",
            f"<= {TARGET_WRITES_PER_CHANGE:g}",
            per_change <= TARGET_WRITES_PER_CHANGE,
        ),
        *rss_checks(pairs, measured),
        Check(
            f"share of the {LIVE_RATE_LIMIT:g}/s limit used",
            f"{share:.1%}",
            f">= {TARGET_RATE_SHARE:.0%}",
            share >= TARGET_RATE_SHARE,
        ),
        Check("429s met at the live limit", str(rate.rejected), "0", rate.rejected == 0),
        *client_checks(phases[0], naive=measured.baseline == "naive"),
    ]
    for check in checks:
        print(check.line())
    if measured.baseline != "naive":
        print(
            f"skipped: initial sync vs the naive script, at least {TARGET_INITIAL_SPEEDUP:g}x: "
            f"the naive writer did not run (by default it runs up to {NAIVE_WRITER_MAX:,} pairs)"
        )
    return checks


def client_checks(initial: Phase, *, naive: bool) -> list[Check]:
    """The client's targets on the initial sync: CPU per API call and, when the naive writer
    ran, speed vs naive.

    CPU is the worker process's own (user + system), divided by the API calls it made; the
    naive script's figure is printed beside it as the same run's baseline.
    """
    ours, baseline = initial.ours, initial.baseline
    per_call = 1000 * ours.cpu_seconds / max(ours.api_calls, 1)
    beside = "no naive writer in this run"
    if naive:
        beside = f"naive script {1000 * baseline.cpu_seconds / max(baseline.api_calls, 1):.2f} ms"
    checks = [
        Check(
            "initial sync: CPU per API call",
            f"{per_call:.2f} ms ({ours.cpu_seconds:.1f} s / {ours.api_calls:,} calls; {beside})",
            f"<= {TARGET_CPU_MS_PER_CALL:g} ms",
            per_call <= TARGET_CPU_MS_PER_CALL,
        )
    ]
    if naive:
        speedup = baseline.seconds / ours.seconds if ours.seconds else 0.0
        checks.append(
            Check(
                f"initial sync at {ours.pairs:,} pairs vs the naive script",
                f"{speedup:.1f}x faster ({ours.seconds:.1f} s vs {baseline.seconds:.1f} s)",
                f">= {TARGET_INITIAL_SPEEDUP:g}x",
                speedup >= TARGET_INITIAL_SPEEDUP,
            )
        )
    return checks


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks catalog", description=__doc__)
    parser.add_argument(
        "--pairs",
        type=int,
        default=None,
        help="catalog size (default 100000; 1000000 checks the 1,000,000-pair RSS target)",
    )
    parser.add_argument(
        "--rate-pairs", type=int, default=None, help="pairs of the live-limit run (default 10000)"
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_PAIRS} pairs: a smoke test of the benchmark"
    )
    parser.add_argument(
        "--baseline",
        choices=list(BASELINES),
        default=None,
        help=f"naive: the naive writer (default up to {NAIVE_WRITER_MAX:,} pairs); "
        "parse: our parser alone (default above)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 when a target is missed"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark (or, with the internal ``--worker``, one measured phase)."""
    args = _arguments(argv)
    if args.worker is not None:
        measured = _worker(WorkerSpec(**json.loads(args.worker)))
        print(json.dumps(asdict(measured)))
        return 0
    pairs = args.pairs or (QUICK_PAIRS if args.quick else DEFAULT_PAIRS)
    rate_pairs = args.rate_pairs or (QUICK_RATE_PAIRS if args.quick else RATE_PAIRS)
    baseline = args.baseline or ("naive" if pairs <= NAIVE_WRITER_MAX else "parse")
    with tempfile.TemporaryDirectory(prefix="bench-catalog-") as tmp:
        phases = measure_phases(_Workspace(Path(tmp) / "phases", pairs), pairs, baseline)
        rate = measure_rate(_Workspace(Path(tmp) / "rate", rate_pairs), rate_pairs)
    checks = report(pairs, phases, rate)
    return 1 if args.strict and not all(c.passed for c in checks) else 0


if __name__ == "__main__":
    sys.exit(main())
