"""One instance's view of the lease: when it may act, and when it must stop.

Over a real SQLite state; the local clock is a hand-moved one standing in for CLOCK_BOOTTIME,
so a freeze is a jump of that clock, as a SIGSTOPped process sees it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog_sync.daemon.leadership import Leadership, NotLeaderError
from catalog_sync.state import StateBackend, StateError, open_state
from catalog_sync.support.metrics import Metrics

LEASE = 15.0


class Clock:
    """A monotonic clock moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateBackend]:
    with open_state(tmp_path / "state.db") as opened:
        yield opened


def _node(store: StateBackend, clock: Clock, name: str = "a") -> tuple[Leadership, Metrics]:
    metrics = Metrics()
    return Leadership(store, name=name, lease_seconds=LEASE, metrics=metrics, clock=clock), metrics


def _sample(metrics: Metrics, name: str) -> float | None:
    """The value ``/metrics`` shows for ``name``."""
    return metrics.registry.get_sample_value(name)


def test_a_granted_lease_lets_the_instance_act(store: StateBackend) -> None:
    """The first renewal starts term 1: the instance leads and its checks pass."""
    leadership, metrics = _node(store, Clock())
    change = leadership.renew()
    leadership.check()
    assert (change is not None and change.became_leader, leadership.epoch) == (True, 1)
    assert (
        _sample(metrics, "catalog_sync_leader"),
        _sample(metrics, "catalog_sync_leader_epoch"),
    ) == (1, 1)


def test_a_frozen_leader_refuses_to_send_when_it_wakes(store: StateBackend) -> None:
    """A leader whose clock jumped past its deadline (a SIGSTOP) refuses before any send."""
    clock = Clock()
    leadership, _ = _node(store, clock)
    leadership.renew()
    clock.now += LEASE
    with pytest.raises(NotLeaderError, match="holds no live lease"):
        leadership.check()


def test_the_leader_stops_acting_before_its_lease_runs_out(store: StateBackend) -> None:
    """The local deadline keeps a fifth of the lease in reserve."""
    clock = Clock()
    leadership, _ = _node(store, clock)
    leadership.renew()
    clock.now += LEASE * 0.81
    assert leadership.acting is False


def test_a_failed_renewal_keeps_the_leader_until_its_deadline(
    store: StateBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database out of reach: the leader goes on acting until its deadline, then steps
    down on the next renewal."""
    clock = Clock()
    leadership, _ = _node(store, clock)
    leadership.renew()

    def unreachable(holder: str, seconds: float) -> None:
        raise StateError("db", "cannot connect", "check the server")

    monkeypatch.setattr(store, "take_lease", unreachable)
    assert (leadership.renew(), leadership.acting) == (None, True)
    clock.now += LEASE
    change = leadership.renew()
    assert (change is not None and not change.became_leader, leadership.role) == (True, "standby")


def test_a_lease_held_by_another_makes_a_standby(store: StateBackend, tmp_path: Path) -> None:
    """While another instance holds a live lease, this one stands by and may not act."""
    with open_state(tmp_path / "state.db") as other:
        other.take_lease("b", LEASE)
        leadership, metrics = _node(store, Clock())
        assert (leadership.renew(), leadership.role, _sample(metrics, "catalog_sync_leader")) == (
            None,
            "standby",
            0,
        )


def test_taking_over_from_another_counts_a_failover(store: StateBackend, tmp_path: Path) -> None:
    """A lease released by another instance is taken in a new epoch, counted as a failover."""
    with open_state(tmp_path / "state.db") as other:
        other.release_lease("b", other.take_lease("b", LEASE).epoch)
    leadership, metrics = _node(store, Clock())
    change = leadership.renew()
    assert (
        change is not None and change.taken_from,
        _sample(metrics, "catalog_sync_failovers_total"),
    ) == ("b", 1)


def test_status_lists_the_instance_in_its_role(store: StateBackend) -> None:
    """Each renewal reports the instance and its role in the state."""
    leadership, _ = _node(store, Clock())
    leadership.renew()
    assert [(i.name, i.role, i.epoch) for i in store.instances()] == [("a", "leader", 1)]
