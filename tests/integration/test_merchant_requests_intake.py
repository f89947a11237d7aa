"""Request file intake as the merchant meets it: secrets never echoed, quantities never implied,
request ids as idempotency keys, and hostile files that never stop ``orders transmit``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from tests.integration.fulfillment_helpers import (
    dr_fulfillments,
    line_totals,
)
from tests.integration.merchant_helpers import digital_order, drop, log, transmit

from catalog_sync.cli import main
from catalog_sync.requests.transmitter import PROCESSED, REJECTED, RequestTransmitter
from catalog_sync.sandbox.testing import RunningSandbox

HEADER = "orderId,itemId,action,quantity\n"


@pytest.fixture
def env(tmp_path: Path, sandbox: RunningSandbox) -> dict[str, str]:
    """Settings pointing at the sandbox and at folders under ``tmp_path``."""
    return {
        "CATALOG_SYNC_API_BASE": sandbox.base_url,
        "CATALOG_SYNC_API_KEY": sandbox.api_key,
        "CATALOG_SYNC_RATE_LIMIT": "1000",
        "CATALOG_SYNC_STATE": str(tmp_path / "state" / "state.db"),
        "CATALOG_SYNC_REPORTS": str(tmp_path / "reports"),
        "CATALOG_SYNC_REQUESTS": str(tmp_path / "requests"),
        "CATALOG_SYNC_SETTLE_MS": "0",
    }


def transmit_cli(env: dict[str, str]) -> Result:
    """``catalog-sync orders transmit``, in-process, stdout and stderr kept apart."""
    return CliRunner().invoke(main, ["orders", "transmit"], env=env, catch_exceptions=False)


def everything_written(tmp_path: Path, result: Result) -> str:
    """All catalog-sync wrote: stdout, stderr (logs), errors files, the state database.

    The merchant's own files (the key file, the request files moved aside) are left out.
    """
    requests = tmp_path / "requests"
    files = [
        p.read_bytes().decode("utf-8", "replace")
        for p in sorted(tmp_path.rglob("*"))
        if p.is_file()
        and not p.is_symlink()
        and p.name != "api-key"
        and p.parent not in {requests / REJECTED, requests / PROCESSED}
    ]
    return "\n".join([result.stdout, result.stderr, *files])


# -- secrets and other files are never disclosed ----------------------------------------------
def test_a_link_to_the_key_file_never_discloses_the_key(
    env: dict[str, str], tmp_path: Path, sandbox: RunningSandbox
) -> None:
    """``requests/k.csv -> the key file``: rejected as a link; the key is nowhere to be read."""
    key_file = tmp_path / "api-key"
    key_file.write_text(f"{sandbox.api_key}\n", encoding="utf-8")
    requests = tmp_path / "requests"
    requests.mkdir()
    for name in ("k.csv", "k.json"):
        (requests / name).symlink_to(key_file)
    by_file = {k: v for k, v in env.items() if k != "CATALOG_SYNC_API_KEY"}
    result = transmit_cli(by_file | {"CATALOG_SYNC_API_KEY_FILE": str(key_file)})
    assert result.exit_code == 0
    assert sandbox.api_key not in everything_written(tmp_path, result)
    assert "k.csv:1: is a symbolic link" in result.stdout
    assert "requests.file" in result.stderr  # the logs were written, and read above


def test_a_link_to_a_system_file_echoes_none_of_it(env: dict[str, str], tmp_path: Path) -> None:
    """``requests/p.csv -> /etc/passwd``: rejected by name, not one line of it shown."""
    requests = tmp_path / "requests"
    requests.mkdir()
    (requests / "p.csv").symlink_to("/etc/passwd")
    first_line = Path("/etc/passwd").read_text(encoding="utf-8").splitlines()[0]
    result = transmit_cli(env)
    assert first_line[:8] not in everything_written(tmp_path, result)
    assert (requests / REJECTED / "p.csv").is_symlink()


def test_a_copy_of_the_key_in_a_request_file_is_shown_redacted(
    env: dict[str, str], tmp_path: Path, sandbox: RunningSandbox
) -> None:
    """A regular file holding the key: its unknown column is shown as ``[redacted]`` only."""
    drop(tmp_path / "requests", "k.csv", f"{sandbox.api_key}\n")
    result = transmit_cli(env)
    assert sandbox.api_key not in everything_written(tmp_path, result)
    assert "k.csv:1: unknown column(s) '[redacted]'" in result.stdout
    errors = json.loads((tmp_path / "requests" / "k.csv.errors.json").read_text())
    assert [e["text"] for e in errors["errors"]] == ["k.csv:1: unknown column(s) '[redacted]'"]


def test_the_key_as_an_order_id_is_redacted_in_the_refusal(
    env: dict[str, str], tmp_path: Path, sandbox: RunningSandbox
) -> None:
    """A key pasted where an order id goes is refused without being quoted back."""
    drop(tmp_path / "requests", "o.csv", f"orderId,action,quantity\n{sandbox.api_key},cancel,all\n")
    result = transmit_cli(env)
    assert sandbox.api_key not in everything_written(tmp_path, result)
    assert "o.csv:2: request: order [redacted] is not known here" in result.stdout


# -- one bad file is rejected on its own --------------------------------------------------------
async def test_the_daemon_pass_goes_on_past_hostile_files(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """Huge numbers, a name at the length limit, a FIFO: each is rejected, the good one sent."""
    async with digital_order(sandbox, tmp_path, quantity=3) as scene:
        e, settings, requests, order_id, line = scene
        huge = "9" * 5000
        drop(
            requests,
            "a.json",
            f'[{{"orderId": "{order_id}", "action": "cancel", "quantity": {huge}}}]',
        )
        (requests / ("b" * 251 + ".csv")).write_text(f"{HEADER}{order_id},{line},cancel,{huge}\n")
        drop(requests, "c.json", f'[{{"orderId": {huge}, "action": "cancel", "quantity": "all"}}]')
        os.mkfifo(requests / "d.csv")
        drop(requests, "z.csv", f"{HEADER}{order_id},{line},cancel,1\n")
        service = RequestTransmitter(settings.merchant_requests, e.store, e.handler)
        service.intake()
        assert sorted(p.name for p in (requests / REJECTED).iterdir()) == [
            "a.json",
            "b" * 251 + ".csv",
            "c.json",
            "d.csv",
        ]
        assert [r["source"] for r in log(e, order_id)["requests"]] == ["z.csv:2"]
        await transmit(e, settings)
    assert line_totals(dr_fulfillments(sandbox, order_id)) == {line: (0, 1)}


# -- quantity: said explicitly, never implied ----------------------------------------------------
async def test_a_blank_quantity_cancels_nothing(sandbox: RunningSandbox, tmp_path: Path) -> None:
    """A row renamed in before its quantity was written is refused; every unit stays open."""
    async with digital_order(sandbox, tmp_path, quantity=2) as scene:
        e, settings, requests, order_id, line = scene
        drop(requests, "half.csv", f"{HEADER}{order_id},{line},cancel,\n")
        result = await transmit(e, settings)
        assert [(f.outcome, [str(p) for p in f.problems]) for f in result.files] == [
            (
                REJECTED,
                [
                    (
                        "half.csv:2: quantity: required, blank here: a whole number,"
                        " or all for every open unit"
                    )
                ],
            )
        ]
        assert log(e, order_id)["requests"] == []
    assert dr_fulfillments(sandbox, order_id) == []


async def test_all_cancels_every_open_unit(sandbox: RunningSandbox, tmp_path: Path) -> None:
    """``quantity`` = ``ALL`` (any case) is how a file asks for every open unit."""
    async with digital_order(sandbox, tmp_path, quantity=2) as scene:
        e, settings, requests, order_id, line = scene
        drop(requests, "all.csv", f"{HEADER}{order_id},{line},cancel,ALL\n")
        await transmit(e, settings)
    assert line_totals(dr_fulfillments(sandbox, order_id)) == {line: (0, 2)}


# -- request ids ---------------------------------------------------------------------------------
async def test_the_same_bytes_under_a_new_name_are_a_new_request(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """Without ``requestId``, "cancel 1" dropped again under another name cancels one more."""
    async with digital_order(sandbox, tmp_path, quantity=3) as scene:
        e, settings, requests, order_id, line = scene
        text = f"{HEADER}{order_id},{line},cancel,1\n"
        drop(requests, "first.csv", text)
        await transmit(e, settings)
        drop(requests, "second.csv", text)
        result = await transmit(e, settings)
        assert [(f.outcome, f.accepted) for f in result.files] == [("processed", 1)]
    assert line_totals(dr_fulfillments(sandbox, order_id)) == {line: (0, 2)}


async def test_a_request_id_sent_again_is_refused_as_a_duplicate(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """The same ``requestId`` in another file (another name, other bytes) is not applied again."""
    async with digital_order(sandbox, tmp_path, quantity=3) as scene:
        e, settings, requests, order_id, line = scene
        head = "requestId,orderId,itemId,action,quantity,reason\n"
        drop(requests, "one.csv", f"{head}shop-7,{order_id},{line},cancel,1,first\n")
        await transmit(e, settings)
        drop(requests, "two.csv", f"{head}shop-7,{order_id},{line},cancel,1,again\n")
        result = await transmit(e, settings)
        ((problem,),) = [f.problems for f in result.files]
        assert str(problem).startswith(
            "two.csv:2: request: request shop-7 was already accepted (from one.csv:2 at "
        )
        assert [r["request_id"] for r in log(e, order_id)["requests"]] == ["shop-7"]
    assert line_totals(dr_fulfillments(sandbox, order_id)) == {line: (0, 1)}


async def test_distinct_request_ids_in_one_file_are_distinct_requests(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """Two identical rows with their own ``requestId`` are two requests; a repeated id is one."""
    async with digital_order(sandbox, tmp_path, quantity=5) as scene:
        e, settings, requests, order_id, line = scene
        rows = [
            {
                "requestId": rid,
                "orderId": order_id,
                "itemId": line,
                "action": "cancel",
                "quantity": 1,
            }
            for rid in ("a-1", "a-2", "a-1")
        ]
        drop(
            requests,
            "ids.json",
            json.dumps(rows, indent=1).replace("{\n  ", "{").replace(",\n  ", ", "),
        )
        result = await transmit(e, settings)
        assert [(f.accepted, len(f.problems)) for f in result.files] == [(2, 1)]
    assert line_totals(dr_fulfillments(sandbox, order_id)) == {line: (0, 2)}
