"""One DAG per orchestration (DAG id = its name): ``step_1__<task>`` >> ... >> ``report``.

Steps are chained one after another with ``all_done`` so each runs after its
parent whatever happened, to decide (and record) itself whether it starts; the
chain can never run two steps in parallel. ``max_active_runs=1``: a second
launch waits (queued) for the running instance, so two instances never
interleave their steps on the same tasks.

``active: false``: the DAG is created paused, has no schedule, and a run started
anyway (UI, API) does nothing: its first step is skipped with "orchestration is
inactive" and the run fails.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow.sdk import DAG

from airflow_batchtasks.dag_factory.access_control import access_control
from airflow_batchtasks.dag_factory.docs import definition_doc
from airflow_batchtasks.dag_factory.schedules import airflow_schedule
from airflow_batchtasks.definitions.catalog import Entry
from airflow_batchtasks.definitions.models import Orchestration
from airflow_batchtasks.naming import ORCHESTRATION_TAG, TAG
from airflow_batchtasks.orchestration.rules import Limits, StepRules
from airflow_batchtasks.orchestration.status import step_task_id


def limits_of(orch: Orchestration) -> Limits:
    return Limits(
        active=orch.active,
        timezone=orch.timezone,
        time_limit=orch.execution_time_limit,
        duration_limit=orch.execution_duration_limit,
    )


def step_rules(orch: Orchestration, disabled_tasks: frozenset[str] = frozenset()) -> list[StepRules]:
    """The steps in chain order; a step without a time zone uses the orchestration's."""
    return [
        StepRules(
            step=i,
            task=s.task,
            starts_after=s.starts_after,
            timezone=s.timezone or orch.timezone,
            run_on_parent_failure=s.run_on_parent_failure,
            task_enabled=s.task not in disabled_tasks,
        )
        for i, s in enumerate(orch.steps, start=1)
    ]


def build_orchestration_dag(
    entry: Entry, disabled_tasks: frozenset[str] = frozenset(),
    destinations_of: Mapping[str, Sequence[Any]] | None = None,
) -> DAG:
    """The orchestration's DAG; ``disabled_tasks``: tasks whose definition says ``enabled: false``;
    ``destinations_of``: task name -> destinations, for ``schedule: {after: [...]}``."""
    from airflow_batchtasks.operators.orchestration import OrchestrationReportOperator, OrchestrationStepOperator

    orch: Orchestration = entry.model
    schedule, start_date = airflow_schedule(orch.schedule if orch.active else None, orch.timezone, destinations_of)
    dag = DAG(
        dag_id=orch.name,
        description=orch.description or None,
        schedule=schedule,
        start_date=start_date,
        catchup=False,
        max_active_runs=1,
        tags=[TAG, ORCHESTRATION_TAG],
        doc_md=definition_doc(f"Orchestration `{orch.name}`", orch.description, entry.doc),
        is_paused_upon_creation=not orch.active,
        access_control=access_control(orch.access),
    )
    limits = limits_of(orch)
    rules = step_rules(orch, disabled_tasks)
    with dag:
        previous = None
        for step in rules:
            op = OrchestrationStepOperator(
                orchestration=orch.name,
                rules=step,
                limits=limits,
                parent_task_id=previous.task_id if previous else None,
                first_task_id=step_task_id(1, rules[0].task),
            )
            if previous is not None:
                previous >> op
            previous = op
        report = OrchestrationReportOperator(orchestration=orch.name, steps=[(r.step, r.task) for r in rules])
        if previous is not None:
            previous >> report
    return dag
