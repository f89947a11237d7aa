"""SKUs and inventory items (docs/digital-river-api.md §7, §8): writes, checks, ``physical``.

A SKU and its inventory item pair by sharing the ``id`` (docs/digital-river-api.md §8.3);
neither resource checks that the other exists, so the daemon alone keeps the pair in step.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

from catalog_sync.sandbox import rules
from catalog_sync.sandbox import validation as v
from catalog_sync.sandbox.assumptions import (
    CODE_ALREADY_EXISTS,
    DIGITAL_TAX_CODE_PREFIX,
    TAX_CODE_PHYSICAL,
)
from catalog_sync.sandbox.clock import stamp
from catalog_sync.sandbox.dataset import DataSet
from catalog_sync.sandbox.errors import conflict, invalid_parameter, not_found
from catalog_sync.sandbox.events import emit
from catalog_sync.sandbox.store import Collection, Obj

SKU_KINDS: Final[dict[str, v.Check]] = {
    "name": v.text,
    "description": v.text,
    "eccn": v.eccn,
    "hsCode": v.hs_code,
    "taxCode": v.non_empty_text,
    "countryOfOrigin": v.country,
    "partNumber": v.text,
    "manufacturerId": v.text,
    "skuGroupId": v.text,
    "managedFulfillment": v.managed_fulfillment,
    "image": v.text,
    "url": v.text,
    "weight": v.number,
    "weightUnit": v.weight_unit,
    "itemBreadcrumb": v.text,
    "metadata": v.metadata,
}
ITEM_KINDS: Final[dict[str, v.Check]] = {
    "manufacturerId": v.text,
    "partNumber": v.text,
    "eccn": v.eccn,
    "hsCode": v.hs_code,
    "countryOfOrigin": v.country,
    "allowOversell": v.boolean,
}
#: Fields a SKU needs unless a SKU group supplies them (docs/digital-river-api.md §7.4).
_UNGROUPED_REQUIRED: Final = ("countryOfOrigin", "eccn", "taxCode")
#: docs/digital-river-api.md §7.3: tolerated on SKU writes, never stored (not settable from
#: 2021-12-13).
_IGNORED_ON_SKUS: Final = frozenset({"allowOversell"})
_DEFAULT_WEIGHT_UNIT: Final = "oz"
#: Field order of the Sku model (docs/digital-river-api.md §7.3), ``physical`` being derived.
_SKU_FIELD_ORDER: Final = (
    *("name", "description", "eccn", "hsCode", "taxCode", "countryOfOrigin", "partNumber"),
    *("manufacturerId", "skuGroupId", "managedFulfillment", "physical", "image", "url"),
    *("weight", "weightUnit", "itemBreadcrumb", "metadata"),
)


def is_physical(tax_code: str | None) -> bool:
    """Derive a SKU's read-only ``physical`` from its tax code (see the assumptions table)."""
    if tax_code is None:
        return True
    known = TAX_CODE_PHYSICAL.get(tax_code)
    if known is not None:
        return known
    return not tax_code.startswith(DIGITAL_TAX_CODE_PREFIX)


# -- SKUs -------------------------------------------------------------------------------------


def create_sku(data: DataSet, body: Obj) -> bytes:
    """``POST /skus``: a new SKU, 409 when the id is taken; its stored JSON."""
    sku_id = _new_id(body, "SKU")
    if sku_id in data.skus:
        raise conflict(CODE_ALREADY_EXISTS, "id", f"SKU '{sku_id}' already exists.")
    fields = _sku_fields({k: val for k, val in body.items() if k != "id"})
    return _store_sku(data, sku_id, fields, previous=None)


def upsert_sku(data: DataSet, sku_id: str, body: Obj) -> tuple[bytes, bool]:
    """``PUT /skus/{id}``: create or replace the whole representation; its stored JSON, and
    whether it created."""
    _check_id(sku_id, "SKU")
    _path_id_matches(body, sku_id)
    fields = _sku_fields({k: val for k, val in body.items() if k != "id"})
    previous = data.skus.get(sku_id)
    return _store_sku(data, sku_id, fields, previous=previous), previous is None


def update_sku(data: DataSet, sku_id: str, body: Obj) -> bytes:
    """``POST /skus/{id}``: change only the fields sent; ``null`` clears; its stored JSON."""
    previous = existing(data.skus, sku_id, "Sku")
    changes = v.check_fields(
        body, SKU_KINDS, required=("name",), ignored=_IGNORED_ON_SKUS, nulls=True
    )
    fields = {k: val for k, val in previous.items() if k in SKU_KINDS}
    fields.update(changes)
    return _store_sku(data, sku_id, _default_unit(fields), previous=previous)


def delete_sku(data: DataSet, sku_id: str) -> None:
    """``DELETE /skus/{id}``: the SKU only; a paired inventory item survives.

    docs/digital-river-api.md §7.1 leaves this open; the choice is in the assumptions table.
    """
    removed = data.skus.json(sku_id)
    if removed is None:
        raise not_found("Sku", sku_id)
    data.skus.delete(sku_id)
    emit(data, "sku.deleted", removed)


def _sku_fields(body: Obj) -> Obj:
    fields = v.check_fields(body, SKU_KINDS, required=("name",), ignored=_IGNORED_ON_SKUS)
    if "skuGroupId" not in fields:
        v.require(fields, _UNGROUPED_REQUIRED)
    return _default_unit(fields)


def _default_unit(fields: Obj) -> Obj:
    """docs/digital-river-api.md §7.3: a weight without a unit is in ounces."""
    if fields.get("weight") is not None and fields.get("weightUnit") is None:
        fields["weightUnit"] = _DEFAULT_WEIGHT_UNIT
    return fields


def _store_sku(data: DataSet, sku_id: str, fields: Obj, previous: Obj | None) -> bytes:
    """Store the SKU and its event; returns the stored JSON, which the answer carries as is."""
    now = stamp(data.clock.now())
    sku: Obj = {"id": sku_id, "createdTime": previous["createdTime"] if previous else now}
    if previous is not None:
        sku["updatedTime"] = now
    for name in _SKU_FIELD_ORDER:
        if name == "physical":
            sku["physical"] = is_physical(fields.get("taxCode"))
        else:
            _copy(fields, sku, name)
    sku["liveMode"] = data.live
    stored = data.skus.put(sku_id, sku)
    if previous is None:
        emit(data, "sku.created", stored)
    else:
        emit(data, "sku.updated", stored, _changed(previous, sku))
    return stored


# -- inventory items --------------------------------------------------------------------------


def create_item(data: DataSet, body: Obj) -> bytes:
    """``POST /inventory-items``: a new item, 409 when the id is taken; its stored JSON."""
    item_id = _new_id(body, "inventory item")
    if item_id in data.inventory_items:
        raise conflict(CODE_ALREADY_EXISTS, "id", f"InventoryItem '{item_id}' already exists.")
    fields = v.check_fields(
        {k: val for k, val in body.items() if k != "id"}, ITEM_KINDS, required=("partNumber",)
    )
    return _store_item(data, item_id, fields, previous=None)


def update_item(data: DataSet, item_id: str, body: Obj) -> bytes:
    """``POST /inventory-items/{id}``: change only the fields sent; ``null`` clears; its stored
    JSON."""
    previous = existing(data.inventory_items, item_id, "InventoryItem")
    fields = {k: val for k, val in previous.items() if k in ITEM_KINDS}
    fields.update(v.check_fields(body, ITEM_KINDS, required=("partNumber",), nulls=True))
    return _store_item(data, item_id, fields, previous=previous)


def delete_item(data: DataSet, item_id: str) -> None:
    """``DELETE /inventory-items/{id}``."""
    if not data.inventory_items.delete(item_id):
        raise not_found("InventoryItem", item_id)


def _store_item(data: DataSet, item_id: str, fields: Obj, previous: Obj | None) -> bytes:
    now = stamp(data.clock.now())
    item: Obj = {"id": item_id, "createdTime": previous["createdTime"] if previous else now}
    if previous is not None:
        item["updatedTime"] = now
    for name in ITEM_KINDS:
        _copy(fields, item, name)
    item["liveMode"] = data.live
    return data.inventory_items.put(item_id, item)


# -- shared -----------------------------------------------------------------------------------


def existing(collection: Collection, object_id: str, resource: str) -> Obj:
    """Return the object or the API's 404 naming ``resource``."""
    found = collection.get(object_id)
    if found is None:
        raise not_found(resource, object_id)
    return found


def _new_id(body: Obj, what: str) -> str:
    value = body.get("id")
    if value is None:
        return uuid.uuid4().hex
    return _check_id(value, what)


def _check_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not rules.is_id(value):
        raise invalid_parameter("id", value, f"{what} ID")
    return value


def _path_id_matches(body: Obj, path_id: str) -> None:
    if "id" in body and body["id"] != path_id:
        raise invalid_parameter("id", body["id"])


def _copy(source: Obj, target: Obj, name: str) -> None:
    value = source.get(name)
    if value is not None:
        target[name] = value


def _changed(before: Obj, after: Obj) -> dict[str, Any]:
    """``previousAttributes``: the old value of every field that changed."""
    names = (set(before) | set(after)) - {"updatedTime"}
    return {name: before.get(name) for name in sorted(names) if before.get(name) != after.get(name)}
