"""Field-level differences as (field, old, new)."""

from __future__ import annotations

from catalog_sync.core.changes import FieldChange, diff_fields
from catalog_sync.core.pairs import JSON


def test_equal_objects_have_no_changes() -> None:
    """Nothing to report when nothing differs."""
    assert diff_fields({"name": "T"}, {"name": "T"}) == ()


def test_changed_added_and_removed_fields() -> None:
    """A changed value, a new field and a removed field are each one change."""
    old = {"name": "T", "description": "d"}
    new = {"name": "U", "hsCode": "6306.22"}
    assert diff_fields(old, new) == (
        FieldChange("name", "T", "U"),
        FieldChange("description", "d", None),
        FieldChange("hsCode", None, "6306.22"),
    )


def test_metadata_is_compared_key_by_key() -> None:
    """A metadata change names the key, not the whole metadata object."""
    old: dict[str, JSON] = {"metadata": {"a": "1", "b": "x"}}
    new: dict[str, JSON] = {"metadata": {"a": "2", "b": "x", "c": True}}
    assert diff_fields(old, new) == (
        FieldChange("metadata.a", "1", "2"),
        FieldChange("metadata.c", None, True),
    )


def test_numbers_compare_by_value() -> None:
    """The API returning 2 for a weight of 2.0 is not a change."""
    assert diff_fields({"weight": 2}, {"weight": 2.0}) == ()


def test_type_change_is_a_change() -> None:
    """A string where a number was is reported."""
    assert diff_fields({"weight": 2}, {"weight": "2"}) == (FieldChange("weight", 2, "2"),)


def test_changes_follow_catalog_field_order() -> None:
    """Reports list fields in a stable, meaningful order regardless of input order."""
    changes = diff_fields({}, {"metadata": {"z": "1"}, "hsCode": "6306.22", "name": "T"})
    assert [c.field for c in changes] == ["name", "hsCode", "metadata.z"]
