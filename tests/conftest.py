"""Shared fixtures: one sandbox for the whole session, emptied before each test that uses it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import httpx
import pytest
from tests.postgres_server import stop_shared_server

from catalog_sync.sandbox.testing import RunningSandbox, start_sandbox

SandboxFactory = Callable[..., AbstractContextManager[RunningSandbox]]


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask of 022, as a shell usually has, so only explicit modes make files private."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[RunningSandbox]:
    """The session's sandbox, rate limit off so tests never meet a 429 by accident."""
    with start_sandbox(rate_limit=0) as running:
        yield running


@pytest.fixture
def sandbox(sandbox_server: RunningSandbox) -> RunningSandbox:
    """The session's sandbox, reset: no data, no request log, no faults."""
    sandbox_server.reset()
    sandbox_server.clear_faults()
    return sandbox_server


@pytest.fixture
def sandbox_factory() -> SandboxFactory:
    """Start an extra sandbox, e.g. ``with sandbox_factory(rate_limit=25) as sb:``."""
    return start_sandbox


@pytest.fixture
def api(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    """A raw httpx client of the reset sandbox with its ``sk_test_`` key (not our DR client)."""
    with sandbox.api() as client:
        yield client


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Stop the throwaway PostgreSQL server, if a test started one."""
    stop_shared_server()
