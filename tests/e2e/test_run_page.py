"""The run page's tabs, a step's log tail and a running extract's progress, against one real Airflow.

- a delivered CSV: the preview API and the Data tab show its first lines from the archive; an encrypted
  (``output.gpg``) file has none, and both say why;
- the extract and deliver steps' log tails through Airflow's log reader (API and tabs), with a link to
  the full log; an unknown step 404s, a bad ``tail`` 422s, no credentials 401;
- a slow SQL extract (SQLite walking 60 million generated rows, keeping one in 200: tens of seconds
  of CPU on any machine, with rows arriving all along) shows its progress as rows in the run API, in
  the runs list and on the run page while it runs, and none once the run has ended; its log tail
  answers ``running`` while it runs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.e2e.airflow_instance import AirflowInstance
from tests.e2e.api_support import call, ok, q, serving, start_api_airflow, wait_for, wait_run
from tests.e2e.browser_support import sign_in

if TYPE_CHECKING:  # the API tests run where no browser is installed (the version matrix's venvs)
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.e2e

UI = "/batchtasks/ui"

RL_SLOW = """
kind: task
name: rl_slow
source:
  type: sql
  conn_id: shop
  query: |
    with recursive c(x) as (select 1 union all select x + 1 from c where x < 60000000)
    select x from c where x % 200 = 0
output: {name: slow.csv}
destinations:
  - type: local
    path: __OUT__
"""

RL_SECRET = """
kind: task
name: rl_secret
source: {type: sql, conn_id: shop, query: "select id, region from sales order by id"}
output:
  name: secret.csv
  gpg: {recipient: vendor@example.com, key_variable: vendor_public_key}
destinations:
  - type: local
    path: __OUT__
"""


def _public_key(home: Path) -> str:
    gpg = shutil.which("gpg")
    assert gpg, "gpg is missing: `apt-get install gnupg` (dev/test.sh installs it)"
    home.mkdir(mode=0o700)
    subprocess.run([gpg, "--homedir", str(home), "--batch", "--passphrase", "", "--quick-gen-key",
                    "Vendor <vendor@example.com>", "future-default", "default", "never"],
                   check=True, capture_output=True)
    return subprocess.run([gpg, "--homedir", str(home), "--armor", "--export", "vendor@example.com"],
                          check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowInstance]:
    root = tmp_path_factory.mktemp("run_page")
    out = str(root / "out")
    key = _public_key(root / "gnupg")
    instance = start_api_airflow(
        root, extra_definitions={"rl_slow": RL_SLOW.replace("__OUT__", out),
                                 "rl_secret": RL_SECRET.replace("__OUT__", out)},
        env={"AIRFLOW_VAR_VENDOR_PUBLIC_KEY": key},
    )
    with serving(instance, ["daily_sales", "rl_slow", "rl_secret"]):
        yield instance
    subprocess.run(["gpgconf", "--homedir", str(root / "gnupg"), "--kill", "all"], check=False, capture_output=True)


def _run(airflow: AirflowInstance, task: str) -> str:
    run_id = ok(call(airflow, "POST", f"/tasks/{task}/runs", json={}))["run_id"]
    assert wait_run(airflow, task, run_id)["state"] == "success", task
    return run_id


@pytest.fixture(scope="module")
def sales_run(airflow: AirflowInstance) -> str:
    return _run(airflow, "daily_sales")


@pytest.fixture(scope="module")
def secret_run(airflow: AirflowInstance) -> str:
    return _run(airflow, "rl_secret")


@pytest.fixture(scope="module")
def viewer(browser: Browser, airflow: AirflowInstance) -> Iterator[Page]:
    context = browser.new_context(base_url=airflow.base_url, viewport={"width": 1280, "height": 860})
    try:
        yield sign_in(context, "viewer")
    finally:
        context.close()


def test_preview_of_a_delivered_csv_and_none_of_an_encrypted_file(
    airflow: AirflowInstance, sales_run: str, secret_run: str,
) -> None:
    [csv] = ok(call(airflow, "GET", f"/tasks/daily_sales/runs/{q(sales_run)}/preview", user="viewer"))
    assert csv["name"] == "sales_EU.csv" and csv["reason"] is None and not csv["truncated"]
    assert csv["lines"][0] == "id,region,amount"
    assert len(csv["lines"]) == 11 and csv["lines"][1].startswith("1,EU,"), "the header and the 10 EU rows"
    [enc] = ok(call(airflow, "GET", f"/tasks/rl_secret/runs/{q(secret_run)}/preview"))
    assert enc["name"] == "secret.csv.gpg" and enc["lines"] == [] and "encrypted" in enc["reason"]
    assert call(airflow, "GET", f"/tasks/daily_sales/runs/{q(sales_run)}/preview", user=None).status_code == 401
    assert call(airflow, "GET", "/tasks/daily_sales/runs/nope/preview").status_code == 404


def test_log_tails_of_extract_and_deliver(airflow: AirflowInstance, sales_run: str) -> None:
    base = f"/tasks/daily_sales/runs/{q(sales_run)}/logs"
    extract = ok(call(airflow, "GET", f"{base}/extract?tail=300", user="viewer"))
    assert extract["state"] == "success" and not extract["running"] and extract["try_number"] == 1
    assert any("Query done through" in line and "10 rows written to sales_EU.csv" in line for line in extract["lines"])
    assert "/dags/daily_sales/runs/" in extract["log_url"]
    deliver = ok(call(airflow, "GET", f"{base}/deliver"))
    assert any("Delivered sales_EU.csv" in line for line in deliver["lines"]), deliver["lines"]
    short = ok(call(airflow, "GET", f"{base}/deliver?tail=2"))
    assert short["lines"] == deliver["lines"][-2:] and short["truncated"]
    assert call(airflow, "GET", f"{base}/nope").status_code == 404
    assert call(airflow, "GET", f"{base}/extract?tail=0").status_code == 422
    assert call(airflow, "GET", f"{base}/extract", user=None).status_code == 401


def page_html(airflow: AirflowInstance, path: str, user: str = "viewer") -> str:
    resp = httpx.get(airflow.base_url + UI + path, headers={"Authorization": f"Bearer {airflow.token(user)}"},
                     timeout=30)
    assert resp.status_code == 200, (path, resp.status_code, resp.text[:500])
    return resp.text


def test_run_page_tabs(viewer: Page, airflow: AirflowInstance, sales_run: str, secret_run: str) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)
    viewer.goto(f"{UI}/tasks/daily_sales/runs/{q(sales_run)}")
    tabs = viewer.get_by_role("navigation", name="Run sections")
    for label in ("Overview", "Data", "Extract messages", "Delivery messages"):
        expect(tabs.get_by_role("link", name=label)).to_be_visible()
    expect(viewer.locator("#steps")).to_contain_text("extract")
    tabs.get_by_role("link", name="Data").click()
    expect(viewer.locator("[data-preview='sales_EU.csv'] pre")).to_contain_text("id,region,amount\n1,EU,1.5")
    tabs.get_by_role("link", name="Extract messages").click()
    expect(viewer.locator("pre[data-log-tail]")).to_contain_text("10 rows written to sales_EU.csv")
    expect(viewer.get_by_role("link", name="Full log of step extract in Airflow")).to_be_visible()
    tabs.get_by_role("link", name="Delivery messages").click()
    expect(viewer.locator("pre[data-log-tail]")).to_contain_text("Delivered sales_EU.csv")
    viewer.goto(f"{UI}/tasks/rl_secret/runs/{q(secret_run)}?tab=data")
    expect(viewer.locator("[data-no-preview]")).to_contain_text("No preview: encrypted")
    expect(viewer.locator("[data-preview='secret.csv.gpg'] pre")).to_have_count(0)


def test_progress_of_a_slow_extract(airflow: AirflowInstance) -> None:
    run_id = ok(call(airflow, "POST", "/tasks/rl_slow/runs", json={}))["run_id"]
    path = f"/tasks/rl_slow/runs/{q(run_id)}"

    def progress() -> Any:
        run = ok(call(airflow, "GET", path))
        assert run["state"] in ("queued", "running"), f"the extract ended before it showed progress: {run}"
        return run["progress"]

    first = wait_for("progress of rl_slow", progress, timeout=180)
    assert re.fullmatch(r"[\d,]+ rows", first), first
    listed = {r["run_id"]: r for r in ok(call(airflow, "GET", "/tasks/rl_slow/runs"))["runs"]}
    assert re.fullmatch(r"[\d,]+ rows", listed[run_id]["progress"] or ""), listed[run_id]
    tail = ok(call(airflow, "GET", f"{path}/logs/extract"))
    assert tail["running"] and tail["state"] == "running"
    assert re.search(r"In progress: <strong>[\d,]+ rows</strong>", page_html(airflow, path))
    running_tab = page_html(airflow, f"{path}?tab=extract")
    assert "data-log-tail" in running_tab and "data-running" in running_tab, "the page follows the running step"
    later = wait_for("more rows", lambda: (p := progress()) != first and p, timeout=120)
    assert int(later.split()[0].replace(",", "")) > int(first.split()[0].replace(",", ""))
    done = wait_run(airflow, "rl_slow", run_id, timeout=600)
    assert done["state"] == "success" and done["progress"] is None
    assert ok(call(airflow, "GET", f"{path}/logs/extract"))["running"] is False
    assert "In progress:" not in page_html(airflow, path)
    assert "data-running" not in page_html(airflow, f"{path}?tab=extract")
