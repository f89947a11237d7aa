"""Properties of the planner over generated catalogs and remote states.

The API is modelled by :func:`apply_plan_to` below; a SKU is physical when its tax code says so,
as Digital River derives ``physical`` from ``taxCode``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from catalog_sync.core.pairs import (
    JSON,
    SKU_FIELDS,
    ActualPair,
    DesiredPair,
    SourceRef,
    desired_pair,
    item_fields,
    remote_item,
    remote_sku,
    sku_fields,
)
from catalog_sync.core.plan import (
    CreateItem,
    CreatePair,
    DeletePair,
    Orphan,
    Plan,
    Policy,
    Unchanged,
    UpdateItem,
    UpdateSku,
    plan,
)

PHYSICAL_TAX = "4323.310_A"
IDS = st.sampled_from([f"P{i}" for i in range(12)])
SETTINGS = settings(max_examples=120, deadline=None)


@dataclass
class _Simulated:
    sku: dict[str, JSON] | None
    item: dict[str, JSON] | None = None


def _stored_sku(
    pair_id: str,
    current: Mapping[str, JSON] | None,
    body: Mapping[str, JSON],
    physical_of: Callable[[Mapping[str, JSON]], bool],
) -> dict[str, JSON]:
    kept = {k: v for k, v in (current or {}).items() if k not in SKU_FIELDS}
    managed = {k: v for k, v in body.items() if v is not None}
    return {**kept, **managed, "id": pair_id, "physical": physical_of(managed)}


def apply_plan_to(
    actual: Mapping[str, ActualPair],
    plan: Plan,
    physical_of: Callable[[Mapping[str, JSON]], bool],
) -> dict[str, ActualPair]:
    """What the remote pairs become if every write of ``plan`` succeeds.

    A model of the API for property tests: PUT replaces the managed fields, the item update
    merges, ``physical_of`` stands for the API's classification of a SKU by its fields.
    """
    state = {
        i: _Simulated(dict(p.sku) if p.sku else None, dict(p.item) if p.item else None)
        for i, p in actual.items()
    }
    for entry in plan.writes:
        pair = state.setdefault(entry.id, _Simulated(None))
        if isinstance(entry, CreatePair):
            pair.sku = _stored_sku(entry.id, None, entry.sku_body, physical_of)
            pair.item = dict(entry.item_body) if pair.sku["physical"] else None
        elif isinstance(entry, UpdateSku):
            pair.sku = _stored_sku(entry.id, pair.sku, entry.body, physical_of)
        elif isinstance(entry, CreateItem):
            if not entry.if_physical or (pair.sku is not None and pair.sku.get("physical")):
                pair.item = dict(entry.body)
        elif isinstance(entry, UpdateItem):
            merged = {**(pair.item or {}), **entry.fields}
            pair.item = {k: v for k, v in merged.items() if v is not None}
        else:
            del state[entry.id]
    return {i: ActualPair(i, p.sku, p.item) for i, p in state.items()}


def physical_of(sku: Mapping[str, JSON]) -> bool:
    """The modelled API's classification."""
    return sku.get("taxCode") == PHYSICAL_TAX


def _optional(values: st.SearchStrategy[JSON]) -> st.SearchStrategy[JSON]:
    return st.one_of(st.none(), values)


FIELD_VALUES: dict[str, st.SearchStrategy[JSON]] = {
    "name": st.sampled_from(["Tent", "Lamp"]),
    "description": _optional(st.sampled_from(["a", "b"])),
    "taxCode": st.sampled_from([PHYSICAL_TAX, "4512.100_A"]),
    "eccn": _optional(st.sampled_from(["EAR99", "5A992.c"])),
    "hsCode": _optional(st.sampled_from(["6306.22", "8518.30"])),
    "countryOfOrigin": _optional(st.sampled_from(["US", "DE"])),
    "partNumber": _optional(st.sampled_from(["P1", "P2"])),
    "manufacturerId": _optional(st.sampled_from(["m1", "m2"])),
    "weight": _optional(st.sampled_from([1.0, 2, 2.5])),
    "weightUnit": _optional(st.sampled_from(["kg", "oz"])),
    "allowOversell": _optional(st.booleans()),
    "metadata": _optional(
        st.dictionaries(st.sampled_from(["a", "b"]), st.sampled_from(["x", True, 3]), max_size=2)
    ),
}
FIELDS = st.fixed_dictionaries(FIELD_VALUES)


@st.composite
def desired_catalogs(draw: st.DrawFn) -> dict[str, DesiredPair]:
    """A catalog of a few pairs."""
    ids = draw(st.sets(IDS, max_size=6))
    return {i: desired_pair(i, draw(FIELDS), SourceRef("gen.csv", 1)) for i in sorted(ids)}


@st.composite
def remote_states(draw: st.DrawFn) -> dict[str, ActualPair]:
    """Remote pairs in any state: complete, half-missing, drifted, with API-only fields."""
    remote: dict[str, ActualPair] = {}
    for pair_id in sorted(draw(st.sets(IDS, max_size=8))):
        sku: dict[str, JSON] | None = None
        if draw(st.booleans()):
            managed = sku_fields(desired_pair(pair_id, draw(FIELDS), SourceRef("r", 1)).sku)
            extra: dict[str, JSON] = {"createdTime": "2024", "liveMode": False, "fulfill": False}
            sku = {**managed, **extra, "id": pair_id, "physical": physical_of(managed)}
        item: dict[str, JSON] | None = None
        if draw(st.booleans()):
            item_side = desired_pair(pair_id, draw(FIELDS), SourceRef("r", 1)).item
            item = {"id": pair_id, **item_side}
        remote[pair_id] = ActualPair(pair_id, sku, item)
    return remote


POLICIES = st.builds(
    Policy,
    prune=st.booleans(),
    max_delete_pct=st.floats(0, 100),
    catalog_complete=st.booleans(),
    protected_ids=st.frozensets(IDS, max_size=3),
)


def _matches(desired: DesiredPair, actual: ActualPair | None) -> bool:
    if actual is None or actual.sku is None:
        return False
    if sku_fields(actual.sku) != {k: v for k, v in desired.sku.items() if k in SKU_FIELDS}:
        return False
    if not actual.physical:
        return True
    return actual.item is not None and item_fields(actual.item) == desired.item


@SETTINGS
@given(desired=desired_catalogs(), actual=remote_states())
def test_applying_the_plan_yields_the_catalog(
    desired: dict[str, DesiredPair], actual: dict[str, ActualPair]
) -> None:
    """Every catalog pair matches after one apply; orphans are gone when pruning may delete all."""
    result = plan(desired, actual, Policy(prune=True, max_delete_pct=100))
    after = apply_plan_to(actual, result, physical_of)
    assert all(_matches(want, after.get(pair_id)) for pair_id, want in desired.items())
    if desired:
        assert set(after) <= set(desired) | {i for i, p in actual.items() if not p.exists}


@SETTINGS
@given(desired=desired_catalogs(), actual=remote_states())
def test_planning_again_after_apply_changes_nothing(
    desired: dict[str, DesiredPair], actual: dict[str, ActualPair]
) -> None:
    """A second plan against the applied state has no write: the plan converges in one step."""
    after = apply_plan_to(actual, plan(desired, actual, Policy()), physical_of)
    again = plan(desired, after, Policy())
    assert not again.has_changes
    assert all(isinstance(entry, Unchanged | Orphan) for entry in again)


@SETTINGS
@given(desired=desired_catalogs(), actual=remote_states(), policy=POLICIES)
def test_no_plan_deletes_past_the_guard(
    desired: dict[str, DesiredPair], actual: dict[str, ActualPair], policy: Policy
) -> None:
    """Deletions never exceed the share allowed, and never happen without prune, with an empty
    or incomplete catalog, or on a protected pair."""
    result = plan(desired, actual, policy)
    deleted = [w.id for w in result.writes if isinstance(w, DeletePair)]
    remote = sum(1 for p in actual.values() if p.exists)
    assert len(deleted) * 100 <= policy.max_delete_pct * remote
    if not policy.prune or not desired or not policy.catalog_complete:
        assert deleted == []
    touched = {w.id for w in result.writes}
    assert not touched & policy.protected_ids
    assert not set(deleted) & set(desired)


def _as_read(desired: DesiredPair) -> ActualPair:
    """The API objects of a pair that matches ``desired`` exactly."""
    managed = sku_fields(desired.sku)
    physical = physical_of(managed)
    sku: dict[str, JSON] = {**managed, "id": desired.id, "physical": physical}
    item: dict[str, JSON] | None = {"id": desired.id, **desired.item} if physical else None
    return ActualPair(desired.id, sku, item)


def _projected(pair: ActualPair, like: DesiredPair | None) -> ActualPair:
    sku_like, item_like = (None, None) if like is None else (like.sku, like.item)
    sku = None if pair.sku is None else remote_sku(pair.sku, sku_like, {})
    item = None if pair.item is None else remote_item(pair.item, item_like, {})
    return ActualPair(pair.id, sku, item)


@SETTINGS
@given(desired=desired_catalogs(), actual=remote_states(), matching=st.sets(IDS))
def test_projections_sharing_the_catalog_plan_like_plain_ones(
    desired: dict[str, DesiredPair], actual: dict[str, ActualPair], matching: set[str]
) -> None:
    """Remote objects projected against the catalog (a side equal to it holds the catalog's
    own values) plan exactly as the same objects projected on their own."""
    read = {**actual, **{i: _as_read(desired[i]) for i in matching if i in desired}}
    plain = {i: _projected(pair, None) for i, pair in read.items()}
    shared = {i: _projected(pair, desired.get(i)) for i, pair in read.items()}
    assert plan(desired, shared, Policy()) == plan(desired, plain, Policy())
