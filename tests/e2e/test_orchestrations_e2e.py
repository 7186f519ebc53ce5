"""Orchestrations through a real Airflow (api-server, scheduler, dag-processor, triggerer).

One Airflow for the module; scenarios run one after another. The steps' tasks are tiny
test-only DAGs (succeed, fail, report PARTIAL, sleep) and the scenario orchestrations are
built by a test-only DAG file with the provider's own ``build_orchestration_dag`` (a step's
task may be any DAG); the examples' orchestrations come through the real loader. Time
rules run on the test clock (``[batchtasks] test_clock_enabled``), so "03:00 in Paris on a
DST day" takes seconds. Instances are launched, cancelled, reported and deleted through
``airflow batchtasks orchestration ...``, i.e. ``orchestration.instances`` with DB access.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from dev.demo import create_sales_db
from tests.airflow_compat import batchtasks_cli
from tests.e2e.airflow_instance import AirflowInstance
from tests.e2e.api_support import serving

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]

TASK_DAGS = '''
import time

import pendulum
from airflow.sdk import DAG, task


def ok():
    return [{"rows": 1}]


def fail():
    raise RuntimeError("boom: the file to import was not found")


def partial():
    return [{"partial": True, "reason": "2 of 10 records failed"}]


def partial_key(ti=None):
    ti.xcom_push(key="partial", value={"partial": True, "reason": "1 record rejected"})


def pause():
    time.sleep(15)


def slow():
    time.sleep(120)


for name, fn in {"e2e_ok": ok, "e2e_ok2": ok, "e2e_fail": fail, "e2e_partial": partial,
                 "e2e_partial_key": partial_key, "e2e_pause": pause, "e2e_slow": slow}.items():
    with DAG(name, schedule=None, start_date=pendulum.datetime(2024, 1, 1), catchup=False,
             is_paused_upon_creation=False, tags=["e2e"]) as dag:
        task(task_id="work", retries=0)(fn)()
    globals()[name] = dag
'''

ORCHESTRATIONS = """
kind: orchestration
name: e2e_chain
steps: [{task: e2e_ok}, {task: e2e_ok2}]
---
kind: orchestration
name: e2e_parent_fails
steps: [{task: e2e_ok}, {task: e2e_fail}, {task: e2e_ok2}]
---
kind: orchestration
name: e2e_run_on_failure
steps: [{task: e2e_fail}, {task: e2e_ok, run_on_parent_failure: true}]
---
kind: orchestration
name: e2e_partial_chain
steps: [{task: e2e_partial}, {task: e2e_partial_key}, {task: e2e_ok}]
---
kind: orchestration
name: e2e_time_limit
timezone: Europe/Paris
execution_time_limit: "02:10"
steps: [{task: e2e_pause}, {task: e2e_ok}]
---
kind: orchestration
name: e2e_wait
timezone: Europe/Paris
steps:
  - {task: e2e_ok, starts_after: "02:30"}
  - {task: e2e_ok2, starts_after: "02:45", timezone: Europe/Paris}
---
kind: orchestration
name: e2e_cancel
steps: [{task: e2e_slow}, {task: e2e_ok}]
"""

ORCHESTRATION_DAGS = f'''
# Test-only: builds orchestration DAGs (airflow DAG objects) over the test task DAGs.
from airflow_batchtasks.dag_factory.orchestration_dag import build_orchestration_dag
from airflow_batchtasks.definitions.catalog import Entry
from airflow_batchtasks.definitions.models import Orchestration
from airflow_batchtasks.definitions.yaml_source import parse_documents

docs, errors = parse_documents({ORCHESTRATIONS!r}, "e2e_orchestrations.yaml")
assert not errors, errors
for doc in docs:
    model = Orchestration.model_validate(doc.data)
    globals()[model.name] = build_orchestration_dag(Entry(model, doc))
'''

INACTIVE = """
kind: orchestration
name: e2e_inactive
active: false
steps: [{task: test_exportTaskId}]
"""


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowInstance]:
    root = tmp_path_factory.mktemp("orchestrations")
    defs, dags, outbox = root / "definitions", root / "dags", root / "outbox"
    shutil.copytree(REPO / "examples" / "definitions", defs)
    # The sample's ONCE schedule lies in 2020: Airflow would run it at once, on the real clock,
    # beside the instances under test. Same definition, manual only.
    sample = defs / "orchestrations.yaml"
    text = sample.read_text()
    assert 'schedule: {once: "2020-05-18T10:12:39.527Z"}' in text
    sample.write_text(text.replace('schedule: {once: "2020-05-18T10:12:39.527Z"}', "schedule: none"))
    (defs / "e2e_inactive.yaml").write_text(INACTIVE)
    dags.mkdir()
    outbox.mkdir()
    from airflow_batchtasks.cli import LOADER_FILE, LOADER_TEXT

    (dags / LOADER_FILE).write_text(LOADER_TEXT)
    (dags / "e2e_tasks.py").write_text(TASK_DAGS)
    (dags / "e2e_orchestrations.py").write_text(ORCHESTRATION_DAGS)
    create_sales_db(root / "sales.db")
    env = {
        "AIRFLOW__BATCHTASKS__DEFINITIONS_FOLDER": str(defs),
        "AIRFLOW__BATCHTASKS__STAGING_URL": f"file://{root}/staging",
        "AIRFLOW__BATCHTASKS__ARCHIVE_URL": f"file://{root}/archive",
        "AIRFLOW__BATCHTASKS__TEST_CLOCK_ENABLED": "True",
        "AIRFLOW__BATCHTASKS__ORCHESTRATION_POLL_INTERVAL": "1",
        "AIRFLOW_CONN_DEMO_DB": "sqlite://" + quote(str(root / "sales.db"), safe=""),
        "AIRFLOW_VAR_DEMO_OUTBOX": str(outbox),
        "E2E_OUTBOX": str(outbox),
    }
    instance = AirflowInstance(root / "home", dags, env=env)
    with serving(instance, start=True):
        yield instance


# ---------------------------------------------------------------------------- helpers
def cli(airflow: AirflowInstance, *args: str, ok: bool = True) -> str:
    """``airflow batchtasks orchestration ARGS`` against the instance (``airflow-batchtasks`` on Airflow 3.1)."""
    result = subprocess.run(
        [*batchtasks_cli(), "orchestration", *args],
        cwd=airflow.home, env=airflow.env, capture_output=True, text=True, timeout=120,
    )
    if ok:
        assert result.returncode == 0, f"{args}: rc={result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout + (result.stderr if not ok else "")


def launch(airflow: AirflowInstance, name: str, clock: dict[str, Any] | None = None) -> str:
    airflow.wait_for_dag(name, timeout=120)
    conf = {"_batchtasks_clock": clock} if clock else {}
    out = cli(airflow, "launch", name, "--conf", json.dumps(conf), "--user", "admin")
    return out.strip().splitlines()[-1]


def report(airflow: AirflowInstance, name: str, instance_id: str) -> dict[str, Any]:
    out = cli(airflow, "report", name, instance_id)
    return json.loads(out[out.index("{") :])


def steps(rep: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {s["task"]: (s["status"], s["reason"]) for s in rep["steps"]}


def states(airflow: AirflowInstance, dag_id: str, run_id: str) -> dict[str, str]:
    return {ti["task_id"]: ti["state"] for ti in airflow.task_instances(dag_id, run_id)}


def airflow_failed_it(airflow: AirflowInstance, dag_id: str, run_id: str, task_id: str) -> bool:
    """Whether Airflow itself failed this task instance on a stale executor event (apache/airflow#72716):
    a deferred step resuming before the executor reported its deferral. Not the provider's doing."""
    events = airflow.api(
        "GET", "/api/v2/eventLogs", params={"dag_id": dag_id, "run_id": run_id, "task_id": task_id, "limit": 100}
    ).json()["event_logs"]
    return any(e["event"] == "state mismatch" for e in events)


def assert_states(airflow: AirflowInstance, dag_id: str, run_id: str, expected: dict[str, str]) -> None:
    """Task instance states as expected; a step may be `failed` instead of `success` only by Airflow's own race."""
    got = states(airflow, dag_id, run_id)
    for task_id, state in expected.items():
        if state == "success" and got.get(task_id) == "failed" and airflow_failed_it(airflow, dag_id, run_id, task_id):
            print(f"\nNOTE: {dag_id}/{task_id} failed by Airflow's stale executor event (apache/airflow#72716)")
            got[task_id] = "success"
    assert got == expected


def outcome(airflow: AirflowInstance, dag_id: str, run_id: str, task_id: str) -> dict[str, Any] | None:
    path = f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id)}/taskInstances/{task_id}/xcomEntries/batchtasks_step"
    resp = airflow.api("GET", path, params={"deserialize": "true"})
    if resp.status_code != 200:
        return None
    value = resp.json()["value"]
    return json.loads(value) if isinstance(value, str) else value


def run_exists(airflow: AirflowInstance, dag_id: str, run_id: str) -> bool:
    return airflow.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id)}").status_code == 200


def wait_until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def finish(airflow: AirflowInstance, name: str, instance_id: str, timeout: float = 180) -> tuple[str, dict]:
    state = airflow.wait_for_run(name, instance_id, timeout=timeout)
    return state, report(airflow, name, instance_id)


def parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


#: Scenarios without time rules, started together (through Airflow's own trigger endpoint, as the UI
#: would) so they run while the first tests wait; the time-rule scenarios then run alone, unhurried.
BACKGROUND = ("e2e_parent_fails", "e2e_run_on_failure", "e2e_partial_chain")


@pytest.fixture(scope="module")
def background(airflow: AirflowInstance) -> dict[str, str]:
    ids = {}
    for name in BACKGROUND:
        airflow.wait_for_dag(name, timeout=120)
        ids[name] = airflow.trigger(name)
    return ids


# ---------------------------------------------------------------------------- scenarios
def test_chain_success_and_report_shape(airflow: AirflowInstance, background: dict[str, str]) -> None:
    t0 = time.monotonic()
    iid = launch(airflow, "e2e_chain")
    state, rep = finish(airflow, "e2e_chain", iid)
    print(f"\nE2E TIMING chain of 2: {time.monotonic() - t0:.1f}s")

    assert state == "success", rep
    assert rep["status"] == "SUCCESS" and rep["reason"] is None
    assert rep["id"] == iid and rep["orchestration"] == "e2e_chain"
    assert rep["user"] == "admin" and rep["triggered_by"] == "cli"
    assert [s["task"] for s in rep["steps"]] == ["e2e_ok", "e2e_ok2"]
    for step in rep["steps"]:
        assert set(step) >= {"task", "status", "start", "end", "reason", "task_run_id"}
        assert step["status"] == "SUCCESS"
        assert step["task_run_id"] == f"{iid}__step_{step['step']}__{step['task']}"
        assert airflow.dag_run(step["task"], step["task_run_id"])["state"] == "success"
    first, second = rep["steps"]
    assert parse(first["end"]) <= parse(second["start"]), "strictly one after another"
    assert parse(rep["start"]) <= parse(first["start"]) and parse(second["end"]) <= parse(rep["end"])
    assert_states(airflow, "e2e_chain", iid, {
        "step_1__e2e_ok": "success", "step_2__e2e_ok2": "success", "report": "success"
    })
    dag = airflow.api("GET", "/api/v2/dags/e2e_chain").json()
    assert {t["name"] for t in dag["tags"]} == {"batchtasks", "orchestration"}
    assert dag["max_active_runs"] == 1

    out = cli(airflow, "report", "e2e_chain")
    listed = json.loads(out[out.index("[") :])
    assert [r["id"] for r in listed] == [iid]


def test_parent_failure_stops_the_chain(airflow: AirflowInstance, background: dict[str, str]) -> None:
    iid = background["e2e_parent_fails"]
    state, rep = finish(airflow, "e2e_parent_fails", iid)

    assert state == "failed"
    assert rep["status"] == "FAILED"
    assert rep["reason"].startswith("step 2 `e2e_fail` failed: task run"), rep["reason"]
    got = steps(rep)
    assert got["e2e_ok"][0] == "SUCCESS" and got["e2e_fail"][0] == "FAILED"
    assert got["e2e_ok2"][0] == "SKIPPED"
    assert "does not run on parent failure" in got["e2e_ok2"][1]
    assert_states(airflow, "e2e_parent_fails", iid, {
        "step_1__e2e_ok": "success", "step_2__e2e_fail": "failed", "step_3__e2e_ok2": "skipped", "report": "failed"
    })
    assert not run_exists(airflow, "e2e_ok2", f"{iid}__step_3__e2e_ok2"), "a stopped chain launches nothing"
    log = airflow.task_log("e2e_parent_fails", iid, "step_3__e2e_ok2")
    assert "does not run on parent failure" in log, "the grid's log says why the step was skipped"


def test_run_on_parent_failure(airflow: AirflowInstance, background: dict[str, str]) -> None:
    iid = background["e2e_run_on_failure"]
    state, rep = finish(airflow, "e2e_run_on_failure", iid)

    assert steps(rep)["e2e_fail"][0] == "FAILED"
    assert steps(rep)["e2e_ok"][0] == "SUCCESS"
    assert run_exists(airflow, "e2e_ok", f"{iid}__step_2__e2e_ok")
    assert state == "failed" and rep["status"] == "FAILED", "some work failed: the instance is failed"
    assert rep["reason"].startswith("step 1 `e2e_fail` failed")


def test_partial_counts_as_success(airflow: AirflowInstance, background: dict[str, str]) -> None:
    iid = background["e2e_partial_chain"]
    state, rep = finish(airflow, "e2e_partial_chain", iid)

    got = steps(rep)
    assert got["e2e_partial"][0] == "PARTIAL"
    assert got["e2e_partial"][1].startswith("`work` reported PARTIAL: 2 of 10 records failed")
    assert got["e2e_partial_key"][0] == "PARTIAL"
    assert got["e2e_partial_key"][1].startswith("`work` reported PARTIAL: 1 record rejected")
    assert got["e2e_ok"][0] == "SUCCESS", "the chain went on after PARTIAL steps"
    assert state == "success"
    assert rep["status"] == "PARTIAL"
    assert rep["reason"].startswith("step 1 `e2e_partial` ended PARTIAL: `work` reported PARTIAL: 2 of 10 records")


def test_time_limit_passed_mid_chain(airflow: AirflowInstance) -> None:
    # 1 real second = 1 minute. Step 1 decides at 02:00 (the test clock starts then); its task
    # sleeps 15 s, so step 2 would start after 02:15: refused by the 02:10 limit.
    iid = launch(airflow, "e2e_time_limit", {"start": "2026-05-18T02:00:00+02:00", "speed": 60})
    state, rep = finish(airflow, "e2e_time_limit", iid)

    assert state == "failed"
    got = steps(rep)
    assert got["e2e_pause"][0] == "SUCCESS"
    assert got["e2e_ok"][0] == "SKIPPED"
    assert rep["status"] == "FAILED"
    assert rep["reason"].startswith("time limit 02:10:00 (Europe/Paris) reached: limit 2026-05-18 02:10:00 CEST")
    assert not run_exists(airflow, "e2e_ok", f"{iid}__step_2__e2e_ok")
    assert states(airflow, "e2e_time_limit", iid)["step_2__e2e_ok"] == "skipped"


@pytest.mark.parametrize(
    ("clock", "waits_until", "real_wait"),
    [
        # spring forward: 02:30 does not exist on 2026-03-29 in Paris; the clock reads it at 03:00 CEST
        ({"start": "2026-03-29T01:40:00+01:00", "speed": 60}, "2026-03-29T01:00:00+00:00", 20),
        # fall back: 02:30 happens twice on 2026-10-25; the first one (CEST) counts
        ({"start": "2026-10-25T02:10:00+02:00", "speed": 60}, "2026-10-25T00:30:00+00:00", 20),
        # the second 02:40 (CET) is after the first 02:30: already passed, no wait
        ({"start": "2026-10-25T02:40:00+01:00", "speed": 60}, None, 0),
    ],
    ids=["spring-forward-gap", "fall-back-first-occurrence", "fall-back-already-passed"],
)
def test_starts_after_waits_deferred_across_dst(
    airflow: AirflowInstance, clock: dict[str, Any], waits_until: str | None, real_wait: float
) -> None:
    iid = launch(airflow, "e2e_wait", clock)
    if waits_until:
        waiting = wait_until(
            lambda: (o := outcome(airflow, "e2e_wait", iid, "step_1__e2e_ok")) and o["status"] == "WAITING" and o,
            60, "step 1 to wait",
        )
        assert parse(waiting["until"]) == parse(waits_until)
        assert states(airflow, "e2e_wait", iid)["step_1__e2e_ok"] == "deferred", "waits without a worker slot"
        rep = report(airflow, "e2e_wait", iid)
        assert rep["status"] == "RUNNING"
        assert rep["steps"][0]["status"] == "WAITING" and rep["steps"][1]["status"] == "NOT_STARTED"
    state, rep = finish(airflow, "e2e_wait", iid)

    assert state == "success", rep
    first, second = rep["steps"]
    if waits_until:
        waited_from = parse(waiting["at"])
        assert parse(first["start"]) >= waited_from + timedelta(seconds=real_wait - 1), "started at the local time"
        assert first["start_reason"].startswith("waited for starts_after; first step")
    else:
        assert first["start_reason"] == "first step; starts_after 02:30:00 (Europe/Paris) has passed"
    assert first["status"] == second["status"] == "SUCCESS"
    # step 2 starts after 02:45: at once if step 1 ended later, else after a wait of its own
    assert "step 1 `e2e_ok` ended SUCCESS" in second["start_reason"]
    assert second["start_reason"].endswith("starts_after 02:45:00 (Europe/Paris) has passed")


def test_cancel_mid_step(airflow: AirflowInstance) -> None:
    iid = launch(airflow, "e2e_cancel")
    slow_run = f"{iid}__step_1__e2e_slow"
    wait_until(
        lambda: run_exists(airflow, "e2e_slow", slow_run)
        and states(airflow, "e2e_slow", slow_run) == {"work": "running"},
        90, "the slow task to run",
    )
    assert "running" in cli(airflow, "delete", "e2e_cancel", iid, ok=False), "a running instance is not deleted"

    # A second launch waits (max_active_runs=1); cancelling it while queued ends it CANCELLED at once,
    # and it never starts, not even once the running instance is gone.
    queued = launch(airflow, "e2e_cancel")
    assert airflow.dag_run("e2e_cancel", queued)["state"] == "queued"
    assert report(airflow, "e2e_cancel", queued)["status"] == "QUEUED"
    cli(airflow, "cancel", "e2e_cancel", queued, "--user", "viewer")
    assert airflow.dag_run("e2e_cancel", queued)["state"] == "failed"
    rep = report(airflow, "e2e_cancel", queued)
    assert (rep["status"], rep["reason"]) == ("CANCELLED", "cancelled by viewer"), rep
    assert {status for status, _ in steps(rep).values()} <= {"SKIPPED", "NOT_STARTED"}, rep

    cancelled_at = time.monotonic()
    assert cli(airflow, "cancel", "e2e_cancel", iid, "--user", "admin").strip().endswith(f"cancelled: {iid}")

    assert airflow.dag_run("e2e_cancel", iid)["state"] == "failed"
    assert airflow.dag_run("e2e_slow", slow_run)["state"] == "failed", "the running step's task run is stopped"
    wait_until(lambda: states(airflow, "e2e_slow", slow_run)["work"] == "failed", 30, "the task to be killed")
    assert time.monotonic() - cancelled_at < 60, "stopped, not left to sleep its 120 s"
    rep = report(airflow, "e2e_cancel", iid)
    assert rep["status"] == "CANCELLED" and rep["reason"] == "cancelled by admin"
    assert steps(rep)["e2e_slow"] == ("CANCELLED", "cancelled by admin")
    assert steps(rep)["e2e_ok"][0] == "SKIPPED"
    assert airflow.dag_run("e2e_cancel", iid)["note"] == "cancelled by admin"
    time.sleep(3)
    assert not run_exists(airflow, "e2e_ok", f"{iid}__step_2__e2e_ok"), "nothing further is launched"
    again = cli(airflow, "cancel", "e2e_cancel", iid, ok=False)
    assert "already ended" in again, "a cancelled instance is terminal (409)"
    time.sleep(5)  # a few scheduler loops with no instance running: the cancelled queued one stays ended
    assert airflow.dag_run("e2e_cancel", queued)["state"] == "failed"
    assert report(airflow, "e2e_cancel", queued)["status"] == "CANCELLED"
    assert not run_exists(airflow, "e2e_slow", f"{queued}__step_1__e2e_slow"), "the queued instance never started"


def test_inactive_orchestration_cannot_be_launched(airflow: AirflowInstance) -> None:
    dag = airflow.wait_for_dag("e2e_inactive", timeout=120)
    assert dag["is_paused"] is True, "created paused"
    assert dag["timetable_summary"] in (None, "None")
    refused = cli(airflow, "launch", "e2e_inactive", ok=False)
    assert "is inactive" in refused

    # Started anyway, past the provider (unpaused by hand, triggered over Airflow's API): the guard refuses.
    airflow.unpause("e2e_inactive")
    run_id = airflow.trigger("e2e_inactive")
    state, rep = finish(airflow, "e2e_inactive", run_id)
    assert state == "failed"
    assert rep["status"] == "FAILED" and rep["reason"] == "orchestration is inactive"
    assert states(airflow, "e2e_inactive", run_id) == {"step_1__test_exportTaskId": "skipped", "report": "failed"}
    assert "orchestration is inactive" in airflow.task_log("e2e_inactive", run_id, "report")


def test_delete_removes_instance_and_report(airflow: AirflowInstance, background: dict[str, str]) -> None:
    iid = background["e2e_run_on_failure"]
    finish(airflow, "e2e_run_on_failure", iid)
    assert cli(airflow, "delete", "e2e_run_on_failure", iid).strip().endswith(f"deleted: {iid}")
    assert not run_exists(airflow, "e2e_run_on_failure", iid)
    assert "no instance" in cli(airflow, "report", "e2e_run_on_failure", iid, ok=False)
    assert "no instance" in cli(airflow, "delete", "e2e_run_on_failure", iid, ok=False)
    assert run_exists(airflow, "e2e_ok", f"{iid}__step_2__e2e_ok"), "the tasks' own runs stay in their history"
    assert "no orchestration" in cli(airflow, "report", "no_such_orchestration", "x", ok=False)


def test_seed_sample_runs(airflow: AirflowInstance) -> None:
    """The seed's XML sample as YAML (examples/definitions), through the real loader and SQLite tasks."""
    outbox = Path(airflow.extra_env["E2E_OUTBOX"]) / "orchestration"
    # 12:20 UTC: the 12:13 start-after time has passed, and the 12:12 limit is tomorrow's.
    iid = launch(airflow, "sample_orchestration_task", {"start": "2026-05-18T12:20:00Z", "speed": 1})
    # 12:11:50 UTC at 10x: step 1 waits for 12:13 (7 s), and by then the 12:12 limit has passed.
    late = launch(airflow, "sample_orchestration_task", {"start": "2026-05-18T12:11:50Z", "speed": 10})
    state, rep = finish(airflow, "sample_orchestration_task", iid)
    assert state == "success", rep
    assert [(s["task"], s["status"]) for s in rep["steps"]] == [
        ("test_exportTaskId", "SUCCESS"), ("test_importTaskId", "SUCCESS")
    ]
    names = sorted(p.name.split("_")[0] for p in outbox.iterdir())
    assert names == ["export", "import"], names

    state, rep = finish(airflow, "sample_orchestration_task", late)
    assert state == "failed"
    assert [s["status"] for s in rep["steps"]] == ["SKIPPED", "SKIPPED"]
    assert rep["reason"].startswith("time limit 12:12:00 (UTC) reached"), rep["reason"]


def test_examples_nightly_chain_is_scheduled_in_its_time_zone(airflow: AirflowInstance) -> None:
    dag = airflow.wait_for_dag("nightly_sales_chain", timeout=120)
    assert dag["is_paused"] is False
    assert "0 1 * * *" in dag["timetable_summary"]
    details = airflow.api("GET", "/api/v2/dags/nightly_sales_chain/details").json()
    assert details["timezone"] == "Europe/Paris" or "Europe/Paris" in json.dumps(details)
    assert "execution_time_limit" in details["doc_md"]
    assert airflow.import_errors() == []


