"""Input the sandbox cannot represent is refused with the API's 400, and nothing is stored.

Python's JSON parser accepts more than any answer can carry: ``"\\ud800"`` escapes decode to
lone surrogates that UTF-8 cannot encode, ``NaN`` and ``1e999`` are not JSON numbers, integers
grow past every bound. Stored, one such value made each later answer that included it a 500:
the SKU, ``GET /events``, the request log. Every write endpoint, admin ones included, must refuse
them before anything is kept, and the read endpoints must keep answering whatever they are asked.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog_sync.sandbox.admin import Admin
from catalog_sync.sandbox.api import Api
from catalog_sync.sandbox.state import Sandbox
from catalog_sync.sandbox.testing import (
    RunningSandbox,
    create_pair,
    fulfillment_order_body,
    item_body,
    sku_body,
    start_sandbox,
)

Json = dict[str, Any]

#: Examples per property: each is one HTTP call plus a few reads, over loopback.
CONTRACT = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
#: Write routes that never read their body (nothing in it can be stored).
BODILESS = frozenset({("POST", "/_sandbox/reset")})
#: List endpoints of the API, every one of which must answer 200 or 400.
LISTS = (
    "/skus",
    "/inventory-items",
    "/orders",
    "/fulfillment-orders",
    "/fulfillment-cancellations",
    "/shipments",
    "/fulfillments",
    "/events",
)
#: Query parameters the lists read (a hostile value in any must be a 400, never a 500).
PARAMETERS = (
    "limit",
    "startingAfter",
    "endingBefore",
    "ids",
    "createdTime",
    "createdTime[gt]",
    "createdTime[lte]",
    "updatedTime[gte]",
    "type",
    "types",
    "upstreamIds",
    "state",
    "orderId",
    "skuId",
    "inventoryItemId",
)


@dataclass(frozen=True)
class World:
    """A pair, an accepted order and its fulfillment order: every write endpoint has a target."""

    order: Json
    fulfillment_order: Json


@dataclass(frozen=True)
class Write:
    """One write endpoint and a body it would accept."""

    method: str
    path: str
    body: Callable[[World], Json]
    admin: bool = False

    def url(self, world: World) -> str:
        """The path with the world's ids filled in."""
        return self.path.format(fo=world.fulfillment_order["id"], order=world.order["id"])

    @property
    def route(self) -> str:
        """The route as the application declares it."""
        return self.path.replace("{fo}", "{id}").replace("{order}", "{id}").replace("w-1", "{id}")


def _fo_item(world: World) -> Json:
    return {"fulfillmentOrderItemId": str(world.fulfillment_order["items"][0]["id"]), "quantity": 1}


WRITES = (
    Write("POST", "/skus", lambda _: {"id": "w-9", **sku_body()}),
    Write("PUT", "/skus/w-1", lambda _: sku_body()),
    Write("POST", "/skus/w-1", lambda _: {"name": "Renamed"}),
    Write("POST", "/inventory-items", lambda _: {"id": "w-9", **item_body()}),
    Write("POST", "/inventory-items/w-1", lambda _: {"partNumber": "P-2"}),
    Write("POST", "/fulfillment-orders", lambda w: fulfillment_order_body(w.order)),
    Write(
        "POST",
        "/fulfillment-cancellations",
        lambda w: {"fulfillmentOrderId": str(w.fulfillment_order["id"]), "items": [_fo_item(w)]},
    ),
    Write(
        "POST",
        "/fulfillments",
        lambda w: {"orderId": w.order["id"], "items": [{"skuId": "w-1", "quantity": 1}]},
    ),
    Write("POST", "/_sandbox/orders", lambda _: {"items": [{"skuId": "w-1", "quantity": 1}]}, True),
    Write(
        "POST",
        "/_sandbox/fulfillment-orders/{fo}/ship",
        lambda _: {"items": [{"skuId": "w-1", "quantity": 1}], "trackingNumber": "T-1"},
        True,
    ),
    Write(
        "POST",
        "/_sandbox/fulfillment-orders/{fo}/backorder",
        lambda _: {"items": [{"skuId": "w-1", "quantity": 1}]},
        True,
    ),
    Write(
        "POST",
        "/_sandbox/fulfillment-orders/{fo}/cancel",
        lambda _: {"items": [{"skuId": "w-1", "quantity": 1}]},
        True,
    ),
    Write(
        "POST",
        "/_sandbox/events",
        lambda _: {"type": "order.accepted", "data": {"object": {"id": "1"}}},
        True,
    ),
    Write(
        "POST",
        "/_sandbox/orders/{order}/fulfillments",
        lambda w: {"items": [{"itemId": w.order["items"][0]["id"], "quantity": 1}]},
        True,
    ),
    Write("POST", "/_sandbox/orders/{order}/state", lambda _: {"state": "fulfilled"}, True),
    Write("POST", "/_sandbox/events/vanish", lambda _: {"type": "order.accepted"}, True),
    Write("POST", "/_sandbox/fulfiller", lambda _: {"cancellations": "accept"}, True),
    Write("POST", "/_sandbox/skus/w-1/drift", lambda _: {"hsCode": "8471.50"}, True),
    Write("POST", "/_sandbox/inventory-items/w-1/drift", lambda _: {"countryOfOrigin": "DE"}, True),
    Write("POST", "/_sandbox/faults", lambda _: {"rate": 0}, True),
)

#: Text that never holds a surrogate, so one inserted between two such pieces stays alone
#: (a high and a low surrogate side by side would be read back as one valid character).
_PLAIN = st.text(st.characters(blacklist_categories=["Cs"]), max_size=6)
LONE_SURROGATE_TEXT = st.builds(
    lambda before, surrogate, after: before + surrogate + after,
    _PLAIN,
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
    _PLAIN,
)
#: Values that are not JSON (NaN, infinities) or beyond every bound (64 bits, nesting).
UNUSABLE_LITERALS = st.sampled_from(
    [
        *("NaN", "Infinity", "-Infinity", "1e999", "-1e400"),
        *("9" * 30, "-" + "9" * 25, "1" * 5000),
        *("[" * 40 + "]" * 40, '{"a":' * 40 + "1" + "}" * 40),
    ]
)


@dataclass(frozen=True)
class Placed:
    """Where a hostile piece goes in a valid body: a field's value, a new name, or nested."""

    how: str
    field: int


PLACES = st.builds(
    Placed, st.sampled_from(["value", "name", "nested", "nested-name"]), st.integers(0, 20)
)


def _place(body: Json, where: Placed, hostile: Any) -> Json:
    fields = sorted(body)
    field = fields[where.field % len(fields)]
    placed = dict(body)
    if where.how == "value":
        placed[field] = hostile
    elif where.how == "name":
        placed[hostile] = "x"
    elif where.how == "nested":
        placed["metadata"] = {"note": [hostile]}
    else:
        placed[field] = {hostile: 1}
    return placed


@dataclass(frozen=True)
class Case:
    """A valid body of one write endpoint with a lone surrogate placed somewhere in it."""

    write: Write
    where: Placed
    hostile: str

    def raw(self, world: World) -> bytes:
        """The body as a client sends it: ``json.dumps`` writes the surrogate as ``\\udXXX``."""
        return json.dumps(_place(self.write.body(world), self.where, self.hostile)).encode()


SURROGATE_CASES = st.builds(Case, st.sampled_from(WRITES), PLACES, LONE_SURROGATE_TEXT)


@pytest.fixture
def world(sandbox: RunningSandbox, api: httpx.Client) -> World:
    """A fresh sandbox with one of each object the write endpoints act on."""
    create_pair(api, "w-1")
    order = sandbox.create_order([{"skuId": "w-1", "quantity": 3}])
    response = api.post("/fulfillment-orders", json=fulfillment_order_body(order))
    response.raise_for_status()
    return World(order, response.json())


def _send(
    sandbox: RunningSandbox, api: httpx.Client, write: Write, world: World, raw: bytes
) -> httpx.Response:
    client = sandbox.admin if write.admin else api
    headers = {"Content-Type": "application/json"}
    return client.request(write.method, write.url(world), content=raw, headers=headers)


def _snapshot(sandbox: RunningSandbox, api: httpx.Client) -> tuple[Json, list[str], Json]:
    """Counts of every collection, the events' ids, and the fulfiller policy and fault spec."""
    stats = sandbox.admin.get("/_sandbox/stats").json()
    stats.pop("requests")
    events = api.get("/events", params={"limit": 100}).json()["data"]
    settings_now = {
        "fulfiller": sandbox.admin.get("/_sandbox/fulfiller").json(),
        "faults": sandbox.admin.get("/_sandbox/faults").json(),
    }
    return stats, [e["id"] for e in events], settings_now


def _assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert (body["type"], body["errors"][0]["code"]) == ("bad_request", "invalid_request")


def test_every_write_route_is_covered() -> None:
    """The table of write endpoints lists every POST and PUT route of the sandbox."""
    sandbox = Sandbox()
    declared = {
        (method, route.path)
        for route in [*Admin(sandbox).routes(), *Api(sandbox).routes()]
        for method in route.methods or ()
        if method in {"POST", "PUT", "PATCH"}
    }
    assert declared - BODILESS == {(w.method, w.route) for w in WRITES}


@CONTRACT
@given(case=SURROGATE_CASES)
def test_lone_surrogate_body_is_a_400(
    sandbox: RunningSandbox, api: httpx.Client, world: World, case: Case
) -> None:
    """A JSON body with a ``\\ud800``-style escape anywhere is 400 ``invalid_request``."""
    _assert_refused(_send(sandbox, api, case.write, world, case.raw(world)))


@CONTRACT
@given(case=SURROGATE_CASES)
def test_refused_body_stores_nothing(
    sandbox: RunningSandbox, api: httpx.Client, world: World, case: Case
) -> None:
    """After a refused body no object, event, policy or fault spec has changed."""
    before = _snapshot(sandbox, api)
    _send(sandbox, api, case.write, world, case.raw(world))
    assert _snapshot(sandbox, api) == before


@CONTRACT
@given(
    write=st.sampled_from(WRITES),
    junk=st.binary(min_size=1, max_size=6).filter(lambda b: not _is_utf8(b)),
)
def test_body_that_is_not_utf8_is_a_400(
    sandbox: RunningSandbox, api: httpx.Client, world: World, write: Write, junk: bytes
) -> None:
    """Bytes that are not UTF-8 inside a JSON string make the body a 400, on every endpoint."""
    marker = "@@junk@@"
    body = _place(write.body(world), Placed("value", 0), marker)
    raw = json.dumps(body).encode().replace(marker.encode(), junk)
    _assert_refused(_send(sandbox, api, write, world, raw))


@CONTRACT
@given(write=st.sampled_from(WRITES), literal=UNUSABLE_LITERALS)
def test_unusable_number_or_nesting_is_a_400(
    sandbox: RunningSandbox, api: httpx.Client, world: World, write: Write, literal: str
) -> None:
    """NaN, infinities, integers beyond 64 bits and 40-deep nesting are refused with a 400."""
    marker = "@@literal@@"
    body = _place(write.body(world), Placed("nested", 0), marker)
    raw = json.dumps(body).replace(json.dumps(marker), literal).encode()
    _assert_refused(_send(sandbox, api, write, world, raw))


@CONTRACT
@given(case=SURROGATE_CASES)
def test_reads_answer_after_a_refused_body(
    sandbox: RunningSandbox, api: httpx.Client, world: World, case: Case
) -> None:
    """The SKU, every list, ``GET /events`` and the request log still answer 200."""
    _send(sandbox, api, case.write, world, case.raw(world))
    statuses = {path: api.get(path).status_code for path in ("/skus/w-1", *LISTS)}
    statuses["/_sandbox/requests"] = sandbox.admin.get("/_sandbox/requests").status_code
    assert set(statuses.values()) == {200}, statuses


def test_raw_events_without_a_type_do_not_break_event_lists(
    sandbox: RunningSandbox, api: httpx.Client
) -> None:
    """Appended events with no type, or a type that is not text, are listed, never a 500."""
    for event in ({"data": "not an object"}, {"type": 7}, {"type": None, "createdTime": 5}):
        assert sandbox.admin.post("/_sandbox/events", json=event).status_code == 201
    for params in ({"types": "order.accepted"}, {"type": "order.*"}, {"type": "*"}, {}):
        assert api.get("/events", params=params).status_code == 200, params


@CONTRACT
@given(
    path=st.sampled_from(LISTS),
    query=st.dictionaries(
        st.sampled_from(PARAMETERS),
        st.one_of(
            st.text(max_size=30),
            st.sampled_from(["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "1" * 5000]),
        ),
        max_size=3,
    ),
    junk=st.binary(max_size=4),
)
def test_lists_never_answer_500(
    api: httpx.Client, world: World, path: str, query: dict[str, str], junk: bytes
) -> None:
    """Any value of any list parameter, even bytes that are not UTF-8, is a 200 or a 400."""
    del world
    encoded = [
        f"{httpx.QueryParams({k: ''})}{_quote(v.encode('utf-8', 'surrogatepass') + junk)}"
        for k, v in query.items()
    ]
    response = api.get(f"{path}?{'&'.join(encoded)}")
    assert response.status_code in {200, 400}, response.text


def test_state_file_with_lone_surrogates_is_served(tmp_path: Path) -> None:
    """A state file saved with a lone surrogate (by an older sandbox) loads and answers 200."""
    state = tmp_path / "sandbox.json"
    with start_sandbox(state_file=state) as running, running.api() as api:
        create_pair(api, "w-1")
    document = json.loads(state.read_text())
    document["modes"]["test"]["skus"][0]["name"] = "a\ud800b"
    state.write_text(json.dumps(document))
    with start_sandbox(state_file=state) as running, running.api() as api:
        response = api.get("/skus/w-1")
        listed = api.get("/skus")
    assert (response.status_code, listed.status_code) == (200, 200)
    assert response.json()["name"] == "a\\ud800b"


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _quote(raw: bytes) -> str:
    return "".join(f"%{byte:02X}" for byte in raw)
