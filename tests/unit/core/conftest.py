"""Shared fixtures for the pure catalog core: parse text or one record, get items back."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

import pytest

from catalog_sync.core.catalog import parse_bytes
from catalog_sync.core.pairs import JSON, DesiredPair
from catalog_sync.core.problems import Problem

Item = DesiredPair | Problem
Parse = Callable[[str, str], list[Item]]
Check = Callable[[Mapping[str, JSON]], list[Item]]

#: A record that validates: each test changes one thing about it.
VALID: Mapping[str, JSON] = {
    "id": "SKU-1",
    "name": "Tent",
    "taxCode": "4323.310_A",
    "eccn": "EAR99",
    "countryOfOrigin": "VN",
}


@pytest.fixture
def parse() -> Parse:
    """Parse a whole file given as text; the name's suffix picks the format."""

    def run(name: str, text: str) -> list[Item]:
        return list(parse_bytes(name, text.encode()))

    return run


@pytest.fixture
def check(parse: Parse) -> Check:
    """Parse one JSON record made of :data:`VALID` updated with the given fields."""

    def run(changes: Mapping[str, JSON]) -> list[Item]:
        record = {**VALID, **changes}
        return parse("c.json", json.dumps([{k: v for k, v in record.items() if v is not None}]))

    return run
