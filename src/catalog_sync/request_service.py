"""The request transmitter (issue 7): request files in, pending request intents out, in seconds.

Two duties in one daemon ``Service`` named ``requests``:

- *Intake*: settled JSON / CSV files in the requests folder (same settle and write-then-rename
  rules as catalogs) are parsed (``core.request_files``) and every valid row is recorded like a
  CLI request. The rows, and the record that the file (name + SHA-256) was processed, commit
  in one atomic claim of the state, so a crash before the file is moved reprocesses nothing:
  the file is recognised and only moved. Rows that fail validation or are refused are written
  back as ``<file>.errors.json`` beside it; the file then moves to ``processed/``, or to
  ``rejected/`` when no row could be accepted.
- *Transmission*: when request intents are due, the fulfillment handler is woken (or, for
  ``orders transmit``, its ``execute_intents`` is run until nothing is due), so the writes go
  through the same ledger and read-back rule as the event handlers, grouped per order (the
  handler sends one write per order at a time).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from catalog_sync.catalog_files import is_catalog_file
from catalog_sync.clock import Clock, stamp, utc_clock
from catalog_sync.core.merchant_requests import MerchantRequest, RequestRefusedError
from catalog_sync.core.orders import Intent
from catalog_sync.core.request_files import (
    ERRORS_SUFFIX,
    ParsedRequestFile,
    RequestRow,
    RowProblem,
    is_request_file_name,
    parse_request_file,
)
from catalog_sync.fulfillment_service import FulfillmentHandler
from catalog_sync.logs import get_logger
from catalog_sync.metrics import Metrics
from catalog_sync.request_log import Source, claim_request, history_line
from catalog_sync.settings import Settings
from catalog_sync.settle import SettleTracker
from catalog_sync.state import (
    LedgerReader,
    RecordedRequest,
    RequestClaims,
    RequestFileRecord,
    RequestLogState,
)

PROCESSED: Final = "processed"
REJECTED: Final = "rejected"
#: How often the folder and the queue are looked at: "within seconds" with room to spare.
DEFAULT_INTERVAL: Final = 0.25

_log = get_logger("requests")


@dataclass(frozen=True, slots=True)
class FileOutcome:
    """What became of one request file."""

    name: str
    outcome: str
    accepted: int
    problems: tuple[RowProblem, ...]
    moved_to: Path | None
    errors_file: Path | None


@dataclass(frozen=True, slots=True)
class PassResult:
    """What one ``orders transmit`` pass did."""

    files: tuple[FileOutcome, ...]
    writes: int
    open_requests: int


def is_request_file(path: Path) -> bool:
    """Whether ``path`` is a request file: catalog-style name rules, .json / .csv, not ours."""
    return is_catalog_file(path) and is_request_file_name(path.name)


def request_paths(folder: Path) -> list[Path]:
    """The request files directly in ``folder`` (sub-folders, e.g. ``processed/``, excluded)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and is_request_file(p))


class RequestFolder:
    """Processes request files of one folder, each exactly once."""

    def __init__(self, folder: Path, store: RequestLogState, *, clock: Clock = utc_clock) -> None:
        self.folder = folder
        self._store = store
        self._clock = clock

    def process(self, path: Path) -> FileOutcome | None:
        """Record the requests of one settled file, write its errors, move it; None if gone."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        name = path.name
        digest = hashlib.sha256(data).hexdigest()
        done = self._store.request_file_outcome(name, digest)
        if done is not None:
            _log.info("requests.file_already_processed", file=name, outcome=done)
            return FileOutcome(name, done, 0, (), self._move(path, done), None)
        parsed = parse_request_file(name, data)
        now = stamp(self._clock())

        def decide(reader: LedgerReader) -> tuple[RequestClaims, FileOutcome]:
            """Decide every row; the errors file is written before the claims commit, so a
            file whose errors cannot be written records nothing and is tried again."""
            recorded, problems = self._claim_rows(reader, parsed, digest, now)
            outcome = PROCESSED if recorded else REJECTED
            if not parsed.rows and not parsed.problems:
                problems.append(RowProblem(name, 1, None, "no request rows"))
            errors_file = self._write_errors(name, problems) if problems else None
            claims = RequestClaims(
                requests=tuple(recorded),
                history=tuple(history_line(r) for r in recorded),
                file=RequestFileRecord(name, digest, outcome, len(recorded), len(problems)),
            )
            return claims, FileOutcome(
                name, outcome, len(recorded), tuple(problems), None, errors_file
            )

        result = self._store.claim_units(decide, now)
        outcome, accepted, problems = result.outcome, result.accepted, result.problems
        moved = self._move(path, outcome)
        _log.info(
            "requests.file", file=name, outcome=outcome, accepted=accepted, errors=len(problems)
        )
        return replace(result, moved_to=moved)

    @staticmethod
    def _claim_rows(
        reader: LedgerReader, parsed: ParsedRequestFile, digest: str, now: str
    ) -> tuple[list[RecordedRequest], list[RowProblem]]:
        """Decide each valid row, each seeing the rows before; refusals become problems."""
        problems = list(parsed.problems)
        recorded: list[RecordedRequest] = []
        claimed: dict[str, list[Intent]] = {}
        for row in parsed.rows:
            request = _request_of(row, f"f-{digest[:12]}-{row.line}")
            try:
                recorded.append(
                    claim_request(reader, request, Source(parsed.name, row.line), now, claimed)
                )
            except RequestRefusedError as exc:
                problems.append(RowProblem(parsed.name, row.line, "request", str(exc)))
        problems.sort(key=lambda p: p.line)
        return recorded, problems

    def _write_errors(self, name: str, problems: list[RowProblem]) -> Path:
        """Write ``<file>.errors.json`` beside the file (write, then rename into place)."""
        target = self.folder / f"{name}{ERRORS_SUFFIX}"
        document = {
            "file": name,
            "errors": [
                {"line": p.line, "field": p.field, "message": p.message, "text": str(p)}
                for p in problems
            ],
        }
        _write_atomically(target, json.dumps(document, indent=2) + "\n")
        return target

    def _move(self, path: Path, outcome: str) -> Path | None:
        """Move a processed file out of the way (a name already there gets a time suffix)."""
        folder = self.folder / outcome
        folder.mkdir(exist_ok=True)
        target = folder / path.name
        if target.exists():
            moment = self._clock().strftime("%Y%m%dT%H%M%S%f")
            target = folder / f"{path.stem}.{moment}{path.suffix}"
        try:
            path.replace(target)
        except FileNotFoundError:
            return None
        return target


def _request_of(row: RequestRow, request_id: str) -> MerchantRequest:
    return MerchantRequest(
        request_id=request_id,
        order_id=row.order_id,
        action=row.action,
        line_id=row.item_id,
        quantity=row.quantity,
        reason=row.reason,
        tracking_number=row.tracking_number,
        tracking_company=row.tracking_company,
        tracking_url=row.tracking_url,
    )


def _write_atomically(target: Path, text: str) -> None:
    partial = target.with_name(f".{target.name}.part")
    partial.write_text(text, encoding="utf-8")
    partial.replace(target)


class RequestTransmitter:
    """The ``requests`` service: request file intake and prompt transmission."""

    name = "requests"

    def __init__(
        self,
        settings: Settings,
        store: RequestLogState,
        handler: FulfillmentHandler,
        *,
        metrics: Metrics | None = None,
        clock: Clock = utc_clock,
        interval: float = DEFAULT_INTERVAL,
    ) -> None:
        """``handler`` is the daemon's fulfillment handler: it alone sends intents."""
        self._store = store
        self._handler = handler
        self._metrics = metrics
        self._clock = clock
        self._interval = interval
        self.folder = RequestFolder(settings.requests, store, clock=clock)
        self._settle = SettleTracker(settings.settle_ms)
        self.files_processed = 0
        self._open = 0

    def apply_settings(self, settings: Settings) -> None:
        """SIGHUP: take the new settle time."""
        self._settle.settle_ms = settings.settle_ms

    def status_line(self) -> str:
        """E.g. ``"3 requests open, 2 files processed"``."""
        return f"{self._open} requests open, {self.files_processed} files processed"

    async def run(self, stop: asyncio.Event) -> None:
        """Take in settled files and wake the handler for due requests, until ``stop``."""
        while not stop.is_set():
            try:
                wait = self.intake()
                self._nudge()
            except (OSError, ValueError) as exc:
                _log.warning("requests.pass_failed", error=str(exc))
                wait = None
            timeout = self._interval if wait is None else min(self._interval, wait / 1000)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(timeout, 0.01))

    def intake(self) -> float | None:
        """Process every settled request file; returns ms until the next one settles."""
        settled, wait = self._settle.split(request_paths(self.folder.folder))
        for path in sorted(settled):
            if self.folder.process(path) is not None:
                self.files_processed += 1
        return wait

    def _nudge(self) -> None:
        """Wake the handler when request writes are due; refresh the queue gauge."""
        if self._store.due_request_intents(stamp(self._clock())):
            self._handler.wake.set()
        self._open = self._store.count_open_requests()
        if self._metrics is not None:
            self._metrics.request_queue.set(self._open)

    async def transmit_once(self, *, within: float = 60.0) -> PassResult:
        """One pass (``orders transmit``): intake settled files, send every due write.

        Writes that fail retryably are left for a later pass (their backoff is not waited).
        """
        before = self.files_processed
        outcomes = [self.folder.process(p) for p in self._ready_files()]
        self.files_processed = before + sum(o is not None for o in outcomes)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        writes = 0
        while loop.time() < deadline:
            sent = await self._handler.execute_intents()
            if not sent:
                break
            writes += sent
        self._nudge()
        return PassResult(tuple(o for o in outcomes if o is not None), writes, self._open)

    def _ready_files(self) -> list[Path]:
        """Files quiet for the settle time by their mtime (one pass cannot watch them)."""
        now = self._clock().timestamp()
        limit = self._settle.settle_ms / 1000
        return [p for p in request_paths(self.folder.folder) if now - _mtime(p) >= limit]


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return float("inf")
