"""When has a dropped file settled? The rule shared by the folders the daemon watches.

A file is read only once it has been quiet for ``settle_ms``: by its mtime (so a file renamed
into place after it was written waits only what remains of that time), or by its signature
staying the same since first seen (so an mtime in the future, from a skewed clock or an
unpacked archive, does not hold it back forever). A file that is gone has settled: its removal
is the change. Both watched folders (catalogs and merchant requests) use this one rule.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Final

_NS_PER_MS: Final = 1_000_000

#: A file's (size, mtime_ns): it changed if this changed.
Signature = tuple[int, int]


def signature(path: Path) -> Signature | None:
    """The file's (size, mtime_ns), or ``None`` when it is gone or not a regular file."""
    try:
        stat = path.stat()
    except OSError:
        return None
    if not path.is_file():
        return None
    return (stat.st_size, stat.st_mtime_ns)


class SettleTracker:
    """Remembers when each candidate file was first seen with its current signature."""

    def __init__(self, settle_ms: int) -> None:
        self.settle_ms = settle_ms
        self._seen: dict[Path, tuple[Signature, int]] = {}

    def split(self, paths: Iterable[Path]) -> tuple[frozenset[Path], float | None]:
        """Return the settled ``paths`` and the milliseconds until the next one settles."""
        now, now_mono = time.time_ns(), time.monotonic_ns()
        settled: set[Path] = set()
        wait: float | None = None
        for path in paths:
            sig = signature(path)
            seen = None if sig is None else self._seen.get(path)
            if sig is not None and (seen is None or seen[0] != sig):
                seen = self._seen[path] = (sig, now_mono)
            remaining = self._remaining_ms(sig, now, now_mono - seen[1] if seen else 0)
            if remaining <= 0:
                settled.add(path)
            else:
                wait = remaining if wait is None else min(wait, remaining)
        for path in settled:
            self._seen.pop(path, None)
        return frozenset(settled), wait

    def settled_at_once(self, paths: Iterable[Path], now_ns: int | None = None) -> list[Path]:
        """The ``paths`` that have settled by their mtime alone, in the order given.

        For a single pass (``orders transmit``), which cannot watch a file stay unchanged:
        the same rule as :meth:`split` with the file first seen now, and nothing remembered.
        """
        now = time.time_ns() if now_ns is None else now_ns
        return [path for path in paths if self._remaining_ms(signature(path), now, 0) <= 0]

    def _remaining_ms(self, sig: Signature | None, now_ns: int, unchanged_ns: int) -> float:
        """Milliseconds until a file settles: quiet by its mtime or unchanged since first seen.

        A file that is gone (or not a regular file) has settled: its removal is the change.
        """
        if sig is None:
            return 0.0
        return self.settle_ms - max(now_ns - sig[1], unchanged_ns) / _NS_PER_MS
