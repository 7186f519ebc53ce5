"""Per-project ``access`` under Airflow's FAB auth manager: a role sees and acts on only its projects.

A real Airflow (api-server, scheduler, dag-processor) under the FAB auth manager, with FAB roles that hold
no global DAG permission, only the base permissions a user needs to sign in and see the UI (``BASE``), so
whatever they may do with a task comes from the ``access`` of its definitions, synced into FAB by the
dag-processor as the DAGs' ``access_control``:

- project ``sales``: ``sales_ops`` may read and run, ``sales_admin`` read, run and edit, ``sales_viewer``
  only read; project ``hr``: ``hr_ops`` may read, run and edit. ``hr_olga`` is also listed among the sales
  project's owners, so "My Tasks" (owner = me) would show sales tasks if ownership were enough.
- each check is a request a user would make (list, read, run, skip, retry, cancel retry, enable/disable,
  definition write, bulk) through ``/batchtasks/api/v1`` or the pages, and the status they get.

Lists of tasks that other routes return (runs, audit, ...) are one line each in ``LISTS``: the path, and
how to read task names out of its answer.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from dev.airflow_runner import FAB_AUTH_MANAGER
from tests.e2e.airflow_instance import AirflowInstance
from tests.e2e.api_support import LOADER, airflow_env, call, make_shop, ok, q, serving, wait_for
from tests.e2e.browser_support import sign_in

pytestmark = pytest.mark.e2e

SALES = {"sales_orders", "sales_refunds"}
HR = {"hr_payroll"}
#: user -> FAB role (password = user name, as for the runner's users)
PEOPLE = {"sales_ana": "sales_ops", "sales_boss": "sales_admin", "sales_view": "sales_viewer", "hr_olga": "hr_ops"}

DEFINITIONS = {
    "projects.yaml": """\
kind: project
name: sales
owners: [sales_ana, hr_olga]
access: {sales_ops: [read, run], sales_admin: [read, run, edit], sales_viewer: [read]}
---
kind: project
name: hr
owners: [hr_olga]
access:
  hr_ops: [read, run, edit]
""",
    "tasks.yaml": "---\n".join(
        f"kind: task\nname: {name}\nproject: {project}\ndescription: {name} export\n"
        "source: {type: sql, conn_id: shop, query: 'select id, amount from sales'}\n"
        "destinations: [{type: local, path: __OUT__}]\n"
        for name, project in (("sales_orders", "sales"), ("sales_refunds", "sales"), ("hr_payroll", "hr"))
    ),
    # a role granted this orchestration may launch it only if it may run every task it runs
    "chain.yaml": """\
kind: orchestration
name: sales_chain
access: {sales_ops: [read, run]}
steps:
  - task: sales_orders
  - task: hr_payroll
""",
}

#: Lists of tasks a user sees: path (below the API) -> the task names in its answer. Add Runs and Audit here
#: when those routes exist, e.g. ``"/runs": lambda body: {r["task"] for r in body["runs"]},``.
LISTS: dict[str, Callable[[Any], set[str]]] = {
    "/tasks": lambda body: {t["name"] for t in body["tasks"]},
    "/tasks?owner=me": lambda body: {t["name"] for t in body["tasks"]},
    "/definitions?kind=task": lambda body: {d["name"] for d in body["definitions"]},
    "/pickers/tasks": lambda body: {t["name"] for t in body["tasks"]},
}

#: The role setup, run inside the instance's environment before the components start (the roles must exist
#: when the dag-processor first syncs the DAGs' access_control: FAB refuses a grant to an unknown role).
#: Base permissions: Airflow's Viewer role without its global "can read on DAGs" (that would show every
#: DAG), plus the global run/task-instance edit that FAB's checks of skip, retry and cancel retry ask for
#: besides edit on the DAG itself (which only ``access`` grants), and the audit log's read (Admin-only in
#: FAB's defaults) for the History / Audit page.
SETUP = """
import json, sys
from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

people = json.loads(sys.argv[1])
with get_application_builder() as appbuilder:
    sm = appbuilder.sm
    base = [(p.action.name, p.resource.name) for p in sm.find_role("Viewer").permissions
            if (p.action.name, p.resource.name) != ("can_read", "DAGs")]
    base += [("can_edit", "DAG Runs"), ("can_edit", "Task Instances"), ("can_read", "Audit Logs")]
    for user, role_name in people.items():
        role = sm.find_role(role_name) or sm.add_role(role_name)
        for action, resource in base:
            sm.add_permission_to_role(role, sm.create_permission(action, resource))
        if sm.find_user(username=user) is None:
            sm.add_user(user, user, "test", f"{user}@example.com", role, password=user)
"""


class FabWithProjectRoles(AirflowInstance):
    """The runner's FAB instance, plus the project roles and their users (created before anything parses)."""

    def _create_fab_users(self) -> None:
        super()._create_fab_users()
        done = subprocess.run([sys.executable, "-c", SETUP, json.dumps(PEOPLE)], cwd=self.home, env=self.env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowInstance]:
    root = tmp_path_factory.mktemp("fab_access")
    out = root / "out"
    out.mkdir()
    folder = root / "definitions"
    folder.mkdir()
    for name, text in DEFINITIONS.items():
        (folder / name).write_text(text.replace("__OUT__", str(out)))
    make_shop(root / "shop.db")
    (root / "dags").mkdir()
    (root / "dags" / "batchtasks_dags.py").write_text(LOADER)
    instance = FabWithProjectRoles(root / "home", root / "dags", env=airflow_env(root),
                                   auth_manager=FAB_AUTH_MANAGER, reuse_migrated_db=False)
    with serving(instance, sorted(SALES | HR), start=True, timeout=240):
        yield instance


@pytest.fixture(scope="module")
def hr_run(airflow: AirflowInstance) -> str:
    """A run of the hr task, started by the admin: the target of the other project's run actions."""
    return ok(call(airflow, "POST", "/tasks/hr_payroll/runs", json={}))["run_id"]


def names(airflow: AirflowInstance, path: str, user: str) -> set[str]:
    return LISTS[path](ok(call(airflow, "GET", path, user=user)))


def test_fab_holds_the_grants_of_the_definitions(airflow: AirflowInstance) -> None:
    """The dag-processor synced ``access`` into FAB: the roles hold per-DAG permissions, and only those."""
    def held(role: str) -> set[tuple[str, str]]:
        body = ok(airflow.api("GET", f"/auth/fab/v1/roles/{role}"))
        return {(a["action"]["name"], a["resource"]["name"]) for a in body["actions"]}

    ops = wait_for("sales_ops's grants", lambda: (h := held("sales_ops")) and ("can_read", "DAG:sales_orders") in h
                   and h)
    assert {("can_read", "DAG:sales_orders"), ("can_edit", "DAG:sales_orders"),
            ("can_create", "DAG Run:sales_orders")} <= ops
    assert ("can_delete", "DAG:sales_orders") not in ops  # no `edit`
    assert not {r for _, r in ops if r.endswith(":hr_payroll")}
    assert ("can_read", "DAGs") not in ops  # nothing global: the grants come from the definitions
    assert ("can_delete", "DAG:sales_orders") in held("sales_admin")
    viewer = held("sales_viewer")
    assert ("can_read", "DAG:sales_refunds") in viewer and ("can_edit", "DAG:sales_refunds") not in viewer


@pytest.mark.parametrize("path", sorted(LISTS))
def test_lists_show_only_the_roles_project(airflow: AirflowInstance, path: str) -> None:
    for user in ("sales_ana",) if "owner=me" in path else ("sales_ana", "sales_boss", "sales_view"):
        assert names(airflow, path, user) == SALES, (path, user)
    assert names(airflow, path, "hr_olga") == HR, path  # also a sales owner: ownership does not open a project
    if "owner=me" not in path:
        assert names(airflow, path, "admin") >= SALES | HR, path


@pytest.mark.parametrize("path", [
    "/tasks/hr_payroll", "/tasks/hr_payroll/runs", "/tasks/hr_payroll/files", "/definitions/task/hr_payroll",
    "/definitions/project/hr",
])
def test_reading_another_projects_task_is_refused(airflow: AirflowInstance, path: str) -> None:
    assert call(airflow, "GET", path, user="sales_ana").status_code == 403
    assert call(airflow, "GET", path, user="hr_olga").status_code == 200


def test_every_action_on_another_projects_task_is_refused(airflow: AirflowInstance, hr_run: str) -> None:
    definition = ok(call(airflow, "GET", "/definitions/task/hr_payroll"))["yaml"]
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/tasks/hr_payroll/runs", {"json": {}}),
        ("POST", f"/tasks/hr_payroll/runs/{q(hr_run)}/skip", {}),
        ("POST", f"/tasks/hr_payroll/runs/{q(hr_run)}/retry", {}),
        ("POST", "/tasks/hr_payroll/cancel-retry", {}),
        ("PUT", "/definitions/task/hr_payroll", {"json": {"yaml": definition.replace("export", "changed")}}),
        ("DELETE", "/definitions/task/hr_payroll", {}),
        ("POST", "/runs/skip", {"json": {"runs": [{"task": "hr_payroll", "run_id": hr_run}]}}),
    ]
    for user in ("sales_ana", "sales_boss"):
        for method, path, kw in requests:
            assert call(airflow, method, path, user=user, **kw).status_code == 403, (user, method, path)
        assert page_post(airflow, user, "hr_payroll", "enabled", {"enabled": "false"}).status_code == 403, user
    assert ok(call(airflow, "GET", "/definitions/task/hr_payroll"))["yaml"] == definition
    assert ok(call(airflow, "GET", "/tasks/hr_payroll"))["enabled"] is True


def test_a_read_only_role_sees_but_may_not_run(airflow: AirflowInstance) -> None:
    assert ok(call(airflow, "GET", "/tasks/sales_orders", user="sales_view"))["name"] == "sales_orders"
    assert call(airflow, "POST", "/tasks/sales_orders/runs", user="sales_view", json={}).status_code == 403
    assert page_post(airflow, "sales_view", "sales_orders", "enabled", {"enabled": "false"}).status_code == 403


def test_run_runs_and_skips_but_does_not_rewrite_the_definition(airflow: AirflowInstance) -> None:
    run = ok(call(airflow, "POST", "/tasks/sales_orders/runs", user="sales_ana", json={}))
    assert run["task"] == "sales_orders"
    skipped = call(airflow, "POST", f"/tasks/sales_orders/runs/{q(run['run_id'])}/skip", user="sales_ana")
    assert skipped.status_code in (200, 409), skipped.text  # 409: the run had already started processing
    current = ok(call(airflow, "GET", "/definitions/task/sales_orders", user="sales_ana"))["yaml"]
    refused = call(airflow, "PUT", "/definitions/task/sales_orders", user="sales_ana",
                   json={"yaml": current.replace("export", "rewritten")})
    assert refused.status_code == 403, refused.text
    # disable: only the pause switch (the definition stays as written), then enable again
    done = page_post(airflow, "sales_ana", "sales_orders", "enabled", {"enabled": "false"}, follow=True)
    assert done.status_code == 200 and "only the pause switch changed" in done.text, done.text[:2000]
    assert ok(call(airflow, "GET", "/tasks/sales_orders"))["enabled"] is False
    assert ok(call(airflow, "GET", "/definitions/task/sales_orders"))["yaml"] == current
    page_post(airflow, "sales_ana", "sales_orders", "enabled", {"enabled": "true"}, follow=True)
    assert ok(call(airflow, "GET", "/tasks/sales_orders"))["enabled"] is True


def test_edit_writes_its_projects_definitions(airflow: AirflowInstance) -> None:
    current = ok(call(airflow, "GET", "/definitions/task/sales_refunds", user="sales_boss"))["yaml"]
    changed = current.replace("sales_refunds export", "refunds of the week")
    assert ok(call(airflow, "PUT", "/definitions/task/sales_refunds", user="sales_boss", json={"yaml": changed}))
    assert "refunds of the week" in ok(call(airflow, "GET", "/definitions/task/sales_refunds"))["yaml"]
    # the project's own definition too (its tasks' DAGs are all the DAGs it makes: no series, no schedule)
    project = ok(call(airflow, "GET", "/definitions/project/sales", user="sales_boss"))["yaml"]
    assert call(airflow, "PUT", "/definitions/project/sales", user="sales_ana",
                json={"yaml": project + "description: by ana\n"}).status_code == 403
    ok(call(airflow, "PUT", "/definitions/project/sales", user="sales_boss",
            json={"yaml": project + "description: by the boss\n"}))
    # a code-bearing change still needs the right to edit connections (docs/security.md), which it lacks
    script = changed + "processing: {inline: 'print(1)'}\n"
    refused = call(airflow, "PUT", "/definitions/task/sales_refunds", user="sales_boss", json={"yaml": script})
    assert refused.status_code == 403 and "edit connections" in refused.text, refused.text
    # nor may it hand out rights: `access` becomes the DAGs' access_control (its own role's included)
    widened = project.replace("sales_viewer: [read]", "sales_viewer: [read, run]")
    assert widened != project
    refused = call(airflow, "PUT", "/definitions/project/sales", user="sales_boss", json={"yaml": widened})
    assert refused.status_code == 403 and "changing `access`" in refused.text, refused.text
    granted = changed + "access: {sales_admin: [read, run, edit], hr_ops: [read]}\n"
    refused = call(airflow, "PUT", "/definitions/task/sales_refunds", user="sales_boss", json={"yaml": granted})
    assert refused.status_code == 403 and "changing `access`" in refused.text, refused.text


def test_launching_an_orchestration_needs_the_right_to_run_each_of_its_tasks(airflow: AirflowInstance) -> None:
    def refusal() -> str | None:
        resp = call(airflow, "POST", "/orchestrations/sales_chain/instances", user="sales_ana")
        return resp.text if resp.status_code == 403 and "`hr_payroll`" in resp.text else None

    assert "may not run" in wait_for("the launch refused for hr_payroll", refusal, timeout=60)
    assert ok(call(airflow, "GET", "/orchestrations/sales_chain/instances", user="admin")) == [], "nothing launched"


def test_a_bulk_filter_never_touches_another_projects_task(airflow: AirflowInstance, hr_run: str) -> None:
    ok(call(airflow, "POST", "/tasks/sales_refunds/runs", user="sales_ana", json={}))
    for action in ("skip", "retry"):
        result = ok(call(airflow, "POST", f"/runs/{action}", user="sales_ana", json={"filter": {}}))
        touched = {r["task"] for r in result["results"]}
        assert touched and touched <= SALES, (action, result)
    # a read-only role's filter matches only runs it may not act on: 403, nothing done
    assert call(airflow, "POST", "/runs/retry", user="sales_view", json={"filter": {}}).status_code == 403
    hr = ok(call(airflow, "GET", f"/tasks/hr_payroll/runs/{q(hr_run)}"))
    assert not hr["skipped"], hr


def test_the_pages_sign_in_through_fab_and_show_only_the_roles_project(
    airflow: AirflowInstance, browser: Any
) -> None:
    context = browser.new_context(base_url=airflow.base_url)
    try:
        page = sign_in(context, "sales_ana", fab=True)
        page.goto("/batchtasks/ui/tasks")
        text = page.locator("body").inner_text()
        assert "sales_orders" in text and "sales_refunds" in text and "hr_payroll" not in text, text[:2000]
        page.goto("/batchtasks/ui/my-tasks")
        text = page.locator("body").inner_text()
        assert "sales_orders" in text and "hr_payroll" not in text, text[:2000]
        page.goto("/batchtasks/ui/tasks/sales_orders")
        assert "sales_orders export" in page.locator("body").inner_text()
        refused = page.goto("/batchtasks/ui/tasks/hr_payroll")
        assert refused is not None and refused.status == 403
    finally:
        context.close()


def page_post(airflow: AirflowInstance, user: str, task: str, action: str, form: dict[str, str],
              follow: bool = False) -> httpx.Response:
    """A form of ``task``'s page posted as ``user``, with the CSRF token of a page ``user`` may open (the
    All Tasks list, or their own task's page): what a hand-made form would send, so the refusal is the server's."""
    ui = f"{airflow.base_url}/batchtasks/ui"
    headers = {"Authorization": f"Bearer {airflow.token(user)}", "Origin": airflow.base_url}
    with httpx.Client(headers=headers, timeout=30) as client:
        token = None
        for page in ("/tasks", "/tasks/sales_orders", "/tasks/hr_payroll"):
            token = token or re.search(r'name="csrf" value="([^"]+)"', client.get(ui + page).text)
        assert token, f"no page of {user} carries a form token"
        return client.post(f"{ui}/tasks/{task}/{action}", data={"csrf": token.group(1), **form},
                           follow_redirects=follow)


@pytest.mark.parametrize(("path", "tasks_of"), [
    ("/runs", lambda body: {r["task"] for r in body["runs"]}),
    ("/audit", lambda body: {e["task"] for e in body["entries"]} - {None}),
])
def test_runs_and_audit_show_only_the_roles_project(
    airflow: AirflowInstance, hr_run: str, path: str, tasks_of: Callable[[Any], set[str]]
) -> None:
    ok(call(airflow, "POST", "/tasks/sales_orders/runs", user="sales_ana", json={}))
    sales = SALES | {"sales_chain"}  # the orchestration granted to sales_ops (its launches are audited)
    for user, own in (("sales_ana", sales), ("sales_view", SALES), ("hr_olga", HR)):
        body = ok(call(airflow, "GET", path, user=user, params={"limit": 1000}))
        seen = tasks_of(body)
        assert seen and seen <= own, (path, user, seen)
        # entries without a DAG (a project's definition written, a task before its DAG) only for all-DAG readers
        assert all(e["task"] for e in body.get("entries", [])), (user, body)
    assert tasks_of(ok(call(airflow, "GET", path, params={"limit": 1000}))) >= {"sales_orders", "hr_payroll"}


TYPO_TASK = (
    "kind: task\nname: {name}\nproject: hr\ndescription: a role name with a typo\n"
    "source: {{type: sql, conn_id: shop, query: 'select id from sales'}}\n"
    "destinations: [{{type: local, path: /tmp}}]\naccess: {{hr_opz: [read]}}\n"
)


def test_an_unknown_role_is_refused_on_write_and_left_out_by_the_loader(airflow: AirflowInstance) -> None:
    # through the API (and the pages, which save through it): 422 naming the field, nothing written
    refused = call(airflow, "POST", "/definitions", json={"yaml": TYPO_TASK.format(name="typo_api")})
    assert refused.status_code == 422, refused.text
    assert "access: unknown role `hr_opz`" in refused.text and "`hr_ops`" in refused.text, refused.text
    assert call(airflow, "GET", "/definitions/task/typo_api").status_code == 404

    # written by hand into the folder: the loader leaves the role out of that DAG (the API server published
    # FAB's roles on the requests above), so FAB breaks nothing and every other DAG of the loader file stays
    folder = airflow.env["AIRFLOW__BATCHTASKS__DEFINITIONS_FOLDER"]
    with open(f"{folder}/typo.yaml", "w") as fh:
        fh.write(TYPO_TASK.format(name="typo_hand"))
    airflow.wait_for_dag("typo_hand", timeout=180)

    def error_shown() -> str | None:
        doc = airflow.api("GET", "/api/v2/dags/batchtasks_definition_errors/details")
        text = doc.text if doc.status_code == 200 else ""
        return text if "access.hr_opz" in text else None

    assert "unknown role `hr_opz`" in wait_for("the role error on the errors DAG", error_shown, timeout=120)
    assert airflow.import_errors() == [], "the loader file is not broken"
    run_id = airflow.trigger("hr_payroll")  # 400 'import errors' if the loader file were broken
    assert run_id
    # the task keeps its project's roles: hr_ops reads it, and FAB holds no grant for the unknown role. FAB's
    # auth manager keeps a user with her permissions for [fab] cache_ttl (30 s): hr_olga, seen by the tests
    # before, reads the new DAG once that copy expires
    wait_for("hr_olga reads typo_hand", lambda: call(airflow, "GET", "/tasks/typo_hand", user="hr_olga").status_code
             == 200, timeout=90)
