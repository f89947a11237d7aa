"""What every benchmark shares: timing, peak RSS, a sandbox in its own process, figure lines.

The sandbox runs as a separate process (``catalog-sync sandbox``) so that its CPU time and
memory are never counted as the measured process's: on a 2-core machine a sandbox in a thread
would steal the interpreter lock from the code under test and inflate its peak RSS.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx

#: How long a sandbox may take to print its address before the benchmark gives up.
SANDBOX_START_TIMEOUT: Final = 30.0
_LISTENING: Final = "sandbox listening on "
_POLL: Final = 0.02


class BenchmarkError(RuntimeError):
    """A benchmark could not run (sandbox did not start, a worker failed)."""


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def process_peak_rss_mb(pid: int) -> float:
    """Peak resident set size of another (running) process, in MiB, from ``/proc``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise BenchmarkError(f"no peak RSS reported for process {pid}")


def process_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) another (running) process has used so far, from ``/proc``."""
    # The fields after the parenthesised command name; utime and stime are the 12th and 13th.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds() -> float:
    """CPU seconds (user + system) this process has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@contextlib.contextmanager
def stopwatch() -> Iterator[list[float]]:
    """Measure a block's wall time: the yielded list holds the seconds once the block ends."""
    elapsed: list[float] = []
    started = time.perf_counter()
    try:
        yield elapsed
    finally:
        elapsed.append(time.perf_counter() - started)


@dataclass(frozen=True)
class SandboxProcess:
    """A ``catalog-sync sandbox`` running in a child process, with its admin API at hand."""

    base_url: str
    admin: httpx.Client
    pid: int

    def peak_rss_mb(self) -> float:
        """Peak resident set size of the sandbox process so far, in MiB."""
        return process_peak_rss_mb(self.pid)

    def cpu_seconds(self) -> float:
        """CPU seconds the sandbox process has used so far."""
        return process_cpu_seconds(self.pid)

    def clear_requests(self) -> None:
        """Forget the request log, so a long benchmark does not grow the sandbox's memory."""
        self.admin.delete("/_sandbox/requests").raise_for_status()

    def requests(self, fields: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """The API requests received since the log was last cleared, oldest first; with
        ``fields``, only those fields of each (a full log of 500,000 writes with bodies is
        hundreds of MB of JSON)."""
        params = {"fields": ",".join(fields)} if fields is not None else None
        response = self.admin.get("/_sandbox/requests", params=params)
        response.raise_for_status()
        data: list[dict[str, Any]] = response.json()["data"]
        return data

    def reset(self) -> None:
        """Empty the sandbox: data, request log and faults."""
        self.admin.post("/_sandbox/reset").raise_for_status()


@contextlib.contextmanager
def sandbox_process(*, rate_limit: float) -> Iterator[SandboxProcess]:
    """Start ``catalog-sync sandbox --port 0`` and stop it on exit.

    The port is read from the line the sandbox prints once it accepts connections; its stdout
    goes to a file, not a pipe, so a chatty sandbox can never block on a full pipe.
    """
    command = [
        sys.executable,
        "-m",
        "catalog_sync",
        "sandbox",
        "--port",
        "0",
        "--rate-limit",
        f"{rate_limit:g}",
    ]
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as tmp:
        out_path = Path(tmp) / "stdout"
        with out_path.open("w") as out:
            process = subprocess.Popen(command, stdout=out, stdin=subprocess.DEVNULL)
        try:
            base_url = _wait_listening(process, out_path)
            with httpx.Client(base_url=base_url, timeout=120.0) as admin:
                yield SandboxProcess(base_url, admin, process.pid)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_listening(process: subprocess.Popen[bytes], out_path: Path) -> str:
    deadline = time.monotonic() + SANDBOX_START_TIMEOUT
    while time.monotonic() < deadline:
        for line in out_path.read_text().splitlines():
            if line.startswith(_LISTENING):
                return line.removeprefix(_LISTENING).strip()
        if process.poll() is not None:
            raise BenchmarkError(f"the sandbox exited with status {process.returncode}")
        time.sleep(_POLL)
    raise BenchmarkError("the sandbox did not start in time")


#: Every :class:`Check` made in this process, in order: ``python -m benchmarks`` reads it to
#: print the targets of all benchmarks together and to fail ``--strict`` on any FAIL, whatever
#: each benchmark's own exit status.
_CHECKS: list[Check] = []


@dataclass(frozen=True)
class Check:
    """A measured figure against its target (``value`` says the baseline it is compared with)."""

    label: str
    value: str
    target: str
    passed: bool

    def __post_init__(self) -> None:
        _CHECKS.append(self)

    def line(self) -> str:
        """``label: value (target ...) PASS``, the form every benchmark prints."""
        verdict = "PASS" if self.passed else "FAIL"
        return f"{self.label}: {self.value} (target {self.target}) {verdict}"


def checks_made(since: int = 0) -> list[Check]:
    """The checks made in this process, from the ``since``-th on."""
    return _CHECKS[since:]


def add_strict_option(parser: argparse.ArgumentParser) -> None:
    """``--strict``: exit with status 1 when any target is missed (``make bench`` uses it)."""
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 when a target is missed"
    )


def verdict(checks: Sequence[Check], *, strict: bool) -> int:
    """Print every check; the exit status: 1 under ``strict`` when one was missed."""
    for check in checks:
        print(check.line())
    return 1 if strict and not all(c.passed for c in checks) else 0


def ratio(ours: float, baseline: float) -> str:
    """``baseline / ours`` as ``12.3x``: how many times less (time, writes) we spend."""
    if ours == 0:
        return "inf" if baseline > 0 else "1.0x"
    return f"{baseline / ours:.1f}x"


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table, so printed results paste straight into the docs."""
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
