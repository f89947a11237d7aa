"""A notification as it is logged in the state and sent to the notification sinks.

Plain data shared by the layer that stores notifications and the one that sends them, so that
neither has to import the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class NotificationRecord:
    """A notification as logged and sent to the sinks."""

    time: str
    kind: str
    message: str
    order_id: str | None = None
    event_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The JSON object sinks receive."""
        return {
            "time": self.time,
            "kind": self.kind,
            "order_id": self.order_id,
            "event_id": self.event_id,
            "message": self.message,
        }
