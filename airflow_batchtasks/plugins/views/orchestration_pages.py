"""Orchestrations (Memority's orchestration tasks): definitions, instances with their reports, launch, cancel.

Definitions come from the API's ``list_definitions`` route (same visibility
rules); instances and reports from :mod:`airflow_batchtasks.orchestration.instances`;
launch, cancel and delete call the API's route functions after the same
permission checks (launch = DAG-run create, cancel = edit, delete = delete,
reports = read), so the audit log records them exactly as REST calls.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from airflow_batchtasks.orchestration import instances
from airflow_batchtasks.plugins.api.routes import definitions as definitions_api
from airflow_batchtasks.plugins.api.routes import orchestrations as orchestrations_api
from airflow_batchtasks.plugins.data import definitions_store
from airflow_batchtasks.plugins.data.access import DagAccessEntity
from airflow_batchtasks.plugins.data.errors import DataError
from airflow_batchtasks.plugins.views import security
from airflow_batchtasks.plugins.views.render import back, redact, render
from airflow_batchtasks.plugins.views.security import ActionUser, PageUser, require

router = APIRouter()

TERMINAL = ("success", "failed")
INSTANCES_PAGE = 20


def _page(request: Request, name: str, instance_id: str | None = None) -> str:
    path = f"{security.ui_root(request)}/orchestrations/{quote(name, safe='')}"
    return path + (f"/instances/{quote(instance_id, safe='')}" if instance_id else "")


@router.get("/orchestrations", name="orchestrations", response_class=HTMLResponse)
def orchestration_list(request: Request, user: PageUser) -> HTMLResponse:
    """Every orchestration the user may read, with its steps and its latest instance."""
    listing = definitions_api.list_definitions(user, kind="orchestration")
    names = [d.name for d in listing.definitions]
    readable = security.allowed(user, "GET", names, DagAccessEntity.RUN)
    latest: dict[str, Any] = {}
    for name in names:  # one report per orchestration: a handful of definitions, not thousands
        if name in readable:
            try:
                found = instances.reports(name, limit=1)
                latest[name] = found[0] if found else None
            except instances.NotFound:  # defined, but not yet parsed into a DAG
                latest[name] = "unparsed"
    return render(
        request, "orchestrations.html", user,
        definitions=[(d, redact(dict(d.data))) for d in listing.definitions], errors=listing.errors,
        latest=latest, can_launch=security.allowed(user, "POST", names, DagAccessEntity.RUN),
    )


@router.get("/orchestrations/{name}", name="orchestration_detail", response_class=HTMLResponse)
def orchestration_detail(
    request: Request, name: str, user: PageUser, limit: Annotated[int, Query(ge=1, le=500)] = INSTANCES_PAGE,
) -> HTMLResponse:
    """The definition and the reports of its newest instances (``limit`` grows with "show more")."""
    require(user, "GET", name, DagAccessEntity.RUN)
    definition = definitions_store.to_definition(definitions_store.find("orchestration", name), "orchestration")
    error = None
    reports: list[dict[str, Any]] = []
    try:
        reports = instances.reports(name, limit=limit + 1)
    except instances.NotFound as exc:
        error = f"{exc}: Airflow has not parsed it yet (or its definition has errors)."
    return render(
        request, "orchestration_detail.html", user,
        name=name, definition=definition, data=redact(dict(definition.data)), reports=reports[:limit],
        more=len(reports) > limit, limit=limit, step=INSTANCES_PAGE, error=error,
        can_launch=bool(security.allowed(user, "POST", [name], DagAccessEntity.RUN)),
        active=any(r["airflow_state"] not in TERMINAL for r in reports[:limit]),
    )


@router.get("/orchestrations/{name}/instances/{instance_id}", name="instance_detail", response_class=HTMLResponse)
def instance_detail(request: Request, name: str, instance_id: str, user: PageUser) -> HTMLResponse:
    """One instance's report: status, reason, and each step's status, times and task run."""
    require(user, "GET", name, DagAccessEntity.RUN)
    report = instances.report(name, instance_id)
    return render(
        request, "instance_detail.html", user, name=name, report=report,
        can_cancel=bool(security.allowed(user, "PUT", [name], DagAccessEntity.RUN)),
        can_delete=bool(security.allowed(user, "DELETE", [name], DagAccessEntity.RUN)),
        active=report["airflow_state"] not in TERMINAL,
    )


def _act(
    request: Request, target: str, fn: Any, message: Any, where: Any = None,
) -> RedirectResponse:
    """Run an action; on success go to ``where(result)`` (default ``target``) saying ``message(result)``."""
    try:
        result = fn()
    except (DataError, instances.OrchestrationError) as exc:
        return back(request, target, "error", str(exc))
    return back(request, where(result) if where else target, "ok", message(result))


@router.post("/orchestrations/{name}/launch", name="launch_orchestration")
def launch(request: Request, name: str, user: ActionUser) -> RedirectResponse:
    """Launch an instance now; the answer goes to its report."""
    require(user, "POST", name, DagAccessEntity.RUN)
    target = _page(request, name)
    return _act(
        request, target, lambda: bytes(orchestrations_api.launch(name, user, None).body).decode(),
        lambda iid: f"Instance {iid} launched.", lambda iid: _page(request, name, iid),
    )


@router.post("/orchestrations/{name}/instances/{instance_id}/cancel", name="cancel_instance")
def cancel(request: Request, name: str, instance_id: str, user: ActionUser) -> RedirectResponse:
    """Cancel a queued or running instance: its running step stops, nothing further starts."""
    require(user, "PUT", name, DagAccessEntity.RUN)
    return _act(request, _page(request, name, instance_id), lambda: orchestrations_api.cancel(name, instance_id, user),
                lambda _: f"Instance {instance_id} cancelled.")


@router.post("/orchestrations/{name}/instances/{instance_id}/delete", name="delete_instance")
def delete(request: Request, name: str, instance_id: str, user: ActionUser) -> RedirectResponse:
    """Delete an ended instance and its report (the task runs it started stay in their history)."""
    require(user, "DELETE", name, DagAccessEntity.RUN)
    target = _page(request, name, instance_id)
    return _act(request, target, lambda: orchestrations_api.delete(name, instance_id, user),
                lambda _: f"Instance {instance_id} deleted.", lambda _: _page(request, name))
