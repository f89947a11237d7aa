"""One reconcile run: read the catalog, read what is needed remotely, plan, apply, report.

The decisions are the core's (:func:`catalog_sync.core.plan.plan`); this module only gathers
their inputs, executes the writes through the one client (its rate budget and bounded
concurrency), records each outcome in the state database and writes the report.

Memory stays flat in the catalog's size. The catalog is a :class:`CatalogView` (an index of a
one-off run's files, or the daemon's parsed catalog); what is compared is kept as hashes and
one byte per pair; the pairs that need planning are read, planned, applied and forgotten a
chunk at a time, while the next chunk is read; their changes go to a :class:`ChangeSpool`.
Deleting orphans is planned last, against the whole catalog's and remote side's sizes, so the
prune guard is the same as if everything had been held.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Final

from catalog_sync.catalog.report import (
    ChangeAction,
    ChangeEntry,
    ChangeStatus,
    ChangeStream,
    FailureEntry,
    FieldChangeEntry,
    OrphanEntry,
    OrphanOutcome,
    ProblemEntry,
    ReconcileReport,
    RunKind,
    Summary,
    write_report,
)
from catalog_sync.catalog.spool import ChangeSpool
from catalog_sync.catalog.views import CatalogView, HeldCatalog, StreamedCatalog
from catalog_sync.core.catalog import Catalog
from catalog_sync.core.pairs import (
    JSON,
    ActualPair,
    DesiredPair,
    Fields,
    item_fields,
    remote_item,
    remote_sku,
    side_digest,
    sku_fields,
)
from catalog_sync.core.plan import (
    WRITE_TYPES,
    CreateItem,
    CreatePair,
    DeletePair,
    Entry,
    Orphan,
    PairDrift,
    Plan,
    Policy,
    Unchanged,
    UpdateItem,
    UpdateSku,
    plan,
)
from catalog_sync.core.problems import FILE_FIELD, Problem, Severity
from catalog_sync.core.textstream import DEFAULT_LIMITS, Limits
from catalog_sync.dr import (
    DigitalRiverClient,
    DRError,
    InventoryItemCreate,
    InventoryItemUpdate,
    SkuUpsert,
)
from catalog_sync.dr.errors import APIError, NotFound
from catalog_sync.dr.writes import ensure_inventory_item
from catalog_sync.state import AppliedPair, CatalogState
from catalog_sync.support.logs import get_logger

log = get_logger("reconcile")

#: Applied pairs are committed in batches this large: a crash loses at most this many
#: records, and those pairs are simply found in sync (no write) by the next run.
_COMMIT_EVERY: Final = 500
#: Pairs being applied at once; the client's own semaphore bounds requests in flight.
_PAIRS_IN_FLIGHT: Final = 64
#: Pairs planned together: read from the files, read remotely, planned, then applied.
_CHUNK: Final = 1000
#: Pairs planned ahead of those being applied (the queue the workers take from).
_QUEUED: Final = 4 * _PAIRS_IN_FLIGHT
#: Chunks held at once: being applied, or applied and waiting to be counted in order.
_CHUNKS_AHEAD: Final = 4
#: Ids whose applied records are read from the state in one query while comparing.
_STATE_CHUNK: Final = 2000

# What a listing found of a catalog pair, one byte per pair.
_SKU_SEEN: Final = 1
_SKU_EQUAL: Final = 2
_PHYSICAL: Final = 4
_ITEM_SEEN: Final = 8
_ITEM_EQUAL: Final = 16


@dataclass(frozen=True, slots=True)
class _Side:
    """One side of a pair as a listing treats it: its place in the pair's tuples, its marks,
    and how its managed fields are taken from an API object."""

    index: int
    seen: int
    equal: int
    fields: Callable[[Mapping[str, JSON]], dict[str, JSON]]
    project: Callable[[Mapping[str, JSON], Mapping[str, JSON] | None, dict[str, str]], Fields]


_SKU: Final = _Side(0, _SKU_SEEN, _SKU_EQUAL, sku_fields, remote_sku)
_ITEM: Final = _Side(1, _ITEM_SEEN, _ITEM_EQUAL, item_fields, remote_item)


@dataclass(frozen=True, slots=True)
class ReconcileOptions:
    """What a run may do; mirrors the ``reconcile`` command's flags."""

    kind: RunKind = "reconcile"
    dry_run: bool = False
    audit: bool = False
    prune: bool = False
    max_delete_pct: float = 10.0
    #: Incremental runs (the watcher): only these ids are read and planned.
    scope: frozenset[str] | None = None


@dataclass(frozen=True)
class ReconcileResult:
    """What a run did: its report (and where it was written) and every change."""

    #: The report; its ``changes`` are the first :data:`CHANGES_IN_MEMORY` only.
    report: ReconcileReport
    report_path: Path | None
    #: Every change of the run, as the written report lists them.
    changes: ChangeStream
    #: Pairs found drifted (sides disagreeing, or changed remotely since last applied).
    drift_found: int

    @property
    def failed(self) -> int:
        """Writes that failed after their retries."""
        return self.report.summary.failed


@dataclass
class _Tally:
    """What a run did so far, pair by pair, without holding its plan."""

    dry_run: bool
    spool: ChangeSpool = field(default_factory=ChangeSpool)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    drifted: int = 0
    drift_fixed: int = 0
    orphans: list[Orphan] = field(default_factory=list)
    refusal: str | None = None
    deleted: list[str] = field(default_factory=list)
    failures: list[FailureEntry] = field(default_factory=list)
    failed_ids: set[str] = field(default_factory=set)
    #: Every entry planned, kept only for ``plan`` (which prints them all).
    collected: list[Entry] | None = None

    def add(self, chunk_plan: Plan, view: CatalogView) -> None:
        """Count one chunk whose writes are done (or, in a dry run, only planned)."""
        counts, failed = chunk_plan.counts, self.failed_ids
        if self.collected is not None:
            self.collected.extend(chunk_plan.entries)
        created = {e.id for e in chunk_plan.writes if isinstance(e, CreatePair)}
        changed = {e.id for e in chunk_plan.writes if not isinstance(e, (CreatePair, DeletePair))}
        drift = {e.id for e in chunk_plan.entries if isinstance(e, PairDrift)}
        self.unchanged += counts.unchanged
        self.drifted += len(drift)
        self.orphans.extend(e for e in chunk_plan.entries if isinstance(e, Orphan))
        if self.dry_run:
            self.created += counts.created
            self.updated += counts.updated
        else:
            self.created += len(created - failed)
            self.updated += len(changed - created - failed)
            self.drift_fixed += len(drift - failed)
        for entry in chunk_plan.writes:
            status: ChangeStatus = "planned" if self.dry_run else "applied"
            if not self.dry_run and entry.id in failed:
                status = "failed"
            self.spool.add(
                ChangeEntry.model_construct(
                    _CHANGE_FIELDS_SET,
                    id=entry.id,
                    action=_ACTIONS[type(entry)],
                    drift=entry.id in drift,
                    status=status,
                    source=view.source(entry.id) if entry.id in view else None,
                    fields=_field_entries(entry),
                )
            )


@dataclass
class _Listed:
    """What listing every remote object found, kept per catalog pair in a byte.

    An object equal to the catalog's side (by digest) is only marked; one that differs is kept
    (projected) when it will be planned; one whose id the catalog lacks is a possible orphan.
    """

    marks: bytearray
    skus: dict[str, Mapping[str, JSON]] = field(default_factory=dict)
    items: dict[str, Mapping[str, JSON]] = field(default_factory=dict)
    #: Remote ids the catalog does not have: (has a SKU, has an item).
    extra: dict[str, list[bool]] = field(default_factory=dict)

    def seen(self) -> int:
        """Remote pairs listed (catalog pairs with a side, and the others)."""
        return sum(1 for m in self.marks if m & (_SKU_SEEN | _ITEM_SEEN)) + len(self.extra)

    def actual(self, pair: DesiredPair, slot: int) -> ActualPair:
        """The remote pair as listed: the catalog's own sides where they were equal."""
        mark = self.marks[slot]
        sku = self.skus.get(pair.id)
        if mark & _SKU_EQUAL:
            sku = pair.sku.with_physical(bool(mark & _PHYSICAL))
        item = pair.item if mark & _ITEM_EQUAL else self.items.get(pair.id)
        return ActualPair(pair.id, sku, item)


def _settled(mark: int) -> bool:
    """Whether a listed pair needs no planning: the SKU equal, and the item too if physical."""
    return bool(mark & _SKU_EQUAL) and (not mark & _PHYSICAL or bool(mark & _ITEM_EQUAL))


@dataclass
class _Chunk:
    """A planned chunk, its pairs being applied; counted once they all are."""

    plan: Plan
    pending: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def finish_one(self) -> None:
        self.pending -= 1
        if self.pending <= 0:
            self.done.set()


@dataclass(frozen=True, slots=True)
class _Work:
    """One pair to apply: its entries, its catalog row, what is known of ``physical``."""

    chunk: _Chunk
    pair_id: str
    entries: tuple[Entry, ...]
    desired: DesiredPair | None
    physical: bool | None


ProgressCallback = Callable[[int, int], None]
#: A planned chunk, the catalog rows it planned and what was read of them remotely.
_Planned = tuple[Plan, Mapping[str, DesiredPair], Mapping[str, ActualPair]]


class Reconciler:
    """Runs reconciles for one catalog folder against one client and state database."""

    def __init__(
        self,
        client: DigitalRiverClient,
        store: CatalogState,
        *,
        catalogs: Path,
        reports: Path | None,
        reports_keep: int = 50,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self._client = client
        self._store = store
        self._catalogs = catalogs
        self._reports = reports
        self._reports_keep = reports_keep
        self._limits = limits
        #: The ids of the applied pairs, as read by the last whole-catalog run and kept up to
        #: date by this reconciler's own records since. A scoped run (the daemon's reaction to
        #: one dropped file) uses it instead of reading every tracked id again: at 100,000
        #: pairs that read was most of a drop's latency. Every unscoped run reads it anew and
        #: any failure drops it, so nothing written by another process outlives a full run.
        self._tracked: set[str] | None = None

    # -- the run ---------------------------------------------------------------------------
    async def run(
        self,
        options: ReconcileOptions,
        *,
        catalog: Catalog | None = None,
        progress: ProgressCallback | None = None,
    ) -> ReconcileResult:
        """Reconcile once; every failure is recorded in the result, none is raised.

        ``catalog`` lets a long-running caller (the daemon) pass the catalog it keeps parsed,
        so a one-file change does not re-read every file; by default the folder is indexed
        and its rows read again a chunk at a time.
        """
        started_at = datetime.now(UTC)
        started = time.monotonic()
        calls_before = self._calls()
        run_id = self._store.start_run(options.kind, dry_run=options.dry_run)
        tally = _Tally(options.dry_run)
        try:
            view = await self._view(catalog)
            in_sync_outside = await self._reconcile(view, options, tally, progress)
        except BaseException:
            self._tracked = None
            raise
        calls, writes = self._calls_since(calls_before)
        report = _build_report(
            run_id=run_id,
            options=options,
            view=view,
            tally=tally,
            in_sync_outside_scope=in_sync_outside,
            started_at=started_at,
            seconds=time.monotonic() - started,
            calls=calls,
            writes=writes,
        )
        changes = tally.spool.stream()
        path = None
        if self._reports is not None:
            path = await asyncio.to_thread(
                partial(write_report, keep=self._reports_keep, changes=changes),
                report,
                self._reports,
            )
        self._store.finish_run(
            run_id,
            counts=report.summary.model_dump(exclude={"duration_seconds"}),
            failures=report.summary.failed,
            report_path=None if path is None else str(path),
        )
        log.info(
            "reconcile finished",
            run=run_id,
            kind=options.kind,
            **report.summary.model_dump(),
            report=None if path is None else str(path),
        )
        return ReconcileResult(report, path, changes, tally.drifted)

    async def plan_only(self, options: ReconcileOptions) -> Plan:
        """Plan without writing anything, recording a run, or writing a report."""
        tally = _Tally(dry_run=True, collected=[])
        view = await self._view(None)
        await self._reconcile(view, options, tally, None)
        assert tally.collected is not None
        entries = sorted(tally.collected, key=_entry_id)
        return Plan(tuple(entries), tally.refusal)

    async def _view(self, catalog: Catalog | None) -> CatalogView:
        if catalog is not None:
            return HeldCatalog(catalog)
        # Parsing and hashing are CPU work on plain data: they run in a worker thread so the
        # event loop they share with the event handler keeps answering (a capture never waits
        # for a 100,000-row catalog to be read).
        return await asyncio.to_thread(StreamedCatalog.read, self._catalogs, self._limits)

    # -- deciding what to plan -------------------------------------------------------------
    async def _reconcile(
        self,
        view: CatalogView,
        options: ReconcileOptions,
        tally: _Tally,
        progress: ProgressCallback | None,
    ) -> int:
        """Plan and apply; returns the tracked pairs in sync outside the planned scope."""
        if options.scope is None or self._tracked is None:
            self._tracked = self._store.applied_ids()
        tracked = self._tracked
        protected = set(view.protected_ids)
        for broken in view.unparseable_files:
            protected.update(self._store.pair_ids_by_file(broken))
        stale = await self._stale(view, options.scope)
        candidates = tracked if options.scope is None else options.scope & tracked
        gone = {i for i in candidates if i not in view and i not in protected}
        listed: _Listed | None = None
        if options.audit or _listing_is_cheaper(len(stale) + len(gone), len(tracked)):
            listed = await self._list(view, stale, audit=options.audit)
        wanted: set[str] = stale
        settled = 0
        if options.audit:
            assert listed is not None
            wanted, settled = _unsettled(view, listed, stale)
            if tally.collected is not None:
                tally.collected.extend(Unchanged(i) for i in view.ids() if i not in wanted)
        tally.unchanged += settled
        remote = _RemoteCount(tracked, listed, audit=options.audit)
        await self._execute(
            view, wanted=wanted, listed=listed, remote=remote, tally=tally, progress=progress
        )
        orphans = await self._orphans(listed, gone, audit=options.audit, prune=options.prune)
        policy = Policy(
            prune=options.prune,
            max_delete_pct=options.max_delete_pct,
            catalog_complete=view.complete,
            protected_ids=frozenset(protected),
        )
        if orphans:
            sizes = (len(view), remote.total(view) if options.prune else 0)
            orphan_plan = await asyncio.to_thread(plan, {}, orphans, policy, sizes=sizes)
            tally.refusal = orphan_plan.refusal
            await self._apply_plans(
                _one(orphan_plan, orphans),
                view,
                tally,
                progress=progress,
                total=len(orphans),
                stale=(),
            )
        if options.audit:
            return 0
        in_catalog = len(tracked) - view.missing(tracked)
        return in_catalog - sum(1 for i in stale if i in tracked)

    async def _stale(self, view: CatalogView, scope: frozenset[str] | None) -> set[str]:
        """Catalog ids (within ``scope``) whose record in the state is missing or old.

        The state is read :data:`_STATE_CHUNK` ids at a time (on the loop's thread, like every
        other use of the state) and each chunk compared in a worker thread, so a run never
        holds a record per tracked pair.
        """
        candidates = sorted(view.ids() if scope is None else (i for i in scope if i in view))
        stale: set[str] = set()
        for start in range(0, len(candidates), _STATE_CHUNK):
            chunk = candidates[start : start + _STATE_CHUNK]
            applied = self._store.applied_pairs(chunk)
            await asyncio.to_thread(_add_stale, stale, chunk, view, applied)
        return stale

    # -- reading remotely ------------------------------------------------------------------
    async def _list(self, view: CatalogView, stale: set[str], *, audit: bool) -> _Listed:
        """List every remote SKU and item, keeping a byte per catalog pair and only the
        objects that differ from the catalog (by side digest) and will be planned.

        An audit plans every pair, so every object is compared; another run plans only its
        stale pairs, so the others are only marked as existing (the prune guard counts them).
        """
        listed = _Listed(bytearray(len(view)))
        marks, shared = listed.marks, dict[str, str]()
        kept = (listed.skus, listed.items)
        client = self._client
        sides = ((_SKU, client.iter_skus(ids=None)), (_ITEM, client.iter_inventory_items(ids=None)))
        for side, objects in sides:
            async for obj in objects:
                slot = view.slot(obj.id)
                if slot is None:
                    listed.extra.setdefault(obj.id, [False, False])[side.index] = True
                    continue
                marks[slot] |= side.seen
                if not audit and obj.id not in stale:
                    continue
                body = _as_json(obj)
                if body.get("physical") is True:  # a SKU's; an item has no such field
                    marks[slot] |= _PHYSICAL
                if side_digest(side.fields(body)) == view.side_digests(obj.id)[side.index]:
                    marks[slot] |= side.equal
                else:
                    kept[side.index][obj.id] = side.project(body, None, shared)
        return listed

    async def _read(
        self, desired: Mapping[str, DesiredPair], ids: list[str]
    ) -> dict[str, ActualPair]:
        """Read the SKUs and items of ``ids``, keeping only what planning compares.

        Each object is projected as it arrives into its pair, its values shared with the
        catalog's where they are equal.
        """
        shared: dict[str, str] = {}
        actual: dict[str, ActualPair] = {}
        async for sku in self._client.iter_skus(ids=ids):
            want = desired.get(sku.id)
            # The catalog's id object is the key, not the API's copy of the same text.
            pair_id = sku.id if want is None else want.id
            projected = remote_sku(_as_json(sku), None if want is None else want.sku, shared)
            actual[pair_id] = ActualPair(pair_id, sku=projected)
        async for item in self._client.iter_inventory_items(ids=ids):
            want = desired.get(item.id)
            pair_id = item.id if want is None else want.id
            projected = remote_item(_as_json(item), None if want is None else want.item, shared)
            known = actual.get(pair_id)
            actual[pair_id] = ActualPair(pair_id, None if known is None else known.sku, projected)
        return actual

    async def _orphans(
        self,
        listed: _Listed | None,
        gone: set[str],
        *,
        audit: bool,
        prune: bool,
    ) -> dict[str, ActualPair]:
        """The remote pairs the catalog lacks that this run considers.

        An audit considers every one listed; another run the tracked ones gone from the
        catalog (read by id when nothing was listed). Under ``--prune`` a gone pair that was
        not found is still planned for deletion, which finds it gone and forgets it.
        """
        found: dict[str, ActualPair] = {}
        if listed is not None:
            for pair_id, (sku, item) in listed.extra.items():
                if audit or pair_id in gone:
                    found[pair_id] = _existing(pair_id, sku=sku, item=item)
        else:
            ids = sorted(gone)
            for start in range(0, len(ids), _CHUNK):
                actual = await self._read({}, ids[start : start + _CHUNK])
                found.update((i, a) for i, a in actual.items() if a.exists)
        if prune and not audit:
            found.update((i, _existing(i, sku=True, item=False)) for i in gone if i not in found)
        return found

    # -- applying --------------------------------------------------------------------------
    async def _execute(
        self,
        view: CatalogView,
        *,
        wanted: set[str],
        listed: _Listed | None,
        remote: _RemoteCount,
        tally: _Tally,
        progress: ProgressCallback | None,
    ) -> None:
        """Plan and apply the ``wanted`` pairs a chunk at a time."""
        chunks = view.desired(wanted, _CHUNK)

        async def plans() -> AsyncIterator[_Planned]:
            while chunk := await asyncio.to_thread(_next_chunk, chunks):
                desired = {p.id: p for p in chunk}
                ids = sorted(desired)
                if listed is None:
                    actual = await self._read(desired, ids)
                    remote.found(actual)
                else:
                    actual = {i: listed.actual(p, _slot(view, i)) for i, p in desired.items()}
                records = self._store.applied_pairs(ids)
                applied = {i: r.content_hash for i, r in records.items()}
                chunk_plan = await asyncio.to_thread(plan, desired, actual, Policy(), applied)
                yield chunk_plan, desired, actual

        await self._apply_plans(
            plans(), view, tally, progress=progress, total=len(wanted), stale=wanted
        )

    async def _apply_plans(
        self,
        plans: AsyncIterator[_Planned],
        view: CatalogView,
        tally: _Tally,
        *,
        progress: ProgressCallback | None,
        total: int,
        stale: Collection[str],
    ) -> None:
        """Apply each plan's pairs while the next plans are made (see :class:`_Applier`)."""
        applier = _Applier(self, view, tally, progress=progress, total=total, stale=stale)
        try:
            await applier.run(plans)
        finally:
            # Also when cancelled (the daemon's stop timeout): writes done are recorded.
            self._record(applier.pending)
            if tally.deleted:
                self._store.forget_pairs(tally.deleted)
                if self._tracked is not None:
                    self._tracked.difference_update(tally.deleted)

    def _record(self, pairs: list[AppliedPair]) -> None:
        self._store.record_applied(pairs)
        if self._tracked is not None:
            self._tracked.update(p.id for p in pairs)

    async def _apply_pair(
        self, work: _Work, view: CatalogView, tally: _Tally
    ) -> AppliedPair | None:
        """Run one pair's writes in order; return what to record when all succeeded."""
        pair_id, physical = work.pair_id, work.physical
        for entry in work.entries:
            try:
                physical = await self._write(entry, physical)
            except DRError as exc:
                tally.failures.append(_failure(pair_id, entry, exc))
                tally.failed_ids.add(pair_id)
                log.warning("write failed", id=pair_id, action=_action(entry), error=str(exc))
                return None
            except Exception as exc:
                # A pair that cannot even be sent (a defect meeting a value nobody foresaw)
                # fails alone, like a refused write: the other pairs still apply.
                message = f"could not be sent: {type(exc).__name__}"
                tally.failures.append(
                    FailureEntry(id=pair_id, action=_action(entry), message=message)
                )
                tally.failed_ids.add(pair_id)
                log.exception("write could not be sent", id=pair_id, action=_action(entry))
                return None
        if any(isinstance(e, DeletePair) for e in work.entries):
            tally.deleted.append(pair_id)
            return None
        desired = work.desired
        if desired is None:
            return None
        own = view.own_id(pair_id)
        return AppliedPair(own, view.content_hash(own), desired.file, desired.line, physical)

    async def _write(self, entry: Entry, physical: bool | None) -> bool | None:
        """Execute one plan entry; returns what is known of the SKU's ``physical``."""
        client = self._client
        if isinstance(entry, CreatePair):
            result = await client.upsert_sku(entry.id, SkuUpsert.model_validate(entry.sku_body))
            physical = result.sku.physical
            if physical:
                await self._ensure_item(entry.id, entry.item_body)
        elif isinstance(entry, UpdateSku):
            result = await client.upsert_sku(entry.id, SkuUpsert.model_validate(entry.body))
            physical = result.sku.physical
        elif isinstance(entry, CreateItem):
            if not entry.if_physical or physical:
                await self._ensure_item(entry.id, entry.body)
        elif isinstance(entry, UpdateItem):
            body = InventoryItemUpdate.model_validate(dict(entry.fields))
            await client.update_inventory_item(entry.id, body)
        elif isinstance(entry, DeletePair):
            if entry.item:
                await _delete_missing_ok(client.delete_inventory_item(entry.id))
            if entry.sku:
                await _delete_missing_ok(client.delete_sku(entry.id))
        return physical

    async def _ensure_item(self, pair_id: str, body: Mapping[str, JSON]) -> None:
        """Create the item; if it already existed (a lost answer, or made by someone else),
        bring its fields to the catalog's with one update."""
        fields = dict(body)
        ensured = await ensure_inventory_item(
            self._client, pair_id, InventoryItemCreate.model_validate(fields)
        )
        if ensured.created:
            return
        current = _as_json(ensured.value)
        differs = {k: v for k, v in fields.items() if current.get(k) != v}
        if differs:
            body_update = InventoryItemUpdate.model_validate(differs)
            await self._client.update_inventory_item(pair_id, body_update)

    # -- accounting ------------------------------------------------------------------------
    def _calls(self) -> dict[tuple[str, str], int]:
        return dict(self._client.stats.calls)

    def _calls_since(self, before: Mapping[tuple[str, str], int]) -> tuple[int, int]:
        now = self._client.stats.calls
        diff = {key: count - before.get(key, 0) for key, count in now.items()}
        total = sum(diff.values())
        writes = sum(count for (method, _), count in diff.items() if method != "GET")
        return total, writes


class _Applier:
    """Applies planned chunks with :data:`_PAIRS_IN_FLIGHT` workers while the next chunks are
    planned, and counts each chunk once all its pairs are done, in plan order (so the report
    lists changes in the order they were planned, whatever order they finished in)."""

    def __init__(
        self,
        reconciler: Reconciler,
        view: CatalogView,
        tally: _Tally,
        *,
        progress: ProgressCallback | None,
        total: int,
        stale: Collection[str],
    ) -> None:
        self._reconciler = reconciler
        self._view = view
        self._tally = tally
        self._progress = progress
        self._total = total
        self._stale = stale
        self._work: asyncio.Queue[_Work | None] = asyncio.Queue(_QUEUED)
        self._order: asyncio.Queue[_Chunk | None] = asyncio.Queue()
        #: Chunks planned but not yet counted: a pair slow to finish (retrying through an
        #: outage) holds back its chunk's count, and the chunks behind it are kept until then.
        self._ahead = asyncio.Semaphore(_CHUNKS_AHEAD)
        self._done = 0
        #: Applied pairs not yet recorded in the state.
        self.pending: list[AppliedPair] = []

    async def run(self, plans: AsyncIterator[_Planned]) -> None:
        """Apply every plan; on any failure the other tasks are cancelled and it is raised."""
        tasks = [
            asyncio.ensure_future(self._produce(plans)),
            asyncio.ensure_future(self._count()),
            *(asyncio.ensure_future(self._apply()) for _ in range(_PAIRS_IN_FLIGHT)),
        ]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def _produce(self, plans: AsyncIterator[_Planned]) -> None:
        async for chunk_plan, desired, actual in plans:
            await self._ahead.acquire()
            chunk = _Chunk(chunk_plan)
            items = [] if self._tally.dry_run else list(_works(chunk, desired, actual, self._stale))
            chunk.pending = len(items)
            if not items:
                chunk.done.set()
            await self._order.put(chunk)
            for item in items:
                await self._work.put(item)
        await self._order.put(None)
        for _ in range(_PAIRS_IN_FLIGHT):
            await self._work.put(None)

    async def _count(self) -> None:
        while (chunk := await self._order.get()) is not None:
            await chunk.done.wait()
            self._tally.add(chunk.plan, self._view)
            self._ahead.release()

    async def _apply(self) -> None:
        reconciler = self._reconciler
        while (item := await self._work.get()) is not None:
            record = await reconciler._apply_pair(item, self._view, self._tally)  # noqa: SLF001
            if record is not None:
                self.pending.append(record)
            if len(self.pending) >= _COMMIT_EVERY:
                reconciler._record(self.pending)  # noqa: SLF001
                self.pending.clear()
            self._done += 1
            if self._progress is not None:
                self._progress(self._done, self._total)
            item.chunk.finish_one()


# ------------------------------------------------------------------------------- helpers
#: Ids one filtered list call can carry (the client splits ``ids`` into URL-sized chunks).
_IDS_PER_CALL: Final = 50
#: Objects per page when listing everything (the API's maximum page).
_PAGE: Final = 100


def _listing_is_cheaper(changed: int, tracked: int) -> bool:
    """Whether listing every remote object takes fewer calls than asking for ``changed`` ids.

    A first sync (nothing tracked) lists: an empty account answers in one call per kind,
    where asking for 100,000 ids one chunk at a time would take thousands of calls.
    """
    return changed / _IDS_PER_CALL > tracked / _PAGE + 1


class _RemoteCount:
    """How many pairs exist remotely, as the prune guard measures the share it may delete.

    With a listing: an audit counts what was listed, another run what was listed and every
    tracked pair. Without one: every tracked pair, and each untracked one a read found.
    """

    def __init__(self, tracked: set[str], listed: _Listed | None, *, audit: bool) -> None:
        self._tracked = tracked
        self._listed = listed
        self._audit = audit
        self._untracked_found = 0

    def found(self, actual: Mapping[str, ActualPair]) -> None:
        """Count the untracked pairs a read by id found."""
        tracked = self._tracked
        self._untracked_found += sum(1 for i, a in actual.items() if a.exists and i not in tracked)

    def total(self, view: CatalogView) -> int:
        """The remote pairs; a pass over the tracked ids, so only asked for under prune."""
        listed = self._listed
        if listed is None:
            return len(self._tracked) + self._untracked_found
        if self._audit:
            return listed.seen()
        unlisted = sum(1 for i in self._tracked if not _was_listed(listed, view, i))
        return listed.seen() + unlisted


def _was_listed(listed: _Listed, view: CatalogView, pair_id: str) -> bool:
    slot = view.slot(pair_id)
    if slot is None:
        return pair_id in listed.extra
    return bool(listed.marks[slot] & (_SKU_SEEN | _ITEM_SEEN))


def _existing(pair_id: str, *, sku: bool, item: bool) -> ActualPair:
    """A remote pair known only by which sides exist (all deleting it needs)."""
    side: dict[str, JSON] = {"id": pair_id}
    return ActualPair(pair_id, side if sku else None, side if item else None)


def _slot(view: CatalogView, pair_id: str) -> int:
    slot = view.slot(pair_id)
    if slot is None:
        raise KeyError(pair_id)
    return slot


def _unsettled(view: CatalogView, listed: _Listed, stale: set[str]) -> tuple[set[str], int]:
    """The pairs an audit must plan (stale, or not listed equal), and how many it need not."""
    wanted = set(stale)
    settled = 0
    for slot, mark in enumerate(listed.marks):
        pair_id = view.id_at(slot)
        if not _settled(mark):
            wanted.add(pair_id)
        elif pair_id not in stale:
            settled += 1
    return wanted, settled


def _add_stale(
    stale: set[str], chunk: Iterable[str], view: CatalogView, applied: Mapping[str, AppliedPair]
) -> None:
    """Add the ids of ``chunk`` whose record is missing or holds another hash."""
    for pair_id in chunk:
        record = applied.get(pair_id)
        if record is None or record.content_hash != view.content_hash(pair_id):
            stale.add(pair_id)


def _works(
    chunk: _Chunk,
    desired: Mapping[str, DesiredPair],
    actual: Mapping[str, ActualPair],
    stale: Collection[str],
) -> Iterator[_Work]:
    """The pairs of a planned chunk that have writes, or whose record must be renewed."""
    for pair_id, entries in chunk.plan.by_id():
        if _needs_apply(entries, stale):
            known = actual.get(pair_id)
            physical = None if known is None else known.physical
            yield _Work(chunk, pair_id, entries, desired.get(pair_id), physical)


async def _one(the_plan: Plan, actual: Mapping[str, ActualPair]) -> AsyncIterator[_Planned]:
    yield the_plan, {}, actual


def _next_chunk(chunks: Iterator[list[DesiredPair]]) -> list[DesiredPair]:
    return next(chunks, [])


def _entry_id(entry: Entry) -> str:
    return entry.id


def _as_json(model: Any) -> dict[str, JSON]:
    dumped: dict[str, JSON] = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return dumped


async def _delete_missing_ok(call: Any) -> None:
    """Deleting what is already gone is done, not a failure."""
    try:
        await call
    except NotFound:
        return


def _needs_apply(entries: tuple[Entry, ...], stale: Collection[str]) -> bool:
    """Whether a pair has writes, or is in sync but its record in the state is stale."""
    return any(isinstance(e, WRITE_TYPES) for e in entries) or (
        isinstance(entries[-1], Unchanged) and entries[-1].id in stale
    )


_ACTIONS: Final[Mapping[type, ChangeAction]] = {
    CreatePair: "create_pair",
    UpdateSku: "update_sku",
    UpdateItem: "update_item",
    CreateItem: "create_item",
    DeletePair: "delete_pair",
}

#: Every field of a :class:`ChangeEntry` is given: an initial sync reports 100,000 entries, so
#: they are built from already-typed values without validation and share this one set.
_CHANGE_FIELDS_SET: Final = set(ChangeEntry.model_fields)


def _action(entry: Entry) -> str:
    return _ACTIONS.get(type(entry), type(entry).__name__)


def _failure(pair_id: str, entry: Entry, exc: DRError) -> FailureEntry:
    if isinstance(exc, APIError):
        return FailureEntry(
            id=pair_id,
            action=_action(entry),
            message=exc.message or str(exc),
            status=exc.status,
            type=exc.type,
            code=exc.code,
            parameter=exc.parameter,
        )
    return FailureEntry(id=pair_id, action=_action(entry), message=str(exc))


def _problem_entry(problem: Problem) -> ProblemEntry:
    severity = "warning" if problem.severity is Severity.WARNING else "error"
    return ProblemEntry(
        file=problem.file,
        line=problem.line,
        field=FILE_FIELD if problem.field is None else problem.field,
        message=problem.message,
        severity=severity,
    )


def _field_entries(entry: Entry) -> list[FieldChangeEntry]:
    if isinstance(entry, UpdateSku):
        return [
            FieldChangeEntry(side="sku", field=c.field, old=c.old, new=c.new) for c in entry.changes
        ]
    if isinstance(entry, UpdateItem):
        return [
            FieldChangeEntry(side="item", field=c.field, old=c.old, new=c.new)
            for c in entry.changes
        ]
    # A creation's "new" values are its catalog row (``source`` names it); listing every field
    # of 100,000 created pairs would make the report, and the run's memory, several times larger.
    return []


def _build_report(
    *,
    run_id: int,
    options: ReconcileOptions,
    view: CatalogView,
    tally: _Tally,
    in_sync_outside_scope: int,
    started_at: datetime,
    seconds: float,
    calls: int,
    writes: int,
) -> ReconcileReport:
    """The report, holding the first :data:`CHANGES_IN_MEMORY` changes."""
    summary = Summary(
        pairs_in_catalog=len(view),
        in_sync=tally.unchanged + in_sync_outside_scope,
        created=tally.created,
        updated=tally.updated,
        drift_fixed=tally.drift_fixed,
        orphans=len(tally.orphans),
        deleted=len(tally.deleted),
        failed=len(tally.failed_ids),
        invalid_rows=view.invalid_rows,
        unparseable_files=len(view.unparseable_files),
        api_calls=calls,
        write_calls=writes,
        duration_seconds=round(seconds, 3),
    )
    deleted = set(tally.deleted)
    return ReconcileReport(
        run_id=run_id,
        kind=options.kind,
        started_at=started_at,
        finished_at=datetime.now(UTC),
        dry_run=options.dry_run,
        audit=options.audit,
        prune=options.prune,
        prune_refused=tally.refusal,
        summary=summary,
        changes=tally.spool.first,
        failures=tally.failures,
        invalid_rows=[_problem_entry(p) for p in view.problems],
        unparseable_files=sorted(view.unparseable_files),
        orphans=[
            OrphanEntry(id=o.id, outcome=_orphan_outcome(o.id, tally, deleted, options))
            for o in tally.orphans
        ],
    )


def _orphan_outcome(
    pair_id: str, tally: _Tally, deleted: set[str], options: ReconcileOptions
) -> OrphanOutcome:
    if pair_id in deleted:
        return "deleted"
    if pair_id in tally.failed_ids:
        return "failed"
    if options.prune and tally.refusal is not None:
        return "refused"
    return "reported"
