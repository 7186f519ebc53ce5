"""Which failures are definition errors (no retry), and the log tail kept for the failure record."""

from __future__ import annotations

import logging
import sqlite3

import jinja2
import pytest
from airflow.sdk.exceptions import AirflowRuntimeError, ErrorType
from airflow.sdk.execution_time.comms import ErrorResponse

from airflow_batchtasks.compat import AirflowException, AirflowNotFoundException
from airflow_batchtasks.operators.log_tail import LogTail, capturing
from airflow_batchtasks.operators.step_failure import definition_error


def _raised(factory):
    try:
        factory()
    except Exception as exc:  # noqa: BLE001 - the test wants the real exception object
        return exc
    raise AssertionError("nothing raised")


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (_raised(lambda: jinja2.Environment(undefined=jinja2.StrictUndefined).from_string("{{ x }}").render()),
         "template error"),
        (_raised(lambda: jinja2.Environment().from_string("{% if %}")), "template error"),
        (AirflowNotFoundException("The conn_id `x` isn't defined"), "not found"),
        (AirflowRuntimeError(ErrorResponse(error=ErrorType.VARIABLE_NOT_FOUND, detail={"key": "x"})), "not found"),
        (AirflowRuntimeError(ErrorResponse(error=ErrorType.API_SERVER_ERROR, detail={})), None),
        (sqlite3.ProgrammingError("Incorrect number of bindings"), "invalid SQL"),
        (_raised(lambda: sqlite3.connect(":memory:").execute("select * from nope")), None),  # OperationalError
        (ConnectionRefusedError(111, "Connection refused"), None),
        (TimeoutError("timed out"), None),
        (AirflowException("the remote command exited with code 1"), None),
        (OSError("No space left on device"), None),
    ],
)
def test_definition_errors_are_told_apart_from_transient_ones(error: BaseException, reason: str | None) -> None:
    assert definition_error(error) == reason


def test_log_tail_keeps_the_last_lines_split_and_cut() -> None:
    tail = LogTail(size=3)
    tail.add("info", "one")
    tail.add("warning", "two\nthree")
    tail.add("error", "x" * 3000)
    lines = tail.lines()
    assert lines[:2] == ["WARNING two", "WARNING three"]
    assert lines[2].startswith("ERROR xxx") and lines[2].endswith(" [...]") and len(lines[2]) < 2100


def test_capturing_takes_structlog_and_stdlib_lines_and_stops_afterwards() -> None:
    import structlog

    tail = LogTail()
    logging.getLogger().setLevel(logging.INFO)
    before = list(structlog.get_config()["processors"])
    with capturing(tail):
        structlog.get_logger("step").info("5 rows in a.csv")
        logging.getLogger("paramiko.transport").info("Connected (version %s)", "2.0")
    structlog.get_logger("step").info("not captured")
    logging.getLogger("paramiko.transport").info("not captured")
    assert tail.lines() == ["INFO 5 rows in a.csv", "INFO paramiko.transport: Connected (version 2.0)"]
    assert structlog.get_config()["processors"] == before


def _http_error(status: int) -> Exception:
    """An HTTP answer's error as a URL location raises it: requests' HTTPError, wrapped twice."""
    import requests

    response = requests.Response()
    response.status_code = status
    try:
        try:
            raise requests.HTTPError(f"{status} Client Error", response=response)
        except requests.HTTPError as inner:
            raise RuntimeError("cannot read url https://example.invalid/q.sql") from inner
    except RuntimeError as outer:
        try:
            raise AirflowException(f"source.query_from: {outer}") from outer
        except AirflowException as exc:
            return exc


@pytest.mark.parametrize(("status", "retryable"), [(401, False), (404, False), (408, True), (429, True), (503, True)])
def test_an_http_client_error_behind_a_failure_is_not_retried(status: int, retryable: bool) -> None:
    reason = definition_error(_http_error(status))
    assert (reason is None) is retryable
    if not retryable:
        assert reason.startswith(f"HTTP {status} ")
