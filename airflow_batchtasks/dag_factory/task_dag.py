"""One Airflow DAG per batch task: extract -> package -> deliver, each a separate Airflow task.

Separate tasks mean a failed upload retries without re-running the query, and
the grid shows which step failed. Only the task's definition goes in; project
defaults are already merged by the catalog.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow.sdk import DAG, Param

from airflow_batchtasks.dag_factory.access_control import access_control
from airflow_batchtasks.dag_factory.docs import definition_doc
from airflow_batchtasks.dag_factory.schedules import airflow_schedule
from airflow_batchtasks.definitions.catalog import Entry
from airflow_batchtasks.definitions.date_helpers import FILTERS, MACROS
from airflow_batchtasks.definitions.models import ParamSpec, Task
from airflow_batchtasks.naming import TAG, owner_tag, project_tag


def _param(spec: ParamSpec) -> Param:
    kwargs: dict[str, Any] = {}
    if spec.description:
        kwargs["description"] = spec.description
    if spec.type:
        kwargs["type"] = spec.type if spec.required else [spec.type, "null"]
    if spec.enum:
        kwargs["enum"] = spec.enum
    return Param(spec.default, **kwargs)


def exponential_backoff(enabled: bool) -> Any:
    """``retry_exponential_backoff`` as this Airflow takes it.

    Earlier Airflow 3 releases take a bool (the delay doubles); 3.3 takes a float multiplier where
    ``True`` counts as 1.0, i.e. no backoff at all. 2.0 (doubling) is what ``exponential: true`` means.
    """
    from airflow.sdk import BaseOperator

    if isinstance(BaseOperator.retry_exponential_backoff, bool):
        return enabled
    return 2.0 if enabled else 0


def dag_tags(task: Task, owners: list[str]) -> list[str]:
    tags = [TAG]
    if task.project:
        tags.append(project_tag(task.project))
    tags.extend(owner_tag(o) for o in owners)
    return tags


def build_task_dag(entry: Entry, owners: list[str], destinations_of: Mapping[str, Sequence[Any]] | None = None) -> DAG:
    """The DAG of one batch task (DAG id = task name); ``destinations_of`` for ``schedule: {after: [...]}``."""
    from airflow_batchtasks.dag_factory import steps

    task: Task = entry.model
    schedule, start_date = airflow_schedule(task.schedule if task.enabled else None, task.timezone or "UTC",
                                            destinations_of)
    retries = task.retries
    default_args: dict[str, Any] = {
        "owner": ",".join(owners) or "airflow",
        "retries": retries.count,
        "retry_delay": retries.delay,
        "retry_exponential_backoff": exponential_backoff(retries.exponential),
    }
    if retries.max_delay is not None:
        default_args["max_retry_delay"] = retries.max_delay
    dag = DAG(
        dag_id=task.name,
        description=(task.description or None),
        schedule=schedule,
        start_date=start_date,
        catchup=False,
        max_active_runs=1,
        tags=dag_tags(task, owners),
        params={name: _param(spec) for name, spec in task.params.items()},
        default_args=default_args,
        doc_md=definition_doc(f"Batch task `{task.name}`", task.description, entry.doc),
        is_paused_upon_creation=not task.enabled,
        user_defined_macros=MACROS,
        user_defined_filters=FILTERS,
        access_control=access_control(task.access),
    )
    with dag:
        steps.build_pipeline(task)
    return dag
