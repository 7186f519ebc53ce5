"""The REST API against a real Airflow: tasks run for real, files delivered, actions through Airflow.

One Airflow for the module (api-server, scheduler, dag-processor, triggerer on
loopback; SQLite metadata DB; LocalExecutor). The tests follow a user session in
file order: list and inspect tasks, run with arguments, look at runs and files,
resend to SFTP, skip/retry/cancel retry, bulk actions, edit definitions, drive
orchestration instances; the last test restarts Airflow with
``definitions_writable = False``. Each test makes the runs, requests and definitions
it checks (none relies on what an earlier test left behind, so ``-k`` picks any one);
only the first, which counts the statuses of a fresh instance, must come before runs.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import sqlite3
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.airflow_instance import AirflowInstance
from tests.e2e.api_support import SECRET, call, ok, q, run_state, serving, start_api_airflow, wait_for, wait_run
from tests.servers import SshServer
from tests.servers.fixtures import sshd_server  # noqa: F401 - fixture

pytestmark = pytest.mark.e2e

VENDOR = """
kind: task
name: vendor_feed
project: sales
source:
  type: sql
  conn_id: shop
  query: "select id, amount from sales order by id"
output:
  name: "vendor_{{ ds_nodash }}.csv"
destinations:
  - type: sftp
    conn_id: vendor_sftp
    path: __INBOX__
"""

ORCHESTRATIONS = """
kind: orchestration
name: nightly
description: Sales then the vendor feed
steps:
  - task: daily_sales
  - task: vendor_feed
---
kind: orchestration
name: dormant
active: false
steps:
  - task: daily_sales
"""


@pytest.fixture(scope="module")
def inbox(sshd_server: SshServer) -> Path:  # noqa: F811
    path = sshd_server.root / f"api_inbox_{uuid.uuid4().hex[:6]}"
    path.mkdir()
    return path


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("api_flows")


@pytest.fixture(scope="module")
def airflow(root: Path, inbox: Path, sshd_server: SshServer) -> Iterator[AirflowInstance]:  # noqa: F811
    sftp = json.dumps(sshd_server.connection())
    instance = start_api_airflow(
        root,
        extra_definitions={"vendor_feed": VENDOR.replace("__INBOX__", str(inbox)), "orchestrations": ORCHESTRATIONS},
        env={"AIRFLOW_CONN_VENDOR_SFTP": sftp},
    )
    with serving(instance, ("daily_sales", "slow_split", "flaky_export", "vendor_feed", "nightly",
                            "warehouse_export")):
        yield instance


def indexed(root: Path, task: str, run_id: str) -> list[str]:
    """Names in the provider's file index for one run, read straight from the metadata DB."""
    with sqlite3.connect(root / "home" / "airflow.db") as db:
        try:
            rows = db.execute("select name from batchtasks_file where task = ? and run_id = ?", (task, run_id))
        except sqlite3.OperationalError:  # the tables do not exist yet
            return []
        return [r[0] for r in rows]


def names(tasks: dict[str, Any]) -> list[str]:
    return [t["name"] for t in tasks["tasks"]]


def assert_no_secret(resp_text: str) -> None:
    assert SECRET not in resp_text


# ------------------------------------------------------------------------------------------- task list


def test_task_list_filters_and_pagination(airflow: AirflowInstance) -> None:
    everything = ok(call(airflow, "GET", "/tasks"))
    assert names(everything) == ["daily_sales", "flaky_export", "slow_split", "vendor_feed", "warehouse_export"], \
        "tasks only: no project, orchestration or error DAG"
    assert everything["total"] == 5
    by_name = {t["name"]: t for t in everything["tasks"]}
    assert by_name["daily_sales"]["project"] == "sales"
    assert by_name["daily_sales"]["owners"] == ["admin", "alice"]
    assert by_name["daily_sales"]["status"] == "New" and by_name["daily_sales"]["last_run"] is None
    assert by_name["daily_sales"]["next_run"], "a scheduled task shows its next run"
    assert by_name["warehouse_export"]["enabled"] is False
    assert by_name["warehouse_export"]["next_run"] is None

    page = ok(call(airflow, "GET", "/tasks", params={"limit": 2, "offset": 2}))
    assert page["total"] == 5 and names(page) == ["slow_split", "vendor_feed"]
    assert names(ok(call(airflow, "GET", "/tasks", params={"project": "ops"}))) == ["flaky_export", "slow_split"]
    assert names(ok(call(airflow, "GET", "/tasks", params={"owner": "me"}))) == ["daily_sales", "vendor_feed"]
    assert names(ok(call(airflow, "GET", "/tasks", params={"owner": "me"}, user="op"))) == [
        "flaky_export", "slow_split"]
    assert names(ok(call(airflow, "GET", "/tasks", params={"owner": "alice"}))) == ["daily_sales", "vendor_feed"]
    assert names(ok(call(airflow, "GET", "/tasks", params={"q": "SAL"}))) == ["daily_sales"]
    assert names(ok(call(airflow, "GET", "/tasks", params={"name": "slow_split"}))) == ["slow_split"]
    assert names(ok(call(airflow, "GET", "/tasks", params={"q": "_"}))) != [], "`_` is literal, not a wildcard"
    assert ok(call(airflow, "GET", "/tasks", params={"status": "Finished"}))["total"] == 0
    assert ok(call(airflow, "GET", "/tasks", params={"status": "New"}))["total"] == 5
    assert ok(call(airflow, "GET", "/tasks", params={"created_from": "20200101", "created_to": "20990101"}))[
        "total"] == 5
    assert ok(call(airflow, "GET", "/tasks", params={"created_from": "20990101"}))["total"] == 0
    assert ok(call(airflow, "GET", "/tasks", params={"updated_to": "20200101T000000"}))["total"] == 0

    bad = call(airflow, "GET", "/tasks", params={"status": "Done"})
    assert bad.status_code == 422 and "`Done` is not a task status" in bad.json()["detail"]
    bad = call(airflow, "GET", "/tasks", params={"created_from": "2022-02-30x"})
    assert bad.status_code == 422 and "created_from" in bad.json()["detail"]


def test_task_details(airflow: AirflowInstance) -> None:
    detail = ok(call(airflow, "GET", "/tasks/daily_sales"))
    assert detail["definition"]["file"] == "daily_sales.yaml"
    assert "conn_id: shop" in detail["definition"]["yaml"]
    assert detail["params"]["region"]["enum"] == ["EU", "US"]
    assert len(detail["next_runs"]) == 5
    assert all(t.endswith(("+01:00", "+02:00")) and "T06:00:00" in t for t in detail["next_runs"]), \
        "next runs at 06:00 Paris time"
    assert detail["airflow_url"].endswith("/dags/daily_sales")
    assert call(airflow, "GET", "/tasks/nope").status_code == 404
    assert call(airflow, "GET", "/tasks/nightly").status_code == 404, "an orchestration is not a task"
    assert_no_secret(call(airflow, "GET", "/tasks/warehouse_export").text)


# ------------------------------------------------------------------------------------------- runs


def test_run_arguments_are_validated(airflow: AirflowInstance) -> None:
    before = ok(call(airflow, "GET", "/tasks/daily_sales/runs"))["total"]
    cases = {
        "region=XX": "argument `region`: 'XX' is not one of ['EU', 'US']",
        "regio=EU": "unknown argument `regio`: this task accepts `limit`, `region`",
        "limit=ten": "argument `limit`: `ten` is not a valid integer",
        "US ten": "argument `limit`: `ten` is not a valid integer",
        "EU 5 X": "args: `X` is one value too many: this task accepts in this order `region`, `limit`",
        "limit=5 EU US": "args: `US` is one value too many: this task accepts in this order `region`, `limit`",
    }
    for args, message in cases.items():
        resp = call(airflow, "POST", "/tasks/daily_sales/runs", json={"args": args})
        assert resp.status_code == 422, resp.text
        assert resp.json()["detail"] == message
    resp = call(airflow, "POST", "/tasks/daily_sales/runs", json={"params": {"colour": "red"}})
    assert resp.status_code == 422 and "unknown argument `colour`" in resp.json()["detail"]
    assert call(airflow, "POST", "/tasks/daily_sales/runs", json={"args": "x=1", "params": {}}).status_code == 422
    assert call(airflow, "POST", "/tasks/warehouse_export/runs", json={}).status_code == 409, "disabled task"
    assert call(airflow, "POST", "/tasks/nope/runs", json={}).status_code == 404
    assert ok(call(airflow, "GET", "/tasks/daily_sales/runs"))["total"] == before, "nothing was queued"


def test_run_now_then_runs_files_and_download(airflow: AirflowInstance, root: Path) -> None:
    # its own refused request, for the audit check at the end (not one another test happened to make)
    assert call(airflow, "POST", "/tasks/daily_sales/runs", json={"args": "region=XX"}, user="user").status_code == 422
    run = ok(call(airflow, "POST", "/tasks/daily_sales/runs", json={"args": "region=US limit=5"}, user="user"))
    assert run["status"] == "IN_PROGRESS" and run["started_by"] == "user" and run["conf"] == {
        "region": "US", "limit": 5}
    assert airflow.wait_for_run("daily_sales", run["run_id"]) == "success"
    # indexed by the listener when the run ended, before anything read the history through the API
    wait_for("the listener's index row", lambda: indexed(root, "daily_sales", run["run_id"]), timeout=30)
    done = run_state(airflow, "daily_sales", run["run_id"])
    assert done["status"] == "SUCCEEDED" and done["task_status"] == "Finished"
    assert [s["step"] for s in done["steps"]] == ["extract", "package", "deliver"]
    assert all(s["state"] == "success" and "/dags/daily_sales/runs/" in s["log_url"] for s in done["steps"])
    assert any(h["action"] == "batchtasks.run" and h["user"] == "user" for h in done["history"])

    delivered = (root / "out" / "sales_US.csv").read_bytes()
    [file] = done["files"]
    assert file["name"] == "sales_US.csv" and file["md5"] == hashlib.md5(delivered).hexdigest()
    assert file["rows"] == 10 and file["destinations"][0]["path"] == str(root / "out" / "sales_US.csv")

    day = run["created"][:10].replace("-", "")
    listing = ok(call(airflow, "GET", "/tasks/daily_sales/runs",
                      params={"fromDate": day, "toDate": day, "status": "SUCCEEDED"}))
    assert [r["run_id"] for r in listing["runs"]] == [run["run_id"]]
    assert listing["runs"][0]["started_by"] == "user" and listing["runs"][0]["files"][0]["id"] == file["id"]
    assert ok(call(airflow, "GET", "/tasks/daily_sales/runs", params={"status": "FAILED"}))["total"] == 0
    assert ok(call(airflow, "GET", "/tasks/daily_sales/runs", params={"toDate": "20200101T061500"}))["total"] == 0
    assert ok(call(airflow, "GET", "/tasks/daily_sales/runs", params={"fromDate": f"{day}T000000"}))["total"] == 1
    assert call(airflow, "GET", "/tasks/daily_sales/runs", params={"fromDate": "2022"}).status_code == 422
    assert call(airflow, "GET", "/tasks/daily_sales/runs", params={"status": "DONE"}).status_code == 422

    history = ok(call(airflow, "GET", "/tasks/daily_sales/files"))
    assert history["total"] == 1 and history["files"][0]["id"] == file["id"]
    download = call(airflow, "GET", f"/tasks/daily_sales/files/{file['id']}")
    assert download.status_code == 200 and download.content == delivered
    assert 'filename="sales_US.csv"' in download.headers["content-disposition"]
    result = call(airflow, "GET", f"/tasks/daily_sales/runs/{q(run['run_id'])}/result-file")
    assert result.status_code == 200 and result.content == delivered
    for bad_id in ("..%2F..%2Fetc%2Fpasswd", "0" * 24, "sales_US.csv"):
        assert call(airflow, "GET", f"/tasks/daily_sales/files/{bad_id}").status_code == 404

    listed = ok(call(airflow, "GET", "/tasks", params={"status": "Finished"}))
    assert names(listed) == ["daily_sales"] and listed["tasks"][0]["last_run"]["run_id"] == run["run_id"]

    entries = airflow.api("GET", "/api/v2/eventLogs", params={"dag_id": "daily_sales", "limit": 100}).json()
    ours = [e for e in entries["event_logs"] if e["event"] == "batchtasks.run"]
    assert [(e["owner"], e["run_id"]) for e in ours if json.loads(e["extra"])["outcome"] == "done"] == [
        ("user", run["run_id"])]
    refused = [json.loads(e["extra"]) for e in ours if e["run_id"] is None]
    assert any("refused (422)" in r["outcome"] and r["args"] == "region=XX" for r in refused)
    downloads = [e for e in entries["event_logs"] if e["event"] == "batchtasks.download"]
    assert downloads and downloads[0]["owner"] == "admin"


def _resend_ended(airflow: AirflowInstance, resend_run: str) -> dict[str, Any]:
    """The history entry of resend run ``resend_run`` of vendor_feed's file, once the run has ended."""
    def ended() -> dict[str, Any] | None:
        [file] = ok(call(airflow, "GET", "/tasks/vendor_feed/files"))["files"]
        entry = next((r for r in file["resends"] if r["run_id"] == resend_run), None)
        return entry if entry and entry["state"] in ("done", "failed") else None
    return wait_for(f"resend {resend_run} to end", ended, timeout=180)


def test_resend_to_sftp_checks_md5_and_records_it(airflow: AirflowInstance, inbox: Path, root: Path) -> None:
    run_id = ok(call(airflow, "POST", "/tasks/vendor_feed/runs", json={}))["run_id"]
    assert wait_run(airflow, "vendor_feed", run_id)["state"] == "success"
    [delivered] = list(inbox.iterdir())
    original = delivered.read_bytes()
    delivered.unlink()
    [file] = ok(call(airflow, "GET", "/tasks/vendor_feed/files"))["files"]

    queued = ok(call(airflow, "POST", f"/tasks/vendor_feed/files/{file['id']}/resend", user="op"), 202)
    entry = _resend_ended(airflow, queued["run_id"])
    assert delivered.read_bytes() == original, "the file arrived again at the SFTP server"
    assert entry["by"] == "op" and entry["outcome"] == "sent" and entry["state"] == "done"
    assert entry["destinations"][0]["type"] == "sftp" and entry["destinations"][0]["path"] == str(delivered)
    [archived_record] = list((root / "archive" / "vendor_feed").rglob("*.record.json"))
    assert json.loads(archived_record.read_text())["resends"][0]["by"] == "op", "the record in the archive says it too"
    assert ok(call(airflow, "GET", "/tasks/vendor_feed/files"))["files"][0]["resends"][0]["by"] == "op"

    archived = archived_record.with_name(archived_record.name.removesuffix(".record.json"))
    archived.write_bytes(original + b"tampered\n")
    delivered.unlink()
    damaged = ok(call(airflow, "POST", f"/tasks/vendor_feed/files/{file['id']}/resend"), 202)
    entry = _resend_ended(airflow, damaged["run_id"])
    assert entry["state"] == "failed" and "damaged" in entry["outcome"]
    assert not delivered.exists(), "a damaged archive is never sent"
    archived.write_bytes(original)
    assert call(airflow, "POST", "/tasks/vendor_feed/files/0123456789abcdef01234567/resend").status_code == 404


# ------------------------------------------------------------------------------------------- skip / retry


def trigger(airflow: AirflowInstance, task: str, args: str = "") -> str:
    return ok(call(airflow, "POST", f"/tasks/{task}/runs", json={"args": args}))["run_id"]


def test_skip_retry_and_bulk(airflow: AirflowInstance) -> None:
    busy = trigger(airflow, "slow_split", "seconds=25")
    wait_for("slow_split processing", lambda: run_state(airflow, "slow_split", busy)["task_status"] == "Processing",
             timeout=120)
    listed = ok(call(airflow, "GET", "/tasks", params={"status": "Processing"}))
    assert names(listed) == ["slow_split"]

    waiting = trigger(airflow, "slow_split")
    assert run_state(airflow, "slow_split", waiting)["task_status"] == "New", "queued behind the busy run"
    skipped = ok(call(airflow, "POST", f"/tasks/slow_split/runs/{q(waiting)}/skip", user="user"))
    assert (skipped["status"], skipped["skipped"], skipped["task_status"]) == ("FAILED", True, "Skipped")
    assert skipped["state"] == "failed"
    refused = call(airflow, "POST", f"/tasks/slow_split/runs/{q(busy)}/skip")
    assert refused.status_code == 409 and "already processing" in refused.json()["detail"]
    assert call(airflow, "POST", f"/tasks/slow_split/runs/{q(busy)}/retry").status_code == 409, "in progress"
    assert call(airflow, "POST", "/tasks/slow_split/runs/nope/skip").status_code == 404

    third, fourth = trigger(airflow, "slow_split"), trigger(airflow, "slow_split")
    bulk = ok(call(airflow, "POST", "/runs/skip", json={"filter": {"name": "slow_split"}}))
    assert bulk["done"] == 2 and bulk["refused"] == 0
    assert {r["run_id"] for r in bulk["results"]} == {third, fourth}, "the processing run is not a target"
    mixed = ok(call(airflow, "POST", "/runs/skip", json={"runs": [
        {"task": "slow_split", "run_id": busy}, {"task": "slow_split", "run_id": third},
        {"task": "slow_split", "run_id": "nope"}, {"task": "nightly_sales_chain", "run_id": "any"}]}))
    assert [r["result"] for r in mixed["results"]] == ["refused", "refused", "refused", "refused"]
    assert "already processing" in mixed["results"][0]["reason"]
    assert "already ended" in mixed["results"][1]["reason"]
    assert "unknown run" in mixed["results"][2]["reason"]
    assert "unknown task `nightly_sales_chain`" in mixed["results"][3]["reason"], "not a batch task: not ours to skip"
    assert call(airflow, "POST", "/runs/skip", json={}).status_code == 422

    retried = ok(call(airflow, "POST", f"/tasks/slow_split/runs/{q(waiting)}/retry"))
    assert retried["state"] == "queued" and retried["skipped"] is False
    assert wait_run(airflow, "slow_split", busy)["state"] == "success"
    assert wait_run(airflow, "slow_split", waiting)["state"] == "success", "the skipped run ran after its retry"

    zipped = call(airflow, "GET", f"/tasks/slow_split/runs/{q(busy)}/result-file")
    assert zipped.status_code == 200 and zipped.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(zipped.content)) as zf:
        assert sorted(zf.namelist()) == ["part_a.txt", "part_b.txt"]
        assert zf.read("part_b.txt") == b"part b\n"

    again = ok(call(airflow, "POST", "/runs/retry", json={"filter": {"name": "slow_split"}}))
    assert again["done"] == 1 and again["results"][0]["run_id"] == fourth, "bulk retry by filter: the newest run"
    assert wait_run(airflow, "slow_split", fourth)["state"] == "success"
    events = airflow.api("GET", "/api/v2/eventLogs", params={"dag_id": "slow_split", "limit": 200}).json()
    skips = [e for e in events["event_logs"] if e["event"] == "batchtasks.skip"]
    assert {(e["owner"], e["run_id"]) for e in skips if json.loads(e["extra"])["outcome"] == "done"} >= {
        ("user", waiting), ("admin", third), ("admin", fourth)}
    assert any("refused (409)" in json.loads(e["extra"])["outcome"] and e["run_id"] == busy for e in skips)


def test_cancel_retry(airflow: AirflowInstance) -> None:
    run_id = trigger(airflow, "flaky_export")
    wait_for("flaky_export up for retry",
             lambda: run_state(airflow, "flaky_export", run_id)["task_status"] == "Retry", timeout=120)
    assert names(ok(call(airflow, "GET", "/tasks", params={"status": "Retry"}))) == ["flaky_export"]
    assert call(airflow, "POST", "/tasks/flaky_export/cancel-retry", user="viewer").status_code == 403
    cancelled = ok(call(airflow, "POST", "/tasks/flaky_export/cancel-retry", user="user"))
    assert cancelled["run_id"] == run_id
    final = wait_run(airflow, "flaky_export", run_id)
    assert final["state"] == "failed" and final["task_status"] == "Failed" and final["skipped"] is False
    extract = next(s for s in final["steps"] if s["step"] == "extract")
    assert extract["state"] == "failed" and extract["try_number"] == 1, "no further try"
    again = call(airflow, "POST", "/tasks/flaky_export/cancel-retry")
    assert again.status_code == 409 and "no pending retry" in again.json()["detail"]

    busy = trigger(airflow, "slow_split", "seconds=15")
    wait_for("slow_split processing", lambda: run_state(airflow, "slow_split", busy)["task_status"] == "Processing")
    assert call(airflow, "POST", "/tasks/slow_split/cancel-retry").status_code == 409, "a step is running"

    retried = ok(call(airflow, "POST", f"/tasks/flaky_export/runs/{q(run_id)}/retry"))
    assert retried["status"] == "IN_PROGRESS"
    wait_for("flaky_export retried", lambda: run_state(airflow, "flaky_export", run_id)["task_status"] == "Retry")
    ok(call(airflow, "POST", "/tasks/flaky_export/cancel-retry"))
    wait_run(airflow, "slow_split", busy)


# ------------------------------------------------------------------------------------------- definitions


NEW_TASK = """# kept: comments survive edits
kind: task
name: fresh_export
project: ops
description: created through the API
source:
  type: sql
  conn_id: shop
  query: "select count(*) as n from sales"
destinations:
  - type: local
    path: __OUT__
"""


def test_definitions_crud(airflow: AirflowInstance, root: Path) -> None:
    defs = root / "definitions"
    listed = ok(call(airflow, "GET", "/definitions", params={"kind": "task"}))
    assert {d["name"] for d in listed["definitions"]} >= {"daily_sales", "slow_split", "vendor_feed"}
    assert listed["errors"] == []
    assert call(airflow, "GET", "/definitions", params={"kind": "job"}).status_code == 422
    one = ok(call(airflow, "GET", "/definitions/project/sales"))
    assert one["data"]["owners"] == ["admin", "alice"] and one["file"] == "projects.yaml"
    assert call(airflow, "GET", "/definitions/task/nope").status_code == 404

    text = NEW_TASK.replace("__OUT__", str(root / "out"))
    created = ok(call(airflow, "POST", "/definitions", json={"yaml": text, "file": "api/fresh_export.yaml"}), 201)
    assert created["file"] == "api/fresh_export.yaml" and (defs / "api" / "fresh_export.yaml").read_text() == text
    assert call(airflow, "POST", "/definitions", json={"yaml": text}).status_code == 409
    airflow.wait_for_dag("fresh_export", timeout=90)
    run_id = trigger(airflow, "fresh_export")
    assert wait_run(airflow, "fresh_export", run_id)["state"] == "success", "a definition made by the API runs"

    bad = call(airflow, "POST", "/definitions", json={"yaml": text.replace("fresh_export", "bad_one").replace(
        "destinations:", "destination:")})
    assert bad.status_code == 422
    assert "bad_one.yaml:10: destination: unknown key `destination` (did you mean `destinations`?)" in bad.json()[
        "errors"]
    assert not (defs / "bad_one.yaml").exists(), "nothing written"

    edited = text.replace("created through the API", "edited through the API")
    updated = ok(call(airflow, "PUT", "/definitions/task/fresh_export", json={"yaml": edited}))
    assert updated["data"]["description"] == "edited through the API"
    assert (defs / "api" / "fresh_export.yaml").read_text() == edited, "comments kept, not duplicated"
    broken = call(airflow, "PUT", "/definitions/task/fresh_export",
                  json={"yaml": edited.replace("project: ops", "project: opss")})
    assert broken.status_code == 422
    assert "api/fresh_export.yaml:4: project: unknown project `opss` (did you mean `ops`?)" in broken.json()["errors"]
    assert (defs / "api" / "fresh_export.yaml").read_text() == edited, "nothing written"
    renamed = call(airflow, "PUT", "/definitions/task/fresh_export", json={"yaml": edited.replace(
        "name: fresh_export", "name: other")})
    assert renamed.status_code == 422

    in_use = call(airflow, "DELETE", "/definitions/project/ops")
    assert in_use.status_code == 422 and any("unknown project `ops`" in e for e in in_use.json()["errors"])
    assert "name: ops" in (defs / "projects.yaml").read_text()

    copy = ok(call(airflow, "POST", "/definitions/task/daily_sales/duplicate", json={"name": "daily_sales_copy"}),
              201)
    assert copy["data"]["enabled"] is False and copy["data"]["name"] == "daily_sales_copy"
    assert copy["data"]["params"] == ok(call(airflow, "GET", "/definitions/task/daily_sales"))["data"]["params"]
    assert call(airflow, "POST", "/definitions/task/daily_sales/duplicate",
                json={"name": "daily_sales_copy"}).status_code == 409
    airflow.wait_for_dag("daily_sales_copy", timeout=90)
    assert ok(call(airflow, "GET", "/tasks/daily_sales_copy"))["enabled"] is False, "the copy is disabled"
    orch_copy = ok(call(airflow, "POST", "/definitions/orchestration/nightly/duplicate", json={"name": "nightly2"}),
                   201)
    assert orch_copy["data"]["active"] is False

    valid = ok(call(airflow, "POST", "/definitions/validate", json={"definition": {
        "kind": "task", "name": "tmp", "source": {"type": "sql", "conn_id": "shop", "query": "select 1"}}}))
    assert valid == {"valid": True, "errors": []}
    invalid = ok(call(airflow, "POST", "/definitions/validate", json={"yaml": "kind: task\nname: tmp\n"}))
    assert invalid["valid"] is False and invalid["errors"] == ["tmp.yaml:1: source: required key `source` is missing"]
    assert not (defs / "tmp.yaml").exists()

    assert call(airflow, "DELETE", "/definitions/task/daily_sales_copy").status_code == 204
    assert call(airflow, "DELETE", "/definitions/orchestration/nightly2").status_code == 204
    assert not (defs / "daily_sales_copy.yaml").exists()
    assert call(airflow, "GET", "/definitions/task/daily_sales_copy").status_code == 404
    assert call(airflow, "DELETE", "/definitions/task/daily_sales_copy").status_code == 404
    events = airflow.api("GET", "/api/v2/eventLogs", params={"event": "batchtasks.definition_create"}).json()
    outcomes = [json.loads(e["extra"])["outcome"] for e in events["event_logs"]]
    assert "done" in outcomes and any(o.startswith("refused (422)") for o in outcomes)


# ------------------------------------------------------------------------------------------- orchestrations


def test_orchestration_instances(airflow: AirflowInstance) -> None:
    launched = call(airflow, "POST", "/orchestrations/nightly/instances", user="user")
    assert launched.status_code == 200 and launched.headers["content-type"].startswith("text/plain")
    instance = launched.text
    assert re.fullmatch(r"[0-9a-f-]{36}", instance), "a plain-string UUID, not JSON"
    report = ok(call(airflow, "GET", f"/orchestrations/nightly/instances/{instance}"))
    assert report["id"] == instance and report["status"] in ("QUEUED", "RUNNING")
    assert instance in [r["id"] for r in ok(call(airflow, "GET", "/orchestrations/nightly/instances"))]

    cancelled = call(airflow, "POST", f"/orchestrations/nightly/instances/{instance}/~cancel", user="op")
    assert cancelled.status_code == 200 and cancelled.content == b""
    final = wait_for("cancelled report", lambda: (r := ok(call(
        airflow, "GET", f"/orchestrations/nightly/instances/{instance}")))["status"] == "CANCELLED" and r)
    assert final["reason"] == "cancelled by op"
    assert call(airflow, "POST", f"/orchestrations/nightly/instances/{instance}/~cancel").status_code == 409

    assert call(airflow, "DELETE", f"/orchestrations/nightly/instances/{instance}").status_code == 204
    assert call(airflow, "GET", f"/orchestrations/nightly/instances/{instance}").status_code == 404
    assert call(airflow, "DELETE", f"/orchestrations/nightly/instances/{instance}").status_code == 404
    assert call(airflow, "POST", "/orchestrations/dormant/instances").status_code == 409
    assert call(airflow, "POST", "/orchestrations/nope/instances").status_code == 404
    assert call(airflow, "POST", "/orchestrations/daily_sales/instances").status_code == 404, "a task is not one"
    events = airflow.api("GET", "/api/v2/eventLogs", params={"dag_id": "nightly", "limit": 100}).json()["event_logs"]
    assert {(e["event"], e["owner"]) for e in events} >= {
        ("batchtasks.orchestration_launch", "user"), ("batchtasks.orchestration_cancel", "op"),
        ("batchtasks.orchestration_delete", "admin")}


def test_cron_describe(airflow: AirflowInstance) -> None:
    out = ok(call(airflow, "GET", "/cron/describe", params={"expr": "30 6 * * 1-5", "tz": "Europe/Paris",
                                                             "count": 3}, user="viewer"))
    assert out["description"] == "At 06:30 AM, Monday through Friday" and len(out["next"]) == 3
    assert call(airflow, "GET", "/cron/describe", params={"expr": "61 * * * *"}).status_code == 422
    assert call(airflow, "GET", "/cron/describe", params={"expr": "@daily", "tz": "Mars/Olympus"}).status_code == 422


# ------------------------------------------------------------------------------------------- read-only


def test_read_only_definitions_answer_405(airflow: AirflowInstance, root: Path) -> None:
    """Last: restarts Airflow with ``[batchtasks] definitions_writable = False`` (same home and database)."""
    airflow.stop(timeout=5)
    airflow.extra_env["AIRFLOW__BATCHTASKS__DEFINITIONS_WRITABLE"] = "False"
    time.sleep(1)
    airflow.start()
    body = {"yaml": "kind: project\nname: readonly\n"}
    assert call(airflow, "POST", "/definitions", json=body).status_code == 405
    assert call(airflow, "PUT", "/definitions/project/sales", json={"yaml": "kind: project\nname: sales\n"}
                ).status_code == 405
    assert call(airflow, "DELETE", "/definitions/task/slow_split").status_code == 405
    assert call(airflow, "POST", "/definitions/task/daily_sales/duplicate", json={"name": "x2"}).status_code == 405
    assert call(airflow, "POST", "/definitions", json=body, user="viewer").status_code == 403, "403 comes first"
    assert ok(call(airflow, "GET", "/definitions/task/slow_split"))["name"] == "slow_split"
    assert ok(call(airflow, "POST", "/definitions/validate", json=body))["valid"] is True
    assert not (root / "definitions" / "readonly.yaml").exists()
