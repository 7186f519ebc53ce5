"""New / Edit pages of definitions (task, project, orchestration): a form and a YAML tab over one document.

The page is a shell: it embeds the definition's YAML text (masked, as ``GET
/definitions/{kind}/{name}`` gives it; a starter for a new one) and the JSON
Schema, and ``static/authoring.js`` does the rest in the browser through the
REST API the pages share with every client: live validation (``POST
/definitions/validate``), Save (``POST /definitions`` or ``PUT
/definitions/{kind}/{name}``, CSRF token in the ``X-CSRF-Token`` header), the
pickers (``/pickers/...``) and the cron helper (``/cron/describe``). So the
rights are the API's: reading needs what ``GET /definitions/{kind}/{name}``
needs; writing needs DAG edit on the DAGs the definition makes and a writable
folder (``[batchtasks] definitions_writable``); otherwise the page shows the
definition read-only and says why. :func:`may_author` lets other pages show
their New / Edit links only to users allowed to use them.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import pass_context

from airflow_batchtasks import config
from airflow_batchtasks.definitions.models import KINDS
from airflow_batchtasks.definitions.schema import definition_schema
from airflow_batchtasks.plugins.api.routes import definitions as definitions_api
from airflow_batchtasks.plugins.data import runs
from airflow_batchtasks.plugins.data.access import can_write_definition, readable_dag_ids
from airflow_batchtasks.plugins.data.errors import DataError, Invalid
from airflow_batchtasks.plugins.views import security
from airflow_batchtasks.plugins.views.render import airflow_path, back, render, templates
from airflow_batchtasks.plugins.views.security import ActionUser, PageUser

router = APIRouter()

#: What a new definition starts from (the form fills in the rest; comments show the YAML tab keeps them).
STARTERS = {
    "task": (
        "# A batch task: a source, an output file, where it goes.\n"
        "kind: task\n"
        "name: new_task\n"
        "description: \"\"\n"
        "enabled: true\n"
        "source:\n"
        "  type: sql\n"
        "  conn_id: \"\"\n"
        "  query: select 1\n"
        "output:\n"
        "  name: \"new_task_{{ ds_nodash }}.csv\"\n"
        "destinations: []\n"
    ),
    "project": (
        "# A project groups tasks: shared owners, parameters and schedule.\n"
        "kind: project\n"
        "name: new_project\n"
        "description: \"\"\n"
        "owners: []\n"
        "run_in_series: false\n"
    ),
    "orchestration": (
        "# An orchestration runs tasks one after another.\n"
        "kind: orchestration\n"
        "name: new_orchestration\n"
        "description: \"\"\n"
        "active: true\n"
        "steps:\n"
        "  - task: \"\"\n"
    ),
}
KIND_TITLES = {"task": "task", "project": "project", "orchestration": "orchestration"}


@functools.cache
def _schema() -> dict[str, Any]:
    """The definitions' JSON Schema (built from the models once per process: ~20 ms each time otherwise)."""
    return definition_schema()


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise HTTPException(404, f"unknown kind `{kind}`: expected one of {', '.join(KINDS)}")
    return kind


def may_create(user: BaseUser) -> bool:
    """What ``POST /definitions`` asks before parsing: the user may edit at least one DAG."""
    return readable_dag_ids(user, "PUT") != set()


def may_edit(user: BaseUser, kind: str, name: str) -> bool:
    """What ``PUT /definitions/{kind}/{name}`` asks: DAG edit and delete on every DAG the definition makes."""
    return can_write_definition(user, definitions_api.dag_ids(kind, name))


def _parse_seconds() -> int | None:
    """How often the dag-processor re-reads the loader file, when the setting is readable."""
    from airflow.configuration import conf

    try:
        return conf.getint("dag_processor", "min_file_process_interval", fallback=30)
    except Exception:  # noqa: BLE001 - a malformed setting is no reason to fail the page
        return None


# ----------------------------------------------------------------------------- links on other pages


@pass_context
def may_author(context: Any, kind: str, name: str | None = None) -> bool:
    """Whether the page's user may use New (``name`` None) or Edit of ``kind``/``name`` (Jinja global).

    The API's own checks, so a link is shown only where the save would be accepted; false when
    the folder is read-only (the pages would only show the definition).
    """
    request: Request = context["request"]
    user: BaseUser | None = context.get("user")
    if user is None or not config.definitions_writable():
        return False
    key = ("batchtasks_author", kind, name)
    memo: dict[Any, bool] = request.state.__dict__.setdefault("batchtasks_author_memo", {})
    if key not in memo:
        try:
            memo[key] = may_create(user) if name is None else may_edit(user, kind, name)
        except Exception:  # noqa: BLE001 - e.g. a project missing from the catalog
            memo[key] = False
    return memo[key]


templates.env.globals["may_author"] = may_author


# ----------------------------------------------------------------------------- pages


def _line_offset(text: str, line: int) -> int:
    """Lines of the file before the first line of ``text`` (validation errors name lines of the file)."""
    if line <= 1:
        return 0
    for number, content in enumerate(text.splitlines(), start=1):
        if content.strip() and not content.lstrip().startswith("#"):
            return max(line - number, 0)
    return 0


def _page(request: Request, user: BaseUser, kind: str, name: str | None, text: str, writable: bool,
          reason: str | None, file: str | None, line: int = 1) -> HTMLResponse:
    root = security.ui_root(request)
    data = {
        "kind": kind,
        "name": name,
        "mode": "edit" if name else "new",
        "yaml": text,
        "writable": writable,
        "schema": _schema(),
        "api": root.removesuffix("/ui") + "/api/v1",
        "ui": root,
        "airflow_dags": airflow_path(runs.dag_url("x")).removesuffix("x"),
        "line_offset": _line_offset(text, line),
        "parse_seconds": _parse_seconds(),
        "task_link": f"{root}/tasks/",
        "orchestration_link": f"{root}/orchestrations/",
    }
    title = f"{'Edit' if name else 'New'} {KIND_TITLES[kind]}" + (f" {name}" if name else "")
    return render(request, "authoring.html", user, kind=kind, name=name, title=title, writable=writable,
                  reason=reason, file=file, data=data, yaml_text=text,
                  nav="orch" if kind == "orchestration" else "all")


def _read_only_reason(allowed: bool) -> str | None:
    if not config.definitions_writable():
        return ("Definitions are read-only on this Airflow: `[batchtasks] definitions_writable` is false, "
                "so they are changed in the definitions folder (e.g. through its git repository), not here.")
    if not allowed:
        return "You may read this definition but not change it: that needs DAG edit on the DAGs it makes."
    return None


@router.get("/definitions/new/{kind}", name="definition_new", response_class=HTMLResponse)
def new_definition(request: Request, kind: str, user: PageUser) -> HTMLResponse:
    """A form and a YAML tab for a new definition of ``kind``, starting from a small example."""
    kind = _kind(kind)
    allowed = may_create(user)
    if not allowed and config.definitions_writable():
        raise HTTPException(403, "creating definitions needs DAG edit")
    reason = _read_only_reason(allowed)
    return _page(request, user, kind, None, STARTERS[kind], reason is None, reason, None)


@router.get("/definitions/edit/{kind}/{name}", name="definition_edit", response_class=HTMLResponse)
def edit_definition(request: Request, kind: str, name: str, user: PageUser) -> HTMLResponse:
    """The definition as ``GET /definitions/{kind}/{name}`` gives it (secrets masked), to change and save."""
    kind = _kind(kind)
    definition = definitions_api.get_definition(kind, name, user)  # the API's read check; 404 if unknown
    reason = _read_only_reason(may_edit(user, kind, name))
    return _page(request, user, kind, name, definition.yaml, reason is None, reason, definition.file,
                 definition.line)


@router.post("/definitions/delete/{kind}/{name}", name="definition_delete")
def delete_definition(
    request: Request, kind: str, name: str, user: ActionUser, confirm: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Delete a project or orchestration definition: the API's delete (its rights, and a refusal naming what
    still uses it), confirmed by typing the name again. Tasks are deleted from Task Details."""
    kind = _kind(kind)
    root = security.ui_root(request)
    edit_page = f"{root}/definitions/edit/{kind}/{name}"
    if kind == "task":
        return back(request, f"{root}/tasks/{name}", "error", "Delete the task here, on its Task Details.")
    if confirm.strip() != name:
        return back(request, edit_page, "error", f"Type the {kind}'s name `{name}` to confirm the deletion.")
    try:
        definitions_api.delete_definition(kind, name, user)
    except Invalid as exc:  # what the deletion would break, each as file:line: field: message
        return back(request, edit_page, "error", f"{exc}: " + "; ".join(exc.errors[:5]))
    except DataError as exc:
        return back(request, edit_page, "error", str(exc))
    listing = f"{root}/orchestrations" if kind == "orchestration" else f"{root}/tasks"
    return back(request, listing, "ok", f"{KIND_TITLES[kind].capitalize()} {name} deleted from its definition "
                                        "file. Its DAG leaves Airflow at the next parse.")
