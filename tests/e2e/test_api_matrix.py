"""Authorization matrix: every route of the API x (no credentials, viewer, user, op, admin).

SimpleAuthManager roles: ``viewer`` may read DAGs and their runs; ``user``, ``op``
and ``admin`` may also create/edit runs and edit DAGs. So every route answers
401 without credentials; read routes answer their 2xx to everyone logged in;
action and write routes answer 403 to the viewer and, to the others, the
route's own answer. Where doing the action for real would disturb the other
rows (re-running a run, launching instances) the request is one the route
refuses *after* authorization (404 unknown run, 409 ended run, 422 bad
argument): that answer can only come from a caller who passed the auth
check. Every answer is also checked for the connection password.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import pytest

from tests.e2e.airflow_instance import AirflowInstance
from tests.e2e.api_support import SECRET, call, ok, q, start_api_airflow, wait_for, wait_run

pytestmark = pytest.mark.e2e

ORCHESTRATIONS = """
kind: orchestration
name: nightly
steps: [{task: daily_sales}]
---
kind: orchestration
name: dormant
active: false
steps: [{task: daily_sales}]
"""

USERS = ("viewer", "user", "op", "admin")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AirflowInstance, dict[str, str]]]:
    root = tmp_path_factory.mktemp("api_matrix")
    airflow = start_api_airflow(root, extra_definitions={"orchestrations": ORCHESTRATIONS})
    try:
        for dag_id in ("daily_sales", "nightly", "warehouse_export"):
            airflow.wait_for_dag(dag_id, timeout=120)
        run_id = ok(call(airflow, "POST", "/tasks/daily_sales/runs", json={}))["run_id"]
        assert wait_run(airflow, "daily_sales", run_id)["state"] == "success"
        [file] = ok(call(airflow, "GET", "/tasks/daily_sales/files"))["files"]
        instance = ok(call(airflow, "POST", "/orchestrations/nightly/instances")).decode()
        yield airflow, {"run": q(run_id), "file": file["id"], "inst": instance}
    except BaseException:
        print(airflow.process_logs(120))
        raise
    finally:
        airflow.stop(timeout=5)


VALID_TASK = {"kind": "task", "name": "tmp_task", "source": {"type": "sql", "conn_id": "shop", "query": "select 1"}}
WAREHOUSE = {"kind": "task", "name": "warehouse_export", "enabled": False,
             "source": {"type": "sql", "conn_id": "warehouse", "query": "select 1"}}
T, R, F = "/tasks/{name}", "/tasks/{name}/runs/{run_id}", "/tasks/{name}/files/{file_id}"
D, OI = "/definitions/{kind}/{name}", "/orchestrations/{name}/instances"

#: (method, route as in the OpenAPI spec, concrete path, JSON body, allowed for the viewer, status when allowed)
#: Connection and variable names: SimpleAuthManager gives connection and variable read to op and admin only.
OP_AND_ADMIN = {"viewer": 403, "user": 403, "op": 200, "admin": 200}
ROUTES: list[tuple[str, str, str, Any, bool, int | dict[str, int]]] = [
    ("GET", "/tasks", "/tasks", None, True, 200),
    ("GET", T, "/tasks/daily_sales", None, True, 200),
    ("GET", f"{T}/runs", "/tasks/daily_sales/runs", None, True, 200),
    ("GET", R, "/tasks/daily_sales/runs/{run}", None, True, 200),
    ("GET", f"{R}/result-file", "/tasks/daily_sales/runs/{run}/result-file", None, True, 200),
    ("GET", f"{R}/logs/{{step}}", "/tasks/daily_sales/runs/{run}/logs/extract?tail=5", None, True, 200),
    ("GET", f"{R}/preview", "/tasks/daily_sales/runs/{run}/preview", None, True, 200),
    ("GET", f"{T}/files", "/tasks/daily_sales/files", None, True, 200),
    ("GET", F, "/tasks/daily_sales/files/{file}", None, True, 200),
    ("GET", "/definitions", "/definitions", None, True, 200),
    ("GET", D, "/definitions/task/daily_sales", None, True, 200),
    ("POST", "/definitions/validate", "/definitions/validate", {"definition": VALID_TASK}, True, 200),
    ("GET", OI, "/orchestrations/nightly/instances", None, True, 200),
    ("GET", f"{OI}/{{instance_id}}", "/orchestrations/nightly/instances/{inst}", None, True, 200),
    ("GET", "/cron/describe", "/cron/describe?expr=0+6+*+*+*", None, True, 200),
    ("GET", "/openapi.json", "/openapi.json", None, True, 200),
    ("GET", "/pickers/timezones", "/pickers/timezones", None, True, 200),
    ("GET", "/pickers/projects", "/pickers/projects", None, True, 200),
    ("GET", "/pickers/tasks", "/pickers/tasks", None, True, 200),
    ("GET", "/audit", "/audit?task=daily&action=run,run_ended&limit=5", None, True, 200),
    ("GET", "/pickers/connections", "/pickers/connections?types=sftp,ssh", None, True, OP_AND_ADMIN),
    ("GET", "/pickers/variables", "/pickers/variables", None, True, OP_AND_ADMIN),
    ("POST", f"{T}/query-preview", "/tasks/daily_sales/query-preview", {}, True, 200),
    ("POST", "/definitions/query-preview", "/definitions/query-preview", {"definition": VALID_TASK}, True, 200),
    ("POST", f"{T}/runs", "/tasks/daily_sales/runs", {"args": "region=XX"}, False, 422),
    ("POST", f"{R}/skip", "/tasks/daily_sales/runs/{run}/skip", None, False, 409),
    ("POST", f"{R}/retry", "/tasks/daily_sales/runs/nope/retry", None, False, 404),
    ("GET", "/runs", "/runs", None, True, 200),
    ("POST", "/runs/skip", "/runs/skip", {"runs": [{"task": "daily_sales", "run_id": "nope"}]}, False, 200),
    ("POST", "/runs/retry", "/runs/retry", {"runs": [{"task": "daily_sales", "run_id": "nope"}]}, False, 200),
    ("POST", f"{T}/cancel-retry", "/tasks/daily_sales/cancel-retry", None, False, 409),
    ("POST", f"{F}/resend", "/tasks/daily_sales/files/{file}/resend", None, False, 202),
    ("POST", "/definitions", "/definitions", {"yaml": "kind: task\nname: tmp_task\n"}, False, 422),
    ("PUT", D, "/definitions/task/warehouse_export", {"definition": WAREHOUSE}, False, 200),
    ("DELETE", D, "/definitions/task/nope", None, False, 404),
    ("POST", f"{D}/duplicate", "/definitions/task/daily_sales/duplicate", {"name": "copy_{user}"}, False, 201),
    ("POST", OI, "/orchestrations/dormant/instances", None, False, 409),
    ("POST", f"{OI}/{{instance_id}}/~cancel", "/orchestrations/nightly/instances/nope/~cancel", None, False, 404),
    ("DELETE", f"{OI}/{{instance_id}}", "/orchestrations/nightly/instances/nope", None, False, 404),
]


def _request(airflow: AirflowInstance, ids: dict[str, str], path: str, method: str, body: Any,
             user: str | None) -> Any:
    if isinstance(body, dict) and "name" in body:
        body = {**body, "name": body["name"].format(user=user)}
    return call(airflow, method, path.format(**ids), user=user, json=body)


def test_every_route_against_every_role(setup: tuple[AirflowInstance, dict[str, str]]) -> None:
    airflow, ids = setup
    wrong: list[str] = []
    for method, _, path, body, viewer_ok, expected in ROUTES:
        for user in (None, *USERS):
            resp = _request(airflow, ids, path, method, body, user)
            if user is None:
                want = 401
            elif user == "viewer" and not viewer_ok:
                want = 403
            else:
                want = expected[user] if isinstance(expected, dict) else expected
            if resp.status_code != want:
                wrong.append(f"{method} {path} as {user}: {resp.status_code} (want {want}) {resp.text[:200]}")
            if SECRET in resp.text:
                wrong.append(f"{method} {path} as {user}: the connection password is in the answer")
    assert not wrong, "\n".join(wrong)


def test_matrix_covers_every_route(setup: tuple[AirflowInstance, dict[str, str]]) -> None:
    """A route added to the app without a row here fails this test."""
    airflow, _ = setup
    spec = ok(call(airflow, "GET", "/openapi.json"))
    served = {(m.upper(), p.removeprefix("/api/v1")) for p, ops in spec["paths"].items() for m in ops}
    covered = {(method, route) for method, route, *_ in ROUTES}
    assert served - covered == set(), "routes without a matrix row"
    assert covered - served == {("GET", "/openapi.json")}, "rows for routes the app does not serve"


def test_viewer_sees_no_secret_in_definitions(setup: tuple[AirflowInstance, dict[str, str]]) -> None:
    airflow, _ = setup
    definition = ok(call(airflow, "GET", "/definitions/task/warehouse_export", user="viewer"))
    assert definition["data"]["source"]["conn_id"] == "warehouse"
    for path in ("/definitions", "/tasks/warehouse_export", "/tasks"):
        assert SECRET not in call(airflow, "GET", path, user="viewer").text


def _resend_as(airflow: AirflowInstance, file_id: str, user: str) -> Any:
    return call(airflow, "POST", f"/tasks/daily_sales/files/{file_id}/resend", user=user)


def test_audit_log_has_user_action_target_outcome(setup: tuple[AirflowInstance, dict[str, str]]) -> None:
    """Sets up its own actions: a resend and a refused skip by every role (the viewer's never reach the action)."""
    airflow, ids = setup
    queued = {}
    for user in USERS:
        resp = _resend_as(airflow, ids["file"], user)
        assert resp.status_code == (403 if user == "viewer" else 202), resp.text
        if user != "viewer":
            queued[resp.json()["run_id"]] = user
        assert call(airflow, "POST", f"/tasks/daily_sales/runs/{ids['run']}/skip", user=user).status_code == (
            403 if user == "viewer" else 409)
    events = airflow.api("GET", "/api/v2/eventLogs", params={"dag_id": "daily_sales", "limit": 1000}).json()
    resends = {json.loads(e["extra"]).get("resend_run_id"): e for e in events["event_logs"]
               if e["event"] == "batchtasks.resend"}
    assert {run_id: resends[run_id]["owner"] for run_id in queued} == queued
    assert all(json.loads(resends[run_id]["extra"])["outcome"] == "done" for run_id in queued)
    assert all(e["owner"] != "viewer" for e in resends.values()), "the viewer's 403 never reached the action"
    run_id = unquote(ids["run"])
    skips = [e for e in events["event_logs"] if e["event"] == "batchtasks.skip" and e["run_id"] == run_id]
    assert {e["owner"] for e in skips} == {"user", "op", "admin"}
    assert all(json.loads(e["extra"])["outcome"].startswith("refused (409)") for e in skips)


def test_resends_are_recorded_on_the_file(setup: tuple[AirflowInstance, dict[str, str]]) -> None:
    """Each allowed caller's resend is a run (202) whose outcome ends up on the file's record, by its caller."""
    airflow, ids = setup
    queued = {ok(_resend_as(airflow, ids["file"], user), 202)["run_id"]: user for user in ("user", "op", "admin")}

    def ended() -> dict[str, str] | None:
        files = ok(call(airflow, "GET", "/tasks/daily_sales/files"))["files"]  # the orchestration adds one
        [file] = [f for f in files if f["id"] == ids["file"]]
        mine = {r["run_id"]: r for r in file["resends"] if r["run_id"] in queued}
        done = len(mine) == len(queued) and all(r["state"] in ("done", "failed") for r in mine.values())
        return {run_id: f"{r['by']}:{r['state']}" for run_id, r in mine.items()} if done else None

    recorded = wait_for("the three resends to end", ended, timeout=300)
    assert recorded == {run_id: f"{user}:done" for run_id, user in queued.items()}
