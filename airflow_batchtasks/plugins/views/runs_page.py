"""The Runs page: runs of every task the user may read, with filters, pagination and bulk skip/retry.

It calls exactly what ``GET /runs`` and ``POST /runs/skip|retry`` call (the API's ``run_filter``,
``all_runs.list_runs`` and the bulk routes), so a status, a date or "all matching the filters"
means the same on the page and in the API. "All matching" sends the filter, never the ids: the
action targets exactly the runs the filter matches when it runs (:func:`bulk.run_targets`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from airflow_batchtasks.plugins.api.deps import SessionDep
from airflow_batchtasks.plugins.api.routes import bulk as bulk_api
from airflow_batchtasks.plugins.api.routes import runs as runs_api
from airflow_batchtasks.plugins.data import all_runs
from airflow_batchtasks.plugins.data.access import DagAccessEntity, readable_dag_ids
from airflow_batchtasks.plugins.data.errors import DataError
from airflow_batchtasks.plugins.data.models import RunPage
from airflow_batchtasks.plugins.data.status import TASK_STATUSES
from airflow_batchtasks.plugins.views import security
from airflow_batchtasks.plugins.views.render import back, render
from airflow_batchtasks.plugins.views.security import ActionUser, PageUser

router = APIRouter()

PAGE_SIZES = (25, 50, 100)
FILTER_FIELDS = ("project", "task", "task_name", "args", "created_from", "created_to", "updated_from", "updated_to")


def _blank_to_none(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _safe_back(request: Request, value: str | None) -> str:
    """A return address on this page only (never an open redirect)."""
    root = security.ui_root(request) + "/runs"
    if value and (value == root or value.startswith(root + "?")) and "\\" not in value:
        return value
    return root


@router.get("/runs", name="all_runs", response_class=HTMLResponse)
def runs_page(
    request: Request, user: PageUser, session: SessionDep,
    status: Annotated[list[str] | None, Query()] = None,
    project: str | None = None, task: str | None = None, task_name: str | None = None, args: str | None = None,
    created_from: str | None = None, created_to: str | None = None,
    updated_from: str | None = None, updated_to: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50, offset: Annotated[int, Query(ge=0)] = 0,
) -> HTMLResponse:
    """Runs of every readable task, newest first: filters, select (page / all matching), skip, retry."""
    filters = {k: _blank_to_none(v) for k, v in {
        "project": project, "task": task, "task_name": task_name, "args": args, "created_from": created_from,
        "created_to": created_to, "updated_from": updated_from, "updated_to": updated_to}.items()}
    statuses = [s for s in status or [] if s]
    error = None
    page = RunPage(total=0, limit=limit, offset=offset, runs=[])
    try:
        f = bulk_api.run_filter(user, status=statuses or None, **filters)
        page = all_runs.list_runs(session, f, readable_dag_ids(user, "GET", DagAccessEntity.RUN), limit, offset)
    except DataError as exc:
        error = str(exc)
    editable = security.allowed(user, "PUT", [r.task for r in page.runs], DagAccessEntity.RUN)
    query = {**filters, "status": statuses, "limit": limit if limit != 50 else None}
    return render(
        request, "runs_list.html", user, status_code=422 if error else 200,
        page=page, error=error, filters=filters, statuses=statuses, all_statuses=TASK_STATUSES,
        editable=editable, page_sizes=PAGE_SIZES, query=query,
        active=any(r.state in ("queued", "running") for r in page.runs),
    )


@router.post("/runs/bulk", name="runs_bulk_action", response_class=HTMLResponse)
def runs_bulk_action(
    request: Request, user: ActionUser, session: SessionDep,
    action: Annotated[str, Form()],
    run: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies defaults
    scope: Annotated[str, Form()] = "selected",
    back_to: Annotated[str | None, Form(alias="back")] = None,
    status: Annotated[list[str], Form()] = [],  # noqa: B006
    project: Annotated[str | None, Form()] = None, task: Annotated[str | None, Form()] = None,
    task_name: Annotated[str | None, Form()] = None, args: Annotated[str | None, Form()] = None,
    created_from: Annotated[str | None, Form()] = None, created_to: Annotated[str | None, Form()] = None,
    updated_from: Annotated[str | None, Form()] = None, updated_to: Annotated[str | None, Form()] = None,
) -> HTMLResponse:
    """Skip or retry the selected runs (``task/run_id``), or exactly the runs the filters match."""
    target = _safe_back(request, back_to)
    if action not in ("skip", "retry"):
        return render(request, "bulk_result.html", user, status_code=422, action=action, result=None, back=target,
                      error=f"unknown action `{action}`", nav="runs")
    try:
        if scope == "matching":
            f = bulk_api.FilterBody(
                status=[s for s in status if s] or None, project=_blank_to_none(project), task=_blank_to_none(task),
                task_name=_blank_to_none(task_name), args=_blank_to_none(args),
                created_from=_blank_to_none(created_from), created_to=_blank_to_none(created_to),
                updated_from=_blank_to_none(updated_from), updated_to=_blank_to_none(updated_to),
            )
            result = bulk_api.bulk_by_run_filter(f, user, session, action)
        else:
            refs = [bulk_api.RunRef(task=t, run_id=r) for t, _, r in (v.partition("/") for v in run) if t and r]
            if not refs:
                return render(request, "bulk_result.html", user, status_code=422, action=action, result=None,
                              back=target, error="Select at least one run first.", nav="runs")
            do = bulk_api.bulk_skip if action == "skip" else bulk_api.bulk_retry
            result = do(bulk_api.BulkBody(runs=refs), user, session)
    except DataError as exc:
        return render(request, "bulk_result.html", user, status_code=exc.status_code, action=action, result=None,
                      back=target, error=str(exc), nav="runs")
    return render(request, "bulk_result.html", user, action=action, result=result, back=target, error=None,
                  nav="runs")


@router.post("/runs/{name}/{run_id}/{action}", name="runs_single_action")
def runs_single_action(
    request: Request, name: str, run_id: str, action: str, user: ActionUser, session: SessionDep,
    back_to: Annotated[str | None, Form(alias="back")] = None,
) -> RedirectResponse:
    """One run's Skip (New only) or Retry (Finished/Failed/Skipped); back to the Runs page with the outcome."""
    target = _safe_back(request, back_to)
    if action not in ("skip", "retry"):
        return back(request, target, "error", f"unknown action `{action}`")
    try:
        security.require(user, "PUT", name, DagAccessEntity.RUN)
        if action == "skip":
            runs_api.skip_run(name, run_id, user, session)
        else:
            runs_api.retry_run(name, run_id, user, session)
    except DataError as exc:
        return back(request, target, "error", str(exc))
    except HTTPException as exc:
        return back(request, target, "error", str(exc.detail))
    done = "skipped." if action == "skip" else "queued again."
    return back(request, target, "ok", f"Run {run_id} of {name} {done}")
