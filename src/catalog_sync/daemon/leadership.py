"""Whether this ``catalog-sync run`` may act: the leader lease, held through the state.

Every instance asks for the lease every third of its duration: the leader renews it, a
standby takes it once it is free or has run out. The lease's expiry is judged by the
database's clock; this process only keeps a local deadline, ``lease - lease/5`` after the
moment it asked, on ``CLOCK_BOOTTIME``: that clock counts time the process spent stopped
(SIGSTOP, a suspended VM), so a leader that wakes after a freeze finds its deadline passed
before it sends anything. :meth:`Leadership.check` is that test, made by the client right
before each write is handed to the connection; the state's fence (the epoch, checked in the
transaction of every claim) refuses what the local check cannot see.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from catalog_sync.state import Fence, InstanceRecord, StateBackend, StateError
from catalog_sync.support.logs import get_logger
from catalog_sync.support.metrics import Metrics

log = get_logger("leadership")

ROLE_LEADER: Final = "leader"
ROLE_STANDBY: Final = "standby"
ROLE_STOPPED: Final = "stopped"
#: The share of the lease kept in reserve: a leader stops acting this long before its lease
#: runs out by the database's clock, for the time a request takes to leave after the check.
SAFETY_SHARE: Final = 0.2
#: The lease is asked for this many times per lease duration.
ASKS_PER_LEASE: Final = 3


def boottime() -> float:
    """Seconds on ``CLOCK_BOOTTIME``: monotonic, and counting suspended and stopped time."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def default_instance_name(*, shared: bool) -> str:
    """``<hostname>-<pid>`` on a shared (PostgreSQL) state: unique per process, and says where
    to look. ``<hostname>`` on SQLite, where one daemon runs: a restart renews its own lease
    instead of taking it from its previous self."""
    return f"{socket.gethostname()}-{os.getpid()}" if shared else socket.gethostname()


class NotLeaderError(RuntimeError):
    """This instance holds no live lease: nothing may be sent to Digital River."""


@dataclass(frozen=True, slots=True)
class Change:
    """A change of role, as :meth:`Leadership.renew` reports it."""

    became_leader: bool
    epoch: int
    taken_from: str | None


class Leadership:
    """The lease as seen by one instance: renew it, and say whether this instance may act."""

    def __init__(
        self,
        store: StateBackend,
        *,
        name: str,
        lease_seconds: float,
        metrics: Metrics,
        clock: Callable[[], float] = boottime,
    ) -> None:
        """``clock`` is :func:`boottime`; a test may hand another monotonic clock."""
        self.name = name
        self.lease_seconds = lease_seconds
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self._fence: Fence | None = None
        self._deadline = float("-inf")
        self._leading = False

    @property
    def epoch(self) -> int | None:
        """The epoch of this instance's current or last term (None before any)."""
        return None if self._fence is None else self._fence.epoch

    @property
    def acting(self) -> bool:
        """Whether this instance leads and its local deadline has not passed."""
        return self._leading and self._clock() < self._deadline

    @property
    def role(self) -> str:
        """``leader`` or ``standby``."""
        return ROLE_LEADER if self._leading else ROLE_STANDBY

    @property
    def ask_every(self) -> float:
        """Seconds between two requests for the lease."""
        return self.lease_seconds / ASKS_PER_LEASE

    def seconds_left(self) -> float:
        """Seconds until the local deadline (0 once past, or when not leading)."""
        return max(0.0, self._deadline - self._clock()) if self._leading else 0.0

    def check(self) -> None:
        """Raise :class:`NotLeaderError` unless this instance may act right now."""
        if not self.acting:
            raise NotLeaderError(
                f"instance {self.name} holds no live lease (epoch {self.epoch}); nothing is sent"
            )

    def renew(self) -> Change | None:
        """Ask for the lease once; the change of role it brought, if any.

        A failure to reach the state is logged and changes nothing here: the leader's
        deadline still passes on time and :meth:`step_down` follows.
        """
        asked = self._clock()
        try:
            lease = self._store.take_lease(self.name, self.lease_seconds)
        except StateError as exc:
            log.warning("lease not renewed", instance=self.name, error=str(exc))
            return self._lapse(lost=False)
        if not lease.held_by(self.name):
            return self._lapse(lost=lease.holder != self.name and lease.remaining > 0)
        self._deadline = asked + lease.remaining - self.lease_seconds * SAFETY_SHARE
        change = None
        if not self._leading or self.epoch != lease.epoch:
            self._fence = lease.fence
            self._store.fence_with(self._fence)
            self._leading = True
            change = Change(became_leader=True, epoch=lease.epoch, taken_from=lease.taken_from)
            if lease.taken_from is not None:
                self._metrics.failovers.inc()
        self._metrics.leader.set(1)
        self._metrics.leader_epoch.set(lease.epoch)
        self._report(ROLE_LEADER)
        return change

    def step_down(self) -> Change | None:
        """Stop leading (the deadline passed, or the daemon stops); the change, if any."""
        if not self._leading or self._fence is None:
            return None
        self._leading = False
        self._metrics.leader.set(0)
        return Change(became_leader=False, epoch=self._fence.epoch, taken_from=None)

    def release(self) -> None:
        """A clean stop: end the term in the state so a standby takes over at once."""
        fence = self._fence
        self.step_down()
        try:
            if fence is not None:
                self._store.release_lease(fence.holder, fence.epoch)
            self._report(ROLE_STOPPED)
        except StateError as exc:
            log.warning("lease not released", instance=self.name, error=str(exc))

    def _lapse(self, *, lost: bool) -> Change | None:
        """Not granted (or not reached): stop leading at once when another instance holds
        the lease (``lost``), else once the local deadline has passed."""
        if self._leading and (lost or self._clock() >= self._deadline):
            change = self.step_down()
        else:
            change = None
        if not self._leading:
            self._report(ROLE_STANDBY)
        return change

    def _report(self, role: str) -> None:
        """Say in the state that this instance is alive in ``role`` (for ``status``)."""
        try:
            self._store.record_instance(
                InstanceRecord(self.name, socket.gethostname(), os.getpid(), role, self.epoch)
            )
        except StateError as exc:
            log.warning("instance not recorded", instance=self.name, error=str(exc))
