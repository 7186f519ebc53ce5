"""``/tasks``: the task list, details, run now and cancel retry."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, ValidationError

from airflow_batchtasks.plugins.api.deps import DagReader, GetUserDep, RunCreator, SessionDep, StepEditor
from airflow_batchtasks.plugins.api.routes.common import when
from airflow_batchtasks.plugins.data import actions, audit, query_preview, tasks
from airflow_batchtasks.plugins.data.access import readable_dag_ids
from airflow_batchtasks.plugins.data.errors import Invalid
from airflow_batchtasks.plugins.data.models import RunInfo, TaskDetail, TaskList

router = APIRouter(tags=["Tasks"])


def task_filter(
    user: Any,
    project: str | None,
    owner: str | None,
    status: list[str] | None,
    q: str | None,
    name: str | None,
    created_from: str | None,
    created_to: str | None,
    updated_from: str | None,
    updated_to: str | None,
) -> tasks.TaskFilter:
    """The filter of a request; ``owner=me`` is the caller. Dates: ``20220221``, ``20220221T061500`` or ISO."""
    try:
        return tasks.TaskFilter(
            project=project,
            owner=user.get_name() if owner == "me" else owner,
            status=status,
            q=q,
            name=name,
            created_from=when(created_from, "created_from"),
            created_to=when(created_to, "created_to", end=True),
            updated_from=when(updated_from, "updated_from"),
            updated_to=when(updated_to, "updated_to", end=True),
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        raise Invalid(f"{'.'.join(map(str, err['loc']))}: {str(err['msg']).removeprefix('Value error, ')}") from None


@router.get("/tasks", response_model=TaskList)
def list_tasks(
    user: GetUserDep,
    session: SessionDep,
    project: str | None = None,
    owner: Annotated[str | None, Query(description="an owner's user name, or `me`")] = None,
    status: Annotated[list[str] | None, Query(description="New, Processing, Retry, Finished, Failed, Skipped")] = None,
    q: Annotated[str | None, Query(description="name contains (case-insensitive)")] = None,
    name: Annotated[str | None, Query(description="name equals")] = None,
    created_from: str | None = None,
    created_to: str | None = None,
    updated_from: str | None = None,
    updated_to: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> TaskList:
    """Tasks the caller may read, with status, current run, next run, owners and project; ``total`` for paging."""
    f = task_filter(user, project, owner, status, q, name, created_from, created_to, updated_from, updated_to)
    return tasks.list_tasks(session, f, readable_dag_ids(user), limit, offset)


@router.get("/tasks/{name}", response_model=TaskDetail)
def get_task(name: str, user: DagReader, session: SessionDep) -> TaskDetail:
    """The task, its definition, run arguments, next 5 run times and last runs."""
    return tasks.get_task(session, name)


ARGS_HELP = (
    'space-separated key=value and/or positional values filling the declared params in order, '
    'e.g. "region=EU day=2026-11-20" or "EU 2026-11-20"'
)


class RunBody(BaseModel):
    args: str | None = Field(None, description=ARGS_HELP)
    params: dict[str, Any] | None = Field(None, description="run arguments as JSON (instead of args)")

    model_config = {"extra": "forbid"}


@router.post("/tasks/{name}/runs", response_model=RunInfo)
def run_task(name: str, user: RunCreator, session: SessionDep, body: RunBody | None = None) -> RunInfo:
    """Queue a run now (Airflow's trigger code path, started by the caller); returns the queued run."""
    body = body or RunBody()
    with audit.audited(user, "run", name, args=_audited_args(session, name, body.args), params=body.params) as entry:
        run = actions.trigger(session, name, user, args=body.args, params=body.params)
        entry.run_id = run.run_id
    return run


def _audited_args(session: Any, name: str, args: str | None) -> str | None:
    """``args`` with positional values named (see :func:`actions.args_for_audit`); as sent when the task's
    DAG cannot be read (the run is then refused before anything is parsed)."""
    if not args:
        return args
    try:
        dag = actions.dag_bag().get_latest_version_of_dag(name, session=session)
    except Exception:
        dag = None
    return actions.args_for_audit(args, dag.params) if dag is not None else "***"


@router.post("/tasks/{name}/cancel-retry", response_model=RunInfo)
def cancel_retry(name: str, user: StepEditor, session: SessionDep) -> RunInfo:
    """Fail the step waiting for an automatic retry so it is not retried (409 while a step is running)."""
    with audit.audited(user, "cancel_retry", name) as entry:
        run = actions.cancel_retry(session, name, user)
        entry.run_id = run.run_id
    return run


class PreviewOptions(BaseModel):
    """The run a query preview is for: arguments (``args`` or ``params``) and the run's date."""

    args: str | None = Field(None, description=ARGS_HELP)
    params: dict[str, Any] | None = Field(None, description="run arguments as JSON (instead of args)")
    date: str | None = Field(None, description="the run's logical date, YYYY-MM-DD (default: today, UTC)")
    paramstyle: str = Field("qmark", description="placeholders: qmark (?, default), format, pyformat, numeric, named")

    model_config = {"extra": "forbid"}


class QueryPreview(BaseModel):
    query: str | None = Field(description="the SQL as it will be sent, run arguments as placeholders "
                              "(null when it is fetched from `query_from`, see `note`)")
    removed: list[str] = Field(description="statements removed before it runs (`USE <db>`, `GO`)")
    parameters: list[dict[str, Any]] = Field(
        description="bound values in placeholder order: {placeholder, name, value}; secret-like names masked")
    paramstyle: str
    date: str
    note: str | None = None


@router.post("/tasks/{name}/query-preview", response_model=QueryPreview)
def preview_query(name: str, user: DagReader, body: PreviewOptions | None = None) -> QueryPreview:
    """The saved task's query as it will run for ``date`` and the run arguments; nothing is executed."""
    body = body or PreviewOptions()
    task = query_preview.saved_task(name)
    return QueryPreview(**query_preview.preview(task, args=body.args, params=body.params, date=body.date,
                                                paramstyle=body.paramstyle))
