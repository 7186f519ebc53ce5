"""The run statuses' step lookups on Airflow's own schema in SQLite: same answers, through the run's own steps.

Skipped / Failed (the Runs page's status filter, the audit's ``run_skipped`` / ``run_failed``) ask, per failed
run, whether any of its steps ran. These tests pin that the answer is the plain one (every step's state read
in Python) for unmapped and mapped steps, and that SQLite finds a run's steps through Airflow's
``(dag_id, run_id)`` index rather than reading every step of the DAG (3.1 s at p95 for the audit's Skipped
filter at 1,000 tasks x 100 runs before).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, insert, select
from sqlalchemy.orm import Session

from airflow_batchtasks.plugins.data import history
from airflow_batchtasks.plugins.data.status import SKIPPED_TI_STATES, skipped_expr, skipped_run_ids, task_status_expr
from tests.unit.plugins.airflow_rows import fit

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)
#: run id -> (run state, [(map_index, step state)])
RUNS: dict[str, tuple[str, list[tuple[int, str | None]]]] = {
    "ok": ("success", [(-1, "success"), (-1, "success")]),
    "failed": ("failed", [(-1, "success"), (-1, "failed")]),
    "skipped": ("failed", [(-1, "skipped"), (-1, "skipped")]),
    "removed": ("failed", [(-1, "removed"), (-1, "skipped")]),
    "no_steps": ("failed", []),
    "null_step": ("failed", [(-1, None), (-1, "skipped")]),
    "mapped_ran": ("failed", [(0, "skipped"), (1, "success"), (2, "skipped")]),
    "mapped_skipped": ("failed", [(0, "skipped"), (1, "skipped")]),
    "running": ("running", [(-1, "running")]),
    "retry": ("running", [(0, "up_for_retry")]),
    "waiting": ("running", [(-1, "scheduled")]),
    "queued": ("queued", []),
}


def _plain_skipped(state: str, steps: list[tuple[int, str | None]]) -> bool:
    """Failed, with steps, every one skipped (a failed run without steps is Failed: nothing was skipped)."""
    return state == "failed" and bool(steps) and all(s is not None and s in SKIPPED_TI_STATES for _, s in steps)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    from airflow.models import import_all_models
    from airflow.models.base import Base
    from airflow.models.dag import DagTag
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance

    import_all_models()
    engine = create_engine(f"sqlite:///{tmp_path_factory.mktemp('status') / 'airflow.db'}")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        s.execute(insert(DagTag.__table__).values(dag_id="alpha", name="batchtasks"))
        for n, (run_id, (state, steps)) in enumerate(RUNS.items()):
            when = T0 + timedelta(hours=n)
            s.execute(insert(DagRun.__table__).values(fit(DagRun.__table__, dict(
                dag_id="alpha", run_id=run_id, run_after=when, queued_at=when, start_date=when, state=state,
                end_date=when + timedelta(minutes=5) if state in ("success", "failed") else None,
                run_type="manual", conf={}, clear_number=0,
            ))))
            for i, (map_index, step) in enumerate(steps):
                s.execute(insert(TaskInstance.__table__).values(fit(TaskInstance.__table__, dict(
                    id=uuid.uuid4(), dag_id="alpha", run_id=run_id, task_id=f"step{i}", map_index=map_index,
                    state=step, try_number=1, max_tries=0, pool="default_pool", pool_slots=1, priority_weight=1,
                    hostname="", unixname="u", queue="default", custom_operator_name="", executor_config={},
                ))))
        s.commit()
        yield s


def test_skipped_is_the_plain_answer_for_unmapped_and_mapped_steps(session: Session) -> None:
    from airflow.models.dagrun import DagRun

    got = dict(session.execute(select(DagRun.run_id, skipped_expr(DagRun))).all())
    assert {k: bool(v) for k, v in got.items()} == {k: _plain_skipped(*v) for k, v in RUNS.items()}


def test_each_run_status(session: Session) -> None:
    from airflow.models.dagrun import DagRun

    got = dict(session.execute(select(DagRun.run_id, task_status_expr(DagRun))).all())
    assert got == {
        "ok": "Finished", "failed": "Failed", "skipped": "Skipped", "removed": "Skipped", "no_steps": "Failed",
        "null_step": "Failed", "mapped_ran": "Failed", "mapped_skipped": "Skipped", "running": "Processing",
        "retry": "Retry", "waiting": "New", "queued": "New",
    }


@pytest.mark.parametrize(("action", "expected"), [
    ("run_skipped", {"skipped", "removed", "mapped_skipped"}),
    ("run_failed", {"failed", "null_step", "mapped_ran", "no_steps"}),
])
def test_audit_run_ending_filters(session: Session, action: str, expected: set[str]) -> None:
    page = history.list_audit(session, history.AuditFilter(actions=(action,)), None, with_files=False)
    assert page.total == len(expected)
    assert {e.run_id for e in page.entries} == expected


def test_the_skipped_runs_found_from_their_steps_are_the_plain_answer(session: Session) -> None:
    """The Runs filter's set of skipped runs (from the skipped steps) agrees with the per-run test."""
    from airflow.models.dagrun import DagRun

    ids = skipped_run_ids(session)
    assert ids is not None
    got = set(session.scalars(select(DagRun.run_id).where(DagRun.id.in_(ids))).all())
    assert got == {k for k, v in RUNS.items() if _plain_skipped(*v)}


def test_too_many_skipped_steps_leave_the_per_run_test(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_batchtasks.plugins.data import status

    skipped_steps = sum(s in SKIPPED_TI_STATES for _, steps in RUNS.values() for _, s in steps)
    monkeypatch.setattr(status, "MAX_SKIPPED_STEPS", skipped_steps)
    assert skipped_run_ids(session) is not None
    monkeypatch.setattr(status, "MAX_SKIPPED_STEPS", skipped_steps - 1)
    assert skipped_run_ids(session) is None


def test_sqlite_reads_a_runs_own_steps_not_every_step_of_its_dag(session: Session) -> None:
    from airflow.models.dagrun import DagRun

    query = select(DagRun.id).where(skipped_expr(DagRun))
    sql = str(query.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
    plan = " ".join(str(r[-1]) for r in session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
    assert "task_instance USING INDEX ti_dag_run (dag_id=? AND run_id=?)" in plan, plan
