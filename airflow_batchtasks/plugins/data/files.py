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
  by hand). Resends update the record and the index together.

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
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from airflow.models.dagrun import DagRun
from sqlalchemy import and_, delete, func, insert, inspect, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from airflow_batchtasks.db.tables import files as files_t
from airflow_batchtasks.db.tables import metadata
from airflow_batchtasks.db.tables import scans as scans_t
from airflow_batchtasks.plugins.data.errors import NotFound
from airflow_batchtasks.plugins.data.models import Destination, FileInfo, FileList, Resend
from airflow_batchtasks.storage.paths import archive_root, safe_segment
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
    """Create the index tables if ``airflow db migrate`` has not (logged: run it to stamp the version)."""
    global _tables_ready
    if _tables_ready:
        return
    bind = session.get_bind()
    if not inspect(bind).has_table(files_t.name):
        log.warning("batchtasks tables missing: creating them (run `airflow db migrate` to manage them)")
        try:
            metadata.create_all(bind, checkfirst=True)
        except DBAPIError:  # another process (scheduler listener, API worker) created them first
            if not inspect(bind).has_table(files_t.name):
                raise
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


def sync(session: Session, task: str, refresh: bool = False) -> None:
    """Bring the index of ``task`` up to date with its archive folder (see the module doc).

    Writes (and commits) only when something changed, so reading an up-to-date history
    never takes the database's write lock.
    """
    ensure_tables(session)
    with _lock(task):
        try:
            if _sync(session, task, refresh):
                session.commit()
        except IntegrityError:  # another API-server worker indexed the same rows first
            session.rollback()


def _sync(session: Session, task: str, refresh: bool) -> bool:
    # stamped early so a change racing the scan, or a scheduler clock slightly behind, is rescanned next time
    now = datetime.now(timezone.utc) - MARGIN
    root = archive_root()
    task_dir = root / safe_segment(task)
    full = session.scalar(select(scans_t.c.scanned_at).where(scans_t.c.task == task, scans_t.c.run_id == FULL_SCAN))
    if full is None or refresh:
        rows = _keep_resends(session, _scan(task_dir, root), files_t.c.task == task)
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
    rows = [r for r in _scan(root / safe_segment(task) / safe_segment(run_id), root) if r["run_id"] == run_id]
    where = (files_t.c.task == task, files_t.c.run_id == run_id)
    indexed = {r.id: dict(r._mapping) for r in session.execute(select(files_t).where(*where)).all()}
    rows = _keep_resends(session, rows, *where, indexed=indexed)
    if indexed == {r["id"]: r for r in rows}:
        return False
    session.execute(delete(files_t).where(*where))
    if rows:
        session.execute(insert(files_t), rows)
    return True


def _keep_resends(
    session: Session, rows: list[dict[str, Any]], *where: Any, indexed: dict[str, dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Scanned rows, each keeping the indexed row's resends when the index knows more of them.

    Resends only ever grow, and a resend updates the record and the index at once. A scan that
    read a record just before a resend rewrote it (the scheduler's listener, another API worker)
    must not write the older list back over the index.
    """
    if indexed is None:
        indexed = {r.id: dict(r._mapping) for r in session.execute(select(files_t).where(*where)).all()}
    for row in rows:
        known = indexed.get(row["id"])
        if known and len(json.loads(known["resends"] or "[]")) > len(json.loads(row["resends"])):
            row.update(resends=known["resends"], destinations=known["destinations"])
    return rows


def _info(row: Any) -> FileInfo:
    destinations = [
        Destination(type=d.get("type", ""), conn_id=d.get("conn_id"), path=str(d.get("path", "")),
                    delivered_at=d.get("delivered_at"))
        for d in json.loads(row.destinations or "[]")
    ]
    resends = [Resend.model_validate(r) for r in json.loads(row.resends or "[]")]
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
    return FileList(total=total, limit=limit, offset=offset, files=[_info(r) for r in rows])


def files_of_runs(session: Session, task: str, run_ids: list[str]) -> dict[str, list[FileInfo]]:
    """Files of several runs of ``task`` in one query (index synced by the caller)."""
    out: dict[str, list[FileInfo]] = {r: [] for r in run_ids}
    if not run_ids:
        return out
    rows = session.execute(
        select(files_t).where(files_t.c.task == task, files_t.c.run_id.in_(run_ids)).order_by(files_t.c.name)
    ).all()
    for row in rows:
        out.setdefault(row.run_id, []).append(_info(row))
    return out


def get_file(session: Session, task: str, fid: str) -> tuple[FileInfo, ObjectStoragePath]:
    """A file of the history and its archived path; NotFound when unknown or gone from the archive."""
    ensure_tables(session)
    row = session.execute(select(files_t).where(files_t.c.task == task, files_t.c.id == fid)).first()
    if row is None:
        sync(session, task)
        row = session.execute(select(files_t).where(files_t.c.task == task, files_t.c.id == fid)).first()
    if row is None:
        raise NotFound(f"unknown file `{fid}` of task `{task}`")
    path = archive_root() / row.path
    if not path.exists():
        raise NotFound(f"file `{row.name}` is no longer in the archive (retention?)")
    return _info(row), path


def store_record(session: Session, task: str, fid: str, record: dict[str, Any]) -> FileInfo:
    """Update the index row of a file whose record the API just rewrote (resend)."""
    session.execute(
        update(files_t)
        .where(files_t.c.task == task, files_t.c.id == fid)
        .values(destinations=json.dumps(record.get("destinations") or []),
                resends=json.dumps(record.get("resends") or []))
    )
    session.commit()
    row = session.execute(select(files_t).where(files_t.c.task == task, files_t.c.id == fid)).one()
    # what was just written, whatever a concurrent scan may have done to the row since
    written = {**row._asdict(), "destinations": json.dumps(record.get("destinations") or []),
               "resends": json.dumps(record.get("resends") or [])}
    return _info(SimpleNamespace(**written))
