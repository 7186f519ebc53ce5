"""Each step's own account of its failure, and which failures are worth a retry.

Task code in Airflow 3 cannot read another task's log (no metadata-DB access,
and logs may be remote), yet the failure email must show the failing step's
error and the end of its log. So a failing step writes that itself, next to
its run's staged files: ``<staging>/<dag>/<run>/failures/<task_id>.json``
(step, try, error, the last log lines, all redacted). A later try overwrites
it; the notify step reads the records of the steps whose final state is failed.

Retry policy: the definition's ``retries`` apply to failures that may pass
(network, a server refusing or dropping the connection, a full disk). A
definition or configuration error fails at once, since retrying cannot fix
it: such steps raise ``AirflowFailException``, and :func:`definition_error`
turns the generic ones into it (a Jinja template error, a connection or
variable that does not exist, SQL the database rejects as invalid).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow_batchtasks.compat import AirflowFailException
from airflow_batchtasks.operators.log_tail import LogTail, capturing, redact
from airflow_batchtasks.storage.paths import safe_segment, staging_dir

if TYPE_CHECKING:
    from airflow.sdk import Context

FAILURES = "failures"
MAX_ERROR = 8000
# Exceptions that steer Airflow (skip, defer, reschedule) rather than report a failure.
_CONTROL_FLOW = {"AirflowSkipException", "TaskDeferred", "AirflowRescheduleException", "DownstreamTasksSkipped"}


def definition_error(exc: BaseException) -> str | None:
    """Why ``exc`` is a definition/configuration error that no retry can fix, or ``None`` if it may pass.

    Pure logic on the exception's type, so it is the same for every step.
    """
    names = {cls.__name__ for cls in type(exc).__mro__}
    modules = {cls.__module__.split(".")[0] for cls in type(exc).__mro__}
    if "TemplateError" in names and "jinja2" in modules:
        return "template error"
    if "AirflowNotFoundException" in names:
        return "not found"  # a conn_id the definition names does not exist
    kind = getattr(getattr(getattr(exc, "error", None), "error", None), "value", None)
    if "AirflowRuntimeError" in names and kind in ("VARIABLE_NOT_FOUND", "CONNECTION_NOT_FOUND"):
        return "not found"  # ``{{ var.value.x }}`` of a variable that does not exist
    if "ProgrammingError" in names:
        return "invalid SQL"  # DB-API: syntax error, unknown table or column, wrong parameters
    status = _client_error_status(exc)
    if status is not None:
        return f"HTTP {status} (the request itself is refused: asking again gets the same answer)"
    return None


#: 4xx answers that may succeed later: timeout, too early, too many requests.
RETRYABLE_CLIENT_ERRORS = frozenset({408, 425, 429})


def permanent_client_error(status: int) -> bool:
    """A 4xx says the request itself is wrong (auth, path, body): asking again cannot change the answer."""
    return 400 <= status < 500 and status not in RETRYABLE_CLIENT_ERRORS


def _client_error_status(exc: BaseException) -> int | None:
    """The status of an HTTP 4xx answer behind ``exc`` (its ``raise ... from`` chain) that no retry can change.

    408, 425 and 429 may pass (the http source's own rule), so they stay retryable: a URL location
    (``query_from``, ``command_from``, a script's ``from``) answering 401 or 404 fails at once, as the
    http source does.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        status = getattr(getattr(current, "response", None), "status_code", None)
        if isinstance(status, int) and permanent_client_error(status):
            return status
        current = current.__cause__
    return None


def failure_path(dag_id: str, run_id: str, task_id: str) -> Any:
    return staging_dir(dag_id, run_id, FAILURES) / f"{safe_segment(task_id)}.json"


def write_failure(context: Context, task_id: str, dag_id: str, error: BaseException, lines: list[str]) -> None:
    ti = context.get("ti")
    record = {
        "task_id": task_id,
        "try_number": getattr(ti, "try_number", None),
        "max_tries": getattr(ti, "max_tries", None),
        "error_type": type(error).__name__,
        "error": redact(str(error))[:MAX_ERROR],
        "retryable": not isinstance(error, AirflowFailException),
        "log_tail": lines,
        "failed_at": datetime.now(timezone.utc).isoformat(),
    }
    path = failure_path(dag_id, context["run_id"], task_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1))


def read_failure(dag_id: str, run_id: str, task_id: str) -> dict[str, Any] | None:
    path = failure_path(dag_id, run_id, task_id)
    try:
        return json.loads(path.read_text()) if path.exists() else None
    except (OSError, ValueError):
        return None


def recorded(method: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a step method (``render_template_fields``, ``execute``): capture its log, record its failure.

    A definition error (see :func:`definition_error`) is re-raised as ``AirflowFailException`` so the
    step does not retry. Nested calls (a subclass calling ``super()``) are captured once, by the outermost.
    """
    if getattr(method, "_batchtasks_recorded", False):
        return method

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(self, "_step_capturing", False):
            return method(self, *args, **kwargs)
        context = kwargs.get("context", args[0] if args else None)
        tail = _tail_for_try(self, context)
        self._step_capturing = True
        try:
            with capturing(tail):
                try:
                    return method(self, *args, **kwargs)
                except Exception as exc:
                    if type(exc).__name__ in _CONTROL_FLOW:
                        raise
                    failure: BaseException = exc
                    reason = definition_error(exc)
                    if reason and not isinstance(exc, AirflowFailException):
                        failure = AirflowFailException(f"{reason}, not retried: {type(exc).__name__}: {exc}")
                    tail.add("error", f"{type(failure).__name__}: {failure}")
                    _save(self, context, failure, tail)
                    if failure is exc:
                        raise
                    raise failure from exc
        finally:
            self._step_capturing = False

    wrapper._batchtasks_recorded = True  # type: ignore[attr-defined]
    return wrapper


def _tail_for_try(operator: Any, context: Context) -> LogTail:
    """One tail per try: ``dag.test()`` reuses the operator object for the next try, a tail must not."""
    try_number = getattr((context or {}).get("ti"), "try_number", None)
    kept = operator.__dict__.get("_step_tail")
    if kept is None or kept[0] != try_number:
        kept = (try_number, LogTail())
        operator.__dict__["_step_tail"] = kept
    return kept[1]


def _save(operator: Any, context: Context, error: BaseException, tail: LogTail) -> None:
    """Write the failure record; a problem doing so is logged, never allowed to hide the step's own error."""
    if not context or "run_id" not in context:
        return
    try:
        write_failure(context, operator.task_id, operator.dag_id, error, tail.lines())
    except Exception as exc:  # noqa: BLE001 - the step's real error matters more than its record
        operator.log.warning("Could not record this failure for the notification: %s", exc)
