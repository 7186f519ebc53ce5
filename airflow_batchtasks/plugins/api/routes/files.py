"""``/tasks/{name}/files``: file history, download and resend (Atlas Hub's file page)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import Response

from airflow_batchtasks.plugins.api.deps import RunEditor, RunReader, SessionDep, forbid_unless
from airflow_batchtasks.plugins.api.routes.common import file_response
from airflow_batchtasks.plugins.data import audit, files, resend, runs
from airflow_batchtasks.plugins.data.access import is_authorized
from airflow_batchtasks.plugins.data.models import FileList, ResendQueued

router = APIRouter(tags=["Files"])


@router.get("/tasks/{name}/files", response_model=FileList)
def list_files(
    name: str,
    user: RunReader,
    session: SessionDep,
    run_id: str | None = None,
    refresh: Annotated[bool, Query(description="rescan the task's whole archive folder (needs DAG edit)")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> FileList:
    """Archived files of the task, newest first: name, size, md5, run, created, destinations, resends.

    ``refresh=true`` rescans the task's whole archive folder, which costs a listing of every run:
    only callers who may edit the task's DAG may ask for it (403 otherwise).
    """
    runs.task_dag(session, name)
    if refresh:
        forbid_unless(is_authorized(user, "PUT", [name]))
    return files.list_files(session, name, limit=limit, offset=offset, run_id=run_id, refresh=refresh)


@router.get("/tasks/{name}/files/{file_id}", response_class=Response)
def download(name: str, file_id: str, user: RunReader, session: SessionDep) -> Response:
    """The archived file itself (ids come from the file history; they are not paths)."""
    runs.task_dag(session, name)
    info, path = files.get_file(session, name, file_id)
    audit.record(user, "download", dag_id=name, run_id=info.run_id, file=info.name, md5=info.md5)
    return file_response(path, info.name, info.size)


@router.post("/tasks/{name}/files/{file_id}/resend", response_model=ResendQueued,
             status_code=status.HTTP_202_ACCEPTED)
def resend_file(name: str, file_id: str, user: RunEditor, session: SessionDep) -> ResendQueued:
    """Queue a resend of the archived file to the task's current destinations: 202 with the run that does it.

    The run (of a resend DAG, on the task's deliver queue) checks the archived md5, sends the file
    and records the outcome on the file's record; the file history shows its progress.
    """
    with audit.audited(user, "resend", name, file_id=file_id) as entry:
        runs.task_dag(session, name)
        queued = resend.resend(session, name, file_id, user)
        entry.run_id = queued.file.run_id
        entry.extra.update(file=queued.file.name, resend_dag_id=queued.dag_id, resend_run_id=queued.run_id)
    return queued
