"""The shape of a long-running part of the daemon (watcher, audit, poller, transmitter).

The daemon only knows this protocol, so each part is written, tested and started on its own,
and a new part slots in without touching the others.
"""

from __future__ import annotations

import asyncio
from typing import Protocol


class Service(Protocol):
    """A task the daemon runs side by side with the others in one event loop."""

    #: Short name used in logs, ``status`` and ``STATUS=``.
    name: str

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set, then finish or safely abandon in-flight work and return.

        Must not raise for errors it can retry, nor for one bad input (log it, count it, go
        on with the rest). An exception that still escapes is logged by the daemon, which
        starts the service again after a pause; the other services keep serving.
        """
        ...

    def status_line(self) -> str:
        """One short phrase for systemd's ``STATUS=`` line, e.g. ``"47 pairs in sync"``."""
        ...
