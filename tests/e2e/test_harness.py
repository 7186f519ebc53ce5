"""Smoke test of the real-Airflow harness, so a broken harness fails here and not inside feature tests.

Covers: DAG parsing, unpause, trigger, LocalExecutor running two dependent tasks, env passthrough
(plain variable and an ``AIRFLOW_CONN_*`` JSON connection seen by the task), task logs over the API, and
SimpleAuthManager roles (viewer may read, may not trigger; anonymous is rejected).
"""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

import pytest

from tests.e2e.airflow_instance import StartAirflow

pytestmark = pytest.mark.e2e

DAG_FILE = textwrap.dedent(
    """
    import os
    from pathlib import Path

    import pendulum
    from airflow.sdk import DAG, BaseHook, task

    with DAG("e2e_smoke", schedule=None, start_date=pendulum.datetime(2024, 1, 1), catchup=False):

        @task
        def write() -> str:
            conn = BaseHook.get_connection("e2e_json")
            out = Path(os.environ["E2E_OUT"]) / "written.txt"
            out.write_text(f"hello {conn.host}:{conn.port}")
            return str(out)

        @task
        def read(path: str) -> None:
            print("READ:", Path(path).read_text())

        read(write())
    """
)


def test_smoke_run_and_roles(tmp_path: Path, start_airflow: StartAirflow) -> None:
    dags, out = tmp_path / "dags", tmp_path / "out"
    dags.mkdir()
    out.mkdir()
    (dags / "e2e_smoke.py").write_text(DAG_FILE)
    env = {
        "E2E_OUT": str(out),
        "AIRFLOW_CONN_E2E_JSON": json.dumps(
            {"conn_type": "generic", "host": "example.invalid", "port": 4242}
        ),
    }

    t0 = time.monotonic()
    airflow = start_airflow(dags, env=env)
    startup = time.monotonic() - t0

    t1 = time.monotonic()
    airflow.wait_for_dag("e2e_smoke")
    assert airflow.import_errors() == []
    airflow.unpause("e2e_smoke")
    run_id = airflow.trigger("e2e_smoke", conf={"from": "test"})
    state = airflow.wait_for_run("e2e_smoke", run_id)
    run = time.monotonic() - t1
    print(f"\nE2E TIMING: startup {startup:.1f}s, parse+trigger+run {run:.1f}s")

    assert state == "success", airflow.process_logs()
    assert (out / "written.txt").read_text() == "hello example.invalid:4242"
    assert {ti["task_id"]: ti["state"] for ti in airflow.task_instances("e2e_smoke", run_id)} == {
        "write": "success",
        "read": "success",
    }
    assert "READ: hello example.invalid:4242" in airflow.task_log("e2e_smoke", run_id, "read")

    # SimpleAuthManager roles: viewer reads but cannot trigger; no token at all is 401.
    assert airflow.api("GET", "/api/v2/dags", username="viewer").status_code == 200
    denied = airflow.api(
        "POST", "/api/v2/dags/e2e_smoke/dagRuns", username="viewer", json={"logical_date": None}
    )
    assert denied.status_code == 403, denied.text
    assert airflow.api("GET", "/api/v2/dags", username=None).status_code == 401
    assert (
        airflow.api(
            "POST", "/api/v2/dags/e2e_smoke/dagRuns", username="user", json={"logical_date": None}
        ).status_code
        == 200
    )
