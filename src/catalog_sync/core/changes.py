"""Field-level differences between two API objects: the one place deepdiff is called.

Metadata is compared key by key (``metadata.color``) so a report shows which key changed
rather than two whole objects; every other field is compared whole. Numbers compare by value
(the API may return ``2`` for a weight the catalog wrote as ``2.0``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from deepdiff import DeepDiff

from catalog_sync.core.pairs import CATALOG_FIELDS, JSON

METADATA: Final = "metadata"
_RANK: Final = {name: rank for rank, name in enumerate(CATALOG_FIELDS)}


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field going from ``old`` to ``new``; ``None`` on either side means "not set"."""

    field: str
    old: JSON
    new: JSON


def _flatten(fields: Mapping[str, JSON]) -> dict[str, JSON]:
    flat: dict[str, JSON] = {}
    for name, value in fields.items():
        if name == METADATA and isinstance(value, dict):
            flat.update({f"{METADATA}.{key}": item for key, item in value.items()})
        elif value is not None:
            flat[name] = value
    return flat


def _order(field: str) -> tuple[int, str]:
    base = METADATA if field.startswith(f"{METADATA}.") else field
    return (_RANK.get(base, len(_RANK)), field)


def _differing(old: Mapping[str, JSON], new: Mapping[str, JSON]) -> set[str]:
    return {name for name in old.keys() | new.keys() if old.get(name) != new.get(name)}


def diff_fields(old: Mapping[str, JSON], new: Mapping[str, JSON]) -> tuple[FieldChange, ...]:
    """Changes that turn ``old`` into ``new``, in catalog field order then by name.

    Callers pass the managed fields only (see :mod:`catalog_sync.core.pairs`); equal inputs
    return at once, so deepdiff's cost is paid only for pairs that really differ.
    """
    flat_old, flat_new = _flatten(old), _flatten(new)
    if flat_old == flat_new:
        return ()
    tree = DeepDiff(
        flat_old, flat_new, ignore_order=False, ignore_numeric_type_changes=True, view="tree"
    )
    changed: set[str] = set()
    for levels in tree.values():
        for level in levels:
            path = level.path(output_format="list")
            # deepdiff reports "everything" at the root when one side is empty.
            changed.update([str(path[0])] if path else _differing(flat_old, flat_new))
    return tuple(
        FieldChange(field, flat_old.get(field), flat_new.get(field))
        for field in sorted(changed, key=_order)
    )
