"""``orders list | show | report`` and merchant requests: ``fulfill | cancel | retry | transmit``.

Each order's lines, writes and history as our ledger knows them, and the merchant's own fulfil
/ cancel requests: recorded at once, sent by the daemon (or ``orders transmit``).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import click

from catalog_sync.cli import main
from catalog_sync.cli.common import (
    EXIT_FAILED,
    as_utc,
    config_option,
    fail,
    handle_errors,
    run_async,
    settings_from,
    setup_logging,
    since_option,
)
from catalog_sync.cli.events import wired
from catalog_sync.core.merchant_requests import Action, MerchantRequest, RequestRefusedError
from catalog_sync.core.orders import line_quantities, to_json
from catalog_sync.core.request_files import ALL, MAX_QUANTITY
from catalog_sync.daemon.instance_lock import AlreadyRunningError, InstanceLock
from catalog_sync.fulfillment.orders_audit import AuditResult, OrdersAudit
from catalog_sync.requests.log import (
    Source,
    new_request_id,
    order_requests,
    render_requests,
    retry_order,
    submit_request,
)
from catalog_sync.requests.orders_report import write_orders_report
from catalog_sync.requests.transmitter import PassResult, RequestTransmitter
from catalog_sync.state import StateBackend, open_state
from catalog_sync.support.clock import now_stamp, utc_clock
from catalog_sync.support.settings import Settings


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
    with open_state(settings_from(config_file)) as store:
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
    """One order: lines, fulfillment order, shipments, captures and cancels, history, requests."""
    with open_state(settings_from(config_file)) as store:
        detail = order_detail(store, order_id)
        if detail is not None:
            detail |= request_section(store, order_id)
    if detail is None:
        fail(f"order {order_id} is not known here (no event about it was handled)", EXIT_FAILED)
    if as_json:
        click.echo(json.dumps(detail, indent=2, sort_keys=True))
        return
    click.echo(render(detail))
    click.echo("\n".join(render_requests(detail)))


def order_detail(store: StateBackend, order_id: str) -> dict[str, Any] | None:
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
    out.extend(
        f"  {h['time']}  {h['summary']}" + (f"  (event {h['event_id']})" if h["event_id"] else "")
        for h in detail["history"]
    )
    return "\n".join(out)


# -- merchant requests ----------------------------------------------------------------------
def request_section(store: StateBackend, order_id: str) -> dict[str, Any]:
    """Return the request status and request log ``orders show`` adds to an order."""
    order = store.order(order_id)
    return {} if order is None else order_requests(store, order)


class _Quantity(click.ParamType[int | None, object]):
    """``--quantity``: a whole number of units, or ``all`` (any case) for every open unit.

    The same words as a request file's ``quantity``, so a script can pass either through.
    """

    name = "N|all"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> int | None:
        """Return the units asked for, or None for ``all``."""
        text = "" if value is None else str(value).strip()
        if value is None or text.lower() == ALL:
            return None
        digits = text.lstrip("0")
        if not (text.isascii() and text.isdigit() and 0 < len(digits) <= len(str(MAX_QUANTITY))):
            self.fail(
                f"{text[:40]!r} is neither a whole number from 1 to {MAX_QUANTITY} nor {ALL}",
                param,
                ctx,
            )
        return int(digits)


def _request_options(func: Any) -> Any:
    """The options ``fulfill`` and ``cancel`` share."""
    for option in reversed(
        (
            click.argument("order_id"),
            click.option("--item", "line_id", default=None, help="Order line id (default: all)."),
            click.option(
                "--quantity",
                type=_Quantity(),
                default=None,
                help="Units of the line, or all (the default: every unit still open). "
                "A number needs --item.",
            ),
            click.option("--reason", default=None, help="Why (kept in the request log)."),
            click.option(
                "--transmit",
                is_flag=True,
                help="Send it now (one transmit pass) instead of leaving it to the daemon.",
            ),
            config_option,
        )
    ):
        func = option(func)
    return func


@orders.command("fulfill")
@_request_options
@click.option("--tracking-number", default=None, help="Sent with a digital fulfilment.")
@click.option("--tracking-company", default=None)
@click.option("--tracking-url", default=None)
@handle_errors
def fulfill(
    *,
    order_id: str,
    line_id: str | None,
    quantity: int | None,
    reason: str | None,
    transmit: bool,
    config_file: Path | None,
    tracking_number: str | None,
    tracking_company: str | None,
    tracking_url: str | None,
) -> None:
    """Fulfil an order's digital lines (or one line, in part); physical lines ship via DR."""
    request = MerchantRequest(
        new_request_id(),
        order_id,
        "fulfill",
        line_id,
        quantity,
        reason,
        tracking_number,
        tracking_company,
        tracking_url,
    )
    _submit(settings_from(config_file), request, transmit=transmit)


@orders.command("cancel")
@_request_options
@handle_errors
def cancel(
    *,
    order_id: str,
    line_id: str | None,
    quantity: int | None,
    reason: str | None,
    transmit: bool,
    config_file: Path | None,
) -> None:
    """Cancel an order's open units (or one line's, in part): via the fulfiller when it has them."""
    request = MerchantRequest(new_request_id(), order_id, "cancel", line_id, quantity, reason)
    _submit(settings_from(config_file), request, transmit=transmit)


def _submit(settings: Settings, request: MerchantRequest, *, transmit: bool) -> None:
    """Record a request (exit 1 and nothing recorded when refused), then maybe send it."""
    action: Action = request.action
    with open_state(settings) as store:
        try:
            recorded = submit_request(store, request, Source(), now_stamp())
        except RequestRefusedError as exc:
            fail(f"{action} refused: {exc}", EXIT_FAILED)
    for line in recorded.lines:
        click.echo(
            f"recorded {request.request_id}: {action} {line.quantity} of line {line.line_id}"
            f" ({line.route})"
        )
    if transmit:
        _transmit_if_free(settings, f"orders {action} --transmit")
    else:
        click.echo("the daemon sends it within seconds (or run `catalog-sync orders transmit`)")


@orders.command("retry")
@click.argument("order_id")
@click.option("--transmit", is_flag=True, help="Send the retried requests now.")
@config_option
@handle_errors
def retry(order_id: str, transmit: bool, config_file: Path | None) -> None:
    """Move the order's Failed requests back to Reprocess (their units are claimed again)."""
    settings = settings_from(config_file)
    with open_state(settings) as store:
        try:
            retried = retry_order(store, order_id, now_stamp())
        except RequestRefusedError as exc:
            fail(f"retry refused: {exc}", EXIT_FAILED)
    for what in retried:
        click.echo(f"reprocess {what}")
    if transmit:
        _transmit_if_free(settings, "orders retry --transmit")


@orders.command("transmit")
@config_option
@handle_errors
def transmit_requests(config_file: Path | None) -> None:
    """One pass: take in settled request files, send every due request (and event) write."""
    setup_logging()
    settings = settings_from(config_file)
    with InstanceLock(settings, command="orders transmit", beside_daemon=_TRANSMIT_HINT):
        result = run_async(_transmit(settings))
    _echo_pass(result)


#: ``orders transmit`` beside the daemon: two transmitters on one ledger could send one write
#: twice, and the daemon sends every recorded request by itself.
_TRANSMIT_HINT = "it sends every recorded request itself within seconds"


def _transmit_if_free(settings: Settings, command: str) -> None:
    """Send due writes now, under the lock; when another process holds it, leave them to it.

    The request is already recorded (and its units claimed), so this never fails the
    command: a retry of a command that exited 1 would record a second request.
    """
    try:
        with InstanceLock(settings, command=command):
            result = run_async(_transmit(settings))
    except AlreadyRunningError as exc:
        holder = exc.holder
        if holder.is_daemon:
            click.echo(f"not transmitted here: {holder.describe()} sends it within seconds")
        else:
            click.echo(
                f"not transmitted here: {holder.describe()} holds the state database; "
                "`catalog-sync orders transmit` (or the daemon) sends it once that has finished"
            )
        return
    _echo_pass(result)


async def _transmit(settings: Settings) -> PassResult:
    async with wired(settings) as w:
        transmitter = RequestTransmitter(settings.merchant_requests, w.store, w.handler)
        return await transmitter.transmit_once()


def _echo_pass(result: PassResult) -> None:
    for f in result.files:
        errors = f"; errors in {f.errors_file}" if f.errors_file else ""
        click.echo(f"file {f.name}: {f.outcome}, {f.accepted} request(s) recorded{errors}")
        for problem in f.problems:
            click.echo(f"  {problem}")
    click.echo(f"{result.writes} write(s) sent; {result.open_requests} request(s) not completed")


@orders.command("report")
@click.option("--limit", type=int, default=500, show_default=True, help="Orders shown.")
@config_option
@handle_errors
def report(limit: int, config_file: Path | None) -> None:
    """Write the orders HTML page (reports/orders-<time>.html and orders-latest.html)."""
    settings = settings_from(config_file)
    with open_state(settings) as store:
        reports = settings.merchant_requests.reports
        path = write_orders_report(store, reports, utc_clock(), limit=limit)
    click.echo(str(path))


#: ``orders audit``'s exit status when findings remain (none found, or every one repaired: 0).
EXIT_FINDINGS: Final = 2
#: What ``orders audit`` says when the daemon holds the state database without ``--dry-run``.
_AUDIT_HINT = (
    "it audits orders itself every orders_audit_interval; `orders audit --dry-run` looks now"
)


@orders.command("audit")
@since_option("Audit the orders created (default: in the last orders_audit_days)")
@click.option("--order", "order_ids", multiple=True, help="Only this order (repeatable).")
@click.option("--dry-run", is_flag=True, help="Only report: repair nothing.")
@click.option("--json", "as_json", is_flag=True, help="The findings as one JSON document.")
@config_option
@handle_errors
def audit(
    since: datetime | None,
    order_ids: tuple[str, ...],
    dry_run: bool,
    as_json: bool,
    config_file: Path | None,
) -> None:
    """Compare orders with Digital River's own records; repair what is safe to repair.

    Exit 0 when nothing is left (no findings, or every one repaired), 2 when findings remain
    for a person (with --dry-run: any finding), 1 on an error.
    """
    setup_logging()
    settings = settings_from(config_file)
    moment = as_utc(since)

    async def body() -> AuditResult:
        async with wired(settings) as w:
            auditor = OrdersAudit(settings.orders_audit, w.client, w.store, w.handler, w.notifier)
            result = await auditor.audit(since=moment, order_ids=order_ids or None, dry_run=dry_run)
            await w.handler.drain()
            return result

    if dry_run:
        result = run_async(body())
    else:
        with InstanceLock(settings.state, command="orders audit", beside_daemon=_AUDIT_HINT):
            result = run_async(body())
    click.echo(_audit_json(result) if as_json else "\n".join(_audit_lines(result)))
    sys.exit(EXIT_FINDINGS if result.remaining else 0)


def _audit_json(result: AuditResult) -> str:
    document = {
        "run_id": result.run_id,
        "dry_run": result.dry_run,
        "orders": result.orders,
        "findings": [asdict(f) for f in result.findings],
        "remaining": len(result.remaining),
    }
    return json.dumps(document, indent=2)


def _audit_lines(result: AuditResult) -> list[str]:
    repaired = len(result.findings) - len(result.remaining)
    mode = " (dry run: nothing repaired)" if result.dry_run else ""
    header = (
        f"orders audit run {result.run_id}{mode}: {result.orders} order(s),"
        f" {len(result.findings)} finding(s), {repaired} repaired"
    )
    lines = [header]
    for f in result.findings:
        money = "" if f.amount is None else f" {f.amount / 100:.2f} {f.currency}"
        line = "" if f.line_id is None else f" line {f.line_id}"
        done = "repaired" if f.repaired else "left"
        lines.append(
            f"  [{done}] {f.kind}: order {f.order_id}{line}, {f.units} unit(s){money}: {f.detail}"
        )
    return lines
