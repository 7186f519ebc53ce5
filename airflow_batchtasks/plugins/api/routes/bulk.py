"""``/runs``: the runs of every task (``GET /runs``) and the bulk actions ``POST /runs/skip|retry``.

Bulk targets are either explicit ``runs`` or a ``filter``:

- a filter that uses a run filter (``task``, ``task_name`` or ``args``, the keys only ``GET /runs``
  has) targets **exactly the runs ``GET /runs`` lists** for it (``status``, ``project`` and the
  dates then mean what they mean there: the run's status, its created/updated times), narrowed to
  those the action can act on (skip: New; retry: Finished, Failed, Skipped), older runs included;
- a filter of ``GET /tasks`` keys only keeps its meaning for compatibility (the All Tasks page
  sends it): skip targets every run of the matching tasks that has not started processing, retry
  each matching task's newest run.

A filter only ever reaches tasks whose runs the caller may edit: "every Failed run" of a role granted
one project is that project's, never another's (403 when it matches runs but none of those). The
1,000-run cap of a run filter counts the runs left after that narrowing, not every readable one. With
explicit ``runs``, as Airflow's own bulk endpoints, the caller must be allowed to edit runs of every
targeted task (403 otherwise, nothing done). Then each run is done or refused with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from airflow.models.dagrun import DagRun
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, ValidationError, model_validator
from sqlalchemy import func, select

from airflow_batchtasks.naming import owner_tag
from airflow_batchtasks.plugins.api.deps import DagAccessEntity, GetUserDep, SessionDep, forbid_unless
from airflow_batchtasks.plugins.api.routes.common import when
from airflow_batchtasks.plugins.api.routes.tasks import task_filter
from airflow_batchtasks.plugins.data import actions, all_runs, audit, tasks
from airflow_batchtasks.plugins.data.access import allowed_dag_ids, is_authorized, readable_dag_ids
from airflow_batchtasks.plugins.data.errors import DataError, Invalid
from airflow_batchtasks.plugins.data.models import BulkResponse, BulkResult, RunPage
from airflow_batchtasks.plugins.data.status import NOT_STARTED_TI_STATES

router = APIRouter(tags=["Runs"])
STATUS_HELP = "New, Processing, Retry, Finished, Failed, Skipped (repeat or comma-separate)"


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
    task: str | None = Field(None, description="run filter: task name contains")
    task_name: str | None = Field(None, description="run filter: task name equals")
    args: str | None = Field(None, description="run filter: run arguments contain")

    model_config = {"extra": "forbid"}

    def uses_run_filter(self) -> bool:
        """Whether this filter selects runs (exactly those ``GET /runs`` lists) rather than tasks."""
        return any(v is not None for v in (self.task, self.task_name, self.args))


def run_filter(
    user: Any,
    *,
    status: list[str] | str | None = None,
    project: str | None = None,
    task: str | None = None,
    task_name: str | None = None,
    args: str | None = None,
    created_from: str | None = None,
    created_to: str | None = None,
    updated_from: str | None = None,
    updated_to: str | None = None,
) -> all_runs.RunFilter:
    """The run filter of a request (dates: ``20220221``, ``20220221T061500`` or ISO; a bare end date covers the day)."""
    try:
        return all_runs.RunFilter(
            status=status, project=project or None, task=task or None, task_name=task_name or None,
            args=args or None,
            created_from=when(created_from, "created_from"), created_to=when(created_to, "created_to", end=True),
            updated_from=when(updated_from, "updated_from"), updated_to=when(updated_to, "updated_to", end=True),
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        raise Invalid(f"{'.'.join(map(str, err['loc']))}: {str(err['msg']).removeprefix('Value error, ')}") from None


@router.get("/runs", response_model=RunPage)
def list_all_runs(
    user: GetUserDep,
    session: SessionDep,
    status: Annotated[list[str] | None, Query(description=STATUS_HELP)] = None,
    project: str | None = None,
    task: Annotated[str | None, Query(description="task name contains (case-insensitive)")] = None,
    task_name: Annotated[str | None, Query(description="task name equals")] = None,
    args: Annotated[str | None, Query(description="run arguments contain (case-insensitive, not in secrets)")] = None,
    created_from: Annotated[str | None, Query(description="created (queued for) from: 20220221[T061500]")] = None,
    created_to: Annotated[str | None, Query(description="created before; a bare date covers the day")] = None,
    updated_from: Annotated[str | None, Query(description="last changed from")] = None,
    updated_to: Annotated[str | None, Query(description="last changed before; a bare date covers the day")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> RunPage:
    """Runs of every batch task the caller may read, newest first, with ``total`` for paging."""
    f = run_filter(user, status=status, project=project, task=task, task_name=task_name, args=args,
                   created_from=created_from, created_to=created_to, updated_from=updated_from,
                   updated_to=updated_to)
    return all_runs.list_runs(session, f, readable_dag_ids(user, "GET", DagAccessEntity.RUN), limit, offset)


def _owned(session: Any, owner: str, readable: set[str] | None) -> set[str]:
    from airflow.models.dag import DagTag

    owned = set(session.scalars(select(DagTag.dag_id).where(DagTag.name == owner_tag(owner))).all())
    return owned if readable is None else owned & readable


def run_targets(body_filter: FilterBody, user: Any, session: Any, action: str) -> list[tuple[str, str | None]]:
    """Exactly the runs ``GET /runs`` lists for the filter that ``action`` can act on (see the module doc)."""
    f = body_filter
    rf = run_filter(user, status=f.status, project=f.project, task=f.task or f.q, task_name=f.task_name or f.name,
                    args=f.args, created_from=f.created_from, created_to=f.created_to,
                    updated_from=f.updated_from, updated_to=f.updated_to)
    readable: set[str] | None = readable_dag_ids(user)
    if f.owner:
        readable = _owned(session, user.get_name() if f.owner == "me" else f.owner, readable)
    editable = _editable_scope(readable, user)
    # narrowed to the tasks the caller may edit *before* the cap is counted: a role that may edit 10 runs
    # among 5,000 it may read acts on its 10 instead of being told to narrow a filter it cannot narrow
    found = all_runs.targets(session, rf, editable, action)
    if not found and editable != readable:
        forbid_unless(not _matches_any(session, rf, readable, action))
    return _editable(found, user)


def _editable_scope(readable: set[str] | None, user: Any) -> set[str] | None:
    """The DAGs of ``readable`` whose runs ``user`` may edit (None: every DAG), as one auth-manager question."""
    editable = readable_dag_ids(user, "PUT", DagAccessEntity.RUN)
    if editable is None:
        return readable
    return editable if readable is None else editable & readable


def _matches_any(session: Any, rf: all_runs.RunFilter, readable: set[str] | None, action: str) -> bool:
    """Whether the filter matches any run the caller may read (more than the cap counts as some)."""
    try:
        return bool(all_runs.targets(session, rf, readable, action))
    except Invalid:
        return True


def _editable(targets: list[tuple[str, str]], user: Any) -> list[tuple[str, str | None]]:
    """The targets of a filter whose task's runs the caller may edit; 403 when it matched only others'.

    :func:`run_targets` already asked for editable tasks only; this asks again per task (team-aware, as
    every action is checked) so a grant that changed in between never acts on a run it no longer covers.
    """
    if not targets:
        return []
    allowed = allowed_dag_ids(user, "PUT", {t for t, _ in targets}, DagAccessEntity.RUN)
    forbid_unless(bool(allowed))
    return [(t, r) for t, r in targets if t in allowed]


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
    if f.uses_run_filter():
        return run_targets(f, user, session, action)
    status = [f.status] if isinstance(f.status, str) else f.status
    tf = task_filter(user, f.project, f.owner, status, f.q, f.name, f.created_from, f.created_to,
                     f.updated_from, f.updated_to)
    names = tasks.task_names(session, tf, readable_dag_ids(user))
    if not names:
        return []
    names = sorted(allowed_dag_ids(user, "PUT", names, DagAccessEntity.RUN))
    forbid_unless(bool(names))
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
    return _act(_targets(body, user, session, action), user, session, action, do)


def bulk_by_run_filter(f: FilterBody, user: Any, session: Any, action: str) -> BulkResponse:
    """``action`` on exactly the runs ``GET /runs`` lists for ``f`` (the Runs page's "all matching")."""
    do = actions.skip if action == "skip" else actions.retry
    return _act(run_targets(f, user, session, action), user, session, action, do)


def _act(
    targets: list[tuple[str, str | None]], user: Any, session: Any, action: str, do: Callable[..., Any]
) -> BulkResponse:
    """Authorize every target's task first (403, nothing done), then do each run or record why not."""
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
