"""Property: no input makes the parser raise, and every problem names a file and a line."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog_sync.core.catalog import CatalogBuilder
from catalog_sync.core.problems import Problem

VALID_CSV = (
    "id,name,taxCode,eccn,countryOfOrigin,hsCode,weight,weightUnit,allowOversell,metadata.k\n"
    'A,"Tent, 2p",4323.310_A,EAR99,US,8518.30,1.5,kg,yes,v\n'
    "B,Lamp,4323.310_A,EAR99,DE,,,,no,\n"
)
VALID_JSON = (
    '{"items": [\n {"id": "A", "name": "T", "taxCode": "t", "eccn": "EAR99",'
    ' "countryOfOrigin": "US", "metadata": {"k": 1}},\n {"id": "B", "skuGroupId": "g",'
    ' "name": "L", "weight": 2, "weightUnit": "g"}\n]}\n'
)
VALID_JSONL = (
    '{"id": "A", "name": "T", "skuGroupId": "g"}\n{"id": "B", "name": "L", "skuGroupId": "g"}\n'
)
EXAMPLES = {"csv": VALID_CSV, "json": VALID_JSON, "jsonl": VALID_JSONL}
SUFFIXES = sorted(EXAMPLES)


@st.composite
def damaged(draw: st.DrawFn, suffix: str) -> bytes:
    """A valid file with a random cut, insertion or byte change: near-misses reach deep code."""
    data = EXAMPLES[suffix].encode()
    at = draw(st.integers(0, len(data)))
    kind = draw(st.sampled_from(["cut", "insert", "replace"]))
    noise = draw(st.binary(min_size=1, max_size=8))
    if kind == "cut":
        return data[:at]
    if kind == "insert":
        return data[:at] + noise + data[at:]
    return data[:at] + noise + data[at + len(noise) :]


def _problems(name: str, data: bytes) -> list[Problem]:
    builder = CatalogBuilder()
    builder.add_bytes(name, data)
    return list(builder.build().problems)


@pytest.mark.parametrize("suffix", SUFFIXES)
@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_never_crash(suffix: str, data: bytes) -> None:
    """Any bytes give problems (or pairs), never an exception; every problem is located."""
    name = f"fuzz.{suffix}"
    for problem in _problems(name, data):
        assert problem.file == name
        assert problem.line >= 1


@pytest.mark.parametrize("suffix", SUFFIXES)
@settings(max_examples=150, deadline=None)
@given(st.data())
def test_damaged_files_never_crash(suffix: str, data: st.DataObject) -> None:
    """Truncated and corrupted versions of valid files are reported with a file and a line."""
    name = f"fuzz.{suffix}"
    for problem in _problems(name, data.draw(damaged(suffix))):
        assert problem.file == name
        assert problem.line >= 1


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_undamaged_examples_are_clean(suffix: str) -> None:
    """The seeds of the damage strategy are valid, so the damage is what the test exercises."""
    assert _problems(f"ok.{suffix}", EXAMPLES[suffix].encode()) == []
