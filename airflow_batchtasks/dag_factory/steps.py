"""The Airflow tasks of a batch task's pipeline, one builder per step.

``extract -> [process] -> package -> deliver [-> notify]``, ``notify`` being a teardown. Each builder maps
the definition onto one operator's arguments; operators never see the YAML
models. Extract builders are looked up by source type in ``EXTRACTORS``.
Sources without an output file (ssh, http without ``keep_response``) stop
after ``extract``: empty package/deliver steps would only clutter the grid.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airflow_batchtasks.assets.declared import delivery_outlets, source_inlets
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
    from airflow_batchtasks.operators.file import FileExtractOperator

    source = task.source
    return FileExtractOperator(
        task_id="extract",
        batch_task=task.name,
        location=source.location.model_dump(),
        input_format=source.input.model_dump() if source.input else None,
        output_format={**task.output.model_dump(), "format": file_output_format(task)},
        output_name=task.output.name,
        inlets=source_inlets(source.location.model_dump()),
    )


def _ssh_extract(task: Task) -> Any:
    from airflow_batchtasks.operators.ssh import SshCommandOperator

    source = task.source
    return SshCommandOperator(
        task_id="extract",
        batch_task=task.name,
        conn_id=source.conn_id,
        command=source.command,
        command_from=source.command_from.model_dump() if source.command_from else None,
    )


def _http_extract(task: Task) -> Any:
    from airflow_batchtasks.operators.http import HttpCallOperator

    source = task.source
    return HttpCallOperator(
        task_id="extract",
        batch_task=task.name,
        conn_id=source.conn_id,
        endpoint=source.endpoint,
        method=source.method,
        json_body=source.json_body,
        data=source.data,
        headers=source.headers,
        expect_status=source.expect_status,
        keep_response=source.keep_response,
        output_name=task.output.name or f"{task.name}_{{{{ ds_nodash }}}}.json",
    )


# `python` has no extract: its script is the `process` step (see build_pipeline).
EXTRACTORS: dict[str, Callable[[Task], Any]] = {
    "sql": _sql_extract,
    "file": _file_extract,
    "ssh": _ssh_extract,
    "http": _http_extract,
}


def produces_file(task: Task) -> bool:
    """Whether the run has a file to package and deliver: not ssh commands, nor API calls whose answer is dropped."""
    source = task.source
    return not (source.type == "ssh" or (source.type == "http" and not source.keep_response))


def process_step(task: Task) -> Any:
    from airflow_batchtasks.operators.process import ProcessOperator

    processing = task.processing
    assert processing is not None
    return ProcessOperator(
        task_id="process",
        batch_task=task.name,
        script=processing.script,
        inline=processing.inline,
        location=processing.from_.model_dump() if processing.from_ else None,
        entrypoint=processing.entrypoint,
        requirements=processing.requirements,
        expose_connections=processing.expose_connections,
        connection_ids=task.connection_ids(include_notify=False),
        input_step=None if task.source.type == "python" else "extract",
        project=task.project,
        description=task.description,
        arg_names=list(task.params),
    )


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
        gpg=task.output.gpg.model_dump() if task.output.gpg else None,
    )


def deliver_step(task: Task) -> Any:
    from airflow_batchtasks.operators.deliver import DeliverOperator

    return DeliverOperator(
        task_id="deliver",
        batch_task=task.name,
        destinations=[d.model_dump() for d in task.destinations],
        outlets=delivery_outlets(task.name, task.destinations),
    )


def notify_step(task: Task) -> Any:
    """The ``notify`` teardown: runs once every step is done (after the last retry), whatever the outcome.

    A teardown does not count for the run's state (``DagRun._tis_for_dagrun_state`` skips it unless
    ``on_failure_fail_dagrun``), so a failed notification leaves a successful run successful.
    """
    from airflow_batchtasks.operators.notify import NotifyOperator

    notify = task.notify
    assert notify is not None
    return NotifyOperator(
        task_id="notify",
        batch_task=task.name,
        on_success=notify.on_success.model_dump() if notify.on_success else None,
        on_failure=notify.on_failure.model_dump() if notify.on_failure else None,
        encoding=task.output.encoding,
    ).as_teardown()


def build_pipeline(task: Task) -> list[Any]:
    """Create the step operators inside the current DAG context and chain them; returns them in order."""
    # A python source's script is its only producer: a `process` step, no empty `extract` in the grid.
    pipeline = [] if task.source.type == "python" else [extract_step(task)]
    if task.processing is not None:
        pipeline.append(process_step(task))
    if produces_file(task):
        pipeline += [package_step(task), deliver_step(task)]
    for upstream, downstream in zip(pipeline, pipeline[1:], strict=False):
        upstream >> downstream
    if task.notify is not None and (task.notify.on_success or task.notify.on_failure):
        notify = notify_step(task)
        pipeline >> notify  # every step upstream: notify waits until all are done
        pipeline.append(notify)
    assign_queues(task, pipeline)
    return pipeline


def assign_queues(task: Task, pipeline: list[Any]) -> None:
    """Route each step to its worker queue (``queues.<step>``, else ``queue``, else Airflow's default).

    Steps hand files over through staging on object storage, so any step may run on any worker; a queue
    pins a step to the workers that can reach its server (a vendor's SFTP behind a firewall, say).
    """
    for op in pipeline:
        queue = task.queue_of(op.task_id)
        if queue:
            op.queue = queue
