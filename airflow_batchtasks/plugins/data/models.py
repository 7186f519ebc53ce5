"""Response models shared by the API and the pages (plain pydantic, JSON-ready).

Nothing here may carry a secret: connections are never read into these
models, and what a definition or a run holds under a sensitive key (a token
in http headers, a password argument) is filled in masked by the data layer
(:mod:`airflow_batchtasks.definitions.masking`): ``Definition.data`` and
``.yaml``, ``TaskDetail.params`` and ``errors``, ``RunInfo.conf``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class Destination(BaseModel):
    """Where a file was delivered (the record's entry, without internal keys)."""

    type: str
    conn_id: str | None = None
    path: str
    delivered_at: str | None = None


class Resend(BaseModel):
    """A resend of an archived file: queued by the API, done by a run of a resend DAG on a worker."""

    at: str
    by: str
    destinations: list[dict[str, Any]] = Field(default_factory=list)
    outcome: str = Field("", description="sent | partial | failed: <why>; empty until the run has ended")
    state: str = Field("done", description="queued | running | done | failed")
    dag_id: str | None = Field(None, description="the resend DAG whose run does it")
    run_id: str | None = Field(None, description="that run (older resends, done by the API server, have none)")


class FileInfo(BaseModel):
    """One archived file of the file history; ``id`` is the only handle clients use."""

    id: str
    task: str
    run_id: str
    name: str
    size: int
    md5: str
    rows: int | None = None
    created: datetime | None = None
    destinations: list[Destination] = Field(default_factory=list)
    resends: list[Resend] = Field(default_factory=list)


class ResendQueued(BaseModel):
    """The answer to a resend request (202): the run that does it, and the file as the history shows it."""

    dag_id: str
    run_id: str
    state: str
    airflow_url: str
    file: FileInfo


class FileList(BaseModel):
    total: int
    limit: int
    offset: int
    files: list[FileInfo]


class RunInfo(BaseModel):
    """A run of a task's DAG as the runs API shows it (the statuses of docs/ui.md)."""

    task: str
    run_id: str
    status: str = Field(description="IN_PROGRESS | SUCCEEDED | FAILED")
    skipped: bool = False
    task_status: str = Field(description="New | Processing | Retry | Finished | Failed | Skipped")
    state: str | None = Field(description="Airflow's DAG run state")
    run_type: str
    started_by: str | None = Field(None, description="user who triggered it, or `scheduler`")
    triggered_by: str | None = Field(None, description="Airflow's trigger source (rest_api, ui, timetable, ...)")
    created: datetime | None = Field(None, description="when the run was created/queued for (run_after)")
    queued_at: datetime | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    logical_date: datetime | None = None
    conf: dict[str, Any] = Field(default_factory=dict)
    files: list[FileInfo] = Field(default_factory=list)
    airflow_url: str
    progress: str | None = Field(
        None, description="while an extract or upload runs: `12,345 rows` or `40.0 MiB of 100.0 MiB (40%)`",
    )


class Step(BaseModel):
    """One Airflow task (pipeline step) of a run."""

    step: str
    state: str | None
    try_number: int
    max_tries: int
    start_date: datetime | None = None
    end_date: datetime | None = None
    duration: float | None = None
    log_url: str = Field(description="the step's log in the Airflow UI")
    log_api: str = Field(description="the step's log through Airflow's REST API")


class AuditEntry(BaseModel):
    when: datetime | None
    user: str | None
    action: str
    outcome: str | None = None


class RunDetail(RunInfo):
    steps: list[Step] = Field(default_factory=list)
    history: list[AuditEntry] = Field(default_factory=list, description="actions on this run (audit log)")


class RunList(BaseModel):
    total: int
    limit: int
    offset: int
    runs: list[RunInfo]


class RunRow(RunInfo):
    """A run in the list of every task's runs (``GET /runs``): the run plus its task's project."""

    project: str | None = None
    updated: datetime | None = Field(None, description="the run's last change (Airflow's updated_at)")


class RunPage(BaseModel):
    """A page of ``GET /runs``: runs of every task the caller may read, newest first."""

    total: int
    limit: int
    offset: int
    runs: list[RunRow]


class TaskSummary(BaseModel):
    """A row of the task list."""

    name: str
    project: str | None = None
    owners: list[str] = Field(default_factory=list)
    description: str | None = None
    enabled: bool
    valid: bool = Field(description="false when the definition has errors (the DAG is a placeholder)")
    status: str = Field(description="New | Processing | Retry | Finished | Failed | Skipped")
    last_run: RunInfo | None = None
    next_run: datetime | None = None
    schedule: str | None = None
    created: datetime | None = None
    updated: datetime | None = None


class TaskList(BaseModel):
    total: int
    limit: int
    offset: int
    tasks: list[TaskSummary]


class Definition(BaseModel):
    """A definition as written in its file."""

    kind: str
    name: str
    file: str = Field(description="path relative to the definitions folder")
    line: int
    yaml: str
    data: dict[str, Any]


class TaskDetail(TaskSummary):
    definition: Definition | None = None
    errors: list[str] = Field(default_factory=list)
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    next_runs: list[str] = Field(default_factory=list, description="next 5 fire times (ISO, task time zone)")
    last_runs: list[RunInfo] = Field(default_factory=list)
    airflow_url: str


class BulkResult(BaseModel):
    task: str
    run_id: str | None
    result: str = Field(description="done | refused")
    reason: str | None = None


class BulkResponse(BaseModel):
    done: int
    refused: int
    results: list[BulkResult]


class LogTail(BaseModel):
    """The end of one step's log of a run (what the run page's message tabs show and refresh)."""

    task: str
    run_id: str
    step: str
    state: str | None = Field(description="the step's Airflow state; the page refreshes while it is unfinished")
    try_number: int = Field(description="the try whose log this is (0: the step has not started)")
    lines: list[str] = Field(default_factory=list, description="the last `tail` lines, oldest first, as masked")
    truncated: bool = Field(False, description="earlier lines exist that are not shown")
    complete: bool = Field(True, description="false when reading stopped at the time budget")
    running: bool = Field(description="whether more lines may still come")
    log_url: str = Field(description="the full log in the Airflow UI")


class FilePreview(BaseModel):
    """The first rows of a run's delivered file, read from the archive (never of an encrypted or zipped file)."""

    file_id: str
    name: str
    size: int
    lines: list[str] = Field(default_factory=list, description="the first lines, at most `max_rows` and `max_bytes`")
    truncated: bool = Field(False, description="the file goes on past what is shown")
    reason: str | None = Field(None, description="why there is no preview (encrypted, zipped, binary)")


class AuditRecord(BaseModel):
    """One line of the audit history: an action someone took, or how a run ended."""

    at: datetime | None = Field(description="when the action was recorded, or when the run ended")
    kind: str = Field(description="action | run_end")
    action: str = Field(description="our action (`run`, `skip`, ...), Airflow's event (`trigger_dag_run`, "
                        "`patch_dag`...) or `run_ended`")
    source: str = Field(description="batchtasks (our API and pages) | airflow (Airflow's UI and API) | run")
    user: str | None = Field(None, description="who acted; for a run ending, who started the run")
    task: str | None = Field(None, description="the DAG the entry is about (a task's or an orchestration's)")
    target: str | None = Field(None, description="what the entry is about when it has no DAG (`project p`)")
    run_id: str | None = None
    outcome: str | None = Field(None, description="done | refused (<status>): <why> | error: <type>; "
                                "for a run ending its status")
    status: str | None = Field(None, description="run endings: Finished | Failed | Skipped")
    start_date: datetime | None = None
    end_date: datetime | None = None
    duration: float | None = Field(None, description="run endings: seconds from start to end")
    files: list[FileInfo] = Field(default_factory=list, description="run endings: the run's output files")
    details: dict[str, Any] = Field(default_factory=dict, description="the entry's details, secrets masked")
    airflow_url: str | None = Field(None, description="the run (or DAG) in Airflow's UI")


class AuditList(BaseModel):
    total: int
    limit: int
    offset: int
    entries: list[AuditRecord]
