"""Orchestration instances: launch, cancel, delete and report, through Airflow's own code.

An *instance* is a DAG run of the orchestration's DAG; its id is the run id
(``launch`` makes it a UUID, as the seed's API returns; scheduled and UI runs
keep Airflow's run ids). Nothing is stored beside Airflow's metadata: a report
is built from the DagRun, its task instances and the outcomes the steps
recorded as XComs, so it disappears with the run.

These functions open metadata-DB sessions: call them from the API server or
the CLI, never from task code (Airflow 3 workers have no DB access). They
raise :class:`NotFound` / :class:`Conflict` / :class:`Inactive`, which the REST
layer maps to 404 / 409 / 409.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from airflow_batchtasks.airflow_calls import fail_run, set_note
from airflow_batchtasks.naming import ORCHESTRATION_TAG
from airflow_batchtasks.orchestration.status import (
    CANCEL_KEY,
    CANCELLED,
    OUTCOME_KEY,
    PARTIAL_KEYS,
    QUEUED,
    REPORT_TASK_ID,
    RUNNING,
    needs_task_run_state,
    parse_step_task_id,
    partial_reason,
    step_view,
    summarize,
)

if TYPE_CHECKING:
    from airflow.models.dagrun import DagRun
    from sqlalchemy.orm import Session

    from airflow_batchtasks.definitions.models import Orchestration

log = logging.getLogger(__name__)

FINISHED = ("success", "failed")
CANCELLED_BY = "cancelled by "


class OrchestrationError(Exception):
    """Base of the errors the REST layer maps to HTTP statuses."""


class NotFound(OrchestrationError):
    """No such orchestration or instance (404)."""


class Conflict(OrchestrationError):
    """The instance's state forbids the action, e.g. cancelling a finished instance (409)."""


class Inactive(Conflict):
    """The orchestration cannot be launched: ``active: false``, or its DAG is paused (409)."""


# ---------------------------------------------------------------------------- lookups
def definition(name: str) -> Orchestration | None:
    """The orchestration's definition from the definitions folder (targeted load: only its files)."""
    from airflow_batchtasks import config
    from airflow_batchtasks.definitions.catalog import load_catalog

    folder = config.definitions_folder()
    entry = load_catalog(folder, only=name).orchestrations.get(name)
    if entry is None:  # the targeted load's text scan can miss (flow-style YAML): a full load never does
        entry = load_catalog(folder).orchestrations.get(name)
    return entry.model if entry else None


def _dag_model(name: str, session: Session) -> Any:
    """The orchestration's DagModel: a live DAG tagged ``orchestration`` (the loader's, or one built in code)."""
    from airflow.models.dag import DagModel, DagTag

    dag = session.scalar(
        select(DagModel)
        .join(DagTag, DagTag.dag_id == DagModel.dag_id)
        .where(DagModel.dag_id == name, DagTag.name == ORCHESTRATION_TAG)
    )
    if dag is None or getattr(dag, "is_stale", False):
        raise NotFound(f"no orchestration `{name}`")
    return dag


def _run(name: str, instance_id: str, session: Session, *, lock: bool = False) -> DagRun:
    """The instance's DAG run; ``lock``: row-locked (PostgreSQL, MySQL) until the session commits.

    The scheduler takes the same lock (``SKIP LOCKED``) when it moves a queued run to running,
    so a cancel holding it cannot interleave with that move and be overwritten by it.
    """
    from airflow.models.dagrun import DagRun
    from airflow.utils.sqlalchemy import with_row_locks

    _dag_model(name, session)
    query = select(DagRun).where(DagRun.dag_id == name, DagRun.run_id == instance_id)
    run = session.scalar(with_row_locks(query, session) if lock else query)
    if run is None:
        raise NotFound(f"no instance `{instance_id}` of orchestration `{name}`")
    return run


# ---------------------------------------------------------------------------- actions
def launch(
    name: str,
    conf: Mapping[str, Any] | None = None,
    *,
    user: str | None = None,
    triggered_by: str = "rest_api",
) -> str:
    """Queue a new instance now; return its id. Raises NotFound, or Inactive (409) when it cannot run.

    The run is created by ``airflow.api.common.trigger_dag``, the code behind Airflow's own
    trigger endpoint. ``max_active_runs=1``: a launch during a running instance is queued.
    """
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.utils.session import create_session
    from airflow.utils.types import DagRunTriggeredByType

    with create_session() as session:
        dag = _dag_model(name, session)
        orch = definition(name)
        if orch is not None and not orch.active:
            raise Inactive(f"orchestration `{name}` is inactive (active: false): it cannot be launched")
        if dag.is_paused:
            raise Inactive(f"orchestration `{name}` is paused in Airflow: unpause its DAG to launch it")
        instance_id = str(uuid.uuid4())
        trigger_dag(
            name,
            triggered_by=DagRunTriggeredByType(triggered_by),
            triggering_user_name=user,
            run_id=instance_id,
            conf=dict(conf or {}),
            logical_date=None,
            session=session,
        )
    log.info("orchestration %s: instance %s launched by %s", name, instance_id, user)
    return instance_id


def cancel(name: str, instance_id: str, user: str) -> None:
    """Stop the running step and launch nothing further; the instance ends CANCELLED ("cancelled by <user>").

    Order matters: the orchestration run is failed first (Airflow fails its running step and
    skips the rest), then the step's task run, so the step never sees its task run end and
    records nothing over the cancellation. The "cancelled by" marker (an XCom on ``report``, read
    by the reports) and the run's note are written in the same transaction. Conflict if the
    instance already ended.
    """
    from airflow.models.dagrun import DagRun
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    reason = f"{CANCELLED_BY}{user}"
    with create_session() as session:
        run = _run(name, instance_id, session, lock=True)
        if run.state in FINISHED:
            raise Conflict(f"instance `{instance_id}` of `{name}` already ended ({run.state}): it cannot be cancelled")
        _fail_run(run, session)
        # A fresh copy of the run: Airflow 3.1 sets the skipped tasks' states in sessions of its own,
        # which leaves the run object detached from this one.
        run = _run(name, instance_id, session)
        XComModel.set(
            CANCEL_KEY,
            {"user": user, "at": datetime.now(timezone.utc).isoformat()},
            dag_id=name,
            task_id=REPORT_TASK_ID,
            run_id=instance_id,
            session=session,
        )
        set_note(run, reason, None)
        for task_id in sorted(_step_task_ids(name, instance_id, session)):
            parsed = parse_step_task_id(task_id)
            if parsed is None:
                continue
            task_run = session.scalar(
                select(DagRun).where(DagRun.dag_id == parsed[1], DagRun.run_id == f"{instance_id}__{task_id}")
            )
            if task_run is not None and task_run.state not in FINISHED:
                set_note(task_run, f"{reason} (orchestration `{name}`, instance `{instance_id}`)", None)
                _fail_run(task_run, session)
    log.info("orchestration %s: instance %s %s", name, instance_id, reason)


def delete(name: str, instance_id: str) -> None:
    """Delete the instance (its DAG run, hence its report). The task runs it started stay in their tasks'
    history. Conflict while it runs (cancel it first), as Airflow's own DAG run delete."""
    from airflow.utils.session import create_session

    with create_session() as session:
        run = _run(name, instance_id, session)
        if run.state == "running":
            raise Conflict(f"instance `{instance_id}` of `{name}` is running: cancel it before deleting it")
        session.delete(run)


def _fail_run(run: DagRun, session: Session) -> None:
    """Mark a DAG run failed as Airflow's PATCH dagRun endpoint does (running tasks failed, the rest skipped)."""
    from airflow.models.dagbag import DBDagBag

    dag = DBDagBag().get_dag_for_run(run, session=session)
    if dag is None:
        raise Conflict(f"DAG `{run.dag_id}` of run `{run.run_id}` is not serialized: cannot set its state")
    fail_run(dag, run, session)


def _step_task_ids(name: str, instance_id: str, session: Session) -> list[str]:
    from airflow.models.taskinstance import TaskInstance

    return list(
        session.scalars(
            select(TaskInstance.task_id).where(TaskInstance.dag_id == name, TaskInstance.run_id == instance_id)
        )
    )


# ---------------------------------------------------------------------------- reports
def report(name: str, instance_id: str) -> dict[str, Any]:
    """The instance's report: status, start, end, reason, and each step's status, times and reason."""
    from airflow.utils.session import create_session

    with create_session() as session:
        return _report(_run(name, instance_id, session), session)


def reports(name: str, limit: int = 100) -> list[dict[str, Any]]:
    """Reports of the orchestration's instances, newest first."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        _dag_model(name, session)
        runs = session.scalars(
            select(DagRun).where(DagRun.dag_id == name).order_by(DagRun.run_after.desc()).limit(limit)
        ).all()
        return [_report(run, session) for run in runs]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _xcoms(dag_id: str, run_id: str, key: str, session: Session) -> dict[str, Any]:
    from airflow.models.xcom import XComModel

    rows = session.scalars(XComModel.get_many(run_id=run_id, key=key, dag_ids=dag_id)).all()
    return {row.task_id: XComModel.deserialize_value(row) for row in rows}


def _cancel_reason(run: DagRun, marker: Any) -> str | None:
    """"cancelled by <user>" for a run ``cancel`` stopped: its XCom marker, else its note.

    The note is the fallback because on Airflow 3.1 a cancelled run's ``report`` task can still
    start (3.1 skips pending tasks outside the run's transaction, racing the scheduler), and a
    starting task clears its XComs, the marker with them.
    """
    if isinstance(marker, Mapping) and marker.get("user") and run.state in ("failed", "success"):
        # "success" too: on SQLite (no row locks) a scheduler loop that read the run just before the
        # cancel can still finish it, all steps skipped, as success; the marker says what happened.
        return f"{CANCELLED_BY}{marker['user']}"
    if run.state != "failed":
        return None
    note = run.note or ""
    return note if note.startswith(CANCELLED_BY) else None


def _partial_in_db(task_run: DagRun, session: Session) -> str | None:
    """The PARTIAL reason a task run's tasks reported (XCom ``partial`` or return value), if any."""
    values: list[tuple[str, Any]] = []
    for key in PARTIAL_KEYS:
        values.extend(sorted(_xcoms(task_run.dag_id, task_run.run_id, key, session).items()))
    return partial_reason(values)


def _report(run: DagRun, session: Session) -> dict[str, Any]:
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance

    tis = session.scalars(
        select(TaskInstance).where(TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id)
    ).all()
    outcomes = _xcoms(run.dag_id, run.run_id, OUTCOME_KEY, session)
    cancel = _xcoms(run.dag_id, run.run_id, CANCEL_KEY, session).get(REPORT_TASK_ID)
    cancelled = _cancel_reason(run, cancel)
    steps: list[dict[str, Any]] = []
    views: list[dict[str, Any]] = []
    for ti in sorted(tis, key=lambda t: (parse_step_task_id(t.task_id) or (10**9, ""))[0]):
        parsed = parse_step_task_id(ti.task_id)
        if parsed is None:
            continue
        outcome = outcomes.get(ti.task_id)
        outcome = outcome if isinstance(outcome, Mapping) else None
        task_run_id = (outcome or {}).get("task_run_id")
        task_run = (
            session.scalar(select(DagRun).where(DagRun.dag_id == parsed[1], DagRun.run_id == task_run_id))
            if task_run_id
            else None
        )
        run_state = partial = None
        if task_run is not None and needs_task_run_state(outcome, ti.state):
            run_state = str(task_run.state)
            partial = _partial_in_db(task_run, session) if run_state == "success" else None
        view = step_view(*parsed, outcome, ti.state, cancelled, run_state, partial)
        views.append(view)
        steps.append(
            {
                "step": parsed[0],
                "task": parsed[1],
                "status": view["status"],
                "reason": view.get("reason"),
                "start_reason": view.get("start_reason"),
                "start": _iso(task_run.start_date if task_run else ti.start_date),
                "end": _iso(task_run.end_date if task_run else ti.end_date),
                "task_run_id": task_run_id,
                "task_run_state": str(task_run.state) if task_run else None,
                "waiting_until": view.get("until") if view["status"] == "WAITING" else None,
                "airflow_state": str(ti.state) if ti.state else None,
            }
        )
    if run.state == "queued":
        status, reason = QUEUED, None
    elif run.state == "running":
        status, reason = RUNNING, None
    elif cancelled:
        status, reason = CANCELLED, cancelled
    else:
        status, reason = summarize(views)
        if run.state == "failed" and status != "FAILED":  # e.g. the run was marked failed by hand
            status, reason = "FAILED", f"the DAG run ended failed after the steps ended {status}"
    return {
        "id": run.run_id,
        "orchestration": run.dag_id,
        "status": status,
        "reason": reason,
        "start": _iso(run.start_date),
        "end": _iso(run.end_date),
        "queued_at": _iso(run.queued_at),
        "triggered_by": getattr(run.triggered_by, "value", run.triggered_by),
        "user": getattr(run, "triggering_user_name", None),
        "airflow_state": str(run.state),
        "steps": steps,
    }
