"""Pydantic models of the three definition kinds: project, task, orchestration.

These models are the single source of truth for what a definition may say:
validation, the JSON Schema for editors and the DAG factory all read them.
Unknown keys are rejected (``extra="forbid"``) because a typo such as
``destination:`` would otherwise silently deliver nothing.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from airflow_batchtasks.definitions.timing import (
    check_timezone,
    cron_expression,
    parse_duration,
    parse_local_time,
)
from airflow_batchtasks.naming import PROJECT_PREFIX, is_project_dag_id

NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}$")


def is_task_dag_id(value: str) -> bool:
    """Whether ``value`` can be the DAG id of a task or orchestration (a valid, unreserved name)."""
    return bool(NAME_RE.match(value)) and not is_project_dag_id(value)


def _name(value: Any) -> str:
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise ValueError(
            f"`{value}` is not a valid name: use letters, digits, `_`, `-` or `.` (it becomes an Airflow DAG id)"
        )
    if is_project_dag_id(value):
        raise ValueError(f"`{value}`: names starting with `{PROJECT_PREFIX}` are reserved for project DAGs")
    return value


def _duration(value: Any) -> timedelta:
    return value if isinstance(value, timedelta) else parse_duration(value)


def _local_time(value: Any) -> time:
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 17:30 as 17 * 60 + 30 (base 60): say so instead of "`1050` is not a time"
        hours, minutes = divmod(value, 60) if value < 3600 else divmod(value // 60, 60)
        seconds = f":{value % 60:02d}" if value >= 3600 else ""
        raise ValueError(f"`{value}` is not a local time: YAML reads an unquoted time such as "
                         f"{hours}:{minutes:02d}{seconds} as a number; quote it: '{hours:02d}:{minutes:02d}{seconds}'")
    return value if isinstance(value, time) else parse_local_time(value)


def _timezone(value: Any) -> str:
    return check_timezone(str(value))


Name = Annotated[str, BeforeValidator(_name), Field(json_schema_extra={"pattern": NAME_RE.pattern})]
Duration = Annotated[
    timedelta,
    BeforeValidator(_duration),
    PlainSerializer(lambda d: f"PT{int(d.total_seconds())}S", return_type=str),
    Field(json_schema_extra={"type": "string", "examples": ["PT4H", "90s", "5m", "4h", "1d"]}),
]
LocalTime = Annotated[
    time,
    BeforeValidator(_local_time),
    PlainSerializer(lambda t: t.strftime("%H:%M:%S"), return_type=str),
    Field(json_schema_extra={"type": "string", "pattern": r"^\d{2}:\d{2}(:\d{2})?$"}),
]
TimeZone = Annotated[str, BeforeValidator(_timezone), Field(json_schema_extra={"examples": ["UTC", "Europe/Paris"]})]


class Strict(BaseModel):
    """Base: unknown keys are errors, values are checked on assignment too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Once(Strict):
    """Run exactly once at the given instant."""

    once: datetime


class After(Strict):
    """Run when each named task has delivered since this DAG's last run (Airflow Assets, no polling)."""

    after: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1)

    @field_validator("after")
    @classmethod
    def _no_repeat(cls, value: list[str]) -> list[str]:
        repeated = sorted({name for name in value if value.count(name) > 1})
        if repeated:
            raise ValueError(f"`{repeated[0]}` is named twice")
        return value


def _schedule(value: Any) -> Any:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "")):
        return None
    if isinstance(value, str):
        return cron_expression(value)
    if isinstance(value, (dict, Once)):
        return value
    raise ValueError(f"`{value}` is not a schedule: use a cron expression, @daily..., `none`, {{once: <datetime>}} "
                     "or {after: [<task>, ...]}")


def _schedule_kind(value: Any) -> str:
    # A callable discriminator: only the matching branch reports errors, so a bad
    # ``{once: ...}`` is not also reported as "should be a valid string".
    if value is None:
        return "none"
    return "Once" if isinstance(value, (dict, Once)) else "cron"


Schedule = Annotated[
    Annotated[str, Tag("cron")] | Annotated[Once, Tag("Once")] | Annotated[None, Tag("none")],
    Discriminator(_schedule_kind),
    BeforeValidator(_schedule),
    Field(description="cron, @hourly/@daily/@weekly/@monthly, none, or {once: ISO datetime}"),
]


def _run_schedule_kind(value: Any) -> str:
    if isinstance(value, After) or (isinstance(value, dict) and "after" in value):
        return "After"
    return _schedule_kind(value)


#: A task's or orchestration's ``schedule``: a project's, plus ``{after: [task, ...]}``.
RunSchedule = Annotated[
    Annotated[str, Tag("cron")] | Annotated[Once, Tag("Once")] | Annotated[After, Tag("After")]
    | Annotated[None, Tag("none")],
    Discriminator(_run_schedule_kind),
    BeforeValidator(_schedule),
    Field(description="cron, @hourly/@daily/@weekly/@monthly, none, {once: ISO datetime}, or "
          "{after: [task_a, task_b]}: when each named task has delivered (Airflow Assets)"),
]


class ParamSpec(Strict):
    """A run argument shown on Airflow's trigger form."""

    default: Any = None
    description: str | None = None
    type: Literal["string", "integer", "number", "boolean", "array", "object"] | None = None
    enum: list[Any] | None = None
    required: bool = False


def _param(value: Any) -> Any:
    return value if isinstance(value, dict) else {"default": value}


ParamValue = Annotated[ParamSpec, BeforeValidator(_param)]


class Retries(Strict):
    count: int = Field(0, ge=0, le=100)
    delay: Duration = timedelta(minutes=5)
    max_delay: Duration | None = None
    exponential: bool = False


class Location(Strict):
    """Where a query, command or script is fetched from at run time."""

    type: Literal["sftp", "ftp", "smb", "url", "git", "local"]
    conn_id: str | None = None
    path: str | None = None
    url: str | None = None
    ref: str | None = None
    cache: bool = False

    @model_validator(mode="after")
    def _needs_target(self) -> Location:
        if self.type == "url" and not self.url:
            raise ValueError("a `url` location needs `url`")
        if self.type != "url" and not self.path:
            raise ValueError(f"a `{self.type}` location needs `path`")
        if self.type in ("sftp", "ftp", "smb", "git") and not self.conn_id:
            raise ValueError(f"a `{self.type}` location needs `conn_id`")
        return self


class FileLocation(Strict):
    type: Literal["sftp", "ftp", "smb", "local"]
    conn_id: str | None = None
    path: str

    @model_validator(mode="after")
    def _needs_conn(self) -> FileLocation:
        if self.type != "local" and not self.conn_id:
            raise ValueError(f"a `{self.type}` location needs `conn_id`")
        return self


class InputFormat(Strict):
    """How a file source's files are read: their dialect, and whether the first line is a header."""

    delimiter: str = Field(",", min_length=1, max_length=1)
    encoding: str = "utf-8"
    quotechar: str = Field('"', min_length=1, max_length=1)
    header: bool = Field(True, description="the first line is a header, not a data row (for skip_empty and rows)")


def _exactly_one(model: BaseModel, *keys: str) -> None:
    given = [k for k in keys if getattr(model, k) is not None]
    if len(given) != 1:
        # name the keys as written in YAML (`from`, not the attribute `from_`)
        fields = type(model).model_fields
        names = " or ".join(f"`{fields[k].alias or k}`" for k in keys)
        if given:
            raise ValueError(f"give only one of {names}, not {'both' if len(keys) == 2 else 'several'}")
        raise ValueError(f"one of {names} is required")


class SqlSource(Strict):
    type: Literal["sql"]
    conn_id: str
    query: str | None = None
    query_from: Location | None = None
    include_headers: bool = True
    require_rows: bool = False

    @model_validator(mode="after")
    def _one_query(self) -> SqlSource:
        _exactly_one(self, "query", "query_from")
        return self


class FileSource(Strict):
    type: Literal["file"]
    location: FileLocation
    input: InputFormat | None = None


class PythonSource(Strict):
    type: Literal["python"]


class SshSource(Strict):
    type: Literal["ssh"]
    conn_id: str
    command: str | None = None
    command_from: Location | None = None

    @model_validator(mode="after")
    def _one_command(self) -> SshSource:
        _exactly_one(self, "command", "command_from")
        return self


class HttpSource(Strict):
    type: Literal["http"]
    conn_id: str
    endpoint: str
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    json_body: Any = Field(None, alias="json")
    data: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    expect_status: list[int] = Field(default_factory=lambda: [200])
    keep_response: bool = False

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


Source = Annotated[
    SqlSource | FileSource | PythonSource | SshSource | HttpSource,
    Field(discriminator="type"),
]


class Processing(Strict):
    script: str | None = None
    inline: str | None = None
    from_: Location | None = Field(None, alias="from")
    entrypoint: str | None = None
    requirements: list[str] = Field(default_factory=list)
    expose_connections: bool = False

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _one_script(self) -> Processing:
        _exactly_one(self, "script", "inline", "from_")
        return self

    @field_validator("script", "entrypoint")
    @classmethod
    def _stays_inside(cls, value: str | None, info: ValidationInfo) -> str | None:
        """A script path is relative to the definitions folder, an entrypoint to the script's own folder."""
        if value is None or "{{" in value or "{%" in value:
            return value  # templated: checked after rendering, when the step runs
        parts = value.replace("\\", "/").split("/")
        if not value.strip() or value.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", value) or ".." in parts:
            folder = "the definitions folder" if info.field_name == "script" else "the script's folder"
            raise ValueError(f"`{value}` must be a relative path inside {folder} (no `..`, not absolute)")
        return value


class Gpg(Strict):
    """Encrypt each output file to ``recipient``'s public key, found in a connection or a variable."""

    recipient: str = Field(description="email address (or fingerprint / key id) of the key's user id")
    key_conn_id: str | None = Field(None, description="connection holding the armored public key "
                                    "in its extra `public_key` (or its password)")
    key_variable: str | None = Field(None, description="Airflow Variable holding the armored public key")
    compress_level: int = Field(1, ge=0, le=9, description="gpg compression level: 0 none, 1 fast (default), 9 best")

    @model_validator(mode="after")
    def _one_key_source(self) -> Gpg:
        _exactly_one(self, "key_conn_id", "key_variable")
        return self


class Zip(Strict):
    name: str | None = None


DELIMITERS = {"csv": ",", "tsv": "\t", "pipe": "|"}


class Output(Strict):
    name: str | None = None
    format: Literal["csv", "tsv", "pipe", "text", "keep"] = "csv"
    delimiter: str | None = Field(None, min_length=1, max_length=1)
    quoting: Literal["minimal", "all", "nonnumeric", "none"] = "minimal"
    line_terminator: str = "\n"
    line_suffix: str = ""
    encoding: str = "utf-8"
    gpg: Gpg | None = None
    zip: Zip | None = None

    @property
    def effective_delimiter(self) -> str:
        return self.delimiter or DELIMITERS.get(self.format, ",")


class Destination(Strict):
    type: Literal["sftp", "ftp", "smb", "local"]
    conn_id: str | None = None
    path: str
    overwrite: bool = True
    skip_empty: bool = False

    @model_validator(mode="after")
    def _needs_conn(self) -> Destination:
        if self.type != "local" and not self.conn_id:
            raise ValueError(f"a `{self.type}` destination needs `conn_id`")
        return self


class NotifyTarget(Strict):
    to: list[str] = Field(min_length=1)
    cc: list[str] = Field(default_factory=list)
    conn_id: str | None = None
    attach: bool = False
    embed: bool = False
    subject: str | None = None
    message: str | None = None


class Notify(Strict):
    on_success: NotifyTarget | None = None
    on_failure: NotifyTarget | None = None


Right = Literal["read", "run", "edit"]


def _rights(value: Any) -> Any:
    if isinstance(value, str):  # `role: read` instead of `role: [read]`: say how to write it
        raise ValueError(f"rights are a list: write [{value}] (any of read, run, edit)")
    return value


#: Airflow role name -> the rights it gets on the DAGs of this definition (see ``dag_factory.access_control``).
Access = Annotated[
    dict[Annotated[str, Field(min_length=1, max_length=64)], Annotated[list[Right], BeforeValidator(_rights)]] | None,
    Field(description="Airflow roles -> what they may do with this definition's DAGs: `read` (see it, its "
          "runs and files), `run` (trigger, skip, retry, cancel retry, enable/disable), `edit` (change or delete "
          "its definition); becomes the DAGs' `access_control` (FAB auth manager). A task adds its own to its "
          "project's, per role", examples=[{"sales_ops": ["read", "run"], "sales_admin": ["read", "run", "edit"]}]),
]


class Project(Strict):
    kind: Literal["project"]
    name: Name
    description: str = ""
    owners: list[str] = Field(default_factory=list)
    run_in_series: bool = False
    schedule: Schedule = None
    timezone: TimeZone = "UTC"
    params: dict[str, ParamValue] = Field(default_factory=dict)
    notify: Notify | None = None
    access: Access = None


StepName = Literal["extract", "process", "package", "deliver", "notify"]
# Celery queue names are free text, but they end up in worker command lines (`-q a,b`): no commas or spaces.
QueueName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:@-]{1,200}$", examples=["default", "vendor_uploads"])]


class Task(Strict):
    kind: Literal["task"]
    name: Name
    project: str | None = None
    description: str = ""
    enabled: bool = True
    schedule: RunSchedule = None
    timezone: TimeZone | None = None
    run_rank: int = 0
    retries: Retries = Field(default_factory=Retries)
    params: dict[str, ParamValue] = Field(default_factory=dict)
    source: Source
    # validate_default: the check below must also run when `processing` is absent
    processing: Processing | None = Field(None, validate_default=True)
    output: Output = Field(default_factory=Output)
    destinations: list[Destination] = Field(default_factory=list)
    notify: Notify | None = None
    access: Access = None
    # Declared last: the check of `queues` reads the fields above (pydantic validates in declaration order).
    queue: QueueName | None = Field(None, description="worker queue of every step (Airflow's `queue`, e.g. a "
                                    "Celery queue); default: Airflow's `[operators] default_queue`")
    queues: dict[StepName, QueueName] = Field(
        default_factory=dict, description="worker queue per step (`extract`, `process`, `package`, `deliver`, "
        "`notify`); overrides `queue` for that step",
    )

    @field_validator("queues")
    @classmethod
    def _queued_steps_exist(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        # A queue for a step the task does not have is a typo or a stale edit: say so instead of ignoring it.
        source, processing = info.data.get("source"), info.data.get("processing")
        if not value or source is None:
            return value
        has_file = not (source.type == "ssh" or (source.type == "http" and not source.keep_response))
        present = {
            "extract": source.type != "python",
            "process": processing is not None,
            "package": has_file,
            "deliver": has_file,
            "notify": True,  # notify may come from the project's defaults, merged later
        }
        missing = [step for step in value if not present[step]]
        if missing:
            raise ValueError(f"this task has no `{missing[0]}` step to give a queue to")
        return value

    def queue_of(self, step: str) -> str | None:
        """The worker queue ``step`` runs on: ``queues.<step>``, else ``queue``, else None (Airflow's default).

        Also where a resend of the task's files runs: the deliver step's queue reaches its destinations.
        """
        return self.queues.get(step) or self.queue or None

    def connection_uses(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Every Airflow connection the definition names, with the field that names it (for file:line errors).

        One list for everyone who asks: the DAG factory (what ``expose_connections`` hands a
        script) and ``airflow batchtasks validate`` (which connections to look for).
        """
        source = self.source
        uses: list[tuple[tuple[str | int, ...], str | None]] = [
            (("source", "conn_id"), getattr(source, "conn_id", None)),
        ]
        for key in ("query_from", "command_from", "location"):
            uses.append((("source", key, "conn_id"), getattr(getattr(source, key, None), "conn_id", None)))
        if self.processing is not None and self.processing.from_ is not None:
            uses.append((("processing", "from", "conn_id"), self.processing.from_.conn_id))
        uses += [(("destinations", i, "conn_id"), d.conn_id) for i, d in enumerate(self.destinations)]
        if self.output.gpg is not None:
            uses.append((("output", "gpg", "key_conn_id"), self.output.gpg.key_conn_id))
        if self.notify is not None:
            for event in ("on_success", "on_failure"):
                target = getattr(self.notify, event)
                uses.append((("notify", event, "conn_id"), target.conn_id if target is not None else None))
        return [(path, conn_id) for path, conn_id in uses if conn_id]

    def connection_ids(self, *, include_notify: bool = True) -> list[str]:
        """The distinct connection ids of :meth:`connection_uses`, in definition order.

        ``include_notify=False`` leaves out the mail connections: those belong to the notify
        step, and a processing script that asks for the task's connections never needs them.
        """
        return list(dict.fromkeys(
            conn_id for path, conn_id in self.connection_uses() if include_notify or path[0] != "notify"
        ))

    @field_validator("processing")
    @classmethod
    def _python_needs_script(cls, value: Processing | None, info: ValidationInfo) -> Processing | None:
        source = info.data.get("source")
        if value is None and source is not None and source.type == "python":
            raise ValueError("a `python` source runs the processing script: add `processing`")
        return value

    @field_validator("processing", "destinations")
    @classmethod
    def _needs_an_output_file(cls, value: Any, info: ValidationInfo) -> Any:
        # An ssh command's result is its log and a dropped API answer is nothing: no file to process or send.
        source = info.data.get("source")
        if not value or source is None:
            return value
        if source.type == "ssh":
            raise ValueError(f"an `ssh` source has no output file: remove `{info.field_name}`")
        if source.type == "http" and not source.keep_response:
            raise ValueError(
                f"an `http` source without `keep_response: true` has no output file for `{info.field_name}`"
            )
        return value


class Step(Strict):
    task: str
    starts_after: LocalTime | None = None
    timezone: TimeZone | None = None
    run_on_parent_failure: bool = False


class Orchestration(Strict):
    kind: Literal["orchestration"]
    name: Name
    description: str = ""
    active: bool = True
    schedule: RunSchedule = None
    timezone: TimeZone = "UTC"
    execution_time_limit: LocalTime | None = None
    execution_duration_limit: Duration | None = None
    steps: list[Step] = Field(min_length=1)
    access: Access = None

    # A field validator (not a model validator) so the error names the field and its line.
    @field_validator("execution_duration_limit")
    @classmethod
    def _one_limit(cls, value: timedelta | None, info: ValidationInfo) -> timedelta | None:
        if value is not None and info.data.get("execution_time_limit") is not None:
            raise ValueError("`execution_time_limit` and `execution_duration_limit` are mutually exclusive")
        return value


KINDS: dict[str, type[Strict]] = {"project": Project, "task": Task, "orchestration": Orchestration}
