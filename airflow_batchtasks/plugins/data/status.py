"""The statuses of docs/ui.md in one place: Airflow states -> task status (UI) and runs-API status.

The mapping is a SQL expression, not Python, because ``GET /tasks?status=`` must
filter, count and paginate a thousand tasks in one query; single runs use the
same expression so a run can never show one status in a list and another in
its detail.

- task status: no run / run queued / run whose steps have not started -> New;
  a step up for retry -> Retry; any step started -> Processing; success ->
  Finished; failed with every step skipped (a user skipped it before it ran)
  -> Skipped; other failed -> Failed. A failed run with no step at all is Failed: Airflow creates a
  run's steps with the run, so only a DAG without tasks has one, and nothing was skipped.
- runs-API status: queued/running -> IN_PROGRESS, success -> SUCCEEDED,
  failed -> FAILED (``skipped: true`` when it was skipped).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.models.dagrun import DagRun
from airflow.models.taskinstance import TaskInstance as TI
from sqlalchemy import and_, case, exists, func, literal, or_, select, tuple_

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

TASK_STATUSES = ("New", "Processing", "Retry", "Finished", "Failed", "Skipped")
RUN_STATUSES = ("IN_PROGRESS", "SUCCEEDED", "FAILED")


def split_statuses(value: Any, what: str = "task") -> Any:
    """``["New,Failed", "retry"]`` -> ``["New", "Failed", "Retry"]`` (repeated or comma-separated, any case):
    the ``status`` filter of ``GET /tasks`` and ``GET /runs`` (``what``: task or run); ValueError naming an
    unknown status."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        value = [s.strip() for v in value for s in str(v).split(",") if s.strip()]
        by_lower = {s.lower(): s for s in TASK_STATUSES}
        bad = [s for s in value if s.lower() not in by_lower]
        if bad:
            raise ValueError(f"`{bad[0]}` is not a {what} status: expected one of {', '.join(TASK_STATUSES)}")
        value = list(dict.fromkeys(by_lower[s.lower()] for s in value))
    return value or None

#: Step states of a run that has not started processing (what skip accepts).
NOT_STARTED_TI_STATES = ("scheduled", "removed")
#: Step states left by a skip (Airflow marks unfinished steps skipped when a run is set failed).
SKIPPED_TI_STATES = ("skipped", "removed")
#: Most skipped steps for which :func:`skipped_run_ids` starts from them (about 9 us each in SQLite).
MAX_SKIPPED_STEPS = 20_000

RUN_STATES_BY_STATUS: dict[str, tuple[str, ...]] = {
    "IN_PROGRESS": ("queued", "running"),
    "SUCCEEDED": ("success",),
    "FAILED": ("failed",),
}


def _ti_exists(run: Any, *conditions: Any) -> Any:
    """Whether a step of ``run`` meets ``conditions``, looked up by Airflow's ``(dag_id, run_id)`` index.

    ``map_index >= -1`` is always true (``-1`` unmapped, mapped ``0..n``); it names a column that Airflow's
    ``(dag_id, task_id, run_id, state)`` index lacks, so SQLite no longer picks that index as "covering"
    and reads every step of the DAG (all its runs) through its ``dag_id`` prefix for each run: with the
    ``(dag_id, run_id)`` index it reads the run's own steps (the audit's Skipped filter 5x faster).
    """
    return exists(
        select(literal(1)).where(TI.dag_id == run.dag_id, TI.run_id == run.run_id, TI.map_index >= -1, *conditions)
    )


def started_expr(run: Any) -> Any:
    """Whether any step of ``run`` left the not-started states."""
    return _ti_exists(run, TI.state.is_not(None), TI.state.not_in(NOT_STARTED_TI_STATES))


def _not_skipped_exists(run: Any) -> Any:
    """Whether a step of ``run`` is in a state other than the skipped ones."""
    return _ti_exists(run, or_(TI.state.is_(None), TI.state.not_in(SKIPPED_TI_STATES)))


def skipped_expr(run: Any) -> Any:
    """A failed run none of whose steps ran (and which has steps): what a user's skip leaves behind."""
    return and_(run.state == "failed", ~_not_skipped_exists(run), _ti_exists(run, TI.state.in_(SKIPPED_TI_STATES)))


def skipped_run_ids(session: Session) -> Any | None:
    """SELECT of the ids of every skipped run, found from the skipped steps; None when there are too many.

    Telling Skipped from Failed per failed run looks up the run's steps (4 us each in SQLite, 0.4 s over
    the 100,000 failed runs of 10,000 tasks). Skipped steps are usually few (a user's skip), so starting
    from them (Airflow's ``state`` index) finds the skipped runs in 40 ms at 5,000 skipped steps, and a list
    filters by ``id IN``/``NOT IN`` that set (computed once per query). Past :data:`MAX_SKIPPED_STEPS` (a
    notification step skipped in every successful run, say) that stops paying off: None, use
    :func:`skipped_expr`.
    """
    steps = session.scalar(select(func.count()).select_from(TI).where(TI.state.in_(SKIPPED_TI_STATES))) or 0
    if steps > MAX_SKIPPED_STEPS:
        return None
    skipped_steps = select(TI.dag_id, TI.run_id).where(TI.state.in_(SKIPPED_TI_STATES))
    return select(DagRun.id).where(
        DagRun.state == "failed", tuple_(DagRun.dag_id, DagRun.run_id).in_(skipped_steps), ~_not_skipped_exists(DagRun)
    )


def task_status_expr(run: Any) -> Any:
    """Task status (New/Processing/Retry/Finished/Failed/Skipped) of ``run`` (an aliased DagRun, may be NULL)."""
    return case(
        (run.id.is_(None), "New"),
        (run.state == "queued", "New"),
        (and_(run.state == "running", _ti_exists(run, TI.state == "up_for_retry")), "Retry"),
        (and_(run.state == "running", started_expr(run)), "Processing"),
        (run.state == "running", "New"),
        (run.state == "success", "Finished"),
        (skipped_expr(run), "Skipped"),
        (run.state == "failed", "Failed"),
        else_="New",
    )


def run_status(state: str | None) -> str:
    """Runs-API status of an Airflow run state."""
    if state == "success":
        return "SUCCEEDED"
    if state == "failed":
        return "FAILED"
    return "IN_PROGRESS"


def run_states(statuses: list[str]) -> list[str]:
    """Airflow run states matching runs-API statuses."""
    return [s for status in statuses for s in RUN_STATES_BY_STATUS[status]]
