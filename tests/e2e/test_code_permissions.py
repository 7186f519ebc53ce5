"""Definitions are code: who may write which definition, as a matrix of roles x kinds of change.

Against a real api-server, once under the SimpleAuthManager and once under the FAB auth manager,
with the same four users: ``viewer`` (DAG read), ``user`` (DAG edit, no connections: Airflow's
ordinary "User" role), ``op`` (DAG edit + connections + variables) and ``admin``. A definition
whose new parts run code (a processing script, a python or ssh source, a query fetched at run time,
``expose_connections``, a template that reaches beyond run data, a `local` destination outside
``[batchtasks] local_roots``) needs the right to edit connections; a template reading ``var`` needs the
right to read variables; a plain SQL task, one delivering inside a root, a reschedule that keeps the
code as it is, and a delete need DAG edit only. Every refusal is a 403
that names the missing right, and leaves the definitions folder byte for byte as it was.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from dev.airflow_runner import FAB_AUTH_MANAGER, SIMPLE_AUTH_MANAGER
from tests.e2e.airflow_instance import AirflowInstance
from tests.e2e.api_support import LOADER, airflow_env, call, make_shop, ok, serving, write_definitions

pytestmark = pytest.mark.e2e

USERS = ("viewer", "user", "op", "admin")
RANK = {name: i for i, name in enumerate(USERS)}
CODE_RIGHT = "needs the right to edit connections"
VARIABLES_RIGHT = "needs the right to read variables"


def task(name: str, **parts: Any) -> dict[str, Any]:
    return {"kind": "task", "name": name, "enabled": False, **parts}


def sql(name: str, query: str = "select id from sales", **parts: Any) -> dict[str, Any]:
    return task(name, source={"type": "sql", "conn_id": "shop", "query": query}, **parts)


def python(name: str, script: str = "print('hello')", **processing: Any) -> dict[str, Any]:
    return task(name, source={"type": "python"}, processing={"inline": script, **processing},
                destinations=[{"type": "local", "path": "/tmp/batchtasks-code-permissions"}])


def to_local(name: str, folder: Path) -> dict[str, Any]:
    """A plain SQL task whose one row is Python, delivered as ``x.py`` to a `local` folder."""
    return sql(name, "select 'import os; os.system(\"id\")' as line", output={"name": "x.py"},
               destinations=[{"type": "local", "path": str(folder)}])


def outbox(airflow: AirflowInstance) -> Path:
    """The e2e definitions' delivery folder, the first of ``[batchtasks] local_roots``."""
    return Path(airflow.extra_env["AIRFLOW__BATCHTASKS__LOCAL_ROOTS"].split(",")[0])


@dataclass(frozen=True)
class Change:
    """One kind of change: the request a user sends, the least role it needs and its status then."""

    what: str
    request: Callable[[AirflowInstance, str], httpx.Response]
    needs: str  # "user": DAG edit is enough; "op": the code right (or variables right) too
    status: int
    right: str = CODE_RIGHT


def post(definition: Callable[[str], dict[str, Any]]) -> Callable[[AirflowInstance, str], httpx.Response]:
    return lambda airflow, user: call(airflow, "POST", "/definitions", user=user,
                                      json={"definition": definition(user)})


def post_for(
    definition: Callable[[AirflowInstance, str], dict[str, Any]],
) -> Callable[[AirflowInstance, str], httpx.Response]:
    """Like :func:`post`, for a definition that depends on the instance (its folders)."""
    return lambda airflow, user: call(airflow, "POST", "/definitions", user=user,
                                      json={"definition": definition(airflow, user)})


def replace_split(edit: Callable[[str, str], str]) -> Callable[[AirflowInstance, str], httpx.Response]:
    """PUT ``slow_split`` (a python task): its current YAML through ``edit(text, user)``."""
    def request(airflow: AirflowInstance, user: str) -> httpx.Response:
        current = ok(call(airflow, "GET", "/definitions/task/slow_split"))["yaml"]
        return call(airflow, "PUT", "/definitions/task/slow_split", user=user, json={"yaml": edit(current, user)})
    return request


def reschedule(text: str, user: str) -> str:
    lines = [line for line in text.splitlines() if not line.startswith("schedule:")]
    return "\n".join([*lines, f"schedule: '{RANK[user]} 5 * * *'"]) + "\n"


def new_script(text: str, user: str) -> str:
    changed = re.sub(r"print\(paths.*\)", f'print(paths, "{user}")', text)
    assert changed != text or f'"{user}"' in text
    return changed


MACROS_YAML = "{{ macros.yaml.unsafe_load('!!python/object/apply:os.getpid []') }}"

CHANGES = [
    Change("create a plain SQL task", post(lambda u: sql(f"plain_{u}", "select id from sales where "
                                                             "region = '{{ params.region }}' -- {{ ds }}")),
           "user", 201),
    Change("create a python task (inline script)", post(lambda u: python(f"py_{u}")), "op", 201),
    Change("create an ssh command", post(lambda u: task(f"ssh_{u}", source={
        "type": "ssh", "conn_id": "box", "command": "cat /etc/hostname"})), "op", 201),
    Change("create a query fetched from a URL", post(lambda u: task(f"fetched_{u}", source={
        "type": "sql", "conn_id": "shop", "query_from": {"type": "url", "conn_id": "warehouse",
                                                         "url": "http://127.0.0.1:9/q.sql"}})), "op", 201),
    Change("create a script with expose_connections",
           post(lambda u: python(f"exposed_{u}", expose_connections=True) | {
               "destinations": [{"type": "sftp", "conn_id": "warehouse", "path": "/in"}]}), "op", 201),
    Change("create a SQL task whose query template runs Python",
           post(lambda u: sql(f"macro_{u}", f"select '{MACROS_YAML}'")), "op", 201),
    Change("create a SQL task whose query reads a connection",
           post(lambda u: sql(f"conn_{u}", "select '{{ conn.warehouse.password }}'")), "op", 201),
    Change("create a task whose path reads a variable",
           post(lambda u: sql(f"var_{u}", destinations=[{"type": "sftp", "conn_id": "warehouse", "path":
                                                         "{{ var.value.get('outbox', '/tmp') }}"}])),
           "op", 201, VARIABLES_RIGHT),
    Change("create a SQL task writing x.py into the DAGs folder",
           post_for(lambda airflow, u: to_local(f"to_dags_{u}", airflow.dags_folder)), "op", 201),
    Change("create a SQL task delivering inside a local root",
           post_for(lambda airflow, u: to_local(f"to_root_{u}", outbox(airflow) / "vendor")), "user", 201),
    Change("reschedule a python task (code unchanged)", replace_split(reschedule), "user", 200),
    Change("change the script of a python task", replace_split(new_script), "op", 200),
    Change("duplicate a python task", lambda airflow, u: call(
        airflow, "POST", "/definitions/task/slow_split/duplicate", user=u, json={"name": f"split_copy_{u}"}),
        "op", 201),
    Change("duplicate a plain SQL task", lambda airflow, u: call(
        airflow, "POST", "/definitions/task/daily_sales/duplicate", user=u, json={"name": f"sales_copy_{u}"}),
        "user", 201),
    Change("delete a python task", lambda airflow, u: call(
        airflow, "DELETE", f"/definitions/task/victim_{u}", user=u), "user", 204),
]


@pytest.fixture(scope="module", params=[SIMPLE_AUTH_MANAGER, FAB_AUTH_MANAGER], ids=["simple", "fab"])
def airflow(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowInstance]:
    root = tmp_path_factory.mktemp("code_permissions")
    out = root / "out"
    out.mkdir()
    victims = "\n---\n".join(f"kind: task\nname: victim_{u}\nenabled: false\nsource: {{type: python}}\n"
                             f"processing: {{inline: 'print(1)'}}\n" for u in USERS)
    write_definitions(root / "definitions", out, {"victims": victims})
    make_shop(root / "shop.db")
    (root / "dags").mkdir()
    (root / "dags" / "batchtasks_dags.py").write_text(LOADER)
    # FAB's tables and roles come from `airflow db migrate` itself: no template DB made under another manager
    instance = AirflowInstance(root / "home", root / "dags", env=airflow_env(root), auth_manager=request.param,
                               reuse_migrated_db=request.param == SIMPLE_AUTH_MANAGER)
    with serving(instance, ["slow_split"], start=True, timeout=180):
        yield instance


def folder_snapshot(airflow: AirflowInstance) -> dict[str, bytes]:
    root = Path(airflow.extra_env["AIRFLOW__BATCHTASKS__DEFINITIONS_FOLDER"])
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.y*ml"))}


def test_roles_times_kinds_of_change(airflow: AirflowInstance) -> None:
    wrong: list[str] = []
    for change in CHANGES:
        for user in USERS:
            before = folder_snapshot(airflow)
            resp = change.request(airflow, user)
            allowed = RANK[user] >= RANK[change.needs]
            want = change.status if allowed else 403
            row = f"{change.what} as {user}: {resp.status_code} (want {want}) {resp.text[:300]}"
            if resp.status_code != want:
                wrong.append(row)
            elif not allowed:
                if folder_snapshot(airflow) != before:
                    wrong.append(f"{row}: the definitions folder changed on a refusal")
                if user != "viewer" and change.right not in resp.json()["detail"]:
                    wrong.append(f"{row}: the 403 does not name the missing right")
    assert not wrong, "\n".join(wrong)


def test_the_refusal_names_the_code_bearing_parts(airflow: AirflowInstance) -> None:
    resp = call(airflow, "POST", "/definitions", user="user", json={"definition": python("named_parts")})
    assert resp.status_code == 403
    detail = resp.json()["detail"]
    assert "`processing`: runs a processing script" in detail and "`source`" in detail
    assert "print('hello')" not in detail, "the refusal names parts, it does not echo them"


def test_a_user_cannot_read_a_connection_through_a_definition(airflow: AirflowInstance) -> None:
    """The probe of the hole: 403 on /api/v2/connections, and no definition route hands it over either."""
    assert airflow.api("GET", "/api/v2/connections/warehouse", username="user").status_code == 403
    for definition in (python("leak_a", "import os; print(os.environ)", expose_connections=True),
                       sql("leak_b", "select '{{ conn.warehouse.password }}'"),
                       sql("leak_c", "select '{{ ti.get_template_context().conn.warehouse.password }}'")):
        resp = call(airflow, "POST", "/definitions", user="user", json={"definition": definition})
        assert resp.status_code == 403, resp.text
        assert call(airflow, "GET", f"/definitions/task/{definition['name']}").status_code == 404


def test_the_auth_manager_under_test_decides(airflow: AirflowInstance) -> None:
    """The FAB half really runs FAB (its role API answers, with Airflow's four roles), the other half does not."""
    roles = airflow.api("GET", "/auth/fab/v1/roles")
    is_json = roles.headers.get("content-type", "").startswith("application/json")
    if airflow.auth_manager == FAB_AUTH_MANAGER:
        assert roles.status_code == 200 and is_json, roles.text[:500]
        assert {"Viewer", "User", "Op", "Admin"} <= {r["name"] for r in roles.json()["roles"]}
    else:  # no such API: the UI's page fallback answers
        assert not is_json, roles.text[:500]


def test_the_task_page_shows_why_a_duplicate_was_refused(airflow: AirflowInstance) -> None:
    """The page's duplicate form goes through the same check, and says which right is missing."""
    ui = f"{airflow.base_url}/batchtasks/ui"
    headers = {"Authorization": f"Bearer {airflow.token('user')}", "Origin": airflow.base_url}
    before = folder_snapshot(airflow)
    with httpx.Client(headers=headers, timeout=30) as browser:
        page = browser.get(f"{ui}/tasks/slow_split")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert page.status_code == 200 and token, page.text[:500]
        done = browser.post(f"{ui}/tasks/slow_split/duplicate", data={"csrf": token.group(1), "new_name": "ui_copy"},
                            follow_redirects=True)
    assert done.status_code == 200 and CODE_RIGHT in done.text, done.text[:2000]
    assert folder_snapshot(airflow) == before


def test_a_user_cannot_write_into_the_dags_folder_through_a_local_destination(airflow: AirflowInstance) -> None:
    """The probe: DAG edit alone must not turn a query's output into a DAG file the dag-processor runs."""
    before, dags_before = folder_snapshot(airflow), sorted(p.name for p in airflow.dags_folder.iterdir())
    refused = call(airflow, "POST", "/definitions", user="user",
                   json={"definition": to_local("into_dags", airflow.dags_folder)})
    assert refused.status_code == 403, refused.text
    detail = refused.json()["detail"]
    assert CODE_RIGHT in detail and f"`{airflow.dags_folder}`" in detail and "local_roots" in detail, detail
    assert folder_snapshot(airflow) == before
    assert sorted(p.name for p in airflow.dags_folder.iterdir()) == dags_before
    allowed = call(airflow, "POST", "/definitions", user="user",
                   json={"definition": to_local("into_outbox", outbox(airflow) / "vendor")})
    assert allowed.status_code == 201, allowed.text
