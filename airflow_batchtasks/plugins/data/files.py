"""File history: the archive's records, indexed into the provider's tables.

The archive (``<archive>/<task>/<run>/<md5[:12]>/<name>`` + ``<name>.record.json``)
is the durable truth, written by workers, which cannot touch the database.
The API server indexes it lazily, per task, on read:

- the first read of a task scans its whole archive folder once;
- later reads rescan only the runs that may have changed since they were
  indexed: runs still queued/running and runs whose ``dag_run.updated_at``
  moved after their last scan (a clear or a retry delivers again). Finished
  runs are never listed again, so a task with thousands of runs costs one
  indexed query plus, at most, a folder listing of its active run;
- ``refresh=True`` forces a full rescan (after restoring or pruning the archive
  by hand); the API allows it to callers who may edit the task's DAG.

Only a batch task's DAG gets index rows: a read naming any other DAG or a
made-up name writes nothing. A resend runs on a worker (a run of a resend DAG,
:mod:`airflow_batchtasks.operators.resend`), which appends its outcome to the
record; the API notes the queued run in the index (a *pending* resend), shows
its live state (queued, running) and, once the run has ended, rescans that
file's run to pick up the outcome the worker recorded.

File ids are a hash of the file's place in the archive: a client can only
name a file the index knows, never a path.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from airflow.models.dagrun import DagRun
from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from airflow_batchtasks.db.manager import ensure_migrated
from airflow_batchtasks.db.tables import files as files_t
from airflow_batchtasks.db.tables import scans as scans_t
from airflow_batchtasks.naming import is_batch_task_dag
from airflow_batchtasks.plugins.data.errors import NotFound
from airflow_batchtasks.plugins.data.models import Destination, FileInfo, FileList, Resend
from airflow_batchtasks.storage.paths import archive_root, archive_segment, legacy_segments
from airflow_batchtasks.storage.records import RECORD_SUFFIX

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

#: Clock skew allowed between the scheduler that stamps ``updated_at`` and this server.
MARGIN = timedelta(seconds=5)
FULL_SCAN = ""
ACTIVE = ("queued", "running")

_tables_ready = False
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def ensure_tables(session: Session) -> None:
    """The index tables at the migrations' head, through the provider's DB manager (see ``ensure_migrated``)."""
    global _tables_ready
    if _tables_ready:
        return
    ensure_migrated(session)
    _tables_ready = True


def _lock(task: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(task, threading.Lock())


def file_id(rel_path: str) -> str:
    return hashlib.sha256(rel_path.encode()).hexdigest()[:24]


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _local_records(base: str) -> list[str]:
    # os.walk is several times faster than fsspec's LocalFileSystem.find on thousands of folders
    return [os.path.join(d, n) for d, _, names in os.walk(base) for n in names if n.endswith(RECORD_SUFFIX)]


def _scan(folder: ObjectStoragePath, root: ObjectStoragePath) -> list[dict[str, Any]]:
    """Index rows for every record under ``folder`` (missing folder: none)."""
    fs, base, prefix = folder.fs, folder.path, root.path.rstrip("/") + "/"
    local = fs.protocol == "file" or "file" in (fs.protocol or ())
    try:
        found = _local_records(base) if local else [p for p in fs.find(base) if p.endswith(RECORD_SUFFIX)]
    except FileNotFoundError:
        return []
    rows = []
    for path in sorted(found):
        try:
            if local:
                with open(path, "rb") as fh:
                    rec = json.loads(fh.read())
            else:
                rec = json.loads(fs.cat_file(path))
        except (OSError, ValueError) as exc:
            log.warning("unreadable file record %s: %s", path, exc)
            continue
        rel = path[: -len(RECORD_SUFFIX)].removeprefix(prefix)
        rows.append(_row(rel, rec))
    return rows


def _row(rel: str, rec: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": file_id(rel),
        "task": str(rec.get("task") or rel.split("/", 1)[0]),
        "run_id": str(rec.get("run_id") or ""),
        "name": str(rec.get("name") or rel.rsplit("/", 1)[-1]),
        "size": int(rec.get("size") or 0),
        "md5": str(rec.get("md5") or ""),
        "rows": rec.get("rows"),
        "created": _parse_time(rec.get("created")),
        "destinations": json.dumps(rec.get("destinations") or []),
        "resends": json.dumps(rec.get("resends") or []),
        "path": rel,
    }


def _mark(session: Session, task: str, run_ids: Iterable[str], when: datetime) -> None:
    ids = list(dict.fromkeys(run_ids))
    for chunk in range(0, len(ids), 500):
        part = ids[chunk : chunk + 500]
        session.execute(delete(scans_t).where(scans_t.c.task == task, scans_t.c.run_id.in_(part)))
        session.execute(insert(scans_t), [{"task": task, "run_id": r, "scanned_at": when} for r in part])


def is_batch_task(session: Session, task: str) -> bool:
    """Whether ``task`` is the DAG of a batch task (the only DAGs whose archive is indexed)."""
    from airflow.models.dag import DagTag

    tags = set(session.scalars(select(DagTag.name).where(DagTag.dag_id == task)).all())
    return is_batch_task_dag(task, tags)


def sync(session: Session, task: str, refresh: bool = False) -> None:
    """Bring the index of ``task`` up to date with its archive folder (see the module doc).

    Writes (and commits) only when something changed, so reading an up-to-date history
    never takes the database's write lock; a name that is not a batch task's DAG writes nothing.
    """
    ensure_tables(session)
    if not is_batch_task(session, task):
        return
    with _lock(task):
        try:
            changed = _sync(session, task, refresh)
            changed = _settle_resends(session, task) or changed
            if changed:
                session.commit()
        except IntegrityError:  # another API-server worker indexed the same rows first
            session.rollback()


def _task_dirs(root: ObjectStoragePath, task: str) -> list[ObjectStoragePath]:
    """The task's archive folder, and the one earlier versions may have used for its name."""
    return [root / archive_segment(task), *(root / old for old in legacy_segments(task))]


def _sync(session: Session, task: str, refresh: bool) -> bool:
    # stamped early so a change racing the scan, or a scheduler clock slightly behind, is rescanned next time
    now = datetime.now(timezone.utc) - MARGIN
    root = archive_root()
    full = session.scalar(select(scans_t.c.scanned_at).where(scans_t.c.task == task, scans_t.c.run_id == FULL_SCAN))
    if full is None or refresh:
        # a legacy folder may be shared with another task's name (``x`` and ``x.``): keep this task's records
        scanned = [r for d in _task_dirs(root, task) for r in _scan(d, root) if r["task"] == task]
        rows = _keep_resends(session, scanned, files_t.c.task == task)
        session.execute(delete(files_t).where(files_t.c.task == task))
        if rows:
            session.execute(insert(files_t), rows)
        run_ids = session.scalars(select(DagRun.run_id).where(DagRun.dag_id == task)).all()
        _mark(session, task, [FULL_SCAN, *run_ids], now)
        return True
    s = scans_t.alias("s")
    stale = session.execute(
        select(DagRun.run_id, DagRun.state)
        .outerjoin(s, and_(s.c.task == DagRun.dag_id, s.c.run_id == DagRun.run_id))
        .where(
            DagRun.dag_id == task,
            or_(
                s.c.scanned_at.is_(None),
                DagRun.state.in_(ACTIVE),
                DagRun.updated_at > s.c.scanned_at,
            ),
        )
    ).all()
    changed = False
    for run_id, _ in stale:
        changed = _sync_run(session, task, run_id, root) or changed
    # active runs are rescanned on every read anyway; only finished ones get a mark
    finished = [run_id for run_id, state in stale if state not in ACTIVE]
    if finished:
        _mark(session, task, finished, now)
        changed = True
    return changed


def _sync_run(session: Session, task: str, run_id: str, root: ObjectStoragePath) -> bool:
    """Re-index one run's folder; False (nothing written) when the index already matches it."""
    run_dirs = [d / segment for d in _task_dirs(root, task) for segment in [archive_segment(run_id),
                                                                          *legacy_segments(run_id)]]
    rows = [r for d in run_dirs for r in _scan(d, root) if r["run_id"] == run_id and r["task"] == task]
    where = (files_t.c.task == task, files_t.c.run_id == run_id)
    indexed = {r.id: dict(r._mapping) for r in session.execute(select(files_t).where(*where)).all()}
    rows = _keep_resends(session, rows, *where, indexed=indexed)
    if indexed == {r["id"]: r for r in rows}:
        return False
    session.execute(delete(files_t).where(*where))
    if rows:
        session.execute(insert(files_t), rows)
    return True


def _resend_key(entry: dict[str, Any]) -> tuple[str, ...]:
    return ("run", str(entry.get("dag_id") or ""), str(entry["run_id"])) if entry.get("run_id") else (
        "at", str(entry.get("at")), str(entry.get("by")))


def merge_resends(recorded: list[dict[str, Any]], indexed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The record's resends, plus the index's that the record does not hold (yet), oldest first.

    The record (written by the resend run) wins for a resend both know; the index may know more:
    a pending resend whose run has not recorded yet, or an entry a scan racing the write missed.
    """
    keys = {_resend_key(e) for e in recorded}
    merged = recorded + [e for e in indexed if _resend_key(e) not in keys]
    return sorted(merged, key=lambda e: str(e.get("at") or ""))


def _keep_resends(
    session: Session, rows: list[dict[str, Any]], *where: Any, indexed: dict[str, dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Scanned rows, each with its resends merged with the indexed row's (see :func:`merge_resends`).

    Resends only ever grow. A scan that read a record just before a resend run rewrote it (the
    scheduler's listener, another API worker) must not drop what the index already knows.
    """
    if indexed is None:
        indexed = {r.id: dict(r._mapping) for r in session.execute(select(files_t).where(*where)).all()}
    for row in rows:
        known = indexed.get(row["id"])
        if known:
            merged = merge_resends(json.loads(row["resends"]), json.loads(known["resends"] or "[]"))
            row["resends"] = json.dumps(merged)
    return rows


# -- resends queued by the API and run by a worker ------------------------------------------------

#: How a pending entry is marked in the index (``json.dumps`` spelling, for a LIKE pre-filter).
PENDING = '"pending": true'


def add_pending_resend(session: Session, task: str, fid: str, entry: dict[str, Any]) -> None:
    """Note in the index that a resend run of file ``fid`` was queued (the worker records its outcome)."""
    row = session.execute(select(files_t.c.resends).where(files_t.c.task == task, files_t.c.id == fid)).one()
    resends = [*json.loads(row.resends or "[]"), {**entry, "pending": True}]
    session.execute(update(files_t).where(files_t.c.task == task, files_t.c.id == fid)
                    .values(resends=json.dumps(resends)))


def _run_states(session: Session, runs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str | None]:
    wanted = set(runs)
    if not wanted:
        return {}
    found = session.execute(
        select(DagRun.dag_id, DagRun.run_id, DagRun.state).where(
            DagRun.dag_id.in_({d for d, _ in wanted}), DagRun.run_id.in_({r for _, r in wanted}))
    ).all()
    states: dict[tuple[str, str], str | None] = dict.fromkeys(wanted)
    states.update({(d, r): str(s) for d, r, s in found if (d, r) in wanted})
    return states


def _pending(resends: str | None) -> list[dict[str, Any]]:
    return [e for e in json.loads(resends or "[]") if e.get("pending")]


def _settle_resends(session: Session, task: str) -> bool:
    """Pick up the outcome of pending resends whose run has ended; True when the index changed.

    The ended run's file is rescanned (its outcome is in the record). A run that ended without
    recording one (its worker died, the archive was unreachable) is marked failed, with the run's
    state as the reason, so the history never shows a resend as queued forever.
    """
    rows = session.execute(
        select(files_t.c.id, files_t.c.run_id, files_t.c.resends)
        .where(files_t.c.task == task, files_t.c.resends.like(f"%{PENDING}%"))
    ).all()
    entries = {(e["dag_id"], e["run_id"]): r for r in rows for e in _pending(r.resends)}
    states = _run_states(session, entries)
    ended = {k for k, state in states.items() if state not in ACTIVE}
    if not ended:
        return False
    root = archive_root()
    for run_id in {entries[k].run_id for k in ended}:
        _sync_run(session, task, run_id, root)
    for row in session.execute(
        select(files_t.c.id, files_t.c.resends).where(files_t.c.task == task, files_t.c.id.in_(
            {entries[k].id for k in ended}))
    ).all():
        resends = json.loads(row.resends or "[]")
        for e in resends:
            key = (e.get("dag_id"), e.get("run_id"))
            if e.get("pending") and key in ended:
                e.pop("pending")
                e.update(state="failed", outcome=f"failed: the resend run ended {states[key] or 'deleted'} "
                                                 "without recording an outcome (see its log in Airflow)")
        session.execute(update(files_t).where(files_t.c.task == task, files_t.c.id == row.id)
                        .values(resends=json.dumps(resends)))
    return True


def resend_state(entry: dict[str, Any], states: dict[tuple[str, str], str | None]) -> str:
    """queued | running | done | failed, as the file history shows a resend."""
    if entry.get("pending"):
        return "running" if states.get((entry.get("dag_id"), entry.get("run_id"))) == "running" else "queued"
    return "done" if entry.get("outcome") == "sent" else "failed"


def _info(row: Any, states: dict[tuple[str, str], str | None] | None = None) -> FileInfo:
    destinations = [
        Destination(type=d.get("type", ""), conn_id=d.get("conn_id"), path=str(d.get("path", "")),
                    delivered_at=d.get("delivered_at"))
        for d in json.loads(row.destinations or "[]")
    ]
    resends = [Resend.model_validate({**r, "state": resend_state(r, states or {})})
               for r in json.loads(row.resends or "[]")]
    return FileInfo(
        id=row.id, task=row.task, run_id=row.run_id, name=row.name, size=row.size, md5=row.md5, rows=row.rows,
        created=row.created, destinations=destinations, resends=resends,
    )


def list_files(
    session: Session, task: str, limit: int = 100, offset: int = 0, run_id: str | None = None, refresh: bool = False
) -> FileList:
    """The file history of ``task``, newest first."""
    sync(session, task, refresh)
    where = [files_t.c.task == task]
    if run_id is not None:
        where.append(files_t.c.run_id == run_id)
    total = session.scalar(select(func.count()).select_from(files_t).where(*where)) or 0
    rows = session.execute(
        select(files_t).where(*where).order_by(files_t.c.created.desc(), files_t.c.name).limit(limit).offset(offset)
    ).all()
    return FileList(total=total, limit=limit, offset=offset, files=_infos(session, rows))


def _infos(session: Session, rows: list[Any]) -> list[FileInfo]:
    """Rows as files, pending resends with their run's live state (one query for them all)."""
    states = _run_states(session, [(e["dag_id"], e["run_id"]) for r in rows for e in _pending(r.resends)])
    return [_info(r, states) for r in rows]


def files_of_runs(session: Session, task: str, run_ids: list[str]) -> dict[str, list[FileInfo]]:
    """Files of several runs of ``task`` in one query (index synced by the caller)."""
    out: dict[str, list[FileInfo]] = {r: [] for r in run_ids}
    if not run_ids:
        return out
    rows = session.execute(
        select(files_t).where(files_t.c.task == task, files_t.c.run_id.in_(run_ids)).order_by(files_t.c.name)
    ).all()
    for row, info in zip(rows, _infos(session, rows), strict=True):
        out.setdefault(row.run_id, []).append(info)
    return out


def files_of_task_runs(session: Session, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], list[FileInfo]]:
    """Files of runs of several tasks, ``(task, run_id)`` pairs, in one query (from the index as it is)."""
    out: dict[tuple[str, str], list[FileInfo]] = {p: [] for p in pairs}
    if not pairs:
        return out
    rows = session.execute(
        select(files_t).where(files_t.c.task.in_({t for t, _ in pairs}), files_t.c.run_id.in_({r for _, r in pairs}))
        .order_by(files_t.c.name)
    ).all()
    rows = [r for r in rows if (r.task, r.run_id) in out]
    for row, info in zip(rows, _infos(session, rows), strict=True):
        out[(row.task, row.run_id)].append(info)
    return out


def get_file(session: Session, task: str, fid: str) -> tuple[FileInfo, ObjectStoragePath]:
    """A file of the history and its archived path; NotFound when unknown or gone from the archive."""
    ensure_tables(session)
    sync(session, task)  # also settles resends that ended since the last read
    row = session.execute(select(files_t).where(files_t.c.task == task, files_t.c.id == fid)).first()
    if row is None:
        raise NotFound(f"unknown file `{fid}` of task `{task}`")
    path = archive_root() / row.path
    if not path.exists():
        raise NotFound(f"file `{row.name}` is no longer in the archive (retention?)")
    return _infos(session, [row])[0], path


def archive_path(session: Session, task: str, fid: str) -> str:
    """Where file ``fid`` lies in the archive, relative to its root (for the resend run's conf)."""
    return str(session.execute(select(files_t.c.path).where(files_t.c.task == task, files_t.c.id == fid)).scalar_one())
