"""The ``project__<name>`` DAG: the project's enabled tasks by run_rank then name, in series or all at once.

Each step triggers the task's own DAG and waits for it (deferred, so no worker
slot is held while waiting), so every run is still visible, retried and
archived under the task's own DAG
(:class:`~airflow_batchtasks.operators.project_series.ProjectTaskRunOperator`).

- ``run_in_series: true``: one task after the other. A failed or skipped task does
  not stop the series (each step's trigger rule is ``all_done``).
- ``run_in_series: false`` (a project with only a schedule): every task is triggered
  at once and the project run waits for all of them.

A task whose DAG is paused when its step starts is skipped with the reason; tasks
with ``enabled: false`` are not steps at all and the report lists them as not in the
series. The final ``series_result`` step (trigger rule ``all_done``) names what failed
or was skipped and why, and fails the project run if any task failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from airflow.sdk import DAG

from airflow_batchtasks import config
from airflow_batchtasks.dag_factory.access_control import access_control
from airflow_batchtasks.dag_factory.docs import definition_doc
from airflow_batchtasks.dag_factory.schedules import airflow_schedule
from airflow_batchtasks.definitions.catalog import Entry
from airflow_batchtasks.definitions.models import Project, Task
from airflow_batchtasks.naming import TAG, owner_tag, project_dag_id, project_tag


def build_project_dag(entry: Entry, tasks: list[Task], excluded: Mapping[str, str] | None = None) -> DAG:
    """The project's DAG over ``tasks`` (enabled, in series order); ``excluded``: the project's other tasks
    and why they are left out, for the series report."""
    from airflow_batchtasks.operators.project_series import ProjectTaskRunOperator, SeriesResultOperator, step_id

    project: Project = entry.model
    schedule, start_date = airflow_schedule(project.schedule, project.timezone)
    dag = DAG(
        dag_id=project_dag_id(project.name),
        description=project.description or None,
        schedule=schedule,
        start_date=start_date,
        catchup=False,
        max_active_runs=1,
        max_active_tasks=max(16, len(tasks) + 1),  # all at once means all at once, beyond Airflow's default 16
        tags=[TAG, project_tag(project.name), *(owner_tag(o) for o in project.owners)],
        default_args={"owner": ",".join(project.owners) or "airflow"},
        doc_md=definition_doc(f"Project `{project.name}`", project.description, entry.doc),
        access_control=access_control(project.access),
        # never wait forever for a task's run that cannot start (a DAG paused in Airflow, on 3.1): see
        # config.project_run_timeout_minutes and plugins.listeners (the report of a run that hit the limit)
        dagrun_timeout=timedelta(minutes=config.project_run_timeout_minutes()),
    )
    with dag:
        previous = None
        steps = []
        for task in tasks:
            step = ProjectTaskRunOperator(
                task_id=step_id(task.name),
                trigger_dag_id=task.name,
                trigger_run_id=f"{{{{ run_id }}}}__{task.name}",
                wait_for_completion=True,
                deferrable=True,
                poke_interval=5,
                allowed_states=["success"],
                failed_states=["failed"],
                trigger_rule="all_done",
            )
            if project.run_in_series and previous is not None:
                previous >> step
            previous = step
            steps.append(step)
        steps >> SeriesResultOperator(
            task_id="series_result", tasks=[t.name for t in tasks], excluded=excluded, trigger_rule="all_done",
        )
    return dag
