"""The SKU / inventory-item pair and which API field lives on which side (reference §7, §8).

This is the only module that knows the field mapping, so the catalog, the planner, the apply
layer and the sandbox cannot disagree about where ``allowOversell`` goes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, TypeAlias

JSON: TypeAlias = "str | int | float | bool | list[JSON] | dict[str, JSON] | None"
MetadataValue: TypeAlias = str | bool | int

#: Reference §8.3: must hold identical values on the SKU and on its inventory item.
SHARED_FIELDS: Final = ("manufacturerId", "partNumber", "countryOfOrigin", "eccn", "hsCode")
#: Written to the SKU only. ``managedFulfillment`` is deliberately absent: setting it hands the
#: pair to Digital River (orchestrated model), which is exactly what catalog-sync must not do.
SKU_ONLY_FIELDS: Final = (
    "name",
    "description",
    "taxCode",
    "skuGroupId",
    "image",
    "url",
    "weight",
    "weightUnit",
    "itemBreadcrumb",
    "metadata",
)
#: From API version 2021-12-13 on, ``allowOversell`` can only be set on the inventory item.
ITEM_ONLY_FIELDS: Final = ("allowOversell",)

#: Every field a catalog row may set, in the order reports show them.
CATALOG_FIELDS: Final = (
    "id",
    "name",
    "description",
    "taxCode",
    "eccn",
    "hsCode",
    "countryOfOrigin",
    "partNumber",
    "manufacturerId",
    "skuGroupId",
    "weight",
    "weightUnit",
    "allowOversell",
    "image",
    "url",
    "itemBreadcrumb",
    "metadata",
)
SKU_FIELDS: Final = tuple(f for f in CATALOG_FIELDS if f in SHARED_FIELDS + SKU_ONLY_FIELDS)
ITEM_FIELDS: Final = tuple(f for f in CATALOG_FIELDS if f in SHARED_FIELDS + ITEM_ONLY_FIELDS)
#: Fields the API computes; never written, never compared.
READ_ONLY_FIELDS: Final = frozenset({"id", "createdTime", "updatedTime", "physical", "liveMode"})
#: A SKU's ``physical`` is derived from these, so changing one may turn a SKU digital or physical.
PHYSICAL_DECIDING_FIELDS: Final = frozenset({"taxCode", "skuGroupId"})

#: The inventory item's ``allowOversell`` reads back as ``false`` when never set; a catalog row
#: that does not set it therefore means ``false``, or every audit would report a difference.
ALLOW_OVERSELL_DEFAULT: Final = False


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Where a pair is defined: the line where its record starts."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class DesiredPair:
    """What the catalog says one pair must be, in API field names, only fields that are set.

    ``sku`` is the full ``PUT /skus/{id}`` body (no ``id``); ``item`` holds the inventory item's
    fields (shared attributes and ``allowOversell``, no ``id``). Treat both as read-only.
    """

    id: str
    sku: Mapping[str, JSON]
    item: Mapping[str, JSON]
    source: SourceRef

    def content_hash(self) -> str:
        """Digest of what would be written, so the state can tell an unchanged pair cheaply.

        The source location is left out: moving a row between files or lines writes nothing.
        """
        canonical = json.dumps(
            {"id": self.id, "sku": self.sku, "item": self.item},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


def _managed(api_object: Mapping[str, JSON], names: tuple[str, ...]) -> dict[str, JSON]:
    managed: dict[str, JSON] = {}
    for name in names:
        value = api_object.get(name)
        if value is None or value == {}:
            continue
        managed[name] = value
    return managed


def desired_pair(pair_id: str, fields: Mapping[str, JSON], source: SourceRef) -> DesiredPair:
    """Split one catalog record's API fields onto the two sides of its pair."""
    sku, item = _managed(fields, SKU_FIELDS), _managed(fields, ITEM_FIELDS)
    item.setdefault("allowOversell", ALLOW_OVERSELL_DEFAULT)
    return DesiredPair(id=pair_id, sku=sku, item=item, source=source)


@dataclass(frozen=True, slots=True)
class ActualPair:
    """Both sides of a pair as read from the API; either may be missing.

    The objects are kept as the API returned them (read-only and unknown fields included);
    compare them through :func:`sku_fields` and :func:`item_fields`.
    """

    id: str
    sku: Mapping[str, JSON] | None = None
    item: Mapping[str, JSON] | None = None

    @property
    def physical(self) -> bool | None:
        """The API's classification of the SKU; ``None`` when there is no SKU to ask."""
        if self.sku is None:
            return None
        return self.sku.get("physical") is True

    @property
    def exists(self) -> bool:
        """Whether any side of the pair exists remotely."""
        return self.sku is not None or self.item is not None


def sku_fields(api_sku: Mapping[str, JSON]) -> dict[str, JSON]:
    """The fields catalog-sync manages on a SKU; ``null`` and an empty metadata mean "not set"."""
    return _managed(api_sku, SKU_FIELDS)


def item_fields(api_item: Mapping[str, JSON]) -> dict[str, JSON]:
    """The fields catalog-sync manages on an inventory item; ``null`` means "not set"."""
    return _managed(api_item, ITEM_FIELDS)


@dataclass(frozen=True, slots=True)
class SideMismatch:
    """A shared attribute holding different values on the SKU and on its inventory item."""

    field: str
    sku_value: JSON
    item_value: JSON


def side_mismatches(pair: ActualPair) -> tuple[SideMismatch, ...]:
    """Shared attributes on which the two existing sides of ``pair`` disagree."""
    if pair.sku is None or pair.item is None:
        return ()
    return tuple(
        SideMismatch(name, pair.sku.get(name), pair.item.get(name))
        for name in SHARED_FIELDS
        if pair.sku.get(name) != pair.item.get(name)
    )
