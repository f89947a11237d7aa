"""The orders demo runs end to end against the sandbox and ``events poll --loop``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.integration.fulfillment_helpers import (
    dr_fulfillments,
    events_poll_loop,
    line_totals,
    make_catalog,
)

from catalog_sync.cli import main
from catalog_sync.demo.orders import RunCli, run_order_demo, subprocess_cli
from catalog_sync.demo.testing import daemon_env
from catalog_sync.sandbox.testing import RunningSandbox


@pytest.fixture
def env(sandbox: RunningSandbox, tmp_path: Path) -> dict[str, str]:
    """The environment of a daemon in ``tmp_path``, polling events every 0.2 s."""
    return daemon_env(
        base_url=sandbox.base_url,
        api_key=sandbox.api_key,
        workdir=tmp_path,
        extra={"CATALOG_SYNC_POLL_INTERVAL": "0.2"},
    )


@pytest.fixture
def poller(env: dict[str, str], tmp_path: Path) -> Iterator[None]:
    """``catalog-sync events poll --loop`` in a child process, stopped with SIGTERM."""
    with events_poll_loop(env, tmp_path / "poll.log"):
        yield


def in_process_cli(env: dict[str, str]) -> RunCli:
    """``catalog-sync ARGS`` in this process: the same commands, without a start-up each."""

    def run(args: Sequence[str]) -> str | None:
        result = CliRunner().invoke(main, list(args), env=env)
        return result.stdout if result.exit_code == 0 else None

    return run


def test_order_demo_ships_in_two_parts_cancels_part_and_shows_it(
    sandbox: RunningSandbox, env: dict[str, str], poller: None
) -> None:
    """Each step is handled (checked at the sandbox) and the output shows list and show."""
    del poller
    make_catalog(sandbox)
    said: list[str] = []
    orders = run_order_demo(sandbox.base_url, sandbox.api_key, in_process_cli(env), said.append)
    shipped = line_totals(dr_fulfillments(sandbox, orders.shipped_in_two_parts))
    cancelled = line_totals(dr_fulfillments(sandbox, orders.partly_cancelled))
    assert sorted(shipped.values()) == [(3, 0)]
    assert sorted(cancelled.values()) == [(0, 1)]
    text = "\n".join(said)
    assert "$ catalog-sync orders list" in text
    assert f"$ catalog-sync orders show {orders.shipped_in_two_parts}" in text
    assert "1Z-DEMO-PART-2" in text
    assert orders.digital_only in text


def test_subprocess_cli_returns_none_when_the_command_fails(env: dict[str, str]) -> None:
    """A failing command is ``None``, so the demo's waits keep probing."""
    assert subprocess_cli(env)(["orders", "show", "unknown"]) is None
