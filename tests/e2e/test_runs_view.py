"""The Runs view against one real Airflow: ``GET /runs``, bulk skip/retry by a run filter, the Runs page.

Three tasks of their own projects (so other modules' runs never mix in): ``rv_good`` succeeds,
``rv_bad`` fails (no retries), ``rv_slow`` sleeps (one run at a time, so later runs wait: New).
Runs are made for real through the API; every answer is checked for order, filters, paging and
masking; bulk by filter must act on exactly the matching runs, older ones included; the page is
driven in a real browser inside Airflow's UI (filter, select all matching, retry).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.airflow_instance import AirflowInstance
from tests.e2e.api_support import SECRET, call, ok, run_state, serving, start_api_airflow, wait_for, wait_run
from tests.e2e.browser_support import sign_in

pytestmark = pytest.mark.e2e
expect.set_options(timeout=30_000)

UI = "/batchtasks/ui"
TOKEN = "rv-hidden-token-31337"

RUNS_VIEW = """
kind: project
name: rv_one
owners: [admin]
---
kind: project
name: rv_two
owners: [admin]
---
kind: task
name: rv_good
project: rv_one
params:
  region: {default: EU}
  api_token: {default: ""}
source: {type: sql, conn_id: shop, query: "select 1 as n"}
destinations:
  - type: local
    path: __OUT__
---
kind: task
name: rv_bad
project: rv_one
params:
  region: {default: EU}
source: {type: sql, conn_id: shop, query: "select * from no_such_table"}
destinations:
  - type: local
    path: __OUT__
---
kind: task
name: rv_slow
project: rv_two
params:
  seconds: {default: 0, type: integer}
source: {type: python}
processing:
  inline: |
    import os, time
    time.sleep(int(os.environ["BATCHTASK_PARAM_SECONDS"]))
    path = os.path.join(os.environ["BATCHTASK_WORK_DIR"], "slept.txt")
    with open(path, "w") as fh:
        fh.write("done\\n")
    print([path])
destinations:
  - type: local
    path: __OUT__
"""


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runs_view")


@pytest.fixture(scope="module")
def airflow(root: Path) -> Iterator[AirflowInstance]:
    instance = start_api_airflow(root, extra_definitions={"runs_view": RUNS_VIEW.replace("__OUT__", str(root / "out"))})
    with serving(instance, ("rv_good", "rv_bad", "rv_slow", "daily_sales"), timeout=180):
        yield instance


def trigger(airflow: AirflowInstance, task: str, args: str = "") -> str:
    return ok(call(airflow, "POST", f"/tasks/{task}/runs", json={"args": args}))["run_id"]


def listed(airflow: AirflowInstance, user: str = "admin", **params: Any) -> dict[str, Any]:
    return ok(call(airflow, "GET", "/runs", user=user, params={"limit": 100, **params}))


def ids(airflow: AirflowInstance, **params: Any) -> list[str]:
    page = listed(airflow, **params)
    assert page["total"] == len(page["runs"]), page
    return [r["run_id"] for r in page["runs"]]


@pytest.fixture(scope="module")
def made(airflow: AirflowInstance) -> dict[str, Any]:
    """Runs in a known order: good EU, bad, good US (a secret argument), bad, good; then slow busy + 2 waiting."""
    runs: dict[str, Any] = {"order": []}
    for task, args in (("rv_good", "region=EU"), ("rv_bad", ""), ("rv_good", f"region=US api_token={TOKEN}"),
                       ("rv_bad", "region=US"), ("rv_good", "")):
        run_id = trigger(airflow, task, args)
        runs["order"].append((task, run_id))
        wait_run(airflow, task, run_id)
        time.sleep(1.1)  # distinct created times, so "newest first" has one answer
    runs["good"] = [r for t, r in runs["order"] if t == "rv_good"]
    runs["bad"] = [r for t, r in runs["order"] if t == "rv_bad"]
    runs["between"] = datetime.now(timezone.utc)
    busy = trigger(airflow, "rv_slow", "seconds=600")
    wait_for("rv_slow processing", lambda: run_state(airflow, "rv_slow", busy)["task_status"] == "Processing")
    runs["busy"] = busy
    runs["waiting"] = [trigger(airflow, "rv_slow", "seconds=0") for _ in range(2)]
    return runs


def test_every_readable_run_newest_first_with_its_columns(airflow: AirflowInstance, made: dict[str, Any]) -> None:
    page = listed(airflow, project="rv_one")
    assert [r["run_id"] for r in page["runs"]] == [r for _, r in reversed(made["order"])]
    assert page["total"] == 5 and page["limit"] == 100 and page["offset"] == 0
    first = page["runs"][0]
    assert first["task"] == "rv_good" and first["project"] == "rv_one" and first["started_by"] == "admin"
    assert first["task_status"] == "Finished" and first["created"] and first["updated"]
    assert [f["name"] for f in first["files"]], "the run's delivered file is listed"
    everything = listed(airflow)
    tasks = {r["task"] for r in everything["runs"]}
    assert {"rv_good", "rv_bad", "rv_slow"} <= tasks
    assert everything["total"] >= 8
    created = [r["created"] for r in everything["runs"]]
    assert created == sorted(created, reverse=True)


def test_filters(airflow: AirflowInstance, made: dict[str, Any]) -> None:
    good, bad = made["good"], made["bad"]
    assert ids(airflow, project="rv_one", status="Failed") == bad[::-1]
    assert ids(airflow, project="rv_one", status=["Failed", "Finished"]) == [r for _, r in reversed(made["order"])]
    assert ids(airflow, project="rv_one", status="finished,failed") == [r for _, r in reversed(made["order"])]
    assert ids(airflow, task_name="rv_slow", status="New") == made["waiting"][::-1]
    assert ids(airflow, task_name="rv_slow", status="Processing") == [made["busy"]]
    assert ids(airflow, task="V_GOO") == good[::-1], "task: name contains, any case"
    assert ids(airflow, task_name="rv_goo") == [], "task_name: equals"
    assert ids(airflow, task_name="rv_good", args="us") == [good[1]]
    assert ids(airflow, project="rv_one", args="region") == [bad[1], good[1], good[0]]
    assert ids(airflow, args=TOKEN) == [], "a secret argument is not searchable"
    assert ids(airflow, args=TOKEN[:12]) == []
    stamp = made["between"].strftime("%Y%m%dT%H%M%S")
    assert ids(airflow, project="rv_one", created_from=stamp) == []
    assert ids(airflow, project="rv_one", created_to=stamp) == [r for _, r in reversed(made["order"])]
    assert set(ids(airflow, project="rv_two", created_from=stamp)) == {made["busy"], *made["waiting"]}
    assert ids(airflow, project="rv_one", updated_from=stamp) == []
    assert ids(airflow, project="rv_two", updated_to="20000101") == []
    bad_status = call(airflow, "GET", "/runs", params={"status": "Done"})
    assert bad_status.status_code == 422 and "`Done` is not a run status" in bad_status.text
    assert call(airflow, "GET", "/runs", params={"created_from": "yesterday"}).status_code == 422
    page = listed(airflow, user="admin", project="rv_one", limit=2, offset=2)
    assert page["total"] == 5 and [r["run_id"] for r in page["runs"]] == [made["order"][2][1], made["order"][1][1]]


def test_arguments_are_masked_and_no_secret_leaks(airflow: AirflowInstance, made: dict[str, Any]) -> None:
    resp = call(airflow, "GET", "/runs", params={"task_name": "rv_good", "limit": 100})
    assert TOKEN not in resp.text and SECRET not in resp.text
    [with_token] = [r for r in resp.json()["runs"] if r["run_id"] == made["good"][1]]
    assert with_token["conf"] == {"region": "US", "api_token": "***"}


def test_viewer_reads_but_cannot_act(airflow: AirflowInstance, made: dict[str, Any]) -> None:
    assert ids(airflow, project="rv_one") == [r for _, r in reversed(made["order"])]
    assert call(airflow, "GET", "/runs", user=None).status_code == 401
    viewer = ok(call(airflow, "GET", "/runs", user="viewer", params={"project": "rv_one"}))
    assert viewer["total"] == 5
    refused = call(airflow, "POST", "/runs/retry", user="viewer", json={"filter": {"task_name": "rv_bad"}})
    assert refused.status_code == 403
    assert [run_state(airflow, "rv_bad", r)["state"] for r in made["bad"]] == ["failed", "failed"], "nothing done"


def test_bulk_by_run_filter_acts_on_exactly_the_matching_runs(airflow: AirflowInstance, made: dict[str, Any]) -> None:
    skipped = ok(call(airflow, "POST", "/runs/skip", json={"filter": {"task_name": "rv_slow"}}))
    assert {r["run_id"] for r in skipped["results"]} == set(made["waiting"]), "not the processing run"
    assert skipped["done"] == 2 and skipped["refused"] == 0
    assert run_state(airflow, "rv_slow", made["busy"])["task_status"] == "Processing"

    only_us = ok(call(airflow, "POST", "/runs/retry", json={"filter": {"task_name": "rv_bad", "args": "US"}}))
    assert [r["run_id"] for r in only_us["results"]] == [made["bad"][1]]
    wait_run(airflow, "rv_bad", made["bad"][1])
    both = ok(call(airflow, "POST", "/runs/retry", json={"filter": {"task_name": "rv_bad", "status": "Failed"}}))
    assert [r["run_id"] for r in both["results"]] == made["bad"], "the older run too, not only the newest"
    assert both["done"] == 2
    for run_id in made["bad"]:
        assert run_state(airflow, "rv_bad", run_id)["state"] in ("queued", "running", "failed")
        assert wait_run(airflow, "rv_bad", run_id)["state"] == "failed"
    none = ok(call(airflow, "POST", "/runs/retry", json={"filter": {"task": "rv_", "status": "New"}}))
    assert none == {"done": 0, "refused": 0, "results": []}, "retry never targets runs that are not ended"
    # the GET /tasks keys keep their meaning: by task name, retry takes the task's newest run only
    legacy = ok(call(airflow, "POST", "/runs/retry", json={"filter": {"name": "rv_good"}}))
    assert [r["run_id"] for r in legacy["results"]] == [made["good"][-1]]
    wait_run(airflow, "rv_good", made["good"][-1])


def page_of(browser: Browser, airflow: AirflowInstance, user: str = "admin") -> Page:
    context = browser.new_context(base_url=airflow.base_url, viewport={"width": 1400, "height": 900})
    return sign_in(context, user)


def test_runs_page_filter_select_all_matching_and_retry(
    browser: Browser, airflow: AirflowInstance, made: dict[str, Any]
) -> None:
    for run_id in made["bad"]:
        wait_run(airflow, "rv_bad", run_id)
    page = page_of(browser, airflow)
    try:
        page.goto("/")
        page.get_by_role("link", name="Batch Tasks").click()
        ui = page.frame_locator("iframe[title='Batch Tasks']")
        ui.get_by_role("link", name="Runs", exact=True).click()
        expect(ui.get_by_role("heading", name="Runs")).to_be_visible()
        ui.get_by_label("Project").fill("rv_one")
        ui.get_by_role("checkbox", name="Failed").check()
        ui.get_by_role("button", name="Apply filters").click()
        rows = ui.locator("#runs-table tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.first).to_contain_text("rv_bad")
        expect(rows.first.locator(".status")).to_have_text("Failed")
        expect(rows.first.get_by_role("link", name="rv_bad")).to_have_attribute(
            "href", re.compile(r"/tasks/rv_bad/runs/"))
        ui.get_by_label("Select all runs on this page").check()
        expect(ui.get_by_role("button", name="Retry 2")).to_be_enabled()
        ui.get_by_label("Select all runs on this page").uncheck()
        ui.get_by_role("checkbox", name=re.compile("All 2 runs matching the filters")).check()
        expect(ui.get_by_text("All runs matching the filters.")).to_be_visible()
        ui.get_by_role("button", name="Retry all matching").click()
        expect(ui.get_by_role("heading", name="Bulk retry: results")).to_be_visible()
        expect(ui.get_by_role("status")).to_contain_text("2 done, 0 refused")
        results = ui.locator("table.grid tbody tr")
        for run_id in made["bad"]:
            expect(results.filter(has_text=run_id)).to_have_count(1)
        ui.get_by_role("link", name="Back to the list").click()
        expect(ui.get_by_label("Project")).to_have_value("rv_one")
    finally:
        page.context.close()
    for run_id in made["bad"]:
        assert wait_run(airflow, "rv_bad", run_id)["state"] == "failed"


def test_runs_page_single_retry_and_args_search(
    browser: Browser, airflow: AirflowInstance, made: dict[str, Any]
) -> None:
    page = page_of(browser, airflow)
    try:
        page.goto(f"{UI}/runs?task_name=rv_good&args=us")
        rows = page.locator("#runs-table tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("api_token=***")
        expect(rows.first).not_to_contain_text(TOKEN)
        rows.first.get_by_role("button", name=re.compile("Retry run")).click()
        expect(page.locator(".flash-ok")).to_contain_text("queued again")
        assert "args=us" in page.url
        page.goto(f"{UI}/runs?args={TOKEN}")
        expect(page.get_by_text("No run matches these filters.")).to_be_visible()
    finally:
        page.context.close()
    wait_run(airflow, "rv_good", made["good"][1])
    viewer = page_of(browser, airflow, "viewer")
    try:
        viewer.goto(f"{UI}/runs?project=rv_one")
        expect(viewer.locator("#runs-table tbody tr")).to_have_count(5)
        expect(viewer.get_by_role("button", name=re.compile("Retry"))).to_have_count(0)
    finally:
        viewer.context.close()
