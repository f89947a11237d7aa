"""The ``ops/`` folder: the alerting rules pass promtool, and rules and dashboard name real metrics.

promtool comes with Debian's ``prometheus`` package, which ``scripts/system-deps.sh`` installs on
a fresh machine. Without it the promtool tests skip, saying why; with ``CI=true`` they fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Final

import pytest

from catalog_sync.support.metrics import Metrics

OPS: Final = Path(__file__).parents[2] / "ops"
RULES: Final = OPS / "prometheus" / "catalog-sync-rules.yml"
RULE_TESTS: Final = OPS / "prometheus" / "alerts.test.yml"
DASHBOARD: Final = OPS / "grafana" / "catalog-sync.json"
#: A metric of ours in a PromQL expression.
OUR_METRIC: Final = re.compile(r"\bcatalog_sync_[a-z0-9_]+")
#: The sample names each kind of metric family exposes (prometheus_client's text format).
SUFFIXES: Final = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
}


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is not None:
        return found
    reason = "promtool not found; run scripts/system-deps.sh as root (Debian package prometheus)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def _promtool_run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_promtool(), *args], capture_output=True, text=True, check=False, cwd=RULES.parent
    )


def exposed_samples() -> set[str]:
    """Every sample name the daemon's registry can expose."""
    families = Metrics().registry.collect()
    return {f"{f.name}{suffix}" for f in families for suffix in SUFFIXES[f.type]}


def _rule_expressions() -> list[str]:
    """The ``expr:`` of every rule (the YAML is promtool's to parse; this only finds names)."""
    return re.findall(r"^\s+expr:\s*(.+)$", RULES.read_text(encoding="utf-8"), re.MULTILINE)


def _dashboard_expressions() -> list[str]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def test_rules_pass_promtool_check() -> None:
    """``promtool check rules`` accepts the alerting rules."""
    checked = _promtool_run("check", "rules", RULES.name)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_alerts_fire_as_their_unit_tests_say() -> None:
    """``promtool test rules``: each alert fires on its series and not on a healthy deployment."""
    tested = _promtool_run("test", "rules", RULE_TESTS.name)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_has_a_unit_test() -> None:
    """Each alert of the rules is evaluated by at least one promtool unit test."""
    rules = RULES.read_text(encoding="utf-8")
    alerts = set(re.findall(r"^\s+- alert: (\w+)$", rules, re.MULTILINE))
    tested = set(re.findall(r"alertname: (\w+)", RULE_TESTS.read_text(encoding="utf-8")))
    assert alerts
    assert alerts == tested


@pytest.mark.parametrize(
    ("source", "expressions"),
    [("rules", _rule_expressions), ("dashboard", _dashboard_expressions)],
)
def test_every_metric_named_exists(source: str, expressions: Any) -> None:
    """Every ``catalog_sync_*`` metric the rules or the dashboard query is one we export."""
    named = {name for expr in expressions() for name in OUR_METRIC.findall(expr)}
    assert named, f"the {source} name no metric"
    assert named - exposed_samples() == set()


def test_every_dashboard_panel_queries_something() -> None:
    """Each panel of the dashboard (rows aside) has a query and a description."""
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert [p["title"] for p in panels if not p.get("targets") or not p.get("description")] == []
