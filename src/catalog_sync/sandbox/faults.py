"""Injected failures for API calls: latency, errors, and dropped connections.

``after_commit`` is the case a client finds hardest: the write happened but no answer came
back. Dropping a connection needs the server's transport (ASGI has no "abort" message), which
uvicorn's protocol exposes as the owner of the ``send`` callable.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any, Final

from starlette.types import Send

from catalog_sync.sandbox.errors import ApiError, invalid_parameter, unknown_parameter

DEFAULT_STATUSES: Final = (500, 503)
_KINDS: Final = frozenset({"rate", "statuses", "latency_ms", "reset", "after_commit", "seed"})


@dataclass(frozen=True)
class FaultSpec:
    """What to inject, as posted to ``/_sandbox/faults``."""

    rate: float = 0.0
    statuses: tuple[int, ...] = DEFAULT_STATUSES
    latency_ms: tuple[int, int] = (0, 0)
    reset: float = 0.0
    after_commit: float = 0.0
    seed: int | None = None

    def as_json(self) -> dict[str, Any]:
        """The spec as the admin API shows it."""
        return {
            "rate": self.rate,
            "statuses": list(self.statuses),
            "latency_ms": list(self.latency_ms),
            "reset": self.reset,
            "after_commit": self.after_commit,
            "seed": self.seed,
        }


def parse_spec(body: dict[str, Any]) -> FaultSpec:
    """Validate an admin body into a :class:`FaultSpec` (400 in the API's shape if wrong)."""
    for name in body:
        if name not in _KINDS:
            raise unknown_parameter(name)
    statuses = body.get("statuses", list(DEFAULT_STATUSES))
    if not isinstance(statuses, list) or not statuses:
        raise invalid_parameter("statuses", "object")
    for index, status in enumerate(statuses):
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:  # noqa: PLR2004
            raise invalid_parameter(f"statuses[{index}]", status)
    latency = body.get("latency_ms", [0, 0])
    if (
        not isinstance(latency, list)
        or len(latency) != 2  # noqa: PLR2004
        or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in latency)
        or latency[0] > latency[1]
    ):
        raise invalid_parameter("latency_ms", "object")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise invalid_parameter("seed", seed)
    return FaultSpec(
        rate=_probability(body, "rate"),
        statuses=tuple(statuses),
        latency_ms=(latency[0], latency[1]),
        reset=_probability(body, "reset"),
        after_commit=_probability(body, "after_commit"),
        seed=seed,
    )


def _probability(body: dict[str, Any], name: str) -> float:
    value = body.get(name, 0.0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise invalid_parameter(name, value)
    return float(value)


@dataclass
class Decision:
    """What happens to one API call."""

    delay: float = 0.0
    reset: bool = False
    status: int | None = None
    after_commit: bool = False


@dataclass
class Faults:
    """The active spec and its random source (seedable, so a failing run can be replayed)."""

    spec: FaultSpec = field(default_factory=FaultSpec)
    _rng: random.Random = field(default_factory=random.Random)

    def set(self, spec: FaultSpec) -> None:
        """Replace the spec and reseed."""
        self.spec = spec
        self._rng = random.Random(spec.seed)  # noqa: S311 - fault injection, not cryptography

    def clear(self) -> None:
        """Inject nothing."""
        self.set(FaultSpec())

    def decide(self, *, is_write: bool) -> Decision:
        """Roll the dice for one call."""
        spec, rng = self.spec, self._rng
        low, high = spec.latency_ms
        decision = Decision(delay=rng.uniform(low, high) / 1000 if high else 0.0)
        if spec.reset and rng.random() < spec.reset:
            decision.reset = True
        elif spec.rate and rng.random() < spec.rate:
            decision.status = rng.choice(spec.statuses)
        elif is_write and spec.after_commit and rng.random() < spec.after_commit:
            decision.after_commit = True
        return decision


def injected_error(status: int) -> ApiError:
    """The error body of an injected status; a 429 says when to come back."""
    headers = {"Retry-After": "1"} if status == 429 else None  # noqa: PLR2004
    return ApiError(status, f"Injected {status} from the sandbox.", headers=headers)


async def drop_connection(send: Send) -> None:
    """Close the client's connection without an HTTP response.

    Waits until the server has noticed the loss, so it does not answer with a 500 of its own.
    """
    owner = getattr(send, "__self__", None)
    transport = getattr(owner, "transport", None)
    if transport is None:
        raise RuntimeError("this server does not expose its transport; cannot drop a connection")
    transport.abort()
    for _ in range(100):
        if getattr(owner, "disconnected", True):
            return
        await asyncio.sleep(0)
