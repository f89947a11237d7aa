"""Typed views of the Digital River resources catalog-sync reads and writes.

Attributes are snake_case; the wire names are the API's camelCase exactly
(docs/digital-river-api.md §7-§14), produced by one alias generator so no field can be misspelt
by hand. Response models are tolerant readers: DR adds fields without notice
(docs/digital-river-api.md §1), so unknown fields are kept in ``model_extra`` instead of failing
or being dropped. Ids are strings even where the API sends JSON numbers (fulfillment orders and
their lines, docs/digital-river-api.md §2): code never parses ids.

Request models refuse unknown top-level fields, so a typo fails here and not as a
``400 unknown_parameter`` at the API; :meth:`Request.to_json` sends only what was set, which is
what makes ``POST /skus/{id}`` a partial update and an explicit ``None`` a clearing ``null``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel


def _id_to_str(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


#: An id as the API sends it, normalised to ``str``: some are JSON numbers
#: (docs/digital-river-api.md §2).
Id = Annotated[str, BeforeValidator(_id_to_str)]
Metadata = dict[str, str | bool | int]

_COMMON = ConfigDict(
    alias_generator=to_camel,
    validate_by_name=True,
    validate_by_alias=True,
    serialize_by_alias=True,
)


class Resource(BaseModel):
    """Base of every model read from the API: keeps fields this code does not know."""

    model_config = ConfigDict(**_COMMON, extra="allow")


class Request(BaseModel):
    """Base of every request body: unknown fields are a programming error."""

    model_config = ConfigDict(**_COMMON, extra="forbid")

    def to_json(self) -> bytes:
        """Return the JSON body as sent: API names, only the fields that were set.

        Serialised by pydantic-core in one step, not dumped to a dict and encoded again.
        """
        return self.model_dump_json(by_alias=True, exclude_unset=True).encode()


class Identified(Resource):
    """A top-level resource: lists page by its ``id`` (``startingAfter``)."""

    id: Id


M = TypeVar("M", bound=Resource)


# -- shared value objects ---------------------------------------------------------------------


class Address(Resource):
    """A postal address as orders and fulfillment orders carry it."""

    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    postal_code: str | None = None
    state: str | None = None
    country: str | None = None


class Contact(Resource):
    """``shipTo`` / ``billTo``: an address and who receives at it.

    Read on orders (docs/digital-river-api.md §9.2), sent on fulfillment orders (§10.2).
    """

    address: Address | None = None
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    organization: str | None = None
    additional_address_info: str | None = None


class Tax(Resource):
    """A line's tax: ``rate`` on order lines, ``amount`` (+ ``items``) on fulfillment lines."""

    rate: float | None = None
    amount: float | None = None


# -- SKUs and inventory items (docs/digital-river-api.md §7, §8) -----------------------------------


class Sku(Identified):
    """A SKU as the API returns it; ``physical`` is read-only, derived from ``taxCode``."""

    created_time: datetime | None = None
    updated_time: datetime | None = None
    name: str | None = None
    description: str | None = None
    eccn: str | None = None
    hs_code: str | None = None
    tax_code: str | None = None
    country_of_origin: str | None = None
    part_number: str | None = None
    manufacturer_id: str | None = None
    sku_group_id: str | None = None
    managed_fulfillment: str | None = None
    physical: bool | None = None
    image: str | None = None
    url: str | None = None
    weight: float | None = None
    weight_unit: str | None = None
    item_breadcrumb: str | None = None
    metadata: Metadata | None = None
    live_mode: bool | None = None


class InventoryItem(Identified):
    """An inventory item: the fulfilment half of a SKU pair, sharing its ``id``."""

    created_time: datetime | None = None
    updated_time: datetime | None = None
    manufacturer_id: str | None = None
    part_number: str | None = None
    eccn: str | None = None
    hs_code: str | None = None
    country_of_origin: str | None = None
    allow_oversell: bool | None = None
    live_mode: bool | None = None


class SkuUpsert(Request):
    """``PUT /skus/{id}``: the full desired representation; ``name`` is required, and an
    explicit ``None`` clears a field."""

    name: str
    description: str | None = None
    eccn: str | None = None
    hs_code: str | None = None
    tax_code: str | None = None
    country_of_origin: str | None = None
    part_number: str | None = None
    manufacturer_id: str | None = None
    sku_group_id: str | None = None
    managed_fulfillment: str | None = None
    image: str | None = None
    url: str | None = None
    weight: float | None = None
    weight_unit: str | None = None
    item_breadcrumb: str | None = None
    metadata: Metadata | None = None


class InventoryItemUpdate(Request):
    """``POST /inventory-items/{id}``: only the fields set change."""

    manufacturer_id: str | None = None
    part_number: str | None = None
    eccn: str | None = None
    hs_code: str | None = None
    country_of_origin: str | None = None
    allow_oversell: bool | None = None


class InventoryItemCreate(InventoryItemUpdate):
    """``POST /inventory-items``: the ``id`` may only be given here, not on update."""

    id: str | None = None


# -- orders (docs/digital-river-api.md §9) ---------------------------------------------------------


class ShippingChoice(Resource):
    """The order's shipping choice; ``service_level`` becomes the fulfillment order's choice."""

    amount: float | None = None
    tax_amount: float | None = None
    description: str | None = None
    service_level: str | None = None
    shipping_terms: str | None = None


class ProductDetails(Resource):
    """What the order line says about the product it sold."""

    id: Id | None = None
    sku_group_id: str | None = None
    name: str | None = None
    description: str | None = None
    url: str | None = None
    country_of_origin: str | None = None
    image: str | None = None
    weight: float | None = None
    weight_unit: str | None = None
    part_number: str | None = None


class OrderItem(Resource):
    """An order line; its ``id`` (never the SKU) keys all per-line work downstream."""

    id: Id
    sku_id: Id | None = None
    quantity: int = 0
    state: str | None = None
    state_transitions: dict[str, datetime] | None = None
    amount: float | None = None
    tax: Tax | None = None
    product_details: ProductDetails | None = None
    metadata: Metadata | None = None


class Order(Identified):
    """An order, read side only (the storefront creates orders, docs/digital-river-api.md §9.1)."""

    upstream_id: str | None = None
    checkout_id: str | None = None
    created_time: datetime | None = None
    updated_time: datetime | None = None
    currency: str | None = None
    locale: str | None = None
    email: str | None = None
    ship_to: Contact | None = None
    bill_to: Contact | None = None
    ship_from: Contact | None = None
    shipping_choice: ShippingChoice | None = None
    items: list[OrderItem] = Field(default_factory=list)
    state: str | None = None
    state_transitions: dict[str, datetime] | None = None
    fraud_state: str | None = None
    total_amount: float | None = None
    subtotal: float | None = None
    total_tax: float | None = None
    total_shipping: float | None = None
    captured_amount: float | None = None
    cancelled_amount: float | None = None
    refunded_amount: float | None = None
    payment: dict[str, Any] | None = None
    live_mode: bool | None = None
    metadata: Metadata | None = None


# -- fulfillment orders (docs/digital-river-api.md §10) --------------------------------------------


class FulfillmentShippingChoice(Resource):
    """A fulfillment order's shipping choice (``id`` = the order's ``serviceLevel``)."""

    id: str | None = None
    shipping_instructions: str | None = None
    duties_paid: bool | None = None
    signature_required_type: str | None = None


class FulfillmentOrderItem(Resource):
    """A fulfillment-order line; the five counters sum to ``quantity`` and are cumulative."""

    id: Id
    upstream_id: str | None = None
    inventory_item_id: Id | None = None
    name: str | None = None
    quantity: int = 0
    pending: int = 0
    backordered: int = 0
    shipped: int = 0
    cancelled: int = 0
    returned: int = 0
    total_backordered: int | None = None
    subtotal: float | None = None
    total: float | None = None
    tax: Tax | None = None
    gift_message: str | None = None
    gift_wrap: bool | None = None
    state: str | None = None


class FulfillmentOrder(Identified):
    """A fulfillment order; ``upstream_id`` is the DR order id by convention (no ``orderId``)."""

    created_time: datetime | None = None
    currency: str | None = None
    locale: str | None = None
    upstream_order_time: datetime | None = None
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    reservation_id: str | None = None
    upstream_id: str | None = None
    ship_to: Contact | None = None
    shipping_choice: FulfillmentShippingChoice | None = None
    items: list[FulfillmentOrderItem] = Field(default_factory=list)
    state: str | None = None
    live_mode: bool | None = None


class FulfillmentOrderItemCreate(Request):
    """A line of ``POST /fulfillment-orders``: ``upstream_id`` = the order line id."""

    inventory_item_id: str
    quantity: int
    upstream_id: str | None = None
    tax: Tax | None = None
    total: float | None = None
    subtotal: float | None = None
    name: str | None = None
    gift_message: str | None = None
    gift_wrap: bool | None = None


class FulfillmentOrderCreate(Request):
    """``POST /fulfillment-orders``; ``upstream_id`` is the natural key for read-back."""

    currency: str
    upstream_order_time: datetime
    ship_to: Contact
    shipping_choice: FulfillmentShippingChoice
    items: list[FulfillmentOrderItemCreate]
    upstream_id: str | None = None
    locale: str | None = None
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    reservation_id: str | None = None


# -- fulfillment cancellations (docs/digital-river-api.md §11) -------------------------------------


class FulfillmentCancellationItem(Resource):
    """A cancellation line; ``quantity_accepted < quantity`` means the fulfiller refused part."""

    fulfillment_order_item_id: Id
    fulfillment_order_item_upstream_id: str | None = None
    inventory_item_id: Id | None = None
    quantity: int = 0
    quantity_accepted: int | None = None
    state: str | None = None


class FulfillmentCancellation(Identified):
    """A request to the fulfiller to cancel lines; the SDK spells ``livemode`` in lower case."""

    created_time: datetime | None = None
    fulfillment_order_id: Id | None = None
    upstream_id: str | None = None
    reason: str | None = None
    state: str | None = None
    live_mode: bool | None = Field(
        default=None, validation_alias=AliasChoices("liveMode", "livemode", "live_mode")
    )
    items: list[FulfillmentCancellationItem] = Field(default_factory=list)


class FulfillmentCancellationItemCreate(Request):
    """A line of ``POST /fulfillment-cancellations``."""

    fulfillment_order_item_id: str
    quantity: int
    fulfillment_order_item_upstream_id: str | None = None


class FulfillmentCancellationCreate(Request):
    """``POST /fulfillment-cancellations``: only ``pending`` / ``backordered`` lines qualify."""

    fulfillment_order_id: str
    items: list[FulfillmentCancellationItemCreate]
    upstream_id: str | None = None
    reason: str | None = None


# -- shipments (docs/digital-river-api.md §12) ----------------------------------------------------


class ShipmentItem(Resource):
    """Units of one fulfillment-order line in one shipment (this shipment's only)."""

    id: Id
    fulfillment_order_item_id: Id | None = None
    fulfillment_order_item_upstream_id: str | None = None
    inventory_item_id: Id | None = None
    quantity: int = 0


class Shipment(Identified):
    """What the fulfiller shipped; a capture names it (``shipmentId``)."""

    created_time: datetime | None = None
    fulfillment_order_id: Id | None = None
    fulfillment_order_upstream_id: str | None = None
    items: list[ShipmentItem] = Field(default_factory=list)
    tracking_company: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    live_mode: bool | None = None


# -- fulfillments (docs/digital-river-api.md §13) --------------------------------------------------


class FulfillmentItem(Resource):
    """A fulfilled line: ``quantity`` captured, ``cancel_quantity`` cancelled."""

    item_id: Id | None = None
    sku_id: Id | None = None
    shipment_item_id: Id | None = None
    quantity: int = 0
    cancel_quantity: int = 0


class Fulfillment(Identified):
    """A payment capture and/or cancel; immutable once created."""

    created_time: datetime | None = None
    order_id: Id | None = None
    shipment_id: Id | None = None
    items: list[FulfillmentItem] = Field(default_factory=list)
    tracking_company: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    metadata: Metadata | None = None
    live_mode: bool | None = None
    order_details: Order | None = None


class FulfillmentItemCreate(Request):
    """A line of ``POST /fulfillments``; send ``item_id`` always (lines can share a SKU)."""

    item_id: str | None = None
    sku_id: str | None = None
    shipment_item_id: str | None = None
    quantity: int | None = None
    cancel_quantity: int | None = None


class FulfillmentCreate(Request):
    """``POST /fulfillments``: captures need ``shipment_id`` in the distributed model."""

    order_id: str
    items: list[FulfillmentItemCreate]
    shipment_id: str | None = None
    tracking_company: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    metadata: Metadata | None = None
