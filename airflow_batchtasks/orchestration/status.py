"""Statuses of orchestration steps and instances, and how they are summed up.

Shared by the DAG's own ``report`` task (which decides whether the Airflow run
fails) and by :mod:`airflow_batchtasks.orchestration.instances` (which builds
the report for the REST API from the metadata DB), so both always agree.

A step records its outcome as an XCom under :data:`OUTCOME_KEY` *before* it
ends (skip or fail included), because Airflow's task states cannot say
PARTIAL, WAITING or *why* a step was skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

SUCCESS = "SUCCESS"
PARTIAL = "PARTIAL"
FAILED = "FAILED"
SKIPPED = "SKIPPED"
CANCELLED = "CANCELLED"
NOT_STARTED = "NOT_STARTED"
RUNNING = "RUNNING"
WAITING = "WAITING"
QUEUED = "QUEUED"

FINAL_STEP_STATUSES = frozenset({SUCCESS, PARTIAL, FAILED, SKIPPED, CANCELLED})

#: XCom key of a step's outcome: {step, task, status, reason, origin, task_run_id, until, at}.
OUTCOME_KEY = "batchtasks_step"
#: XCom key, on the ``report`` task, of a cancellation: {user, at}. Written by ``instances.cancel``.
CANCEL_KEY = "batchtasks_cancelled"
#: Task id of the last task of every orchestration DAG.
REPORT_TASK_ID = "report"
#: The key other steps use to report PARTIAL (see ``operators/partial.py``); a step's return value may say it too.
PARTIAL_KEYS = ("partial", "return_value")


def step_task_id(step: int, task: str) -> str:
    """``step_1__export_users``: the position first, so the grid lists steps in chain order."""
    return f"step_{step}__{task}"


def parse_step_task_id(task_id: str) -> tuple[int, str] | None:
    head, sep, task = task_id.partition("__")
    if not sep or not head.startswith("step_") or not head[5:].isdigit():
        return None
    return int(head[5:]), task


def says_partial(value: Any) -> bool:
    """Whether an XCom value reports PARTIAL: ``{"partial": true}`` or a list holding such a dict."""
    if isinstance(value, Mapping):
        return value.get("partial") is True
    if isinstance(value, (list, tuple)):
        return any(isinstance(v, Mapping) and v.get("partial") is True for v in value)
    return False


def partial_reason(values: Iterable[tuple[str, Any]]) -> str | None:
    """The first PARTIAL report among ``(task_id, xcom value)`` pairs, as a reason, or None."""
    for task_id, value in values:
        if says_partial(value):
            items = value if isinstance(value, (list, tuple)) else [value]
            detail = next(
                (str(v.get("reason")) for v in items if isinstance(v, Mapping) and v.get("reason")), None
            )
            return f"`{task_id}` reported PARTIAL" + (f": {detail}" if detail else "")
    return None


def summarize(steps: list[Mapping[str, Any]]) -> tuple[str, str | None]:
    """``(status, reason)`` of a finished instance from its steps' final outcomes, in chain order.

    The first step (in chain order) that did not succeed decides: FAILED, with its cause (for a
    step not started, the reason the chain stopped). A failed step followed by steps that ran
    anyway (``run_on_parent_failure``) still fails the instance: some work did not happen.
    Otherwise PARTIAL if any step was PARTIAL, else SUCCESS.
    """
    for s in steps:
        status = s.get("status")
        label = f"step {s.get('step')} `{s.get('task')}`"
        if status in (SKIPPED, CANCELLED):
            return FAILED, s.get("origin") or s.get("reason")
        if status == FAILED:
            return FAILED, f"{label} failed: {s.get('reason')}"
        if status not in FINAL_STEP_STATUSES:
            return FAILED, f"{label} has no final outcome ({status})"
    for s in steps:
        if s.get("status") == PARTIAL:
            return PARTIAL, f"step {s.get('step')} `{s.get('task')}` ended PARTIAL: {s.get('reason')}"
    return SUCCESS, None


#: Why a step can be failed in Airflow while its task run ended: apache/airflow#71580, #72716.
STALE_EVENT_NOTE = (
    "its task instance was marked failed by Airflow after its task run ended (a stale executor "
    "event, apache/airflow#72716); the task run's outcome counts"
)


def needs_task_run_state(outcome: Mapping[str, Any] | None, ti_state: str | None) -> bool:
    """Whether :func:`step_view` needs the step's task run state to tell what happened."""
    return bool(outcome) and outcome.get("status") == RUNNING and bool(outcome.get("task_run_id")) and (
        ti_state == "failed"
    )


def step_view(
    step: int,
    task: str,
    outcome: Mapping[str, Any] | None,
    ti_state: str | None,
    cancelled: str | None = None,
    task_run_state: str | None = None,
    task_run_partial: str | None = None,
) -> dict[str, Any]:
    """A step's status and reason from its recorded outcome and its task instance's Airflow state.

    The outcome wins once final. Otherwise Airflow's state tells what happened to the step from
    outside: stopped by a cancellation (``cancelled`` is its reason), or marked by a user. One
    exception: a step that launched its task run and was then failed by Airflow itself while that
    run ended normally (Airflow 3.3 kills a deferred task that resumes before the executor reported
    its deferral; see :data:`STALE_EVENT_NOTE`) takes its task run's outcome, given as
    ``task_run_state`` (and ``task_run_partial``, the PARTIAL reason if any).
    """
    out = dict(outcome or {})
    out.update(step=step, task=task)
    status = out.get("status")
    if status in FINAL_STEP_STATUSES:
        return out
    if ti_state == "failed" and not cancelled and status == RUNNING and task_run_state in ("success", "failed"):
        run = f"task run `{out.get('task_run_id')}`"
        if task_run_state == "failed":
            out["status"], out["reason"] = FAILED, f"{run} ended failed; {STALE_EVENT_NOTE}"
        elif task_run_partial:
            out["status"], out["reason"] = PARTIAL, f"{task_run_partial}; {STALE_EVENT_NOTE}"
        else:
            out["status"], out["reason"] = SUCCESS, f"{run} succeeded; {STALE_EVENT_NOTE}"
        return out
    if ti_state == "failed":
        out["status"] = CANCELLED if cancelled else FAILED
        out["reason"] = cancelled or "its task instance ended failed without a recorded outcome"
    elif ti_state in ("skipped", "upstream_failed", "removed"):
        out["status"] = SKIPPED
        out["reason"] = f"not started: {cancelled}" if cancelled else f"task instance {ti_state} in Airflow"
        out["origin"] = cancelled or out["reason"]
    elif ti_state == "success":
        out["status"] = SUCCESS
        out["reason"] = "marked success in Airflow"
    elif ti_state in ("running", "deferred", "up_for_reschedule"):
        out["status"] = status if status in (WAITING, RUNNING) else RUNNING
    else:
        out["status"] = NOT_STARTED
    return out
