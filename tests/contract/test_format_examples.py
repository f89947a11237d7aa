"""The catalog validator and the sandbox, each held to the one table of format examples.

Neither side's rules are imported here: the catalog is asked through a parsed catalog file,
the sandbox through SKU and inventory-item writes over loopback HTTP, and both answers are
compared with ``tests/format_examples.py``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.format_examples import EXAMPLES, Example
from tests.hostile_values import foreign_digits

from catalog_sync.core.catalog import parse_bytes
from catalog_sync.core.pairs import DesiredPair
from catalog_sync.core.problems import Problem, Severity
from catalog_sync.sandbox.testing import item_body, sku_body

#: A catalog record that validates; each example changes one field of it.
BASE_ROW = {
    "id": "FX-1",
    "name": "Tent",
    "taxCode": "4323.310_A",
    "eccn": "EAR99",
    "countryOfOrigin": "VN",
}
#: A field the example needs beside it, so that only the example's value can be at fault.
COMPANION = {"weight": ("weightUnit", "kg"), "weightUnit": ("weight", "1")}
_MARKER = "@@example@@"


def _catalog_items(example: Example) -> list[DesiredPair | Problem]:
    """Parse a one-row CSV catalog holding the example's value as a person would type it."""
    row = {**BASE_ROW, example.field: example.value}
    if example.field in COMPANION:
        name, value = COMPANION[example.field]
        row[name] = value
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(row))
    writer.writeheader()
    writer.writerow(row)
    return list(parse_bytes("c.csv", text.getvalue().encode()))


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.label for e in EXAMPLES])
def test_catalog_decides_each_example_as_the_table_says(example: Example) -> None:
    """The catalog keeps the row, or reports a problem on the example's field, as listed."""
    items = _catalog_items(example)
    errors = [i for i in items if isinstance(i, Problem) and i.severity is Severity.ERROR]
    if example.catalog:
        assert errors == [], [str(e) for e in errors]
        assert [type(i) for i in items] == [DesiredPair]
    else:
        assert [e.field for e in errors] == [example.field], [str(e) for e in errors]


@dataclass(frozen=True)
class Write:
    """A write of the API that carries a field, with a body it would otherwise accept."""

    name: str
    method: str
    path: str
    body: Callable[[], dict[str, Any]]
    fields: frozenset[str]


WRITES = (
    Write(
        "POST /skus",
        "POST",
        "/skus",
        lambda: {"id": "FX-1", **sku_body()},
        frozenset({"id", "hsCode", "eccn", "countryOfOrigin", "weight", "weightUnit"}),
    ),
    Write(
        "PUT /skus/{id}",
        "PUT",
        "/skus/FX-1",
        sku_body,
        frozenset({"hsCode", "eccn", "countryOfOrigin", "weight", "weightUnit"}),
    ),
    Write(
        "POST /inventory-items",
        "POST",
        "/inventory-items",
        lambda: {"id": "FX-1", **item_body()},
        frozenset({"id", "hsCode", "eccn", "countryOfOrigin"}),
    ),
)
CASES = [
    pytest.param(example, write, id=f"{write.name}:{example.label}")
    for example in EXAMPLES
    for write in WRITES
    if example.field in write.fields
]


def _raw_body(write: Write, example: Example) -> bytes:
    """The body with the example's value: a JSON string, or for a weight the number as written."""
    body = {**write.body(), example.field: _MARKER}
    literal = example.value if example.field == "weight" else json.dumps(example.value)
    return json.dumps(body).replace(json.dumps(_MARKER), literal).encode()


@pytest.mark.parametrize(("example", "write"), CASES)
def test_sandbox_decides_each_example_as_the_table_says(
    api: httpx.Client, example: Example, write: Write
) -> None:
    """The sandbox creates the SKU or item (200 / 201) or answers 400, as listed."""
    response = api.request(
        write.method,
        write.path,
        content=_raw_body(write, example),
        headers={"Content-Type": "application/json"},
    )
    expected = {200, 201} if example.api else {400}
    assert response.status_code in expected, response.text


def test_every_field_is_sent_to_the_sandbox() -> None:
    """Each field of the table reaches the sandbox through at least one write."""
    sent = {field for write in WRITES for field in write.fields}
    assert {example.field for example in EXAMPLES} <= sent


def test_the_catalog_never_accepts_what_the_api_refuses() -> None:
    """Where the two differ, the catalog is the stricter: a row it keeps is never a 400."""
    looser = [example.label for example in EXAMPLES if example.catalog and not example.api]
    assert looser == []


#: A valid value of each field that holds digits; a property swaps one for another script's.
WITH_DIGITS = {"id": "SKU-1", "hsCode": "8471.30.0100", "eccn": "5A992.c"}
#: Examples per property; each sandbox example is one HTTP call over loopback.
PROPERTY = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@st.composite
def _foreign_digit_values(draw: st.DrawFn) -> Example:
    """A valid id, HS code or ECCN with one of its ASCII digits written in another script."""
    field = draw(st.sampled_from(sorted(WITH_DIGITS)))
    valid = WITH_DIGITS[field]
    position = draw(st.sampled_from([i for i, char in enumerate(valid) if char.isdigit()]))
    digit = draw(foreign_digits())[0]
    value = valid[:position] + digit + valid[position + 1 :]
    return Example(field, value, catalog=False, api=False, why="a digit of another script")


@PROPERTY
@given(example=_foreign_digit_values())
def test_catalog_refuses_digits_of_other_scripts(example: Example) -> None:
    """``\\d`` takes every script's digits; the catalog's formats take ASCII digits only."""
    items = _catalog_items(example)
    assert [i.field for i in items if isinstance(i, Problem)] == [example.field]


@PROPERTY
@given(example=_foreign_digit_values())
def test_sandbox_refuses_digits_of_other_scripts(api: httpx.Client, example: Example) -> None:
    """The sandbox's formats take ASCII digits only: any other script's digit is a 400."""
    write = next(w for w in WRITES if example.field in w.fields)
    response = api.request(
        write.method,
        write.path,
        content=_raw_body(write, example),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
