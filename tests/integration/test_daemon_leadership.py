"""Several ``catalog-sync run`` processes on one PostgreSQL state: one leads, the others stand
by, and a leader that dies or freezes hands the work over with nothing lost or doubled.

Real processes, a real PostgreSQL server and the sandbox over loopback HTTP; which node sent a
request is read from the sandbox's request log (the User-Agent names the instance). Every wait
is on a condition (the state, the sandbox), with a deadline.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import httpx
from tests.integration.leadership_helpers import (
    CATALOGS,
    TIMEOUT,
    captured,
    deployment,
    place_and_ship,
    sent_by,
    writes,
)
from tests.integration.test_daemon_process import free_port

from catalog_sync.demo.testing import replace_row, wait_until
from catalog_sync.sandbox.testing import RunningSandbox

TENT = "TC-TENT-2P-GRN"


def test_the_leader_does_the_work_and_a_standby_sends_nothing(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """Two nodes: the one holding the lease applies the catalog and captures the shipment;
    the other sends not one request."""
    with deployment(sandbox, tmp_path) as nodes:
        nodes.start("node-a")
        nodes.start("node-b")
        leader = nodes.wait_for_leader()
        standby = "node-b" if leader == "node-a" else "node-a"
        # On a loaded machine the second node may still be starting when the first leads.
        wait_until(lambda: nodes.role(standby) is not None, timeout=TIMEOUT, what="the standby")
        nodes.wait_for_catalog()
        order = place_and_ship(sandbox)
        wait_until(lambda: captured(sandbox, order["id"]) == 2, timeout=TIMEOUT, what="capture")
        assert (sent_by(sandbox, standby), nodes.role(standby)) == ([], "standby")


def test_killing_the_leader_hands_the_work_to_a_standby(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """SIGKILL the leader: the standby takes the lease in a new epoch and captures what was
    shipped, exactly once, checked against the sandbox's fulfillments."""
    with deployment(sandbox, tmp_path) as nodes:
        nodes.start("node-a")
        nodes.wait_for_leader()
        nodes.start("node-b")
        nodes.wait_for_catalog()
        first = place_and_ship(sandbox)
        os.kill(nodes.nodes["node-a"].pid, signal.SIGKILL)
        assert nodes.wait_for_leader(other_than="node-a") == "node-b"
        second = place_and_ship(sandbox)
        wait_until(
            lambda: captured(sandbox, first["id"]) + captured(sandbox, second["id"]) >= 4,
            timeout=TIMEOUT,
            what="both captures",
        )
        assert (captured(sandbox, first["id"]), captured(sandbox, second["id"])) == (2, 2)
        took_over = "instance node-b took the lease (epoch 2) from node-a"
        assert (nodes.epoch(), took_over in nodes.notices("leadership")) == (2, True)


def test_a_leader_frozen_past_its_lease_sends_nothing_when_it_wakes(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """SIGSTOP the leader until the standby leads and has captured; after SIGCONT the old
    leader reports itself standby and has sent no write since it woke."""
    with deployment(sandbox, tmp_path) as nodes:
        frozen = nodes.start("node-a")
        nodes.wait_for_leader()
        nodes.start("node-b")
        nodes.wait_for_catalog()
        os.kill(frozen.pid, signal.SIGSTOP)
        try:
            assert nodes.wait_for_leader(other_than="node-a") == "node-b"
            order = place_and_ship(sandbox)
            wait_until(lambda: captured(sandbox, order["id"]) == 2, timeout=TIMEOUT, what="capture")
            sandbox.clear_requests()
        finally:
            os.kill(frozen.pid, signal.SIGCONT)
        wait_until(lambda: nodes.role("node-a") == "standby", timeout=TIMEOUT, what="step-down")
        assert (writes(sent_by(sandbox, "node-a")), captured(sandbox, order["id"])) == ([], 2)


def test_a_new_leader_never_applies_its_older_copy_of_a_file(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """Each node watches its own folder. node-a applies a renamed tent; node-b's copy of that
    file is older. After node-a dies, node-b leads, leaves the file out (status says so) and
    the tent keeps node-a's name at Digital River."""
    with deployment(sandbox, tmp_path) as nodes:
        older = tmp_path / "node-b-catalogs"
        shutil.copytree(CATALOGS, older)
        hour_ago = time.time() - 3600
        os.utime(older / "hardware.csv", (hour_ago, hour_ago))
        replace_row(tmp_path / "catalogs" / "hardware.csv", TENT, "name", "Ridgeline v2")
        first = nodes.start("node-a")
        nodes.wait_for_catalog()
        nodes.start("node-b", CATALOG_SYNC_CATALOGS=str(older))
        os.kill(first.pid, signal.SIGKILL)
        assert nodes.wait_for_leader(other_than="node-a") == "node-b"
        wait_until(lambda: nodes.left_out() == ["hardware.csv"], timeout=TIMEOUT, what="skip")
        with sandbox.api() as api:
            name = api.get(f"/skus/{TENT}").json()["name"]
        notices = nodes.notices("catalog_copy_older")
    assert (name, len(notices), "hardware.csv" in notices[0]) == ("Ridgeline v2", 1, True)


def test_a_standby_answers_healthz_as_standby(sandbox: RunningSandbox, tmp_path: Path) -> None:
    """``/healthz`` of a standby: HTTP 200, role standby, its name, no service running."""
    with deployment(sandbox, tmp_path) as nodes:
        nodes.start("node-a")
        nodes.wait_for_leader()
        port = free_port()
        nodes.start("node-b", CATALOG_SYNC_METRICS_PORT=str(port))
        wait_until(lambda: nodes.role("node-b") == "standby", timeout=TIMEOUT, what="standby")
        answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=TIMEOUT)
        body = answer.json()
    assert (answer.status_code, body["role"], body["instance"], body["alive"]) == (
        200,
        "standby",
        "node-b",
        {},
    )
