"""The Airflow tasks of a batch task's pipeline, one builder per step.

``extract -> [process] -> package -> deliver [-> notify]``. Each builder maps
the definition onto one operator's arguments; operators never see the YAML
models. Extract builders are looked up by source type in ``EXTRACTORS``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airflow_batchtasks.definitions.models import Task


def default_output_name(task: Task) -> str:
    suffix = {"tsv": "tsv", "pipe": "txt"}.get(task.output.format, "csv")
    return f"{task.name}_{{{{ ds_nodash }}}}.{suffix}"


def _sql_extract(task: Task) -> Any:
    from airflow_batchtasks.operators.sql import SqlExtractOperator

    source = task.source
    return SqlExtractOperator(
        task_id="extract",
        batch_task=task.name,
        conn_id=source.conn_id,
        query=source.query,
        output_name=task.output.name or default_output_name(task),
        output_format=task.output.model_dump(),
        include_headers=source.include_headers,
        require_rows=source.require_rows,
    )


EXTRACTORS: dict[str, Callable[[Task], Any]] = {
    "sql": _sql_extract,
}


def extract_step(task: Task) -> Any:
    return EXTRACTORS[task.source.type](task)


def package_step(task: Task) -> Any:
    from airflow_batchtasks.operators.package import PackageOperator

    zip_spec = task.output.zip
    skip_all = bool(task.destinations) and all(d.skip_empty for d in task.destinations)
    return PackageOperator(
        task_id="package",
        batch_task=task.name,
        zip_name=(zip_spec.name or f"{task.name}_{{{{ ds_nodash }}}}.zip") if zip_spec else None,
        skip_empty_zip=skip_all,
    )


def deliver_step(task: Task) -> Any:
    from airflow_batchtasks.operators.deliver import DeliverOperator

    return DeliverOperator(
        task_id="deliver",
        batch_task=task.name,
        destinations=[d.model_dump() for d in task.destinations],
    )


def build_pipeline(task: Task) -> list[Any]:
    """Create the step operators inside the current DAG context and chain them; returns them in order."""
    pipeline = [extract_step(task), package_step(task), deliver_step(task)]
    for upstream, downstream in zip(pipeline, pipeline[1:], strict=False):
        upstream >> downstream
    return pipeline
