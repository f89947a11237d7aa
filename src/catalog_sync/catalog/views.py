"""The catalog as a reconcile reads it: parsed and held, or indexed and read again in parts.

The daemon keeps its catalog parsed (a dropped file is then planned in milliseconds), so its
runs see a :class:`HeldCatalog`. A one-off ``reconcile`` of a folder sees a
:class:`StreamedCatalog`: an index of a few dozen bytes per pair, the rows to plan read again
from the files a chunk at a time, so its memory stays flat from a hundred pairs to a million.
The reconciler is written against :class:`CatalogView` and cannot tell them apart.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Collection, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Protocol

from catalog_sync.catalog.files import catalog_paths, index_catalog_files, indexed_pairs
from catalog_sync.core.catalog import Catalog
from catalog_sync.core.catalog_index import CatalogIndex, IndexedPair
from catalog_sync.core.pairs import DesiredPair
from catalog_sync.core.problems import Problem
from catalog_sync.core.textstream import DEFAULT_LIMITS, Limits


class CatalogView(Protocol):
    """What a reconcile needs of the catalog."""

    @property
    def problems(self) -> tuple[Problem, ...]:
        """Every problem found reading the files."""
        ...

    @property
    def unparseable_files(self) -> frozenset[str]:
        """Files none of whose rows are used."""
        ...

    @property
    def protected_ids(self) -> frozenset[str]:
        """Ids held by a broken file or a rejected row: left alone remotely."""
        ...

    @property
    def complete(self) -> bool:
        """Whether every file was read."""
        ...

    @property
    def invalid_rows(self) -> int:
        """Records skipped for errors."""
        ...

    def __len__(self) -> int: ...

    def __contains__(self, pair_id: object) -> bool: ...

    def ids(self) -> Iterable[str]:
        """Every pair id (in no promised order)."""
        ...

    def slot(self, pair_id: str) -> int | None:
        """A dense number for the pair (``0 <= slot < len``), or ``None`` when not a pair."""
        ...

    def id_at(self, slot: int) -> str:
        """The id numbered ``slot``."""
        ...

    def own_id(self, pair_id: str) -> str:
        """The catalog's own string for a pair id: what a run keeps beyond one chunk (the
        tracked ids) holds it rather than a copy read again from a file, so the long-lived
        strings are not scattered through memory freed chunk after chunk."""
        ...

    def missing(self, ids: Collection[str]) -> int:
        """How many of ``ids`` the catalog does not have."""
        ...

    def content_hash(self, pair_id: str) -> str:
        """The pair's content hash, as the state records it."""
        ...

    def side_digests(self, pair_id: str) -> tuple[bytes, bytes]:
        """The pair's SKU and item side digests."""
        ...

    def source(self, pair_id: str) -> str:
        """Where the pair is defined (``file:line``)."""
        ...

    def desired(self, wanted: Collection[str] | None, size: int) -> Iterator[list[DesiredPair]]:
        """The pairs of ``wanted`` (every pair for ``None``), ``size`` at a time; blocking."""
        ...


class _Read:
    """What reading the files found, the same for both views: their ``_read`` is the parsed
    catalog or the index, which answer these alike."""

    _read: Catalog | CatalogIndex

    @property
    def problems(self) -> tuple[Problem, ...]:
        """Every problem found reading the files."""
        return self._read.problems

    @property
    def unparseable_files(self) -> frozenset[str]:
        """Files none of whose rows are used."""
        return self._read.unparseable_files

    @property
    def protected_ids(self) -> frozenset[str]:
        """Ids held by a broken file or a rejected row."""
        return self._read.protected_ids

    @property
    def complete(self) -> bool:
        """Whether every file was read."""
        return self._read.complete

    @property
    def invalid_rows(self) -> int:
        """Records skipped for errors."""
        return self._read.invalid_rows


class HeldCatalog(_Read):
    """A parsed :class:`Catalog` seen as a :class:`CatalogView`; nothing is computed ahead."""

    def __init__(self, catalog: Catalog) -> None:
        self._read = catalog
        self._pairs = catalog.pairs
        self._sorted: list[str] | None = None

    def __len__(self) -> int:
        return len(self._pairs)

    def __contains__(self, pair_id: object) -> bool:
        return pair_id in self._pairs

    def ids(self) -> Iterable[str]:
        """Every pair id."""
        return self._pairs.keys()

    def slot(self, pair_id: str) -> int | None:
        """The pair's position in id order (the order is sorted on first use)."""
        ordered = self._ordered()
        at = bisect_left(ordered, pair_id)
        return at if at < len(ordered) and ordered[at] == pair_id else None

    def id_at(self, slot: int) -> str:
        """The id at ``slot`` in id order."""
        return self._ordered()[slot]

    def own_id(self, pair_id: str) -> str:
        """The id as given: the held catalog's rows are its own."""
        return pair_id

    def missing(self, ids: Collection[str]) -> int:
        """How many of ``ids`` are not pairs (one pass in C over a set)."""
        held = ids if isinstance(ids, (set, frozenset)) else set(ids)
        return len(held.difference(self._pairs))

    def _ordered(self) -> list[str]:
        if self._sorted is None:
            self._sorted = sorted(self._pairs)
        return self._sorted

    def content_hash(self, pair_id: str) -> str:
        """The pair's content hash."""
        return self._pairs[pair_id].content_hash()

    def side_digests(self, pair_id: str) -> tuple[bytes, bytes]:
        """The pair's side digests."""
        digests = self._pairs[pair_id].digests()
        return digests.sku, digests.item

    def source(self, pair_id: str) -> str:
        """Where the pair is defined."""
        return str(self._pairs[pair_id].source)

    def desired(self, wanted: Collection[str] | None, size: int) -> Iterator[list[DesiredPair]]:
        """The pairs of ``wanted``, in id order, ``size`` at a time."""
        ids = iter(sorted(self._pairs if wanted is None else wanted))
        while chunk := [self._pairs[i] for i in islice(ids, size) if i in self._pairs]:
            yield chunk


class StreamedCatalog(_Read):
    """A catalog folder as a :class:`CatalogIndex`, its rows read again when planned."""

    def __init__(self, index: CatalogIndex, paths: list[Path], limits: Limits) -> None:
        self._read = self._index = index
        self._paths = paths
        self._limits = limits

    @classmethod
    def read(cls, folder: Path, limits: Limits = DEFAULT_LIMITS) -> StreamedCatalog:
        """Index every catalog file of ``folder`` (blocking: seconds for a large catalog)."""
        paths = catalog_paths([folder])
        return cls(index_catalog_files(paths, limits), paths, limits)

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, pair_id: object) -> bool:
        return pair_id in self._index

    def ids(self) -> Iterable[str]:
        """Every pair id, in order."""
        return self._index.ids()

    def slot(self, pair_id: str) -> int | None:
        """The pair's position in id order."""
        return self._index.slot(pair_id)

    def id_at(self, slot: int) -> str:
        """The id at ``slot``."""
        return self._index.id_at(slot)

    def own_id(self, pair_id: str) -> str:
        """The index's string for ``pair_id``."""
        slot = self._index.slot(pair_id)
        return pair_id if slot is None else self._index.id_at(slot)

    def missing(self, ids: Collection[str]) -> int:
        """How many of ``ids`` are not pairs."""
        return sum(1 for i in ids if i not in self._index)

    def content_hash(self, pair_id: str) -> str:
        """The pair's content hash, from the index."""
        return self._pair(pair_id).content_hash

    def side_digests(self, pair_id: str) -> tuple[bytes, bytes]:
        """The pair's side digests, from the index."""
        pair = self._pair(pair_id)
        return pair.sku_digest, pair.item_digest

    def source(self, pair_id: str) -> str:
        """Where the pair is defined."""
        return str(self._pair(pair_id).source)

    def desired(self, wanted: Collection[str] | None, size: int) -> Iterator[list[DesiredPair]]:
        """The pairs of ``wanted``, read again from the files in file order, ``size`` at a time.

        Every file is read through once however few pairs are wanted; a run wanting none reads
        nothing.
        """
        if wanted is not None and not wanted:
            return
        rows = indexed_pairs(self._index, self._paths, self._limits)
        chosen = rows if wanted is None else (p for p in rows if p.id in wanted)
        while chunk := list(islice(chosen, size)):
            yield chunk

    def _pair(self, pair_id: str) -> IndexedPair:
        slot = self._index.slot(pair_id)
        if slot is None:
            raise KeyError(pair_id)
        return self._index.pair(slot)
