"""Per-key token buckets: the API's rate limit (docs/digital-river-api.md §4)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """Capacity ``rate`` tokens refilled at ``rate`` per second, one bucket per key."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def acquire(self, key: str) -> int | None:
        """Take a token for ``key``; ``None`` when allowed, else the whole seconds to wait."""
        if self.rate <= 0:
            return None
        now = self._clock()
        bucket = self._buckets.setdefault(key, _Bucket(self.rate, now))
        bucket.tokens = min(self.rate, bucket.tokens + (now - bucket.stamp) * self.rate)
        bucket.stamp = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return None
        return max(1, math.ceil((1 - bucket.tokens) / self.rate))

    def reset(self) -> None:
        """Forget every bucket."""
        self._buckets.clear()
