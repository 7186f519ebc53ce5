"""``POST /runs/skip`` and ``POST /runs/retry``: bulk actions with a result per run (Alumio's bulk skip/retry).

Targets are either explicit ``runs`` or a ``filter`` (the filters of ``GET /tasks``):
with a filter, skip targets every run of the matching tasks that has not started
processing, and retry targets each matching task's newest run. A filter only ever
matches tasks whose runs the caller may edit (so "every task" means every task of
theirs, never one of another project's). With explicit ``runs``, as Airflow's own
bulk endpoints, the caller must be allowed to edit runs of every targeted task
(403 otherwise, nothing done); then each run is done or refused with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airflow.models.dagrun import DagRun
from fastapi import APIRouter
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import func, select

from airflow_batchtasks.plugins.api.deps import DagAccessEntity, GetUserDep, SessionDep, forbid_unless
from airflow_batchtasks.plugins.api.routes.tasks import task_filter
from airflow_batchtasks.plugins.data import actions, audit, tasks
from airflow_batchtasks.plugins.data.access import allowed_dag_ids, is_authorized, readable_dag_ids
from airflow_batchtasks.plugins.data.errors import DataError
from airflow_batchtasks.plugins.data.models import BulkResponse, BulkResult
from airflow_batchtasks.plugins.data.status import NOT_STARTED_TI_STATES

router = APIRouter(tags=["Runs"])


class RunRef(BaseModel):
    task: str
    run_id: str


class FilterBody(BaseModel):
    project: str | None = None
    owner: str | None = None
    status: list[str] | str | None = None
    q: str | None = None
    name: str | None = None
    created_from: str | None = None
    created_to: str | None = None
    updated_from: str | None = None
    updated_to: str | None = None

    model_config = {"extra": "forbid"}


class BulkBody(BaseModel):
    runs: list[RunRef] | None = Field(None, max_length=1000)
    filter: FilterBody | None = None

    model_config = {"extra": "forbid"}

    @model_validator(mode="after")
    def _one(self) -> BulkBody:
        if (self.runs is None) == (self.filter is None):
            raise ValueError("give either `runs` or `filter`")
        return self


def _targets(body: BulkBody, user: Any, session: Any, action: str) -> list[tuple[str, str | None]]:
    if body.runs is not None:
        return [(r.task, r.run_id) for r in body.runs]
    f = body.filter
    assert f is not None
    status = [f.status] if isinstance(f.status, str) else f.status
    tf = task_filter(user, f.project, f.owner, status, f.q, f.name, f.created_from, f.created_to,
                     f.updated_from, f.updated_to)
    names = tasks.task_names(session, tf, readable_dag_ids(user))
    names = sorted(allowed_dag_ids(user, "PUT", names, DagAccessEntity.RUN))
    if not names:
        return []
    if action == "skip":
        from airflow.models.taskinstance import TaskInstance as TI

        started = (
            select(TI.run_id).where(TI.dag_id == DagRun.dag_id, TI.run_id == DagRun.run_id,
                                    TI.state.is_not(None), TI.state.not_in(NOT_STARTED_TI_STATES)).exists()
        )
        rows = session.execute(
            select(DagRun.dag_id, DagRun.run_id)
            .where(DagRun.dag_id.in_(names), DagRun.state.in_(("queued", "running")), ~started)
            .order_by(DagRun.dag_id, DagRun.id)
        ).all()
        return [(r.dag_id, r.run_id) for r in rows]
    newest = (
        select(DagRun.dag_id, func.max(DagRun.id).label("id")).where(DagRun.dag_id.in_(names)).group_by(DagRun.dag_id)
    ).subquery()
    rows = session.execute(
        select(DagRun.dag_id, DagRun.run_id).join(newest, newest.c.id == DagRun.id).order_by(DagRun.dag_id)
    ).all()
    return [(r.dag_id, r.run_id) for r in rows]


def _bulk(body: BulkBody, user: Any, session: Any, action: str, do: Callable[..., Any]) -> BulkResponse:
    targets = _targets(body, user, session, action)
    forbid_unless(is_authorized(user, "PUT", {t for t, _ in targets}, DagAccessEntity.RUN) if targets else True)
    results = []
    for task, run_id in targets:
        try:
            do(session, task, run_id, user)
        except DataError as exc:
            session.rollback()
            results.append(BulkResult(task=task, run_id=run_id, result="refused", reason=str(exc)))
            audit.record(user, action, dag_id=task, run_id=run_id, outcome=f"refused ({exc.status_code}): {exc}",
                         bulk=True)
            continue
        results.append(BulkResult(task=task, run_id=run_id, result="done"))
        audit.record(user, action, dag_id=task, run_id=run_id, bulk=True)
    done = sum(r.result == "done" for r in results)
    return BulkResponse(done=done, refused=len(results) - done, results=results)


@router.post("/runs/skip", response_model=BulkResponse)
def bulk_skip(body: BulkBody, user: GetUserDep, session: SessionDep) -> BulkResponse:
    """Skip several runs; each is done or refused (already processing, ended, unknown) with the reason."""
    return _bulk(body, user, session, "skip", actions.skip)


@router.post("/runs/retry", response_model=BulkResponse)
def bulk_retry(body: BulkBody, user: GetUserDep, session: SessionDep) -> BulkResponse:
    """Retry several runs; each is done or refused (still in progress, unknown) with the reason."""
    return _bulk(body, user, session, "retry", actions.retry)
