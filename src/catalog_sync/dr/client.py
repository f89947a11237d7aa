"""The typed async Digital River client: one set of connections, one rate budget, typed failures.

Every call goes through :meth:`DigitalRiverClient._call`, which draws a token from the shared
:class:`~catalog_sync.dr.ratelimit.RateBudget` at the priority of the resource it touches,
holds one of ``max_concurrency`` :class:`~catalog_sync.dr.slots.Slots` (waiting, if need be,
at the same priority), sends on a connection of its own (:mod:`catalog_sync.dr.transport`),
maps failures onto :mod:`catalog_sync.dr.errors` and retries what may be retried. A request
therefore only ever waits in our limiter, never in a connection pool.

Retrying writes needs care because the API has no idempotency key (docs/digital-river-api.md §6).
GETs, PUT upserts, POST updates and DELETEs give the same result when repeated, so any retryable
error is retried. Creates (``POST /inventory-items``, ``/fulfillment-orders``, ``/fulfillments``,
``/fulfillment-cancellations``) are resent only after an error that proves the request was not
applied (429, connect failures); otherwise they raise
:class:`~catalog_sync.dr.errors.OutcomeUnknown` so the caller reads back before resending
(:mod:`catalog_sync.dr.writes` for inventory items, the intent ledger for the others).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Generic, NamedTuple, Self, TypeVar
from urllib.parse import quote

import httpx
from pydantic import SecretStr, ValidationError

from catalog_sync import __version__
from catalog_sync.core.event_pages import decode_page
from catalog_sync.core.priorities import RESOURCE_PRIORITY, Priority, priority_of
from catalog_sync.dr.bulk_window import BulkWindow
from catalog_sync.dr.errors import (
    APIError,
    DRError,
    ErrorDetail,
    NotFound,
    OutcomeUnknown,
    RateLimited,
    ServerError,
    TransportError,
    error_from_response,
    proves_not_applied,
    request_path,
    transport_error,
)
from catalog_sync.dr.models import (
    Fulfillment,
    FulfillmentCancellation,
    FulfillmentCancellationCreate,
    FulfillmentCreate,
    FulfillmentOrder,
    FulfillmentOrderCreate,
    Identified,
    InventoryItem,
    InventoryItemCreate,
    InventoryItemUpdate,
    Order,
    Request,
    Sku,
    SkuUpsert,
)
from catalog_sync.dr.ratelimit import RateBudget
from catalog_sync.dr.retry import RetryPolicy, retrying
from catalog_sync.dr.slots import Slots
from catalog_sync.dr.transport import default_transport
from catalog_sync.support.clock import Sleep
from catalog_sync.support.logs import get_logger, register_secret
from catalog_sync.support.settings import ApiSettings, is_test_key

if TYPE_CHECKING:
    from types import TracebackType

M = TypeVar("M", bound=Identified)
QueryValue = str | int | float | bool | datetime | Sequence[str]
#: ``on_response(method, path_template, status, seconds)``; status 0 when no answer came.
Observer = Callable[[str, str, int, float], None]


class CallTiming(NamedTuple):
    """Where one HTTP attempt spent its seconds: the cheap always-on timing of the client.

    ``limiter`` is the wait for the bulk window (catalog calls) and a rate-budget token,
    ``slot`` the wait for one of the ``max_concurrency`` connection slots, ``server`` the
    send-to-answer time (connecting included). Benchmarks read it to find where calls wait.
    """

    method: str
    template: str
    status: int
    limiter: float
    slot: float
    server: float


MAX_PAGE_SIZE = 100
#: Longest ``ids`` query we send; DR documents no URL limit, 2 kB is safe behind any proxy.
MAX_IDS_QUERY_CHARS = 1500

_log = get_logger("dr")
#: Connections kept from catalog (bulk) calls for money and event calls.
_RESERVED_SLOTS: Final = 4
_NO_GATE: Final = contextlib.nullcontext()
_CATALOG_KINDS: Final = frozenset(
    kind for kind, priority in RESOURCE_PRIORITY.items() if priority is Priority.CATALOG
)


@dataclass(frozen=True, slots=True)
class Page(Generic[M]):
    """One page of a list; ``has_more`` is False when the API omits it (fulfillment orders)."""

    data: list[M]
    has_more: bool


class SkuUpsertResult(NamedTuple):
    """What ``PUT /skus/{id}`` returned and whether it created the SKU (201) or replaced it."""

    sku: Sku
    created: bool


@dataclass
class ClientStats:
    """Counters the daemon's status and metrics read; every HTTP attempt counts once."""

    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    rate_limited: int = 0
    retries: int = 0
    outcome_unknown: int = 0


class DigitalRiverClient:
    """Async client for the Digital River endpoints catalog-sync uses.

    Use as ``async with DigitalRiverClient.from_settings(settings.api) as client: ...``. One
    instance per process: it owns the process's rate budget and connection pool.
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_key: SecretStr,
        rate_limit: float,
        max_concurrency: int = 16,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        budget: RateBudget | None = None,
    ) -> None:
        """``budget`` shares (or, in tests, fakes) a rate budget; it then replaces ``rate_limit``.

        ``sleep`` is the wait between retries, injectable so tests never wait on the wall clock.
        """
        key = api_key.get_secret_value()
        register_secret(key)
        #: Whether the key is a live-mode key: the mode of everything this client sees.
        self.live_mode = not is_test_key(key)
        self._base_url = base_url.rstrip("/")
        self.budget = budget if budget is not None else RateBudget(rate_limit)
        self.retry = retry if retry is not None else RetryPolicy()
        self.stats = ClientStats()
        self.on_response: list[Observer] = []
        self.on_timing: list[Callable[[CallTiming], None]] = []
        self._sleep = sleep
        self._slots = Slots(max_concurrency)
        # Catalog calls never hold every slot (nor queue for them with a token in hand),
        # and keep no more in flight than the rate needs: captures and event reads keep
        # their priority instead of queueing behind catalog writes, here or at the server.
        self._bulk = BulkWindow(self.budget.rate, max(1, max_concurrency - _RESERVED_SLOTS))
        self._headers = httpx.Headers(
            {
                "Authorization": f"Bearer {key}",
                "Accept": "application/json",
                "Content-Type": "application/json",
                "upstream-application-id": f"catalog-sync/{__version__}",
            }
        )
        self._extensions = {"timeout": httpx.Timeout(timeout).as_dict()}
        # Requests go straight to the transport: an API client wants no cookies, redirects
        # or auth flows, and httpx's client costs them on every call.
        self._transport = (
            transport if transport is not None else default_transport(base_url, max_concurrency)
        )

    @classmethod
    def from_settings(
        cls, settings: ApiSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> Self:
        """Build the client from ``settings.api`` (key, URL, rate, concurrency, timeout, retry)."""
        return cls(
            base_url=settings.base_url,
            api_key=settings.key,
            rate_limit=settings.rate_limit,
            max_concurrency=settings.max_concurrency,
            timeout=settings.request_timeout,
            retry=RetryPolicy.from_settings(settings),
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._base_url!r}, rate={self.budget.rate})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections."""
        await self._transport.aclose()

    # -- SKUs ---------------------------------------------------------------------------------

    async def get_sku(self, sku_id: str) -> Sku:
        """``GET /skus/{id}``."""
        return _parse(await self._call("GET", "/skus/{id}", sku_id), Sku)

    async def upsert_sku(self, sku_id: str, body: SkuUpsert) -> SkuUpsertResult:
        """``PUT /skus/{id}``: create or replace; naturally safe to repeat.

        ``created`` comes from the status (201) and can read False when a retry replaced the
        SKU an earlier, unanswered attempt had created.
        """
        response = await self._call("PUT", "/skus/{id}", sku_id, body=body)
        return SkuUpsertResult(_parse(response, Sku), response.status_code == httpx.codes.CREATED)

    async def delete_sku(self, sku_id: str) -> None:
        """``DELETE /skus/{id}``."""
        await self._delete("/skus/{id}", sku_id)

    def iter_skus(
        self,
        ids: Sequence[str] | None = None,
        page_size: int = MAX_PAGE_SIZE,
        **filters: QueryValue,
    ) -> AsyncIterator[Sku]:
        """Every SKU (or those in ``ids``) matching the API's list ``filters``."""
        return self._iterate("/skus", Sku, ids=ids, page_size=page_size, filters=filters)

    # -- inventory items ----------------------------------------------------------------------

    async def get_inventory_item(self, item_id: str) -> InventoryItem:
        """``GET /inventory-items/{id}``."""
        return _parse(await self._call("GET", "/inventory-items/{id}", item_id), InventoryItem)

    async def create_inventory_item(self, body: InventoryItemCreate) -> InventoryItem:
        """``POST /inventory-items``: not repeat-safe; see ``writes.ensure_inventory_item``."""
        response = await self._call("POST", "/inventory-items", body=body, idempotent=False)
        return _parse(response, InventoryItem)

    async def update_inventory_item(self, item_id: str, body: InventoryItemUpdate) -> InventoryItem:
        """``POST /inventory-items/{id}``: change only the fields set in ``body``."""
        response = await self._call("POST", "/inventory-items/{id}", item_id, body=body)
        return _parse(response, InventoryItem)

    async def delete_inventory_item(self, item_id: str) -> None:
        """``DELETE /inventory-items/{id}``."""
        await self._delete("/inventory-items/{id}", item_id)

    def iter_inventory_items(
        self,
        ids: Sequence[str] | None = None,
        page_size: int = MAX_PAGE_SIZE,
        **filters: QueryValue,
    ) -> AsyncIterator[InventoryItem]:
        """Every inventory item (or those in ``ids``) matching the API's list ``filters``."""
        return self._iterate(
            "/inventory-items", InventoryItem, ids=ids, page_size=page_size, filters=filters
        )

    # -- orders -------------------------------------------------------------------------------

    async def get_order(self, order_id: str) -> Order:
        """``GET /orders/{id}``."""
        return _parse(await self._call("GET", "/orders/{id}", order_id), Order)

    # -- fulfillment orders -------------------------------------------------------------------

    async def create_fulfillment_order(self, body: FulfillmentOrderCreate) -> FulfillmentOrder:
        """``POST /fulfillment-orders``: not repeat-safe; the intent ledger reads back first."""
        response = await self._call("POST", "/fulfillment-orders", body=body, idempotent=False)
        return _parse(response, FulfillmentOrder)

    def iter_fulfillment_orders(
        self,
        ids: Sequence[str] | None = None,
        upstream_ids: Sequence[str] | None = None,
        page_size: int = MAX_PAGE_SIZE,
        **filters: QueryValue,
    ) -> AsyncIterator[FulfillmentOrder]:
        """Fulfillment orders by id or by ``upstreamId`` (= DR order id by convention)."""
        if upstream_ids is not None:
            filters["upstreamIds"] = list(upstream_ids)
        return self._iterate(
            "/fulfillment-orders", FulfillmentOrder, ids=ids, page_size=page_size, filters=filters
        )

    # -- fulfillment cancellations ------------------------------------------------------------

    async def create_fulfillment_cancellation(
        self, body: FulfillmentCancellationCreate
    ) -> FulfillmentCancellation:
        """``POST /fulfillment-cancellations``: not repeat-safe; the ledger reads back first."""
        response = await self._call(
            "POST", "/fulfillment-cancellations", body=body, idempotent=False
        )
        return _parse(response, FulfillmentCancellation)

    def iter_fulfillment_cancellations(
        self,
        ids: Sequence[str] | None = None,
        fulfillment_order_id: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
        **filters: QueryValue,
    ) -> AsyncIterator[FulfillmentCancellation]:
        """Fulfillment cancellations, e.g. those of one fulfillment order."""
        if fulfillment_order_id is not None:
            filters["fulfillmentOrderId"] = fulfillment_order_id
        return self._iterate(
            "/fulfillment-cancellations",
            FulfillmentCancellation,
            ids=ids,
            page_size=page_size,
            filters=filters,
        )

    # -- fulfillments -------------------------------------------------------------------------

    async def create_fulfillment(self, body: FulfillmentCreate) -> Fulfillment:
        """``POST /fulfillments``: captures or cancels money; the ledger reads back first."""
        response = await self._call("POST", "/fulfillments", body=body, idempotent=False)
        return _parse(response, Fulfillment)

    def iter_fulfillments(
        self,
        ids: Sequence[str] | None = None,
        order_id: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
        **filters: QueryValue,
    ) -> AsyncIterator[Fulfillment]:
        """Fulfillments, e.g. every one of an order (the read-back before a resend)."""
        if order_id is not None:
            filters["orderId"] = order_id
        return self._iterate(
            "/fulfillments", Fulfillment, ids=ids, page_size=page_size, filters=filters
        )

    # -- events -------------------------------------------------------------------------------

    async def list_events(
        self,
        *,
        types: Sequence[str] | None = None,
        created_gt: datetime | None = None,
        starting_after: str | None = None,
        ending_before: str | None = None,
        limit: int = MAX_PAGE_SIZE,
        priority: Priority | None = None,
        **filters: QueryValue,
    ) -> tuple[list[dict[str, Any]], bool]:
        """One page of ``GET /events`` as the API's JSON objects, and ``hasMore``.

        Events are not parsed into models, so one malformed event cannot fail the page: the
        body is read by :func:`~catalog_sync.core.event_pages.decode_page`, which keeps values
        no parser accepts (huge integers, bytes that are not UTF-8) inside their event, and the
        poller validates each event itself and keeps the ones it cannot read as dead letters.
        Entries that are not JSON objects are wrapped as ``{"value": entry}``, never dropped.
        ``priority`` overrides the rate-budget priority of event reads (a poller whose reads
        are on the captures' critical path must not queue behind those captures).
        """
        query = _event_filters(types, created_gt, filters)
        if starting_after is not None:
            query["startingAfter"] = starting_after
        if ending_before is not None:
            query["endingBefore"] = ending_before
        query["limit"] = _page_size(limit)
        response = await self._call("GET", "/events", params=query, priority=priority)
        page = decode_page(response.content)
        if page.problem is not None:
            raise _invalid_response(response, ValueError(page.problem))
        return list(page.events), page.has_more

    # -- plumbing -----------------------------------------------------------------------------

    async def _iterate(
        self,
        template: str,
        model: type[M],
        *,
        ids: Sequence[str] | None,
        page_size: int,
        filters: Mapping[str, QueryValue],
    ) -> AsyncIterator[M]:
        """Yield every object of a list, one page in memory at a time, ``ids`` in chunks."""
        size = _page_size(page_size)
        if ids is None:
            async for item in self._follow(template, model, {**filters, "limit": size}):
                yield item
            return
        for chunk in id_chunks(ids, size):
            query = {**filters, "ids": chunk, "limit": size}
            async for item in self._follow(template, model, query):
                yield item

    async def _follow(
        self, template: str, model: type[M], query: dict[str, QueryValue]
    ) -> AsyncIterator[M]:
        while True:
            page = await self._page(template, model, query)
            for item in page.data:
                yield item
            if not page.has_more or not page.data:
                return
            query = {**query, "startingAfter": page.data[-1].id}

    async def _page(
        self, template: str, model: type[M], query: Mapping[str, QueryValue]
    ) -> Page[M]:
        response = await self._call("GET", template, params=query)
        raw = _json(response)
        try:
            data = [model.model_validate(item) for item in raw.get("data", ())]
        except ValidationError as exc:
            raise _invalid_response(response, exc) from None
        return Page(data=data, has_more=bool(raw.get("hasMore", False)))

    async def _delete(self, template: str, object_id: str) -> None:
        """Delete; a 404 after an attempt whose outcome was unknown means that attempt won."""
        earlier: list[DRError] = []
        try:
            await self._call("DELETE", template, object_id, earlier=earlier)
        except NotFound:
            if not any(_may_have_applied(error) for error in earlier):
                raise

    async def _call(
        self,
        method: str,
        template: str,
        object_id: str | None = None,
        *,
        params: Mapping[str, QueryValue] | None = None,
        body: Request | None = None,
        idempotent: bool = True,
        earlier: list[DRError] | None = None,
        priority: Priority | None = None,
    ) -> httpx.Response:
        path = template if object_id is None else template.format(id=path_segment(object_id))
        kind = _kind_of(template)
        if priority is None:
            priority = priority_of(_kind_of(template))
        content = body.to_json() if body is not None else None
        query = _query(params) if params is not None else None

        async def attempt() -> httpx.Response:
            queued = time.perf_counter()
            async with self._bulk if priority is Priority.CATALOG else _NO_GATE:
                await self.budget.acquire(priority)
                granted = time.perf_counter()
                async with self._slots.hold(priority):
                    return await self._send(
                        _Sending(method, path, template, kind, queued, granted),
                        query=query,
                        content=content,
                    )

        def may_resend(error: DRError) -> bool:
            return error.retryable and (idempotent or proves_not_applied(error))

        def on_retry(error: DRError, attempt_no: int, wait: float) -> None:
            self.stats.retries += 1
            if earlier is not None:
                earlier.append(error)
            _log.info(
                "dr.retry",
                method=method,
                path=path,
                attempt=attempt_no,
                wait=wait,
                error=str(error),
            )

        try:
            return await retrying(
                attempt,
                policy=self.retry,
                may_resend=may_resend,
                sleep=self._sleep,
                on_retry=on_retry,
            )
        except DRError as error:
            if idempotent or not error.retryable or proves_not_applied(error):
                raise
            self.stats.outcome_unknown += 1
            _log.warning("dr.outcome_unknown", method=method, path=path, error=str(error))
            raise OutcomeUnknown(error) from error

    async def _send(
        self,
        sending: _Sending,
        *,
        query: dict[str, str | list[str]] | None,
        content: bytes | None,
    ) -> httpx.Response:
        method, path = sending.method, sending.path
        self.stats.calls[method, sending.kind] += 1
        started = time.perf_counter()
        request = httpx.Request(
            method,
            self._base_url + path,
            params=query,
            content=content,
            headers=self._headers,
            extensions=self._extensions,
        )
        try:
            response = await self._transport.handle_async_request(request)
            await response.aread()
        except httpx.TransportError as exc:
            self._observe(sending, 0, started)
            raise transport_error(exc, method, path) from exc
        response.request = request
        self._observe(sending, response.status_code, started)
        if response.is_success:
            return response
        error = error_from_response(response)
        if isinstance(error, RateLimited):
            self.stats.rate_limited += 1
            if error.retry_after:
                self.budget.penalize(error.retry_after)
        raise error

    def _observe(self, sending: _Sending, status: int, started: float) -> None:
        answered = time.perf_counter()
        seconds = answered - started
        _log.debug(
            "dr.call",
            method=sending.method,
            path=sending.path,
            status=status,
            seconds=round(seconds, 4),
        )
        if status and sending.kind in _CATALOG_KINDS:
            self._bulk.observe(seconds)
        for observer in self.on_response:
            observer(sending.method, sending.template, status, seconds)
        if self.on_timing:
            timing = CallTiming(
                sending.method,
                sending.template,
                status,
                limiter=sending.granted - sending.queued,
                slot=started - sending.granted,
                server=seconds,
            )
            for timed in self.on_timing:
                timed(timing)


class _Sending(NamedTuple):
    """One attempt on its way out: what it calls and when it entered and left the limiter."""

    method: str
    path: str
    template: str
    kind: str
    queued: float
    granted: float


#: Path segments URL normalisation removes (``/skus/.`` is sent as ``/skus``).
_DOT_SEGMENTS: Final = frozenset({".", ".."})


def path_segment(object_id: str) -> str:
    """``object_id`` as exactly one URL path segment, whatever it holds.

    Every character but the unreserved ones is percent-encoded (``/``, ``?``, ``#``, ``%``
    included), and the dot segments are written ``%2E``, so no id can point a request at
    another path. An empty id would name the collection itself, so it is refused.
    """
    if not object_id:
        msg = "an object id must not be empty: the path would name the whole collection"
        raise ValueError(msg)
    segment = quote(object_id, safe="")
    return segment.replace(".", "%2E") if segment in _DOT_SEGMENTS else segment


def _kind_of(template: str) -> str:
    """``/skus/{id}`` -> ``skus``: the resource a path template touches."""
    return template.split("/")[1]


def id_chunks(ids: Sequence[str], size: int) -> Iterator[list[str]]:
    """Split ``ids`` into chunks of at most ``size`` ids and a short query string."""
    chunk: list[str] = []
    chars = 0
    for object_id in ids:
        cost = len(quote(object_id, safe="")) + len("&ids=")
        if chunk and (len(chunk) >= size or chars + cost > MAX_IDS_QUERY_CHARS):
            yield chunk
            chunk, chars = [], 0
        chunk.append(object_id)
        chars += cost
    if chunk:
        yield chunk


def format_time(value: datetime) -> str:
    """Render a time as the API writes them: UTC with a literal ``Z``.

    The API's time format is docs/digital-river-api.md §2.
    """
    if value.tzinfo is None:
        raise ValueError("naive datetime: the API's times are UTC")
    text = value.astimezone(UTC).isoformat()
    return text.removesuffix("+00:00") + "Z"


def _event_filters(
    types: Sequence[str] | None, created_gt: datetime | None, filters: Mapping[str, QueryValue]
) -> dict[str, QueryValue]:
    query = dict(filters)
    if types is not None:
        query["types"] = list(types)
    if created_gt is not None:
        query["createdTime[gt]"] = created_gt
    return query


def _page_size(size: int) -> int:
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise ValueError(f"page size must be 1..{MAX_PAGE_SIZE}")
    return size


def _query(params: Mapping[str, QueryValue]) -> dict[str, str | list[str]]:
    return {key: _query_value(value) for key, value in params.items()}


def _query_value(value: QueryValue) -> str | list[str]:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, str | int | float):
        return str(value)
    return list(value)


def _may_have_applied(error: DRError) -> bool:
    return isinstance(error, ServerError) or (
        isinstance(error, TransportError) and error.outcome_unknown
    )


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        raw = response.json()
    except ValueError as exc:
        raise _invalid_response(response, exc) from None
    if not isinstance(raw, dict):
        raise _invalid_response(response, TypeError("not a JSON object"))
    return raw


def _parse(response: httpx.Response, model: type[M]) -> M:
    """The body as ``model``, parsed and validated by pydantic-core in one step."""
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise _invalid_response(response, exc) from None


def _invalid_response(response: httpx.Response, cause: Exception) -> APIError:
    """A success status with a body we cannot read: a server bug, not worth a retry."""
    detail = ErrorDetail(code="invalid_response", message=f"{type(cause).__name__}: {cause}")
    return APIError(
        response.status_code,
        "invalid_response",
        (detail,),
        method=response.request.method,
        path=request_path(response.request),
    )
