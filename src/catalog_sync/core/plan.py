"""What must change at Digital River so every remote pair matches the catalog.

Everything is decided here, before any write, as plain data: the apply layer only executes a
:class:`Plan`, the report and ``plan --json`` only render one. The prune guard lives here too,
so no caller can delete past it: a truncated, empty or partly unreadable catalog never wipes
the remote catalog.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from itertools import groupby
from typing import Final

from catalog_sync.core.changes import FieldChange, diff_fields
from catalog_sync.core.pairs import (
    JSON,
    PHYSICAL_DECIDING_FIELDS,
    ActualPair,
    DesiredPair,
    SideMismatch,
    item_fields,
    side_mismatches,
    sku_fields,
)

DEFAULT_MAX_DELETE_PCT: Final = 10.0


@dataclass(frozen=True, slots=True)
class Policy:
    """How far a plan may go."""

    #: Delete remote pairs the catalog no longer has; off by default (orphans are reported).
    prune: bool = False
    #: Largest share of the remote pairs, in percent, one plan may delete.
    max_delete_pct: float = DEFAULT_MAX_DELETE_PCT
    #: False when any catalog file was unreadable: the catalog may be missing rows, so
    #: nothing is deleted.
    catalog_complete: bool = True
    #: Pairs held by unreadable files or rejected rows: never changed, never deleted.
    protected_ids: frozenset[str] = frozenset()
    #: Only these ids are planned (incremental runs); ``None`` plans every id.
    scope: frozenset[str] | None = None


# ---------------------------------------------------------------------------- plan entries


@dataclass(frozen=True, slots=True)
class CreatePair:
    """Neither side exists: PUT the SKU, then create the item if the API says it is physical.

    The bodies are the catalog's own mappings (not copies: a plan of 100,000 creations would
    otherwise hold the catalog twice); the item's ``id`` is the pair's and is added on send.
    """

    id: str
    sku_body: Mapping[str, JSON]
    item_body: Mapping[str, JSON]


@dataclass(frozen=True, slots=True)
class UpdateSku:
    """``PUT /skus/{id}`` with ``body``: the full desired SKU, ``null`` for fields to clear."""

    id: str
    changes: tuple[FieldChange, ...]
    body: Mapping[str, JSON]


@dataclass(frozen=True, slots=True)
class CreateItem:
    """``POST /inventory-items`` with ``body`` (plus the pair's ``id``) for a missing item.

    ``if_physical``: the SKU's class is only known from the response of this plan's PUT (its
    ``taxCode`` or group changes), so create the item only if that response says physical.
    """

    id: str
    body: Mapping[str, JSON]
    if_physical: bool = False


@dataclass(frozen=True, slots=True)
class UpdateItem:
    """``POST /inventory-items/{id}`` with only the changed ``fields`` (``None`` clears one)."""

    id: str
    changes: tuple[FieldChange, ...]
    fields: Mapping[str, JSON]


@dataclass(frozen=True, slots=True)
class DeletePair:
    """Delete an orphan's existing sides; only planned under ``prune`` within the guard."""

    id: str
    sku: bool
    item: bool


@dataclass(frozen=True, slots=True)
class PairDrift:
    """The writes that follow for this id repair drift rather than apply a catalog change.

    Drift is either sides that disagree on shared attributes, or a remote pair that no longer
    matches what was last applied although the catalog did not change since.
    """

    id: str
    mismatches: tuple[SideMismatch, ...]
    remote_changed: bool


@dataclass(frozen=True, slots=True)
class Orphan:
    """A remote pair the catalog does not have; deleted only when a ``DeletePair`` follows."""

    id: str
    has_sku: bool
    has_item: bool


@dataclass(frozen=True, slots=True)
class Unchanged:
    """The pair already matches the catalog: no call is made for it."""

    id: str


@dataclass(frozen=True, slots=True)
class Protected:
    """The pair is held by an unreadable file or a rejected row and is left as it is."""

    id: str


Write = CreatePair | UpdateSku | CreateItem | UpdateItem | DeletePair
Note = PairDrift | Orphan | Unchanged | Protected
Entry = Write | Note
WRITE_TYPES: Final = (CreatePair, UpdateSku, CreateItem, UpdateItem, DeletePair)


@dataclass(frozen=True, slots=True)
class PlanCounts:
    """Per-pair totals for summaries (a pair counts once per line)."""

    created: int
    updated: int
    unchanged: int
    drifted: int
    orphans: int
    deletes: int
    protected: int
    #: Upper bound of API write calls: a created pair counts two, though a digital one takes one.
    max_writes: int


@dataclass(frozen=True)
class Plan:
    """Entries sorted by id; the entries of one id are in the order they must run."""

    entries: tuple[Entry, ...]
    #: Why orphans are not deleted although ``prune`` asked for it; ``None`` otherwise.
    refusal: str | None = None

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    @cached_property
    def writes(self) -> tuple[Write, ...]:
        """The entries that call the API."""
        return tuple(e for e in self.entries if isinstance(e, WRITE_TYPES))

    @property
    def has_changes(self) -> bool:
        """Whether applying would write anything (``plan`` exits 2 then)."""
        return bool(self.writes)

    def by_id(self) -> Iterator[tuple[str, tuple[Entry, ...]]]:
        """Each id with its entries, for an executor that runs one pair's calls in order."""
        for pair_id, entries in groupby(self.entries, key=lambda e: e.id):
            yield pair_id, tuple(entries)

    @cached_property
    def counts(self) -> PlanCounts:
        """Totals by kind of entry."""
        kinds: dict[type[Entry], set[str]] = {}
        for entry in self.entries:
            kinds.setdefault(type(entry), set()).add(entry.id)
        created = kinds.get(CreatePair, set())
        changed = set().union(*(kinds.get(t, set()) for t in (UpdateSku, CreateItem, UpdateItem)))
        return PlanCounts(
            created=len(created),
            updated=len(changed - created),
            unchanged=len(kinds.get(Unchanged, set())),
            drifted=len(kinds.get(PairDrift, set())),
            orphans=len(kinds.get(Orphan, set())),
            deletes=len(kinds.get(DeletePair, set())),
            protected=len(kinds.get(Protected, set())),
            max_writes=sum(_calls(w) for w in self.writes),
        )


def _calls(write: Write) -> int:
    if isinstance(write, CreatePair):
        return 2
    if isinstance(write, DeletePair):
        return int(write.sku) + int(write.item)
    return 1


# ---------------------------------------------------------------------------- planning


def _put_body(desired: DesiredPair, current: Mapping[str, JSON]) -> dict[str, JSON]:
    """The desired SKU, with ``null`` for every field to clear.

    Whether the API's PUT replaces or merges is not documented (docs/digital-river-api.md §7.1):
    an explicit ``null`` clears a field under either reading, so a value removed from the
    catalog really goes away.
    """
    body: dict[str, JSON] = dict(desired.sku)
    body.update({name: None for name in current if name not in desired.sku})
    return body


def _pair_entries(desired: DesiredPair, actual: ActualPair, applied: str | None) -> list[Entry]:
    if not actual.exists:
        writes: list[Entry] = [CreatePair(desired.id, desired.sku, desired.item)]
        drifted = applied == desired.content_hash()
        return [PairDrift(desired.id, (), remote_changed=True), *writes] if drifted else writes

    current_sku = sku_fields(actual.sku) if actual.sku is not None else {}
    sku_changes = diff_fields(current_sku, desired.sku)
    writes = []
    if sku_changes:
        writes.append(UpdateSku(desired.id, sku_changes, _put_body(desired, current_sku)))

    physical: bool | None = actual.physical
    if actual.sku is None or any(c.field in PHYSICAL_DECIDING_FIELDS for c in sku_changes):
        physical = None
    mismatches: tuple[SideMismatch, ...] = ()
    if physical is not False:
        if actual.item is not None:
            mismatches = side_mismatches(actual)
            item_changes = diff_fields(item_fields(actual.item), desired.item)
            if item_changes:
                fields = {c.field: c.new for c in item_changes}
                writes.append(UpdateItem(desired.id, item_changes, fields))
        else:
            writes.append(CreateItem(desired.id, desired.item, if_physical=physical is None))

    if not writes:
        return [Unchanged(desired.id)]
    remote_changed = applied == desired.content_hash()
    if mismatches or remote_changed:
        return [PairDrift(desired.id, mismatches, remote_changed), *writes]
    return writes


def _refusal(orphans: int, desired: int, remote: int, policy: Policy) -> str | None:
    if not policy.prune or not orphans:
        return None
    if not desired:
        return f"the catalog is empty: refusing to delete {orphans} remote pairs"
    if not policy.catalog_complete:
        return f"some catalog files could not be read: refusing to delete {orphans} remote pairs"
    if orphans * 100 > policy.max_delete_pct * remote:
        share = orphans * 100 / remote
        return (
            f"{orphans} of {remote} remote pairs ({share:.1f}%) would be deleted, more than "
            f"the {policy.max_delete_pct:g}% allowed (--max-delete)"
        )
    return None


def plan(
    desired: Mapping[str, DesiredPair],
    actual: Mapping[str, ActualPair],
    policy: Policy,
    applied: Mapping[str, str] | None = None,
    *,
    sizes: tuple[int, int] | None = None,
) -> Plan:
    """The plan turning ``actual`` into ``desired``.

    ``desired`` is the whole catalog and ``actual`` every remote pair known (the prune guard
    measures against them even when ``policy.scope`` narrows what is planned). ``applied`` maps
    ids to the content hash last applied, which tells drift from a catalog change.

    A caller planning a catalog too large to hold in parts passes the whole catalog's and the
    whole remote side's sizes as ``sizes`` (catalog pairs, remote pairs): the prune guard then
    measures the orphans it is given against those, never against the part in hand.
    """
    applied = applied or {}
    if policy.scope is None:
        ids = desired.keys() | actual.keys()
    else:  # no union of whole catalogs for a small scope
        ids = {i for i in policy.scope if i in desired or i in actual}
    entries: list[Entry] = []
    orphans: list[Orphan] = []
    for pair_id in sorted(ids):
        want = desired.get(pair_id)
        have = actual.get(pair_id, ActualPair(pair_id))
        if pair_id in policy.protected_ids:
            entries.append(Protected(pair_id))
        elif want is not None:
            entries.extend(_pair_entries(want, have, applied.get(pair_id)))
        elif have.exists:
            orphan = Orphan(pair_id, has_sku=have.sku is not None, has_item=have.item is not None)
            orphans.append(orphan)
            entries.append(orphan)
    if sizes is None:
        sizes = (len(desired), sum(1 for pair in actual.values() if pair.exists))
    refusal = _refusal(len(orphans), *sizes, policy)
    if policy.prune and refusal is None and orphans:
        deletes = {o.id: DeletePair(o.id, o.has_sku, o.has_item) for o in orphans}
        entries = [e for entry in entries for e in _with_delete(entry, deletes)]
    return Plan(tuple(entries), refusal)


def _with_delete(entry: Entry, deletes: Mapping[str, DeletePair]) -> tuple[Entry, ...]:
    if isinstance(entry, Orphan):
        return (entry, deletes[entry.id])
    return (entry,)


# ---------------------------------------------------------------------------- simulation
