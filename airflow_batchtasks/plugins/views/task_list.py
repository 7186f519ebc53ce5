"""All Tasks and My Tasks (Atlas Hub's lists, Alumio's filters, statuses and bulk skip/retry).

The table, the clouds and the bulk actions call exactly what ``GET /tasks``
and ``POST /runs/skip|retry`` call: the API's ``task_filter`` (so ``owner=me``,
status names and dates mean the same), ``facets.list_with_facets`` (the rows
``tasks.list_tasks`` pages through, with the cloud and status counts taken from
one pass over them) and the bulk routes themselves (same authorization,
per-run results, audit entries).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from airflow_batchtasks.plugins.api.deps import SessionDep
from airflow_batchtasks.plugins.api.routes import bulk as bulk_api
from airflow_batchtasks.plugins.api.routes import tasks as tasks_api
from airflow_batchtasks.plugins.data import facets
from airflow_batchtasks.plugins.data.access import DagAccessEntity, readable_dag_ids
from airflow_batchtasks.plugins.data.errors import DataError
from airflow_batchtasks.plugins.data.models import TaskList
from airflow_batchtasks.plugins.data.status import TASK_STATUSES
from airflow_batchtasks.plugins.views import security
from airflow_batchtasks.plugins.views.render import render
from airflow_batchtasks.plugins.views.security import ActionUser, PageUser

router = APIRouter()

PAGE_SIZES = (25, 50, 100)
FILTER_FIELDS = ("project", "owner", "q", "created_from", "created_to", "updated_from", "updated_to")


def _blank_to_none(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


@router.get("/", name="home", include_in_schema=False)
def home(request: Request) -> RedirectResponse:
    return RedirectResponse(security.ui_root(request) + "/tasks", status_code=307)


def _list_page(
    request: Request, user: Any, session: Any, *, mine: bool, filters: dict[str, Any], status: list[str],
    limit: int, offset: int,
) -> HTMLResponse:
    filters = {k: _blank_to_none(v) for k, v in filters.items()}
    if mine:
        filters["owner"] = "me"
    statuses = [s for s in status if s]
    error = None
    page = TaskList(total=0, limit=limit, offset=offset, tasks=[])
    counts = facets.Facets()
    try:
        f = tasks_api.task_filter(user, filters["project"], filters["owner"], statuses or None, filters["q"], None,
                                  filters["created_from"], filters["created_to"], filters["updated_from"],
                                  filters["updated_to"])
        page, counts = facets.list_with_facets(session, f, readable_dag_ids(user), limit, offset)
    except DataError as exc:
        error = str(exc)
    names = [t.name for t in page.tasks]
    editable = security.allowed(user, "PUT", names, DagAccessEntity.RUN)
    query = {**filters, "status": statuses, "limit": limit if limit != 50 else None}
    if mine:
        query.pop("owner")
    return render(
        request, "task_list.html", user,
        status_code=422 if error else 200,
        mine=mine, page=page, counts=counts, error=error, filters=filters, statuses=statuses,
        all_statuses=TASK_STATUSES, editable=editable, page_sizes=PAGE_SIZES, query=query,
        page_name="my_tasks" if mine else "all_tasks",
        active=any(t.last_run is not None and t.last_run.state in ("queued", "running") for t in page.tasks),
    )


Status = Annotated[list[str] | None, Query(description="New, Processing, Retry, Finished, Failed, Skipped")]
Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0)]


@router.get("/tasks", name="all_tasks", response_class=HTMLResponse)
def all_tasks(
    request: Request, user: PageUser, session: SessionDep,
    project: str | None = None, owner: str | None = None, q: str | None = None, status: Status = None,
    created_from: str | None = None, created_to: str | None = None,
    updated_from: str | None = None, updated_to: str | None = None,
    limit: Limit = 50, offset: Offset = 0,
) -> HTMLResponse:
    """Every task the user may read: filters, owner and project clouds, statuses, bulk skip/retry."""
    filters = {"project": project, "owner": owner, "q": q, "created_from": created_from, "created_to": created_to,
               "updated_from": updated_from, "updated_to": updated_to}
    return _list_page(request, user, session, mine=False, filters=filters, status=list(status or []), limit=limit,
                      offset=offset)


@router.get("/my-tasks", name="my_tasks", response_class=HTMLResponse)
def my_tasks(
    request: Request, user: PageUser, session: SessionDep,
    project: str | None = None, q: str | None = None, status: Status = None,
    created_from: str | None = None, created_to: str | None = None,
    updated_from: str | None = None, updated_to: str | None = None,
    limit: Limit = 50, offset: Offset = 0,
) -> HTMLResponse:
    """The tasks of the projects the user owns (``owner=me``), with the project cloud."""
    filters = {"project": project, "owner": None, "q": q, "created_from": created_from, "created_to": created_to,
               "updated_from": updated_from, "updated_to": updated_to}
    return _list_page(request, user, session, mine=True, filters=filters, status=list(status or []), limit=limit,
                      offset=offset)


def safe_back(request: Request, back: str | None, default: str) -> str:
    """A return address among these pages only (never an open redirect)."""
    root = security.ui_root(request)
    if back and back.startswith(root + "/") and not back.startswith("//") and "\\" not in back:
        return back
    return root + default


@router.post("/tasks/bulk", name="bulk_action", response_class=HTMLResponse)
def bulk_action(
    request: Request, user: ActionUser, session: SessionDep,
    action: Annotated[str, Form()],
    run: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies defaults
    scope: Annotated[str, Form()] = "selected",
    back: Annotated[str | None, Form()] = None,
    project: Annotated[str | None, Form()] = None, owner: Annotated[str | None, Form()] = None,
    q: Annotated[str | None, Form()] = None, status: Annotated[list[str], Form()] = [],  # noqa: B006
    created_from: Annotated[str | None, Form()] = None, created_to: Annotated[str | None, Form()] = None,
    updated_from: Annotated[str | None, Form()] = None, updated_to: Annotated[str | None, Form()] = None,
) -> HTMLResponse:
    """Skip or retry the selected runs (``task/run_id`` values), or every run the filters match."""
    target = safe_back(request, back, "/tasks")
    if action not in ("skip", "retry"):
        return render(request, "bulk_result.html", user, status_code=422, action=action, result=None, back=target,
                      error=f"unknown action `{action}`")
    if scope == "matching":
        body = bulk_api.BulkBody(filter=bulk_api.FilterBody(
            project=_blank_to_none(project), owner=_blank_to_none(owner), q=_blank_to_none(q),
            status=[s for s in status if s] or None, created_from=_blank_to_none(created_from),
            created_to=_blank_to_none(created_to), updated_from=_blank_to_none(updated_from),
            updated_to=_blank_to_none(updated_to),
        ))
    else:
        refs = [bulk_api.RunRef(task=t, run_id=r) for t, _, r in (v.partition("/") for v in run) if t and r]
        if not refs:
            return render(request, "bulk_result.html", user, status_code=422, action=action, result=None,
                          back=target, error="Select at least one task with a run first.")
        body = bulk_api.BulkBody(runs=refs)
    do = bulk_api.bulk_skip if action == "skip" else bulk_api.bulk_retry
    try:
        result = do(body, user, session)
    except DataError as exc:
        return render(request, "bulk_result.html", user, status_code=exc.status_code, action=action, result=None,
                      back=target, error=str(exc))
    return render(request, "bulk_result.html", user, action=action, result=result, back=target, error=None)
