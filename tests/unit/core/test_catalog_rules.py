"""Field rules of a catalog row: what is accepted, what is refused and how it is said."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest

from catalog_sync.core.pairs import JSON, DesiredPair
from catalog_sync.core.problems import Problem, Severity

Check = Callable[[Mapping[str, JSON]], list[DesiredPair | Problem]]


def _messages(items: list[DesiredPair | Problem]) -> list[str]:
    return [str(item) for item in items if isinstance(item, Problem)]


def test_valid_record_gives_one_pair(check: Check) -> None:
    """The baseline record validates with no problem."""
    (pair,) = check({})
    assert isinstance(pair, DesiredPair)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("id", "89&56", "c.json:1: id: '89&56' is not a valid SKU id"),
        ("id", "UGG BB 06", "is not a valid SKU id"),
        ("countryOfOrigin", "USA", "'USA' is not an ISO 3166-1 alpha-2 code; did you mean 'US'?"),
        ("countryOfOrigin", "Germany", "did you mean 'DE'?"),
        ("countryOfOrigin", "KP", "'KP' is refused by Digital River"),
        ("eccn", "ear99", "did you mean 'EAR99'?"),
        ("eccn", "5A99", "is not an ECCN"),
        ("hsCode", "8518.3", "is not an HS code"),
        ("hsCode", "8518.30.20001", "is not an HS code"),
        ("weight", "-1", "'-1' is not a positive number"),
        ("weight", "NaN", "is not a positive number"),
        ("allowOversell", "maybe", "'maybe' is not a boolean"),
        ("image", "cdn.example.com/a.jpg", "is not an http(s) URL"),
        ("url", "ftp://example.com/p", "is not an http(s) URL"),
        ("partNumber", 12345, "partNumber: must be a string (quote it in JSON)"),
        ("name", None, "name: required"),
    ],
)
def test_bad_value_is_reported_on_its_field(
    check: Check, field: str, value: str | int | None, expected: str
) -> None:
    """Each rule names the field and says what is wrong (and what was meant, when it can)."""
    extra = {"weightUnit": "kg"} if field == "weight" else {}
    messages = _messages(check({field: value, **extra}))
    assert any(expected in message for message in messages), messages


@pytest.mark.parametrize("field", ["taxCode", "eccn", "countryOfOrigin"])
def test_group_less_sku_needs_classification(check: Check, field: str) -> None:
    """Without skuGroupId, taxCode / eccn / countryOfOrigin are each required."""
    assert _messages(check({field: None})) == [
        f"c.json:1: {field}: required unless skuGroupId is set"
    ]


def test_sku_group_supplies_classification(check: Check) -> None:
    """With skuGroupId the group may carry taxCode, eccn and countryOfOrigin."""
    items = check({"skuGroupId": "g1", "taxCode": None, "eccn": None, "countryOfOrigin": None})
    assert [type(i) for i in items] == [DesiredPair]


def test_weight_needs_a_unit(check: Check) -> None:
    """A bare weight is refused: the API would silently read it as ounces."""
    assert _messages(check({"weight": 2})) == [
        "c.json:1: weightUnit: required when weight is given (the API would assume oz)"
    ]


def test_unit_needs_a_weight(check: Check) -> None:
    """A unit without a weight is refused as meaningless."""
    assert _messages(check({"weightUnit": "kg"})) == [
        "c.json:1: weightUnit: given without a weight"
    ]


def test_unknown_weight_unit_lists_the_known_ones(check: Check) -> None:
    """A unit outside oz/lb/g/kg is refused with the list of units."""
    messages = _messages(check({"weight": 1, "weightUnit": "pounds"}))
    assert messages == ["c.json:1: weightUnit: 'pounds' is not a weight unit: use g, kg, lb, oz"]


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("true", True),
        ("YES", True),
        ("y", True),
        ("1", True),
        ("On", True),
        (True, True),
        ("false", False),
        ("No", False),
        ("n", False),
        ("0", False),
        ("OFF", False),
        (0, False),
    ],
)
def test_booleans_as_people_spell_them(check: Check, spelling: str | bool, expected: bool) -> None:
    """allowOversell accepts the usual spellings, case-insensitively, and lands on the item."""
    (pair,) = check({"allowOversell": spelling})
    assert isinstance(pair, DesiredPair)
    assert pair.item["allowOversell"] is expected


def test_metadata_key_longer_than_40_is_refused(check: Check) -> None:
    """docs/digital-river-api.md §2: metadata key names are at most 40 characters."""
    messages = _messages(check({"metadata": {"k" * 41: "v"}}))
    assert messages == [f"c.json:1: metadata.{'k' * 41}: key must be 1 to 40 characters"]


def test_metadata_value_longer_than_500_is_refused(check: Check) -> None:
    """docs/digital-river-api.md §2: metadata string values are at most 500 characters."""
    messages = _messages(check({"metadata": {"note": "v" * 501}}))
    assert messages == ["c.json:1: metadata.note: must be a string of at most 500 characters"]


def test_metadata_object_values_keep_their_json_type(check: Check) -> None:
    """JSON metadata may hold strings, booleans and integers, which the API stores as such."""
    (pair,) = check({"metadata": {"a": "x", "b": True, "c": 3}})
    assert isinstance(pair, DesiredPair)
    assert pair.sku["metadata"] == {"a": "x", "b": True, "c": 3}


def test_long_description_is_a_warning_and_the_row_applies(check: Check) -> None:
    """Over 1000 characters is only Digital River's recommendation: warn, still apply."""
    items = check({"description": "d" * 1001})
    assert [type(i) for i in items] == [Problem, DesiredPair]
    assert isinstance(items[0], Problem)
    assert items[0].severity is Severity.WARNING


def test_every_problem_of_a_row_is_listed(check: Check) -> None:
    """A row with several mistakes reports all of them at once, not the first only."""
    messages = _messages(check({"countryOfOrigin": "USA", "eccn": "x", "hsCode": "1"}))
    assert [m.split(":")[2].strip() for m in messages] == ["eccn", "countryOfOrigin", "hsCode"]


def test_problem_carries_the_rows_id(check: Check) -> None:
    """A rejected row's id travels with its problems, so its remote pair can be protected."""
    (problem,) = check({"hsCode": "1"})
    assert isinstance(problem, Problem)
    assert problem.sku_id == "SKU-1"
