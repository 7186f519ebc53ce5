"""Resend an archived file to the task's *current* destinations (Atlas Hub's "resend").

The archived copy is checked against its recorded md5 first, so a damaged
archive is never sent. Delivery reuses the deliver step's own code
(``open_destination``: atomic temporary name + rename, the destination's
``overwrite`` setting) and the outcome is appended to the file's record
(``resends``: at, by, destinations, outcome) and to the index. The upload runs
in the API server process, which therefore needs the same network access and
connections as the workers (connections are read through Airflow's hooks).

Destination paths may be templates; they are rendered for the run that made
the file (``ds``, ``ds_nodash``, ``run_id``, ``params``/``dag_run.conf`` and
the date helpers), so a path like ``/in/{{ ds_nodash }}`` lands where the
original delivery went.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow.models.dagrun import DagRun
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import select

from airflow_batchtasks.definitions.date_helpers import FILTERS, MACROS
from airflow_batchtasks.operators.deliver import destination_key
from airflow_batchtasks.operators.destinations import open_destination
from airflow_batchtasks.plugins.data import catalog_cache, files
from airflow_batchtasks.plugins.data.errors import Conflict, DataError
from airflow_batchtasks.plugins.data.models import FileInfo
from airflow_batchtasks.storage.records import md5_of, read_record, write_record

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


class DeliveryFailed(DataError):
    """Every or some destination refused the file; the record still holds the attempt."""

    status_code = 502


def _context(session: Session, task: str, run_id: str, defaults: dict[str, Any]) -> dict[str, Any]:
    run = session.scalar(select(DagRun).where(DagRun.dag_id == task, DagRun.run_id == run_id))
    when = (run.logical_date or run.run_after) if run is not None else datetime.now(timezone.utc)
    conf = dict(run.conf or {}) if run is not None else {}
    ds = when.strftime("%Y-%m-%d")
    return {
        "ds": ds,
        "ds_nodash": ds.replace("-", ""),
        "ts": when.isoformat(),
        "run_id": run_id,
        "params": {**defaults, **conf},
        "dag_run": {"run_id": run_id, "conf": conf},
        **MACROS,
    }


def render_path(path: str, context: dict[str, Any]) -> str:
    if "{{" not in path and "{%" not in path:
        return path
    env = SandboxedEnvironment(undefined=StrictUndefined)
    env.filters.update(FILTERS)
    try:
        return env.from_string(path).render(**context)
    except TemplateError as exc:
        raise Conflict(f"destination path `{path}` cannot be rendered for this run: {exc}") from None


def resend(session: Session, task: str, fid: str, user: str) -> FileInfo:
    """Send file ``fid`` of ``task`` again; returns the updated file (with the new ``resends`` entry)."""
    info, archived = files.get_file(session, task, fid)
    record = read_record(archived)
    if record is None:
        raise Conflict(f"the record of `{info.name}` is missing from the archive")
    size, md5 = md5_of(archived)
    if md5 != record.md5 or size != record.size:
        raise Conflict(
            f"archived `{info.name}` is damaged: md5 {md5} ({size} bytes) does not match the recorded "
            f"{record.md5} ({record.size} bytes); nothing was sent"
        )
    entry = catalog_cache.get_catalog().tasks.get(task)
    if entry is None:
        raise Conflict(f"task `{task}` has no valid definition: its current destinations are unknown")
    destinations = [d.model_dump() for d in entry.model.destinations]
    if not destinations:
        raise Conflict(f"task `{task}` has no destinations to resend to")
    defaults = {k: p.default for k, p in entry.model.params.items()}
    context = _context(session, task, info.run_id, defaults)
    sent = []
    for spec in destinations:
        spec = {**spec, "path": render_path(spec["path"], context)}
        result: dict[str, Any] = {"key": destination_key(spec), "type": spec["type"], "conn_id": spec.get("conn_id")}
        try:
            destination = open_destination(spec)
            try:
                with archived.open("rb") as fh:
                    result["path"] = destination.put(fh, record.name, bool(spec.get("overwrite", True)))
            finally:
                destination.close()
            result["outcome"] = "sent"
        except Exception as exc:  # one failing destination must not stop the others
            result["path"] = spec["path"]
            result["outcome"] = f"failed: {type(exc).__name__}: {str(exc)[:300]}"
        sent.append(result)
    failed = [r for r in sent if r["outcome"] != "sent"]
    outcome = "sent" if not failed else ("failed" if len(failed) == len(sent) else "partial")
    record.resends.append(
        {"at": datetime.now(timezone.utc).isoformat(), "by": user, "destinations": sent, "outcome": outcome}
    )
    write_record(archived, record)
    updated = files.store_record(session, task, fid, {"destinations": record.destinations, "resends": record.resends})
    if failed:
        raise DeliveryFailed(
            f"resend of `{record.name}` {outcome}: "
            + "; ".join(f"{r['type']} {r['path']}: {r['outcome']}" for r in failed)
        )
    return updated
