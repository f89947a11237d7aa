"""Request files dropped into ``requests/`` and the ``requests`` service."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

from tests.integration.fulfillment_helpers import (
    DIGITAL,
    dr_fulfillments,
    edge,
    edge_settings,
    line_totals,
    make_catalog,
)
from tests.integration.merchant_helpers import (
    digital_order,
    drop,
    line_statuses,
    recorded_order,
    transmit,
)

from catalog_sync.requests.transmitter import REJECTED, RequestTransmitter
from catalog_sync.sandbox.testing import RunningSandbox
from catalog_sync.support.metrics import Metrics


async def test_file_with_one_bad_row(sandbox: RunningSandbox, tmp_path: Path) -> None:
    """Good rows are applied, the bad one is written back with file:line, the file moves."""
    async with digital_order(sandbox, tmp_path, quantity=5) as scene:
        e, settings, requests, order_id, line = scene
        drop(
            requests,
            "batch.csv",
            "orderId,itemId,action,quantity,trackingNumber\n"
            f"{order_id},{line},fulfill,2,T-9\n"
            f"{order_id},{line},ship,1,\n"
            f"{order_id},{line},cancel,1,\n",
        )
        result = await transmit(e, settings)
        assert [(f.name, f.outcome, f.accepted) for f in result.files] == [
            ("batch.csv", "processed", 2)
        ]
        assert [s for _r, _l, s in line_statuses(e, order_id)] == ["Completed", "Completed"]
    errors = json.loads((requests / "batch.csv.errors.json").read_text())
    assert [e["text"] for e in errors["errors"]] == [
        "batch.csv:3: action: 'ship' is neither fulfill nor cancel"
    ]
    assert (requests / "processed" / "batch.csv").exists()
    assert not (requests / "batch.csv").exists()
    assert line_totals(dr_fulfillments(sandbox, order_id)) == {line: (2, 1)}


async def test_file_with_no_acceptable_row_is_rejected(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """A refused request (over quantity) is reported; with nothing accepted the file is rejected."""
    async with digital_order(sandbox, tmp_path, quantity=1) as scene:
        e, settings, requests, order_id, line = scene
        rows = [{"orderId": order_id, "itemId": line, "action": "cancel", "quantity": 4}]
        drop(requests, "late.json", json.dumps(rows))
        await transmit(e, settings)
        assert e.store.requests_of(order_id) == []
    (problem,) = json.loads((requests / "late.json.errors.json").read_text())["errors"]
    assert problem["text"].startswith("late.json:1: request: line")
    assert (requests / "rejected" / "late.json").exists()


async def test_same_file_dropped_again_is_not_applied_twice(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """A file already processed (same name and content) is only moved away."""
    text = ""
    async with digital_order(sandbox, tmp_path, quantity=4) as scene:
        e, settings, requests, order_id, line = scene
        text = f"orderId,itemId,action,quantity\n{order_id},{line},fulfill,1\n"
        drop(requests, "once.csv", text)
        await transmit(e, settings)
        drop(requests, "once.csv", text)
        again = await transmit(e, settings)
        assert [(f.outcome, f.accepted) for f in again.files] == [("processed", 0)]
        assert len(e.store.requests_of(order_id)) == 1
    assert line_totals(dr_fulfillments(sandbox, order_id)) == {line: (1, 0)}


async def test_service_sends_a_dropped_request_within_seconds(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """With the daemon's handler running, a dropped file's request completes in seconds."""
    make_catalog(sandbox)
    requests = tmp_path / "requests"
    settings = edge_settings(sandbox, tmp_path, requests=requests, settle_ms=50)
    async with edge(settings) as e:
        order_id = await recorded_order(e, sandbox, [{"skuId": DIGITAL, "quantity": 2}])
        metrics = Metrics()
        service = RequestTransmitter(
            settings.merchant_requests, e.store, e.handler, metrics=metrics
        )
        stop = asyncio.Event()
        tasks = [asyncio.create_task(s.run(stop)) for s in (service, e.handler)]
        row = {"orderId": order_id, "action": "fulfill", "quantity": "all"}
        drop(requests, "now.json", json.dumps([row]))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5.0
        while service.status_line() != "0 requests open, 1 files processed":
            assert loop.time() < deadline, "the request was not sent within 5 seconds"
            await asyncio.sleep(0.02)  # polls the condition; the deadline bounds it
        stop.set()
        await asyncio.gather(*tasks)
        assert [s for _r, _l, s in line_statuses(e, order_id)] == ["Completed"]
        assert b"catalog_sync_request_queue_depth 0.0" in metrics.render()


# -- a reload reaches the service ----------------------------------------------------------------
async def test_a_shorter_settle_time_takes_a_waiting_file_at_the_next_pass(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """A file held back by an hour's settle time is taken once the settle time drops to 0."""
    requests = tmp_path / "requests"
    settings = edge_settings(sandbox, tmp_path, requests=requests, settle_ms=3_600_000)
    async with edge(settings) as e:
        service = RequestTransmitter(settings.merchant_requests, e.store, e.handler)
        dropped = drop(requests, "wait.csv", "orderId,action,quantity\nnone,cancel,all\n")
        service.intake()
        held = dropped.exists()
        service.reconfigure(replace(settings.merchant_requests, settle_ms=0))
        service.intake()
    assert (held, dropped.exists()) == (True, False)


async def test_a_lower_size_limit_rejects_the_next_file_unread(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """After ``request_max_bytes`` drops, a file over the new limit is rejected with it named."""
    requests = tmp_path / "requests"
    settings = edge_settings(sandbox, tmp_path, requests=requests, settle_ms=0)
    async with edge(settings) as e:
        service = RequestTransmitter(settings.merchant_requests, e.store, e.handler)
        service.reconfigure(replace(settings.merchant_requests, max_bytes=64))
        drop(requests, "big.csv", "orderId,action,quantity\n" + "none,cancel,all\n" * 10)
        service.intake()
    errors = (requests / "big.csv.errors.json").read_text(encoding="utf-8")
    assert (requests / REJECTED / "big.csv").exists()
    assert "larger than the 64-byte limit (setting request_max_bytes)" in errors
