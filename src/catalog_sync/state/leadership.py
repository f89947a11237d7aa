"""The leader lease on SQLite, and the rule both backends follow to renew or take it.

On SQLite one daemon holds the file's lock and is the only candidate, so its lease is always
granted; it still goes through the same lease, epoch and fence as on PostgreSQL, so the daemon
has one code path and the fence is tested on both backends. The times are this process's
clock: with one process there is no other clock to disagree with.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, NamedTuple

from catalog_sync.state.errors import FencedError
from catalog_sync.state.records import Fence, InstanceRecord, Lease
from catalog_sync.support.clock import parse_stamp, stamp, utc_clock


class Term(NamedTuple):
    """What :func:`next_term` decides: the epoch to hold, and whom it was taken from."""

    epoch: int
    taken_from: str | None


def next_term(holder: str | None, epoch: int, live: bool, candidate: str) -> Term | None:
    """The term ``candidate`` holds after asking for the lease; None when another holds it.

    A live lease of its own is renewed in the same epoch. A free or run-out lease (its own
    included: it stopped acting when it ran out) starts a new epoch, which fences every
    claim of the term before it.
    """
    if live and holder == candidate:
        return Term(epoch, None)
    if live and holder is not None:
        return None
    return Term(epoch + 1, holder if holder != candidate else None)


def check_fence(fence: Fence, holder: str | None, epoch: int, live: bool, where: str) -> None:
    """Raise :class:`FencedError` unless ``fence``'s term still holds a live lease."""
    if not (live and holder == fence.holder and epoch == fence.epoch):
        raise FencedError(where, fence.epoch, holder if live else None)


def instance_row(instance: InstanceRecord) -> tuple[str, str, int, str, int | None]:
    """The stored columns of ``instance`` but ``last_seen`` (the database's now)."""
    return (instance.name, instance.host, instance.pid, instance.role, instance.epoch)


class LeaseTables:
    """The lease, fence and instances of the SQLite store (mixed into ``StateStore``)."""

    _db: sqlite3.Connection

    if TYPE_CHECKING:

        def transaction(self) -> AbstractContextManager[None]:
            """Provided by ``StateStore``."""
            ...

        @property
        def location(self) -> str:
            """Provided by ``StateStore``."""
            ...

    _fence: Fence | None = None

    def take_lease(self, holder: str, seconds: float) -> Lease:
        """Renew or take the lease (see :func:`next_term`); the lease after the call."""
        now = utc_clock()
        with self.transaction():
            row = self._lease_row()
            live = row["expires_at"] is not None and row["expires_at"] > stamp(now)
            term = next_term(row["holder"], row["epoch"], live, holder)
            if term is not None:
                self._db.execute(
                    "UPDATE leadership SET holder=?, epoch=?, expires_at=? WHERE id=1",
                    (holder, term.epoch, stamp(now + timedelta(seconds=seconds))),
                )
            lease = self._lease(self._lease_row())
        return lease if term is None else replace(lease, taken_from=term.taken_from)

    def release_lease(self, holder: str, epoch: int) -> None:
        """End the term now, keeping its holder for ``status``."""
        with self.transaction():
            self._db.execute(
                "UPDATE leadership SET expires_at=? WHERE id=1 AND holder=? AND epoch=?",
                (stamp(utc_clock()), holder, epoch),
            )

    def lease(self) -> Lease:
        """The lease as it stands."""
        return self._lease(self._lease_row())

    def fence_with(self, fence: Fence | None) -> None:
        """Fence this store's claims with ``fence`` (None: unfenced)."""
        self._fence = fence

    @contextmanager
    def fenced_transaction(self) -> Iterator[None]:
        """A transaction that first checks the fence, if any, under SQLite's write lock."""
        with self.transaction():
            if (fence := self._fence) is not None:
                lease = self.lease()
                check_fence(fence, lease.holder, lease.epoch, lease.remaining > 0, self.location)
            yield

    def record_instance(self, instance: InstanceRecord) -> None:
        """Upsert the instance, seen now."""
        with self.transaction():
            self._db.execute(
                "INSERT INTO instances (name, host, pid, role, epoch, last_seen)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET host=excluded.host,"
                " pid=excluded.pid, role=excluded.role, epoch=excluded.epoch,"
                " last_seen=excluded.last_seen",
                (*instance_row(instance), stamp(utc_clock())),
            )

    def instances(self) -> list[InstanceRecord]:
        """Every instance, by name."""
        rows = self._db.execute(
            "SELECT name, host, pid, role, epoch, last_seen FROM instances ORDER BY name"
        )
        return [InstanceRecord(*row) for row in rows]

    def _lease_row(self) -> sqlite3.Row:
        row: sqlite3.Row = self._db.execute(
            "SELECT holder, epoch, expires_at FROM leadership WHERE id = 1"
        ).fetchone()
        return row

    @staticmethod
    def _lease(row: sqlite3.Row) -> Lease:
        expires = row["expires_at"]
        left = 0.0 if expires is None else (parse_stamp(expires) - utc_clock()).total_seconds()
        return Lease(row["holder"], row["epoch"], expires, max(left, 0.0))
