"""``orders list | show``: each order's lines, writes and history as our ledger knows them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from catalog_sync.cli import main
from catalog_sync.cli.common import EXIT_FAILED, config_option, fail, handle_errors, settings_from
from catalog_sync.core.orders import line_quantities, to_json
from catalog_sync.state import StateStore


@main.group()
def orders() -> None:
    """Orders seen through Digital River events (distributed model)."""


@orders.command("list")
@click.option("--state", default=None, help="Only orders in this state (e.g. complete).")
@click.option("--limit", type=int, default=100, show_default=True)
@config_option
@handle_errors
def list_orders(state: str | None, limit: int, config_file: Path | None) -> None:
    """Orders, most recently changed first: state, lines, units fulfilled / cancelled / open."""
    with StateStore(settings_from(config_file).state) as store:
        found = store.list_orders(state, limit=limit)
        ledgers = store.ledgers(o.order_id for o in found)
    for order in found:
        intents = [e.intent for e in ledgers.get(order.order_id, [])]
        qs = [line_quantities(line, intents) for line in order.lines]
        click.echo(
            f"{order.order_id}  {order.state:<20} lines={len(order.lines)}"
            f" units={sum(q.quantity for q in qs)} fulfilled={sum(q.fulfilled for q in qs)}"
            f" cancelled={sum(q.cancelled for q in qs)} open={sum(q.open for q in qs)}"
        )


@orders.command("show")
@click.argument("order_id")
@click.option("--json", "as_json", is_flag=True, help="Everything as one JSON object.")
@config_option
@handle_errors
def show(order_id: str, as_json: bool, config_file: Path | None) -> None:
    """One order: lines, fulfillment order, shipments, captures and cancels, history."""
    with StateStore(settings_from(config_file).state) as store:
        detail = order_detail(store, order_id)
    if detail is None:
        fail(f"order {order_id} is not known here (no event about it was handled)", EXIT_FAILED)
    if as_json:
        click.echo(json.dumps(detail, indent=2, sort_keys=True))
        return
    click.echo(render(detail))


def order_detail(store: StateStore, order_id: str) -> dict[str, Any] | None:
    """Return what ``orders show`` prints, as JSON-ready data (None for an unknown order)."""
    order = store.order(order_id)
    if order is None:
        return None
    ledger = store.ledger(order_id)
    intents = [e.intent for e in ledger]
    lines = []
    for line in order.lines:
        q = line_quantities(line, intents)
        lines.append(
            {
                "line_id": line.line_id,
                "sku_id": line.sku_id,
                "kind": "physical" if line.physical else "digital",
                "quantity": q.quantity,
                "open": q.open,
                "fulfilled": q.fulfilled,
                "cancelled": q.cancelled,
                "capturing": q.capturing,
                "cancelling": q.cancelling,
                "fulfiller_state": line.fo_state,
                "fulfillment_order_line": line.fo_item_id,
            }
        )
    writes: list[dict[str, Any]] = [
        {
            "key": e.intent.key,
            "kind": e.intent.kind,
            "status": "parked" if e.parked else e.intent.status,
            "reference": e.reference,
            "attempts": e.attempts,
            "last_error": e.last_error,
            "body": e.intent.body,
        }
        for e in ledger
    ]
    shipments = [
        {
            "shipment_id": w["body"].get("shipmentId"),
            "tracking_company": w["body"].get("trackingCompany"),
            "tracking_number": w["body"].get("trackingNumber"),
            "tracking_url": w["body"].get("trackingUrl"),
            "items": [
                {"line_id": i.get("itemId"), "quantity": i.get("quantity")}
                for i in w["body"].get("items", [])
            ],
            "capture": w["status"],
        }
        for w in writes
        if w["kind"] == "capture" and w["body"].get("shipmentId")
    ]
    return {
        "order_id": order.order_id,
        "state": order.state,
        "currency": order.currency,
        "fulfillment_order_id": order.fulfillment_order_id,
        "capture_failures": list(order.capture_failures),
        "lines": lines,
        "shipments": shipments,
        "writes": writes,
        "history": [
            {"time": h.time, "event_id": h.event_id, "summary": h.summary}
            for h in store.history(order_id)
        ],
        "snapshot": to_json(order),
    }


def render(detail: dict[str, Any]) -> str:
    """Return the human form of :func:`order_detail`."""
    out = [
        f"order {detail['order_id']}  state={detail['state']}  currency={detail['currency']}",
        f"fulfillment order: {detail['fulfillment_order_id'] or '-'}",
        "lines:",
    ]
    out.extend(
        f"  {x['line_id']}  {x['sku_id']:<16} {x['kind']:<8} qty={x['quantity']} open={x['open']}"
        f" fulfilled={x['fulfilled']} cancelled={x['cancelled']}"
        f" fulfiller={x['fulfiller_state'] or '-'}"
        for x in detail["lines"]
    )
    out.append("shipments:")
    out.extend(
        f"  {s['shipment_id']}  {s['tracking_company'] or '-'} {s['tracking_number'] or '-'}"
        f" {s['tracking_url'] or ''}  items="
        + ",".join(f"{i['line_id']}x{i['quantity']}" for i in s["items"])
        + f"  capture={s['capture']}"
        for s in detail["shipments"]
    )
    out.append("captures and cancels:")
    out.extend(
        f"  {w['kind']:<24} {w['key']}  {w['status']}  {w['reference'] or ''}"
        + (f"  error: {w['last_error']}" if w["last_error"] else "")
        for w in detail["writes"]
    )
    if detail["capture_failures"]:
        out.append(f"capture failures: {', '.join(detail['capture_failures'])}")
    out.append("history:")
    out.extend(f"  {h['time']}  {h['summary']}" for h in detail["history"])
    return "\n".join(out)
