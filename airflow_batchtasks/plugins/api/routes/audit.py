"""``/audit``: who did what to batch tasks and how each run ended (Airflow's audit log and run records)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from airflow_batchtasks.plugins.api.deps import GetUserDep, SessionDep
from airflow_batchtasks.plugins.api.routes.common import when
from airflow_batchtasks.plugins.data import history
from airflow_batchtasks.plugins.data.models import AuditList

router = APIRouter(tags=["Audit"])

#: Most rows one request may ask for: each page row may read its run's output files.
MAX_LIMIT = 1000


def audit_filter(
    task: str | None, project: str | None, user: str | None, action: list[str] | None,
    from_date: str | None, to_date: str | None,
) -> history.AuditFilter:
    """The filter of a request (blank values ignored); 422 for an unknown action or a bad date."""

    def blank(value: str | None) -> str | None:
        return (value or "").strip() or None

    return history.AuditFilter(
        task=blank(task), project=blank(project), user=blank(user), actions=history.parse_actions(action),
        from_date=when(blank(from_date), "from"), to_date=when(blank(to_date), "to", end=True),
    )


@router.get("/audit", response_model=AuditList)
def list_audit(
    caller: GetUserDep,
    session: SessionDep,
    task: Annotated[str | None, Query(description="task (DAG) name contains, case-insensitive")] = None,
    project: Annotated[str | None, Query(description="project name (the DAG's `project:<name>` tag)")] = None,
    user: Annotated[str | None, Query(description="who acted (for a run ending: who started the run)")] = None,
    action: Annotated[list[str] | None, Query(description="action names, repeated or comma-separated: "
                                              + ", ".join(history.ACTIONS) + "; Finished, Failed, Skipped "
                                              "stand for run_finished, run_failed, run_skipped")] = None,
    from_: Annotated[str | None, Query(alias="from", description="20220221 or 20220221T061500 (UTC)")] = None,
    to: Annotated[str | None, Query(description="same forms; a bare date covers the day")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> Any:
    """Actions on the caller's readable tasks (run, skip, retry, enable, definition changes, orchestration
    instances, Airflow's own run and pause events) and run endings (status, duration, files), newest first;
    secrets masked; ``total`` for paging."""
    f = audit_filter(task, project, user, action, from_, to)
    return history.list_audit(session, f, history.readable_scope(session, caller), limit, offset)
