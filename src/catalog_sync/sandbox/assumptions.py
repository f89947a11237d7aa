"""Every behaviour docs/digital-river-api.md leaves unknown, unverified or inferred, chosen once.

The codes and numbers the sandbox uses are constants here, and :data:`ASSUMPTIONS` is built
from them, so the table rendered in README.md (the sandbox section) cannot disagree with the
code. When DR's real behaviour is learned, correct it here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

API_VERSION: Final = "2021-12-13"
#: Event field spelling (docs/digital-river-api.md §14.2: the guide's samples against the SDK).
VERSION_FIELD: Final = "digitalriverVersion"

#: 409 codes DR never documented (docs/digital-river-api.md §3.3, §17).
CODE_ALREADY_EXISTS: Final = "already_exists"
CODE_QUANTITY_TOO_LARGE: Final = "quantity_too_large"
CODE_ORDER_FULFILLED: Final = "order_fulfilled"
CODE_ORDER_CANCELLED: Final = "order_cancelled"
CODE_NOTHING_OPEN: Final = "invalid_state"

#: docs/digital-river-api.md §7.3 names two codes; the rest of the table is ours.
TAX_CODE_PHYSICAL: Final = {"4323.310_A": True, "4512.100_A": False}
DIGITAL_TAX_CODE_PREFIX: Final = "4512."
BACKORDER_AVAILABLE_DAYS: Final = 7
MAX_EVENT_TYPES: Final = 20
RATE_LIMIT_DEFAULT: Final = 25.0
REQUEST_LOG_LIMIT: Final = 500_000

#: Ids: no length is documented (docs/digital-river-api.md §2, §17); ids are path segments.
ID_MAX_LENGTH: Final = 255
#: Ids a URL path cannot carry: as a segment they mean "this folder" and "the parent".
ID_DOT_SEGMENTS: Final = frozenset({".", ".."})
#: Characters of one ECCN paragraph reference (``.c``, ``.b.12``); the CCL's own are short.
ECCN_PARAGRAPH_MAX: Final = 3
#: Request bodies: the deepest nesting kept, and the integer range (a signed 64-bit long).
BODY_MAX_DEPTH: Final = 32
INTEGER_MIN: Final = -(2**63)
INTEGER_MAX: Final = 2**63 - 1


@dataclass(frozen=True)
class Assumption:
    """One open point of docs/digital-river-api.md and what the sandbox does about it."""

    topic: str
    choice: str
    section: str


ASSUMPTIONS: Final[tuple[Assumption, ...]] = (
    Assumption(
        "List order",
        "Newest `createdTime` first; ties by creation order (later first); `startingAfter` "
        "moves toward older objects, `endingBefore` toward newer ones. PUT on an existing SKU "
        "keeps its place.",
        "§5",
    ),
    Assumption(
        "Array query parameters",
        "Accepted both repeated (`ids=a&ids=b`) and comma-separated (`ids=a,b`).",
        "§5",
    ),
    Assumption(
        "Bad list parameters",
        "`limit` outside 1..100, an unknown cursor id, both cursors at once, or a malformed "
        "time: 400 `invalid_parameter` naming the parameter. Unknown query parameters are "
        "ignored. `createdTime` / `updatedTime` accept a plain value (equality) and "
        "`[gt|gte|lt|lte|eq]` on every list.",
        "§5",
    ),
    Assumption(
        "`hasMore` on the fulfillment-orders list",
        "Always present, as on every other list.",
        "§5, §10.1",
    ),
    Assumption(
        "Secret keys and modes",
        "`sk_test_...` = test mode, any other `sk_` key = live mode; each mode has one data set "
        "shared by all its keys. A key must match `sk_[A-Za-z0-9_]+`.",
        "§1",
    ),
    Assumption(
        "Basic authentication",
        "Accepted with the key as user name (password ignored), as in DR's curl samples.",
        "§1",
    ),
    Assumption(
        "Rate limit",
        f"Per key, token bucket of capacity N refilled at N/s (default {RATE_LIMIT_DEFAULT:g}); "
        "429 `too_many_requests` with an integer `Retry-After` of at least 1.",
        "§4",
    ),
    Assumption(
        "Generic error codes",
        "Errors DR gives only a type for (429, 404 unknown route, 405, injected 5xx) "
        "use the type as `code` and carry no `parameter`.",
        "§3.2",
    ),
    Assumption(
        "Duplicate id on create",
        f"`POST /skus` or `POST /inventory-items` with a taken id: 409 `conflict`, code "
        f"`{CODE_ALREADY_EXISTS}`, parameter `id`.",
        "§3.3, §17",
    ),
    Assumption(
        "Id charset",
        "SKU and inventory-item ids must match `^[A-Za-z0-9._-]+$` (the strictest current "
        f"rule), hold at most {ID_MAX_LENGTH} characters (no length is given; ids are path "
        "segments) and not be `.` or `..` (dot segments). Inventory items use the message "
        "`'<id>' is not a valid inventory item ID.`",
        "§2",
    ),
    Assumption(
        "SKU upsert",
        "`PUT /skus/{id}` replaces the whole representation (absent fields are cleared): 201 "
        "when created, 200 when replaced. An `id` in the body must equal the path.",
        "§7.1",
    ),
    Assumption(
        "Explicit null on update",
        "`POST /skus/{id}` and `POST /inventory-items/{id}` clear any field sent as `null`; a "
        "cleared field is omitted from responses. Required fields (`name`, `partNumber`) cannot "
        "be cleared: 400 `invalid_parameter` `'null' is not a valid parameter.`",
        "§7.1",
    ),
    Assumption(
        "Inventory-item update status",
        "`POST /inventory-items/{id}` answers 201, as the SDK says; unknown id: 404.",
        "§8.1",
    ),
    Assumption(
        "Required SKU fields",
        "`name`; and without `skuGroupId`, `countryOfOrigin`, `eccn`, `taxCode`: missing one is "
        "400 `missing_parameter` `The <field> is missing.`",
        "§7.4",
    ),
    Assumption(
        "Unknown and read-only body fields",
        "400 `unknown_parameter` `'<field>' is an unknown parameter.`, except `allowOversell` on "
        "SKU writes, which is ignored and never emitted.",
        "§3.3, §7.3",
    ),
    Assumption(
        "ECCN check",
        "Format only: `EAR99`, or a Commerce Control List number (a digit, a group letter "
        "`A`-`E`, three digits, then optional paragraphs of a dot and 1 to "
        f"{ECCN_PARAGRAPH_MAX} lower-case letters or digits, as in `5A992.c`); case matters. "
        "DR's approved list is not known.",
        "§7.3",
    ),
    Assumption(
        "HS code format",
        "6 to 10 ASCII digits, with an optional dot after the 4th and after the 6th digit "
        "(`####.##.####`) and nowhere else; format only.",
        "§7.3",
    ),
    Assumption(
        "Country of origin",
        "An upper-case ISO 3166-1 alpha-2 code, except `KP`, the one refused code DR names; "
        "alpha-3 codes, names and lower case are 400 `invalid_parameter`. Addresses take any "
        "alpha-2 code.",
        "§2, §7.3",
    ),
    Assumption(
        "Weight",
        "`weight` is any JSON number, zero and negative included (DR documents a double and no "
        "range); `weightUnit` is exactly `oz`, `lb`, `g` or `kg`.",
        "§7.3",
    ),
    Assumption(
        "Unrepresentable bodies",
        "A body that is not UTF-8 or not JSON, or holds a lone surrogate (a `\\ud800`-style "
        "escape, in a value or a name), `NaN`, `Infinity`, a number beyond a double, an integer "
        f"outside 64 bits or nesting deeper than {BODY_MAX_DEPTH} levels: 400 `invalid_request`, "
        "no parameter; nothing is stored.",
        "§3.1",
    ),
    Assumption(
        "`physical` from `taxCode`",
        "`4323.310_A` physical, `4512.100_A` digital; any other code starting `4512.` digital, "
        "every other code, and a SKU without `taxCode`, physical.",
        "§7.3",
    ),
    Assumption(
        "Deleting a SKU",
        "Deletes the SKU only; its inventory item stays. Nothing answers 409 on delete.",
        "§7.1",
    ),
    Assumption(
        "Inventory-item events",
        "None are emitted (DR lists only `sku.*`).",
        "§14.3",
    ),
    Assumption(
        "Fulfillment-order ids",
        "Fulfillment-order and line ids are JSON integers on the fulfillment order; shipments "
        "and cancellations refer to them as strings. Requests accept either.",
        "§2, §10.3",
    ),
    Assumption(
        "Fulfillment-order creation",
        "Every `inventoryItemId` must name an existing inventory item (400 `invalid_parameter`); "
        "a second fulfillment order with the same `upstreamId` is accepted.",
        "§6, §17",
    ),
    Assumption(
        "Fulfillment-order state",
        "`cancelled` when every line is cancelled, `shipped` when anything shipped, else "
        "`pending`. Line state: `shipped` if any unit shipped, `cancelled` if nothing is open, "
        "`backordered` if only backordered units are open, else `pending`.",
        "§10.3",
    ),
    Assumption(
        "Backorder event",
        f"Only the lines backordered by the event are extended: `ordered` (line quantity), "
        f"`backordered` (units backordered by this event), `totalBackordered` (running sum), "
        f"`availableTime` (+{BACKORDER_AVAILABLE_DAYS} days).",
        "§14.3, §16.8",
    ),
    Assumption(
        "Cancellation decisions",
        "Decided synchronously: the POST answers with the decided cancellation. Accept policy: "
        "each line gets `quantityAccepted` = what is still pending or backordered (shipped units "
        f"are refused). A quantity above the line's quantity is 409 `{CODE_QUANTITY_TOO_LARGE}`. "
        "The resource carries `liveMode` (not `livemode`).",
        "§11",
    ),
    Assumption(
        "Over-fulfilling and over-cancelling",
        f"`POST /fulfillments` asking more than is open on a line: 409 `conflict`, code "
        f"`{CODE_QUANTITY_TOO_LARGE}`, parameter `items[N].quantity` or "
        "`items[N].cancelQuantity`; nothing is applied.",
        "§3.3, §17",
    ),
    Assumption(
        "Finished orders",
        f"`POST /fulfillments` on a `fulfilled` or `complete` order: 409 `{CODE_ORDER_FULFILLED}` "
        f"(documented); on a `cancelled` order: 409 `{CODE_ORDER_CANCELLED}` (invented).",
        "§3.3, §13.2",
    ),
    Assumption(
        "Fulfillment requests",
        "`shipmentId` is optional but must name a known shipment; lines are matched by `itemId`, "
        "or by `skuId` (first open line); numeric strings are coerced to integers; an unknown "
        "`orderId` is 404 `not_found`.",
        "§13.2, §17",
    ),
    Assumption(
        "Payment amounts",
        "A line's unit value is (amount + tax) / quantity; shipping is captured with the last "
        "capture or cancelled with the last cancel. Captures and cancels complete at once.",
        "§13.2",
    ),
    Assumption(
        "Order completion",
        "When every line is fulfilled or cancelled: all cancelled -> `order.cancelled`; "
        "otherwise `order.fulfilled` then `order.complete`.",
        "§9.3",
    ),
    Assumption(
        "Events",
        f"Bare UUID ids; `{VERSION_FIELD}` = `{API_VERSION}`; no `webhookIds` (no webhooks "
        "exist here); kept forever (not 30 days). `type` accepts `*` as a wildcard for any run "
        f"of characters; `types` accepts up to {MAX_EVENT_TYPES} names; both at once is 400 "
        "`invalid_parameter`.",
        "§14.1, §14.2",
    ),
    Assumption(
        "`fulfillment.created` name",
        "`fulfillment.created`, as in every sample.",
        "§14.3",
    ),
    Assumption(
        "Request log",
        f"`query` is the raw query string; `body` the parsed JSON (or the raw text, or null); "
        f"`status` null when the connection was dropped; `user_agent` the client's User-Agent "
        f"header (null without one). Keeps the last {REQUEST_LOG_LIMIT:,} "
        "entries.",
        "—",
    ),
    Assumption(
        "Fault order",
        "Authentication, then the rate limit, then faults: latency, `reset` (dropped before "
        "handling), `rate` (an injected status), `after_commit` (writes only).",
        "—",
    ),
)


def markdown_table() -> str:
    """The table as ``docs/sandbox.md`` shows it (a test keeps the two identical)."""
    lines = [
        "| topic | what the sandbox does | docs/digital-river-api.md |",
        "| --- | --- | --- |",
    ]
    lines += [
        f"| {_cell(row.topic)} | {_cell(row.choice)} | {_cell(row.section)} |"
        for row in ASSUMPTIONS
    ]
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")
