"""The demo's walkthrough holds the demo; what tests and benchmarks share lives in a testing module.

``catalog_sync.demo.testing`` starts catalog-sync and the sandbox as child processes for the
demo, the process-level tests and the latency benchmark; ``walkthrough`` is only the steps.
"""

from __future__ import annotations

import ast
import inspect

import pytest

from catalog_sync.demo import walkthrough
from catalog_sync.demo.testing import wait_until


def test_wait_until_returns_what_the_probe_found() -> None:
    """The first answer that is neither None nor False is returned as it is."""
    answers = iter([None, False, 0, "ready"])
    assert wait_until(lambda: next(answers), timeout=60, interval=0) == 0


def test_wait_until_names_what_never_came() -> None:
    """A wait that runs out says what it was waiting for."""
    with pytest.raises(TimeoutError, match="waiting for the start-up reconcile"):
        wait_until(lambda: None, timeout=0, what="the start-up reconcile")


def test_the_walkthrough_defines_only_what_the_demo_uses() -> None:
    """Every function and class of the walkthrough is used by the walkthrough itself: a helper
    only tests or benchmarks use belongs in ``demo.testing`` or the test tree."""
    tree = ast.parse(inspect.getsource(walkthrough))
    defined = {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name != "main"
    }
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    assert defined - used == set()
