"""catalog-sync and the sandbox as child processes, started the way an operator starts them.

Shared by the demo, the process-level integration tests and the latency benchmark, so all
three exercise the real commands: :func:`start_sandbox_process` (``catalog-sync sandbox``),
:func:`daemon_env` and :class:`DaemonProcess` (``catalog-sync run``), :func:`replace_row`
(a catalog change dropped the documented way) and :func:`wait_until`, which polls for what a
child process did, since another process cannot be awaited.
"""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final, Self, TypeVar

from catalog_sync.support.files import write_atomically

T = TypeVar("T")
_LISTENING: Final = re.compile(r"sandbox listening on (http://\S+)")


def wait_until(
    probe: Callable[[], T | None], *, timeout: float, interval: float = 0.02, what: str = ""
) -> T:
    """Poll ``probe`` until it returns something other than ``None``/``False``; return it.

    Raises ``TimeoutError`` naming ``what`` after ``timeout`` seconds: a bound on a wait for
    another process, never a measure of how fast it was.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout:.0f}s waiting for {what or probe}")
        time.sleep(interval)


def start_sandbox_process() -> tuple[subprocess.Popen[str], str]:
    """``catalog-sync sandbox`` on a free port, rate limit off; the process and its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "catalog_sync", "sandbox", "--port", "0", "--rate-limit", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if match := _LISTENING.search(line):
            return process, match.group(1)
    raise RuntimeError("the sandbox exited before it was ready")


def daemon_env(
    *, base_url: str, api_key: str, workdir: Path, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of a daemon run in ``workdir``: no inherited ``CATALOG_SYNC_*``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CATALOG_SYNC_", "NOTIFY_"))}
    env.pop("WATCHDOG_USEC", None)
    env.update(
        {
            "CATALOG_SYNC_API_BASE": base_url,
            "CATALOG_SYNC_API_KEY": api_key,
            "CATALOG_SYNC_RATE_LIMIT": "1000",
            "CATALOG_SYNC_CATALOGS": str(workdir / "catalogs"),
            "CATALOG_SYNC_STATE": str(workdir / "state" / "catalog-sync.db"),
            "CATALOG_SYNC_REPORTS": str(workdir / "reports"),
        }
    )
    env.update(extra or {})
    return env


@dataclass
class DaemonProcess:
    """``catalog-sync run`` as a child process; its output goes to ``log``."""

    env: Mapping[str, str]
    log: Path
    args: Sequence[str] = ()
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _out: IO[bytes] | None = field(default=None, init=False)

    def start(self) -> Self:
        """Start the daemon (returns at once; wait on the state or the sandbox for progress)."""
        self._out = self.log.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "catalog_sync", "run", *self.args],
            env=dict(self.env),
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )
        return self

    @property
    def pid(self) -> int:
        """The daemon's process id."""
        assert self.process is not None
        return self.process.pid

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then wait; returns the exit code (kills after ``timeout``)."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        if self._out is not None:
            self._out.close()
        return code

    def output(self) -> str:
        """Everything the daemon logged so far."""
        return self.log.read_text(encoding="utf-8", errors="replace")

    def __enter__(self) -> Self:
        return self if self.process is not None else self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def replace_row(path: Path, pair_id: str, column: str, value: str) -> None:
    """Change one cell of a CSV catalog the documented way: write a temp file, rename it.

    The catalog belongs to the operator: the new file gets the mode the umask gives.
    """
    with path.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.reader(stream))
    index = rows[0].index(column)
    for row in rows[1:]:
        if row and row[0] == pair_id:
            row[index] = value
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    write_atomically(path, [buffer.getvalue()], private=False)
