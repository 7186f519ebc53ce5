"""Runs of a task: the DAG runs of the task's DAG, in the runs-API shape (statuses as docs/ui.md lists them).

Reads Airflow's own tables (dag_run, task_instance, log) so the API, the
Airflow UI and Airflow's REST API always agree; output files come from the
file-history index. A run's arguments (``conf``) are shown with secrets masked
by Airflow's key-name rules (:mod:`airflow_batchtasks.definitions.masking`).
"""

from __future__ import annotations

import functools
import re
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow.configuration import conf
from airflow.models.dag import DagModel, DagTag
from airflow.models.dagrun import DagRun
from airflow.models.log import Log
from airflow.models.taskinstance import TaskInstance as TI
from sqlalchemy import func, or_, select

from airflow_batchtasks.definitions import masking
from airflow_batchtasks.naming import is_batch_task_dag
from airflow_batchtasks.plugins.data import files
from airflow_batchtasks.plugins.data.errors import Invalid, NotFound
from airflow_batchtasks.plugins.data.models import AuditEntry, FileInfo, RunDetail, RunInfo, RunList, Step
from airflow_batchtasks.plugins.data.progress import progress_of_runs
from airflow_batchtasks.plugins.data.status import RUN_STATUSES, run_states, run_status, skipped_expr, task_status_expr

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

#: Audit events of users acting on a run through Airflow's own UI/API (task state changes are left out).
AIRFLOW_RUN_ACTIONS = (
    "trigger_dag_run", "clear_dag_run", "patch_dag_run", "delete_dag_run",
    "post_clear_task_instances", "patch_task_instance",
)
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})?)?$")


@functools.cache
def base_url() -> str:
    return conf.get("api", "base_url", fallback="http://localhost:8080/").rstrip("/")


def dag_url(dag_id: str) -> str:
    return f"{base_url()}/dags/{quote(dag_id)}"


def run_url(dag_id: str, run_id: str) -> str:
    return f"{dag_url(dag_id)}/runs/{quote(run_id, safe='')}"


def parse_when(value: str, *, end: bool = False, field: str = "date") -> datetime:
    """``20220221`` or ``20220221T061500`` (also ``T0615``, or ISO 8601), in UTC unless an offset is given.

    A date-only ``end`` bound covers that whole day (the next midnight, exclusive).
    """
    text = value.strip()
    match = _COMPACT.match(text)
    try:
        if match:
            y, mo, d, h, mi, s = match.groups()
            when = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), tzinfo=timezone.utc)
            date_only = h is None
        else:
            when = datetime.fromisoformat(text)
            when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
            date_only = len(text) == 10
    except ValueError as exc:
        raise Invalid(f"{field}: `{value}` is not a date: use 20220221 or 20220221T061500 ({exc})") from None
    return when + timedelta(days=1) if end and date_only else when


def task_dag(session: Session, name: str) -> DagModel:
    """The live DAG of batch task ``name`` (not a project, orchestration or unknown DAG) or NotFound."""
    dag = session.scalar(select(DagModel).where(DagModel.dag_id == name, ~DagModel.is_stale))
    tags = set(session.scalars(select(DagTag.name).where(DagTag.dag_id == name)).all()) if dag else set()
    if dag is None or not is_batch_task_dag(name, tags):
        raise NotFound(f"unknown task `{name}`")
    return dag


def started_by(run: DagRun) -> str | None:
    if run.triggering_user_name:
        return run.triggering_user_name
    if run.run_type == "scheduled":
        return "scheduler"
    if run.run_type == "asset_triggered":
        return "asset"
    return None


def run_info(run: DagRun, task_status: str, skipped: bool, run_files: list[FileInfo] | None = None) -> RunInfo:
    return RunInfo(
        task=run.dag_id,
        run_id=run.run_id,
        status=run_status(run.state),
        skipped=bool(skipped),
        task_status=task_status,
        state=str(run.state) if run.state else None,
        run_type=str(run.run_type),
        started_by=started_by(run),
        triggered_by=getattr(run.triggered_by, "value", run.triggered_by),
        created=run.run_after,
        queued_at=run.queued_at,
        start_date=run.start_date,
        end_date=run.end_date,
        logical_date=run.logical_date,
        conf=masking.mask_data(dict(run.conf or {})),
        files=run_files or [],
        airflow_url=run_url(run.dag_id, run.run_id),
    )


def _select_runs() -> Any:
    return select(DagRun, task_status_expr(DagRun).label("task_status"), skipped_expr(DagRun).label("skipped"))


def list_runs(
    session: Session,
    task: str,
    *,
    from_date: datetime | None = None,
    to_date: datetime | None = None,
    statuses: list[str] | None = None,
    limit: int = 100,
    offset: int = 0,
    with_files: bool = True,
) -> RunList:
    """Runs of ``task``, newest first, created (``run_after``) in ``[from_date, to_date)``."""
    task_dag(session, task)
    where = [DagRun.dag_id == task]
    if from_date is not None:
        where.append(DagRun.run_after >= from_date)
    if to_date is not None:
        where.append(DagRun.run_after < to_date)
    if statuses:
        unknown = [s for s in statuses if s not in RUN_STATUSES]
        if unknown:
            raise Invalid(f"status: `{unknown[0]}` is not one of {', '.join(RUN_STATUSES)}")
        where.append(DagRun.state.in_(run_states(statuses)))
    total = session.scalar(select(func.count()).select_from(DagRun).where(*where)) or 0
    rows = session.execute(
        _select_runs().where(*where).order_by(DagRun.run_after.desc(), DagRun.id.desc()).limit(limit).offset(offset)
    ).all()
    by_run: dict[str, list[FileInfo]] = {}
    if with_files and rows:
        files.sync(session, task)
        by_run = files.files_of_runs(session, task, [r.DagRun.run_id for r in rows])
    runs = [run_info(r.DagRun, r.task_status, r.skipped, by_run.get(r.DagRun.run_id)) for r in rows]
    _add_progress(session, task, runs)
    return RunList(total=total, limit=limit, offset=offset, runs=runs)


def _add_progress(session: Session, task: str, infos: list[RunInfo]) -> None:
    """Fill ``progress`` of the running runs among ``infos`` (one query, none when nothing runs)."""
    running = [i.run_id for i in infos if i.state == "running"]
    found = progress_of_runs(session, task, running) if running else {}
    for info in infos:
        info.progress = found.get(info.run_id)


def get_run_row(session: Session, task: str, run_id: str) -> Any:
    row = session.execute(_select_runs().where(DagRun.dag_id == task, DagRun.run_id == run_id)).first()
    if row is None:
        raise NotFound(f"unknown run `{run_id}` of task `{task}`")
    return row


def get_run(session: Session, task: str, run_id: str) -> RunDetail:
    """One run with its steps (state, tries, times, log links) and the actions taken on it."""
    task_dag(session, task)
    row = get_run_row(session, task, run_id)
    files.sync(session, task)
    run_files = files.files_of_runs(session, task, [run_id])[run_id]
    info = run_info(row.DagRun, row.task_status, row.skipped, run_files)
    _add_progress(session, task, [info])
    tis = session.scalars(
        select(TI).where(TI.dag_id == task, TI.run_id == run_id, TI.map_index == -1).order_by(TI.start_date, TI.task_id)
    ).all()
    api = f"{base_url()}/api/v2/dags/{quote(task)}/dagRuns/{quote(run_id, safe='')}/taskInstances"
    steps = [
        Step(
            step=ti.task_id,
            state=str(ti.state) if ti.state else None,
            try_number=ti.try_number,
            max_tries=ti.max_tries,
            start_date=ti.start_date,
            end_date=ti.end_date,
            duration=ti.duration,
            log_url=ti.log_url,
            log_api=f"{api}/{quote(ti.task_id)}/logs/{max(ti.try_number, 1)}",
        )
        for ti in tis
    ]
    actions = or_(Log.event.startswith("batchtasks.", autoescape=True), Log.event.in_(AIRFLOW_RUN_ACTIONS))
    history = [
        AuditEntry(when=e.dttm, user=e.owner, action=e.event, outcome=_outcome(e.extra))
        for e in session.scalars(
            select(Log).where(Log.dag_id == task, Log.run_id == run_id, actions).order_by(Log.dttm.desc()).limit(50)
        ).all()
    ]
    return RunDetail(**info.model_dump(), steps=steps, history=history)


def _outcome(extra: str | None) -> str | None:
    import json

    try:
        data = json.loads(extra or "{}")
    except ValueError:
        return None
    return data.get("outcome") if isinstance(data, dict) else None


def last_runs(session: Session, task: str, count: int = 5) -> list[RunInfo]:
    return list_runs(session, task, limit=count).runs
