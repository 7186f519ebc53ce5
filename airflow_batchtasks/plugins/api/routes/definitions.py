"""``/definitions``: read, create, replace, delete, duplicate and validate definition files.

Authorization is on the DAGs a definition makes: a task's or orchestration's
own DAG; a project's ``project__<name>`` DAG and its tasks' DAGs (reading needs
any of them, writing needs all). Writes need DAG edit (``PUT``) and answer 405
when ``[batchtasks] definitions_writable`` is false.

Definitions are code: creating, replacing or duplicating one whose code-bearing parts are new
(scripts, ``python``/``ssh`` sources, fetched queries, templates that reach beyond run data, see
``definitions.code_features``) also needs the right to edit connections, templates reading
``var`` the right to read variables, and ``expose_connections`` the right to edit each connection
the script gets. A `local` file source or destination outside ``[batchtasks] local_roots`` counts
as code too (it reads or writes the worker's files, e.g. the DAGs folder). A replace that keeps
those parts as they are (a reschedule) needs DAG edit only.
Refusals are 403 with the missing right named, checked before anything is written.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field, model_validator

from airflow_batchtasks import config
from airflow_batchtasks.definitions.catalog import Catalog
from airflow_batchtasks.definitions.code_features import CodeFeature, added_features, exposed_connections
from airflow_batchtasks.naming import project_dag_id
from airflow_batchtasks.plugins.api.deps import GetUserDep, SessionDep, forbid_unless
from airflow_batchtasks.plugins.api.routes.tasks import PreviewOptions, QueryPreview
from airflow_batchtasks.plugins.data import actions, audit, catalog_cache, query_preview
from airflow_batchtasks.plugins.data import definitions_store as store
from airflow_batchtasks.plugins.data.access import (
    DagAccessEntity,
    MissingRight,
    can_access_all_dags,
    can_edit_connection,
    can_read_variables,
    can_write_definition,
    is_authorized,
    known_roles,
    readable_dag_ids,
)
from airflow_batchtasks.plugins.data.errors import Conflict, Invalid, NotFound
from airflow_batchtasks.plugins.data.models import Definition

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

router = APIRouter(tags=["Definitions"])


class DefinitionBody(BaseModel):
    """One definition: YAML text, or the same as a JSON object."""

    yaml: str | None = Field(None, description="the definition as YAML text (comments are kept)")
    definition: dict[str, Any] | None = Field(None, description="the definition as a JSON object")
    file: str | None = Field(None, description="create only: relative file to write (default <name>.yaml)")

    model_config = {"extra": "forbid"}

    @model_validator(mode="after")
    def _one(self) -> DefinitionBody:
        if (self.yaml is None) == (self.definition is None):
            raise ValueError("give either `yaml` or `definition`")
        return self

    @property
    def content(self) -> str | dict[str, Any]:
        return self.yaml if self.yaml is not None else (self.definition or {})


class DuplicateBody(BaseModel):
    name: str

    model_config = {"extra": "forbid"}


class DefinitionList(BaseModel):
    definitions: list[Definition]
    errors: list[str] = Field(description="current errors of the folder, as file:line: field: message")


class Validation(BaseModel):
    valid: bool
    errors: list[str]


def dag_ids(kind: str, name: str) -> list[str]:
    """The DAGs a definition makes, whose permissions decide who may read or write it.

    A project's are its tasks' DAGs, and ``project__<name>`` when that DAG exists (the project runs in
    series or has a schedule; or it has no tasks, so something is checked): a DAG that does not exist has
    no per-DAG permissions, so under FAB it would keep a project role from its own project's definition.
    """
    if kind != "project":
        return [name]
    catalog = catalog_cache.get_catalog()
    tasks = [t for t, e in catalog.tasks.items() if e.model.project == name]
    entry = catalog.projects.get(name)
    series = entry is None or entry.model.run_in_series or entry.model.schedule is not None
    return [project_dag_id(name)] * bool(series or not tasks) + tasks


def _readable(user: Any, kind: str, name: str, readable: set[str] | None) -> bool:
    ids = dag_ids(kind, name)
    return readable is None or any(i in readable for i in ids)


def _require(user: Any, method: str, kind: str, name: str) -> None:
    if method == "GET":
        forbid_unless(_readable(user, kind, name, readable_dag_ids(user)))
    else:
        forbid_unless(can_write_definition(user, dag_ids(kind, name)))


def _require_code_rights(user: Any, old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> None:
    """403 unless ``user`` holds the rights that the code-bearing parts ``new`` adds to ``old`` need.

    ``old``: the current definition's data (None when the definition is new: every part counts).
    Also the rights that what the definition grants or reaches needs (:func:`_require_grant_rights`).
    """
    _require_grant_rights(user, old, new)
    added = added_features(old, new, config.local_roots())
    code = [f for f in added if f.right == "connections"]
    if code and not can_edit_connection(user):
        _forbid("this definition runs code, which needs the right to edit connections besides DAG edit", code)
    variables = [f for f in added if f.right == "variables"]
    if variables and not can_read_variables(user):
        _forbid("this definition reads Airflow variables, which needs the right to read variables", variables)
    if code:  # the changed code gets the exposed connections' secrets: each must be the writer's to edit
        denied = [c for c in exposed_connections(new) if not can_edit_connection(user, c)]
        if denied:
            names = ", ".join(f"`{c}`" for c in denied)
            raise MissingRight(
                f"Forbidden: `processing.expose_connections` hands the script the secrets of every connection "
                f"the definition names; you may not edit {names}"
            )


def _require_grant_rights(user: Any, old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> None:
    """403 unless ``user`` may hand out what ``new`` adds to ``old``: its ``access`` and its steps' tasks.

    - ``access`` becomes the DAGs' ``access_control``: whoever may edit a definition could otherwise grant
      any role (their own included) ``run`` or ``edit`` on it. Changing it needs edit and delete on every
      DAG (a DAG administrator: Airflow's Admin and Op roles, SimpleAuthManager's admin and op).
    - An orchestration's steps run tasks when it is launched: a step added for a task needs the right to
      run that task (DAG-run create on its DAG), or editing one orchestration would run any task.
    """
    if (new.get("access") or None) != ((old or {}).get("access") or None) and not (
        can_access_all_dags(user, "PUT") and can_access_all_dags(user, "DELETE")
    ):
        raise MissingRight("Forbidden: changing `access` (who may read, run or edit these DAGs) needs edit on "
                           "every DAG (a DAG administrator); leave `access` as it is")
    _check_roles(old, new)
    if new.get("kind") == "orchestration":
        before = {str(s.get("task")) for s in (old or {}).get("steps") or [] if isinstance(s, Mapping)}
        added = sorted({str(s.get("task")) for s in new.get("steps") or [] if isinstance(s, Mapping)} - before)
        denied = [t for t in added if not is_authorized(user, "POST", [t], DagAccessEntity.RUN)]
        if denied:
            raise MissingRight(f"Forbidden: a step runs task {', '.join(f'`{t}`' for t in denied)}, which you may "
                               "not run (DAG-run create on its DAG)")


def _check_roles(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> None:
    """422 when ``new``'s ``access`` names a role the FAB auth manager does not know (and ``old`` did not).

    FAB would refuse the grant by breaking the whole loader file for a parse (every batch task); the loader
    drops such a role with an error too (``dag_factory.loader``), but a write through the API or the pages
    says so before anything is written. Under other auth managers roles are not checked (they ignore
    ``access_control``). Roles the definition already named are left alone: an edit of another field
    does not fail because a role was deleted since.
    """
    access = new.get("access")
    if not isinstance(access, Mapping) or not access:
        return
    before = (old or {}).get("access")
    added = [str(r) for r in access if not (isinstance(before, Mapping) and r in before)]
    if not added:
        return
    roles = known_roles()
    if roles is None:
        return
    unknown = [r for r in added if r not in roles]
    if unknown:
        raise Invalid(
            f"access: unknown role {', '.join(f'`{r}`' for r in unknown)}: the FAB auth manager knows "
            f"{', '.join(f'`{r}`' for r in sorted(roles)) or 'no role'}; create the role first (Security > List Roles, "
            "or `airflow roles create NAME`)"
        )


def _forbid(why: str, parts: list[CodeFeature]) -> None:
    listed = "; ".join(f.describe() for f in parts)
    raise MissingRight(
        f"Forbidden: {why} ({listed}). Ask someone who holds it to write this, or leave these parts as they are."
    )


@router.get("/definitions", response_model=DefinitionList)
def list_definitions(user: GetUserDep, kind: str | None = None) -> DefinitionList:
    """Definitions (of one ``kind`` if given) the caller may read, and the folder's current errors."""
    found, errors = store.list_definitions(kind)
    readable = readable_dag_ids(user)
    visible = [d for d in found if _readable(user, d.kind, d.name, readable)]
    if readable is not None:  # errors of definitions the caller cannot read stay hidden
        errors = [e for e in errors if e.name and e.kind and _readable(user, e.kind, e.name, readable)]
    return DefinitionList(definitions=visible, errors=[store.display(e) for e in errors])


@router.post("/definitions", response_model=Definition, status_code=status.HTTP_201_CREATED)
def create_definition(body: DefinitionBody, user: GetUserDep) -> Definition:
    """Add a definition (written to ``file`` or ``<name>.yaml``); 409 if the name exists, 422 with errors."""
    forbid_unless(readable_dag_ids(user, "PUT") != set())  # may edit no DAG at all: refused before parsing
    doc = store.single_document(store.document_text(body.content), body.file or "<body>")
    kind, name = doc.data["kind"], doc.data["name"]
    _require(user, "PUT", kind, name)
    # no dag_id: the DAG does not exist yet, and Airflow's audit log hides entries of unknown DAGs
    with audit.audited(user, "definition_create", None, kind=kind, name=name, file=body.file):
        _require_code_rights(user, None, doc.data)  # inside: a refusal is on record
        return store.create(body.content, body.file)


@router.post("/definitions/validate", response_model=Validation)
def validate(body: DefinitionBody, user: GetUserDep) -> Validation:
    """Errors the definition would introduce if written (``file``: as part of that file); nothing is written."""
    try:
        doc = store.single_document(store.document_text(body.content), body.file or "<body>")
        _require(user, "GET", doc.data["kind"], doc.data["name"])
    except store.Invalid as exc:
        return Validation(valid=False, errors=exc.errors)
    errors = store.validate_text(store.document_text(body.content), body.file)
    return Validation(valid=not errors, errors=errors)


class PreviewBody(PreviewOptions):
    """An unsaved task definition (YAML text or JSON object) and the run to preview its query for."""

    yaml: str | None = Field(None, description="the definition as YAML text")
    definition: dict[str, Any] | None = Field(None, description="the definition as a JSON object")

    @model_validator(mode="after")
    def _one(self) -> PreviewBody:
        if (self.yaml is None) == (self.definition is None):
            raise ValueError("give either `yaml` or `definition`")
        return self


@router.post("/definitions/query-preview", response_model=QueryPreview)
def preview_query(body: PreviewBody, user: GetUserDep) -> QueryPreview:
    """The query of an unsaved task definition as it would run (the editor's preview); nothing is executed.

    Needs what validating it needs: read on the task's DAG when the task exists (any caller who may read
    every DAG otherwise, as ``/definitions/validate``).
    """
    content = body.yaml if body.yaml is not None else (body.definition or {})
    doc = store.single_document(store.document_text(content), "<body>")
    _require(user, "GET", doc.data["kind"], doc.data["name"])
    task = query_preview.unsaved_task(content)
    return QueryPreview(**query_preview.preview(task, args=body.args, params=body.params, date=body.date,
                                                paramstyle=body.paramstyle))


@router.get("/definitions/{kind}/{name}", response_model=Definition)
def get_definition(kind: str, name: str, user: GetUserDep) -> Definition:
    _require(user, "GET", kind, name)
    return store.to_definition(store.find(kind, name), kind)


@router.put("/definitions/{kind}/{name}", response_model=Definition)
def replace_definition(
    kind: str, name: str, body: DefinitionBody, user: GetUserDep, session: SessionDep
) -> Definition:
    """Replace the definition in its file (other documents and comments of the file are kept).

    A task whose ``enabled`` changes is also unpaused or paused in Airflow, as Enable/Disable does:
    Airflow applies ``is_paused_upon_creation`` only when it creates a DAG, so without this the
    definition and the pause switch would disagree until someone flipped the switch.
    """
    return update_definition(kind, name, body, user, session)


def update_definition(
    kind: str, name: str, body: DefinitionBody, user: Any, session: Session | None = None
) -> Definition:
    """:func:`replace_definition`'s work; without ``session`` the pause switch is left to the caller (the
    task page's Enable/Disable sets it itself, to say what changed)."""
    _require(user, "PUT", kind, name)
    doc = store.single_document(store.document_text(body.content), "<body>")
    with audit.audited(user, "definition_update", name if kind != "project" else None, kind=kind, name=name):
        old = store.find(kind, name).doc.data
        _require_code_rights(user, old, doc.data)
        written = store.update(kind, name, body.content)
        enabled = bool(doc.data.get("enabled", True))
        if session is not None and kind == "task" and bool(old.get("enabled", True)) is not enabled:
            with contextlib.suppress(NotFound):  # not parsed yet: Airflow creates it paused or not from `enabled`
                actions.set_enabled(session, name, enabled)
        return written


def task_users(name: str, catalog: Catalog | None = None) -> list[str]:
    """What still runs task ``name`` besides its own DAG: orchestration steps, and its project's series
    (the ``project__<name>`` DAG runs the project's enabled tasks when the project runs in series or has a
    schedule)."""
    catalog = catalog or catalog_cache.get_catalog()
    users = [
        f"orchestration `{orch}` (step {i + 1})"
        for orch, entry in sorted(catalog.orchestrations.items())
        for i, step in enumerate(entry.model.steps)
        if step.task == name
    ]
    task = catalog.tasks.get(name)
    project = catalog.projects.get(task.model.project or "") if task is not None else None
    if task is not None and project is not None and task.model.enabled and (
        project.model.run_in_series or project.model.schedule
    ):
        users.append(f"the series of project `{project.model.name}` (DAG `{project_dag_id(project.model.name)}`)")
    return users


def check_unused(name: str) -> None:
    """409 naming what still uses task ``name`` (a delete would leave it running a task that is gone)."""
    users = task_users(name)
    if users:
        raise Conflict(
            f"task `{name}` is still used by {'; '.join(users)}: remove it from there first"
            + (" (disable the task to take it out of its project's series)" if "series" in users[-1] else "")
        )


@router.delete("/definitions/{kind}/{name}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delete_definition(kind: str, name: str, user: GetUserDep) -> Response:
    """Remove the definition from its file: 409 while an orchestration or a project series uses the task,
    422 if the change would break something else (e.g. a project that tasks still name)."""
    _require(user, "PUT", kind, name)
    with audit.audited(user, "definition_delete", name if kind != "project" else None, kind=kind, name=name):
        if kind == "task":
            store.find(kind, name)  # 404 first for an unknown task
            check_unused(name)
        store.delete(kind, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/definitions/{kind}/{name}/duplicate", response_model=Definition, status_code=status.HTTP_201_CREATED)
def duplicate_definition(kind: str, name: str, body: DuplicateBody, user: GetUserDep) -> Definition:
    """A disabled (task) / inactive (orchestration) copy named ``body.name``, next to the original."""
    _require(user, "GET", kind, name)
    _require(user, "PUT", kind, body.name)
    with audit.audited(user, "definition_duplicate", name if kind != "project" else None,
                       kind=kind, source=name, name=body.name):
        _require_code_rights(user, None, store.find(kind, name).doc.data)  # a copy is new code
        return store.duplicate(kind, name, body.name)
