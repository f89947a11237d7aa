"""A catalog summarised to a few dozen bytes per pair, for catalogs too large to hold.

A one-off reconcile of a million-row catalog cannot keep every parsed row (about a kilobyte
each). It reads the files twice instead: once into this index (each valid pair's id, where its
row is, its content hash and its two side digests), and once more for only the rows that must
be planned (see :mod:`catalog_sync.catalog.views`). The index decides everything the parsed
catalog decides (which row of a duplicated id wins, which files are broken, which ids are
protected) by the same rules as :class:`~catalog_sync.core.catalog.CatalogBuilder` and
:func:`~catalog_sync.core.catalog.merge_catalogs`, so both readings of a folder agree.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Final

from catalog_sync.core.catalog import duplicate_problem
from catalog_sync.core.pairs import SIDE_DIGEST_BYTES, DesiredPair, SourceRef
from catalog_sync.core.problems import Problem, Severity

#: Bytes of the content hash kept per pair (a SHA-256, as the state records it in hex).
_CONTENT_BYTES: Final = 32


@dataclass(frozen=True, slots=True)
class IndexedPair:
    """What the index holds of one pair."""

    id: str
    source: SourceRef
    content_hash: str
    sku_digest: bytes
    item_digest: bytes


class CatalogIndex:
    """Every valid pair as its id (sorted), source, content hash and side digests.

    Pairs are addressed by *slot*, their position in id order, so per-pair flags of a run can
    be a ``bytearray`` rather than a dictionary of a million entries.
    """

    def __init__(
        self,
        columns: _Columns,
        problems: tuple[Problem, ...],
        unparseable_files: frozenset[str],
        protected_ids: frozenset[str],
        signatures: Mapping[str, tuple[int, int]],
    ) -> None:
        self._columns = columns
        #: Each file's (size, modification time) as it was read.
        self.signatures = signatures
        self.files = tuple(columns.files)
        self.problems = problems
        self.unparseable_files = unparseable_files
        self.protected_ids = protected_ids

    def __len__(self) -> int:
        return len(self._columns.ids)

    def __contains__(self, pair_id: object) -> bool:
        return isinstance(pair_id, str) and self.slot(pair_id) is not None

    @property
    def complete(self) -> bool:
        """Whether every file was read; deleting orphans is only ever safe when it was."""
        return not self.unparseable_files

    @property
    def invalid_rows(self) -> int:
        """How many records were skipped for errors (as :attr:`Catalog.invalid_rows`)."""
        return len({(p.file, p.line) for p in self.problems if p.severity is Severity.ERROR})

    def ids(self) -> Iterator[str]:
        """Every pair id, in order."""
        return iter(self._columns.ids)

    def slot(self, pair_id: str) -> int | None:
        """The pair's position in id order, or ``None`` when the catalog has no such pair."""
        ids = self._columns.ids
        at = bisect_left(ids, pair_id)
        return at if at < len(ids) and ids[at] == pair_id else None

    def id_at(self, slot: int) -> str:
        """The id at ``slot`` (the index's own string, so callers share it)."""
        return self._columns.ids[slot]

    def pair(self, slot: int) -> IndexedPair:
        """Everything the index holds of the pair at ``slot``."""
        return self._columns.pair(slot)

    def is_indexed_row(self, pair: DesiredPair, *, check_content: bool = True) -> bool:
        """Whether ``pair`` is the row this index chose for its id, unchanged since.

        A second reading of the files keeps only such rows: a duplicate that lost, or a row
        edited between the two readings (its next run applies it), is never planned. The
        content is compared unless the caller knows the file is the one indexed.
        """
        slot = self.slot(pair.id)
        if slot is None or self._columns.source(slot) != pair.source:
            return False
        return not check_content or self.pair(slot).content_hash == pair.content_hash()


_SIDES: Final = 2 * SIDE_DIGEST_BYTES


class _Columns:
    """The pairs as parallel compact columns (ids, file number, line, hash, side digests)."""

    def __init__(self) -> None:
        self.files: list[str] = []
        self.ids: list[str] = []
        self.file = array("H")
        self.line = array("L")
        self.content = bytearray()
        self.sides = bytearray()

    def append(self, pair: DesiredPair, file: int) -> None:
        digests = pair.digests()
        self.ids.append(pair.id)
        self.file.append(file)
        self.line.append(pair.line)
        self.content += bytes.fromhex(digests.content)
        self.sides += digests.sku + digests.item

    def truncate(self, length: int) -> None:
        """Drop every pair from ``length`` on (a file that broke contributes none)."""
        del self.ids[length:], self.file[length:], self.line[length:]
        del self.content[length * _CONTENT_BYTES :], self.sides[length * _SIDES :]

    def source(self, position: int) -> SourceRef:
        return SourceRef(self.files[self.file[position]], self.line[position])

    def pair(self, position: int) -> IndexedPair:
        side = position * _SIDES
        return IndexedPair(
            self.ids[position],
            self.source(position),
            self.content[position * _CONTENT_BYTES : (position + 1) * _CONTENT_BYTES].hex(),
            bytes(self.sides[side : side + SIDE_DIGEST_BYTES]),
            bytes(self.sides[side + SIDE_DIGEST_BYTES : side + _SIDES]),
        )

    def kept(self, positions: list[int]) -> _Columns:
        """These positions only, in this order; each column is rebuilt and the old one freed
        before the next, so sorting a million pairs never holds two copies of them all."""
        new = _Columns()
        new.files = self.files
        new.ids = [self.ids[p] for p in positions]
        self.ids = []
        new.file = array("H", (self.file[p] for p in positions))
        self.file = array("H")
        new.line = array("L", (self.line[p] for p in positions))
        self.line = array("L")
        content = memoryview(self.content)
        new.content = bytearray(_CONTENT_BYTES * len(positions))
        for at, p in enumerate(positions):
            new.content[at * _CONTENT_BYTES : (at + 1) * _CONTENT_BYTES] = content[
                p * _CONTENT_BYTES : (p + 1) * _CONTENT_BYTES
            ]
        content.release()
        self.content = bytearray()
        sides = memoryview(self.sides)
        new.sides = bytearray(_SIDES * len(positions))
        for at, p in enumerate(positions):
            new.sides[at * _SIDES : (at + 1) * _SIDES] = sides[p * _SIDES : (p + 1) * _SIDES]
        sides.release()
        self.sides = bytearray()
        return new


class IndexBuilder:
    """Accumulates files, in path order, into a :class:`CatalogIndex`.

    The rules are :class:`~catalog_sync.core.catalog.CatalogBuilder`'s for one file (a broken
    file contributes no pairs; its ids and rejected rows' ids are protected; of an id repeated
    in a file the first row wins) and :func:`~catalog_sync.core.catalog.merge_catalogs`' across
    files (the first file's row wins; a later file's clashes follow its own problems, by id).
    Duplicates are found once, by sorting, rather than with a dictionary of every id.
    """

    def __init__(self) -> None:
        self._columns = _Columns()
        #: Each file's problems, in the order the parser reported them.
        self._problems: list[list[Problem]] = []
        self._unparseable: set[str] = set()
        self._held: set[str] = set()

    def add(self, name: str, items: Iterable[DesiredPair | Problem]) -> None:
        """Read one file's parsed records."""
        columns = self._columns
        number, start = len(columns.files), len(columns.ids)
        columns.files.append(name)
        problems: list[Problem] = []
        self._problems.append(problems)
        broken = False
        for item in items:
            if isinstance(item, Problem):
                problems.append(item)
                broken = broken or item.severity is Severity.FATAL
                if item.severity is Severity.ERROR and item.sku_id is not None:
                    self._held.add(item.sku_id)
                continue
            columns.append(item, number)
        if broken:
            self._unparseable.add(name)
            ids = columns.ids[start:]
            self._held.update(ids)
            order = sorted(range(start, start + len(ids)), key=columns.ids.__getitem__)
            inside = [problem for _, problem, _ in _duplicates(columns, order)]
            problems[:] = _with_duplicates(problems, inside, [])
            columns.truncate(start)

    def build(self, signatures: Mapping[str, tuple[int, int]]) -> CatalogIndex:
        """The index of every file added (the builder is spent); ``signatures`` are the files'
        (size, modification time) as they were read."""
        columns = self._columns
        order = sorted(range(len(columns.ids)), key=columns.ids.__getitem__)
        losers: set[int] = set()
        inside: dict[str, list[Problem]] = {}
        clashes: dict[str, list[Problem]] = {}
        for loser, problem, same_file in _duplicates(columns, order):
            losers.add(loser)
            (inside if same_file else clashes).setdefault(problem.file, []).append(problem)
        kept = columns.kept([p for p in order if p not in losers] if losers else order)
        protected = frozenset(i for i in self._held if not _holds(kept.ids, i))
        problems = [
            p
            for name, own in zip(kept.files, self._problems, strict=True)
            for p in _with_duplicates(own, inside.get(name, []), clashes.get(name, []))
        ]
        return CatalogIndex(
            kept, tuple(problems), frozenset(self._unparseable), protected, dict(signatures)
        )


def _holds(ids: list[str], pair_id: str) -> bool:
    at = bisect_left(ids, pair_id)
    return at < len(ids) and ids[at] == pair_id


def _duplicates(columns: _Columns, order: list[int]) -> Iterator[tuple[int, Problem, bool]]:
    """Each losing row of a repeated id (its position), its problem, and whether it repeats a
    row of its own file.

    ``order`` sorts positions by id and, within an id, in reading order: the first of a run
    wins. A row repeats the first row of its own file when there is one before it (as one
    file's reading reports it), and the winner otherwise (as the merge of files does).
    """
    ids = columns.ids
    at = 0
    while at < len(order):
        end = at + 1
        while end < len(order) and ids[order[end]] == ids[order[at]]:
            end += 1
        first_in_file: dict[int, int] = {}
        for position in order[at:end]:
            first = first_in_file.setdefault(columns.file[position], position)
            if position == order[at]:
                continue
            same_file = first != position
            repeated = columns.source(first if same_file else order[at])
            problem = duplicate_problem(columns.source(position), ids[position], repeated)
            yield position, problem, same_file
        at = end


def _with_duplicates(
    own: list[Problem], inside: list[Problem], clashes: list[Problem]
) -> list[Problem]:
    """A file's problems with its duplicate rows' problems where its own reading puts them:
    a repeat within the file at its line, a clash with an earlier file after them all, by id."""
    merged: list[Problem] = []
    pending = iter(sorted(inside, key=_line))
    waiting = next(pending, None)
    for problem in own:
        while waiting is not None and waiting.line < problem.line:
            merged.append(waiting)
            waiting = next(pending, None)
        merged.append(problem)
    if waiting is not None:
        merged.append(waiting)
    merged.extend(pending)
    return merged + sorted(clashes, key=_sku_id)


def _line(problem: Problem) -> int:
    return problem.line


def _sku_id(problem: Problem) -> str:
    return problem.sku_id or ""
