"""The resend DAGs: where "send this archived file again" runs, one DAG per deliver queue.

A resend puts a file on vendor servers, so it must run where deliveries run
(a worker that can reach them, with its identity), never in the API server.
The API queues a run of the resend DAG of the task's deliver queue
(``queues.deliver``, else ``queue``, else Airflow's default) with the file and
the caller in its conf; the run's one step (:class:`~airflow_batchtasks.operators.resend.ResendOperator`)
goes to that queue. Tasks sharing a queue share a DAG, so a deployment gets
one resend DAG per distinct deliver queue: usually one. Its runs go one at a
time (later requests wait queued), so two resends of one file never rewrite
its record at once.

The DAGs are not tagged ``batchtasks`` (they are not batch tasks: no task list,
no status) but ``batchtasks:resend``; they are never scheduled and start unpaused
so a resend queued through the API runs without a manual unpause.
"""

from __future__ import annotations

from typing import Any

from airflow_batchtasks.dag_factory.schedules import EPOCH
from airflow_batchtasks.definitions.catalog import Catalog
from airflow_batchtasks.naming import RESEND_TAG, resend_dag_id

STEP_ID = "resend"


def resend_queues(catalog: Catalog) -> dict[str, str | None]:
    """DAG id -> queue, for every deliver queue of a task that has destinations."""
    return {
        resend_dag_id(entry.model.queue_of("deliver")): entry.model.queue_of("deliver")
        for entry in catalog.tasks.values()
        if entry.model.destinations
    }


def build_resend_dag(dag_id: str, queue: str | None) -> Any:
    from airflow.sdk import DAG

    from airflow_batchtasks.operators.resend import ResendOperator

    where = f"queue `{queue}`" if queue else "Airflow's default queue"
    dag = DAG(
        dag_id=dag_id,
        description=f"Batch Tasks: resends of archived files, on {where}",
        schedule=None,
        start_date=EPOCH,
        catchup=False,
        tags=[RESEND_TAG],
        doc_md=(
            "### Batch Tasks resends\n\n"
            f"Each run sends one archived file again to its task's current destinations, on {where} "
            "(the deliver queue of the tasks it serves). Runs are queued by the Batch Tasks API and UI "
            "(`POST /batchtasks/api/v1/tasks/{name}/files/{file_id}/resend`), which check the caller's "
            "right on the task first; the outcome is appended to the file's record in the archive."
        ),
        is_paused_upon_creation=False,
        # one resend at a time per queue: two resends of one file never rewrite its record at once
        max_active_runs=1,
        default_args={"retries": 0},
    )
    with dag:
        step = ResendOperator(task_id=STEP_ID)
        if queue:
            step.queue = queue
    return dag
