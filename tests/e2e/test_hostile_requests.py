"""Hostile requests against a real API server: none of them may hurt it.

Observed before the fixes (one signed-in viewer was enough): a 375-byte YAML alias
bomb cost 4-30 s and +530 MB, 2,000 levels of nesting answered 500, 60,000 levels
(120 KB) killed the API server with SIGSEGV, a 50 MB body was read and parsed
whole, a definition file with a bomb in its ``json:`` slowed every parse, and a
REST write authenticated by the session cookie was accepted from any origin.

Each probe here attacks the running server, then checks it still answers
``/api/v2`` and did not grow by hundreds of MB.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import psutil
import pytest

from tests.e2e.airflow_instance import AirflowInstance
from tests.e2e.api_support import API, call, ok, serving, start_api_airflow, wait_for

pytestmark = pytest.mark.e2e

#: seconds a refused request may take on a busy CI machine (the bomb used to take 4-30 s, or forever)
QUICK = 5.0
#: the most the API server may grow over all the probes (the bomb alone used to add 530 MB)
MAX_GROWTH_MB = 150


def alias_bomb(levels: int = 7, width: int = 9) -> str:
    lines = ["a0: &a0 [x, y, z, w, v, u, t, s, r]"]
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * width) + "]" for i in range(1, levels + 1)]
    return "".join(f"    {line}\n" for line in lines)


#: A definition that is valid but for the billion-laughs bomb in its `json:` (on disk and as a body).
BOMB_TASK = ("kind: task\nname: bomb_http\nsource:\n  type: http\n  conn_id: api\n  endpoint: /x\n"
             "  method: POST\n  json:\n" + alias_bomb())
DEEP_FILE = "[" * 60_000 + "]" * 60_000


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowInstance]:
    root = tmp_path_factory.mktemp("hostile")
    instance = start_api_airflow(root, extra_definitions={"bomb_http": BOMB_TASK, "deep": DEEP_FILE})
    with serving(instance, ["daily_sales"]):
        yield instance


def server_processes(port: int) -> list[psutil.Process]:
    """The process listening on ``port`` (the API server) and its children (its workers)."""
    for proc in psutil.process_iter():
        try:
            if any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in proc.net_connections("tcp")):
                return [proc, *proc.children(recursive=True)]
        except (psutil.AccessDenied, psutil.NoSuchProcess):
            continue
    raise AssertionError(f"nothing listens on port {port}")


def rss_mb(procs: list[psutil.Process]) -> float:
    return sum(p.memory_info().rss for p in procs) / (1024 * 1024)


def still_serving(airflow: AirflowInstance, procs: list[psutil.Process]) -> None:
    assert all(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in procs), "the API server died"
    assert airflow.api("GET", "/api/v2/version").status_code == 200


def validate(airflow: AirflowInstance, body: Any, **kw: Any) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    resp = call(airflow, "POST", "/definitions/validate", user="viewer", **kw) if body is None \
        else call(airflow, "POST", "/definitions/validate", user="viewer", json=body)
    return resp, time.monotonic() - started


def refusal(resp: httpx.Response) -> str:
    """The error a validation answer gives (200 ``valid: false`` or 422), never a 500."""
    assert resp.status_code in (200, 422), f"{resp.status_code}: {resp.text[:300]}"
    body = resp.json()
    assert body.get("valid") is not True, body
    return " | ".join(body.get("errors") or []) + str(body.get("detail", ""))


def test_yaml_bombs_and_huge_bodies_from_a_viewer_are_refused_quickly(airflow: AirflowInstance) -> None:
    procs = server_processes(airflow.port)
    baseline = rss_mb(procs)

    probes = {
        "alias bomb": (BOMB_TASK, "aliases expanded"),
        "2,000 deep": ("kind: task\nname: deep\nsource: " + "[" * 2000 + "]" * 2000 + "\n", "nested deeper than 64"),
        "60,000 deep": ("[" * 60_000 + "]" * 60_000, "nested deeper than 64"),
        "60,000 deep block": ("- " * 60_000 + "x\n", "nested deeper than 64"),
    }
    for what, (text, expected) in probes.items():
        resp, took = validate(airflow, {"yaml": text})
        assert expected in refusal(resp), what
        assert took < QUICK, f"{what}: {took:.1f} s"
        still_serving(airflow, procs)

    # a JSON object nested past Python's stack: a client error, never a 500
    deep_json = '{"definition": ' + '{"a": ' * 5000 + "1" + "}" * 5000 + "}"
    resp, took = validate(airflow, None, content=deep_json, headers={"Content-Type": "application/json"})
    assert resp.status_code in (400, 422) and took < QUICK, resp.text[:300]
    deep_object: Any = 1
    for _ in range(600):
        deep_object = {"a": deep_object}
    resp, took = validate(airflow, {"definition": {"kind": "task", "name": "deep", "source": deep_object}})
    assert resp.status_code in (200, 422) and took < QUICK, resp.text[:300]
    assert resp.status_code == 422 or "nested deeper than 64" in refusal(resp)

    huge = b'{"yaml": "' + b"x" * (50 * 1024 * 1024) + b'"}'
    resp, took = validate(airflow, None, content=huge, headers={"Content-Type": "application/json"})
    assert resp.status_code == 413 and "max_request_mb" in resp.text and took < QUICK, (resp.status_code, took)
    chunks = (b"x" * (1024 * 1024) for _ in range(50))  # no Content-Length: counted as it streams
    resp, took = validate(airflow, None, content=chunks, headers={"Content-Type": "application/json"})
    assert resp.status_code == 413 and took < QUICK, (resp.status_code, took)
    page_form = airflow.api("POST", "/batchtasks/ui/tasks/daily_sales/run", username="viewer",
                            content=b"args=" + b"x" * (5 * 1024 * 1024),
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert page_form.status_code == 413, "the pages' forms are capped too"

    still_serving(airflow, procs)
    assert rss_mb(procs) - baseline < MAX_GROWTH_MB, f"grew {rss_mb(procs) - baseline:.0f} MB"


def sql_task(name: str, query: str) -> dict[str, Any]:
    return {"kind": "task", "name": name, "source": {"type": "sql", "conn_id": "warehouse", "query": query}}


TEMPLATE_BOMBS = {
    "string times a billion": "{{ 'x' * 10 ** 10 }}",
    "padding filter": "{{ 'x' | center(10000000000) }}",
    "format width": "{{ '%09999999999d' % 1 }}",
    "nested loops": "{% for a in range(99999) %}{% for b in range(99999) %}{% endfor %}{% endfor %}",
    "doubling": "{% set a = 'xxxxxxxx' %}" + "{% set a = a ~ a %}" * 40 + "{{ a }}",
}


def test_template_bombs_in_a_query_cost_the_server_nothing(airflow: AirflowInstance) -> None:
    """A viewer may preview the query of any definition it sends, and the API reads templates to decide
    which rights a write needs: neither may render, or let Jinja's compiler fold, a template's bomb."""
    procs = server_processes(airflow.port)
    baseline = rss_mb(procs)
    for what, query in TEMPLATE_BOMBS.items():
        started = time.monotonic()
        resp = call(airflow, "POST", "/definitions/query-preview", user="viewer",
                    json={"definition": sql_task("bomb_preview", query)})
        took = time.monotonic() - started
        assert resp.status_code == 422 and "preview" in resp.text, (what, resp.status_code, resp.text[:300])
        assert took < QUICK, f"{what}: preview took {took:.1f} s"
        started = time.monotonic()
        resp = call(airflow, "POST", "/definitions", user="admin", json={"definition": sql_task("bomb_write", query)})
        took = time.monotonic() - started
        assert resp.status_code in (201, 422), (what, resp.status_code, resp.text[:300])
        assert took < QUICK, f"{what}: the write's code check took {took:.1f} s"
        if resp.status_code == 201:
            ok(call(airflow, "DELETE", "/definitions/task/bomb_write", user="admin"), 204)
        still_serving(airflow, procs)
    assert rss_mb(procs) - baseline < MAX_GROWTH_MB, f"grew {rss_mb(procs) - baseline:.0f} MB"


def test_a_definition_file_with_a_bomb_is_an_error_and_hides_nothing(airflow: AirflowInstance) -> None:
    placeholder = airflow.wait_for_dag("bomb_http", timeout=120)
    details = ok(airflow.api("GET", "/api/v2/dags/bomb_http/details"))
    errors_dag = airflow.wait_for_dag("batchtasks_definition_errors", timeout=60)

    assert "batchtasks:invalid" in {t["name"] for t in placeholder["tags"]}
    assert re.search(r"bomb_http\.yaml:\d+: source\.json\.a\d\[\d\]: more than 50,000 values", details["doc_md"])
    assert "batchtasks:invalid" in {t["name"] for t in errors_dag["tags"]}
    for dag_id in ("daily_sales", "slow_split", "flaky_export"):  # the valid definitions all load
        airflow.wait_for_dag(dag_id, timeout=60)
    started = time.monotonic()
    listed = ok(call(airflow, "GET", "/definitions"))
    assert time.monotonic() - started < QUICK
    assert any("bomb_http.yaml" in e and "aliases expanded" in e for e in listed["errors"])
    assert any("deep.yaml:1" in e and "nested deeper than 64" in e for e in listed["errors"])
    assert airflow.running, "every Airflow component survived parsing the folder"


def test_cookie_authenticated_writes_must_come_from_this_origin(airflow: AirflowInstance) -> None:
    token = airflow.token("admin")
    body = {"yaml": "kind: project\nname: probe\n"}
    url = f"{API}/definitions/validate"
    foreign = {"Origin": "http://evil.example"}
    runs_before = len(ok(call(airflow, "GET", "/tasks/daily_sales/runs"))["runs"])

    with httpx.Client(base_url=airflow.base_url, cookies={"_token": token}, timeout=30) as browser:
        from_elsewhere = browser.post(url, json=body, headers=foreign)
        run_from_elsewhere = browser.post(f"{API}/tasks/daily_sales/runs", json={}, headers=foreign)
        no_origin = browser.post(url, json=body)
        same_origin = browser.post(url, json=body, headers={"Origin": airflow.base_url})
        same_referer = browser.post(url, json=body, headers={"Referer": f"{airflow.base_url}/batchtasks/ui/tasks"})
        page = browser.get("/batchtasks/ui/tasks")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf, "the pages carry a CSRF token"
        with_token = browser.post(url, json=body, headers={**foreign, "X-CSRF-Token": csrf.group(1)})
        reads = browser.get(f"{API}/tasks", headers=foreign)
    bearer = airflow.api("POST", url, json=body, headers=foreign)

    assert from_elsewhere.status_code == 403 and "Origin/Referer" in from_elsewhere.json()["detail"]
    assert run_from_elsewhere.status_code == 403
    assert len(ok(call(airflow, "GET", "/tasks/daily_sales/runs"))["runs"]) == runs_before, "no run was queued"
    assert no_origin.status_code == 403
    assert (same_origin.status_code, same_referer.status_code, with_token.status_code) == (200, 200, 200)
    assert reads.status_code == 200, "reads are not writes"
    assert bearer.status_code == 200, "Bearer calls are unchanged"


def test_pages_forbid_foreign_framing_and_sniffing(airflow: AirflowInstance) -> None:
    for path in ("/batchtasks/ui/tasks", "/batchtasks/ui/tasks/no_such_task", "/batchtasks/ui/static/ui.js"):
        resp = airflow.api("GET", path)
        assert resp.status_code in (200, 404), path
        assert "frame-ancestors 'self'" in resp.headers.get("content-security-policy", ""), path
        assert resp.headers.get("x-content-type-options") == "nosniff", path
    anonymous = airflow.api("GET", "/batchtasks/ui/tasks", username=None, follow_redirects=False)
    assert "frame-ancestors 'self'" in anonymous.headers.get("content-security-policy", "")


def test_the_server_is_still_whole_after_the_attacks(airflow: AirflowInstance) -> None:
    still_serving(airflow, server_processes(airflow.port))
    wait_for("the UI to answer", lambda: airflow.api("GET", "/batchtasks/ui/tasks").status_code == 200, timeout=30)
    assert airflow.running
