"""The orders part of ``make demo``: the distributed model end to end, in front of a newcomer.

With the sandbox and something handling events running (``catalog-sync run``, or
``catalog-sync events poll --loop``), :func:`run_order_demo` places three orders through the
sandbox's admin API, plays the fulfiller (a shipment in two parts, a partial cancellation),
waits until catalog-sync has handled each step, and prints ``orders list`` and ``orders
show``. It talks to catalog-sync only through its command line (``run_cli``), exactly as an
operator would, so the demo and its test exercise the real commands.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import httpx

from catalog_sync.demo.testing import wait_until

#: ``catalog-sync ARGS`` -> its standard output, or None when it exited non-zero.
RunCli = Callable[[Sequence[str]], str | None]
Say = Callable[[str], None]
#: Seconds each wait may take before the demo gives up with a clear message.
WAIT: Final = 60.0
_PROBE_EVERY: Final = 0.2


class OrderDemoError(RuntimeError):
    """The sandbox lacks what the demo needs, or catalog-sync did not handle a step in time."""


@dataclass(frozen=True)
class DemoOrders:
    """The orders the demo placed, for the caller (and the test) to check."""

    shipped_in_two_parts: str
    partly_cancelled: str
    digital_only: str


def subprocess_cli(env: Mapping[str, str]) -> RunCli:
    """Run ``python -m catalog_sync ARGS`` with ``env``, as the operator's shell would."""

    def run(args: Sequence[str]) -> str | None:
        done = subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "catalog_sync", *args],
            env=dict(env),
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout if done.returncode == 0 else None

    return run


def run_order_demo(
    sandbox_url: str,
    api_key: str,
    run_cli: RunCli,
    say: Say,
    *,
    wait: float = WAIT,
    placed: Callable[[], None] | None = None,
) -> DemoOrders:
    """Place, ship and cancel orders at the sandbox; show how catalog-sync handled each.

    ``placed`` runs once the orders are placed, before the demo waits for them to be handled:
    the walkthrough shows ``events plan`` there, while nothing handles events.
    """
    with httpx.Client(
        base_url=sandbox_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30
    ) as api:
        physical, digital = _demo_skus(api)
        waiter = _Waiter(run_cli, wait)
        say("Orders, the distributed model: Digital River tells us what happened through")
        say("events; catalog-sync records each order's lines and does the payment writes.")
        mixed = _order(api, [(physical, 3), (digital, 1)])
        cancelled = _order(api, [(physical, 2)])
        only_digital = _order(api, [(digital, 1)])
        say(f"  Placed order {mixed['id']} (3 x {physical} + 1 x {digital} to download),")
        say(f"  order {cancelled['id']} (2 x {physical}) and {only_digital['id']} (digital only).")
        if placed is not None:
            placed()
        fo_mixed = waiter.fulfillment_order(mixed["id"])
        fo_cancelled = waiter.fulfillment_order(cancelled["id"])
        say(f"  catalog-sync sent fulfillment order {fo_mixed} with the physical line only,")
        say(f"  and {fo_cancelled} for the second order; the digital-only order needs none.")
        line = mixed["items"][0]["id"]
        _ship(api, fo_mixed, line, 1, "1Z-DEMO-PART-1")
        waiter.line(mixed["id"], line, fulfilled=1)
        say("  The fulfiller shipped 1 of 3: catalog-sync captured exactly that unit.")
        _ship(api, fo_mixed, line, 2, "1Z-DEMO-PART-2")
        waiter.line(mixed["id"], line, fulfilled=3)
        say("  It shipped the other 2: a second capture, for 2 units, with its tracking number.")
        other = cancelled["items"][0]["id"]
        _post(api, f"/_sandbox/fulfillment-orders/{fo_cancelled}/cancel", [(other, 1)])
        waiter.line(cancelled["id"], other, cancelled=1)
        say("  The fulfiller cancelled 1 of 2 on the second order: that unit's charge is")
        say("  cancelled, the other unit stays open until it ships.")
        say("")
        say("$ catalog-sync orders list")
        _echo(say, run_cli(["orders", "list"]))
        say(f"$ catalog-sync orders show {mixed['id']}")
        _echo(say, run_cli(["orders", "show", mixed["id"]]))
    return DemoOrders(mixed["id"], cancelled["id"], only_digital["id"])


def _demo_skus(api: httpx.Client) -> tuple[str, str]:
    """One physical and one digital SKU of the catalog already at the sandbox."""
    skus = api.get("/skus", params={"limit": 100}).raise_for_status().json()["data"]
    physical = next((s["id"] for s in skus if s.get("physical")), None)
    digital = next((s["id"] for s in skus if s.get("physical") is False), None)
    if physical is None or digital is None:
        raise OrderDemoError("the demo needs one physical and one digital SKU at the sandbox")
    return str(physical), str(digital)


def _order(api: httpx.Client, lines: Sequence[tuple[str, int]]) -> dict[str, Any]:
    items = [{"skuId": sku, "quantity": quantity} for sku, quantity in lines]
    answer: dict[str, Any] = (
        api.post("/_sandbox/orders", json={"items": items}).raise_for_status().json()
    )
    return answer


def _post(api: httpx.Client, path: str, lines: Sequence[tuple[str, int]], **extra: str) -> None:
    items = [{"itemId": line, "quantity": quantity} for line, quantity in lines]
    api.post(path, json={"items": items, **extra}).raise_for_status()


def _ship(api: httpx.Client, fo_id: str, line: str, quantity: int, tracking: str) -> None:
    path = f"/_sandbox/fulfillment-orders/{fo_id}/ship"
    _post(api, path, [(line, quantity)], trackingNumber=tracking, trackingCompany="UPS")


def _echo(say: Say, output: str | None) -> None:
    for text in (output or "(the command failed)\n").splitlines():
        say(f"  | {text}")


@dataclass(frozen=True)
class _Waiter:
    """Waits on ``orders show --json``: what the operator would look at."""

    run_cli: RunCli
    wait: float

    def _until(self, what: str, probe: Callable[[dict[str, Any] | None], Any], order: str) -> Any:
        def shown() -> Any:
            output = self.run_cli(["orders", "show", order, "--json"])
            return probe(None if output is None else json.loads(output)) or None

        try:
            return wait_until(shown, timeout=self.wait, interval=_PROBE_EVERY, what=what)
        except TimeoutError:
            raise OrderDemoError(
                f"catalog-sync did not handle {what} within {self.wait}s"
            ) from None

    def fulfillment_order(self, order: str) -> str:
        """The fulfillment order id, once its lines are known (a shipment needs them)."""

        def probe(detail: dict[str, Any] | None) -> str | None:
            if detail is None or not detail["fulfillment_order_id"]:
                return None
            physical = [x for x in detail["lines"] if x["kind"] == "physical"]
            known = all(x["fulfillment_order_line"] for x in physical)
            return str(detail["fulfillment_order_id"]) if known else None

        return str(self._until(f"order {order}", probe, order))

    def line(self, order: str, line: str, *, fulfilled: int = 0, cancelled: int = 0) -> None:
        """Until the line's counters (confirmed by Digital River) reach these numbers."""

        def probe(detail: dict[str, Any] | None) -> bool:
            rows = [] if detail is None else [x for x in detail["lines"] if x["line_id"] == line]
            return bool(rows) and (rows[0]["fulfilled"], rows[0]["cancelled"]) == (
                fulfilled,
                cancelled,
            )

        self._until(f"line {line} of order {order}", probe, order)
