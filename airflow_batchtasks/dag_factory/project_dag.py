"""The ``project__<name>`` DAG: the project's enabled tasks, one after another by run_rank then name.

Each step triggers the task's own DAG and waits for it (deferred, so no worker
slot is held while waiting), so every run is still visible, retried and
archived under the task's own DAG. A failed task does not stop the series;
a final ``series_result`` step (all_success on every step) fails
the project run if any task failed.
"""

from __future__ import annotations

from airflow.sdk import DAG

from airflow_batchtasks.dag_factory.access_control import access_control
from airflow_batchtasks.dag_factory.docs import definition_doc
from airflow_batchtasks.dag_factory.schedules import airflow_schedule
from airflow_batchtasks.definitions.catalog import Entry
from airflow_batchtasks.definitions.models import Project, Task
from airflow_batchtasks.naming import TAG, owner_tag, project_dag_id, project_tag


def build_project_dag(entry: Entry, tasks: list[Task]) -> DAG:
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator

    project: Project = entry.model
    schedule, start_date = airflow_schedule(project.schedule, project.timezone)
    dag = DAG(
        dag_id=project_dag_id(project.name),
        description=project.description or None,
        schedule=schedule,
        start_date=start_date,
        catchup=False,
        max_active_runs=1,
        tags=[TAG, project_tag(project.name), *(owner_tag(o) for o in project.owners)],
        default_args={"owner": ",".join(project.owners) or "airflow"},
        doc_md=definition_doc(f"Project `{project.name}`", project.description, entry.doc),
        access_control=access_control(project.access),
    )
    with dag:
        previous = None
        steps = []
        for task in tasks:
            step = TriggerDagRunOperator(
                task_id=f"run_{task.name}",
                trigger_dag_id=task.name,
                trigger_run_id=f"{{{{ run_id }}}}__{task.name}",
                wait_for_completion=True,
                deferrable=True,
                poke_interval=5,
                allowed_states=["success"],
                failed_states=["failed"],
                trigger_rule="all_done",
            )
            if previous is not None:
                previous >> step
            previous = step
            steps.append(step)
        steps >> EmptyOperator(task_id="series_result", trigger_rule="all_success")
    return dag
