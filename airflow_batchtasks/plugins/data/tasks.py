"""The task list and task details.

A batch task is its DAG: a live DAG tagged ``batchtasks`` that is neither a
project DAG (``project__*``), an orchestration (tag ``orchestration``) nor the
definition-errors DAG. Everything the list shows comes from Airflow's tables
in one query, so filtering by status, counting and paginating a thousand tasks
stays one round trip:

- project / owners: the DAG's ``project:<p>`` / ``owner:<o>`` tags;
- status: the documented status (docs/ui.md) from the task's *current* run, i.e. its running run if
  one is running (``max_active_runs=1``, so at most one), else its newest run;
- created: when Airflow first stored the DAG (its first DAG version);
  updated: when Airflow last stored a changed DAG, i.e. the definition (or the
  provider's rendering of it) last changed. Not file mtimes: a touched but
  unchanged file is not an update, and a DB query can filter on them.

A task's details are what any reader of the DAG may see: its definition and
run arguments with secrets masked, its errors naming files relative to the
definitions folder (:mod:`airflow_batchtasks.definitions.masking`).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow.models.dag import DagModel, DagTag
from airflow.models.dag_version import DagVersion
from airflow.models.dagrun import DagRun
from airflow.models.serialized_dag import SerializedDagModel
from pydantic import BaseModel, field_validator
from sqlalchemy import and_, exists, func, literal, select
from sqlalchemy.orm import aliased

from airflow_batchtasks.definitions import masking
from airflow_batchtasks.definitions.unsupported import unsupported_errors
from airflow_batchtasks.naming import (
    ERRORS_DAG_ID,
    INVALID_TAG,
    ORCHESTRATION_TAG,
    PROJECT_PREFIX,
    TAG,
    owner_tag,
    owners_of,
    project_of,
    project_tag,
)
from airflow_batchtasks.plugins.data import catalog_cache, runs
from airflow_batchtasks.plugins.data.errors import Invalid
from airflow_batchtasks.plugins.data.models import Definition, RunInfo, TaskDetail, TaskList, TaskSummary
from airflow_batchtasks.plugins.data.status import skipped_expr, split_statuses, task_status_expr

if TYPE_CHECKING:
    from sqlalchemy.orm import Session



class TaskFilter(BaseModel):
    """The filters of ``GET /tasks`` (also the ``filter`` of the bulk actions)."""

    project: str | None = None
    owner: str | None = None
    status: list[str] | None = None
    q: str | None = None
    name: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    updated_from: datetime | None = None
    updated_to: datetime | None = None

    model_config = {"extra": "forbid"}

    @field_validator("status", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return split_statuses(value)


def has_tag(name: Any) -> Any:
    """SQL: the DAG (``DagModel``) has tag ``name``."""
    return exists(select(literal(1)).where(DagTag.dag_id == DagModel.dag_id, DagTag.name == name))


def contains(text: str, escape_underscore: bool = True) -> str:
    """A LIKE pattern (escape ``\\``) matching text that contains ``text`` literally."""
    text = text.replace("\\", "\\\\").replace("%", "\\%")
    return "%" + (text.replace("_", "\\_") if escape_underscore else text) + "%"


def is_batch_task() -> list[Any]:
    """:func:`naming.is_batch_task_dag` as SQL terms on ``DagModel`` (live, ours, not a project,
    orchestration or the definition-errors DAG)."""
    return [
        ~DagModel.is_stale,
        has_tag(TAG),
        ~has_tag(ORCHESTRATION_TAG),
        ~DagModel.dag_id.startswith(PROJECT_PREFIX, autoescape=True),
        DagModel.dag_id != ERRORS_DAG_ID,
    ]


def _task_rows(f: TaskFilter, readable: set[str] | None) -> Any:
    """SELECT (name, run_pk, created, updated, status) of the tasks matching ``f`` (not yet paginated)."""
    running = (
        select(func.max(DagRun.id)).where(DagRun.dag_id == DagModel.dag_id, DagRun.state == "running")
        .correlate(DagModel).scalar_subquery()
    )
    newest = select(func.max(DagRun.id)).where(DagRun.dag_id == DagModel.dag_id).correlate(DagModel).scalar_subquery()
    created = (
        select(func.min(DagVersion.created_at)).where(DagVersion.dag_id == DagModel.dag_id)
        .correlate(DagModel).scalar_subquery()
    )
    # through dag_version: serialized_dag has no index on dag_id, only on dag_version_id
    updated = (
        select(func.max(SerializedDagModel.last_updated))
        .join(DagVersion, DagVersion.id == SerializedDagModel.dag_version_id)
        .where(DagVersion.dag_id == DagModel.dag_id)
        .correlate(DagModel).scalar_subquery()
    )
    where = is_batch_task()
    if readable is not None:
        where.append(DagModel.dag_id.in_(readable))
    if f.name:
        where.append(DagModel.dag_id == f.name)
    if f.q:
        where.append(DagModel.dag_id.ilike(contains(f.q), escape="\\"))
    if f.project:
        where.append(has_tag(project_tag(f.project)))
    if f.owner:
        where.append(has_tag(owner_tag(f.owner)))
    base = select(
        DagModel.dag_id.label("name"),
        func.coalesce(running, newest).label("run_pk"),
        created.label("created"),
        updated.label("updated"),
    ).where(*where).subquery("t")
    run = aliased(DagRun, name="cur")
    status = task_status_expr(run)
    query = select(base.c.name, base.c.run_pk, base.c.created, base.c.updated, status.label("status")).select_from(
        base.outerjoin(run, run.id == base.c.run_pk)
    )
    conditions = []
    if f.status:
        conditions.append(status.in_(f.status))
    for column, low, high in (
        (base.c.created, f.created_from, f.created_to),
        (base.c.updated, f.updated_from, f.updated_to),
    ):
        if low is not None:
            conditions.append(column >= low)
        if high is not None:
            conditions.append(column < high)
    return query.where(and_(*conditions)) if conditions else query


def task_names(session: Session, f: TaskFilter, readable: set[str] | None) -> list[str]:
    """Names of every task matching ``f`` (for bulk actions)."""
    q = _task_rows(f, readable).subquery()
    return list(session.scalars(select(q.c.name).order_by(q.c.name)).all())


def list_tasks(
    session: Session, f: TaskFilter, readable: set[str] | None, limit: int = 50, offset: int = 0
) -> TaskList:
    """One page of tasks with their status, current run, next run, owners and project; and the total."""
    if limit < 1 or offset < 0:
        raise Invalid("limit must be at least 1 and offset at least 0")
    rows_q = _task_rows(f, readable)
    sub = rows_q.subquery()
    # two queries, not a window count: unfiltered, the page query stops after LIMIT rows of the
    # dag_id index while the count never builds rows (measured 3x faster than COUNT(*) OVER ())
    total = session.scalar(select(func.count()).select_from(sub)) or 0
    page = session.execute(select(sub).order_by(sub.c.name).limit(limit).offset(offset)).all()
    return TaskList(total=total, limit=limit, offset=offset, tasks=summaries(session, page))


def summaries(session: Session, page: list[Any]) -> list[TaskSummary]:
    """Task rows (name, run_pk, created, updated, status) completed with DAG attributes and the current run."""
    names = [r.name for r in page]
    if not names:
        return []
    dags = {d.dag_id: d for d in session.scalars(select(DagModel).where(DagModel.dag_id.in_(names))).all()}
    tags: dict[str, list[str]] = {n: [] for n in names}
    for dag_id, tag in session.execute(select(DagTag.dag_id, DagTag.name).where(DagTag.dag_id.in_(names))).all():
        tags[dag_id].append(tag)
    run_pks = [r.run_pk for r in page if r.run_pk is not None]
    current: dict[int, RunInfo] = {}
    if run_pks:
        for row in session.execute(
            select(DagRun, task_status_expr(DagRun).label("task_status"), skipped_expr(DagRun).label("skipped"))
            .where(DagRun.id.in_(run_pks))
        ).all():
            current[row.DagRun.id] = runs.run_info(row.DagRun, row.task_status, row.skipped)
    out = []
    for r in page:
        dag = dags[r.name]
        dag_tags = tags.get(r.name, [])
        project = project_of(dag_tags)
        owners = owners_of(dag_tags)
        out.append(
            TaskSummary(
                name=r.name,
                project=project,
                owners=owners,
                description=dag.description,
                enabled=not dag.is_paused,
                valid=INVALID_TAG not in dag_tags,
                status=r.status,
                last_run=current.get(r.run_pk) if r.run_pk is not None else None,
                next_run=None if dag.is_paused else dag.next_dagrun_create_after,
                schedule=dag.timetable_summary,
                created=r.created,
                updated=r.updated,
            )
        )
    return out


def get_task(session: Session, name: str) -> TaskDetail:
    """The task: its summary, definition (as written), errors, run arguments, next 5 fire times, last runs."""
    runs.task_dag(session, name)
    page = session.execute(select(_task_rows(TaskFilter(name=name), None).subquery())).all()
    summary = summaries(session, page)[0]
    from airflow_batchtasks.plugins.data.definitions_store import display, to_definition

    catalog = catalog_cache.get_catalog()
    entry = catalog.tasks.get(name)
    definition = None
    errors = [display(e) for e in catalog.errors if e.name == name and e.kind in ("task", None)]
    params: dict[str, dict[str, Any]] = {}
    next_runs: list[str] = []
    if entry is not None:
        definition: Definition | None = to_definition(entry, "task")
        task = entry.model
        params = masking.mask_params({k: v.model_dump(exclude_none=True) for k, v in task.params.items()})
        if summary.enabled and task.enabled:
            next_runs = upcoming(task.schedule, task.timezone or "UTC")
        errors.extend(display(e) for e in unsupported_errors(entry))
    return TaskDetail(
        **summary.model_dump(),
        definition=definition,
        errors=errors,
        params=params,
        next_runs=next_runs,
        last_runs=runs.last_runs(session, name, 5),
        airflow_url=runs.dag_url(name),
    )


def upcoming(schedule: Any, tz: str, count: int = 5) -> list[str]:
    """Next fire times of a definition's schedule (cron, ``{once: ...}``, or none)."""
    from datetime import timezone as dt_tz

    from airflow_batchtasks.definitions.cron_text import describe_cron

    if schedule is None:
        return []
    if isinstance(schedule, str):
        return describe_cron(schedule, tz, count)["next"]
    once = getattr(schedule, "once", None)
    if once is not None:
        when = once if once.tzinfo else once.replace(tzinfo=dt_tz.utc)
        return [when.isoformat()] if when > datetime.now(dt_tz.utc) else []
    return []
