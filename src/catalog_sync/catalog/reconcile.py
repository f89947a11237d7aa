"""One reconcile run: read the catalog, read what is needed remotely, plan, apply, report.

The decisions are the core's (:func:`catalog_sync.core.plan.plan`); this module only gathers
their inputs, executes the writes through the one client (its rate budget and bounded
concurrency), records each outcome in the state database and writes the report.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any, Final

from catalog_sync.catalog.files import catalog_paths, load_catalog_files
from catalog_sync.catalog.report import (
    CHANGES_IN_MEMORY,
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
from catalog_sync.core.catalog import Catalog
from catalog_sync.core.pairs import JSON, ActualPair, DesiredPair, remote_item, remote_sku
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
#: Ids whose applied records are read from the state in one query while planning.
_STATE_CHUNK: Final = 2000


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
    """What a run did: the plan, the report (and where it was written)."""

    plan: Plan
    catalog: Catalog
    #: The report; its ``changes`` are the first :data:`CHANGES_IN_MEMORY` only.
    report: ReconcileReport
    report_path: Path | None
    #: Every change of the run, as the written report lists them.
    changes: ChangeStream

    @property
    def failed(self) -> int:
        """Writes that failed after their retries."""
        return self.report.summary.failed


@dataclass
class _Outcome:
    """Per-pair results of applying a plan."""

    deleted: list[str] = field(default_factory=list)
    failures: list[FailureEntry] = field(default_factory=list)
    failed_ids: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class _Planned:
    """A plan and what applying it needs to know beyond the plan itself."""

    plan: Plan
    #: Tracked pairs outside the planned scope: in sync by the state's record.
    in_sync_outside_scope: int
    #: Catalog ids whose recorded hash is missing or old (re-recorded even when in sync).
    stale: frozenset[str]
    #: The SKU's ``physical`` as read remotely, where it was read.
    physical: Mapping[str, bool | None]


@dataclass(frozen=True)
class _Compared:
    """The catalog against the state's records of what was applied."""

    #: Catalog ids whose recorded hash is missing or old: changed since last applied.
    stale: set[str]
    #: Ids whose record matches the catalog, with that hash (kept for audits only).
    in_sync: dict[str, str]

    def add(
        self,
        chunk: Iterable[str],
        desired: Mapping[str, DesiredPair],
        applied: Mapping[str, AppliedPair],
        keep_in_sync: bool,
    ) -> None:
        """Compare one chunk of catalog ids, hashing each row once."""
        for pair_id in chunk:
            digest = desired[pair_id].content_hash()
            record = applied.get(pair_id)
            if record is None or record.content_hash != digest:
                self.stale.add(pair_id)
            elif keep_in_sync:
                self.in_sync[pair_id] = digest


ProgressCallback = Callable[[int, int], None]


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
        so a one-file change does not re-read every file; by default the folder is read.
        """
        started_at = datetime.now(UTC)
        started = time.monotonic()
        calls_before = self._calls()
        run_id = self._store.start_run(options.kind, dry_run=options.dry_run)
        if catalog is None:
            # Parsing, hashing and planning are CPU work on plain data: they run in a worker
            # thread so the event loop they share with the event handler keeps answering (a
            # capture never waits for a 100,000-row catalog to be parsed).
            catalog = await asyncio.to_thread(self.load_catalog)
        try:
            planned = await self._plan(catalog, options)
            outcome = _Outcome()
            if not options.dry_run:
                outcome = await self._apply(planned, catalog, progress)
        except BaseException:
            self._tracked = None
            raise
        the_plan = planned.plan
        calls, writes = self._calls_since(calls_before)
        report, changes = await asyncio.to_thread(
            _build_report,
            run_id=run_id,
            options=options,
            catalog=catalog,
            the_plan=the_plan,
            outcome=outcome,
            in_sync_outside_scope=planned.in_sync_outside_scope,
            started_at=started_at,
            seconds=time.monotonic() - started,
            calls=calls,
            writes=writes,
        )
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
        return ReconcileResult(the_plan, catalog, report, path, changes)

    async def plan_only(self, options: ReconcileOptions) -> tuple[Plan, Catalog]:
        """Plan without writing anything, recording a run, or writing a report."""
        catalog = self.load_catalog()
        return (await self._plan(catalog, options)).plan, catalog

    def load_catalog(self) -> Catalog:
        """Read every catalog file of the folder."""
        return load_catalog_files(catalog_paths([self._catalogs]), self._limits)

    # -- planning --------------------------------------------------------------------------
    async def _plan(self, catalog: Catalog, options: ReconcileOptions) -> _Planned:
        """Plan, reading remotely only what may differ from what was last applied."""
        # A scoped run (the daemon's watch runs) compares the state of its scope only, so a
        # one-row change costs the same with 100 pairs or 100,000.
        if options.scope is None or self._tracked is None:
            self._tracked = self._store.applied_ids()
        tracked = self._tracked
        protected = set(catalog.protected_ids)
        for broken in catalog.unparseable_files:
            protected.update(self._store.pair_ids_by_file(broken))
        compared = await self._compare(catalog.pairs, options.scope, keep_in_sync=options.audit)
        if options.audit:
            actual = await self._read_all_remote(catalog.pairs)
            scope = options.scope
        else:
            if options.scope is None:
                gone = tracked - catalog.pairs.keys() - protected
            else:  # only the scope's ids: no pass over every tracked id for one dropped file
                gone = {
                    i
                    for i in options.scope
                    if i in tracked and i not in catalog.pairs and i not in protected
                }
            scope = frozenset(compared.stale | gone)
            if _listing_is_cheaper(len(scope), len(tracked)):
                actual = await self._read_all_remote(catalog.pairs)
            else:
                actual = await self._read_remote(scope, catalog.pairs)
            # Tracked pairs outside the scope exist remotely as last applied; they count for
            # the prune guard's share but need no read and no planning.
            if options.prune:
                for pair_id in tracked - actual.keys():
                    actual[pair_id] = ActualPair(pair_id, sku={"id": pair_id})
        policy = Policy(
            prune=options.prune,
            max_delete_pct=options.max_delete_pct,
            catalog_complete=catalog.complete,
            protected_ids=frozenset(protected),
            scope=scope,
        )
        the_plan = await asyncio.to_thread(plan, catalog.pairs, actual, policy, compared.in_sync)
        pairs = catalog.pairs
        # Counted, not built as sets (two more sets of every tracked id would be the peak): the
        # tracked pairs in the catalog (one C-level pass) less those of the scope.
        outside = 0
        if scope is not None:
            in_catalog = len(tracked) - len(tracked.difference(pairs))
            outside = in_catalog - sum(1 for i in scope if i in tracked and i in pairs)
        # Only the pairs the apply step visits (writes, or a stale record) need theirs.
        visited = compared.stale.union(write.id for write in the_plan.writes)
        physical = {i: actual[i].physical for i in visited if i in actual}
        return _Planned(the_plan, outside, frozenset(compared.stale), physical)

    async def _compare(
        self,
        desired: Mapping[str, DesiredPair],
        scope: frozenset[str] | None,
        *,
        keep_in_sync: bool,
    ) -> _Compared:
        """Compare the catalog (within ``scope``) with what was last applied, a chunk at a time.

        The state is read :data:`_STATE_CHUNK` ids at a time (on the loop's thread, like every
        other use of the state) and each chunk's rows hashed in a worker thread, so a run never
        holds a record per tracked pair. ``keep_in_sync`` keeps the hashes of the pairs found in
        sync (an audit tells drift from a catalog change by them).
        """
        candidates = sorted(desired.keys() if scope is None else scope & desired.keys())
        compared = _Compared(set(), {})
        for start in range(0, len(candidates), _STATE_CHUNK):
            chunk = candidates[start : start + _STATE_CHUNK]
            applied = self._store.applied_pairs(chunk)
            await asyncio.to_thread(compared.add, chunk, desired, applied, keep_in_sync)
        return compared

    async def _read_remote(
        self, ids: Iterable[str], desired: Mapping[str, DesiredPair]
    ) -> dict[str, ActualPair]:
        wanted = sorted(ids)
        if not wanted:
            return {}
        return await self._read(desired, wanted)

    async def _read_all_remote(self, desired: Mapping[str, DesiredPair]) -> dict[str, ActualPair]:
        return await self._read(desired, None)

    async def _read(
        self, desired: Mapping[str, DesiredPair], ids: list[str] | None
    ) -> dict[str, ActualPair]:
        """Read SKUs and items (all, or ``ids``), keeping only what planning compares.

        Each object is projected as it arrives into its pair, so an audit never holds 200,000
        API objects, nor a second table per side.
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

    # -- applying --------------------------------------------------------------------------
    async def _apply(
        self, planned: _Planned, catalog: Catalog, progress: ProgressCallback | None
    ) -> _Outcome:
        outcome = _Outcome()
        stale = planned.stale
        total, done = sum(1 for _, g in planned.plan.by_id() if _needs_apply(g, stale)), 0
        pending: list[AppliedPair] = []
        # One iterator shared by the workers: the pairs to apply are taken from the plan as
        # they are reached, never copied into a queue of every pair.
        groups = ((i, g) for i, g in planned.plan.by_id() if _needs_apply(g, stale))

        async def worker() -> None:
            nonlocal done
            for pair_id, entries in groups:
                known = planned.physical.get(pair_id)
                record = await self._apply_pair(pair_id, entries, catalog, outcome, known)
                if record is not None:
                    pending.append(record)
                done += 1
                if progress is not None:
                    progress(done, total)
                if len(pending) >= _COMMIT_EVERY:
                    self._record(pending)
                    pending.clear()

        workers = min(_PAIRS_IN_FLIGHT, max(1, total))
        try:
            await asyncio.gather(*(worker() for _ in range(workers)))
        finally:
            # Also when cancelled (the daemon's stop timeout): writes done are recorded.
            self._record(pending)
        if outcome.deleted:
            self._store.forget_pairs(outcome.deleted)
            if self._tracked is not None:
                self._tracked.difference_update(outcome.deleted)
        return outcome

    def _record(self, pairs: list[AppliedPair]) -> None:
        self._store.record_applied(pairs)
        if self._tracked is not None:
            self._tracked.update(p.id for p in pairs)

    async def _apply_pair(
        self,
        pair_id: str,
        entries: tuple[Entry, ...],
        catalog: Catalog,
        outcome: _Outcome,
        physical: bool | None,
    ) -> AppliedPair | None:
        """Run one pair's writes in order; return what to record when all succeeded."""
        desired = catalog.pairs.get(pair_id)
        for entry in entries:
            try:
                physical = await self._write(entry, physical)
            except DRError as exc:
                outcome.failures.append(_failure(pair_id, entry, exc))
                outcome.failed_ids.add(pair_id)
                log.warning("write failed", id=pair_id, action=_action(entry), error=str(exc))
                return None
            except Exception as exc:
                # A pair that cannot even be sent (a defect meeting a value nobody foresaw)
                # fails alone, like a refused write: the other pairs still apply.
                message = f"could not be sent: {type(exc).__name__}"
                outcome.failures.append(
                    FailureEntry(id=pair_id, action=_action(entry), message=message)
                )
                outcome.failed_ids.add(pair_id)
                log.exception("write could not be sent", id=pair_id, action=_action(entry))
                return None
        if any(isinstance(e, DeletePair) for e in entries):
            outcome.deleted.append(pair_id)
            return None
        if desired is None:
            return None
        return AppliedPair(
            pair_id,
            desired.content_hash(),
            desired.source.file,
            desired.source.line,
            physical,
        )

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


def _as_json(model: Any) -> dict[str, JSON]:
    dumped: dict[str, JSON] = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return dumped


async def _delete_missing_ok(call: Any) -> None:
    """Deleting what is already gone is done, not a failure."""
    try:
        await call
    except NotFound:
        return


def _needs_apply(entries: tuple[Entry, ...], stale: frozenset[str]) -> bool:
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


def _action(entry: Entry) -> str:
    return _ACTIONS.get(type(entry), type(entry).__name__)


def _status(pair_id: str, outcome: _Outcome, *, dry_run: bool) -> ChangeStatus:
    if dry_run:
        return "planned"
    return "failed" if pair_id in outcome.failed_ids else "applied"


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


#: Every field of a :class:`ChangeEntry` is given. An initial sync reports 100,000 entries, so
#: they are built from these already-typed values without validation and share this one set
#: (pydantic would otherwise keep a set of the same names per entry, half of its memory).
_CHANGE_FIELDS_SET: Final = set(ChangeEntry.model_fields)


def _change_entries(
    the_plan: Plan, catalog: Catalog, outcome: _Outcome, *, dry_run: bool
) -> Iterator[ChangeEntry]:
    """Each write of the plan as the report lists it, made when it is reached: the report's
    files are written from this, so 1,000,000 changes are never held as models at once."""
    drifted = {e.id for e in the_plan.entries if isinstance(e, PairDrift)}
    for entry in the_plan.writes:
        desired = catalog.pairs.get(entry.id)
        yield ChangeEntry.model_construct(
            _CHANGE_FIELDS_SET,
            id=entry.id,
            action=_ACTIONS[type(entry)],
            drift=entry.id in drifted,
            status=_status(entry.id, outcome, dry_run=dry_run),
            source=None if desired is None else str(desired.source),
            fields=_field_entries(entry),
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
    catalog: Catalog,
    the_plan: Plan,
    outcome: _Outcome,
    in_sync_outside_scope: int,
    started_at: datetime,
    seconds: float,
    calls: int,
    writes: int,
) -> tuple[ReconcileReport, ChangeStream]:
    """The report, holding the first :data:`CHANGES_IN_MEMORY` changes, and every change."""
    counts = the_plan.counts
    failed = outcome.failed_ids
    created = {e.id for e in the_plan.writes if isinstance(e, CreatePair)} - failed
    changed = {e.id for e in the_plan.writes if not isinstance(e, (CreatePair, DeletePair))}
    drift_ids = {e.id for e in the_plan.entries if isinstance(e, PairDrift)}
    deleted = set(outcome.deleted)
    orphans = [
        OrphanEntry(id=e.id, outcome=_orphan_outcome(e.id, the_plan, deleted, failed, options))
        for e in the_plan.entries
        if isinstance(e, Orphan)
    ]
    applied = not options.dry_run
    summary = Summary(
        pairs_in_catalog=len(catalog.pairs),
        in_sync=counts.unchanged + in_sync_outside_scope,
        created=len(created) if applied else counts.created,
        updated=len(changed - created - failed) if applied else counts.updated,
        drift_fixed=len(drift_ids - failed) if applied else 0,
        orphans=counts.orphans,
        deleted=len(deleted),
        failed=len(failed),
        invalid_rows=catalog.invalid_rows,
        unparseable_files=len(catalog.unparseable_files),
        api_calls=calls,
        write_calls=writes,
        duration_seconds=round(seconds, 3),
    )
    dry_run = options.dry_run

    def changes() -> Iterator[ChangeEntry]:
        return _change_entries(the_plan, catalog, outcome, dry_run=dry_run)

    report = ReconcileReport(
        run_id=run_id,
        kind=options.kind,
        started_at=started_at,
        finished_at=datetime.now(UTC),
        dry_run=options.dry_run,
        audit=options.audit,
        prune=options.prune,
        prune_refused=the_plan.refusal,
        summary=summary,
        changes=list(islice(changes(), CHANGES_IN_MEMORY)),
        failures=outcome.failures,
        invalid_rows=[_problem_entry(p) for p in catalog.problems],
        unparseable_files=sorted(catalog.unparseable_files),
        orphans=orphans,
    )
    return report, ChangeStream(len(the_plan.writes), changes)


def _orphan_outcome(
    pair_id: str, the_plan: Plan, deleted: set[str], failed: set[str], options: ReconcileOptions
) -> OrphanOutcome:
    if pair_id in deleted:
        return "deleted"
    if pair_id in failed:
        return "failed"
    if options.prune and the_plan.refusal is not None:
        return "refused"
    return "reported"
