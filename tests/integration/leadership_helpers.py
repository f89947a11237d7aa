"""Several ``catalog-sync run`` processes on one PostgreSQL state, against the sandbox.

Shared by the leadership tests (and anything else that runs a deployment of several nodes):
start named nodes, find the leader in the state, and tell which node sent which request by
the ``User-Agent`` the sandbox's request log records.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.postgres_server import shared_server

from catalog_sync.demo.testing import DaemonProcess, daemon_env, wait_until
from catalog_sync.sandbox.testing import RunningSandbox
from catalog_sync.state import open_state

CATALOGS = Path(__file__).parents[2] / "catalogs"
#: Pairs in the example catalogs: applied once the leader's start-up run is done.
EXAMPLE_PAIRS = 47
#: A short lease, so a failover takes seconds (the setting's lowest value is 1).
LEASE_SECONDS = 3
TIMEOUT = 60.0


@dataclass
class Deployment:
    """One PostgreSQL state, one catalogs folder, and the nodes started on them."""

    sandbox: RunningSandbox
    folder: Path
    url: str = field(default_factory=lambda: shared_server().new_database())
    nodes: dict[str, DaemonProcess] = field(default_factory=dict)

    def start(self, name: str, **extra: str) -> DaemonProcess:
        """Start node ``name`` (its own log file); returns at once."""
        env = daemon_env(
            base_url=self.sandbox.base_url,
            api_key=self.sandbox.api_key,
            workdir=self.folder,
            extra={
                "CATALOG_SYNC_STATE": self.url,
                "CATALOG_SYNC_INSTANCE_NAME": name,
                "CATALOG_SYNC_LEASE_SECONDS": str(LEASE_SECONDS),
                "CATALOG_SYNC_POLL_INTERVAL": "0.2",
                **extra,
            },
        )
        node = DaemonProcess(env, self.folder / f"{name}.log").start()
        self.nodes[name] = node
        return node

    def leader(self) -> str | None:
        """The node holding a live lease, by the state (None between terms)."""
        with open_state(self.url) as store:
            lease = store.lease()
        return lease.holder if lease.remaining > 0 else None

    def epoch(self) -> int:
        """The lease's epoch."""
        with open_state(self.url) as store:
            return store.lease().epoch

    def role(self, name: str) -> str | None:
        """The role node ``name`` last reported in the state."""
        with open_state(self.url) as store:
            return next((i.role for i in store.instances() if i.name == name), None)

    def left_out(self) -> list[str]:
        """The catalog files the leader left out as older copies, by the state."""
        with open_state(self.url) as store:
            files = store.catalog_files()
        return sorted(name for name, f in files.items() if f.skipped_at is not None)

    def notices(self, kind: str) -> list[str]:
        """The messages of the notifications of ``kind`` in the state, newest first."""
        with open_state(self.url) as store:
            return [n.message for n in store.notifications() if n.kind == kind]

    def wait_for_leader(self, *, other_than: str | None = None) -> str:
        """Wait until some node (not ``other_than``) leads; its name."""

        def found() -> str | None:
            name = self.leader()
            return name if name is not None and name != other_than else None

        return wait_until(found, timeout=TIMEOUT, what="a leader")

    def wait_for_catalog(self) -> None:
        """Wait until the leader applied the example catalogs."""

        def applied() -> bool:
            with open_state(self.url) as store:
                return store.count_pairs() == EXAMPLE_PAIRS

        wait_until(applied, timeout=TIMEOUT, what="the example catalogs to be applied")

    def stop_all(self) -> None:
        """SIGTERM every node still running."""
        for node in self.nodes.values():
            node.stop()


@contextmanager
def deployment(sandbox: RunningSandbox, folder: Path) -> Iterator[Deployment]:
    """A deployment on a new database with the example catalogs; every node stopped after."""
    shutil.copytree(CATALOGS, folder / "catalogs")
    running = Deployment(sandbox, folder)
    try:
        yield running
    finally:
        running.stop_all()


def sent_by(sandbox: RunningSandbox, name: str) -> list[dict[str, Any]]:
    """The requests of the sandbox's log that node ``name`` sent (by its User-Agent)."""
    mark = f"(instance {name})"
    return [r for r in sandbox.requests() if (r.get("user_agent") or "").endswith(mark)]


def writes(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The requests that change something at Digital River."""
    return [r for r in requests if r["method"] != "GET"]


def place_and_ship(sandbox: RunningSandbox, quantity: int = 2) -> dict[str, Any]:
    """An accepted order, shipped in full once its fulfillment order exists; the order."""
    order = sandbox.create_order([{"skuId": "TC-TENT-2P-GRN", "quantity": quantity}])
    with sandbox.api() as api:

        def fulfillment_order() -> dict[str, Any] | None:
            found = api.get("/fulfillment-orders", params={"upstreamIds": order["id"]})
            data: list[dict[str, Any]] = found.json()["data"]
            return data[0] if data else None

        created = wait_until(fulfillment_order, timeout=TIMEOUT, what="the fulfillment order")
    sandbox.admin.post(
        f"/_sandbox/fulfillment-orders/{created['id']}/ship",
        json={"trackingNumber": "1Z999", "trackingCompany": "UPS"},
    )
    return order


def captured(sandbox: RunningSandbox, order_id: str) -> int:
    """Units captured for ``order_id``, by the sandbox's own fulfillments."""
    with sandbox.api() as api:
        data = api.get("/fulfillments", params={"orderId": order_id}).json()["data"]
    return sum(item["quantity"] for f in data for item in f["items"])
