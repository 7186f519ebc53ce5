"""Resends run on workers, and run arguments never move a write out of its folder (real Airflow).

A resend is a run of the provider's resend DAG on the task's deliver queue: the API
answers 202 with that run, the worker sends the archived file and records it, and the
file history shows its progress. Probes from the security review, each against a real
api-server, scheduler and LocalExecutor worker:

- a run whose argument walks out of a templated ``local`` destination (``sub=../..``) fails
  its deliver step and writes nothing outside; a resend whose paths would leave their folder
  (the definition made the path templated after the file was delivered) is refused with 422;
- the api-server restarted while a resend is in flight: the history stays consistent and
  the resend can be repeated.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.e2e.airflow_instance import AirflowInstance
from tests.e2e.api_support import audit_events, call, ok, start_api_airflow, wait_for, wait_run

pytestmark = pytest.mark.e2e

RESEND_DAG = "batchtasks_resend"

DROP_BOX = """
kind: task
name: drop_box
description: Writes under a folder chosen per run
params:
  sub: {default: in}
source: {type: sql, conn_id: shop, query: "select id, region from sales order by id"}
output: {name: drop.csv}
destinations:
  - type: local
    path: "__OUT__/{{ params.sub }}"
"""

DROP_FIXED = """
kind: task
name: drop_fixed
params:
  sub: {default: in}
source: {type: sql, conn_id: shop, query: "select id from sales order by id"}
output: {name: fixed.csv}
destinations:
  - type: local
    path: "__PATH__"
"""


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("resend_worker")


@pytest.fixture(scope="module")
def airflow(root: Path) -> Iterator[AirflowInstance]:
    out = root / "out"
    fixed = DROP_FIXED.replace("__PATH__", str(out / "fixed"))
    airflow = start_api_airflow(root, extra_definitions={"drop_box": DROP_BOX, "drop_fixed": fixed})
    try:
        for dag_id in ("drop_box", "drop_fixed", RESEND_DAG):
            airflow.wait_for_dag(dag_id, timeout=120)
        for dag_id in ("drop_box", "drop_fixed"):
            airflow.unpause(dag_id)
        yield airflow
    except BaseException:
        print(airflow.process_logs(150))
        raise
    finally:
        airflow.stop(timeout=5)


def _files_everywhere(root: Path) -> set[str]:
    """Every file under the test's folder and its parent, except Airflow's own home and the archive/staging."""
    skip = {root / "home", root / "archive", root / "staging"}
    return {str(p) for base in (root, root.parent) for p in base.rglob("*.csv")
            if p.is_file() and not any(s in p.parents for s in skip)}


def _run(airflow: AirflowInstance, task: str, params: dict[str, Any]) -> dict[str, Any]:
    run_id = ok(call(airflow, "POST", f"/tasks/{task}/runs", json={"params": params}))["run_id"]
    return wait_run(airflow, task, run_id)


def _file(airflow: AirflowInstance, task: str, run_id: str) -> dict[str, Any]:
    [file] = ok(call(airflow, "GET", f"/tasks/{task}/files", params={"run_id": run_id}))["files"]
    return file


def _record(root: Path, task: str, run_id: str) -> dict[str, Any]:
    """The archive's record of the one file run ``run_id`` of ``task`` delivered."""
    [record] = [r for p in (root / "archive" / task).rglob("*.record.json")
                if (r := json.loads(p.read_text()))["run_id"] == run_id]
    return record


def _resend_ended(airflow: AirflowInstance, task: str, run_id: str, resend_run: str) -> dict[str, Any]:
    """The file's history entry of resend run ``resend_run``, once it is done or failed."""
    def ended() -> dict[str, Any] | None:
        entries = [r for r in _file(airflow, task, run_id)["resends"] if r["run_id"] == resend_run]
        return entries[0] if entries and entries[0]["state"] in ("done", "failed") else None
    return wait_for(f"resend {resend_run} to end", ended, timeout=180)


def test_run_arguments_cannot_write_outside_the_destination_folder(airflow: AirflowInstance, root: Path) -> None:
    before = _files_everywhere(root)
    run = _run(airflow, "drop_box", {"sub": "../.."})
    assert run["state"] == "failed"
    steps = {s["step"]: s["state"] for s in run["steps"]}
    assert steps["extract"] == "success" and steps["deliver"] == "failed"
    assert _files_everywhere(root) == before, "nothing written outside (or inside) the destination folder"
    assert ok(call(airflow, "GET", "/tasks/drop_box/files", params={"run_id": run["run_id"]}))["files"] == [], \
        "refused before archiving"


def test_a_resend_whose_paths_would_leave_their_folder_is_refused(airflow: AirflowInstance, root: Path) -> None:
    """The exploit of the review: deliver under a fixed path, make the path templated, resend the old run."""
    run = _run(airflow, "drop_fixed", {"sub": "../.."})
    assert run["state"] == "success"
    file = _file(airflow, "drop_fixed", run["run_id"])
    definition = root / "definitions" / "drop_fixed.yaml"
    templated = str(root / "out") + "/{{ params.sub }}"
    definition.write_text(definition.read_text().replace(str(root / "out" / "fixed"), templated))
    before = _files_everywhere(root)

    refused = call(airflow, "POST", f"/tasks/drop_fixed/files/{file['id']}/resend", user="op")

    assert refused.status_code == 422, refused.text
    assert "destinations[0].path" in refused.json()["detail"] and "contains `..`" in refused.json()["detail"]
    assert _files_everywhere(root) == before
    runs = airflow.api("GET", f"/api/v2/dags/{RESEND_DAG}/dagRuns").json()["dag_runs"]
    assert all(r["conf"].get("task") != "drop_fixed" for r in runs), "no resend run was queued"
    outcome = [json.loads(e["extra"])["outcome"] for e in audit_events(airflow, "drop_fixed", "batchtasks.resend")]
    assert outcome and outcome[-1].startswith("refused (422)")


def test_resend_is_a_run_on_a_worker_and_the_history_shows_it(airflow: AirflowInstance, root: Path) -> None:
    run = _run(airflow, "drop_box", {"sub": "in"})
    assert run["state"] == "success"
    delivered = root / "out" / "in" / "drop.csv"
    original = delivered.read_bytes()
    delivered.unlink()
    file = _file(airflow, "drop_box", run["run_id"])

    answer = call(airflow, "POST", f"/tasks/drop_box/files/{file['id']}/resend", user="op")

    assert answer.status_code == 202, answer.text
    queued = answer.json()
    assert queued["dag_id"] == RESEND_DAG and queued["state"] == "queued"
    assert queued["file"]["resends"][-1] | {"at": None} == {
        "at": None, "by": "op", "destinations": [], "outcome": "", "state": "queued", "dag_id": RESEND_DAG,
        "run_id": queued["run_id"]}
    airflow_run = airflow.dag_run(RESEND_DAG, queued["run_id"])
    assert airflow_run["conf"]["task"] == "drop_box" and airflow_run["triggering_user_name"] == "op"

    entry = _resend_ended(airflow, "drop_box", run["run_id"], queued["run_id"])

    assert entry["state"] == "done" and entry["outcome"] == "sent" and entry["by"] == "op"
    assert [d["path"] for d in entry["destinations"]] == [str(delivered)]
    assert delivered.read_bytes() == original, "the archived file arrived again"
    assert [r["run_id"] for r in _record(root, "drop_box", run["run_id"])["resends"]] == [queued["run_id"]]
    [ti] = airflow.task_instances(RESEND_DAG, queued["run_id"])
    api_server = psutil.Process(airflow._procs["api-server"].pid)
    assert ti["state"] == "success" and ti["pid"] not in {api_server.pid, *(p.pid for p in api_server.children(True))}
    [event] = [json.loads(e["extra"]) for e in audit_events(airflow, "drop_box", "batchtasks.resend")
               if json.loads(e["extra"]).get("resend_run_id") == queued["run_id"]]
    assert event["outcome"] == "done" and event["file"] == "drop.csv"


def test_api_server_restarted_during_a_resend(airflow: AirflowInstance, root: Path) -> None:
    run = _run(airflow, "drop_box", {"sub": "again"})
    delivered = root / "out" / "again" / "drop.csv"
    original = delivered.read_bytes()
    delivered.unlink()
    file = _file(airflow, "drop_box", run["run_id"])
    first = ok(call(airflow, "POST", f"/tasks/drop_box/files/{file['id']}/resend", user="op"), 202)

    airflow.stop_component("api-server")
    time.sleep(5)
    airflow.start_component("api-server")

    entry = _resend_ended(airflow, "drop_box", run["run_id"], first["run_id"])
    assert entry["state"] == "done" or entry["outcome"].startswith("failed"), entry
    history = _file(airflow, "drop_box", run["run_id"])["resends"]
    assert [r["run_id"] for r in history] == [first["run_id"]], "one entry per resend, none pending"

    again = ok(call(airflow, "POST", f"/tasks/drop_box/files/{file['id']}/resend", user="op"), 202)
    entry = _resend_ended(airflow, "drop_box", run["run_id"], again["run_id"])
    assert entry["state"] == "done" and delivered.read_bytes() == original
    history = _file(airflow, "drop_box", run["run_id"])["resends"]
    assert [r["run_id"] for r in history] == [first["run_id"], again["run_id"]]
    recorded = _record(root, "drop_box", run["run_id"])["resends"]
    assert [r["run_id"] for r in recorded if r["outcome"] == "sent"] == [
        r["run_id"] for r in history if r["state"] == "done"], "the history says what the archive's record says"


def _index_rows(root: Path, task: str) -> int:
    """Rows the provider's file index holds for ``task`` (files and scan marks), read from the metadata DB."""
    with sqlite3.connect(root / "home" / "airflow.db") as db:
        return sum(db.execute(f"select count(*) from {table} where task = ?", (task,)).fetchone()[0]
                   for table in ("batchtasks_file", "batchtasks_file_scan"))


def test_file_history_reads_of_made_up_tasks_write_nothing(airflow: AirflowInstance, root: Path) -> None:
    ok(call(airflow, "GET", "/tasks/drop_box/files"))  # the index tables exist from here on
    for path in ("/tasks/made_up/files/x", "/tasks/made_up/files", f"/tasks/{RESEND_DAG}/files/x"):
        assert call(airflow, "GET", path, user="viewer").status_code == 404
    assert _index_rows(root, "made_up") == 0 and _index_rows(root, RESEND_DAG) == 0


def test_only_dag_editors_may_force_a_full_archive_rescan(airflow: AirflowInstance) -> None:
    refused = call(airflow, "GET", "/tasks/drop_box/files", params={"refresh": "true"}, user="viewer")
    assert refused.status_code == 403
    assert call(airflow, "GET", "/tasks/drop_box/files", user="viewer").status_code == 200
    assert call(airflow, "GET", "/tasks/drop_box/files", params={"refresh": "true"}, user="user").status_code == 200
