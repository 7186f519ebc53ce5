"""``/tasks/{name}/files``: file history, download and resend (Atlas Hub's file page)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from airflow_batchtasks.plugins.api.deps import RunEditor, RunReader, SessionDep
from airflow_batchtasks.plugins.api.routes.common import file_response
from airflow_batchtasks.plugins.data import audit, files, resend, runs
from airflow_batchtasks.plugins.data.models import FileInfo, FileList

router = APIRouter(tags=["Files"])


@router.get("/tasks/{name}/files", response_model=FileList)
def list_files(
    name: str,
    user: RunReader,
    session: SessionDep,
    run_id: str | None = None,
    refresh: Annotated[bool, Query(description="rescan the task's whole archive folder")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> FileList:
    """Archived files of the task, newest first: name, size, md5, run, created, destinations, resends."""
    runs.task_dag(session, name)
    return files.list_files(session, name, limit=limit, offset=offset, run_id=run_id, refresh=refresh)


@router.get("/tasks/{name}/files/{file_id}", response_class=Response)
def download(name: str, file_id: str, user: RunReader, session: SessionDep) -> Response:
    """The archived file itself (ids come from the file history; they are not paths)."""
    info, path = files.get_file(session, name, file_id)
    audit.record(user, "download", dag_id=name, run_id=info.run_id, file=info.name, md5=info.md5)
    return file_response(path, info.name, info.size)


@router.post("/tasks/{name}/files/{file_id}/resend", response_model=FileInfo)
def resend_file(name: str, file_id: str, user: RunEditor, session: SessionDep) -> FileInfo:
    """Check the archived md5, send the file to the task's current destinations, record the resend."""
    with audit.audited(user, "resend", name, file_id=file_id) as entry:
        info = resend.resend(session, name, file_id, user.get_name())
        entry.run_id = info.run_id
        entry.extra["file"] = info.name
    return info
