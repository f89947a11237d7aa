"""``orders fulfill | cancel | retry --transmit``: recorded always, sent only under the lock."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from tests.integration.fulfillment_helpers import (
    DIGITAL,
    dr_fulfillments,
    edge,
    edge_settings,
    line_totals,
    make_catalog,
)
from tests.integration.merchant_helpers import line_ids, recorded_order

from catalog_sync.cli import main
from catalog_sync.daemon.instance_lock import DAEMON_COMMAND, InstanceLock
from catalog_sync.sandbox.testing import RunningSandbox


def invoke(env: dict[str, str], *args: str) -> Result:
    """Run ``catalog-sync ARGS`` in this process (the lock is per open file, so a lock held
    by the test is held against the command as another process's would be)."""
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.fixture
def env(tmp_path: Path, sandbox: RunningSandbox) -> dict[str, str]:
    """Settings pointing at the sandbox and at folders under ``tmp_path``."""
    return {
        "CATALOG_SYNC_API_BASE": sandbox.base_url,
        "CATALOG_SYNC_API_KEY": sandbox.api_key,
        "CATALOG_SYNC_RATE_LIMIT": "1000",
        "CATALOG_SYNC_STATE": str(tmp_path / "state.db"),
        "CATALOG_SYNC_REPORTS": str(tmp_path / "reports"),
        "CATALOG_SYNC_REQUESTS": str(tmp_path / "requests"),
    }


@pytest.fixture
def digital_line(sandbox: RunningSandbox, tmp_path: Path) -> tuple[str, str]:
    """A recorded order with one digital line of 3: (order id, line id)."""
    make_catalog(sandbox)

    async def record() -> tuple[str, str]:
        async with edge(edge_settings(sandbox, tmp_path)) as e:
            order_id = await recorded_order(e, sandbox, [{"skuId": DIGITAL, "quantity": 3}])
            return order_id, line_ids(e, order_id)[0]

    return asyncio.run(record())


def _fulfil_two(env: dict[str, str], order_id: str, line: str) -> Result:
    return invoke(
        env, "orders", "fulfill", order_id, "--item", line, "--quantity", "2", "--transmit"
    )


def test_with_no_other_process_the_command_sends_it_itself(
    env: dict[str, str], digital_line: tuple[str, str], sandbox: RunningSandbox
) -> None:
    """No daemon, no other command: ``--transmit`` takes the lock and sends at once."""
    order_id, line = digital_line
    result = _fulfil_two(env, order_id, line)
    assert result.exit_code == 0
    assert "1 write(s) sent" in result.output
    assert line_totals(dr_fulfillments(sandbox, order_id)) == {line: (2, 0)}


def test_beside_another_command_it_is_recorded_and_left_for_later(
    env: dict[str, str], digital_line: tuple[str, str], sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """Another command holds the state: exit 0 (it is recorded), nothing is sent, and the
    output names that command; a later ``orders transmit`` sends it."""
    order_id, line = digital_line
    with InstanceLock(tmp_path / "state.db", command="events poll --loop"):
        result = _fulfil_two(env, order_id, line)
        assert dr_fulfillments(sandbox, order_id) == []
    assert result.exit_code == 0
    assert "fulfill 2 of line" in result.output
    assert "not transmitted here: another command (catalog-sync events poll --loop" in (
        result.output
    )
    assert invoke(env, "orders", "transmit").exit_code == 0
    assert line_totals(dr_fulfillments(sandbox, order_id)) == {line: (2, 0)}


def test_beside_the_daemon_it_is_recorded_and_left_to_the_daemon(
    env: dict[str, str], digital_line: tuple[str, str], sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """The daemon holds the state: exit 0, nothing sent by the command, the daemon named."""
    order_id, line = digital_line
    with InstanceLock(tmp_path / "state.db", command=DAEMON_COMMAND):
        result = _fulfil_two(env, order_id, line)
        assert dr_fulfillments(sandbox, order_id) == []
    assert result.exit_code == 0
    assert "not transmitted here: the daemon (catalog-sync run, pid" in result.output
    assert "sends it within seconds" in result.output
