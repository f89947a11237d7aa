"""The pair model: which field goes where, projections of API objects, the content hash."""

from __future__ import annotations

from catalog_sync.core.pairs import (
    JSON,
    ActualPair,
    SideMismatch,
    SourceRef,
    desired_pair,
    item_fields,
    remote_item,
    remote_sku,
    side_mismatches,
    sku_fields,
)

SOURCE = SourceRef("a.csv", 2)
FIELDS: dict[str, JSON] = {
    "id": "A",
    "name": "Tent",
    "taxCode": "4323.310_A",
    "hsCode": "6306.22",
    "partNumber": "P1",
    "allowOversell": True,
}


def test_fields_split_onto_the_two_sides() -> None:
    """Shared attributes on both sides, SKU-only on the SKU, allowOversell on the item only."""
    pair = desired_pair("A", FIELDS, SOURCE)
    assert pair.sku == {
        "name": "Tent",
        "taxCode": "4323.310_A",
        "hsCode": "6306.22",
        "partNumber": "P1",
    }
    assert pair.item == {"hsCode": "6306.22", "partNumber": "P1", "allowOversell": True}


def test_allow_oversell_defaults_to_false() -> None:
    """An unset allowOversell means false, as the API reads it back, so audits stay quiet."""
    assert desired_pair("A", {"name": "T"}, SOURCE).item == {"allowOversell": False}


def test_content_hash_ignores_where_the_row_is() -> None:
    """Moving a row to another line or file does not make it look changed."""
    here = desired_pair("A", FIELDS, SOURCE)
    there = desired_pair("A", FIELDS, SourceRef("b.json", 40))
    assert here.content_hash() == there.content_hash()


def test_content_hash_changes_with_any_field() -> None:
    """Any written value changes the hash."""
    changed = desired_pair("A", {**FIELDS, "hsCode": "6306.29"}, SOURCE)
    assert changed.content_hash() != desired_pair("A", FIELDS, SOURCE).content_hash()


def test_projection_drops_read_only_unknown_and_null_fields() -> None:
    """Comparing against the API ignores what catalog-sync does not manage."""
    api: dict[str, JSON] = {
        "id": "A",
        "name": "T",
        "physical": True,
        "liveMode": False,
        "fulfill": False,
        "createdTime": "2021-04-07T13:47:13Z",
        "description": None,
        "metadata": {},
    }
    assert sku_fields(api) == {"name": "T"}
    assert item_fields({"id": "A", "allowOversell": False, "hsCode": "6306.22"}) == {
        "allowOversell": False,
        "hsCode": "6306.22",
    }


def test_physical_comes_from_the_sku() -> None:
    """A pair is physical when its SKU says so; without a SKU it is unknown."""
    assert ActualPair("A", sku={"physical": True}).physical is True
    assert ActualPair("A", sku={}).physical is False
    assert ActualPair("A", item={"id": "A"}).physical is None


def test_side_mismatches_lists_disagreeing_shared_attributes() -> None:
    """Sides that disagree on a shared attribute are found, field by field."""
    pair = ActualPair("A", sku={"hsCode": "1", "eccn": "EAR99"}, item={"eccn": "EAR99"})
    assert side_mismatches(pair) == (SideMismatch("hsCode", "1", None),)


def test_desired_sides_read_as_plain_mappings() -> None:
    """The compact sides compare, iterate and look up like the dicts they replace."""
    pair = desired_pair("A", FIELDS, SOURCE)
    assert dict(pair.sku) == pair.sku
    assert "allowOversell" not in pair.sku
    assert pair.sku.get("url") is None
    assert len(pair.item) == 3


def test_remote_sku_keeps_only_managed_fields_and_physical() -> None:
    """An audit keeps what planning compares; timestamps and unknown fields are dropped."""
    api: dict[str, JSON] = {
        "id": "A",
        "name": "Tent",
        "physical": True,
        "createdTime": "2024-01-01T00:00:00Z",
        "surprise": 1,
    }
    assert remote_sku(api, None, {}) == {"name": "Tent", "physical": True}


def test_remote_values_equal_to_the_catalog_are_the_catalog_objects() -> None:
    """A remote value that matches the catalog's is not held twice."""
    pair = desired_pair("A", FIELDS, SOURCE)
    api: dict[str, JSON] = {"id": "A", "hsCode": b"6306.22".decode(), "allowOversell": True}
    assert remote_item(api, pair.item, {}).get("hsCode") is pair.item.get("hsCode")
