"""The sandbox's collection pages like a plain list of its objects, whatever writes came first.

The collection keeps compact JSON at fixed positions, tombstones and compacts on deletes; a
plain list in creation order (a replaced object keeps its place, a re-created one goes to the
newest end) is what every page must agree with.
"""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st
from tests.fuzz.budget import fuzz_settings

from catalog_sync.sandbox.store import Collection, Obj, Window

NAMES = [f"k{n}" for n in range(8)]
KEYS = st.sampled_from(NAMES)
#: One write per number: which key (n % 8), put or delete (2 puts to 1 delete), the value put.
#: Long enough, on few keys, for deletes to force compactions.
WRITES = st.lists(st.integers(0, 8 * 3 * 10 - 1), min_size=150, max_size=600)


def _apply(writes: list[int], indexed: tuple[str, ...] = ()) -> tuple[Collection, list[Obj]]:
    collection = Collection(indexed=indexed)
    model: list[Obj] = []
    for write in writes:
        key, action, value = NAMES[write % 8], write // 8 % 3, write // 24
        at = next((i for i, obj in enumerate(model) if obj["id"] == key), None)
        if action == 2:
            assert collection.delete(key) == (at is not None)
            if at is not None:
                del model[at]
            continue
        obj = {"id": key, "value": value}
        collection.put(key, obj)
        if at is None:
            model.append(obj)
        else:
            model[at] = obj
    return collection, model


def _data(collection: Collection, window: Window) -> tuple[list[Obj], bool]:
    envelope = json.loads(collection.page(window).envelope())
    return envelope["data"], envelope["hasMore"]


@fuzz_settings
@given(WRITES, st.integers(1, 5))
def test_pages_after_each_cursor_match_the_list(writes: list[int], limit: int) -> None:
    """From the newest end and after every live object, a page is the next ``limit`` older
    objects, and ``hasMore`` says whether any older one is left."""
    collection, model = _apply(writes)
    newest_first = model[::-1]
    assert _data(collection, Window(limit=limit)) == (
        newest_first[:limit],
        len(newest_first) > limit,
    )
    for index, obj in enumerate(newest_first):
        older = newest_first[index + 1 :]
        window = Window(limit=limit, starting_after=obj["id"])
        assert _data(collection, window) == (older[:limit], len(older) > limit)


@fuzz_settings
@given(WRITES, st.integers(1, 5))
def test_pages_before_each_cursor_match_the_list(writes: list[int], limit: int) -> None:
    """Before every live object, a page is the ``limit`` newer objects nearest to it."""
    collection, model = _apply(writes)
    for index, obj in enumerate(model):
        newer = model[index + 1 :]
        window = Window(limit=limit, ending_before=obj["id"])
        assert _data(collection, window) == (newer[:limit][::-1], len(newer) > limit)


@fuzz_settings
@given(WRITES, st.sets(KEYS))
def test_lookups_and_ids_filter_match_the_list(writes: list[int], ids: set[str]) -> None:
    """``get``, ``len`` and an ``ids`` page see exactly the live objects, newest first."""
    collection, model = _apply(writes)
    by_id = {obj["id"]: obj for obj in model}
    assert len(collection) == len(model)
    assert all(collection.get(key) == by_id.get(key) for key in NAMES)
    wanted = [obj for obj in model[::-1] if obj["id"] in ids]
    assert _data(collection, Window(limit=100, ids=frozenset(ids))) == (wanted, False)


@fuzz_settings
@given(WRITES, st.sets(st.integers(0, 9).map(str)), st.integers(1, 5))
def test_pages_of_an_indexed_field_match_the_filtered_list(
    writes: list[int], values: set[str], limit: int
) -> None:
    """A page filtered on an indexed field (as ``upstreamIds`` is) holds the matching objects,
    newest first, from the newest end and after every cursor, though objects change their
    value, are deleted and compacted away; the filter only ever sees objects that match."""
    collection, model = _apply(writes, indexed=("value",))
    wanted = frozenset(values)
    seen: list[Obj] = []

    def predicate(obj: Obj) -> bool:
        seen.append(obj)
        return str(obj["value"]) in wanted

    matching = [obj for obj in model[::-1] if str(obj["value"]) in wanted]
    window = Window(limit=limit, predicate=predicate, matching={"value": wanted})
    assert _data(collection, window) == (matching[:limit], len(matching) > limit)
    for index, obj in enumerate(model[::-1]):
        older = [o for o in model[::-1][index + 1 :] if str(o["value"]) in wanted]
        after = Window(
            limit=limit, starting_after=obj["id"], predicate=predicate, matching={"value": wanted}
        )
        assert _data(collection, after) == (older[:limit], len(older) > limit)
    assert all(str(obj["value"]) in wanted for obj in seen)
