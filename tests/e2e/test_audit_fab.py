"""``GET /audit`` under the FAB auth manager: a user who may read one DAG sees that DAG's entries only.

The SimpleAuthManager has no per-DAG rights (its viewer reads every DAG), so this module runs Airflow with
FAB and gives a new user a role with read on ``DAG:daily_sales`` alone. Actions on ``daily_sales`` and on
``slow_split`` and a project's definition change (no DAG) are on record; the user sees the first only, and
an admin sees all three.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dev.airflow_runner import FAB_AUTH_MANAGER
from tests.e2e.airflow_instance import AirflowInstance
from tests.e2e.api_support import LOADER, airflow_env, call, make_shop, ok, serving, write_definitions

pytestmark = pytest.mark.e2e

READER = "one_dag_reader"


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowInstance]:
    root = tmp_path_factory.mktemp("audit_fab")
    out = root / "out"
    out.mkdir()
    write_definitions(root / "definitions", out)
    make_shop(root / "shop.db")
    (root / "dags").mkdir()
    (root / "dags" / "batchtasks_dags.py").write_text(LOADER)
    instance = AirflowInstance(root / "home", root / "dags", env=airflow_env(root), auth_manager=FAB_AUTH_MANAGER,
                               reuse_migrated_db=False)
    with serving(instance, ["daily_sales", "slow_split"], start=True, timeout=240):
        role = {"name": "one_dag", "actions": [
            {"action": {"name": "can_read"}, "resource": {"name": "DAG:daily_sales"}},
            {"action": {"name": "can_read"}, "resource": {"name": "DAG Runs"}},
        ]}
        resp = instance.api("POST", "/auth/fab/v1/roles", json=role)
        assert resp.status_code in (200, 201), resp.text
        user = {"username": READER, "password": READER, "email": "r@example.com", "first_name": "r",
                "last_name": "r", "roles": [{"name": "one_dag"}]}
        resp = instance.api("POST", "/auth/fab/v1/users", json=user)
        assert resp.status_code in (200, 201), resp.text
        yield instance


def entries(airflow: AirflowInstance, caller: str, **params: Any) -> list[dict[str, Any]]:
    return ok(call(airflow, "GET", "/audit", user=caller, params={"limit": 500, **params}))["entries"]


def test_a_user_sees_entries_of_the_dags_they_may_read_only(airflow: AirflowInstance) -> None:
    # queued, or refused when the DAG is paused: either way on record with its DAG
    assert call(airflow, "POST", "/tasks/daily_sales/runs", json={}).status_code in (200, 409)
    assert call(airflow, "POST", "/tasks/slow_split/runs", json={}).status_code in (200, 409)
    project = ok(call(airflow, "GET", "/definitions/project/ops"))
    ok(call(airflow, "PUT", "/definitions/project/ops",
            json={"definition": {**project["data"], "description": "changed for the audit"}}))

    everything = entries(airflow, "admin")
    assert {"daily_sales", "slow_split"} <= {e["task"] for e in everything}
    assert any(e["target"] == "project ops" and e["action"] == "definition_update" for e in everything)

    seen = entries(airflow, READER)
    assert seen, "the reader sees the entries of daily_sales"
    assert {e["task"] for e in seen} == {"daily_sales"}, {(e["action"], e["task"], e["target"]) for e in seen}
    assert ok(call(airflow, "GET", "/audit", user=READER, params={"task": "slow"}))["total"] == 0
    assert ok(call(airflow, "GET", "/audit", user=READER, params={"project": "ops"}))["total"] == 0
