"""Deliver step: archive each packaged file, then put it at every destination.

The archive copy and its record are written first, so a file that reached a
vendor is always in the file history. The record lists each destination as it
is done; a retry skips the destinations that already hold this exact file
(same md5), so retrying a half-failed delivery neither duplicates nor trips
over ``overwrite: false`` on the destinations that succeeded.

Destination paths are templates rendered with the run's arguments; before
anything is archived or sent, each rendered path is checked to stay inside
the folder its definition names and each file name to be a plain name
(:mod:`airflow_batchtasks.storage.paths`). A path that escapes fails the step
at once, without retry: the same arguments would escape again. The resend
run (:mod:`airflow_batchtasks.operators.resend`) puts files through the same
functions (:mod:`airflow_batchtasks.transports.destinations`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow_batchtasks.arguments.binding import ArgBinder, ArgumentTemplateError, first_argument_at
from airflow_batchtasks.assets.declared import delivery_alias_names
from airflow_batchtasks.assets.events import add_delivery_event
from airflow_batchtasks.compat import AirflowFailException
from airflow_batchtasks.lineage.steps import DeliverLineage
from airflow_batchtasks.operators.base import BatchStepOperator
from airflow_batchtasks.operators.progress import CountingSource, Progress
from airflow_batchtasks.storage.paths import (
    archived_file,
    storage_path,
)
from airflow_batchtasks.storage.records import FileRecord, copy_file, read_record, write_record
from airflow_batchtasks.transports.base import DestinationExists
from airflow_batchtasks.transports.destinations import (
    contained_destinations,
    describe_destination,
    destination_key,
    put_file,
)

if TYPE_CHECKING:
    from airflow.sdk import Context


def argument_folder(render: Any, template: str, rendered: str, context: Context, jinja_env: Any) -> str | None:
    """The folder a destination path names before run arguments come in: the path rendered with every run
    argument as a marker, up to the first one, cut after its last ``/``. Without any run argument the
    rendered path is the definition's own (Variables, dates...) and names itself. ``None`` when an
    argument went through a filter that left no trace: the literal rule of ``destination_folder`` applies.
    """
    binder = ArgBinder("kept inside the folder the destination names")
    try:
        text = str(render(template, binder.context(context), jinja_env))
    except ArgumentTemplateError:
        return None
    if not binder.values:
        return rendered
    start = first_argument_at(text)
    if start is None:
        return None
    literal = text[:start]
    cut = max(literal.rfind("/"), literal.rfind("\\"))
    return literal[: cut + 1] if cut >= 0 else ""


class DeliverOperator(DeliverLineage, BatchStepOperator):
    """Archive the packaged files and deliver them.

    :param destinations: the definition's destinations (``type``, ``conn_id``, ``path``,
        ``overwrite``, ``skip_empty``); paths are templated, and each rendered path must stay
        inside the folder its template names
    """

    template_fields: Sequence[str] = ("destinations",)
    ui_color = "#d4f5d4"

    def __init__(self, *, destinations: list[dict[str, Any]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.destinations = destinations
        # kept apart from the templated field: the check compares each rendered path with its template
        self.path_templates = [d["path"] for d in destinations]
        # the aliases the DAG declared as outlets (assets.declared): one per destination, same order
        self.asset_aliases = delivery_alias_names(self.batch_task, destinations)

    def execute(self, context: Context) -> list[dict[str, Any]]:
        files: list[dict[str, Any]] = context["ti"].xcom_pull(task_ids="package") or []
        run_id = context["run_id"]
        # PathEscapes is an AirflowFailException: an escaping path fails the step without retry
        env = self.get_template_env()
        folders = [argument_folder(self.render_template, template, spec["path"], context, env)
                   for template, spec in zip(self.path_templates, self.destinations, strict=True)]
        destinations = contained_destinations(self.path_templates, self.destinations, folders)
        self._progress = Progress.of(context, "deliver")
        targets = [archived_file(self.dag_id, run_id, item["md5"], item["name"]) for item in files]
        delivered = []
        for item, archived in zip(files, targets, strict=True):
            src = storage_path(item["url"])
            record = read_record(archived)
            if record is None:
                copy_file(src, archived)
                record = FileRecord(item["name"], item["size"], item["md5"], self.batch_task, run_id, item.get("rows"))
                write_record(archived, record)
            for alias, spec in zip(self.asset_aliases, destinations, strict=True):
                if self._deliver(src, item, spec, record, archived):
                    add_delivery_event(context, alias, spec, item["name"], record)
            delivered.append({**item, "archive": str(archived)})
        return delivered

    def _deliver(self, src: Any, item: dict[str, Any], spec: dict[str, Any], record: FileRecord, archived: Any) -> bool:
        """Put the file at ``spec`` unless an earlier try did; False when ``skip_empty`` left it out."""
        key = destination_key(spec)
        where = describe_destination(spec)
        if spec.get("skip_empty") and item.get("rows") == 0:
            self.log.info("%s has no data rows: not sent to %s (skip_empty)", item["name"], where)
            return False
        if record.delivered_to(key, item["md5"]):
            self.log.info("%s already delivered to %s by an earlier try", item["name"], where)
            return True
        try:
            final = put_file(CountingSource(src, item.get("size"), self._progress), item["name"], spec)
        except DestinationExists as exc:
            raise AirflowFailException(str(exc)) from exc
        self.log.info("Delivered %s to %s", item["name"], final)
        record.destinations.append(
            {
                "key": key,
                "type": spec["type"],
                "conn_id": spec.get("conn_id"),
                "path": final,
                "md5": item["md5"],
                "delivered_at": datetime.now(timezone.utc).isoformat(),
            }
        )
        write_record(archived, record)
        return True
