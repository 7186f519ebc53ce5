"""A project run's series report as its note: Airflow keeps at most 1,000 characters of a note."""

from __future__ import annotations

from airflow_batchtasks.plugins.listeners import NOTE_MAX, note_text


def test_a_short_report_is_the_note_as_it_is() -> None:
    report = "2 of 3 tasks succeeded\nfailed: sales_b (its run r1 failed)"
    assert note_text(report) == report


def test_a_long_report_is_cut_at_a_line_and_points_to_the_full_one() -> None:
    lines = [f"failed: task_{i:02d}: its run manual__2026-12-04T03:{i:02d}:00 failed (see that run's log)"
             for i in range(40)]
    note = note_text("\n".join(lines))
    assert len(note) <= NOTE_MAX
    kept = note.splitlines()[:-1]
    assert kept and all(line in lines for line in kept), "whole lines only"
    assert note.endswith("(the full report is in the log of step series_result)")


def test_a_run_ended_at_its_time_limit_gets_a_report_naming_the_paused_task(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """Airflow's schema in SQLite: the rows the scheduler leaves when ``dagrun_timeout`` ends a project run."""
    import uuid
    from datetime import datetime, timezone

    from airflow.models import import_all_models
    from airflow.models.base import Base
    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from sqlalchemy import create_engine, insert, select
    from sqlalchemy.orm import Session

    from airflow_batchtasks.plugins.listeners import timed_out_report
    from tests.unit.plugins.airflow_rows import fit

    import_all_models()
    engine = create_engine(f"sqlite:///{tmp_path / 'airflow.db'}")
    Base.metadata.create_all(engine)
    monkeypatch.setenv("AIRFLOW__BATCHTASKS__PROJECT_RUN_TIMEOUT", "90")
    when = datetime(2026, 12, 4, tzinfo=timezone.utc)
    with Session(engine) as s:
        for dag_id, paused in (("project__p", False), ("t_paused", True), ("t_slow", False), ("t_ok", False)):
            s.execute(insert(DagModel.__table__).values(fit(DagModel.__table__, dict(
                dag_id=dag_id, is_stale=False, is_paused=paused, bundle_name="dags-folder", max_active_tasks=16,
                max_consecutive_failed_dag_runs=0, has_task_concurrency_limits=False, has_import_errors=False,
                fail_fast=False, exceeds_max_non_backfill=False,
            ))))
        s.execute(insert(DagRun.__table__).values(fit(DagRun.__table__, dict(
            dag_id="project__p", run_id="r1", run_after=when, queued_at=when, start_date=when, state="failed",
            run_type="manual",
            conf={}, clear_number=0,
        ))))
        for task_id, state in (("run_t_paused", "skipped"), ("run_t_slow", "skipped"), ("run_t_ok", "success"),
                               ("series_result", None)):
            s.execute(insert(TaskInstance.__table__).values(fit(TaskInstance.__table__, dict(
                id=uuid.uuid4(), dag_id="project__p", run_id="r1", task_id=task_id, map_index=-1, state=state,
                try_number=1, max_tries=0, pool="default_pool", pool_slots=1, priority_weight=1, hostname="",
                unixname="u", queue="default", custom_operator_name="", executor_config={},
            ))))
        s.commit()
        run = s.scalar(select(DagRun).where(DagRun.run_id == "r1"))
        report = timed_out_report(s, run)
        early = s.scalar(select(DagRun).where(DagRun.run_id == "r1"))
        early.start_date = datetime.now(timezone.utc)
        assert timed_out_report(s, early) is None, "failed before its limit (set failed by a user): no time-out report"
    assert report is not None
    assert report.splitlines() == [
        "Series: 1 of 3 task(s) succeeded, 0 failed, 2 skipped",
        "skipped: t_paused: it is disabled in Airflow (its DAG is paused), so its run r1__t_paused never started; "
        "the project run stopped at its time limit (90 minute(s))",
        "skipped: t_slow: the project run stopped at its time limit (90 minute(s)) before this task ended",
    ]
