"""The New / Edit pages of definitions in a real browser against a real Airflow.

One Airflow for the module (the API tests' definitions plus an orchestration);
Debian's Chromium driven by Playwright, logged in through Airflow's own login
page. A SQL task is made with the form (connection from the pickers' list when
that API answers, cron generated and applied), lands in the definitions folder,
shows in All Tasks after the parse and delivers its file; an edit with an error
shows it at the field and writes nothing; the YAML tab keeps comments; steps of an
orchestration are reordered and saved; a viewer gets no New / Edit control and a
forged write is refused; a task is created with the keyboard only; light and dark
screenshots go to the module's temporary folder (and to ``BATCHTASKS_UI_SCREENSHOTS``).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from playwright.sync_api import Browser, Page, expect

from tests.e2e.airflow_instance import AirflowInstance
from tests.e2e.api_support import call, ok, serving, start_api_airflow, wait_for, wait_run
from tests.e2e.browser_support import sign_in

pytestmark = pytest.mark.e2e
expect.set_options(timeout=30_000)

UI = "/batchtasks/ui"
SHOTS = {"authoring_task_light", "authoring_task_dark", "authoring_orchestration_yaml"}

CHAIN = """
kind: orchestration
name: auth_chain
description: Two steps
steps:
  - task: daily_sales
  - task: slow_split
"""


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("authoring_ui")


@pytest.fixture(scope="module")
def airflow(root: Path) -> Iterator[AirflowInstance]:
    instance = start_api_airflow(root, extra_definitions={"auth_chain": CHAIN})
    with serving(instance, ("daily_sales", "auth_chain"), timeout=180):
        yield instance


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("authoring_screenshots")


def login(browser: Browser, airflow: AirflowInstance, user: str = "admin", dark: bool = False) -> Page:
    context = browser.new_context(base_url=airflow.base_url, viewport={"width": 1280, "height": 900},
                                  color_scheme="dark" if dark else "light")
    page = sign_in(context, user)
    page.on("pageerror", lambda exc: print(f"page error: {exc}"))  # shown with a failing test
    page.on("console", lambda msg: print(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    return page


@pytest.fixture
def admin(browser: Browser, airflow: AirflowInstance) -> Iterator[Page]:
    page = login(browser, airflow)
    yield page
    page.context.close()


def shot(page: Page, shots: Path, name: str) -> None:
    path = shots / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    target = os.environ.get("BATCHTASKS_UI_SCREENSHOTS")
    if target and name in SHOTS:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(target) / path.name)


def valid(page: Page) -> None:
    expect(page.locator("[data-state]")).to_have_text("Valid")
    expect(page.get_by_role("button", name="Save")).to_be_enabled()


def pickers_exist(airflow: AirflowInstance) -> bool:
    return call(airflow, "GET", "/pickers/connections").status_code == 200


# ----------------------------------------------------------------------------------------------- tests


def test_create_a_sql_task_with_the_form(admin: Page, airflow: AirflowInstance, root: Path, shots: Path) -> None:
    # the pickers list the connections stored in Airflow's database (not those of environment variables)
    made = airflow.api("POST", "/api/v2/connections",
                       json={"connection_id": "shop_db", "conn_type": "sqlite", "host": str(root / "shop.db")})
    assert made.status_code == 201, made.text
    admin.goto(f"{UI}/tasks")
    admin.get_by_role("link", name="New task").click()
    expect(admin.get_by_role("heading", name="New task")).to_be_visible()
    admin.get_by_label("Name", exact=True).fill("daily_sales")
    expect(admin.locator("[data-field='name'] .field-error")).to_contain_text("already defined")
    expect(admin.get_by_role("button", name="Save")).to_be_disabled()
    admin.get_by_label("Name", exact=True).fill("form_sales")
    admin.get_by_label("Description", exact=True).fill("Made with the form")
    admin.get_by_label("Source type").select_option("sql")
    if pickers_exist(airflow):
        expect(admin.locator("#dl-conn-source option[value='shop_db']")).to_have_count(1)
    admin.get_by_label("Connection", exact=True).fill("shop_db")
    admin.get_by_label("Query", exact=True).fill("select id, amount from sales order by id")
    admin.get_by_label("File name", exact=True).fill("form_sales.csv")
    admin.get_by_label("Runs", exact=True).select_option("weekly")
    admin.get_by_label("At (HH:MM)", exact=True).fill("07:30")
    admin.get_by_label("On", exact=True).select_option("1-5")
    admin.get_by_label("Time zone", exact=True).fill("Europe/Paris")
    admin.get_by_role("button", name="Generate and Apply").click()
    expect(admin.locator("[data-sched-result]")).to_contain_text("Next:")
    expect(admin.locator("#f-schedule")).to_have_value("30 7 * * 1-5")
    admin.get_by_role("button", name="Add destination").click()
    admin.get_by_label("Folder of destination 1").fill(str(root / "out" / "form"))
    valid(admin)
    shot(admin, shots, "authoring_task_light")
    admin.get_by_role("button", name="Save").click()
    expect(admin.locator("[data-saved]")).to_contain_text("Saved")
    expect(admin.locator("[data-saved]").get_by_role("link", name="Task Details")).to_be_visible()

    written = yaml.safe_load((root / "definitions" / "form_sales.yaml").read_text())
    assert (written["schedule"], written["timezone"]) == ("30 7 * * 1-5", "Europe/Paris")
    assert written["source"] == {"type": "sql", "conn_id": "shop_db",
                                 "query": "select id, amount from sales order by id"}

    airflow.wait_for_dag("form_sales", timeout=180)
    admin.goto(f"{UI}/tasks")
    expect(admin.get_by_role("link", name="form_sales", exact=True)).to_be_visible()
    run = ok(call(airflow, "POST", "/tasks/form_sales/runs", json={}))
    assert wait_run(airflow, "form_sales", run["run_id"])["state"] == "success"
    wait_for("the delivered file", lambda: (root / "out" / "form" / "form_sales.csv").exists())


def test_an_error_shows_at_its_field_and_nothing_is_written(admin: Page, root: Path) -> None:
    path = root / "definitions" / "daily_sales.yaml"
    before = path.read_text()
    admin.goto(f"{UI}/definitions/edit/task/daily_sales")
    valid(admin)
    admin.locator("summary", has_text="Query preview").click()
    admin.get_by_label("Run arguments").fill("region=US")
    admin.get_by_role("button", name="Preview query").click()
    expect(admin.locator("[data-preview-out] pre")).to_contain_text("where region = ?")
    expect(admin.locator("[data-preview-out] table")).to_contain_text('"US"')
    admin.locator("summary", has_text="Retries").click()  # an optional section, closed while unused
    admin.get_by_label("Delay", exact=True).fill("soon")
    expect(admin.locator("[data-field='retries.delay'] .field-error")).to_be_visible()
    expect(admin.get_by_label("Delay", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(admin.get_by_role("button", name="Save")).to_be_disabled()
    assert path.read_text() == before, "nothing written while invalid"
    admin.get_by_label("Delay", exact=True).fill("10m")
    valid(admin)
    admin.get_by_role("button", name="Save").click()
    expect(admin.locator("[data-saved]")).to_contain_text("Saved")
    assert "delay: 10m" in path.read_text()


def test_yaml_tab_round_trip_keeps_a_comment(admin: Page, root: Path) -> None:
    admin.goto(f"{UI}/definitions/edit/task/slow_split")
    valid(admin)
    admin.get_by_role("tab", name="YAML").click()
    editor = admin.locator(".cm-content")
    if editor.count():
        editor.click()
        admin.keyboard.press("Control+Home")
        admin.keyboard.type("# kept by the form")
        admin.keyboard.press("Escape")  # no completion popup takes the Enter
        admin.keyboard.press("Enter")
    else:
        area = admin.locator("#yaml-text")
        area.fill("# kept by the form\n" + area.input_value())
    admin.get_by_role("tab", name="Form").click()
    admin.get_by_label("Description", exact=True).fill("Edited in the form")
    admin.get_by_role("tab", name="YAML").click()
    expect(admin.locator("#yaml-text")).to_have_value(re.compile(r"^# kept by the form\n"))
    valid(admin)
    admin.get_by_role("button", name="Save").click()
    expect(admin.locator("[data-saved]")).to_contain_text("Saved")
    text = (root / "definitions" / "slow_split.yaml").read_text()
    assert "# kept by the form" in text and "Edited in the form" in text and "time.sleep" in text


def test_reorder_orchestration_steps(admin: Page, root: Path) -> None:
    admin.goto(f"{UI}/orchestrations/auth_chain")
    admin.get_by_role("link", name="Edit", exact=True).click()
    expect(admin.get_by_role("heading", name="Edit orchestration auth_chain")).to_be_visible()
    valid(admin)
    admin.get_by_role("button", name="Move step 2 up").click()
    expect(admin.locator("[data-path='steps.0.task']")).to_have_value("slow_split")
    valid(admin)
    admin.get_by_role("button", name="Save").click()
    expect(admin.locator("[data-saved]")).to_contain_text("Saved")
    text = (root / "definitions" / "auth_chain.yaml").read_text()
    assert text.index("slow_split") < text.index("daily_sales")


def test_new_project_and_orchestration(admin: Page, root: Path, shots: Path) -> None:
    admin.goto(f"{UI}/tasks")
    admin.get_by_role("link", name="New project").click()
    admin.get_by_label("Name", exact=True).fill("form_project")
    admin.get_by_label("Owners", exact=True).fill("admin, alice")
    admin.get_by_role("checkbox", name=re.compile("in series")).check()
    valid(admin)
    admin.get_by_role("button", name="Save").click()
    expect(admin.locator("[data-saved]")).to_contain_text("Saved")
    project = yaml.safe_load((root / "definitions" / "form_project.yaml").read_text())
    assert (project["owners"], project["run_in_series"]) == (["admin", "alice"], True)

    admin.goto(f"{UI}/orchestrations")
    admin.get_by_role("link", name="New orchestration").click()
    admin.get_by_label("Name", exact=True).fill("form_chain")
    admin.locator("[data-path='steps.0.task']").fill("daily_sales")
    admin.get_by_role("button", name="Add step").click()
    admin.locator("[data-path='steps.1.task']").fill("slow_split")
    # 17:30 unquoted is the number 1050 to the server's YAML 1.1 reader: the form must write it quoted
    admin.locator("[data-path='steps.1.starts_after']").fill("17:30")
    admin.locator("[data-path='steps.1.run_on_parent_failure']").check()
    admin.get_by_role("tab", name="YAML").click()
    expect(admin.locator("[data-chain]")).to_contain_text("slow_split")
    valid(admin)
    shot(admin, shots, "authoring_orchestration_yaml")
    admin.get_by_role("button", name="Save").click()
    expect(admin.locator("[data-saved]")).to_contain_text("Saved")
    chain = yaml.safe_load((root / "definitions" / "form_chain.yaml").read_text())
    assert chain["steps"] == [{"task": "daily_sales"},
                              {"task": "slow_split", "starts_after": "17:30", "run_on_parent_failure": True}]


def test_delete_a_project_and_an_orchestration_from_their_edit_pages(admin: Page, root: Path) -> None:
    """Refused with the reason while tasks still belong to the project; an orchestration goes, its file's
    other documents stay."""
    sales_file = next(f for f in (root / "definitions").glob("*.yaml") if "name: sales\n" in f.read_text())
    before = sales_file.read_text()
    admin.goto(f"{UI}/definitions/edit/project/sales")
    admin.get_by_label(re.compile("to confirm")).fill("sales")
    admin.get_by_role("button", name="Delete project").click()
    expect(admin.locator("[data-flash]")).to_contain_text("unknown project `sales`")
    assert sales_file.read_text() == before, "a refused delete writes nothing"

    admin.goto(f"{UI}/definitions/edit/orchestration/auth_chain")
    admin.get_by_label(re.compile("to confirm")).fill("not_it")
    admin.get_by_role("button", name="Delete orchestration").click()
    expect(admin.locator("[data-flash]")).to_contain_text("to confirm the deletion")
    admin.get_by_label(re.compile("to confirm")).fill("auth_chain")
    admin.get_by_role("button", name="Delete orchestration").click()
    expect(admin.get_by_role("heading", name="Orchestrations")).to_be_visible()
    expect(admin.locator("[data-flash]")).to_contain_text("Orchestration auth_chain deleted")
    assert not any("name: auth_chain" in f.read_text() for f in (root / "definitions").glob("*.yaml"))


def test_viewer_sees_no_controls_and_a_forged_write_is_refused(browser: Browser, airflow: AirflowInstance) -> None:
    page = login(browser, airflow, "viewer")
    try:
        page.goto(f"{UI}/tasks?project=sales")
        expect(page.get_by_role("heading", name="All Tasks")).to_be_visible()
        expect(page.get_by_role("link", name="New task")).to_have_count(0)
        expect(page.get_by_role("link", name=re.compile("Edit project"))).to_have_count(0)
        page.goto(f"{UI}/orchestrations/auth_chain")
        expect(page.get_by_role("link", name="Edit", exact=True)).to_have_count(0)
        assert page.goto(f"{UI}/definitions/new/task").status == 403
        page.goto(f"{UI}/definitions/edit/task/daily_sales")
        expect(page.locator("[data-readonly]")).to_contain_text("Read-only")
        expect(page.get_by_role("button", name="Save")).to_have_count(0)
    finally:
        page.context.close()
    token = airflow.token("viewer")
    forged = httpx.post(f"{airflow.base_url}/batchtasks/api/v1/definitions", timeout=30,
                        headers={"Authorization": f"Bearer {token}"},
                        json={"yaml": "kind: task\nname: forged\nsource: {type: python}\n"})
    assert forged.status_code == 403


def test_keyboard_only_creation(admin: Page, root: Path) -> None:
    admin.goto(f"{UI}/definitions/new/task")
    admin.get_by_label("Name", exact=True).focus()
    admin.keyboard.press("Control+A")
    admin.keyboard.type("keyboard_task")
    for _ in range(60):  # Tab to the connection of the SQL source, then type it
        admin.keyboard.press("Tab")
        if admin.evaluate("() => document.activeElement.id") == "f-source-conn_id":
            break
    assert admin.evaluate("() => document.activeElement.id") == "f-source-conn_id", "the connection is reachable by Tab"
    admin.keyboard.type("shop")
    valid(admin)
    admin.get_by_role("button", name="Save").focus()
    admin.keyboard.press("Enter")
    expect(admin.locator("[data-saved]")).to_contain_text("Saved")
    assert (root / "definitions" / "keyboard_task.yaml").exists()
    unlabelled = admin.evaluate(
        "() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]"
        ".filter(e => !e.closest('[hidden]') && !(e.labels && e.labels.length) && !e.getAttribute('aria-label')"
        " && !(e.textContent || '').trim()).map(e => e.outerHTML)")
    assert unlabelled == [], "every control has a name"


def test_without_the_editor_bundle_the_yaml_text_still_works(admin: Page) -> None:
    admin.route("**/static/editor.js*", lambda route: route.abort())
    admin.goto(f"{UI}/definitions/edit/task/daily_sales")
    expect(admin.locator("[data-form-missing]")).to_be_visible()
    expect(admin.locator("#yaml-text")).to_be_visible()
    valid(admin)
    admin.locator("#yaml-text").fill("kind: task\nname: daily_sales\nsource: {type: sql, conn_id: shop}\nbogus: 1\n")
    expect(admin.locator("[data-errors]")).to_contain_text("bogus")
    expect(admin.get_by_role("button", name="Save")).to_be_disabled()


def test_dark_theme(browser: Browser, airflow: AirflowInstance, shots: Path) -> None:
    page = login(browser, airflow, dark=True)
    try:
        page.goto(f"{UI}/definitions/edit/task/daily_sales")
        valid(page)
        shot(page, shots, "authoring_task_dark")
    finally:
        page.context.close()
