"""Shared fixtures: one sandbox for the whole session, emptied before each test that uses it;
the state location of a test on the backend ``--state-backend`` chooses (both for ``state_heavy``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest
from tests.contract.state_backend_helpers import BACKENDS, StateLocation
from tests.postgres_server import stop_shared_server

from catalog_sync.sandbox.testing import RunningSandbox, start_sandbox

SandboxFactory = Callable[..., AbstractContextManager[RunningSandbox]]


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--state-backend``: the backend of the tests that take ``state_location``."""
    parser.addoption(
        "--state-backend",
        choices=sorted(BACKENDS),
        default="sqlite",
        help="state backend of the integration tests that exercise state (state_heavy tests "
        "run on every backend whatever this says)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A ``state_heavy`` test that takes the state location runs once per backend."""
    heavy = metafunc.definition.get_closest_marker("state_heavy") is not None
    if heavy and "state_backend" in metafunc.fixturenames:
        metafunc.parametrize("state_backend", sorted(BACKENDS), indirect=True)


@pytest.fixture
def state_backend(request: pytest.FixtureRequest) -> str:
    """The backend of this test: its parameter (``state_heavy``) or ``--state-backend``."""
    chosen: str = getattr(request, "param", None) or request.config.getoption("--state-backend")
    return chosen


@pytest.fixture
def state_location(state_backend: str, tmp_path: Path) -> StateLocation:
    """A fresh, empty state on the test's backend: a file under ``tmp_path`` or a new database."""
    return BACKENDS[state_backend](tmp_path)


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
