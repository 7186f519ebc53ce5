"""Index a task run's archived files as soon as the run ends (Airflow listener).

Workers cannot write the metadata database, so the file-history index
(:mod:`airflow_batchtasks.plugins.data.files`) is filled by whoever can: the
API server on read, and this listener in the process that ends a run (the
scheduler, or the API server for a run a user set failed). With it, the
first read of a task's history or runs finds its finished runs already
indexed instead of paying the archive scan.

The work runs on one background thread: the hooks are called inside the
scheduler's loop (sometimes inside its transaction), which must not wait for
an archive listing or contend for SQLite's write lock. A failure is logged
and costs nothing but the head start: the API indexes on read anyway.

A run started by deliveries (``schedule: {after: [...]}``) gets a note naming the files and
runs that started it (:mod:`airflow_batchtasks.assets.notes`), written by the same thread.

For a project's ``project__<name>`` run, the same thread copies the series
report (which tasks failed or were skipped, and why) onto the run's note, where
Airflow's UI shows it: the step that writes the report runs on a worker, which
cannot write the database. A project run ended by its time limit (see
``config.project_run_timeout_minutes``) has no report step: the report is built
here from the steps' states, naming a task whose DAG is paused in Airflow.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.listeners import hookimpl

log = logging.getLogger(__name__)

_executor: ThreadPoolExecutor | None = None


def _submit(dag_id: str, run_id: str | None = None) -> None:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batchtasks-index")
    from airflow_batchtasks.naming import is_project_dag_id

    if run_id is not None and is_project_dag_id(dag_id):
        _executor.submit(_note_series, dag_id, run_id)
        return
    _executor.submit(_index, dag_id)


#: Airflow's ``dag_run_note.content`` is ``String(1000)``: a longer note fails to save on PostgreSQL.
NOTE_MAX = 1000


def note_text(report: str) -> str:
    """The report as a note: whole when it fits, else cut at a line with a pointer to the full report."""
    if len(report) <= NOTE_MAX:
        return report
    tail = "\n… (the full report is in the log of step series_result)"
    kept = report[: NOTE_MAX - len(tail)]
    return (kept.rsplit("\n", 1)[0] if "\n" in kept else kept) + tail


def _note_series(dag_id: str, run_id: str) -> None:
    """The series report of project run ``run_id`` as its note (nothing when the result step wrote none)."""
    try:
        from airflow.models.dagrun import DagRun
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session
        from sqlalchemy import select

        from airflow_batchtasks import airflow_calls
        from airflow_batchtasks.operators.project_series import REPORT_KEY

        with create_session() as session:
            rows = session.scalars(XComModel.get_many(
                run_id=run_id, key=REPORT_KEY, dag_ids=dag_id, task_ids="series_result")).all()
            report = XComModel.deserialize_value(rows[0]) if rows else None
            run = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
            if run is None:
                return
            if not isinstance(report, dict) or not report.get("text"):
                # no report: the run hit its time limit before series_result ran (a step waiting for a
                # run that never starts); this process reads the database, so it can say why
                text = timed_out_report(session, run)
                if text is None:
                    return
                log.warning("Project run %s %s reached its time limit:\n%s", dag_id, run_id, text)
                report = {"text": text}
            airflow_calls.set_note(run, note_text(str(report["text"])), None)
    except Exception:
        log.exception("could not write the series report of %s %s on its note", dag_id, run_id)


def timed_out_report(session: Any, run: Any) -> str | None:
    """The series report of a project run Airflow ended at its time limit (``dagrun_timeout``), or None.

    The scheduler skips the steps still waiting; each is reported skipped with why: its task's DAG is
    paused in Airflow, so its run never started (Airflow 3.1 steps cannot see the pause before
    triggering), or its run was still going when the limit came.
    """
    from airflow.models.dag import DagModel
    from airflow.models.taskinstance import TaskInstance as TI
    from sqlalchemy import select

    from airflow_batchtasks.config import project_run_timeout_minutes
    from airflow_batchtasks.operators.project_series import STEP_PREFIX, series_text

    # called from on_dag_run_failed, maybe before the scheduler's transaction is committed: the run's state
    # and its steps' may still read as before, so the run's age says whether this was the time limit
    try:
        minutes = project_run_timeout_minutes()
    except ValueError:
        return None
    started = run.start_date
    if started is None or datetime.now(timezone.utc) - _aware(started) < timedelta(minutes=minutes):
        return None  # failed before its limit (a user set it failed...): not a timeout
    states = {task_id: _value(state) for task_id, state in session.execute(
        select(TI.task_id, TI.state).where(TI.dag_id == run.dag_id, TI.run_id == run.run_id)).all()}
    if states.get("series_result") in ("success", "failed"):
        return None  # the result step ran (and wrote the report, or failed writing it): nothing to add
    limit = f"{minutes:g} minute(s)"
    from airflow.models.xcom import XComModel

    from airflow_batchtasks.operators.project_series import OUTCOME_KEY

    outcomes = {
        row.task_id: XComModel.deserialize_value(row)
        for row in session.scalars(XComModel.get_many(run_id=run.run_id, key=OUTCOME_KEY, dag_ids=run.dag_id)).all()
    }
    ok: list[str] = []
    failed: dict[str, str] = {}
    skipped: dict[str, str] = {}
    for task_id, state in sorted(states.items()):
        if not task_id.startswith(STEP_PREFIX):
            continue
        task = task_id[len(STEP_PREFIX):]
        child = f"{run.run_id}__{task}"
        said = outcomes.get(task_id) if isinstance(outcomes.get(task_id), dict) else {}
        if said.get("outcome") == "skipped":  # the step skipped itself (3.2+: it saw the pause) and said why
            skipped[task] = str(said.get("reason") or "the step was skipped")
        elif state == "success":
            ok.append(task)
        elif state == "failed":
            failed[task] = f"its run {child} failed (see that run's log)"
        elif session.scalar(select(DagModel.is_paused).where(DagModel.dag_id == task)):
            skipped[task] = (f"it is disabled in Airflow (its DAG is paused), so its run {child} never started; "
                             f"the project run stopped at its time limit ({limit})")
        else:
            skipped[task] = f"the project run stopped at its time limit ({limit}) before this task ended"
    return series_text(len(ok) + len(failed) + len(skipped), ok, failed, skipped, {})


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _value(state: Any) -> str:
    """A state enum or its text, as text."""
    return str(getattr(state, "value", state) or "")


def _index(dag_id: str) -> None:
    try:
        from airflow.models.dag import DagTag
        from airflow.utils.session import create_session
        from sqlalchemy import select

        from airflow_batchtasks.naming import is_batch_task_dag
        from airflow_batchtasks.plugins.data import files

        with create_session() as session:
            tags = set(session.scalars(select(DagTag.name).where(DagTag.dag_id == dag_id)).all())
            if not is_batch_task_dag(dag_id, tags):
                return
            files.sync(session, dag_id)
    except Exception:
        log.exception("could not index the archived files of %s (the API will on its next read)", dag_id)


def _note_deliveries(dag_id: str, run_id: str) -> None:
    """A run started by deliveries (``schedule: {after: [...]}``) gets a note naming them (see assets.notes)."""
    try:
        from airflow.models.dag import DagTag
        from airflow.models.dagrun import DagRun
        from airflow.utils.session import create_session
        from sqlalchemy import select

        from airflow_batchtasks import airflow_calls
        from airflow_batchtasks.assets.notes import deliveries_note
        from airflow_batchtasks.naming import TAG

        with create_session() as session:
            if TAG not in set(session.scalars(select(DagTag.name).where(DagTag.dag_id == dag_id)).all()):
                return
            run = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
            if run is None or run.note:
                return
            events = sorted(run.consumed_asset_events, key=lambda e: (e.timestamp, e.id))
            text = deliveries_note(
                {"source_dag_id": e.source_dag_id, "source_run_id": e.source_run_id, "uri": e.uri, "extra": e.extra}
                for e in events
            )
            if text:
                airflow_calls.set_note(run, text, None)
    except Exception:
        log.exception("could not write the deliveries that started %s %s on its note", dag_id, run_id)


@hookimpl
def on_dag_run_running(dag_run: Any, msg: str) -> None:
    if getattr(dag_run, "run_type", None) != "asset_triggered":  # DagRunType is a str enum
        return
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batchtasks-index")
    _executor.submit(_note_deliveries, dag_run.dag_id, dag_run.run_id)


@hookimpl
def on_dag_run_success(dag_run: Any, msg: str) -> None:
    _submit(dag_run.dag_id, dag_run.run_id)


@hookimpl
def on_dag_run_failed(dag_run: Any, msg: str) -> None:
    _submit(dag_run.dag_id, dag_run.run_id)
