"""Clients wired to a scripted Digital River behind ``httpx.MockTransport``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from pydantic import SecretStr

from catalog_sync.dr import DigitalRiverClient, RateBudget, RetryPolicy
from catalog_sync.dr.testing import Answer, FakeClock, FakeSleep, ScriptedAPI

KEY = "sk_test_0123456789abcdef0123456789abcdef"


@pytest.fixture
def api_key() -> str:
    """The secret key every client made by ``make_client`` sends."""
    return KEY


@pytest.fixture
def sleep() -> FakeSleep:
    """The retry sleep of clients made by ``make_client``."""
    return FakeSleep()


@pytest.fixture
def api() -> ScriptedAPI:
    """The scripted API that clients made by ``make_client`` talk to."""
    return ScriptedAPI()


@pytest.fixture
async def make_client(
    api: ScriptedAPI, sleep: FakeSleep
) -> AsyncIterator[Callable[..., DigitalRiverClient]]:
    """Build clients over ``api`` (backoff 0.5 s doubling, no jitter); close them afterwards.

    Their rate budget runs on a self-advancing fake clock, so a 429's penalty costs no time.
    """
    made: list[DigitalRiverClient] = []
    clock = FakeClock(auto=True)

    def factory(*answers: Answer, attempts: int = 3) -> DigitalRiverClient:
        api.script[:] = list(answers)
        client = DigitalRiverClient(
            base_url="https://api.example.test",
            api_key=SecretStr(KEY),
            rate_limit=10_000,
            retry=RetryPolicy(attempts=attempts, initial_backoff=0.5, max_backoff=4, jitter=0),
            transport=httpx.MockTransport(api),
            sleep=sleep,
            budget=RateBudget(10_000, clock=clock, sleep=clock.sleep),
        )
        made.append(client)
        return client

    yield factory
    for client in made:
        await client.aclose()
