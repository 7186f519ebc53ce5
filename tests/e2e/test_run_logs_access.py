"""Who may read a step's log tail: Airflow's own rule (DAG read with the task-logs entity), per DAG, under FAB.

SimpleAuthManager's roles read every DAG, so the refusals need an auth manager that grants DAGs one by
one: FAB, with two roles made for this test through Airflow's CLI. ``sales_logs`` may read the
``daily_sales`` DAG, its runs and its task logs; ``sales_runs`` the same without task logs. So:

- ``sales_logs`` reads daily_sales' log tail (200) but gets 403 for another task's, before anything
  about that task is looked up (an unknown run there answers 403 to them, 404 to the admin);
- ``sales_runs`` gets 403 for the log tail of a run whose page and file preview they may read.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dev.airflow_runner import FAB_AUTH_MANAGER
from tests.e2e.airflow_instance import AirflowInstance
from tests.e2e.api_support import LOADER, airflow_env, call, make_shop, ok, q, serving, wait_run, write_definitions

pytestmark = pytest.mark.e2e

ROLES = {
    "sales_logs": [("DAG:daily_sales", "can_read"), ("DAG Runs", "can_read"), ("Task Logs", "can_read"),
                   ("Task Instances", "can_read"), ("Website", "can_read")],
    "sales_runs": [("DAG:daily_sales", "can_read"), ("DAG Runs", "can_read"), ("Task Instances", "can_read"),
                   ("Website", "can_read")],
}


def _cli(airflow: AirflowInstance, *args: str) -> None:
    done = airflow.cli(*args, timeout=300)
    assert done.returncode == 0 or "already exist" in done.stdout + done.stderr, (args, done.stdout, done.stderr)


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowInstance]:
    root = tmp_path_factory.mktemp("run_logs_access")
    out = root / "out"
    out.mkdir()
    write_definitions(root / "definitions", out)
    make_shop(root / "shop.db")
    (root / "dags").mkdir()
    (root / "dags" / "batchtasks_dags.py").write_text(LOADER)
    instance = AirflowInstance(root / "home", root / "dags", env=airflow_env(root), auth_manager=FAB_AUTH_MANAGER,
                               reuse_migrated_db=False)
    with serving(instance, ["daily_sales", "flaky_export"], start=True, timeout=180):
        for role, perms in ROLES.items():
            _cli(instance, "roles", "create", role)
            for resource, action in perms:
                _cli(instance, "roles", "add-perms", role, "-r", resource, "-a", action)
            _cli(instance, "users", "create", "--username", role, "--password", role, "--role", role,
                 "--firstname", role, "--lastname", "test", "--email", f"{role}@example.com")
        yield instance


def test_log_tail_needs_task_log_read_on_that_dag(airflow: AirflowInstance) -> None:
    run_id = ok(call(airflow, "POST", "/tasks/daily_sales/runs", json={}))["run_id"]
    assert wait_run(airflow, "daily_sales", run_id)["state"] == "success"
    logs = f"/tasks/daily_sales/runs/{q(run_id)}/logs/extract"

    tail = ok(call(airflow, "GET", logs, user="sales_logs"))
    assert any("10 rows written to sales_EU.csv" in line for line in tail["lines"]), tail["lines"]

    other = "/tasks/flaky_export/runs/nope/logs/extract"
    assert call(airflow, "GET", other, user="sales_logs").status_code == 403, "another task's DAG"
    assert call(airflow, "GET", other, user="admin").status_code == 404, "the admin passes the check, then 404"

    assert call(airflow, "GET", logs, user="sales_runs").status_code == 403, "runs read without task-log read"
    assert ok(call(airflow, "GET", f"/tasks/daily_sales/runs/{q(run_id)}", user="sales_runs"))["state"] == "success"
    [preview] = ok(call(airflow, "GET", f"/tasks/daily_sales/runs/{q(run_id)}/preview", user="sales_runs"))
    assert preview["lines"][0] == "id,region,amount"
