"""Task Details actions and the authoring helpers' API against one real Airflow (API calls + a few browser steps).

- pickers: connection ids and types only (a password set on the connection never appears), filtered by type;
  variable names only; time zones; readable projects and tasks; a viewer without connection read gets 403;
- query preview (saved task and unsaved definition, then in the browser): USE/GO removed and listed, run
  arguments bound with their values, a secret-named argument masked; nothing is executed;
- delete refused (409, with the reason) while an orchestration or the project's series uses the task, then
  allowed once the orchestration is gone (in the browser: the refusal shows, then the typed confirmation);
- reschedule writes the schedule in the YAML (comments kept) and the DAG's schedule follows after the parse;
- disable writes ``enabled: false`` and pauses the DAG; every action is in Airflow's audit log;
- a viewer sees none of the controls and a forged POST gets 403;
- last, the api-server restarted with ``definitions_writable = False``: the page says the definition is
  read-only and why, the toggle says it only pauses, and it does only pause.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.airflow_instance import AirflowInstance
from tests.e2e.api_support import SECRET, call, ok, serving, start_api_airflow, wait_for
from tests.e2e.browser_support import sign_in

pytestmark = pytest.mark.e2e
expect.set_options(timeout=30_000)

UI = "/batchtasks/ui"
VARIABLE_SECRET = "variable-value-never-listed-77"

ACT_SQL = """
kind: task
name: act_sql
description: Query with SSMS leftovers and a secret-named argument
params:
  region: {default: EU}
  api_token: {default: tok-default-value}
source:
  type: sql
  conn_id: shop
  query: |
    USE shop;
    select id from sales where region = '{{ params.region }}' and '{{ params.api_token }}' <> '' and '{{ ds }}' <> ''
    GO
"""

ACT_USED = """
kind: task
name: act_used
source: {type: sql, conn_id: shop, query: "select 1"}
---
kind: orchestration
name: act_chain
steps:
  - task: act_used
---
kind: project
name: act_series
run_in_series: true
---
kind: task
name: act_in_series
project: act_series
source: {type: sql, conn_id: shop, query: "select 1"}
"""

ACT_RESCHED = """
# the morning export (this comment must survive edits)
kind: task
name: act_resched
schedule: "0 6 * * *"  # every morning
timezone: UTC
source:
  type: sql
  conn_id: shop
  query: "select 2"
"""

DAGS = ("act_sql", "act_used", "act_chain", "act_in_series", "act_resched")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("task_actions")


@pytest.fixture(scope="module")
def airflow(root: Path) -> Iterator[AirflowInstance]:
    instance = start_api_airflow(root, extra_definitions={"act_sql": ACT_SQL, "act_used": ACT_USED,
                                                          "act_resched": ACT_RESCHED})
    with serving(instance, DAGS, timeout=180):
        yield instance


def login(browser: Browser, airflow: AirflowInstance, user: str = "admin") -> Page:
    context = browser.new_context(base_url=airflow.base_url, viewport={"width": 1280, "height": 900})
    return sign_in(context, user)


def bearer(airflow: AirflowInstance, user: str = "admin") -> dict[str, str]:
    return {"Authorization": f"Bearer {airflow.token(user)}"}


def page_html(airflow: AirflowInstance, path: str, user: str = "admin") -> str:
    resp = httpx.get(airflow.base_url + UI + path, headers=bearer(airflow, user), timeout=30)
    assert resp.status_code == 200, (path, resp.status_code, resp.text[:500])
    return resp.text


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "the page carries a CSRF token in its forms"
    return match.group(1)


def page_post(airflow: AirflowInstance, path: str, data: dict[str, Any], user: str = "admin") -> httpx.Response:
    """A form POST of the pages as ``user``: the page's CSRF token, this origin, no redirect followed."""
    token = csrf_of(page_html(airflow, "/tasks/act_sql", user))
    return httpx.post(airflow.base_url + UI + path, data={"csrf": token, **data}, timeout=60,
                      headers={**bearer(airflow, user), "Origin": airflow.base_url}, follow_redirects=False)


def flash_of(resp: httpx.Response) -> str:
    """The flash message a redirect carries (read by following it with its cookie)."""
    assert resp.status_code == 303, (resp.status_code, resp.text[:500])
    follow = httpx.get(airflow_url(resp), cookies=resp.cookies, headers={"Authorization": resp.request.headers[
        "Authorization"]}, timeout=30)
    match = re.search(r'class="flash flash-(ok|error)"[^>]*>\s*<span>(.*?)</span>', follow.text, re.S)
    if match:
        return f"{match.group(1)}: {html.unescape(match.group(2).strip())}"
    at_field = re.search(r'class="field-error" role="alert">(.*?)</p>', follow.text, re.S)  # an error of one form
    return f"error: {html.unescape(at_field.group(1).strip())}" if at_field else ""


def airflow_url(resp: httpx.Response) -> str:
    return str(resp.request.url.copy_with(path=resp.headers["location"], query=None))


def events(airflow: AirflowInstance, dag_id: str) -> set[str]:
    found = airflow.api("GET", "/api/v2/eventLogs", params={"dag_id": dag_id, "limit": 200}).json()
    return {e["event"] for e in found["event_logs"]}


# ----------------------------------------------------------------------------------------------- pickers


def test_pickers_list_names_only_and_follow_airflow_rights(airflow: AirflowInstance) -> None:
    made = airflow.api("POST", "/api/v2/connections", json={
        "connection_id": "act_sftp", "conn_type": "sftp", "host": "files.invalid", "login": "bob",
        "password": SECRET, "extra": '{"private_key_passphrase": "' + SECRET + '"}'})
    assert made.status_code in (200, 201), made.text
    made = airflow.api("POST", "/api/v2/variables", json={"key": "act_gpg_key", "value": VARIABLE_SECRET})
    assert made.status_code in (200, 201), made.text

    everything = call(airflow, "GET", "/pickers/connections")
    assert SECRET not in everything.text and "files.invalid" not in everything.text and "bob" not in everything.text
    assert {"conn_id": "act_sftp", "conn_type": "sftp"} in ok(everything)["connections"]
    sftp = ok(call(airflow, "GET", "/pickers/connections", params={"types": "sftp,ssh"}))["connections"]
    assert sftp == [{"conn_id": "act_sftp", "conn_type": "sftp"}]
    assert ok(call(airflow, "GET", "/pickers/connections", params={"types": "ftp"}))["connections"] == []
    assert call(airflow, "GET", "/pickers/connections", user="viewer").status_code == 403
    assert call(airflow, "GET", "/pickers/connections", user="user").status_code == 403
    assert call(airflow, "GET", "/pickers/connections", user=None).status_code == 401

    names = call(airflow, "GET", "/pickers/variables")
    assert "act_gpg_key" in ok(names)["variables"] and VARIABLE_SECRET not in names.text
    assert call(airflow, "GET", "/pickers/variables", user="viewer").status_code == 403

    zones = ok(call(airflow, "GET", "/pickers/timezones", user="viewer"))["timezones"]
    assert "Europe/Paris" in zones and zones == sorted(zones)
    projects = ok(call(airflow, "GET", "/pickers/projects", user="viewer"))["projects"]
    assert {"name": "act_series"} in projects and {"name": "sales"} in projects
    tasks = ok(call(airflow, "GET", "/pickers/tasks", user="viewer"))["tasks"]
    assert {"name": "act_in_series", "project": "act_series"} in tasks and {"name": "act_sql", "project": None} in tasks


# ----------------------------------------------------------------------------------------------- query preview


def test_query_preview_of_a_saved_task_and_of_an_unsaved_definition(airflow: AirflowInstance) -> None:
    preview = ok(call(airflow, "POST", "/tasks/act_sql/query-preview",
                      json={"args": "region=US api_token=zz-secret-arg", "date": "2026-05-04"}))
    assert preview["removed"] == ["USE shop;", "GO"]
    assert preview["query"].startswith("select id from sales where region = ? and ? <> '' and '2026-05-04' <> ''")
    assert preview["parameters"] == [{"placeholder": "?", "name": "params.region", "value": "US"},
                                     {"placeholder": "?", "name": "params.api_token", "value": "***"}]
    assert preview["paramstyle"] == "qmark"
    assert ok(call(airflow, "POST", "/tasks/act_sql/query-preview", user="viewer"))["parameters"][1]["value"] == "***"
    # an undeclared key is refused, naming it; so is one value too many
    refused = call(airflow, "POST", "/tasks/act_sql/query-preview", json={"args": "US tok nope=1"})
    assert refused.status_code == 422 and "unknown argument `nope`" in refused.json()["detail"]
    refused = call(airflow, "POST", "/tasks/act_sql/query-preview", json={"args": "US tok extra"})
    assert refused.status_code == 422 and "`extra` is one value too many" in refused.json()["detail"]
    assert ok(call(airflow, "GET", "/tasks/act_sql/runs"))["runs"] == [], "nothing ran"

    unsaved = ok(call(airflow, "POST", "/definitions/query-preview", json={
        "definition": {"kind": "task", "name": "act_draft", "params": {"n": 5},
                       "source": {"type": "sql", "conn_id": "shop", "query": "GO\nselect {{ params.n }}"}},
        "paramstyle": "format"}))
    assert unsaved["query"] == "select %s" and unsaved["removed"] == ["GO"]
    assert unsaved["parameters"] == [{"placeholder": "%s", "name": "params.n", "value": 5}]
    fetched = ok(call(airflow, "POST", "/definitions/query-preview", json={"yaml": (
        "kind: task\nname: act_draft\nsource:\n  type: sql\n  conn_id: shop\n"
        "  query_from: {type: sftp, conn_id: act_sftp, path: /q.sql}\n")}))
    assert fetched["query"] is None and "never opens connections" in fetched["note"]


def test_query_preview_on_task_details(browser: Browser, airflow: AirflowInstance, root: Path) -> None:
    page = login(browser, airflow)
    page.goto(f"{UI}/tasks/act_sql")
    panel = page.locator("#query-preview")
    panel.get_by_label("Run date").fill("2026-05-04")
    panel.get_by_label("Arguments").fill("region=US api_token=browser-secret-1")
    panel.get_by_role("button", name="Preview query").click()
    expect(page.locator("#preview-query")).to_contain_text("where region = ? and ? <> '' and '2026-05-04'")
    expect(page.locator("#preview-removed li")).to_have_text(["USE shop;", "GO"])
    expect(page.locator("#preview-params tbody tr")).to_have_count(2)
    expect(page.locator("#preview-params tbody tr").nth(0)).to_contain_text('"US"')
    expect(page.locator("#preview-params tbody tr").nth(1)).to_contain_text('"***"')
    assert "browser-secret-1" not in page.content(), "a secret-named argument is masked, also in the form"
    page.screenshot(path=str(root / "task_actions.png"), full_page=True)  # for a look at the panel and the actions
    page.context.close()


# ----------------------------------------------------------------------------------------------- delete


def test_delete_refused_while_used_then_allowed(browser: Browser, airflow: AirflowInstance, root: Path) -> None:
    refused = call(airflow, "DELETE", "/definitions/task/act_used")
    assert refused.status_code == 409 and "orchestration `act_chain` (step 1)" in refused.json()["detail"]
    series = call(airflow, "DELETE", "/definitions/task/act_in_series")
    assert series.status_code == 409 and "series of project `act_series`" in series.json()["detail"]

    page = login(browser, airflow)
    page.goto(f"{UI}/tasks/act_used")
    expect(page.locator("#delete-refused")).to_contain_text("orchestration `act_chain` (step 1)")
    expect(page.get_by_role("button", name="Delete task")).to_be_disabled()
    forced = page_post(airflow, "/tasks/act_used/delete", {"confirm": "act_used"})
    assert "error: task `act_used` is still used by orchestration `act_chain`" in flash_of(forced)
    assert "name: act_used" in (root / "definitions" / "act_used.yaml").read_text()

    assert call(airflow, "DELETE", "/definitions/orchestration/act_chain").status_code == 204
    page.goto(f"{UI}/tasks/act_used")
    page.get_by_label(re.compile("Delete: type")).fill("act_use")
    page.get_by_role("button", name="Delete task").click()
    expect(page.locator("#delete-error")).to_contain_text("Type the task's name `act_used`")
    page.get_by_label(re.compile("Delete: type")).fill("act_used")
    page.get_by_role("button", name="Delete task").click()
    expect(page.locator(".flash-ok")).to_contain_text("Task act_used deleted")
    expect(page.get_by_role("heading", name="All Tasks")).to_be_visible()
    assert "act_used" not in (root / "definitions" / "act_used.yaml").read_text()
    assert "batchtasks.definition_delete" in events(airflow, "act_used")
    page.context.close()


# ----------------------------------------------------------------------------------------------- reschedule, disable


def test_reschedule_keeps_comments_and_the_dag_follows(airflow: AirflowInstance, root: Path) -> None:
    bad = page_post(airflow, "/tasks/act_resched/reschedule", {"mode": "cron", "cron": "61 * * * *",
                                                                 "timezone": "UTC"})
    assert flash_of(bad).startswith("error: `61 * * * *`")
    done = page_post(airflow, "/tasks/act_resched/reschedule", {"mode": "cron", "cron": "*/30 * * * *",
                                                                  "timezone": "Europe/Paris"})
    assert flash_of(done).startswith("ok: Rescheduled:")
    text = (root / "definitions" / "act_resched.yaml").read_text()
    assert "# the morning export (this comment must survive edits)" in text and "# every morning" in text
    assert 'schedule: "*/30 * * * *"' in text and 'timezone: "Europe/Paris"' in text
    wait_for("the DAG's new schedule", lambda: (d := airflow.api("GET", "/api/v2/dags/act_resched").json())
                   and "*/30" in str(d.get("timetable_summary")) and d, timeout=120)
    assert {"batchtasks.reschedule", "batchtasks.definition_update"} <= events(airflow, "act_resched")


def test_disable_writes_enabled_false_and_pauses(airflow: AirflowInstance, root: Path) -> None:
    airflow.unpause("act_resched")
    done = page_post(airflow, "/tasks/act_resched/enabled", {"enabled": "false"})
    message = flash_of(done)
    assert message.startswith("ok: Task disabled") and "enabled: false" in message, message
    text = (root / "definitions" / "act_resched.yaml").read_text()
    assert "enabled: false" in text and "# every morning" in text
    assert airflow.api("GET", "/api/v2/dags/act_resched").json()["is_paused"] is True
    assert "batchtasks.disable" in events(airflow, "act_resched")


def test_a_viewer_sees_no_control_and_a_forged_post_is_refused(airflow: AirflowInstance, root: Path) -> None:
    html = page_html(airflow, "/tasks/act_sql", "viewer")
    for control in ("Edit definition", "Reschedule</button>", "Delete task", "Disable task", "Enable task"):
        assert control not in html, f"a viewer is not offered {control}"
    assert "Preview query" in html, "reading the query is a viewer's right"
    before = (root / "definitions" / "act_sql.yaml").read_text()
    for path, data in (("/tasks/act_sql/delete", {"confirm": "act_sql"}),
                       ("/tasks/act_sql/reschedule", {"mode": "manual"}),
                       ("/tasks/act_sql/enabled", {"enabled": "false"})):
        forged = page_post(airflow, path, data, user="viewer")
        assert forged.status_code == 403, (path, forged.status_code)
    assert (root / "definitions" / "act_sql.yaml").read_text() == before
    assert airflow.api("DELETE", "/batchtasks/api/v1/definitions/task/act_sql", username="viewer").status_code == 403


# ----------------------------------------------------------------------------------------------- read-only (last)


def test_read_only_folder_pages_say_so_and_only_pause(airflow: AirflowInstance, root: Path) -> None:
    airflow.stop_component("api-server")
    airflow.extra_env["AIRFLOW__BATCHTASKS__DEFINITIONS_WRITABLE"] = "False"
    airflow.start_component("api-server")
    airflow.unpause("act_sql")
    html = page_html(airflow, "/tasks/act_sql")
    assert "Read-only definition." in html and "definitions_writable is false" in html
    assert "Pause only (definition is read-only)" in html
    for control in ("Edit definition", "Reschedule</button>", "Delete task"):
        assert control not in html, control
    before = (root / "definitions" / "act_sql.yaml").read_text()
    paused = flash_of(page_post(airflow, "/tasks/act_sql/enabled", {"enabled": "false"}))
    assert paused.startswith("ok: Task disabled") and "only the pause switch" in paused, paused
    assert airflow.api("GET", "/api/v2/dags/act_sql").json()["is_paused"] is True
    assert (root / "definitions" / "act_sql.yaml").read_text() == before, "nothing written"
    assert call(airflow, "DELETE", "/definitions/task/act_sql").status_code == 405
