"""Deliver step: archive each packaged file, then put it at every destination.

The archive copy and its record are written first, so a file that reached a
vendor is always in the file history. The record lists each destination as it
is done; a retry skips the destinations that already hold this exact file
(same md5), so retrying a half-failed delivery neither duplicates nor trips
over ``overwrite: false`` on the destinations that succeeded.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from airflow_batchtasks.compat import AirflowFailException
from airflow_batchtasks.operators.base import BatchStepOperator, storage_path
from airflow_batchtasks.operators.destinations import DestinationExists, open_destination
from airflow_batchtasks.storage.paths import archive_dir
from airflow_batchtasks.storage.records import FileRecord, copy_file, read_record, write_record


def destination_key(spec: dict[str, Any]) -> str:
    return f"{spec['type']}:{spec.get('conn_id') or ''}:{spec['path']}"


class DeliverOperator(BatchStepOperator):
    """Archive the packaged files and deliver them.

    :param destinations: the definition's destinations (``type``, ``conn_id``, ``path``,
        ``overwrite``, ``skip_empty``); paths are templated
    """

    template_fields: Sequence[str] = ("destinations",)
    ui_color = "#d4f5d4"

    def __init__(self, *, destinations: list[dict[str, Any]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.destinations = destinations

    def execute(self, context: Any) -> list[dict[str, Any]]:
        files: list[dict[str, Any]] = context["ti"].xcom_pull(task_ids="package") or []
        run_id = context["run_id"]
        delivered = []
        for item in files:
            src = storage_path(item["url"])
            archived = archive_dir(self.dag_id, run_id) / item["md5"][:12] / item["name"]
            record = read_record(archived)
            if record is None:
                copy_file(src, archived)
                record = FileRecord(item["name"], item["size"], item["md5"], self.batch_task, run_id, item.get("rows"))
                write_record(archived, record)
            for spec in self.destinations:
                self._deliver(src, item, spec, record, archived)
            delivered.append({**item, "archive": str(archived)})
        return delivered

    def _deliver(self, src: Any, item: dict[str, Any], spec: dict[str, Any], record: FileRecord, archived: Any) -> None:
        key = destination_key(spec)
        where = f"{spec['type']} {spec.get('conn_id') or ''} {spec['path']}".replace("  ", " ")
        if spec.get("skip_empty") and item.get("rows") == 0:
            self.log.info("%s has no data rows: not sent to %s (skip_empty)", item["name"], where)
            return
        if record.delivered_to(key, item["md5"]):
            self.log.info("%s already delivered to %s by an earlier try", item["name"], where)
            return
        destination = open_destination(spec)
        try:
            with src.open("rb") as fh:
                final = destination.put(fh, item["name"], bool(spec.get("overwrite", True)))
        except DestinationExists as exc:
            raise AirflowFailException(str(exc)) from exc
        finally:
            destination.close()
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
