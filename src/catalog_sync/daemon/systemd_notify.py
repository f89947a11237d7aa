"""The systemd notify protocol (``sd_notify``): READY, STATUS, STOPPING and WATCHDOG.

A datagram to ``$NOTIFY_SOCKET`` is all the protocol is, so a dozen lines beat a dependency.
Outside systemd (no socket) every call is a no-op, so the daemon runs the same under a shell.
"""

from __future__ import annotations

import os
import socket
from typing import Final

_SOCKET_VAR: Final = "NOTIFY_SOCKET"
_WATCHDOG_VAR: Final = "WATCHDOG_USEC"


class SystemdNotifier:
    """Sends state changes to the service manager, if there is one."""

    def __init__(self, address: str | None = None) -> None:
        address = address if address is not None else os.environ.get(_SOCKET_VAR)
        self._address: str | None = None
        if address:
            # A leading "@" names a socket in the abstract namespace.
            self._address = "\0" + address[1:] if address.startswith("@") else address

    @property
    def enabled(self) -> bool:
        """Whether a service manager listens."""
        return self._address is not None

    def send(self, **fields: str) -> None:
        """Send ``KEY=value`` lines, e.g. ``send(READY="1", STATUS="...")``."""
        if self._address is None:
            return
        message = "\n".join(f"{key}={value}" for key, value in fields.items()).encode()
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(message, self._address)

    def ready(self, status: str) -> None:
        """Tell systemd start-up is complete (``Type=notify`` waits for this)."""
        self.send(READY="1", STATUS=status)

    def status(self, text: str) -> None:
        """Set the one-line status ``systemctl status`` shows."""
        self.send(STATUS=text)

    def stopping(self) -> None:
        """Tell systemd a clean stop has begun."""
        self.send(STOPPING="1", STATUS="stopping")

    def reloading(self) -> None:
        """Tell systemd a configuration reload has begun."""
        self.send(RELOADING="1", STATUS="reloading configuration")

    def watchdog(self) -> None:
        """Ping the watchdog: the event loop is alive."""
        self.send(WATCHDOG="1")


def watchdog_interval() -> float | None:
    """Seconds between watchdog pings (half of ``WatchdogSec``), or None when it is off."""
    usec = os.environ.get(_WATCHDOG_VAR)
    if not usec or not usec.isdigit() or int(usec) == 0:
        return None
    pid = os.environ.get("WATCHDOG_PID")
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None
    return int(usec) / 2_000_000
