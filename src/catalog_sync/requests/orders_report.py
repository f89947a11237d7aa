"""``orders report``: one self-contained HTML page of orders, their lines and request logs.

The page is for people (an operator following merchant requests); scripts use ``orders show
--json``. Both read the request log through ``request_log.order_requests``, so they agree.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from catalog_sync.core.merchant_requests import REQUEST_STATUSES
from catalog_sync.core.orders import line_quantities
from catalog_sync.requests.log import order_requests
from catalog_sync.state import StateBackend
from catalog_sync.support.files import write_atomically
from catalog_sync.support.templating import environment

LATEST: Final = "orders-latest.html"


def orders_view(store: StateBackend, *, limit: int) -> list[dict[str, Any]]:
    """Return the orders the page shows (most recently changed first), as plain data."""
    found = store.list_orders(limit=limit)
    ledgers = store.ledgers(o.order_id for o in found)
    view = []
    for order in found:
        intents = [e.intent for e in ledgers.get(order.order_id, [])]
        lines = [
            {
                "line_id": line.line_id,
                "sku_id": line.sku_id,
                "kind": "physical" if line.physical else "digital",
                **asdict(line_quantities(line, intents)),
            }
            for line in order.lines
        ]
        view.append(
            {"order_id": order.order_id, "state": order.state, "lines": lines}
            | order_requests(store, order)
        )
    return view


def render_orders(orders: list[dict[str, Any]], generated: datetime) -> str:
    """Return the page's HTML."""
    counts = dict.fromkeys(REQUEST_STATUSES, 0)
    for order in orders:
        for request in order["requests"]:
            counts[request["status"]] += 1
    return environment.get_template("orders.html.j2").render(
        orders=orders, counts=counts, generated=generated.strftime("%Y-%m-%d %H:%M:%S UTC")
    )


def write_orders_report(
    store: StateBackend, directory: Path, generated: datetime, *, limit: int = 500
) -> Path:
    """Write ``orders-<time>.html`` and ``orders-latest.html`` (each written then renamed)."""
    directory.mkdir(parents=True, exist_ok=True)
    html = render_orders(orders_view(store, limit=limit), generated)
    path = directory / f"orders-{generated.strftime('%Y%m%dT%H%M%S')}.html"
    for target in (path, directory / LATEST):
        write_atomically(target, [html], private=False)
    return path
