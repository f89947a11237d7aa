"""The request transmitter: request files in, pending request intents out, in seconds.

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

The folder is written by other systems, so every entry is hostile until read: only a regular
file, never through a symbolic link and up to ``request_max_bytes``, is read at all (anything
else is rejected by name, without being opened); nothing a file holds is echoed beyond a short
redacted excerpt; and one file that fails in any way is rejected, or left for a later pass when
the state database is the trouble, while the pass goes on with the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import json
import os
import stat
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final, Protocol

from catalog_sync.core.merchant_requests import RequestRefusedError
from catalog_sync.core.orders import Intent
from catalog_sync.core.problems import Problem
from catalog_sync.core.request_files import (
    ERRORS_SUFFIX,
    ParsedRequestFile,
    excerpt,
    is_request_file_name,
    parse_request_file,
    printable,
    request_id_of,
)
from catalog_sync.requests.log import Source, claim_request, history_line
from catalog_sync.state import (
    LedgerReader,
    RecordedRequest,
    RequestClaims,
    RequestFileRecord,
    RequestLogState,
    StateError,
)
from catalog_sync.support.clock import Clock, stamp, utc_clock
from catalog_sync.support.files import is_dropped_file_name, write_atomically
from catalog_sync.support.logs import get_logger, redact
from catalog_sync.support.metrics import Metrics
from catalog_sync.support.settings import RequestSettings
from catalog_sync.support.settle import SettleTracker

PROCESSED: Final = "processed"
REJECTED: Final = "rejected"
#: How often the folder and the queue are looked at: "within seconds" with room to spare.
DEFAULT_INTERVAL: Final = 0.25
#: How long a file that could not be moved out of the folder is left alone before a retry.
HOLD_SECONDS: Final = 30.0
#: Longest file name when the file system cannot say (``NAME_MAX`` of Linux file systems).
_NAME_MAX: Final = 255
_READ_CHUNK: Final = 64 * 1024
_SYMLINK: Final = (
    "is a symbolic link: request files are read only as regular files in the folder, "
    "never through a link (move or copy the file itself in)"
)

_log = get_logger("requests")


class UnreadableRequestFileError(Exception):
    """A request file that is not read at all; the message says why, without its content."""


@dataclass(frozen=True, slots=True)
class FileOutcome:
    """What became of one request file."""

    name: str
    outcome: str
    accepted: int
    problems: tuple[Problem, ...]
    moved_to: Path | None
    errors_file: Path | None


@dataclass(frozen=True, slots=True)
class PassResult:
    """What one ``orders transmit`` pass did."""

    files: tuple[FileOutcome, ...]
    writes: int
    open_requests: int


def is_request_file(path: Path) -> bool:
    """Whether ``path`` is a request file: a dropped file's name, .json / .csv, not ours."""
    return is_dropped_file_name(path.name) and is_request_file_name(path.name)


def request_paths(folder: Path) -> list[Path]:
    """Every entry directly in ``folder`` named like a request file, whatever its type.

    A link, a FIFO or a directory named ``x.csv`` is listed too, so that it is rejected by
    name instead of lying there unexplained; ``processed/`` and ``rejected/`` never match.
    """
    try:
        entries = list(folder.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(path for path in entries if is_request_file(path))


def shown_name(name: str) -> str:
    """A file name as problems, logs and the state database show it: redacted and printable."""
    return printable(redact(name))


def read_request_file(path: Path, max_bytes: int) -> bytes:
    """Return the content of a regular file of at most ``max_bytes``, never following a link.

    Raises :class:`UnreadableRequestFileError` for anything else (nothing but a regular file
    is opened, so a FIFO cannot block and a device cannot be read without end), and
    ``FileNotFoundError`` when the file is gone.
    """
    try:
        _check_kind(path.lstat().st_mode)
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnreadableRequestFileError(_SYMLINK) from None
        raise UnreadableRequestFileError(f"cannot be read: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        _check_kind(info.st_mode)
        _check_size(info.st_size, max_bytes)
        chunks: list[bytes] = []
        size = 0
        while size <= max_bytes:
            chunk = os.read(fd, min(_READ_CHUNK, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        _check_size(size, max_bytes)
        return b"".join(chunks)
    except OSError as exc:
        raise UnreadableRequestFileError(f"cannot be read: {exc.strerror}") from None
    finally:
        os.close(fd)


def _check_kind(mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    if stat.S_ISLNK(mode):
        raise UnreadableRequestFileError(_SYMLINK)
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    )
    kind = next((what for test, what in kinds if test(mode)), "not a file")
    raise UnreadableRequestFileError(f"is {kind}: only regular files are read")


def _check_size(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise UnreadableRequestFileError(
            f"is larger than the {max_bytes}-byte limit (setting request_max_bytes)"
        )


class RequestFolder:
    """Processes request files of one folder, each exactly once."""

    def __init__(
        self, folder: Path, store: RequestLogState, *, max_bytes: int, clock: Clock = utc_clock
    ) -> None:
        """``max_bytes``: the largest file read (``request_max_bytes``)."""
        self.folder = folder
        self.max_bytes = max_bytes
        self._store = store
        self._clock = clock
        #: The last trouble logged per file still lying in the folder, so that a file left
        #: for a later pass is logged once per kind of trouble, not at every pass.
        self._trouble: dict[Path, str] = {}
        #: Files that could not be moved out of the folder, and when (monotonic) to try again:
        #: a stuck file is not re-read and re-rejected four times a second.
        self._held: dict[Path, float] = {}

    def process(self, path: Path) -> FileOutcome | None:
        """Take one settled file in; None when it is gone or left for a later pass.

        Never raises for a file: a file that fails in a way nobody foresaw is rejected (its
        transaction rolled back, so nothing of it was recorded) and logged by name; one the
        state database cannot take now stays where it is and is tried again next pass.
        """
        if self._held.get(path, 0.0) > time.monotonic():
            return None
        name = shown_name(path.name)
        try:
            found = self._process(path, name)
        except Exception as exc:  # noqa: BLE001 - one file must never stop the intake
            if isinstance(exc, StateError) and exc.passing:
                self._once(path, "requests.file_deferred", name, str(exc))
                return None
            detail = f"{type(exc).__name__}: {excerpt(str(exc), redact)}"
            _log.error("requests.file_failed", file=name, error=detail)
            message = (
                f"could not be processed ({type(exc).__name__}); nothing of it was recorded"
                " (the daemon's log has the details)"
            )
            try:
                found = self._reject(path, name, message)
            except Exception as again:  # noqa: BLE001 - logged; tried again later
                detail = f"{type(again).__name__}: {excerpt(str(again), redact)}"
                self._stuck(path, "requests.file_not_rejected", name, detail)
                return None
        if found is not None and found.moved_to is not None:
            self._trouble.pop(path, None)
            self._held.pop(path, None)
        return found

    def _process(self, path: Path, name: str) -> FileOutcome | None:
        try:
            data = read_request_file(path, self.max_bytes)
        except FileNotFoundError:
            self._trouble.pop(path, None)
            return None
        except UnreadableRequestFileError as exc:
            return self._reject(path, name, str(exc))
        digest = hashlib.sha256(data).hexdigest()
        done = self._store.request_file_outcome(name, digest)
        if done is not None:
            _log.info("requests.file_already_processed", file=name, outcome=done)
            return FileOutcome(name, done, 0, (), self._move(path, name, done), None)
        parsed = parse_request_file(name, data, redact=redact)
        now = stamp(self._clock())

        def decide(reader: LedgerReader) -> tuple[RequestClaims, FileOutcome]:
            """Decide every row; the errors file is written before the claims commit, so a
            file whose errors cannot be written records nothing and is tried again."""
            recorded, found = self._claim_rows(reader, parsed, digest, now)
            outcome = PROCESSED if recorded else REJECTED
            if not parsed.rows and not parsed.problems:
                found.append(Problem(name, 1, None, "no request rows"))
            problems = _redacted(found)
            errors_file = self._write_errors(path, name, problems) if problems else None
            claims = RequestClaims(
                requests=tuple(recorded),
                history=tuple(history_line(r) for r in recorded),
                file=RequestFileRecord(name, digest, outcome, len(recorded), len(problems)),
            )
            return claims, FileOutcome(name, outcome, len(recorded), problems, None, errors_file)

        result = self._store.claim_units(decide, now)
        moved = self._move(path, name, result.outcome)
        _log.info(
            "requests.file",
            file=name,
            outcome=result.outcome,
            accepted=result.accepted,
            errors=len(result.problems),
        )
        return replace(result, moved_to=moved)

    def _reject(self, path: Path, name: str, message: str) -> FileOutcome:
        """Reject a file without recording anything of it: errors file, then ``rejected/``.

        An errors file that cannot be written is logged; the file is moved all the same.
        """
        problems = _redacted([Problem(name, 1, None, message)])
        errors_file: Path | None = None
        try:
            errors_file = self._write_errors(path, name, problems)
        except OSError as exc:
            _log.error("requests.errors_not_written", file=name, error=exc.strerror)
        moved = self._move(path, name, REJECTED)
        _log.warning("requests.file", file=name, outcome=REJECTED, accepted=0, error=message)
        return FileOutcome(name, REJECTED, 0, problems, moved, errors_file)

    def _once(self, path: Path, event: str, name: str, detail: str) -> None:
        """Log a file's trouble, unless this same trouble was already logged for it."""
        if self._trouble.get(path) != detail:
            self._trouble[path] = detail
            _log.warning(event, file=name, error=detail)

    def _stuck(self, path: Path, event: str, name: str, detail: str) -> None:
        """A file that stays in the folder: log it once, leave it alone for a while."""
        self._once(path, event, name, detail)
        self._held[path] = time.monotonic() + HOLD_SECONDS

    @staticmethod
    def _claim_rows(
        reader: LedgerReader, parsed: ParsedRequestFile, digest: str, now: str
    ) -> tuple[list[RecordedRequest], list[Problem]]:
        """Decide each valid row, each seeing the rows before; refusals become problems."""
        problems = list(parsed.problems)
        recorded: list[RecordedRequest] = []
        claimed: dict[str, list[Intent]] = {}
        for row in parsed.rows:
            request = row.request(request_id_of(row, parsed.name, digest))
            try:
                recorded.append(
                    claim_request(reader, request, Source(parsed.name, row.line), now, claimed)
                )
            except RequestRefusedError as exc:
                problems.append(Problem(parsed.name, row.line, "request", str(exc)))
        problems.sort(key=lambda p: p.line)
        return recorded, problems

    def _write_errors(self, path: Path, name: str, problems: tuple[Problem, ...]) -> Path:
        """Write ``<file>.errors.json`` beside the file (write, then rename into place).

        A name too long for the suffix is shortened and tagged with a hash of the full name,
        which the document's ``file`` still gives in full.
        """
        target = _fitted(self.folder, path.name, ERRORS_SUFFIX)
        document = {
            "file": name,
            "errors": [
                {"line": p.line, "field": p.field, "message": p.message, "text": str(p)}
                for p in problems
            ],
        }
        # Read by the merchant's systems: created like any file of theirs (umask), not private.
        write_atomically(target, [json.dumps(document, indent=2), "\n"], private=False)
        return target

    def _move(self, path: Path, name: str, outcome: str) -> Path | None:
        """Move a processed file out of the way (a name already there gets a time suffix).

        A file that cannot be moved stays (its requests, if any, are recorded, so a later
        pass only moves it), is logged once and left alone for :data:`HOLD_SECONDS`.
        """
        folder = self.folder / outcome
        target = folder / path.name
        try:
            folder.mkdir(exist_ok=True)
            if os.path.lexists(target):
                moment = self._clock().strftime("%Y%m%dT%H%M%S%f")
                stem, dot, suffix = path.name.rpartition(".")
                target = _fitted(folder, f"{stem}.{moment}", f"{dot}{suffix}")
            path.replace(target)
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._stuck(path, "requests.file_not_moved", name, f"to {outcome}/: {exc.strerror}")
            return None
        return target


def _redacted(problems: list[Problem]) -> tuple[Problem, ...]:
    """Problems as they may be shown: a refusal's message is redacted like any excerpt."""
    return tuple(
        Problem(
            p.file,
            p.line,
            None if p.field is None else printable(redact(p.field)),
            printable(redact(p.message)),
        )
        for p in problems
    )


def _fitted(folder: Path, stem: str, suffix: str) -> Path:
    """``folder / (stem + suffix)``, the stem cut and tagged when the name would be too long."""
    try:
        limit = os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = _NAME_MAX
    if len(os.fsencode(stem + suffix)) <= limit:
        return folder / f"{stem}{suffix}"
    tag = f"~{hashlib.sha256(os.fsencode(stem)).hexdigest()[:12]}"
    room = limit - len(os.fsencode(tag + suffix))
    return folder / f"{os.fsdecode(os.fsencode(stem)[:room])}{tag}{suffix}"


class IntentSender(Protocol):
    """What sends the ledger's due writes: the fulfillment handler, passed in by the wiring.

    The transmitter only wakes it (daemon) or asks for one pass (``orders transmit``), so the
    request feature does not depend on the fulfillment feature.
    """

    wake: asyncio.Event

    async def execute_intents(self) -> int:
        """Send every due write once; returns how many were sent."""
        ...


class RequestTransmitter:
    """The ``requests`` service: request file intake and prompt transmission."""

    name = "requests"

    def __init__(
        self,
        settings: RequestSettings,
        store: RequestLogState,
        handler: IntentSender,
        *,
        metrics: Metrics | None = None,
        clock: Clock = utc_clock,
        interval: float = DEFAULT_INTERVAL,
    ) -> None:
        """``handler`` sends intents (the daemon's fulfillment handler: it alone does)."""
        self._store = store
        self._handler = handler
        self._metrics = metrics
        self._clock = clock
        self._interval = interval
        self.folder = RequestFolder(
            settings.folder, store, max_bytes=settings.max_bytes, clock=clock
        )
        self._settle = SettleTracker(settings.settle_ms)
        self.files_processed = 0
        self._open = 0

    def reconfigure(self, settings: RequestSettings) -> None:
        """SIGHUP: take the new settle time and file size limit from the next pass on (the
        folder itself changes only on a restart)."""
        self._settle.settle_ms = settings.settle_ms
        self.folder.max_bytes = settings.max_bytes

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
        """Files already settled by their mtime (one pass cannot watch them stay unchanged)."""
        now_ns = int(self._clock().timestamp() * 1_000_000_000)
        return self._settle.settled_at_once(request_paths(self.folder.folder), now_ns)
