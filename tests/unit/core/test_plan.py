"""The planner on hand-picked cases: each kind of entry and the prune guard."""

from __future__ import annotations

from collections.abc import Mapping

from catalog_sync.core.changes import FieldChange
from catalog_sync.core.pairs import (
    JSON,
    ActualPair,
    DesiredPair,
    SideMismatch,
    SourceRef,
    desired_pair,
)
from catalog_sync.core.plan import (
    CreateItem,
    CreatePair,
    DeletePair,
    Orphan,
    PairDrift,
    Plan,
    Policy,
    Protected,
    Unchanged,
    UpdateItem,
    UpdateSku,
    plan,
)

PHYSICAL = {"name": "Tent", "taxCode": "4323.310_A", "eccn": "EAR99", "hsCode": "6306.22"}


def _want(pair_id: str, **fields: JSON) -> DesiredPair:
    return desired_pair(pair_id, {**PHYSICAL, **fields}, SourceRef("a.csv", 2))


def _remote(want: DesiredPair, *, physical: bool = True, item: bool = True) -> ActualPair:
    """The pair as the API would return it after applying ``want``."""
    sku = {"id": want.id, **want.sku, "physical": physical, "createdTime": "2024-01-01T00:00:00Z"}
    return ActualPair(want.id, sku, {"id": want.id, **want.item} if item else None)


def _catalog(*pairs: DesiredPair) -> dict[str, DesiredPair]:
    return {p.id: p for p in pairs}


def _remotes(*pairs: ActualPair) -> dict[str, ActualPair]:
    return {p.id: p for p in pairs}


def _kinds(result: Plan) -> list[str]:
    return [type(entry).__name__ for entry in result]


def test_missing_pair_is_created() -> None:
    """A catalog pair absent remotely becomes one CreatePair with both bodies."""
    want = _want("A")
    (entry,) = plan(_catalog(want), {}, Policy())
    assert entry == CreatePair("A", want.sku, want.item)


def test_matching_pair_is_unchanged() -> None:
    """Read-only and unknown remote fields do not make a pair differ."""
    want = _want("A")
    result = plan(_catalog(want), _remotes(_remote(want)), Policy())
    assert list(result) == [Unchanged("A")]
    assert not result.has_changes


def test_sku_only_change_updates_the_sku_alone() -> None:
    """A new name is one PUT with the full desired SKU; the item is not written."""
    want = _want("A", name="Tent 2")
    (entry,) = plan(_catalog(want), _remotes(_remote(_want("A"))), Policy())
    assert entry == UpdateSku("A", (FieldChange("name", "Tent", "Tent 2"),), dict(want.sku))


def test_shared_change_updates_both_sides_item_with_changed_fields_only() -> None:
    """A new HS code goes to the SKU (full body) and to the item (that field only)."""
    result = plan(_catalog(_want("A", hsCode="6306.29")), _remotes(_remote(_want("A"))), Policy())
    assert _kinds(result) == ["UpdateSku", "UpdateItem"]
    item = result.entries[1]
    assert isinstance(item, UpdateItem)
    assert item.fields == {"hsCode": "6306.29"}


def test_removed_field_is_cleared_explicitly() -> None:
    """A value removed from the catalog is sent as null so the API clears it."""
    result = plan(_catalog(_want("A")), _remotes(_remote(_want("A", description="d"))), Policy())
    (entry,) = result
    assert isinstance(entry, UpdateSku)
    assert entry.body["description"] is None


def test_digital_sku_gets_no_inventory_item() -> None:
    """A SKU the API calls digital is a SKU alone: no item is created or compared."""
    want = _want("A", taxCode="4512.100_A")
    result = plan(_catalog(want), _remotes(_remote(want, physical=False, item=False)), Policy())
    assert list(result) == [Unchanged("A")]


def test_physical_sku_without_item_gets_one() -> None:
    """A physical SKU whose item is missing gets the item created."""
    want = _want("A")
    result = plan(_catalog(want), _remotes(_remote(want, item=False)), Policy())
    assert list(result) == [CreateItem("A", want.item)]


def test_tax_code_change_makes_item_creation_conditional() -> None:
    """When the PUT may change the SKU's class, the item is created only if it comes back
    physical."""
    old = _want("A", taxCode="4512.100_A")
    result = plan(
        _catalog(_want("A")), _remotes(_remote(old, physical=False, item=False)), Policy()
    )
    assert _kinds(result) == ["UpdateSku", "CreateItem"]
    assert result.entries[1] == CreateItem("A", _want("A").item, if_physical=True)


def test_sides_disagreeing_is_drift() -> None:
    """An item whose HS code differs from its SKU's is drift, fixed by an item update."""
    want = _want("A")
    remote = _remote(want)
    assert remote.item is not None
    drifted = ActualPair("A", remote.sku, {**remote.item, "hsCode": "9999.99"})
    result = plan(_catalog(want), _remotes(drifted), Policy())
    assert result.entries[0] == PairDrift(
        "A", (SideMismatch("hsCode", "6306.22", "9999.99"),), remote_changed=False
    )
    assert _kinds(result) == ["PairDrift", "UpdateItem"]
    assert result.counts.drifted == 1


def test_remote_edit_after_apply_is_drift() -> None:
    """A difference although the catalog hash equals the last applied one is remote drift."""
    want = _want("A")
    remote = _remote(_want("A", name="Edited at DR"))
    result = plan(_catalog(want), _remotes(remote), Policy(), {"A": want.content_hash()})
    assert result.entries[0] == PairDrift("A", (), remote_changed=True)


def test_catalog_change_is_not_drift() -> None:
    """A difference caused by a catalog edit (hash differs from last applied) is no drift."""
    old = _want("A")
    result = plan(
        _catalog(_want("A", name="New")),
        _remotes(_remote(old)),
        Policy(),
        {"A": old.content_hash()},
    )
    assert _kinds(result) == ["UpdateSku"]


def test_orphans_are_reported_not_deleted_by_default() -> None:
    """Remote pairs missing from the catalog are listed, never deleted without prune."""
    result = plan(
        _catalog(_want("A")), _remotes(_remote(_want("A")), _remote(_want("B"))), Policy()
    )
    assert result.entries[1] == Orphan("B", has_sku=True, has_item=True)
    assert result.refusal is None
    assert not result.has_changes


def _many(count: int) -> dict[str, ActualPair]:
    return _remotes(*(_remote(_want(f"P{i:03}")) for i in range(count)))


def test_prune_deletes_within_the_threshold() -> None:
    """With prune, 1 orphan of 20 remote pairs (5%) is deleted."""
    remote = _many(20)
    catalog = _catalog(*(_want(f"P{i:03}") for i in range(1, 20)))
    result = plan(catalog, remote, Policy(prune=True))
    assert DeletePair("P000", sku=True, item=True) in result.writes
    assert result.counts.deletes == 1


def test_prune_refuses_past_the_threshold() -> None:
    """3 orphans of 20 (15%) exceed the 10% default: nothing is deleted and the plan says why."""
    catalog = _catalog(*(_want(f"P{i:03}") for i in range(3, 20)))
    result = plan(catalog, _many(20), Policy(prune=True))
    assert result.counts.deletes == 0
    assert (
        result.refusal
        == "3 of 20 remote pairs (15.0%) would be deleted, more than the 10% allowed (--max-delete)"
    )


def test_empty_catalog_never_deletes() -> None:
    """Even with prune and a 100% threshold, an empty catalog deletes nothing."""
    result = plan({}, _many(3), Policy(prune=True, max_delete_pct=100))
    assert result.counts == result.counts.__class__(0, 0, 0, 0, 3, 0, 0, 0)
    assert result.refusal is not None


def test_incomplete_catalog_never_deletes() -> None:
    """When a file was unreadable, orphans may be its rows: no deletion."""
    result = plan(
        _catalog(_want("P001")),
        _many(2),
        Policy(prune=True, max_delete_pct=100, catalog_complete=False),
    )
    assert result.counts.deletes == 0
    assert result.refusal is not None


def test_protected_pair_is_left_alone() -> None:
    """A protected id is neither updated nor deleted, whatever the catalog says."""
    want = _want("A", name="changed")
    policy = Policy(prune=True, max_delete_pct=100, protected_ids=frozenset({"A", "B"}))
    result = plan(_catalog(want), _remotes(_remote(_want("A")), _remote(_want("B"))), policy)
    assert list(result) == [Protected("A"), Protected("B")]


def test_scope_limits_the_ids_planned() -> None:
    """An incremental run plans only the ids in scope."""
    catalog = _catalog(_want("A"), _want("B"))
    result = plan(catalog, {}, Policy(scope=frozenset({"B"})))
    assert [entry.id for entry in result] == ["B"]


def test_counts_summarise_the_plan() -> None:
    """Counts are per pair; a created pair counts at most two writes."""
    catalog = _catalog(_want("A"), _want("B", name="x"), _want("C"))
    result = plan(catalog, _remotes(_remote(_want("B")), _remote(_want("C"))), Policy())
    counts = result.counts
    assert (counts.created, counts.updated, counts.unchanged, counts.max_writes) == (1, 1, 1, 3)


def test_by_id_groups_entries_in_execution_order() -> None:
    """by_id yields each id once with its entries, SKU before item."""
    result = plan(_catalog(_want("A", hsCode="6306.29")), _remotes(_remote(_want("A"))), Policy())
    groups: Mapping[str, tuple[object, ...]] = dict(result.by_id())
    assert [type(e).__name__ for e in groups["A"]] == ["UpdateSku", "UpdateItem"]
