"""The UI pages in a real browser, inside a real Airflow's UI.

One Airflow for the module (api-server, scheduler, dag-processor, triggerer on
loopback, SQLite, LocalExecutor) with the API tests' definitions plus an SFTP
feed and a slow orchestration; Debian's Chromium driven by Playwright (headless).
The browser logs in through Airflow's own login page, opens "Batch Tasks" in
Airflow's navigation and works in the iframe Airflow shows it in, as a user
would: filters, runs a task with arguments and watches its status change
without reloading, downloads and resends a file (which arrives again on the
SFTP server), bulk-skips queued runs, launches and cancels an orchestration
instance, uses the keyboard, and switches Airflow to dark mode, in file order like a
user session. A test that needs a run makes one (``ended_run``) rather than rely on an
earlier test's; only the first tests, which see a fresh instance, must come before runs.

Screenshots go to the module's temporary folder; set
``BATCHTASKS_UI_SCREENSHOTS=docs/screenshots`` to also copy the README's ones there.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, FrameLocator, Page, expect

from tests.e2e.airflow_instance import AirflowInstance
from tests.e2e.api_support import SECRET, call, ok, serving, start_api_airflow, wait_for, wait_run
from tests.e2e.browser_support import sign_in
from tests.servers import SshServer
from tests.servers.fixtures import sshd_server  # noqa: F401 - fixture

pytestmark = pytest.mark.e2e
expect.set_options(timeout=30_000)  # pages of a busy 2-core machine running Airflow: give them time

UI = "/batchtasks/ui"
#: Screenshots the README shows (copied when BATCHTASKS_UI_SCREENSHOTS is set).
README_SHOTS = {"all_tasks_light", "all_tasks_dark", "task_detail_light", "task_detail_dark", "bulk_skip_result",
                "orchestration_instance", "cron_helper"}

VENDOR = """
kind: task
name: vendor_feed
project: sales
description: Sales to the vendor's SFTP inbox
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

#: A long first step, so an instance can be cancelled while it runs.
UI_WAIT = """
kind: task
name: ui_wait
project: ops
description: Waits, then writes a file
params:
  seconds: {default: 180, type: integer}
source: {type: python}
processing:
  inline: |
    import os, time
    time.sleep(int(os.environ["BATCHTASK_PARAM_SECONDS"]))
    path = os.path.join(os.environ["BATCHTASK_WORK_DIR"], "waited.txt")
    open(path, "w").write("done\\n")
    print([path])
destinations:
  - type: local
    path: __OUT__
---
kind: orchestration
name: ui_chain
description: A long wait, then the sales extract
steps:
  - task: ui_wait
  - task: daily_sales
"""


# ----------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def inbox(sshd_server: SshServer) -> Path:  # noqa: F811
    path = sshd_server.root / f"ui_inbox_{uuid.uuid4().hex[:6]}"
    path.mkdir()
    return path


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ui_browser")


@pytest.fixture(scope="module")
def airflow(root: Path, inbox: Path, sshd_server: SshServer) -> Iterator[AirflowInstance]:  # noqa: F811
    sftp = json.dumps(sshd_server.connection())
    instance = start_api_airflow(
        root,
        extra_definitions={"vendor_feed": VENDOR.replace("__INBOX__", str(inbox)),
                           "ui_wait": UI_WAIT.replace("__OUT__", str(root / "out"))},
        env={"AIRFLOW_CONN_VENDOR_SFTP": sftp},
    )
    with serving(instance, ("daily_sales", "slow_split", "flaky_export", "vendor_feed", "warehouse_export",
                            "ui_wait", "ui_chain"), timeout=180):
        yield instance


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ui_screenshots")


def login(browser: Browser, airflow: AirflowInstance, user: str = "admin") -> Page:
    """A new browser context logged in through Airflow's own login page."""
    context = browser.new_context(base_url=airflow.base_url, viewport={"width": 1280, "height": 860},
                                  accept_downloads=True)
    return sign_in(context, user)


@pytest.fixture
def admin(browser: Browser, airflow: AirflowInstance) -> Iterator[Page]:
    page = login(browser, airflow)
    yield page
    page.context.close()


def frame(page: Page) -> FrameLocator:
    """The Batch Tasks iframe of Airflow's UI."""
    return page.frame_locator("iframe[title='Batch Tasks']")


def open_in_airflow(page: Page, path: str = "") -> FrameLocator:
    """Open Batch Tasks from Airflow's navigation, then ``path`` (below /batchtasks/ui) inside the frame."""
    page.goto("/")
    page.get_by_role("link", name="Batch Tasks").click()
    expect(page).to_have_url(re.compile(r"/plugin/batch-tasks"))
    ui = frame(page)
    expect(ui.get_by_role("heading", name="All Tasks")).to_be_visible()
    if path:
        page.goto(f"/plugin/batch-tasks{UI}{path}")
    return frame(page)


def shot(page: Page, shots: Path, name: str, height: int | None = None) -> None:
    """Save a screenshot (``height``: a taller window first, to show a whole page of the frame)."""
    path = shots / f"{name}.png"
    size = page.viewport_size
    if height and size:
        page.set_viewport_size({"width": size["width"], "height": height})
        page.wait_for_timeout(300)
    page.screenshot(path=str(path))
    if height and size:
        page.set_viewport_size(size)
    target = os.environ.get("BATCHTASKS_UI_SCREENSHOTS")
    if target and name in README_SHOTS:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(target) / path.name)


def expect_tasks(ui: FrameLocator | Page, names: list[str]) -> None:
    """The task table lists exactly ``names`` (retried until the page that shows them has loaded)."""
    rows = ui.locator("#tasks-table tbody th.name > a")
    if names:
        expect(rows).to_have_text(names)
    else:
        expect(rows).to_have_count(0)
        expect(ui.get_by_text("No task matches these filters.")).to_be_visible()


def bearer(airflow: AirflowInstance, user: str = "admin") -> dict[str, str]:
    return {"Authorization": f"Bearer {airflow.token(user)}"}


def page_html(airflow: AirflowInstance, path: str, user: str = "admin") -> httpx.Response:
    """A page as ``user`` (bearer token; no cookie jar, so flash cookies never leak between calls)."""
    return httpx.get(airflow.base_url + UI + path, headers=bearer(airflow, user), timeout=30)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "the page carries a CSRF token in its forms"
    return match.group(1)


def runs_of(airflow: AirflowInstance, task: str) -> list[dict[str, Any]]:
    return ok(call(airflow, "GET", f"/tasks/{task}/runs"))["runs"]


def ended_run(airflow: AirflowInstance, task: str) -> dict[str, Any]:
    """The task's newest run once every run of it has ended; one is started first if it has none.

    For tests that need a run to look at: they make it themselves rather than rely on an earlier test's.
    """
    if not runs_of(airflow, task):
        ok(call(airflow, "POST", f"/tasks/{task}/runs", json={}))
    for run in runs_of(airflow, task):
        wait_run(airflow, task, run["run_id"])
    return runs_of(airflow, task)[0]


# ----------------------------------------------------------------------------------------------- tests


def test_login_then_batch_tasks_in_airflow_navigation(
    browser: Browser, airflow: AirflowInstance, shots: Path
) -> None:
    """Airflow's login, its navigation entry, the iframe it shows, and the deep link it keeps in its URL."""
    page = login(browser, airflow)
    try:
        ui = open_in_airflow(page)
        expect_tasks(ui, ["daily_sales", "flaky_export", "slow_split", "ui_wait", "vendor_feed",
                          "warehouse_export"])  # tasks only: no project, orchestration or error DAG
        expect(ui.get_by_text("Signed in as")).to_contain_text("admin")
        row = ui.locator("#tasks-table tbody tr").filter(has_text="warehouse_export")
        expect(row.locator(".badge")).to_have_text("Disabled")
        expect(ui.locator("#tasks-table .status").first).to_have_text("New")
        shot(page, shots, "all_tasks_light")

        ui.get_by_role("link", name="daily_sales", exact=True).click()
        expect(ui.get_by_role("heading", name=re.compile("daily_sales"))).to_be_visible()
        expect(page).to_have_url(re.compile(r"/plugin/batch-tasks/batchtasks/ui/tasks/daily_sales$")), \
            "Airflow mirrors the frame's page in its own URL (a link to it opens the same page)"
        page.reload()
        expect(frame(page).get_by_role("heading", name=re.compile("daily_sales"))).to_be_visible()
    finally:
        page.context.close()


def test_a_page_without_a_session_goes_through_airflow_login(browser: Browser, airflow: AirflowInstance) -> None:
    context = browser.new_context(base_url=airflow.base_url)
    try:
        page = context.new_page()
        page.goto(f"{UI}/tasks?q=sales")
        expect(page).to_have_url(re.compile(r"/auth/login\?next="))
        page.get_by_label("Username").fill("viewer")
        page.get_by_label("Password").fill("viewer")
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(re.compile(rf"{UI}/tasks\?q=sales$"))
        expect(page.get_by_text("Signed in as")).to_contain_text("viewer")
        expect_tasks(page, ["daily_sales"])
    finally:
        context.close()


def test_an_ended_session_inside_airflow_goes_to_airflow_login(browser: Browser, airflow: AirflowInstance) -> None:
    page = login(browser, airflow)
    try:
        ui = open_in_airflow(page)
        page.context.clear_cookies()  # the session ends (expired, or logged out in another tab)
        ui.get_by_role("link", name="My Tasks").click()
        expect(ui.get_by_role("heading", name="Not signed in")).to_be_visible()
        ui.get_by_role("link", name="Sign in to Airflow").click()
        expect(page).to_have_url(re.compile(r"/auth/login\?next="))
        expect(page.locator("iframe")).to_have_count(0), "Airflow's own login page, not one inside the frame"
    finally:
        page.context.close()


def test_filters_clouds_and_pagination(admin: Page, airflow: AirflowInstance) -> None:
    ui = open_in_airflow(admin)
    owners = ui.get_by_role("region", name="Owners")
    projects = ui.get_by_role("region", name="Projects")
    expect(owners.get_by_role("link")).to_have_text([re.compile(r"^admin"), re.compile(r"^alice"),
                                                     re.compile(r"^op")])
    everything = ["daily_sales", "flaky_export", "slow_split", "ui_wait", "vendor_feed", "warehouse_export"]
    for chip in ui.locator("label.chip").all():  # the counts are the API's totals for the same filter
        status, count = chip.inner_text().split()
        assert int(count) == ok(call(airflow, "GET", "/tasks", params={"status": status}))["total"], status
    projects.get_by_role("link", name=re.compile(r"^ops: 3 tasks")).click()
    expect_tasks(ui, ["flaky_export", "slow_split", "ui_wait"])
    expect(projects.get_by_role("link", name=re.compile("^ops"))).to_have_attribute("aria-current", "true")

    ui.get_by_role("link", name="Clear filters").click()
    expect_tasks(ui, everything)
    ui.get_by_label("Name contains").fill("SAL")
    ui.get_by_role("button", name="Apply filters").click()
    expect_tasks(ui, ["daily_sales"])

    ui.get_by_role("link", name="Clear filters").click()
    expect_tasks(ui, everything)
    ui.get_by_label("Owner", exact=True).select_option("op")
    ui.locator("label.chip", has_text="New").get_by_role("checkbox").check()
    ui.get_by_role("button", name="Apply filters").click()
    expect_tasks(ui, ["flaky_export", "slow_split", "ui_wait"])
    ui.locator("label.chip", has_text="Finished").get_by_role("checkbox").check()
    ui.locator("label.chip", has_text="New").get_by_role("checkbox").uncheck()
    ui.get_by_role("button", name="Apply filters").click()
    expect_tasks(ui, [])

    ui.get_by_role("link", name="Clear filters").click()
    expect_tasks(ui, everything)
    ui.get_by_label("Created from").fill("2099-01-01")
    ui.get_by_role("button", name="Apply filters").click()
    expect_tasks(ui, [])
    ui.get_by_label("Created from").fill("2000-01-01")
    ui.get_by_role("button", name="Apply filters").click()
    expect_tasks(ui, everything)

    admin.goto(f"/plugin/batch-tasks{UI}/tasks?limit=2")
    ui = frame(admin)
    pager = ui.get_by_role("navigation", name="Pages of tasks")
    expect(pager).to_contain_text("1–2 of 6 tasks")
    expect(pager).to_contain_text("Page 1 of 3")
    expect_tasks(ui, ["daily_sales", "flaky_export"])
    pager.get_by_role("link", name="Next ›").click()
    expect(pager).to_contain_text("Page 2 of 3")
    expect_tasks(ui, ["slow_split", "ui_wait"])
    pager.get_by_role("link", name="Last »").click()
    expect(pager).to_contain_text("Page 3 of 3")
    expect_tasks(ui, ["vendor_feed", "warehouse_export"])

    bad = page_html(airflow, "/tasks?created_from=2022-02-30x")
    assert bad.status_code == 422 and "created_from" in bad.text, "a bad filter is reported, not a crash"


def test_run_with_arguments_and_watch_its_status(admin: Page, airflow: AirflowInstance, shots: Path) -> None:
    before = len(runs_of(airflow, "daily_sales"))
    ui = open_in_airflow(admin)
    ui.get_by_role("link", name="daily_sales", exact=True).click()
    args = ui.get_by_label("Run now with arguments")
    args.fill("region=XX")
    ui.get_by_role("button", name="Run now").click()
    error = ui.locator("#run-args-error")
    expect(error).to_have_text("argument `region`: 'XX' is not one of ['EU', 'US']"), "the API's 422 message"
    expect(ui.get_by_label("Run now with arguments")).to_have_attribute("aria-invalid", "true")
    expect(ui.get_by_label("Run now with arguments")).to_have_value("region=XX"), "what was typed is kept"
    assert len(runs_of(airflow, "daily_sales")) == before, "nothing was queued"

    ui.get_by_label("Run now with arguments").fill("region=US limit=5")
    ui.get_by_role("button", name="Run now").click()
    expect(ui.locator(".flash-ok")).to_contain_text("queued with region=US limit=5")
    runs = runs_of(airflow, "daily_sales")
    assert len(runs) == before + 1, "one run queued"
    run = runs[0]
    assert run["conf"] == {"region": "US", "limit": 5} and run["started_by"] == "admin"

    ui.locator("body").evaluate("body => { window.__notReloaded = true; }")
    expect(ui.locator("#task-head .status")).to_have_text("Finished", timeout=180_000)
    assert ui.locator("body").evaluate("() => window.__notReloaded === true"), \
        "the status changed in place (live refresh), the page was not reloaded"
    row = ui.locator("#runs tbody tr").first
    expect(row.locator(".status")).to_have_text("Finished")
    expect(row).to_contain_text("region=US limit=5")
    expect(row).to_contain_text("sales_US.csv")
    shot(admin, shots, "task_detail_light", height=1500)

    row.get_by_role("link", name=re.compile("in Airflow's grid")).click()
    expect(admin).to_have_url(re.compile(r"/dags/daily_sales/runs/manual__"))
    expect(admin.locator("iframe[title='Batch Tasks']")).to_have_count(0), \
        "Airflow's own run page opens in Airflow's UI, not nested in the frame"


def test_step_logs_link_to_airflow(admin: Page, airflow: AirflowInstance) -> None:
    ended_run(airflow, "daily_sales")
    ui = open_in_airflow(admin, "/tasks/daily_sales")
    ui.locator("#runs tbody tr").first.locator("th.run a").click()
    steps = ui.locator("#steps tbody tr")
    expect(steps).to_have_count(3)
    expect(steps.locator("th")).to_have_text(["extract", "package", "deliver"])
    steps.first.get_by_role("link", name=re.compile("Log of step extract")).click()
    expect(admin).to_have_url(re.compile(r"/dags/daily_sales/runs/.+/tasks/extract"))


def test_download_and_resend_to_sftp(
    admin: Page, airflow: AirflowInstance, inbox: Path, shots: Path
) -> None:
    ui = open_in_airflow(admin, "/tasks/vendor_feed")
    ui.get_by_role("button", name="Run now").click()
    expect(ui.locator(".flash-ok")).to_contain_text("queued")
    expect(ui.locator("#task-head .status")).to_have_text("Finished", timeout=180_000)
    [delivered] = list(inbox.iterdir())
    sent = delivered.read_bytes()

    files = ui.locator("#files")
    expect(files.locator("tbody tr")).to_have_count(1)
    with admin.expect_download() as download:
        files.get_by_role("link", name=re.compile(r"^Download vendor_\d{8}\.csv$")).first.click()
    got = Path(download.value.path()).read_bytes()
    assert download.value.suggested_filename == delivered.name
    assert got == sent, "the archived file is the delivered one"
    expect(files.locator("code[title]")).to_have_attribute("title", hashlib.md5(sent).hexdigest())

    delivered.unlink()
    files.get_by_role("button", name=re.compile(f"Resend {delivered.name}")).click()
    expect(ui.locator(".flash-ok")).to_contain_text(f"Resend of {delivered.name} queued")
    expect(ui.locator("#files tbody tr").first).to_contain_text(re.compile(r"by admin: (queued|running|done)"))
    # a worker sends it; the page refreshes itself while the resend is in progress
    expect(ui.locator("#files tbody tr").first).to_contain_text("by admin: done", timeout=180_000)
    wait_for("the resent file on the SFTP server", lambda: (inbox / delivered.name).exists(), timeout=30)
    assert hashlib.md5((inbox / delivered.name).read_bytes()).hexdigest() == hashlib.md5(sent).hexdigest()


def test_bulk_skip_queued_runs(admin: Page, airflow: AirflowInstance, shots: Path) -> None:
    ui = open_in_airflow(admin, "/tasks/slow_split")
    runs = ui.locator("#runs tbody tr:has(.status)")
    for count in (1, 2, 3):  # one runs for 40 s, the two others wait behind it (one run at a time)
        ui.get_by_label("Run now with arguments").fill("seconds=40")
        ui.get_by_role("button", name="Run now").click()
        expect(runs).to_have_count(count)
    expect(ui.locator(".flash-ok")).to_contain_text("queued with seconds=40")
    expect(runs.last.locator(".status")).to_have_text("Processing", timeout=120_000)
    expect(runs.nth(0).locator(".status")).to_have_text("New")
    expect(runs.nth(1).locator(".status")).to_have_text("New")

    select_all = ui.get_by_label("Select all runs on this page")
    select_all.check()
    skip = ui.get_by_role("button", name="Skip 3")
    expect(skip).to_be_enabled()
    skip.click()
    expect(ui.get_by_role("heading", name="Bulk skip: results")).to_be_visible()
    expect(ui.get_by_role("status")).to_contain_text("2 done, 1 refused")
    results = ui.locator("table.grid tbody tr")
    expect(results).to_have_count(3)
    refused = results.filter(has_text="refused")
    expect(refused).to_have_count(1)
    expect(refused).to_contain_text("already processing")
    shot(admin, shots, "bulk_skip_result")
    statuses = sorted((r["task_status"], r["skipped"]) for r in runs_of(airflow, "slow_split"))
    assert statuses == [("Processing", False), ("Skipped", True), ("Skipped", True)]

    ui.get_by_role("link", name="Back to the list").click()
    expect(ui.locator("#runs tbody tr .status")).to_have_text(["Skipped", "Skipped", "Processing"])


def test_bulk_retry_from_all_tasks(admin: Page, airflow: AirflowInstance) -> None:
    first = ended_run(airflow, "daily_sales")  # the newest run: what a bulk retry of the task retries
    before = len(runs_of(airflow, "daily_sales"))
    ui = open_in_airflow(admin)
    ui.get_by_role("checkbox", name="Select daily_sales").check()
    expect(ui.get_by_text("1 selected.")).to_be_visible()
    ui.get_by_role("button", name="Retry 1").click()
    expect(ui.get_by_role("status")).to_contain_text("1 done, 0 refused")
    expect(ui.locator("table.grid tbody tr")).to_contain_text(first["run_id"])
    assert len(runs_of(airflow, "daily_sales")) == before, "retry runs the same run again"
    assert wait_run(airflow, "daily_sales", first["run_id"])["state"] == "success"

    ui.get_by_role("link", name="Back to the list").click()
    ui.get_by_label("Name contains").fill("slow_split")
    ui.get_by_role("button", name="Apply filters").click()
    ui.get_by_role("checkbox", name=re.compile("All 1 task matching the filters")).check()
    ui.get_by_role("button", name="Skip all matching").click()
    expect(ui.get_by_role("heading", name="Bulk skip: results")).to_be_visible()
    expect(ui.get_by_role("status")).to_contain_text("0 done, 0 refused"), \
        "by filter, only runs that have not started are targets: none left"


def test_orchestration_launch_and_cancel(admin: Page, airflow: AirflowInstance, shots: Path) -> None:
    ui = open_in_airflow(admin)
    ui.get_by_role("link", name="Orchestrations").click()
    row = ui.locator("table.grid tbody tr").filter(has_text="ui_chain")
    expect(row).to_contain_text("never run")
    row.get_by_role("button", name="Launch ui_chain now").click()
    expect(ui.locator(".flash-ok")).to_contain_text("launched")
    instance_id = re.search(r"Instance ([0-9a-f-]{36}) launched", ui.locator(".flash-ok").inner_text()).group(1)
    expect(ui.locator("#instance-head .status")).to_have_text("RUNNING", timeout=60_000)
    steps = ui.locator("#instance-steps tbody tr")
    expect(steps.first.locator(".status")).to_have_text("RUNNING", timeout=120_000)
    shot(admin, shots, "orchestration_instance")

    ui.get_by_role("button", name="Cancel this instance").click()
    expect(ui.locator(".flash-ok")).to_contain_text(f"Instance {instance_id} cancelled")
    expect(ui.locator("#instance-head .status")).to_have_text("CANCELLED", timeout=60_000)
    expect(ui.locator("#instance-head")).to_contain_text("cancelled by admin")
    report = ok(call(airflow, "GET", f"/orchestrations/ui_chain/instances/{instance_id}"))
    assert report["status"] == "CANCELLED"
    assert [s["status"] for s in report["steps"]][:1] == ["CANCELLED"]

    ui.get_by_role("link", name="ui_chain").click()
    expect(ui.locator("#instances tbody tr").first).to_contain_text(instance_id)
    expect(ui.locator("#instances tbody tr").first.locator(".status").first).to_have_text("CANCELLED")


def test_cancel_retry_duplicate_and_enable(admin: Page, airflow: AirflowInstance, root: Path) -> None:
    ui = open_in_airflow(admin, "/tasks/flaky_export")
    cancel = ui.get_by_role("button", name="Cancel retry")
    expect(cancel).to_be_disabled()
    ui.get_by_role("button", name="Run now").click()
    expect(ui.locator("#task-head .status")).to_have_text("Retry", timeout=180_000)
    admin.reload()
    ui = frame(admin)
    expect(ui.get_by_role("button", name="Cancel retry")).to_be_enabled()
    ui.get_by_role("button", name="Cancel retry").click()
    expect(ui.locator(".flash-ok")).to_contain_text("will not be retried")
    expect(ui.locator("#task-head .status")).to_have_text("Failed", timeout=60_000)

    ui = open_in_airflow(admin, "/tasks/daily_sales")
    ui.get_by_label("Duplicate as (created disabled)").fill("daily_sales")
    ui.get_by_role("button", name="Duplicate").click()
    expect(ui.locator("#dup-error")).to_contain_text("daily_sales")
    ui.get_by_label("Duplicate as (created disabled)").fill("daily_sales_ui_copy")
    ui.get_by_role("button", name="Duplicate").click()
    expect(ui.locator(".flash-ok")).to_contain_text("Duplicated as daily_sales_ui_copy (disabled)")
    copy = (root / "definitions" / "daily_sales_ui_copy.yaml").read_text()
    assert "name: daily_sales_ui_copy" in copy and "enabled: false" in copy, "a disabled copy, next to the original"

    dag = airflow.wait_for_dag("daily_sales_ui_copy", timeout=120)
    assert dag["is_paused"] is True, "the copy is disabled"
    ui = open_in_airflow(admin, "/tasks/daily_sales_ui_copy")
    expect(ui.get_by_role("heading", name=re.compile("daily_sales_ui_copy"))).to_contain_text("Disabled")
    ui.get_by_role("button", name="Enable task").click()
    expect(ui.locator(".flash-ok")).to_contain_text("Task enabled")
    assert airflow.api("GET", "/api/v2/dags/daily_sales_ui_copy").json()["is_paused"] is False
    assert "enabled: true" in (root / "definitions" / "daily_sales_ui_copy.yaml").read_text(), \
        "enable writes the definition, so YAML and the paused state agree"
    ui.get_by_role("button", name="Disable task").click()
    expect(ui.locator(".flash-ok")).to_contain_text("Task disabled")
    assert airflow.api("GET", "/api/v2/dags/daily_sales_ui_copy").json()["is_paused"] is True
    assert "enabled: false" in (root / "definitions" / "daily_sales_ui_copy.yaml").read_text()
    events = airflow.api("GET", "/api/v2/eventLogs", params={"dag_id": "daily_sales_ui_copy", "limit": 50}).json()
    assert {"batchtasks.enable", "batchtasks.disable"} <= {e["event"] for e in events["event_logs"]}, \
        "UI actions are in Airflow's audit log"


def test_cron_helper(admin: Page, shots: Path) -> None:
    ui = open_in_airflow(admin)
    ui.get_by_role("link", name="Cron helper").click()
    ui.get_by_label("Minute").fill("30")
    ui.get_by_label("Hour").fill("7")
    ui.get_by_label("Day of week").fill("MON-FRI")
    expect(ui.get_by_label("Cron expression (edit directly or build it on the left)")).to_have_value("30 7 * * MON-FRI")
    result = ui.locator("[data-cron-result]")
    expect(result.locator(".explain")).to_contain_text("At 07:30 AM, Monday through Friday")
    ui.get_by_label("Time zone").fill("Europe/Paris")
    expect(result).to_contain_text('timezone: Europe/Paris')
    expect(result.locator("ol li")).to_have_count(5)
    assert all("T07:30:00+0" in t for t in result.locator("ol li").all_inner_texts())
    shot(admin, shots, "cron_helper")
    ui.get_by_label("Cron expression (edit directly or build it on the left)").fill("61 * * * *")
    expect(result.locator(".field-error")).to_contain_text("61 * * * *")

    ui.get_by_role("link", name="Weekdays at 06:00").click()
    expect(ui.locator("[data-cron-result] .explain")).to_contain_text("At 06:00 AM, Monday through Friday")


def test_keyboard_only(admin: Page, airflow: AirflowInstance) -> None:
    admin.goto(f"{UI}/tasks")
    admin.keyboard.press("Tab")
    focused = admin.evaluate("() => document.activeElement.textContent.trim()")
    assert focused == "Skip to content", "the first Tab reaches the skip link"
    admin.keyboard.press("Enter")
    assert admin.evaluate("() => document.activeElement.id") == "main"
    seen = []
    for _ in range(80):
        admin.keyboard.press("Tab")
        seen.append(admin.evaluate(
            "() => { const e = document.activeElement; const s = getComputedStyle(e);"
            " return [e.tagName, (e.getAttribute('aria-label') || e.textContent || e.name || '').trim(),"
            " s.outlineStyle, s.outlineWidth]; }"))
        if seen[-1][1] == "Select daily_sales":
            break
    assert seen[-1][1] == "Select daily_sales", f"row checkboxes are reachable by Tab: {seen}"
    hidden = [item for item in seen if item[2] == "none" or item[3] == "0px"]
    assert hidden == [], "every focus is visible"
    admin.keyboard.press("Space")
    expect(admin.get_by_role("button", name="Retry 1")).to_be_enabled()
    admin.keyboard.press("Space")
    expect(admin.get_by_role("button", name="Retry 0")).to_be_disabled()
    admin.keyboard.press("Tab")
    admin.keyboard.press("Enter")
    expect(admin.get_by_role("heading", name=re.compile("daily_sales"))).to_be_visible(), \
        "Enter on the task link opens its page"

    unlabelled = admin.evaluate(
        "() => [...document.querySelectorAll('input:not([type=hidden]), select, button, a[href]')]"
        ".filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')"
        " && !(e.textContent || '').trim()).map(e => e.outerHTML)")
    assert unlabelled == [], "every control has a name"
    admin.get_by_label("Run now with arguments").focus()
    admin.keyboard.type("nope=1")
    admin.keyboard.press("Enter")
    expect(admin.locator("#run-args-error")).to_contain_text("unknown argument `nope`")


def test_dark_mode_follows_airflow(admin: Page, shots: Path) -> None:
    ui = open_in_airflow(admin)
    light = ui.locator("body").evaluate("b => getComputedStyle(b).backgroundColor")
    admin.get_by_role("button", name=re.compile("^User", re.I)).click()
    admin.get_by_role("menuitem", name="Appearance").click()
    admin.get_by_role("menuitemradio", name="Dark Mode").click()
    admin.keyboard.press("Escape")
    expect(admin.get_by_role("menuitemradio", name="Dark Mode")).to_be_hidden()
    expect(ui.locator("html")).to_have_class(re.compile(r"\bdark\b"))
    admin.wait_for_timeout(500)  # Airflow's menu fades out
    dark = ui.locator("body").evaluate("b => getComputedStyle(b).backgroundColor")
    parent = admin.evaluate("() => getComputedStyle(document.documentElement).getPropertyValue('--chakra-colors-bg')")
    assert dark != light and dark.replace(" ", "") == parent.strip().replace(" ", ""), \
        "the frame takes Airflow's own dark background"
    expect(ui.locator("#tasks-table .status").first).to_be_visible()
    shot(admin, shots, "all_tasks_dark")
    ui.get_by_role("link", name="daily_sales", exact=True).click()
    expect(ui.get_by_role("heading", name=re.compile("daily_sales"))).to_be_visible()
    shot(admin, shots, "task_detail_dark", height=1500)

    admin.get_by_role("button", name=re.compile("^User", re.I)).click()
    admin.get_by_role("menuitem", name="Appearance").click()
    admin.get_by_role("menuitemradio", name="Light Mode").click()
    expect(frame(admin).locator("html")).to_have_class(re.compile(r"\blight\b"))


# ----------------------------------------------------------------------------------------------- auth and secrets


def test_authentication_authorization_and_csrf(airflow: AirflowInstance) -> None:
    client = httpx.Client(base_url=airflow.base_url, timeout=30)  # own cookie jar: nothing carried over
    anonymous = client.get(f"{UI}/tasks", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/auth/login?next=%2Fbatchtasks%2Fui%2Ftasks")
    framed = client.get(f"{UI}/tasks", headers={"Sec-Fetch-Dest": "iframe"})
    assert framed.status_code == 401 and "Sign in to Airflow" in framed.text, "no login page nested in Airflow's UI"
    with httpx.Client(base_url=airflow.base_url, cookies={"_token": "not-a-jwt"}) as forger:
        forged = forger.get(f"{UI}/tasks")
    assert forged.status_code == 303, "an invalid token is no session"
    with httpx.Client(base_url=airflow.base_url, cookies={"_token": airflow.token("viewer")}) as browser_like:
        cookie = browser_like.get(f"{UI}/tasks")
    assert cookie.status_code == 200 and "Signed in as <strong>viewer</strong>" in cookie.text, \
        "Airflow's UI cookie authenticates the pages"
    assert page_html(airflow, "/tasks", "viewer").status_code == 200, "so does a bearer token"

    viewer_page = page_html(airflow, "/tasks/daily_sales", "viewer").text
    for action in ("Run now</button>", "Disable task</button>", "Resend</button>", "Duplicate</button>"):
        assert action not in viewer_page, f"a viewer is not offered {action}"
    assert 'name="run"' not in page_html(airflow, "/tasks", "viewer").text, "no bulk selection for a viewer"
    origin = {"Origin": airflow.base_url}
    before = len(runs_of(airflow, "daily_sales"))
    refused = client.post(f"{UI}/tasks/daily_sales/run", headers={**bearer(airflow, "viewer"), **origin},
                          data={"csrf": csrf_of(viewer_page), "args": ""})
    assert refused.status_code == 403 and "Not allowed" in refused.text, "refused server-side, not only hidden"

    admin_page = page_html(airflow, "/tasks/daily_sales").text
    token = csrf_of(admin_page)
    no_token = client.post(f"{UI}/tasks/daily_sales/run", headers={**bearer(airflow), **origin}, data={"args": ""})
    assert no_token.status_code == 403 and "expired or was not issued to you" in no_token.text
    cross_site = client.post(f"{UI}/tasks/daily_sales/run", data={"csrf": token, "args": ""},
                             headers={**bearer(airflow), "Origin": "https://evil.example"})
    assert cross_site.status_code == 403 and "Origin/Referer" in cross_site.text
    other_users = client.post(f"{UI}/tasks/daily_sales/run", headers={**bearer(airflow, "user"), **origin},
                              data={"csrf": token, "args": ""})
    assert other_users.status_code == 403, "a token is bound to the user it was issued to"
    assert len(runs_of(airflow, "daily_sales")) == before, "nothing was queued by any refused request"

    done = client.post(f"{UI}/tasks/daily_sales/run", headers={**bearer(airflow), **origin},
                       data={"csrf": token, "args": "region=EU"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"{UI}/tasks/daily_sales"
    assert len(runs_of(airflow, "daily_sales")) == before + 1
    bulk = client.post(f"{UI}/tasks/bulk", headers={**bearer(airflow, "viewer"), **origin},
                       data={"csrf": csrf_of(viewer_page), "action": "skip", "run": "daily_sales/x"})
    assert bulk.status_code == 403
    client.close()


def test_no_secret_in_any_page(airflow: AirflowInstance) -> None:
    paths = ["/tasks", "/my-tasks", "/orchestrations", "/orchestrations/ui_chain", "/cron"]
    for task in ("daily_sales", "warehouse_export", "vendor_feed", "slow_split", "flaky_export"):
        paths.append(f"/tasks/{task}")
        paths += [f"/tasks/{task}/runs/{r['run_id']}" for r in runs_of(airflow, task)[:3]]
    for path in paths:
        resp = page_html(airflow, path)
        assert resp.status_code == 200, (path, resp.status_code)
        assert SECRET not in resp.text, path
    warehouse = page_html(airflow, "/tasks/warehouse_export").text
    assert "warehouse" in warehouse and "db.invalid" not in warehouse, "connection ids only, never their fields"


def test_pages_are_fast(airflow: AirflowInstance) -> None:
    """Smoke check at this small size (the 1,000 x 100 benchmark is benchmarks/ui_latency.py)."""
    for path in ("/tasks", "/tasks?status=Finished", "/tasks/daily_sales"):
        page_html(airflow, path)
        started = time.monotonic()
        assert page_html(airflow, path).status_code == 200
        assert time.monotonic() - started < 2.0, path
