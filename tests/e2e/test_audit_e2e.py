"""The History / Audit page and ``GET /audit`` against a real Airflow (runs executed for real).

- a run started with a secret-named argument shows who started it and its arguments, the secret as ``***``;
- the run's ending shows its status (Finished), duration and output file;
- skip (refused on an ended run: the refusal is on record), retry, disable / enable on Task Details,
  Airflow's own pause switch, and a definition created, changed and deleted all appear with their user;
- filters (task contains, project, user, action, dates) and pages that neither skip nor repeat;
- bad input is a 422 that names the problem; anonymous callers get 401;
- in a browser: the page lists the run's ending with its status and file, and filters by action.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.airflow_instance import AirflowInstance
from tests.e2e.api_support import call, ok, serving, start_api_airflow, wait_run
from tests.e2e.browser_support import sign_in

pytestmark = pytest.mark.e2e
expect.set_options(timeout=30_000)

UI = "/batchtasks/ui"
RUN_SECRET = "AuditRunPw-4Kq8z"

AUDIT_SECRET = """
kind: task
name: audit_secret
project: sales
params:
  region: {default: EU}
  db_password: {default: none, description: Database password}
source:
  type: sql
  conn_id: shop
  query: "select id from sales where region = '{{ params.region }}'"
destinations:
  - type: local
    path: __OUT__
"""

TMP_TASK = {"kind": "task", "name": "audit_tmp", "enabled": False,
            "source": {"type": "sql", "conn_id": "shop", "query": "select 1"}}


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowInstance]:
    root = tmp_path_factory.mktemp("audit")
    instance = start_api_airflow(root, extra_definitions={"audit_secret": AUDIT_SECRET})
    with serving(instance, ("audit_secret", "daily_sales"), timeout=180):
        yield instance


def audit(airflow: AirflowInstance, caller: str = "admin", **params: Any) -> dict[str, Any]:
    """``GET /audit`` as ``caller``; ``params`` are its filters (``user`` among them)."""
    return ok(call(airflow, "GET", "/audit", user=caller, params={"limit": 200, **params}))


def bearer(airflow: AirflowInstance, user: str = "admin") -> dict[str, str]:
    return {"Authorization": f"Bearer {airflow.token(user)}"}


def page_post(airflow: AirflowInstance, path: str, data: dict[str, str]) -> httpx.Response:
    """A form POST of the pages as admin: the page's CSRF token, this origin, no redirect followed."""
    html = httpx.get(airflow.base_url + UI + "/tasks/audit_secret", headers=bearer(airflow), timeout=30).text
    token = re.search(r'name="csrf" value="([^"]+)"', html)
    assert token, "the page carries a CSRF token"
    return httpx.post(airflow.base_url + UI + path, data={"csrf": token.group(1), **data}, timeout=60,
                      headers={**bearer(airflow), "Origin": airflow.base_url}, follow_redirects=False)


@pytest.fixture(scope="module")
def history(airflow: AirflowInstance) -> dict[str, Any]:
    """Every action the issue lists, done once as admin; the run's id."""
    airflow.unpause("audit_secret")  # Airflow's own pause switch: `patch_dag`
    run_id = ok(call(airflow, "POST", "/tasks/audit_secret/runs",
                     json={"args": f"region=EU db_password={RUN_SECRET}"}))["run_id"]
    assert wait_run(airflow, "audit_secret", run_id)["state"] == "success"
    assert call(airflow, "POST", f"/tasks/audit_secret/runs/{run_id}/skip").status_code == 409  # it has ended
    ok(call(airflow, "POST", f"/tasks/audit_secret/runs/{run_id}/retry"))
    wait_run(airflow, "audit_secret", run_id)
    assert page_post(airflow, "/tasks/audit_secret/enabled", {"enabled": "false"}).status_code == 303
    assert page_post(airflow, "/tasks/audit_secret/enabled", {"enabled": "true"}).status_code == 303
    ok(call(airflow, "POST", "/definitions", json={"definition": TMP_TASK}), 201)
    ok(call(airflow, "PUT", "/definitions/task/audit_tmp",
            json={"definition": {**TMP_TASK, "description": "changed"}}))
    ok(call(airflow, "DELETE", "/definitions/task/audit_tmp"), 204)
    return {"run_id": run_id}


def test_every_action_appears_with_its_user(airflow: AirflowInstance, history: dict[str, Any]) -> None:
    entries = audit(airflow, task="audit_")["entries"]
    seen = {(e["action"], e["user"], e["task"] or e["target"]) for e in entries}
    for action in ("run", "skip", "retry", "disable", "enable", "definition_update", "definition_delete"):
        task = "audit_tmp" if action.startswith("definition") else "audit_secret"
        assert (action, "admin", task) in seen, (action, sorted(seen))
    # created before its DAG existed: the entry has no DAG, the task filter finds it by its name
    assert ("definition_create", "admin", "task audit_tmp") in seen, sorted(seen)
    skip = next(e for e in entries if e["action"] == "skip")
    assert skip["outcome"].startswith("refused (409)") and skip["run_id"] == history["run_id"]
    pause = [e for e in entries if e["action"] == "patch_dag"]
    assert pause and pause[-1]["source"] == "airflow" and pause[-1]["outcome"] == "unpaused (enabled)"


def test_the_run_start_shows_its_arguments_masked(airflow: AirflowInstance, history: dict[str, Any]) -> None:
    resp = call(airflow, "GET", "/audit", params={"task": "audit_secret", "limit": 200})
    assert RUN_SECRET not in resp.text
    [start] = [e for e in ok(resp)["entries"] if e["action"] == "run"]
    assert start["user"] == "admin" and start["outcome"] == "done" and start["run_id"] == history["run_id"]
    assert start["details"]["args"] == "region=EU db_password=***"


def test_a_run_ending_has_status_duration_and_files(airflow: AirflowInstance, history: dict[str, Any]) -> None:
    endings = audit(airflow, task="audit_secret", action="run_ended")["entries"]
    assert endings, "the run's ending is listed"
    assert all(e["kind"] == "run_end" and e["run_id"] == history["run_id"] for e in endings)
    last = endings[0]
    assert last["status"] == "Finished" and last["user"] == "admin"
    assert last["duration"] is not None and last["duration"] > 0
    assert len(last["files"]) == 1 and last["files"][0]["size"] > 0, last["files"]
    assert last["details"]["conf"]["db_password"] == "***"


def test_filters(airflow: AirflowInstance, history: dict[str, Any]) -> None:
    everything = audit(airflow)
    assert everything["total"] >= 9
    assert {e["task"] for e in audit(airflow, project="sales")["entries"]} <= {"audit_secret", "daily_sales"}
    assert {e["user"] for e in audit(airflow, user="admin")["entries"]} == {"admin"}
    assert audit(airflow, user="nobody")["total"] == 0
    picked = audit(airflow, action="enable,disable")["entries"]
    assert sorted(e["action"] for e in picked) == ["disable", "enable"]
    assert [e["action"] for e in picked] == ["enable", "disable"]  # newest first
    tomorrow = (datetime.now(timezone.utc) + timedelta(days=1)).strftime("%Y%m%d")
    today = datetime.now(timezone.utc).strftime("%Y%m%d")
    assert audit(airflow, **{"from": tomorrow})["total"] == 0
    assert audit(airflow, **{"from": today, "to": today})["total"] == everything["total"]
    pages = [audit(airflow, limit=3, offset=o) for o in range(0, everything["total"], 3)]
    assert [(e["at"], e["action"]) for p in pages for e in p["entries"]] == [
        (e["at"], e["action"]) for e in everything["entries"]]


def test_bad_input_and_no_credentials(airflow: AirflowInstance) -> None:
    bad = call(airflow, "GET", "/audit", params={"action": "launch"})
    assert bad.status_code == 422 and "`launch` is not an action" in bad.json()["detail"]
    bad = call(airflow, "GET", "/audit", params={"from": "yesterday"})
    assert bad.status_code == 422 and "from" in bad.json()["detail"]
    assert call(airflow, "GET", "/audit", user=None).status_code == 401
    assert audit(airflow, caller="viewer")["total"] == audit(airflow)["total"]  # the viewer reads every DAG


def test_the_page(browser: Browser, airflow: AirflowInstance, history: dict[str, Any]) -> None:
    context = browser.new_context(base_url=airflow.base_url, viewport={"width": 1400, "height": 900})
    page = sign_in(context, "admin")
    page.goto(f"{UI}/tasks")
    page.get_by_role("link", name="History / Audit").click()
    expect(page.get_by_role("heading", name="History / Audit")).to_be_visible()
    table = page.locator("#audit-table")
    expect(table.locator("tr[data-action='run']").first).to_contain_text("db_password=***")
    assert RUN_SECRET not in page.content()
    page.get_by_label("Task name contains").fill("audit_secret")
    page.get_by_label("Action").select_option("run_ended")
    page.get_by_role("button", name="Apply filters").click()
    row = table.locator("tr[data-action='run_ended']").first
    expect(row).to_contain_text("Finished")
    expect(row.get_by_role("link", name=history["run_id"])).to_be_visible()
    expect(row.locator("a[download]")).to_have_count(1)
    assert table.locator("tr[data-action='run']").count() == 0
    context.close()
