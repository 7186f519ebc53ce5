"""The Audit page: who did what to batch tasks and how each run ended, filtered and paginated.

It calls exactly what ``GET /audit`` calls (the API's ``audit_filter`` and ``history.list_audit`` with the
caller's readable DAGs), so the page and the API always show the same entries, masked the same way.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from airflow_batchtasks.plugins.api.deps import SessionDep
from airflow_batchtasks.plugins.api.routes import audit as audit_api
from airflow_batchtasks.plugins.data import history
from airflow_batchtasks.plugins.data.errors import DataError
from airflow_batchtasks.plugins.data.models import AuditList
from airflow_batchtasks.plugins.views.render import render
from airflow_batchtasks.plugins.views.security import PageUser

router = APIRouter()

PAGE_SIZES = (25, 50, 100)
#: The action picker's groups (the API takes the same names).
ACTION_GROUPS = (
    ("Run endings", tuple(history.RUN_END_ACTIONS)),
    ("Batch Tasks actions", history.OUR_ACTIONS),
    ("Airflow UI / API", history.AIRFLOW_ACTIONS),
)


@router.get("/audit", name="audit", response_class=HTMLResponse)
def audit_page(
    request: Request, user: PageUser, session: SessionDep,
    task: str | None = None, project: str | None = None, who: Annotated[str | None, Query(alias="user")] = None,
    action: str | None = None, from_: Annotated[str | None, Query(alias="from")] = None, to: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50, offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> HTMLResponse:
    """The history of the tasks the user may read (entries without a DAG only for readers of every DAG)."""
    filters = {"task": task, "project": project, "user": who, "action": action, "from": from_, "to": to}
    filters = {k: (v or "").strip() or None for k, v in filters.items()}
    page = AuditList(total=0, limit=limit, offset=offset, entries=[])
    error = None
    try:
        f = audit_api.audit_filter(filters["task"], filters["project"], filters["user"],
                                   [filters["action"]] if filters["action"] else None, filters["from"], filters["to"])
        page = history.list_audit(session, f, history.readable_scope(session, user), limit, offset)
    except DataError as exc:
        error = str(exc)
    query = {**filters, "limit": limit if limit != 50 else None}
    return render(
        request, "audit.html", user, status_code=422 if error else 200,
        page=page, filters=filters, error=error, query=query, page_sizes=PAGE_SIZES, action_groups=ACTION_GROUPS,
    )
