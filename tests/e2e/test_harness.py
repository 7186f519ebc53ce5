"""Smoke test of the real-Airflow harness, so a broken harness fails here and not inside feature tests.

The replay rule of ``api`` is checked against a scripted server (the rule is the harness's own logic; the
real api-server's "database is locked" cannot be produced on demand).

Covers: DAG parsing, unpause, trigger, LocalExecutor running two dependent tasks, env passthrough
(plain variable and an ``AIRFLOW_CONN_*`` JSON connection seen by the task), task logs over the API, and
SimpleAuthManager roles (viewer may read, may not trigger; anonymous is rejected).
"""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.airflow_instance import AirflowInstance, StartAirflow

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


LOCKED = httpx.Response(500, json={"detail": "(sqlite3.OperationalError) database is locked"})


def scripted(tmp_path: Path, answer: object) -> AirflowInstance:
    """A harness whose HTTP client talks to ``answer`` (request -> response) instead of an api-server."""
    instance = AirflowInstance(tmp_path / "home", tmp_path / "dags", port=1)
    instance._client = httpx.Client(base_url=instance.base_url, transport=httpx.MockTransport(answer))  # type: ignore[arg-type]
    return instance


def test_a_locked_database_is_replayed_only_where_that_cannot_act_twice(tmp_path: Path) -> None:
    sent: list[str] = []

    def first_locked(request: httpx.Request) -> httpx.Response:
        sent.append(request.method)
        return LOCKED if sent.count(request.method) == 1 else httpx.Response(200, json={})

    airflow = scripted(tmp_path, first_locked)
    assert airflow.api("GET", "/api/v2/dags", username=None).status_code == 200, "a read is sent again"
    assert sent == ["GET", "GET"]
    resp = airflow.api("POST", "/api/v2/dags/x/dagRuns", username=None, json={})
    assert resp.status_code == 500 and sent.count("POST") == 1, "a POST is never replayed blindly"
    sent.clear()
    assert airflow.api("PATCH", "/api/v2/dags/x", username=None, replay_if=lambda: False).status_code == 500
    assert sent == ["PATCH"], "nor when the check finds the first attempt did something"
    assert airflow.api("PATCH", "/api/v2/dags/x", username=None, replay_if=lambda: True).status_code == 200
    assert sent == ["PATCH", "PATCH"]


@pytest.mark.parametrize("created_before_failing", [True, False])
def test_trigger_after_a_locked_database_makes_exactly_one_run(tmp_path: Path, created_before_failing: bool) -> None:
    runs: list[str] = []

    def server(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/token":
            return httpx.Response(201, json={"access_token": "t"})
        if request.method == "GET":
            found = request.url.path.rsplit("/", 1)[-1] in runs
            return httpx.Response(200 if found else 404, json={})
        run_id = json.loads(request.content)["dag_run_id"]
        if not runs and not created_before_failing:
            runs.append("")  # the first attempt fails before doing anything
            return LOCKED
        runs.append(run_id)
        return LOCKED if len(runs) == 1 else httpx.Response(200, json={"dag_run_id": run_id})

    run_id = scripted(tmp_path, server).trigger("x")
    assert [r for r in runs if r] == [run_id], "one run, whether the failed attempt had created it or not"


def test_the_migrated_template_database_is_keyed_by_the_provider_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A template DB migrated by an older checkout (other tables or migrations) is never copied into a new home."""
    import shutil

    import airflow_batchtasks.db
    from dev.airflow_runner import _template_key

    copy = tmp_path / "db"
    shutil.copytree(Path(airflow_batchtasks.db.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(airflow_batchtasks.db, "__file__", str(copy / "__init__.py"))
    before = _template_key()
    assert _template_key() == before, "stable for the same code"
    (copy / "migrations" / "versions" / "0002_more.py").write_text('revision = "bt0002"\n')
    after_migration = _template_key()
    assert after_migration != before, "a new migration: a new template"
    tables = copy / "tables.py"
    tables.write_text(tables.read_text() + "\n# a changed model\n")
    assert _template_key() not in (before, after_migration), "a changed table model: a new template"
