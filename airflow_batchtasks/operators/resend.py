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
from typing import Any

from airflow.sdk import BaseOperator
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from airflow_batchtasks.compat import AirflowFailException
from airflow_batchtasks.definitions.date_helpers import FILTERS, MACROS
from airflow_batchtasks.operators.deliver import contained_destinations, destination_key, put_file
from airflow_batchtasks.storage import resend_requests
from airflow_batchtasks.storage.paths import PathEscapes, archive_root, archive_segment, check_within, legacy_segments
from airflow_batchtasks.storage.records import FileRecord, md5_of, read_record, write_record

#: Keys of a stored resend request (written by the API, read here; the run's conf holds only its id).
CONF_KEYS = ("task", "file_id", "archive_path", "requested_by", "context")


class ResendRefused(Exception):
    """The resend cannot be done as asked: the reason is shown to the user and recorded."""


def render_path(path: str, context: dict[str, Any]) -> str:
    """A destination path template rendered for a past run (sandboxed, undefined names are errors).

    :raises jinja2.TemplateError: the template cannot be rendered with this context
    """
    if "{{" not in path and "{%" not in path:
        return path
    env = SandboxedEnvironment(undefined=StrictUndefined)
    env.filters.update(FILTERS)
    return env.from_string(path).render(**{**context, **MACROS})


def rendered_destinations(destinations: list[dict[str, Any]], context: dict[str, Any]) -> list[dict[str, Any]]:
    """The task's destinations rendered for the file's run, each checked to stay inside its folder.

    :raises ResendRefused: a path cannot be rendered or leaves its folder
    """
    from jinja2 import TemplateError

    rendered = []
    for index, spec in enumerate(destinations):
        try:
            rendered.append({**spec, "path": render_path(spec["path"], context)})
        except TemplateError as exc:
            raise ResendRefused(f"destinations[{index}].path `{spec['path']}` cannot be rendered for this run: "
                                f"{exc}") from None
    try:
        return contained_destinations([d["path"] for d in destinations], rendered)
    except PathEscapes as exc:
        raise ResendRefused(str(exc)) from None


def archived_path(task: str, rel: str) -> Any:
    """The archived file ``rel`` (relative to the archive root), refused unless it is under ``task``'s folder."""
    root = archive_root()
    folders = [archive_segment(task), *legacy_segments(task)]
    if ".." in rel.split("/") or not any(rel.startswith(f"{folder}/") for folder in folders):
        raise ResendRefused(f"`{rel}` is not a file of task `{task}` in the archive")
    path = root / rel
    check_within(root.path, path.path, "archive")
    return path


def current_destinations(task: str) -> list[dict[str, Any]]:
    """The destinations of ``task``'s definition as it is now (project defaults applied)."""
    from airflow_batchtasks import config
    from airflow_batchtasks.definitions.catalog import load_catalog

    folder = config.definitions_folder()
    entry = load_catalog(folder, only=task).tasks.get(task) or load_catalog(folder).tasks.get(task)
    return destinations_of(task, entry)


def destinations_of(task: str, entry: Any) -> list[dict[str, Any]]:
    """The destinations of ``task``'s catalog ``entry``; refused when it has none or no valid definition
    (asked by the API before queueing and by the run itself, the definition may change in between)."""
    if entry is None:
        raise ResendRefused(f"task `{task}` has no valid definition: its current destinations are unknown")
    if not entry.model.destinations:
        raise ResendRefused(f"task `{task}` has no destinations to resend to")
    return [d.model_dump() for d in entry.model.destinations]


def check_copy(archived: Any, record: FileRecord) -> None:
    size, md5 = md5_of(archived)
    if md5 != record.md5 or size != record.size:
        raise ResendRefused(
            f"archived `{record.name}` is damaged: md5 {md5} ({size} bytes) does not match the recorded "
            f"{record.md5} ({record.size} bytes); nothing was sent"
        )


class ResendOperator(BaseOperator):
    """Send the archived file named by the run's conf to its task's current destinations.

    Everything comes from ``dag_run.conf`` (see :data:`CONF_KEYS`), written by the API after
    it checked the caller's right to resend this task's files.
    """

    template_fields: Sequence[str] = ()
    ui_color = "#d4e9f5"

    def execute(self, context: Any) -> dict[str, Any]:
        request_id = str((context["dag_run"].conf or {}).get("request") or "")
        conf = resend_requests.take(request_id) if request_id else None
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
        except ResendRefused as exc:
            entry["outcome"] = f"failed: {exc}"
            self._record(archived, record, entry)
            raise AirflowFailException(str(exc)) from None
        for spec in destinations:
            result: dict[str, Any] = {"key": destination_key(spec), "type": spec["type"],
                                      "conn_id": spec.get("conn_id"), "path": spec["path"]}
            try:
                result["path"] = put_file(archived, record.name, spec)
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
