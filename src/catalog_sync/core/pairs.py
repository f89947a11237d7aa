"""The SKU / inventory-item pair and which API field lives on which side.

The API's side of it is in docs/digital-river-api.md §7 (SKUs) and §8 (inventory items).

This is the only module that knows the field mapping, so the catalog, the planner, the apply
layer and the sandbox cannot disagree about where ``allowOversell`` goes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Final, TypeAlias

JSON: TypeAlias = "str | int | float | bool | list[JSON] | dict[str, JSON] | None"

#: docs/digital-river-api.md §8.3: must hold identical values on the SKU and on its inventory item.
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


class Schema:
    """Which names a :class:`Fields` exposes and where each one sits in its value tuple.

    Shared by every object of one kind, so the per-object cost is the value tuple alone.
    """

    __slots__ = ("index", "names")

    def __init__(self, names: tuple[str, ...], positions: tuple[int, ...] | None = None) -> None:
        self.names = names
        self.index = dict(zip(names, positions or range(len(names)), strict=True))


class Fields(Mapping[str, JSON]):
    """A read-only mapping over a tuple of values in a fixed field order; ``None`` is "not set".

    A catalog of 100,000 pairs and an audit's 200,000 remote objects held as dicts cost about
    a kilobyte each; one value tuple behind a shared :class:`Schema` costs a fifth of that, and
    its values can be the very objects another side holds.
    """

    __slots__ = ("_schema", "_values")

    def __init__(self, schema: Schema, values: tuple[JSON, ...]) -> None:
        self._schema = schema
        self._values = values

    def __getitem__(self, name: str) -> JSON:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def get(self, name: str, default: JSON = None) -> JSON:  # type: ignore[override]
        """The value of ``name``, or ``default`` when it is not set (no KeyError round trip)."""
        position = self._schema.index.get(name)
        value = None if position is None else self._values[position]
        return default if value is None else value

    def __iter__(self) -> Iterator[str]:
        values, index = self._values, self._schema.index
        return (name for name in self._schema.names if values[index[name]] is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Fields) and other._schema is self._schema:
            return self._values == other._values
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Fields({dict(self)!r})"

    def with_physical(self, physical: JSON) -> Fields:
        """These fields plus the API's ``physical``, sharing this object's values."""
        return _CatalogSku(self._schema, self._values, physical)


#: A desired pair's values, in this order: every catalog field but ``id``.
PAIR_FIELDS: Final = CATALOG_FIELDS[1:]
_PAIR_POSITION: Final = {name: position for position, name in enumerate(PAIR_FIELDS)}
_DESIRED_SKU: Final = Schema(SKU_FIELDS, tuple(_PAIR_POSITION[n] for n in SKU_FIELDS))
_DESIRED_ITEM: Final = Schema(ITEM_FIELDS, tuple(_PAIR_POSITION[n] for n in ITEM_FIELDS))
#: (name, position) of each side's fields, for digests that skip the mapping protocol.
_SKU_AT: Final = tuple((n, _PAIR_POSITION[n]) for n in SKU_FIELDS)
_ITEM_AT: Final = tuple((n, _PAIR_POSITION[n]) for n in ITEM_FIELDS)


@dataclass(frozen=True, slots=True)
class DesiredPair:
    """What the catalog says one pair must be, in API field names, only fields that are set.

    The values are kept once, in :data:`PAIR_FIELDS` order (a shared attribute is not stored
    twice); ``sku`` (the full ``PUT /skus/{id}`` body, no ``id``) and ``item`` (shared
    attributes and ``allowOversell``, no ``id``) are read-only views over them.
    """

    id: str
    values: tuple[JSON, ...]
    file: str
    line: int

    @property
    def sku(self) -> Fields:
        """The SKU's fields."""
        return Fields(_DESIRED_SKU, self.values)

    @property
    def item(self) -> Fields:
        """The inventory item's fields."""
        return Fields(_DESIRED_ITEM, self.values)

    @property
    def source(self) -> SourceRef:
        """Where the pair is defined."""
        return SourceRef(self.file, self.line)

    def content_hash(self) -> str:
        """Digest of what would be written, so the state can tell an unchanged pair cheaply.

        The source location is left out: moving a row between files or lines writes nothing.
        Computed on demand from the values (the same text as when the sides were dicts, so
        hashes recorded by earlier versions still match).
        """
        return self.digests().content

    def digests(self) -> PairDigests:
        """The content hash and each side's :func:`side_digest`, from one serialisation.

        The canonical text of the pair is that of ``{"id", "item", "sku"}`` with sorted keys,
        so it is assembled from the two sides' own texts rather than written a second time.
        """
        values = self.values
        sku = _canonical({n: v for n, at in _SKU_AT if (v := values[at]) is not None})
        item = _canonical({n: v for n, at in _ITEM_AT if (v := values[at]) is not None})
        pair = f'{{"id":{_canonical(self.id)},"item":{item},"sku":{sku}}}'
        return PairDigests(
            hashlib.sha256(pair.encode()).hexdigest(), _side_digest(sku), _side_digest(item)
        )


@dataclass(frozen=True, slots=True)
class PairDigests:
    """What a pair's content hashes to, whole (the state's record) and per side.

    The side digests let an audit compare a remote object with the catalog without holding the
    catalog's row: equal digests mean equal managed fields, so only differing objects are kept.
    """

    content: str
    sku: bytes
    item: bytes


#: Bytes of a side digest: collisions are out of reach at any catalog size.
SIDE_DIGEST_BYTES: Final = 16


#: One encoder for every digest: ``json.dumps`` with these options builds a new one per call.
_CANONICAL: Final = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _canonical(value: JSON | Mapping[str, JSON]) -> str:
    text: str = _CANONICAL.encode(value)
    return text


def _side_digest(canonical: str) -> bytes:
    return hashlib.blake2b(canonical.encode(), digest_size=SIDE_DIGEST_BYTES).digest()


def side_digest(fields: Mapping[str, JSON]) -> bytes:
    """Digest of one side's managed fields (as :func:`sku_fields` or :func:`item_fields` give
    them); equal to the desired side's :meth:`DesiredPair.digests` exactly when the fields are
    the same JSON."""
    return _side_digest(_canonical(dict(fields)))


def _is_set(value: JSON) -> bool:
    return value is not None and value != {}


def _managed(api_object: Mapping[str, JSON], names: tuple[str, ...]) -> dict[str, JSON]:
    managed: dict[str, JSON] = {}
    for name in names:
        value = api_object.get(name)
        if _is_set(value):
            managed[name] = value
    return managed


def desired_pair(pair_id: str, fields: Mapping[str, JSON], source: SourceRef) -> DesiredPair:
    """Split one catalog record's API fields onto the two sides of its pair."""
    values = [value if _is_set(value := fields.get(name)) else None for name in PAIR_FIELDS]
    oversell = _PAIR_POSITION["allowOversell"]
    if values[oversell] is None:
        values[oversell] = ALLOW_OVERSELL_DEFAULT
    return DesiredPair(pair_id, tuple(values), source.file, source.line)


@dataclass(frozen=True, slots=True)
class ActualPair:
    """Both sides of a pair as read from the API; either may be missing.

    The sides may be the API's objects as returned, or their projections
    (:func:`remote_sku`, :func:`remote_item`); compare them through :func:`sku_fields` and
    :func:`item_fields`.
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


#: A remote SKU as kept for planning: the managed fields and the API's ``physical``.
_REMOTE_SKU: Final = Schema((*SKU_FIELDS, "physical"))
_REMOTE_ITEM: Final = Schema(ITEM_FIELDS)
#: Remote strings up to this length are kept once however many objects hold them.
_SHARED_TEXT_MAX: Final = 64


class _CatalogSku(Fields):
    """A remote SKU whose managed fields are exactly the catalog's: the catalog's own values
    (no tuple of its own), and the API's ``physical``."""

    __slots__ = ("_physical",)

    def __init__(self, schema: Schema, values: tuple[JSON, ...], physical: JSON) -> None:
        super().__init__(schema, values)
        self._physical = physical

    def get(self, name: str, default: JSON = None) -> JSON:  # type: ignore[override]
        """The value of ``name``; ``physical`` is the API's."""
        if name == _PHYSICAL:
            return default if self._physical is None else self._physical
        return super().get(name, default)

    def __iter__(self) -> Iterator[str]:
        yield from super().__iter__()
        if self._physical is not None:
            yield _PHYSICAL


_PHYSICAL: Final = "physical"


def _project(
    api_object: Mapping[str, JSON],
    schema: Schema,
    like: Mapping[str, JSON] | None,
    shared: dict[str, str],
) -> Fields:
    values: list[JSON] = []
    same = isinstance(like, Fields)
    for name in schema.names:
        value = api_object.get(name)
        wanted = None if like is None else like.get(name)
        if not _is_set(value):
            values.append(None)
            same = same and (wanted is None or name == _PHYSICAL)
            continue
        if wanted == value and type(wanted) is type(value):
            value = wanted
        elif name != _PHYSICAL:
            same = False
            if isinstance(value, str) and len(value) <= _SHARED_TEXT_MAX:
                value = shared.setdefault(value, value)
        values.append(value)
    if same and isinstance(like, Fields):
        # The usual case of an audit: the remote side is the catalog's. Its values are the
        # catalog's already, so keep no copy of them (a million pairs would hold a million).
        physical = values[schema.index[_PHYSICAL]] if _PHYSICAL in schema.index else None
        return like if physical is None else like.with_physical(physical)
    return Fields(schema, tuple(values))


def remote_sku(
    api_sku: Mapping[str, JSON], like: Mapping[str, JSON] | None, shared: dict[str, str]
) -> Fields:
    """What planning needs of a SKU read from the API: its managed fields and ``physical``.

    An audit holds every remote SKU at once, so nothing else is kept (timestamps, ``liveMode``,
    unknown fields), a value equal to the catalog's (``like``) is the catalog's own object, and
    short strings are kept once in ``shared``.
    """
    return _project(api_sku, _REMOTE_SKU, like, shared)


def remote_item(
    api_item: Mapping[str, JSON], like: Mapping[str, JSON] | None, shared: dict[str, str]
) -> Fields:
    """What planning needs of an inventory item read from the API; see :func:`remote_sku`."""
    return _project(api_item, _REMOTE_ITEM, like, shared)


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
