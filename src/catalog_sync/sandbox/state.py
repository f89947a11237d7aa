"""Everything one sandbox process holds: both modes' data, the fulfiller's policy, the
request log, the active faults and the rate limiter."""

from __future__ import annotations

from catalog_sync.sandbox.assumptions import RATE_LIMIT_DEFAULT, REQUEST_LOG_LIMIT
from catalog_sync.sandbox.cancellations import Policy
from catalog_sync.sandbox.clock import Clock
from catalog_sync.sandbox.dataset import DataSet, Ids
from catalog_sync.sandbox.faults import Faults
from catalog_sync.sandbox.ratelimit import RateLimiter
from catalog_sync.sandbox.requestlog import RequestLog


class Sandbox:
    """The sandbox's whole state; handlers run on one event loop, so no locks are needed."""

    def __init__(self, rate_limit: float = RATE_LIMIT_DEFAULT) -> None:
        self.clock = Clock()
        self.limiter = RateLimiter(rate_limit)
        self.faults = Faults()
        self.log = RequestLog(REQUEST_LOG_LIMIT)
        #: Bumped by every change; persistence saves when it moved.
        self.changes = 0
        self.ids = Ids()
        self.test = DataSet(live=False, clock=self.clock, ids=self.ids)
        self.live = DataSet(live=True, clock=self.clock, ids=self.ids)
        self.policy: Policy = "accept"

    def data(self, live: bool) -> DataSet:
        """The data set of a mode."""
        return self.live if live else self.test

    def datasets(self) -> tuple[DataSet, DataSet]:
        """Both data sets, test first (the order admin look-ups search them)."""
        return self.test, self.live

    def reset(self) -> None:
        """Empty everything: data of both modes, request log, faults, policy, rate buckets."""
        self.ids = Ids()
        self.test = DataSet(live=False, clock=self.clock, ids=self.ids)
        self.live = DataSet(live=True, clock=self.clock, ids=self.ids)
        self.policy = "accept"
        self.log.clear()
        self.faults.clear()
        self.limiter.reset()
        self.changes += 1
