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

import json
import re
from typing import Annotated, Any
from urllib.parse import quote

import yaml
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from airflow_batchtasks import config
from airflow_batchtasks.definitions import masking
from airflow_batchtasks.plugins.api.deps import SessionDep
from airflow_batchtasks.plugins.api.routes import bulk as bulk_api
from airflow_batchtasks.plugins.api.routes import cron as cron_api
from airflow_batchtasks.plugins.api.routes import definitions as definitions_api
from airflow_batchtasks.plugins.api.routes import files as files_api
from airflow_batchtasks.plugins.api.routes import runs as runs_api
from airflow_batchtasks.plugins.api.routes import tasks as tasks_api
from airflow_batchtasks.plugins.api.routes.common import when
from airflow_batchtasks.plugins.data import actions, audit, file_preview, files, pickers, run_logs, runs, tasks
from airflow_batchtasks.plugins.data import definitions_store as store
from airflow_batchtasks.plugins.data.access import DagAccessEntity, can_write_definition
from airflow_batchtasks.plugins.data.errors import DataError, Invalid, NotFound
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


def read_only_reason() -> str | None:
    """Why definitions cannot be changed from these pages (None when they can)."""
    if config.definitions_writable():
        return None
    return ("Definitions are read-only here: [batchtasks] definitions_writable is false, so this task is changed "
            "in its YAML file in the definitions folder, not from these pages.")


@router.get("/tasks/{name}", name="task_detail", response_class=HTMLResponse)
def task_detail(
    request: Request, name: str, user: PageUser, session: SessionDep,
    run_status: Annotated[str | None, Query()] = None,
    from_date: Annotated[str | None, Query()] = None, to_date: Annotated[str | None, Query()] = None,
    runs_offset: Annotated[int, Query(ge=0)] = 0, files_offset: Annotated[int, Query(ge=0)] = 0,
) -> HTMLResponse:
    """The task's page; ``run_status``/``from_date``/``to_date`` filter its run history as the runs API does."""
    return _page(request, name, user, session, run_status, from_date, to_date, runs_offset, files_offset)


def _page(
    request: Request, name: str, user: Any, session: Any, run_status: str | None = None,
    from_date: str | None = None, to_date: str | None = None, runs_offset: int = 0, files_offset: int = 0,
    preview: dict[str, Any] | None = None,
) -> HTMLResponse:
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
        read_only=read_only_reason(), used_by=definitions_api.task_users(name) if definition is not None else [],
        edit_url=f"{security.ui_root(request)}/definitions/edit/task/{quote(name, safe='')}",
        timezones=pickers.timezones(), preview=preview or {},
        schedule_form=_schedule_form(data),
    )


def _schedule_form(data: dict[str, Any]) -> dict[str, str]:
    """The reschedule form's current values: ``manual`` or ``cron`` with its expression, and the time zone."""
    schedule = data.get("schedule")
    tz = str(data.get("timezone") or "UTC")
    if isinstance(schedule, str) and schedule.strip().lower() not in ("", "none"):
        return {"mode": "cron", "cron": schedule, "timezone": tz}
    return {"mode": "manual", "cron": "", "timezone": tz}


#: The run page's tabs: key, label, and for the message tabs the steps whose log they show (first present).
RUN_TABS = (
    ("overview", "Overview", ()),
    ("data", "Data", ()),
    ("extract", "Extract messages", ("extract", "process")),
    ("deliver", "Delivery messages", ("deliver",)),
)


@router.get("/tasks/{name}/runs/{run_id}", name="run_detail", response_class=HTMLResponse)
def run_detail(
    request: Request, name: str, run_id: str, user: PageUser, session: SessionDep,
    tab: Annotated[str, Query()] = "overview",
) -> HTMLResponse:
    """One run, in tabs: Overview (steps, tries, log links, files, actions taken), Data (the first rows of the
    delivered file), Extract and Delivery messages (the end of those steps' logs, refreshed while they run)."""
    require(user, "GET", name, DagAccessEntity.RUN)
    run = runs.get_run(session, name, run_id)
    tabs = {key: (label, steps) for key, label, steps in RUN_TABS}
    tab = tab if tab in tabs else "overview"
    shown: dict[str, Any] = {}
    if tab == "data":
        shown["previews"] = file_preview.run_previews(session, name, run_id)
    elif tab in ("extract", "deliver"):
        present = {s.step for s in run.steps}
        step = next((s for s in tabs[tab][1] if s in present), None)
        shown["step"] = step
        if step is None:
            shown["log_error"] = "This run has no such step (yet, or for this kind of task)."
        elif not security.allowed(user, "GET", [name], DagAccessEntity.TASK_LOGS):
            shown["log_error"] = "You may not read this task's logs (Airflow's task-log read on its DAG)."
        else:
            try:
                shown["log"] = run_logs.log_tail(session, name, run_id, step)
            except DataError as exc:
                shown["log_error"] = str(exc)
    return render(request, "run_detail.html", user, task_name=name, run=run, can=_permissions(user, name),
                  active=run.state in ACTIVE_STATES, tab=tab, run_tabs=RUN_TABS, **shown)


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
    """Queue a run now with ``args`` (``key=value ...`` and/or positional values), validated by the API's own
    code (422 message shown)."""
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
    """Enable or disable the task: ``enabled`` written in its definition when the folder is writable (through
    the definitions API's replace: same checks, comments kept), so the YAML, the DAG and the project series
    agree, and the DAG unpaused or paused in Airflow as Airflow's own switch does. Read-only folder, or a user
    who may run the task but not edit its definition (``access: [run]`` under FAB): only the pause switch.
    Needs DAG edit."""
    require(user, "PUT", name)
    target = _task_page(request, name)
    may_write = can_write_definition(user, definitions_api.dag_ids("task", name))
    writable = read_only_reason() is None and may_write

    def toggle() -> tuple[bool, bool]:
        with audit.audited(user, "enable" if enabled else "disable", name, definition=writable):
            wrote = False
            try:
                written = store.find("task", name).doc.data.get("enabled", True)
            except NotFound:  # a definition with errors cannot be edited here: the pause switch still works
                written = enabled
            if writable and written is not enabled:
                write_keys(name, user, {"enabled": "true" if enabled else "false"})
                wrote = True
            return wrote, actions.set_enabled(session, name, enabled)

    def said(result: tuple[bool, bool]) -> str:
        wrote, changed = result
        word = "enabled" if enabled else "disabled"
        parts = [f"Task {word}" if wrote or changed else f"Task was already {word}"]
        if wrote:
            parts.append(f"`enabled: {str(enabled).lower()}` written in its definition (Airflow applies it at its "
                         "next parse)")
        parts.append(("unpaused" if enabled else "paused") + " in Airflow" if changed
                     else ("already unpaused" if enabled else "already paused") + " in Airflow")
        if not may_write:
            parts.append("you may not edit the definition, so only the pause switch changed")
        elif not writable:
            parts.append("the definition is read-only here, so only the pause switch changed")
        return "; ".join(parts) + "."

    return _done(request, target, toggle, said)


# ----------------------------------------------------------------------------- definition edits


_TOP_KEY = r"^{key}[ \t]*:"


def set_top_keys(text: str, changes: dict[str, str]) -> str:
    """``text`` (one YAML document) with top-level keys set to ``changes`` (values as YAML text), comments and
    the other keys kept as written. A key that is absent is added after ``name``. When the text cannot be
    edited line by line (flow style), the document is dumped again from its data (comments lost); either way
    the result is checked to mean exactly the document with the changes."""
    wanted = dict(yaml.safe_load(text) or {})
    wanted.update({k: yaml.safe_load(v) for k, v in changes.items()})
    lines = text.splitlines(keepends=True)
    for key, value in changes.items():
        pattern = re.compile(_TOP_KEY.format(key=re.escape(key)))
        at = next((i for i, line in enumerate(lines) if pattern.match(line)), None)
        if at is None:
            after = next((i for i, line in enumerate(lines) if re.match(r"^name[ \t]*:", line)), None)
            if after is None:
                break
            lines.insert(after + 1, f"{key}: {value}\n")
            continue
        match = re.match(r"^([^:]*:[ \t]*)([^#\r\n]*?)([ \t]+#[^\r\n]*)?(\r?\n)?$", lines[at])
        if match is None:
            break
        end = at + 1
        if not match.group(2).strip() or match.group(2).strip()[0] in "|>&!":
            # a block value (`schedule:` then an indented mapping): it goes with the key
            while end < len(lines) and (lines[end][:1] in (" ", "\t") or not lines[end].strip()):
                end += 1
            while end > at + 1 and not lines[end - 1].strip():
                end -= 1
        lines[at:end] = [f"{key}: {value}{match.group(3) or ''}{match.group(4) or chr(10)}"]
    edited = "".join(lines)
    try:
        if yaml.safe_load(edited) == wanted:
            return edited
    except yaml.YAMLError:
        pass
    return yaml.safe_dump(wanted, sort_keys=False, allow_unicode=True)


def write_keys(name: str, user: Any, changes: dict[str, str]) -> Any:
    """Set top-level keys of task ``name``'s definition through ``PUT /definitions/task/{name}``'s own code.

    The text edited is the one a viewer sees (secrets ``***``); the store keeps the stored secrets for them.
    """
    shown = definitions_api.get_definition("task", name, user)
    body = definitions_api.DefinitionBody(yaml=set_top_keys(shown.yaml, changes))
    return definitions_api.update_definition("task", name, body, user)


@router.post("/tasks/{name}/reschedule", name="reschedule_task")
def reschedule_task(
    request: Request, name: str, user: ActionUser, mode: Annotated[str, Form()],
    cron: Annotated[str, Form()] = "", timezone: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Change the schedule in place: manual (``schedule: none``) or a cron expression in a time zone, checked
    as ``/cron/describe`` checks it, written through the definitions API's replace (comments kept)."""
    require(user, "PUT", name)
    target = _task_page(request, name)
    keep = {"form": "reschedule", "mode": mode, "cron": cron, "timezone": timezone}
    cron, timezone = cron.strip(), timezone.strip()

    def change() -> str:
        with audit.audited(user, "reschedule", name, schedule=cron if mode == "cron" else "none",
                           timezone=timezone or None):
            if mode not in ("manual", "cron"):
                raise Invalid("schedule: choose manual or cron")
            if timezone and timezone not in pickers.timezones():
                raise Invalid(f"timezone: `{timezone}` is not an IANA time zone")
            current = store.find("task", name)
            changes: dict[str, str] = {}
            if mode == "cron":
                if not cron:
                    raise Invalid("schedule: give a cron expression, or choose manual")
                described = cron_api.describe(user, cron, timezone or current.model.timezone or "UTC", 1)
                changes["schedule"] = json.dumps(cron)
            else:
                described = None
                changes["schedule"] = "none"
            if timezone and timezone != (current.model.timezone or "UTC"):
                changes["timezone"] = json.dumps(timezone)
            write_keys(name, user, changes)
        said = f"{described['description']} ({timezone or current.model.timezone or 'UTC'})" if described \
            else "manual only (no schedule)"
        return f"Rescheduled: {said}. Airflow applies it at its next parse of the definitions."

    return _done(request, target, change, lambda text: text, **keep)


@router.post("/tasks/{name}/delete", name="delete_task")
def delete_task(
    request: Request, name: str, user: ActionUser, confirm: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Delete the task's definition (the API's delete: refused while an orchestration or its project's series
    uses it); the confirmation is the task's name typed again."""
    require(user, "PUT", name)
    target = _task_page(request, name)
    if confirm.strip() != name:
        return back(request, target, "error", f"Type the task's name `{name}` to confirm the deletion.",
                    form="delete")
    try:
        definitions_api.delete_definition("task", name, user)
    except DataError as exc:
        return back(request, target, "error", str(exc), form="delete")
    return back(request, f"{security.ui_root(request)}/tasks", "ok",
                f"Task {name} deleted from its definition file. Its DAG leaves Airflow at the next parse.")


@router.post("/tasks/{name}/query-preview", name="preview_query", response_class=HTMLResponse)
def preview_query(
    request: Request, name: str, user: ActionUser, session: SessionDep,
    preview_date: Annotated[str, Form()] = "", preview_args: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """The task's page with its query as it will run for the date and arguments given (nothing is executed)."""
    require(user, "GET", name)
    body = tasks_api.PreviewOptions(args=preview_args.strip() or None, date=preview_date.strip() or None)
    shown: dict[str, Any] = {"date": preview_date, "args": masking.mask_args(preview_args.strip())}
    try:
        shown["result"] = tasks_api.preview_query(name, user, body).model_dump()
    except DataError as exc:
        shown["error"] = masking.mask_message(str(exc), masking.args_secrets(preview_args))
    return _page(request, name, user, session, preview=shown)


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
