"""``/tasks/{name}/runs``: run history (the runs API), one run, its result file, skip and retry."""

from __future__ import annotations

import os
import tempfile
import zipfile
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask

from airflow_batchtasks.plugins.api.deps import LogReader, RunEditor, RunReader, SessionDep
from airflow_batchtasks.plugins.api.routes.common import content_disposition, file_response, when
from airflow_batchtasks.plugins.data import actions, audit, file_preview, files, run_logs, runs
from airflow_batchtasks.plugins.data.errors import NotFound
from airflow_batchtasks.plugins.data.models import FilePreview, LogTail, RunDetail, RunInfo, RunList
from airflow_batchtasks.storage.paths import safe_segment
from airflow_batchtasks.storage.records import CHUNK

router = APIRouter(tags=["Runs"])


@router.get("/tasks/{name}/runs", response_model=RunList)
def list_runs(
    name: str,
    user: RunReader,
    session: SessionDep,
    from_date: Annotated[str | None, Query(alias="fromDate", description="20220221 or 20220221T061500 (UTC)")] = None,
    to_date: Annotated[str | None, Query(alias="toDate", description="same forms; a bare date covers the day")] = None,
    status: Annotated[list[str] | None, Query(description="IN_PROGRESS, SUCCEEDED or FAILED")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> RunList:
    """Runs created between fromDate and toDate, newest first: who started each, when, status, output files."""
    statuses = [s.strip() for v in status or [] for s in v.split(",") if s.strip()]
    return runs.list_runs(
        session, name, from_date=when(from_date, "fromDate"), to_date=when(to_date, "toDate", end=True),
        statuses=statuses or None, limit=limit, offset=offset,
    )


@router.get("/tasks/{name}/runs/{run_id}", response_model=RunDetail)
def get_run(name: str, run_id: str, user: RunReader, session: SessionDep) -> RunDetail:
    """One run with each step's state, tries, times and log links, and the actions taken on it."""
    return runs.get_run(session, name, run_id)


@router.get("/tasks/{name}/runs/{run_id}/logs/{step}", response_model=LogTail)
def log_tail(
    name: str, run_id: str, step: str, user: LogReader, session: SessionDep,
    tail: Annotated[int, Query(ge=1, le=run_logs.MAX_TAIL, description="how many of the last lines")] = 300,
) -> LogTail:
    """The last ``tail`` lines of a step's log (current try) through Airflow's log reader; poll while ``running``."""
    return run_logs.log_tail(session, name, run_id, step, tail)


@router.get("/tasks/{name}/runs/{run_id}/preview", response_model=list[FilePreview])
def preview(name: str, run_id: str, user: RunReader, session: SessionDep) -> list[FilePreview]:
    """The first rows (at most 50 lines, 64 KiB) of each file the run delivered, from the archive; none of
    an encrypted or zipped file (``reason`` says why)."""
    return file_preview.run_previews(session, name, run_id)


@router.get("/tasks/{name}/runs/{run_id}/result-file", response_class=Response)
def result_file(name: str, run_id: str, user: RunReader, session: SessionDep) -> Response:
    """The run's output file; a zip of them when the run produced several."""
    runs.task_dag(session, name)
    runs.get_run_row(session, name, run_id)
    found = files.list_files(session, name, limit=1000, run_id=run_id).files
    if not found:
        raise NotFound(f"run `{run_id}` of task `{name}` has no output file")
    audit.record(user, "result_file", dag_id=name, run_id=run_id, files=[f.name for f in found])
    if len(found) == 1:
        info, path = files.get_file(session, name, found[0].id)
        return file_response(path, info.name, info.size)
    return _zip(session, name, run_id, [f.id for f in found])


def _zip(session: SessionDep, task: str, run_id: str, ids: list[str]) -> FileResponse:
    fd, tmp = tempfile.mkstemp(suffix=".zip")
    os.close(fd)
    try:
        used: set[str] = set()
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for fid in ids:
                info, path = files.get_file(session, task, fid)
                arcname = info.name if info.name not in used else f"{info.md5[:12]}/{info.name}"
                used.add(arcname)
                with path.open("rb") as src, zf.open(arcname, "w", force_zip64=True) as dst:
                    while chunk := src.read(CHUNK):
                        dst.write(chunk)
    except BaseException:
        os.unlink(tmp)
        raise
    name = f"{safe_segment(task)}_{safe_segment(run_id)}.zip"
    return FileResponse(
        tmp, media_type="application/zip", headers={"Content-Disposition": content_disposition(name)},
        background=BackgroundTask(os.unlink, tmp),
    )


@router.post("/tasks/{name}/runs/{run_id}/skip", response_model=RunInfo)
def skip_run(name: str, run_id: str, user: RunEditor, session: SessionDep) -> RunInfo:
    """Skip a run that has not started processing (409 once it has, or when it ended)."""
    with audit.audited(user, "skip", name, run_id):
        return actions.skip(session, name, run_id, user)


@router.post("/tasks/{name}/runs/{run_id}/retry", response_model=RunInfo)
def retry_run(name: str, run_id: str, user: RunEditor, session: SessionDep) -> RunInfo:
    """Run a finished, failed or skipped run again (409 while it is in progress)."""
    with audit.audited(user, "retry", name, run_id):
        return actions.retry(session, name, run_id, user)
