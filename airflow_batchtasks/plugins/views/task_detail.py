"""Task Details (Atlas Hub): definition summary, next runs, run history, file history, and the task's actions.

Reads go through the data layer the API uses (``tasks.get_task``,
``runs.list_runs``, ``files.list_files``, ``runs.get_run``). Every action
calls the API route function itself after the same authorization check the
route declares, so a click here and a REST call are one code path: same
validation (a bad run argument is the API's 422 message), same effect through
Airflow, same audit entry. Actions answer with a redirect back to the page and
a flash message (post/redirect/get), so reloading never repeats an action.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from airflow_batchtasks.definitions import masking
from airflow_batchtasks.plugins.api.deps import SessionDep
from airflow_batchtasks.plugins.api.routes import bulk as bulk_api
from airflow_batchtasks.plugins.api.routes import definitions as definitions_api
from airflow_batchtasks.plugins.api.routes import files as files_api
from airflow_batchtasks.plugins.api.routes import runs as runs_api
from airflow_batchtasks.plugins.api.routes import tasks as tasks_api
from airflow_batchtasks.plugins.api.routes.common import when
from airflow_batchtasks.plugins.data import actions, audit, files, runs, tasks
from airflow_batchtasks.plugins.data.access import DagAccessEntity
from airflow_batchtasks.plugins.data.errors import DataError
from airflow_batchtasks.plugins.data.models import FileList, RunList
from airflow_batchtasks.plugins.data.status import RUN_STATUSES
from airflow_batchtasks.plugins.views import security
from airflow_batchtasks.plugins.views.render import back, render
from airflow_batchtasks.plugins.views.security import ActionUser, PageUser, require

router = APIRouter()

RUNS_PAGE = 20
FILES_PAGE = 20
#: Run states during which the page keeps refreshing its status (``ui.js``).
ACTIVE_STATES = ("queued", "running")


def _schedule_text(schedule: Any, tz: str) -> str | None:
    """The definition's cron schedule in words (Airflow's timetable summary covers the other forms)."""
    if not isinstance(schedule, str) or schedule.strip().lower() in ("none", ""):
        return None
    from airflow_batchtasks.definitions.cron_text import describe_cron

    try:
        return str(describe_cron(schedule, tz, 1)["description"])
    except (ValueError, KeyError):
        return None


def _permissions(user: Any, name: str) -> dict[str, bool]:
    """What the page offers; each action is checked again, the API's way, when it is used."""
    def may(method: Any, entity: DagAccessEntity | None = None) -> bool:
        return bool(security.allowed(user, method, [name], entity))

    return {
        "run": may("POST", DagAccessEntity.RUN),
        "edit_runs": may("PUT", DagAccessEntity.RUN),
        "cancel_retry": may("PUT", DagAccessEntity.TASK_INSTANCE),
        "edit_dag": may("PUT"),
    }


@router.get("/tasks/{name}", name="task_detail", response_class=HTMLResponse)
def task_detail(
    request: Request, name: str, user: PageUser, session: SessionDep,
    run_status: Annotated[str | None, Query()] = None,
    from_date: Annotated[str | None, Query()] = None, to_date: Annotated[str | None, Query()] = None,
    runs_offset: Annotated[int, Query(ge=0)] = 0, files_offset: Annotated[int, Query(ge=0)] = 0,
) -> HTMLResponse:
    """The task's page; ``run_status``/``from_date``/``to_date`` filter its run history as the runs API does."""
    require(user, "GET", name)
    require(user, "GET", name, DagAccessEntity.RUN)
    detail = tasks.get_task(session, name)
    run_error = None
    run_page = RunList(total=0, limit=RUNS_PAGE, offset=runs_offset, runs=[])
    try:
        run_page = runs.list_runs(
            session, name, from_date=when(from_date or None, "from_date"),
            to_date=when(to_date or None, "to_date", end=True),
            statuses=[run_status] if run_status else None, limit=RUNS_PAGE, offset=runs_offset,
        )
    except DataError as exc:
        run_error = str(exc)
    file_page: FileList = files.list_files(session, name, limit=FILES_PAGE, offset=files_offset)
    definition = detail.definition
    # the data layer masked the definition (data and text, comments kept) and its errors' paths
    data = dict(definition.data) if definition is not None else {}
    model_tz = str(data.get("timezone") or "UTC")
    definition_text = definition.yaml if definition is not None else ""
    active = any(r.state in ACTIVE_STATES for r in run_page.runs) or detail.status in ("New", "Processing", "Retry") \
        and detail.last_run is not None and detail.last_run.state in ACTIVE_STATES \
        or any(r.state in ("queued", "running") for f in file_page.files for r in f.resends)
    return render(
        request, "task_detail.html", user,
        task=detail, data=data, definition_text=definition_text,
        schedule_text=_schedule_text(data.get("schedule"), model_tz),
        runs=run_page, files=file_page, run_error=run_error, run_statuses=RUN_STATUSES,
        run_filters={"run_status": run_status, "from_date": from_date, "to_date": to_date},
        can=_permissions(user, name), active=active, runs_page=RUNS_PAGE, files_page=FILES_PAGE,
    )


@router.get("/tasks/{name}/runs/{run_id}", name="run_detail", response_class=HTMLResponse)
def run_detail(request: Request, name: str, run_id: str, user: PageUser, session: SessionDep) -> HTMLResponse:
    """One run: steps with their states, tries and links to their logs in Airflow, files, actions taken."""
    require(user, "GET", name, DagAccessEntity.RUN)
    run = runs.get_run(session, name, run_id)
    return render(request, "run_detail.html", user, task_name=name, run=run, can=_permissions(user, name),
                  active=run.state in ACTIVE_STATES)


# ----------------------------------------------------------------------------- actions


def _task_page(request: Request, name: str, anchor: str = "") -> str:
    return f"{security.ui_root(request)}/tasks/{quote(name, safe='')}{anchor}"


def _done(request: Request, target: str, fn: Any, success: str | Any, **keep: Any) -> RedirectResponse:
    """Run an action; come back to ``target`` with its outcome (``success`` may be a function of the result)."""
    try:
        result = fn()
    except DataError as exc:
        return back(request, target, "error", str(exc), **keep)
    text = success(result) if callable(success) else success
    return back(request, target, "ok", text)


@router.post("/tasks/{name}/run", name="run_task")
def run_task(
    request: Request, name: str, user: ActionUser, session: SessionDep, args: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Queue a run now with ``args`` (``key=value ...``), validated by the API's own code (422 message shown)."""
    require(user, "POST", name, DagAccessEntity.RUN)
    target = _task_page(request, name)
    body = tasks_api.RunBody(args=args.strip() or None)
    return _done(request, target, lambda: tasks_api.run_task(name, user, session, body),
                 lambda run: f"Run {run.run_id} queued"
                 + (f" with {masking.mask_args(args.strip())}" if args.strip() else "") + ".",
                 form="run", args=args)


@router.post("/tasks/{name}/cancel-retry", name="cancel_retry")
def cancel_retry(request: Request, name: str, user: ActionUser, session: SessionDep) -> RedirectResponse:
    """Stop a pending automatic retry (refused while a step runs)."""
    require(user, "PUT", name, DagAccessEntity.TASK_INSTANCE)
    target = _task_page(request, name)
    return _done(request, target, lambda: tasks_api.cancel_retry(name, user, session),
                 lambda run: f"Retry of run {run.run_id} cancelled: it will not be retried.")


@router.post("/tasks/{name}/enabled", name="set_enabled")
def set_enabled(
    request: Request, name: str, user: ActionUser, session: SessionDep, enabled: Annotated[bool, Form()],
) -> RedirectResponse:
    """Enable (unpause) or disable (pause) the task's DAG in Airflow; needs DAG edit, as Airflow's own switch."""
    require(user, "PUT", name)
    target = _task_page(request, name)

    def toggle() -> bool:
        with audit.audited(user, "enable" if enabled else "disable", name):
            return actions.set_enabled(session, name, enabled)

    word = "enabled" if enabled else "disabled (paused in Airflow)"
    return _done(request, target, toggle, lambda changed: f"Task {word}." if changed else f"Task was already {word}.")


@router.post("/tasks/{name}/duplicate", name="duplicate_task")
def duplicate_task(
    request: Request, name: str, user: ActionUser, new_name: Annotated[str, Form()],
) -> RedirectResponse:
    """A disabled copy of the definition under ``new_name`` (the API's duplicate: same checks and audit)."""
    target = _task_page(request, name)
    body = definitions_api.DuplicateBody(name=new_name.strip())
    return _done(
        request, target, lambda: definitions_api.duplicate_definition("task", name, body, user),
        lambda d: f"Duplicated as {d.name} (disabled) in {d.file}. It appears in the list once Airflow has parsed it.",
        form="duplicate", new_name=new_name,
    )


@router.post("/tasks/{name}/runs/{run_id}/skip", name="skip_run")
def skip_run(request: Request, name: str, run_id: str, user: ActionUser, session: SessionDep) -> RedirectResponse:
    require(user, "PUT", name, DagAccessEntity.RUN)
    target = _task_page(request, name)
    return _done(request, target, lambda: runs_api.skip_run(name, run_id, user, session), f"Run {run_id} skipped.")


@router.post("/tasks/{name}/runs/{run_id}/retry", name="retry_run")
def retry_run(request: Request, name: str, run_id: str, user: ActionUser, session: SessionDep) -> RedirectResponse:
    require(user, "PUT", name, DagAccessEntity.RUN)
    target = _task_page(request, name)
    return _done(request, target, lambda: runs_api.retry_run(name, run_id, user, session),
                 f"Run {run_id} queued again.")


@router.post("/tasks/{name}/runs-bulk", name="bulk_runs", response_class=HTMLResponse)
def bulk_runs(
    request: Request, name: str, user: ActionUser, session: SessionDep, action: Annotated[str, Form()],
    run_id: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies defaults
) -> HTMLResponse:
    """Skip or retry the selected runs of this task; each run's result is listed."""
    target = _task_page(request, name)
    if action not in ("skip", "retry") or not run_id:
        return render(request, "bulk_result.html", user, status_code=422, action=action, result=None, back=target,
                      error="Select at least one run, then Skip or Retry.")
    body = bulk_api.BulkBody(runs=[bulk_api.RunRef(task=name, run_id=r) for r in run_id])
    do = bulk_api.bulk_skip if action == "skip" else bulk_api.bulk_retry
    return render(request, "bulk_result.html", user, action=action, result=do(body, user, session), back=target,
                  error=None)


@router.post("/tasks/{name}/files/{file_id}/resend", name="resend_file")
def resend_file(request: Request, name: str, file_id: str, user: ActionUser, session: SessionDep) -> RedirectResponse:
    """Send an archived file again to the task's current destinations (md5 checked first)."""
    require(user, "PUT", name, DagAccessEntity.RUN)
    target = _task_page(request, name, "#files")
    return _done(
        request, target, lambda: files_api.resend_file(name, file_id, user, session),
        lambda queued: f"Resend of {queued.file.name} queued (run {queued.run_id}); its progress shows in the "
        "file history.",
    )
