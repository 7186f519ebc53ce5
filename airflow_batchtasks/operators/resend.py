"""Resend: send an archived file again to its task's *current* destinations, on a worker.

The API server never uploads: it checks the caller's right on the task's DAG,
then queues a run of a small provider DAG (:mod:`airflow_batchtasks.dag_factory.resend_dag`,
one per deliver queue) whose only step is :class:`ResendOperator`. The step runs
where the task's deliver step runs (same queue, so the same network reach and
connections), and:

1. reads the file's record next to the archived copy and checks the copy's md5 and size
   against it (a damaged archive is never sent);
2. loads the task's definition as it is now, renders each destination path for the run that
   made the file (its date and arguments, passed by the API in the run's conf) and checks it
   stays inside the folder the definition names;
3. puts the file at each destination with the deliver step's own code (atomic temporary name
   + rename, the destination's ``overwrite``);
4. appends ``{at, by, run_id, destinations, outcome}`` to the record's ``resends``.

Workers cannot write Airflow's database, so the record in the archive is the only thing
written; the API's index picks the entry up when the run ends (see ``plugins/data/files.py``).
A refusal (damaged copy, a path that escapes) is recorded too, then fails the step without retry.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_batchtasks.compat import AirflowFailException
from airflow_batchtasks.operators.progress import CountingSource, Progress
from airflow_batchtasks.storage import resends
from airflow_batchtasks.storage.records import FileRecord, read_record, write_record
from airflow_batchtasks.storage.resends import CONF_KEYS, ResendRefused, archived_path, check_copy, destinations_of
from airflow_batchtasks.transports.destinations import (
    DestinationRefused,
    destination_key,
    put_file,
    rendered_destinations,
)

if TYPE_CHECKING:
    from airflow.sdk import Context


def current_destinations(task: str) -> list[dict[str, Any]]:
    """The destinations of ``task``'s definition as it is now (project defaults applied)."""
    from airflow_batchtasks import config
    from airflow_batchtasks.definitions.catalog import load_catalog

    folder = config.definitions_folder()
    entry = load_catalog(folder, only=task).tasks.get(task) or load_catalog(folder).tasks.get(task)
    return destinations_of(task, entry)


class ResendOperator(BaseOperator):
    """Send the archived file named by the run's conf to its task's current destinations.

    Everything comes from ``dag_run.conf`` (see :data:`CONF_KEYS`), written by the API after
    it checked the caller's right to resend this task's files.
    """

    template_fields: Sequence[str] = ()
    ui_color = "#d4e9f5"

    def execute(self, context: Context) -> dict[str, Any]:
        request_id = str((context["dag_run"].conf or {}).get("request") or "")
        conf = resends.take(request_id) if request_id else None
        missing = [k for k in CONF_KEYS if k not in (conf or {})]
        if conf is None or missing:
            raise AirflowFailException(
                f"no resend request `{request_id}` is waiting in the archive (already done, or the run was not "
                "queued by the Batch Tasks API or UI, which check the caller's right on the task)")
        try:
            archived = archived_path(str(conf["task"]), str(conf["archive_path"]))
        except ResendRefused as exc:
            raise AirflowFailException(str(exc)) from None
        record = read_record(archived)
        if record is None:
            raise AirflowFailException(f"the record of `{conf['archive_path']}` is missing from the archive")
        entry: dict[str, Any] = {
            "at": datetime.now(timezone.utc).isoformat(), "by": str(conf["requested_by"]),
            "run_id": context["run_id"], "dag_id": self.dag_id, "destinations": [],
        }
        try:
            check_copy(archived, record)
            destinations = rendered_destinations(current_destinations(str(conf["task"])), dict(conf["context"]))
        except (ResendRefused, DestinationRefused) as exc:
            entry["outcome"] = f"failed: {exc}"
            self._record(archived, record, entry)
            raise AirflowFailException(str(exc)) from None
        progress = Progress.of(context, "resend")
        for spec in destinations:
            result: dict[str, Any] = {"key": destination_key(spec), "type": spec["type"],
                                      "conn_id": spec.get("conn_id"), "path": spec["path"]}
            try:
                # bytes sent of the file's size, as a delivery shows them
                result["path"] = put_file(CountingSource(archived, record.size, progress), record.name, spec)
                result["outcome"] = "sent"
                self.log.info("Sent %s again to %s", record.name, result["path"])
            except Exception as exc:  # one failing destination must not stop the others
                result["outcome"] = f"failed: {type(exc).__name__}: {str(exc)[:300]}"
                self.log.error("Could not send %s to %s: %s", record.name, spec["path"], result["outcome"])
            entry["destinations"].append(result)
        failed = [r for r in entry["destinations"] if r["outcome"] != "sent"]
        entry["outcome"] = "sent" if not failed else ("failed" if len(failed) == len(destinations) else "partial")
        self._record(archived, record, entry)
        if failed:
            raise AirflowFailException(
                f"resend of `{record.name}` {entry['outcome']}: "
                + "; ".join(f"{r['type']} {r['path']}: {r['outcome']}" for r in failed)
            )
        return entry

    def _record(self, archived: Any, record: FileRecord, entry: dict[str, Any]) -> None:
        # re-read: a retry of the file's own deliver step may have added a destination meanwhile
        # and a cleared resend run replaces its own earlier entry instead of adding a second one
        record = read_record(archived) or record
        record.resends = [r for r in record.resends if r.get("run_id") != entry["run_id"]] + [entry]
        write_record(archived, record)
