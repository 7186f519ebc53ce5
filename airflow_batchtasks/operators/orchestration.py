"""The Airflow tasks of an orchestration DAG: one step per orchestrated task, then ``report``.

A step decides (rules in :mod:`airflow_batchtasks.orchestration.rules`), may wait for its
``starts_after`` time (deferred on a DateTimeTrigger: no worker slot held), then triggers
the task's own DAG and waits for it (deferred, through TriggerDagRunOperator's Airflow 3
path: it raises DagRunTriggerException and the task runner creates the run and defers on
a DagStateTrigger). Every decision is recorded as an XCom *before* the step ends, so the
next step, the report task and the REST report all read the same truth; the reason is
also logged and is the skip/fail message, so the grid's log says why.

Task code has no metadata-DB access in Airflow 3: everything here goes through the task
instance's API calls (XCom, task states, DAG state).
"""

from __future__ import annotations

import inspect
import time
from dataclasses import replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import BaseOperator

from airflow_batchtasks import config
from airflow_batchtasks.orchestration.clock import ANCHOR_KEY, Clock, clock_for
from airflow_batchtasks.orchestration.rules import Action, Limits, Parent, StepRules, decide
from airflow_batchtasks.orchestration.status import (
    CANCELLED,
    FAILED,
    OUTCOME_KEY,
    PARTIAL,
    PARTIAL_KEYS,
    REPORT_TASK_ID,
    RUNNING,
    SKIPPED,
    SUCCESS,
    WAITING,
    needs_task_run_state,
    partial_reason,
    step_task_id,
    step_view,
    summarize,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

#: A wait for ``starts_after`` this short is slept in place rather than deferred: a deferral costs
#: more than it saves, and Airflow 3.3 may fail a deferred task that resumes before the executor has
#: reported its deferral (apache/airflow#72716).
SHORT_WAIT_SECONDS = 15.0


def _trigger_kwargs() -> dict[str, Any]:
    # Keep the task run's conf exactly as given (no lineage keys) where the provider allows it.
    params = inspect.signature(TriggerDagRunOperator.__init__).parameters
    return {"openlineage_inject_parent_info": False} if "openlineage_inject_parent_info" in params else {}


class OrchestrationStepOperator(TriggerDagRunOperator):
    """One orchestration step: decide, maybe wait for ``starts_after``, run the task's DAG, report.

    :param orchestration: the orchestration's name (its DAG id).
    :param rules: this step's position, task and start rules.
    :param limits: the orchestration's active flag and time limits.
    :param parent_task_id: task id of the previous step (None for the first step).
    :param first_task_id: task id of the first step, which anchors a test clock.
    """

    ui_color = "#dbe9ff"

    def __init__(
        self,
        *,
        orchestration: str,
        rules: StepRules,
        limits: Limits,
        parent_task_id: str | None = None,
        first_task_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("task_id", step_task_id(rules.step, rules.task))
        super().__init__(
            trigger_dag_id=rules.task,
            wait_for_completion=True,
            deferrable=True,
            reset_dag_run=True,  # clearing a step in the grid re-runs its task run instead of failing on it
            poke_interval=config.orchestration_poll_interval(),
            allowed_states=["success"],
            failed_states=["failed"],
            retries=0,  # a step is one launch: the task's own DAG has the retries
            trigger_rule="all_done",  # runs after a failed/skipped parent to decide (and record) what to do
            **_trigger_kwargs(),
            **kwargs,
        )
        self.orchestration = orchestration
        self.rules = rules
        self.limits = limits
        self.parent_task_id = parent_task_id
        self.first_task_id = first_task_id or self.task_id

    # ------------------------------------------------------------------ entry points
    def execute(self, context: Context) -> None:
        self._decide_and_go(context)

    def resume_after_wait(self, context: Context, event: Any = None) -> None:
        """Back from the ``starts_after`` wait: decide again (the time limit may have passed meanwhile)."""
        self._decide_and_go(context, waited=True)

    def execute_complete(self, context: Context, event: Any) -> None:
        """The task run ended: SUCCESS, PARTIAL (a task of it said so) or FAILED."""
        _, data = event
        run_id = data["run_ids"][0]
        state = data.get(run_id)
        launched = context["ti"].xcom_pull(task_ids=self.task_id, key=OUTCOME_KEY) or {}
        extra = {"task_run_id": run_id, "start_reason": launched.get("start_reason")}
        if state != "success":
            self._stop(context, FAILED, f"task run `{run_id}` of `{self.trigger_dag_id}` ended {state}", **extra)
        partial = partial_of_run(context["ti"], self.trigger_dag_id, run_id, self.log)
        if partial:
            self._record(context, PARTIAL, partial, **extra)
        else:
            self._record(context, SUCCESS, f"task run `{run_id}` succeeded", **extra)

    # ------------------------------------------------------------------ steps of a step
    def _decide_and_go(self, context: Context, waited: bool = False) -> None:
        clock = self._clock(context)
        parent = self._parent(context)
        decision = decide(self.rules, self.limits, parent, clock.now(), clock.start)
        if decision.action is Action.SKIP:
            self._stop(context, SKIPPED, decision.reason, origin=decision.origin)
        if decision.action is Action.WAIT:
            from airflow.providers.standard.triggers.temporal import DateTimeTrigger

            assert decision.until is not None
            real = clock.to_real(decision.until)
            self._record(context, WAITING, decision.reason, until=decision.until.isoformat())
            if clock.is_test:
                self.log.info("test clock: %s is %s real time", decision.until.isoformat(), real.isoformat())
            seconds = (real - datetime.now(timezone.utc)).total_seconds()
            if seconds <= SHORT_WAIT_SECONDS:
                self.log.info("waiting %.1f s in place (too short to defer)", max(seconds, 0))
                time.sleep(max(seconds, 0))
                return self._decide_and_go(context, waited=True)
            self.defer(trigger=DateTimeTrigger(moment=real), method_name="resume_after_wait")
        self._launch(context, f"waited for starts_after; {decision.reason}" if waited else decision.reason)

    def _launch(self, context: Context, why: str) -> None:
        # Cancelling fails the DAG run, and Airflow then stops this task instance and never starts
        # the next ones. This check closes the gaps: a step already past its decision when the
        # cancel came, or (Airflow 3.1) one the scheduler still started after it.
        ti = context["ti"]
        if _state(ti.get_dagrun_state(dag_id=ti.dag_id, run_id=ti.run_id)) == "failed":
            self._stop(context, CANCELLED, "not started: the instance was stopped (its DAG run is failed)")
        paused = self._target_paused(ti)
        if paused:
            self._stop(context, FAILED, paused)
        run_id = f"{context['run_id']}__{self.task_id}"
        self.trigger_run_id = run_id
        self.note = f"Step {self.rules.step} of orchestration `{self.orchestration}`, instance `{context['run_id']}`"
        self._record(context, RUNNING, why, task_run_id=run_id, start_reason=why)
        super().execute(context)  # raises DagRunTriggerException: the task runner triggers and defers

    # ------------------------------------------------------------------ helpers
    def _clock(self, context: Context) -> Clock:
        from airflow_batchtasks.compat import AirflowFailException

        dag_run = context["dag_run"]
        try:
            clock, ignored = clock_for(dag_run.conf, dag_run.start_date, config.test_clock_enabled())
        except ValueError as exc:
            raise AirflowFailException(f"bad test clock: {exc}") from exc
        if ignored:
            self.log.warning(ignored)
        if clock.is_test:
            clock = replace(clock, real_start=self._clock_anchor(context, clock.real_start))
            now = clock.now()
            self.log.info("TEST CLOCK: instance started %s, now %s (x%g)", clock.start, now, clock.speed)
        return clock

    def _clock_anchor(self, context: Context, run_start: datetime) -> datetime:
        """The real instant the test clock read its start: the first step's first look at it."""
        ti = context["ti"]
        anchor = ti.xcom_pull(task_ids=self.first_task_id, key=ANCHOR_KEY)
        if anchor:
            return datetime.fromisoformat(anchor)
        if self.task_id != self.first_task_id:
            return run_start  # the first step never looked (cleared?): fall back to the run's start
        now = datetime.now(timezone.utc)
        ti.xcom_push(key=ANCHOR_KEY, value=now.isoformat())
        return now

    def _parent(self, context: Context) -> Parent | None:
        if self.parent_task_id is None:
            return None
        ti = context["ti"]
        step, task = self.rules.step - 1, self.parent_task_id.partition("__")[2]
        states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id], task_ids=[self.parent_task_id])
        state = (states.get(ti.run_id) or {}).get(self.parent_task_id)
        view = step_view_in_task(ti, step, task, state, self.log)
        return Parent(step, task, view["status"], view.get("reason"), view.get("origin"))

    def _target_paused(self, ti: Any) -> str | None:
        """Why the task's DAG counts as paused (the step then fails at once), or ``None``.

        A run triggered on a paused DAG stays queued forever, so the step would wait without end.
        Airflow 3.2+ tells task code the DAG's pause state (``ti.get_dag``), which decides. Airflow
        3.1 does not: there the task's definition decides (``enabled: false``, the DAG created
        paused), and the log says that a pause made in Airflow alone is not seen.
        """
        task = self.trigger_dag_id
        get_dag = getattr(ti, "get_dag", None)  # Airflow 3.2+
        if get_dag is not None:
            try:
                if get_dag(task).is_paused:
                    return f"the DAG of task `{task}` is paused in Airflow"
                return None
            except Exception as exc:  # noqa: BLE001 - the trigger itself reports a missing DAG
                self.log.warning("could not read the state of DAG %s: %s", task, exc)
        if not self.rules.task_enabled:
            return f"task `{task}` is disabled (enabled: false): its DAG is paused in Airflow"
        if get_dag is None:
            self.log.warning(
                "This Airflow gives task code no way to read whether DAG %s is paused (Airflow 3.2 does): only "
                "its definition's `enabled` is checked, and a run of a DAG paused in Airflow waits until it "
                "is unpaused",
                task,
            )
        return None

    def _record(self, context: Context, status: str, reason: str, **extra: Any) -> dict[str, Any]:
        now = datetime.now(timezone.utc)
        value = {
            "step": self.rules.step,
            "task": self.rules.task,
            "status": status,
            "reason": reason,
            "at": now.isoformat(),
            **extra,
        }
        context["ti"].xcom_push(key=OUTCOME_KEY, value=value)
        self.log.info("step %s `%s`: %s -- %s", self.rules.step, self.rules.task, status, reason)
        return value

    def _stop(self, context: Context, status: str, reason: str, **extra: Any) -> None:
        """Record the outcome, then end the step as skipped (not started) or failed."""
        from airflow_batchtasks.compat import AirflowFailException, AirflowSkipException

        self._record(context, status, reason, **extra)
        if status in (SKIPPED, CANCELLED):
            raise AirflowSkipException(reason)
        raise AirflowFailException(reason)


def _state(value: Any) -> str:
    """A state as its plain value: the task API answers with enums whose ``str()`` is ``DagRunState.X``."""
    return str(getattr(value, "value", value))


def partial_of_run(ti: Any, dag_id: str, run_id: str, log: Any) -> str | None:
    """PARTIAL if any task of the task run pushed ``partial: true`` (own key or return value)."""
    states = ti.get_task_states(dag_id=dag_id, run_ids=[run_id]).get(run_id) or {}
    values = []
    for task_id in sorted(states):
        for key in PARTIAL_KEYS:
            try:
                value = ti.xcom_pull(task_ids=task_id, dag_id=dag_id, run_id=run_id, key=key)
            except Exception as exc:  # noqa: BLE001 - an unreadable value is not a PARTIAL report
                log.warning("XCom %s of %s not readable: %s", key, task_id, exc)
                continue
            values.append((task_id, value))
    return partial_reason(values)


def step_view_in_task(ti: Any, step: int, task: str, ti_state: str | None, log: Any) -> dict[str, Any]:
    """:func:`step_view` of another step of this run, read through the task API (XCom, run states)."""
    outcome = ti.xcom_pull(task_ids=step_task_id(step, task), key=OUTCOME_KEY)
    outcome = outcome if isinstance(outcome, dict) else None
    run_state = partial = None
    if needs_task_run_state(outcome, ti_state):
        assert outcome is not None
        try:
            run_state = _state(ti.get_dagrun_state(dag_id=task, run_id=outcome["task_run_id"]))
        except Exception as exc:  # noqa: BLE001 - no such run: the step's own state stands
            log.warning("state of task run %s not readable: %s", outcome["task_run_id"], exc)
        if run_state == "success":
            partial = partial_of_run(ti, task, outcome["task_run_id"], log)
    return step_view(step, task, outcome, ti_state, task_run_state=run_state, task_run_partial=partial)


class OrchestrationReportOperator(BaseOperator):
    """The last task: sums the steps up; fails the DAG run when the instance failed.

    The DAG run's state is decided by its leaf task, so this task failing is what makes a
    stopped chain a failed instance while the steps that never started stay *skipped*.
    """

    ui_color = "#f0f0f0"

    def __init__(self, *, orchestration: str, steps: list[tuple[int, str]], **kwargs: Any) -> None:
        kwargs.setdefault("task_id", REPORT_TASK_ID)
        super().__init__(retries=0, trigger_rule="all_done", **kwargs)
        self.orchestration = orchestration
        self.steps = steps

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_batchtasks.compat import AirflowFailException

        ti = context["ti"]
        states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id]).get(ti.run_id) or {}
        views = []
        for step, task in self.steps:
            views.append(step_view_in_task(ti, step, task, states.get(step_task_id(step, task)), self.log))
        status, reason = summarize(views)
        for view in views:
            self.log.info("step %s %-30s %-9s %s", view["step"], view["task"], view["status"], view.get("reason"))
        self.log.info("orchestration `%s`: %s%s", self.orchestration, status, f" -- {reason}" if reason else "")
        if status == FAILED:
            raise AirflowFailException(f"orchestration instance FAILED: {reason}")
        return {"status": status, "reason": reason}


__all__ = ["OrchestrationReportOperator", "OrchestrationStepOperator"]
