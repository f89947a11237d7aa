"""``make demo``: the whole daemon on one machine, explained step by step.

Starts the bundled sandbox, runs ``catalog-sync run`` on a copy of the example ``catalogs/``,
shows the pairs arriving, changes one row the documented way (write-then-rename) and measures
how long until Digital River (the sandbox) has it, prints ``status`` and the report's path,
then runs until Ctrl-C and stops everything cleanly. ``--once`` does the steps and exits, which
is how the test suite keeps the demo from rotting.

The child processes are started, and waited on, by :mod:`catalog_sync.demo.testing`, which the
integration tests and the latency benchmark use too.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import httpx

from catalog_sync.demo.orders import run_order_demo, subprocess_cli
from catalog_sync.demo.testing import (
    DaemonProcess,
    daemon_env,
    replace_row,
    start_sandbox_process,
    wait_until,
)
from catalog_sync.sandbox.testing import new_test_key
from catalog_sync.state import RunRecord, open_state

EXAMPLE_CATALOGS: Final = Path(__file__).resolve().parents[3] / "catalogs"
#: What the demo renames in the example catalog, and to what.
DEMO_ROW: Final = ("hardware.csv", "TC-TENT-2P-GRN", "name", "Ridgeline 2-Person Tent (2025)")


# ---------------------------------------------------------------------------- the demo
@dataclass
class Demo:
    """What the steps share."""

    workdir: Path
    once: bool
    api_key: str = field(default_factory=new_test_key)
    base_url: str = ""
    sandbox: subprocess.Popen[str] | None = None
    daemon: DaemonProcess | None = None

    def api(self) -> httpx.Client:
        """A plain HTTP client of the sandbox with the demo's key."""
        return httpx.Client(
            base_url=self.base_url, headers={"Authorization": f"Bearer {self.api_key}"}
        )


def say(text: str) -> None:
    """Print one explanation line (flushed, so it interleaves with child output)."""
    print(text, flush=True)  # noqa: T201 - the demo talks to a person on a terminal


def step_start_sandbox(demo: Demo) -> None:
    """Start the bundled Digital River sandbox on a free loopback port."""
    say("1. Starting the local Digital River sandbox (no account needed) ...")
    demo.sandbox, demo.base_url = start_sandbox_process()
    say(f"   The sandbox answers at {demo.base_url}; catalog-sync talks to it like the real API.")


def step_start_daemon(demo: Demo) -> None:
    """Copy the example catalogs into the work folder and start ``catalog-sync run``."""
    catalogs = demo.workdir / "catalogs"
    shutil.copytree(EXAMPLE_CATALOGS, catalogs)
    say(f"2. Copied the example catalogs to {catalogs} (the repository's files stay untouched)")
    say("   and started `catalog-sync run` on them: it watches that folder, reconciles at start")
    say("   and on every change, and audits everything periodically.")
    env = daemon_env(
        base_url=demo.base_url,
        api_key=demo.api_key,
        workdir=demo.workdir,
        extra={"CATALOG_SYNC_POLL_INTERVAL": "0.5"},
    )
    demo.daemon = DaemonProcess(env, demo.workdir / "daemon.log").start()
    say(f"   The daemon's JSON logs go to {demo.daemon.log}.")


def step_pairs_arrive(demo: Demo) -> None:
    """Wait until the start-up reconcile has created every pair at the sandbox."""
    say("3. The start-up reconcile creates each SKU and its inventory item at Digital River ...")
    with demo.api() as api:

        def count() -> int | None:
            n = len(api.get("/skus", params={"limit": 100}).json()["data"])
            return n if n and _last_run(demo) is not None else None

        started = time.monotonic()
        skus = wait_until(count, timeout=60, interval=0.2, what="the start-up reconcile")
    say(f"   {skus} SKUs are now at the sandbox ({time.monotonic() - started:.1f}s).")


def step_change_row(demo: Demo) -> None:
    """Change one row with write-then-rename and time how long until the sandbox has it."""
    file, pair_id, column, value = DEMO_ROW
    path = demo.workdir / "catalogs" / file
    say(f"4. Renaming {pair_id} to {value!r} in {file}, the documented safe way:")
    say("   write the new file under a temporary name, then rename it over the old one.")
    with demo.api() as api:
        started = time.monotonic()
        replace_row(path, pair_id, column, value)

        def applied() -> bool:
            return bool(api.get(f"/skus/{pair_id}").json().get(column) == value)

        wait_until(applied, timeout=10, what=f"{pair_id} to be updated")
    elapsed = time.monotonic() - started
    run = wait_until(lambda: _last_run(demo, kind="watch"), timeout=10, what="the watch run")
    say(
        f"   Digital River had the change {elapsed * 1000:.0f} ms later; the daemon's run "
        f"made {run.counts.get('write_calls')} write call(s):"
    )
    say("   only the changed pair was planned and written, not the whole catalog.")


def step_orders(demo: Demo) -> None:
    """Orders: the money plan first, the distributed-model handlers, a merchant fulfilment."""
    daemon = demo.daemon
    assert daemon is not None
    say("5. Orders. The sandbox plays the storefront, the fulfiller and the payment side.")
    say("   The daemon is stopped for a moment, so we can see what it would do before it does.")
    daemon.stop()
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 1))

    def plan_then_start() -> None:
        say(f"   $ catalog-sync events plan --since {since}")
        for line in _command(demo, "events", "plan", "--since", since).splitlines():
            say(f"   | {line}")
        say("   Nothing was sent. The daemon starts again and does exactly that:")
        daemon.start()

    run_cli = subprocess_cli(daemon.env)
    orders = run_order_demo(
        demo.base_url,
        demo.api_key,
        run_cli,
        lambda text: say(f"   {text}".rstrip()),
        placed=plan_then_start,
    )
    digital = orders.digital_only
    say("   Digital goods are delivered by the merchant, who tells catalog-sync to fulfil:")
    say(f"   $ catalog-sync orders fulfill {digital}")
    for line in (run_cli(["orders", "fulfill", digital]) or "").splitlines():
        say(f"   | {line}")

    def completed() -> bool:
        shown = run_cli(["orders", "show", digital])
        return shown is not None and "Completed" in shown

    wait_until(completed, timeout=30, interval=0.3, what="the merchant fulfilment")
    say("   The daemon's request transmitter captured it within seconds:")
    say(f"   $ catalog-sync orders show {digital}")
    for line in (run_cli(["orders", "show", digital]) or "").splitlines():
        say(f"   | {line}")


def step_status(demo: Demo) -> None:
    """Show ``catalog-sync status`` and where the HTML report is."""
    say("6. `catalog-sync status` reads the state database (it works while the daemon runs):")
    for line in _command(demo, "status").splitlines():
        say(f"   | {line}")
    say(f"   Open {demo.workdir / 'reports' / 'latest.html'} in a browser for the full report.")


def step_orders_audit(demo: Demo) -> None:
    """End with the orders audit: every order compared with Digital River's own records."""
    say("7. The orders audit compares each order with what Digital River holds (shipments,")
    say("   captures, cancels, fulfillment orders); the daemon runs it hourly. With no grace")
    say("   period, right now:")
    say("   $ catalog-sync orders audit --dry-run")
    for line in _command(demo, "orders", "audit", "--dry-run", grace="0").splitlines():
        say(f"   | {line}")


def _command(demo: Demo, *args: str, grace: str | None = None) -> str:
    """``catalog-sync ARGS`` with the daemon's environment: its standard output, whatever its
    exit code (``events plan`` exits 2 when it lists writes)."""
    assert demo.daemon is not None
    env = dict(demo.daemon.env)
    if grace is not None:
        env["CATALOG_SYNC_ORDERS_AUDIT_GRACE"] = grace
    result = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "catalog_sync", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout


def step_wait(demo: Demo) -> None:
    """Keep running until Ctrl-C (skipped with ``--once``)."""
    if demo.once:
        say("8. --once: stopping now.")
        return
    say("8. Everything keeps running: edit a file in the catalogs folder above and watch the")
    say("   daemon's log. Press Ctrl-C to stop the daemon and the sandbox.")
    with contextlib.suppress(KeyboardInterrupt):
        signal.pause()


STEPS: Final = (
    step_start_sandbox,
    step_start_daemon,
    step_pairs_arrive,
    step_change_row,
    step_orders,
    step_status,
    step_orders_audit,
    step_wait,
)


def _last_run(demo: Demo, kind: str | None = None) -> RunRecord | None:
    """The newest finished run (of ``kind``) in the daemon's state database."""
    state = demo.workdir / "state" / "catalog-sync.db"
    if not state.exists():
        return None
    with open_state(state) as store:
        run = store.last_run()
    return run if run is not None and kind in (None, run.kind) else None


def stop_all(demo: Demo) -> None:
    """Stop the daemon then the sandbox, each with SIGTERM, and wait for both."""
    if demo.daemon is not None and demo.daemon.process is not None:
        code = demo.daemon.stop()
        say(f"Stopped the daemon (exit code {code}).")
    if demo.sandbox is not None:
        demo.sandbox.send_signal(signal.SIGTERM)
        demo.sandbox.wait(30)
        say("Stopped the sandbox.")


def main(argv: Sequence[str] | None = None) -> int:
    """Run every step; always stop what was started."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--once", action="store_true", help="do the steps, then stop and exit")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="empty folder to work in (default: a new one)"
    )
    args = parser.parse_args(argv)
    # Kept after the demo, so the reports it points to can still be opened.
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="catalog-sync-demo-"))
    demo = Demo(workdir, once=args.once)
    say(f"catalog-sync demo (work folder {workdir})")
    try:
        for step in STEPS:
            step(demo)
    finally:
        stop_all(demo)
    return 0


if __name__ == "__main__":
    sys.exit(main())
