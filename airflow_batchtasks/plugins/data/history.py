"""The audit history: who did what to batch tasks, and how each run ended, in one stream, newest first.

Read from Airflow's own tables, never a second store:

- actions: the ``log`` table (Airflow's audit log). Our own entries (``batchtasks.<action>``, written by
  :mod:`~airflow_batchtasks.plugins.data.audit` after each action with its outcome) and Airflow's events on
  the provider's DAGs (a run triggered, cleared or marked in Airflow's UI or API, a DAG paused or unpaused);
- run endings: ``dag_run`` rows of batch tasks that ended (success -> Finished, failed -> Failed, or Skipped
  when none of its steps ran), with duration and, for the rows of the page only, the run's output files.

One SQL ``UNION ALL`` of the two, ordered by time, paginated and counted in the database: each branch is
cut to ``offset + limit`` rows before the union, so a page costs the log's index-ordered scan and its count,
and one pass over the matching run endings (``dag_run`` has no index on ``end_date``: the pass that sorts
them counts them too), whatever the size of the history. The rows of the page are then read in full (two
``IN`` queries).

Who sees what: entries of DAGs the caller may read (Airflow's auth manager). Entries without a DAG (a
project's definition created, changed or deleted: a project has no DAG of its own) only to callers who may
read every DAG. Everything shown is masked again on the way out (older entries, and Airflow's own entries,
whose ``extra`` holds request bodies, were not masked by us when written).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow.models.dag import DagTag
from airflow.models.dagrun import DagRun
from airflow.models.log import Log
from sqlalchemy import and_, exists, func, literal, not_, or_, select, union_all
from sqlalchemy.orm import aliased

from airflow_batchtasks.definitions import masking
from airflow_batchtasks.naming import ERRORS_DAG_ID, ORCHESTRATION_TAG, PROJECT_PREFIX, TAG, project_dag_id, project_tag
from airflow_batchtasks.plugins.data import audit, files, runs
from airflow_batchtasks.plugins.data.errors import Invalid
from airflow_batchtasks.plugins.data.models import AuditList, AuditRecord, FileInfo
from airflow_batchtasks.plugins.data.status import skipped_expr
from airflow_batchtasks.plugins.data.tasks import contains

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

#: Our actions (``batchtasks.<name>`` in the log), as the ``action`` filter names them.
OUR_ACTIONS = (
    "run", "skip", "retry", "cancel_retry", "resend", "enable", "disable", "reschedule",
    "definition_create", "definition_update", "definition_delete", "definition_duplicate",
    "orchestration_launch", "orchestration_cancel", "orchestration_delete", "download", "result_file",
)
#: Airflow's own audit events on our DAGs: run actions in its UI/API, and ``patch_dag`` (pause / unpause).
AIRFLOW_ACTIONS = (*runs.AIRFLOW_RUN_ACTIONS, "patch_dag")
#: Run endings: every ending, or one status.
RUN_END_ACTIONS = {"run_ended": None, "run_finished": "Finished", "run_failed": "Failed", "run_skipped": "Skipped"}
ACTIONS = (*OUR_ACTIONS, *AIRFLOW_ACTIONS, *RUN_END_ACTIONS)
#: A run ending's status also names its action (``Finished`` = ``run_finished``), in any case.
STATUS_ALIASES = {status.lower(): action for action, status in RUN_END_ACTIONS.items() if status}


@dataclass(frozen=True)
class AuditFilter:
    """The filters of ``GET /audit``; ``task`` is "name contains" (as the task list's ``q``), the others equal."""

    task: str | None = None
    project: str | None = None
    user: str | None = None
    actions: tuple[str, ...] = ()
    from_date: datetime | None = None
    to_date: datetime | None = None


def readable_scope(session: Session, user: Any) -> set[str] | None:
    """DAG ids whose entries ``user`` may see (their audit log and runs), or None for everything, entries
    without a DAG included.

    None only for a caller the auth manager lets read a DAG nobody was granted in particular
    (:func:`access.readable_dag_ids`), i.e. every DAG there is and every one still to come: a role granted
    some projects' DAGs (FAB ``access_control``) sees their entries, never a project definition's.
    """
    from airflow_batchtasks.plugins.data.access import DagAccessEntity, readable_dag_ids

    # Airflow's event log needs AUDIT_LOG on a DAG, its runs RUN: the history shows both
    logs = readable_dag_ids(user, "GET", DagAccessEntity.AUDIT_LOG)
    runs = readable_dag_ids(user, "GET", DagAccessEntity.RUN)
    if logs is None or runs is None:
        return runs if logs is None else logs
    return logs & runs


def parse_actions(values: list[str] | None) -> tuple[str, ...]:
    """Action names from repeated or comma-separated values; 422 naming the vocabulary for an unknown one."""
    names = [s.strip() for v in values or [] for s in v.split(",") if s.strip()]
    names = [STATUS_ALIASES.get(n.lower(), n.removeprefix(audit.PREFIX)) for n in names]
    unknown = [n for n in names if n not in ACTIONS]
    if unknown:
        raise Invalid(f"action: `{unknown[0]}` is not an action; use one of {', '.join(ACTIONS)}")
    return tuple(dict.fromkeys(names))


def _ours() -> Any:
    """DAG ids the provider made (tag ``batchtasks``): tasks, projects, orchestrations."""
    return select(DagTag.dag_id).where(DagTag.name == TAG)


def _batch_tasks() -> Any:
    """DAG ids of batch tasks (whose runs are the run endings): ours, minus orchestrations and projects."""
    other = aliased(DagTag)  # not correlated with the outer DagTag
    orchestrations = select(other.dag_id).where(other.name == ORCHESTRATION_TAG)
    return _ours().where(
        DagTag.dag_id.not_in(orchestrations), not_(DagTag.dag_id.startswith(PROJECT_PREFIX, autoescape=True)),
        DagTag.dag_id != ERRORS_DAG_ID,
    )


def _in_project(dag_id: Any, project: str) -> Any:
    tagged = exists(select(literal(1)).where(DagTag.dag_id == dag_id, DagTag.name == project_tag(project)))
    return or_(tagged, dag_id == project_dag_id(project))


def _log_where(f: AuditFilter, readable: set[str] | None) -> list[Any]:
    events = [a for a in f.actions if a not in RUN_END_ACTIONS]
    ours = [f"{audit.PREFIX}{a}" for a in events if a in OUR_ACTIONS]
    theirs = [a for a in events if a in AIRFLOW_ACTIONS]
    if f.actions and not events:
        return [literal(False)]
    our_events = Log.event.in_(ours) if f.actions else Log.event.startswith(audit.PREFIX, autoescape=True)
    their_events = Log.event.in_(theirs if f.actions else AIRFLOW_ACTIONS)
    where: list[Any] = [or_(our_events, and_(their_events, Log.dag_id.in_(_ours())))]
    if readable is not None:
        where.append(Log.dag_id.in_(readable))  # entries without a DAG: readers of every DAG only
    if f.task:
        # entries without a DAG (a definition created before its DAG existed): the name in their details
        named = and_(Log.dag_id.is_(None), Log.extra.ilike('%"name": "' + contains(f.task), escape="\\"))
        where.append(or_(Log.dag_id.ilike(contains(f.task), escape="\\"), named))
    if f.project:
        # a project's own definition entries have no DAG: their details name it (written by audit.record)
        definition = and_(Log.dag_id.is_(None),
                          Log.extra.like(contains(f'"kind": "project", "name": {json.dumps(f.project)}'), escape="\\"))
        where.append(or_(_in_project(Log.dag_id, f.project), definition))
    if f.user:
        where.append(Log.owner == f.user)
    if f.from_date is not None:
        where.append(Log.dttm >= f.from_date)
    if f.to_date is not None:
        where.append(Log.dttm < f.to_date)
    return where


def _run_where(f: AuditFilter, readable: set[str] | None) -> list[Any]:
    wanted = {RUN_END_ACTIONS[a] for a in f.actions if a in RUN_END_ACTIONS}
    if f.actions and not wanted:
        return [literal(False)]
    where: list[Any] = [DagRun.dag_id.in_(_batch_tasks()), DagRun.end_date.is_not(None)]
    if not f.actions or None in wanted:
        where.append(DagRun.state.in_(("success", "failed")))
    else:
        ways = []
        if "Finished" in wanted:
            ways.append(DagRun.state == "success")
        if "Failed" in wanted and "Skipped" in wanted:
            ways.append(DagRun.state == "failed")
        elif "Failed" in wanted:
            ways.append(and_(DagRun.state == "failed", ~skipped_expr(DagRun)))
        elif "Skipped" in wanted:
            ways.append(skipped_expr(DagRun))
        where.append(or_(*ways))
    if readable is not None:
        where.append(DagRun.dag_id.in_(readable))
    if f.task:
        where.append(DagRun.dag_id.ilike(contains(f.task), escape="\\"))
    if f.project:
        where.append(_in_project(DagRun.dag_id, f.project))
    if f.user:
        by_user = DagRun.triggering_user_name == f.user
        where.append(or_(by_user, DagRun.run_type == "scheduled") if f.user == "scheduler" else by_user)
    if f.from_date is not None:
        where.append(DagRun.end_date >= f.from_date)
    if f.to_date is not None:
        where.append(DagRun.end_date < f.to_date)
    return where


def list_audit(
    session: Session, f: AuditFilter, readable: set[str] | None, limit: int = 50, offset: int = 0,
    *, with_files: bool = True,
) -> AuditList:
    """One page of the history matching ``f``, newest first, with the total for paging.

    ``with_files=False`` leaves the run endings' files out (the benchmark measures the queries alone).
    """
    if readable is not None and not readable:
        return AuditList(total=0, limit=limit, offset=offset, entries=[])
    log_where, run_where = _log_where(f, readable), _run_where(f, readable)
    head = offset + limit  # each branch needs at most this many rows for the page to be right
    log_part = (
        select(literal("log").label("source"), Log.id.label("pk"), Log.dttm.label("at"), literal(0).label("runs"))
        .where(*log_where).order_by(Log.dttm.desc(), Log.id.desc()).limit(head).subquery()
    )
    # the run side has no index in end_date order: its sort reads every matching run anyway, so the same pass
    # counts them (a window count), instead of a second pass for the total
    run_part = (
        select(literal("run").label("source"), DagRun.id.label("pk"), DagRun.end_date.label("at"),
               func.count().over().label("runs"))
        .where(*run_where).order_by(DagRun.end_date.desc(), DagRun.id.desc()).limit(head).cte("run_part")
    )
    stream = union_all(select(log_part), select(run_part)).subquery()
    run_count = select(run_part.c.runs).limit(1).scalar_subquery()
    page = session.execute(
        select(stream.c.source, stream.c.pk, run_count.label("run_total"))
        .order_by(stream.c.at.desc(), stream.c.source, stream.c.pk.desc()).limit(limit).offset(offset)
    ).all()
    run_total = page[0].run_total if page else None
    if run_total is None:  # past the end (or no run ending matches): count them apart
        run_total = session.scalar(select(func.count()).select_from(DagRun).where(*run_where)) or 0
    total = (session.scalar(select(func.count()).select_from(Log).where(*log_where)) or 0) + run_total
    log_ids = [r.pk for r in page if r.source == "log"]
    run_ids = [r.pk for r in page if r.source == "run"]
    logs = {e.id: e for e in session.scalars(select(Log).where(Log.id.in_(log_ids)))} if log_ids else {}
    ended = {
        r.DagRun.id: r
        for r in session.execute(select(DagRun, skipped_expr(DagRun).label("skipped")).where(DagRun.id.in_(run_ids)))
    } if run_ids else {}
    run_files = _files(session, [r.DagRun for r in ended.values()]) if with_files else {}
    entries = [
        log_record(logs[r.pk]) if r.source == "log"
        else run_record(ended[r.pk].DagRun, bool(ended[r.pk].skipped), run_files)
        for r in page
        if (r.pk in logs if r.source == "log" else r.pk in ended)
    ]
    return AuditList(total=total, limit=limit, offset=offset, entries=entries)


def _files(session: Session, ended: list[DagRun]) -> dict[tuple[str, str], list[FileInfo]]:
    """Output files of the page's runs: one index query per task on the page."""
    by_task: dict[str, list[str]] = {}
    for run in ended:
        by_task.setdefault(run.dag_id, []).append(run.run_id)
    out: dict[tuple[str, str], list[FileInfo]] = {}
    for task, run_ids in by_task.items():
        files.sync(session, task)
        for run_id, found in files.files_of_runs(session, task, run_ids).items():
            out[(task, run_id)] = found
    return out


def _details(extra: str | None) -> dict[str, Any]:
    """An entry's ``extra`` as a dict: JSON when it is, else the text under ``extra``."""
    if not extra:
        return {}
    try:
        data = json.loads(extra)
    except ValueError:
        return {"extra": extra}
    return data if isinstance(data, dict) else {"extra": data}


def mask_details(details: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """Details and outcome as a viewer may read them: masked again, whatever the writer did."""
    outcome = details.pop("outcome", None)
    secrets = audit.secrets_of(details)
    shown = audit.masked(details)
    if isinstance(details.get("extra"), str):  # text we could not parse: its key=value pairs and known secrets
        shown["extra"] = masking.mask_message(masking.mask_args(details["extra"]), secrets)
    shown = _mask_strings(shown)
    return shown, masking.mask_message(str(outcome), secrets) if outcome is not None else None


def _mask_strings(value: Any) -> Any:
    """Known secrets and URL passwords in every string left (a request body quoted as text)."""
    if isinstance(value, str):
        return masking.mask_string(value)
    if isinstance(value, dict):
        return {k: _mask_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_strings(v) for v in value]
    return value


_ACTION_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def log_record(entry: Log) -> AuditRecord:
    """One log row as a history line (masked)."""
    ours = entry.event.startswith(audit.PREFIX)
    action = entry.event.removeprefix(audit.PREFIX) if ours else entry.event
    details, outcome = mask_details(_details(entry.extra))
    if not ours and outcome is None:
        outcome = _airflow_outcome(action, details)
    target = None
    if entry.dag_id is None and details.get("name"):
        target = f"{details.get('kind', 'definition')} {details['name']}"
    url = None
    if entry.dag_id:
        url = runs.run_url(entry.dag_id, entry.run_id) if entry.run_id else runs.dag_url(entry.dag_id)
    return AuditRecord(
        at=entry.dttm, kind="action", action=action if _ACTION_NAME.match(action) else entry.event,
        source="batchtasks" if ours else "airflow", user=entry.owner_display_name or entry.owner,
        task=entry.dag_id, target=target, run_id=entry.run_id, outcome=outcome, details=details, airflow_url=url,
    )


def _airflow_outcome(action: str, details: dict[str, Any]) -> str | None:
    """What an Airflow event says it did, where that is in its request (pause / unpause)."""
    if action == "patch_dag" and "is_paused" in details:
        paused = str(details["is_paused"]).lower() in ("true", "1")
        return "paused (disabled)" if paused else "unpaused (enabled)"
    return None


def run_status(run: DagRun, skipped: bool) -> str:
    """Finished | Failed | Skipped: the task statuses of docs/ui.md a run ends in."""
    if run.state == "success":
        return "Finished"
    return "Skipped" if skipped else "Failed"


def run_record(run: DagRun, skipped: bool, run_files: dict[tuple[str, str], list[FileInfo]]) -> AuditRecord:
    """A run ending as a history line: status, duration, files; the user is who started the run."""
    duration = (run.end_date - run.start_date).total_seconds() if run.start_date and run.end_date else None
    status = run_status(run, skipped)
    return AuditRecord(
        at=run.end_date, kind="run_end", action="run_ended", source="run", user=runs.started_by(run),
        task=run.dag_id, run_id=run.run_id, outcome=status, status=status, start_date=run.start_date,
        end_date=run.end_date, duration=duration, files=run_files.get((run.dag_id, run.run_id), []),
        details={"run_type": str(run.run_type), "conf": masking.mask_data(dict(run.conf or {}))},
        airflow_url=runs.run_url(run.dag_id, run.run_id),
    )
