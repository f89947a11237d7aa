"""Several ``catalog-sync run`` processes on one PostgreSQL state, for the soak and the failover
benchmark: start them, find the leader through ``/healthz``, kill, freeze and restart them.

Every node is a real daemon as an operator starts it (``catalog_sync.demo.testing``): its own
instance name, metrics port and log, the same ``CATALOG_SYNC_STATE`` URL. A node is asked for
its role over its loopback ``/healthz`` (``"role": "leader" | "standby"``); a frozen or dead one
does not answer and counts as neither.
"""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Self

import httpx

from catalog_sync.demo.testing import DaemonProcess, daemon_env, wait_until

#: How long a node may take to answer ``/healthz`` before it counts as not answering.
HEALTH_TIMEOUT: Final = 1.0


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Node:
    """One ``catalog-sync run`` of the cluster."""

    name: str
    env: Mapping[str, str]
    log: Path
    port: int = field(default_factory=free_port)
    daemon: DaemonProcess | None = None

    def start(self) -> None:
        """Start (or start again) the daemon."""
        self.daemon = DaemonProcess(self.env, self.log, args=("--metrics-port", str(self.port)))
        self.daemon.start()

    def health(self) -> dict[str, Any] | None:
        """The node's ``/healthz`` document, or ``None`` when it does not answer."""
        try:
            answer = httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=HEALTH_TIMEOUT)
            document: dict[str, Any] = answer.json()
        except (httpx.HTTPError, ValueError):
            return None
        return document

    def role(self) -> str | None:
        """``leader``, ``standby``, or ``None`` (dead, frozen, starting)."""
        document = self.health()
        role = None if document is None else document.get("role")
        return role if isinstance(role, str) else None

    def signal(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the daemon."""
        assert self.daemon is not None
        os.kill(self.daemon.pid, sig)

    def kill(self) -> None:
        """SIGKILL the daemon and reap it."""
        assert self.daemon is not None
        assert self.daemon.process is not None
        self.signal(signal.SIGKILL)
        self.daemon.process.wait()
        self.daemon.stop()

    def stop(self) -> None:
        """Stop the daemon (SIGCONT first: a frozen process cannot act on SIGTERM)."""
        if self.daemon is not None and self.daemon.process is not None:
            if self.daemon.process.poll() is None:
                self.signal(signal.SIGCONT)
            self.daemon.stop()


@dataclass
class Cluster:
    """``size`` nodes on the state ``url``, against the sandbox at ``base_url``."""

    url: str
    base_url: str
    api_key: str
    workdir: Path
    size: int = 3
    settings: Mapping[str, str] = field(default_factory=dict)
    nodes: list[Node] = field(default_factory=list)

    def start(self) -> None:
        """Start every node (they elect a leader among themselves)."""
        (self.workdir / "catalogs").mkdir(parents=True, exist_ok=True)
        for n in range(self.size):
            name = f"node-{n + 1}"
            extra = {
                "CATALOG_SYNC_STATE": self.url,
                "CATALOG_SYNC_INSTANCE_NAME": name,
                **self.settings,
            }
            env = daemon_env(
                base_url=self.base_url, api_key=self.api_key, workdir=self.workdir, extra=extra
            )
            node = Node(name, env, self.workdir / f"{name}.log")
            node.start()
            self.nodes.append(node)

    def leaders(self) -> list[Node]:
        """The nodes that answer ``/healthz`` as leader now."""
        return [node for node in self.nodes if node.role() == "leader"]

    def wait_leader(self, *, timeout: float, besides: Node | None = None) -> Node:
        """The one leader, once exactly one node (other than ``besides``) says it leads."""

        def one() -> Node | None:
            found = [node for node in self.leaders() if node is not besides]
            return found[0] if len(found) == 1 else None

        return wait_until(one, timeout=timeout, interval=0.05, what="one leader")

    def close(self) -> None:
        """Stop every node."""
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
