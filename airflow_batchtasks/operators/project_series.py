"""The steps of a project's ``project__<name>`` DAG: run one task's DAG, then say how the whole series went.

:class:`ProjectTaskRunOperator` is Airflow's ``TriggerDagRunOperator`` (the task's
run stays under the task's own DAG, waited for while deferred so no worker slot is
held) with two additions a series needs:

- before triggering, it asks Airflow whether the task's DAG is paused (the task is
  disabled). Airflow never starts a run of a paused DAG, so waiting for one would
  wait forever: the step is skipped instead, with the reason in its log. Workers
  have no database access; the Task SDK's ``GetDag`` call (Airflow 3.2+) answers.
  Airflow 3.1 has no such call (nor any other way for task code to read the pause:
  its execution API answers run and task states, not DAGs): there the step triggers
  as before, and a task paused *only* in Airflow's own UI (its definition still
  ``enabled: true``) keeps that step waiting. Never forever: the project DAG has a
  time limit (``dagrun_timeout`` from ``config.project_run_timeout_minutes``; the
  task runner defers a trigger-and-wait without a timeout, and ``execution_timeout``
  does not cover deferral), and when the scheduler ends the run there,
  ``plugins.listeners`` writes the series report naming the paused DAG. Batch Tasks'
  Enable/Disable writes ``enabled`` and the pause together, and a task with
  ``enabled: false`` is not in the series at all, so this only happens when the pause
  was set outside Batch Tasks;
- it records its outcome (``success``, ``failed`` or ``skipped`` and why) as the XCom
  :data:`OUTCOME_KEY`, for the series' result.

:class:`SeriesResultOperator` is the last step (trigger rule ``all_done``): it
reads every step's state and outcome and writes the series report to its log and
to the XCom :data:`REPORT_KEY` (the project run's note is set from it when the
run ends, see ``plugins.listeners``). It fails the project run when a task failed;
skipped tasks do not fail it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import BaseOperator

from airflow_batchtasks.compat import AirflowFailException, AirflowSkipException

if TYPE_CHECKING:
    from airflow.sdk import Context

#: XCom key of a step's outcome: ``{"task", "outcome", "reason", "run_id"}``.
OUTCOME_KEY = "series_outcome"
#: XCom key of the series report: ``{"text", "ok", "failed", "skipped", "excluded"}``.
REPORT_KEY = "series_report"
#: The step id of a task in the project DAG.
STEP_PREFIX = "run_"


def step_id(task: str) -> str:
    return f"{STEP_PREFIX}{task}"


def dag_is_paused(ti: Any, dag_id: str) -> bool | None:
    """Whether ``dag_id`` is paused, through the Task SDK (3.2+); ``None`` when this Airflow cannot say (3.1)."""
    get_dag = getattr(ti, "get_dag", None)
    if get_dag is None:
        return None
    try:
        return bool(get_dag(dag_id).is_paused)
    except Exception:  # an unknown DAG, an error answer: triggering reports it with Airflow's own message
        return None


class ProjectTaskRunOperator(TriggerDagRunOperator):
    """Run batch task ``trigger_dag_id`` as a step of its project's series; skipped when its DAG is paused."""

    def execute(self, context: Context) -> Any:
        ti = context["ti"]
        task = self.trigger_dag_id
        paused = dag_is_paused(ti, task)
        if paused:
            reason = "it is disabled (its DAG is paused), so Airflow would not start its run"
            self.log.warning("Skipping task %s: %s", task, reason)
            ti.xcom_push(key=OUTCOME_KEY, value={"task": task, "outcome": "skipped", "reason": reason})
            raise AirflowSkipException(f"task {task} skipped: {reason}")
        if paused is None:
            self.log.warning(
                "This Airflow gives task code no way to read whether DAG %s is paused (Airflow 3.2 does): a run "
                "of a DAG paused in Airflow alone waits until it is unpaused or the project run reaches its time "
                "limit ([batchtasks] project_run_timeout minutes), whose report then names the paused DAG (tasks "
                "with enabled: false are not in the series at all)", task,
            )
        return super().execute(context)

    def execute_complete(self, context: Context, event: Any) -> Any:
        ti = context["ti"]
        task = self.trigger_dag_id
        run_id = ((event[1] if isinstance(event, Sequence) and len(event) == 2 else {}) or {}).get("run_ids", [None])
        run_id = run_id[0] if run_id else None
        try:
            result = super().execute_complete(context, event)
        except Exception:
            ti.xcom_push(key=OUTCOME_KEY, value={
                "task": task, "outcome": "failed", "run_id": run_id,
                "reason": f"its run {run_id} failed (see that run's log)",
            })
            raise
        ti.xcom_push(key=OUTCOME_KEY, value={"task": task, "outcome": "success", "reason": "", "run_id": run_id})
        return result


class SeriesResultOperator(BaseOperator):
    """The project run's verdict: which tasks succeeded, failed or were skipped, and why.

    :param tasks: the series' tasks, in their order
    :param excluded: tasks of the project left out of the series when the DAG was built, with why
        (``enabled: false``)
    """

    ui_color = "#e8f0fe"

    def __init__(self, *, tasks: Sequence[str], excluded: Mapping[str, str] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("trigger_rule", "all_done")
        super().__init__(**kwargs)
        self.tasks = list(tasks)
        self.excluded = dict(excluded or {})

    def execute(self, context: Context) -> dict[str, Any]:
        ti = context["ti"]
        states = _step_states(ti, [step_id(t) for t in self.tasks])
        ok: list[str] = []
        failed: dict[str, str] = {}
        skipped: dict[str, str] = {}
        for task in self.tasks:
            outcome = ti.xcom_pull(task_ids=step_id(task), key=OUTCOME_KEY) or {}
            state = str(states.get(step_id(task)) or outcome.get("outcome") or "unknown")
            kind = outcome.get("outcome") or state
            if kind == "success":
                ok.append(task)
            elif kind == "skipped":
                skipped[task] = outcome.get("reason") or "the step was skipped"
            else:
                failed[task] = outcome.get("reason") or f"step {step_id(task)} ended {state} (see its log)"
        report = {
            "ok": ok, "failed": failed, "skipped": skipped, "excluded": self.excluded,
            "text": series_text(len(self.tasks), ok, failed, skipped, self.excluded),
        }
        for line in report["text"].splitlines():
            self.log.info("%s", line)
        ti.xcom_push(key=REPORT_KEY, value=report)
        if failed:
            raise AirflowFailException(report["text"])
        return report


def series_text(
    total: int, ok: list[str], failed: Mapping[str, str], skipped: Mapping[str, str], excluded: Mapping[str, str]
) -> str:
    """``"Series: 2 of 4 tasks succeeded; failed: b (why); skipped: c (why)"`` (one line per task after the first)."""
    lines = [f"Series: {len(ok)} of {total} task(s) succeeded, {len(failed)} failed, {len(skipped)} skipped"]
    lines += [f"failed: {task}: {why}" for task, why in failed.items()]
    lines += [f"skipped: {task}: {why}" for task, why in skipped.items()]
    lines += [f"not in the series: {task}: {why}" for task, why in excluded.items()]
    return "\n".join(lines)


def _step_states(ti: Any, step_ids: list[str]) -> dict[str, Any]:
    """The steps' states in this project run, through the Task SDK (workers have no database access)."""
    try:
        found = ti.get_task_states(dag_id=ti.dag_id, task_ids=step_ids, run_ids=[ti.run_id])
    except Exception:  # the outcomes alone still name what failed or was skipped
        return {}
    by_run = found.get(ti.run_id, found) if isinstance(found, Mapping) else {}
    return dict(by_run) if isinstance(by_run, Mapping) else {}
