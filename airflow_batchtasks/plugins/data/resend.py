"""Resend an archived file to the task's *current* destinations (Atlas Hub's "resend"), through Airflow.

The API server does not upload anything: a resend is a run of the resend DAG of
the task's deliver queue (:mod:`airflow_batchtasks.dag_factory.resend_dag`), so it
runs on a worker that reaches the destinations, like the deliver step. Here the
request is checked (the caller's right is checked by the route: DAG-run edit on
the task's DAG), the run queued with everything the worker needs in its conf,
and the queued run noted in the file's index row so the history shows it at once.

Checked before queueing, each a clear answer instead of a failed run:

- the file is known and its record is in the archive (404 / 409);
- the task has a valid definition with destinations (409);
- each destination path renders for the run that made the file and stays inside the
  folder its definition names (422: the run's arguments would write elsewhere);
- the resend DAG is parsed and not paused (409).

Several requests for one file each queue a run; the resend DAG runs them one by one.

The worker checks the archived copy's md5 and the paths again and records the outcome
(``ResendOperator``, with the same checks: :mod:`airflow_batchtasks.storage.resends`,
:mod:`airflow_batchtasks.transports.destinations`). Templated paths are rendered for the
file's run: ``ds``, ``ds_nodash``, ``ts``, ``run_id``, ``params`` (the definition's
defaults overridden by the run's conf) and the date helpers; values of sensitive
argument names (Airflow's masker rules) are not copied into the resend run's conf.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow.models.dagrun import DagRun
from jinja2 import TemplateError
from sqlalchemy import select

from airflow_batchtasks import airflow_calls
from airflow_batchtasks.definitions.masking import mask_data
from airflow_batchtasks.naming import RESEND_TAG, resend_dag_id
from airflow_batchtasks.plugins.data import catalog_cache, files
from airflow_batchtasks.plugins.data.errors import Conflict, Invalid
from airflow_batchtasks.plugins.data.models import ResendQueued
from airflow_batchtasks.plugins.data.runs import run_url
from airflow_batchtasks.storage import resends
from airflow_batchtasks.storage.records import read_record
from airflow_batchtasks.transports import destinations as resend_paths

if TYPE_CHECKING:
    from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
    from sqlalchemy.orm import Session


def _context(session: Session, task: str, run_id: str, defaults: dict[str, Any]) -> dict[str, Any]:
    """What a destination path of ``run_id`` was rendered with (JSON-ready, for the resend run's conf)."""
    run = session.scalar(select(DagRun).where(DagRun.dag_id == task, DagRun.run_id == run_id))
    when = (run.logical_date or run.run_after) if run is not None else datetime.now(timezone.utc)
    conf = dict(run.conf or {}) if run is not None else {}
    params = mask_data({**defaults, **conf})
    ds = when.strftime("%Y-%m-%d")
    context = {
        "ds": ds,
        "ds_nodash": ds.replace("-", ""),
        "ts": when.isoformat(),
        "run_id": run_id,
        "params": params,
        "dag_run": {"run_id": run_id, "conf": params},
    }
    return json.loads(json.dumps(context, default=str))


def render_path(path: str, context: dict[str, Any]) -> str:
    """A destination path rendered for a past run; Conflict when it cannot be."""
    try:
        return resend_paths.render_path(path, context)
    except TemplateError as exc:
        raise Conflict(f"destination path `{path}` cannot be rendered for this run: {exc}") from None


def resend(session: Session, task: str, fid: str, user: BaseUser) -> ResendQueued:
    """Queue a resend of file ``fid`` of ``task``; returns the queued run and the file."""
    from airflow_batchtasks.plugins.data.actions import dag_bag

    info, archived = files.get_file(session, task, fid)
    if read_record(archived) is None:
        raise Conflict(f"the record of `{info.name}` is missing from the archive")
    entry = catalog_cache.get_catalog().tasks.get(task)
    try:
        destinations = resends.destinations_of(task, entry)
    except resends.ResendRefused as exc:
        raise Conflict(str(exc)) from None
    context = _context(session, task, info.run_id, {k: p.default for k, p in entry.model.params.items()})
    try:
        resend_paths.rendered_destinations(destinations, context)
    except resend_paths.DestinationRefused as exc:
        raise Invalid(f"resend of `{info.name}` refused: {exc}") from None
    dag_id = resend_dag_id(entry.model.queue_of("deliver"))
    dag = dag_bag().get_latest_version_of_dag(dag_id, session=session)
    if dag is None:
        raise Conflict(f"the resend DAG `{dag_id}` is not parsed yet: try again once Airflow has parsed the "
                       "definitions")
    from airflow.models.dag import DagModel

    if RESEND_TAG not in (dag.tags or ()):  # never trigger another DAG that happens to hold the name
        raise Conflict(f"`{dag_id}` is not the provider's resend DAG: rename the definition that uses the name")
    if session.scalar(select(DagModel.is_paused).where(DagModel.dag_id == dag_id)):
        raise Conflict(f"the resend DAG `{dag_id}` is paused in Airflow: unpause it to resend files")
    request = {
        "task": task, "file_id": fid, "archive_path": files.archive_path(session, task, fid),
        "requested_by": user.get_name(), "context": context,
    }
    conf = {"request": resends.store(request), "task": task, "file": info.name}  # the conf only shows
    run = airflow_calls.create_manual_run(dag, conf, user, session)
    at = datetime.now(timezone.utc).isoformat()
    files.add_pending_resend(session, task, fid, {"at": at, "by": user.get_name(), "destinations": [],
                                                  "outcome": "", "dag_id": dag_id, "run_id": run.run_id})
    session.commit()
    info, _ = files.get_file(session, task, fid)
    return ResendQueued(dag_id=dag_id, run_id=run.run_id, state=str(run.state), airflow_url=run_url(dag_id, run.run_id),
                        file=info)
