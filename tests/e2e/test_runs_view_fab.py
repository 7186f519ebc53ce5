"""``GET /runs`` and bulk by filter under FAB with per-DAG rights: only the tasks a user may read.

SimpleAuthManager's roles are all-or-nothing, so the "only readable tasks" half of the Runs view
runs here against FAB: a role that may read and edit ``rv_good`` only (FAB's per-DAG resource
``DAG:rv_good``, plus runs in general) sees that task's runs and nothing of ``rv_bad``, and a bulk
retry by a filter matching both tasks acts on ``rv_good``'s runs only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dev.airflow_runner import FAB_AUTH_MANAGER
from tests.e2e.airflow_instance import AirflowInstance
from tests.e2e.api_support import (
    LOADER,
    airflow_env,
    call,
    make_shop,
    ok,
    run_state,
    serving,
    wait_run,
    write_definitions,
)

pytestmark = pytest.mark.e2e

TASKS = """
kind: project
name: rv_one
---
kind: task
name: rv_good
project: rv_one
source: {type: sql, conn_id: shop, query: "select 1 as n"}
destinations: [{type: local, path: __OUT__}]
---
kind: task
name: rv_bad
project: rv_one
source: {type: sql, conn_id: shop, query: "select * from no_such_table"}
destinations: [{type: local, path: __OUT__}]
"""
ROLE, READER = "rv_role", "rv_reader"


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowInstance]:
    root = tmp_path_factory.mktemp("runs_view_fab")
    out = root / "out"
    out.mkdir()
    write_definitions(root / "definitions", out, {"runs_view": TASKS.replace("__OUT__", str(out))})
    make_shop(root / "shop.db")
    (root / "dags").mkdir()
    (root / "dags" / "batchtasks_dags.py").write_text(LOADER)
    instance = AirflowInstance(root / "home", root / "dags", env=airflow_env(root), auth_manager=FAB_AUTH_MANAGER,
                               reuse_migrated_db=False)
    with serving(instance, ["rv_good", "rv_bad"], start=True, timeout=180):
        _reader(instance, root)
        yield instance


def _reader(airflow: AirflowInstance, root: Path) -> None:
    """A role with read/edit on rv_good only (FAB's per-DAG resource) and runs in general, and a user with it."""
    def cli(*args: str) -> None:
        done = airflow.cli(*args, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr

    cli("roles", "create", ROLE)
    for resource, actions in (("DAG:rv_good", ("can_read", "can_edit")), ("DAG Runs", ("can_read", "can_edit")),
                              ("Website", ("can_read",))):
        cli("roles", "add-perms", ROLE, "-r", resource, "-a", *actions)  # one -a: a second replaces the first
    cli("users", "create", "--username", READER, "--password", READER, "--role", ROLE, "--firstname", "r",
        "--lastname", "r", "--email", "rv@example.com")


def test_a_user_sees_and_acts_on_readable_tasks_only(airflow: AirflowInstance) -> None:
    made = {}
    for task in ("rv_good", "rv_bad", "rv_good"):
        run_id = ok(call(airflow, "POST", f"/tasks/{task}/runs", json={}))["run_id"]
        wait_run(airflow, task, run_id)
        made.setdefault(task, []).append(run_id)
    admin = ok(call(airflow, "GET", "/runs", params={"task": "rv_"}))
    assert admin["total"] == 3
    mine = ok(call(airflow, "GET", "/runs", user=READER, params={"task": "rv_"}))
    assert {r["task"] for r in mine["runs"]} == {"rv_good"} and mine["total"] == 2
    assert ok(call(airflow, "GET", "/runs", user=READER, params={"task_name": "rv_bad"}))["total"] == 0

    retried = ok(call(airflow, "POST", "/runs/retry", user=READER, json={"filter": {"task": "rv_"}}))
    assert sorted(r["run_id"] for r in retried["results"]) == sorted(made["rv_good"])
    assert retried["done"] == 2
    assert run_state(airflow, "rv_bad", made["rv_bad"][0])["state"] == "failed", "never reached"
    refused = call(airflow, "POST", "/runs/retry", user=READER,
                   json={"runs": [{"task": "rv_bad", "run_id": made["rv_bad"][0]}]})
    assert refused.status_code == 403
    for run_id in made["rv_good"]:
        wait_run(airflow, "rv_good", run_id)
