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
        query_from=source.query_from.model_dump() if source.query_from else None,
        output_name=task.output.name or default_output_name(task),
        output_format=task.output.model_dump(),
        include_headers=source.include_headers,
        require_rows=source.require_rows,
    )


# Setting any of these in `output` asks for a reformat; a file source without them keeps its bytes.
REFORMAT_KEYS = {"format", "delimiter", "quoting", "line_terminator", "line_suffix", "encoding"}


def file_output_format(task: Task) -> str:
    """``keep`` unless the definition sets an output format or dialect: moved files stay as they are."""
    if task.output.format == "keep" or not (REFORMAT_KEYS & task.output.model_fields_set):
        return "keep"
    return task.output.format


def _file_extract(task: Task) -> Any:
    from airflow_batchtasks.operators.remote_file import FileExtractOperator

    source = task.source
    return FileExtractOperator(
        task_id="extract",
        batch_task=task.name,
        location=source.location.model_dump(),
        input_format=source.input.model_dump() if source.input else None,
        output_format={**task.output.model_dump(), "format": file_output_format(task)},
        output_name=task.output.name,
    )


EXTRACTORS: dict[str, Callable[[Task], Any]] = {
    "sql": _sql_extract,
    "file": _file_extract,
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
