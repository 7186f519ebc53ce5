"""Retry policy on real runs: a server that refuses connections is retried until it is back; a definition
error fails at its first try whatever ``retries`` says.

``dag.test()`` runs the retries in this process, waiting out each ``retry_delay`` (1 s here).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from tests.integration.pipeline import (
    RunResult,
    archived_records,
    migrate_metadata_db,
    run_definition,
    set_connection,
)
from tests.servers import FtpServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", autouse=True)
def _metadata_db() -> None:
    migrate_metadata_db()


@pytest.fixture
def numbers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    db = tmp_path / "numbers.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table numbers (n integer)")
        conn.executemany("insert into numbers values (?)", [(i,) for i in range(10)])
    set_connection(monkeypatch, "numbers_db", conn_type="sqlite", host=str(db))
    return "numbers_db"


def tries(result: RunResult) -> dict[str, int]:
    """Try number of each step of this run, from the metadata DB."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        found = session.query(TaskInstance).filter_by(dag_id=result.dag_id, run_id=result.run_id)
        return {ti.task_id: ti.try_number for ti in found}


class RestartAfterFirstFailure(threading.Thread):
    """Starts ``server`` once the step has recorded its first failure, so at least one try met it down."""

    def __init__(self, staging: Path, step: str, server: FtpServer, timeout: float = 120) -> None:
        super().__init__(daemon=True)
        self.staging, self.step, self.server, self.timeout = staging, step, server, timeout
        self.restarted = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline and not self.restarted.is_set():
            if any(self.staging.glob(f"*/failures/{self.step}.json")):
                self.server.start()
                self.restarted.set()
            time.sleep(0.05)


def failure_record(tmp_path: Path, dag_id: str, step: str) -> dict:
    [path] = (tmp_path / "staging" / dag_id).glob(f"*/failures/{step}.json")
    return json.loads(path.read_text())


def test_refused_connection_is_retried_until_the_server_is_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, numbers: str, ftp_server: FtpServer, ftp_conn: str,
) -> None:
    (ftp_server.root / "inbox").mkdir(exist_ok=True)
    ftp_server.stop()
    restart = RestartAfterFirstFailure(tmp_path / "staging" / "retry_ftp", "deliver", ftp_server)
    restart.start()
    try:
        result = run_definition(tmp_path, monkeypatch, (
            "kind: task\nname: retry_ftp\nschedule: none\nretries: {count: 6, delay: 1s}\n"
            f"source: {{type: sql, conn_id: {numbers}, query: 'select n from numbers'}}\n"
            "output: {name: numbers.csv}\n"
            f"destinations: [{{type: ftp, conn_id: {ftp_conn}, path: /inbox}}]\n"
        ), "retry_ftp")
    finally:
        restart.join()

    assert restart.restarted.is_set()
    assert result.state == "success", result.steps
    attempts = tries(result)
    assert attempts["extract"] == 1 and attempts["package"] == 1, "only the failing step is retried"
    assert attempts["deliver"] >= 2
    refused = failure_record(tmp_path, "retry_ftp", "deliver")
    assert refused["retryable"] is True and refused["try_number"] == attempts["deliver"] - 1
    assert "refused" in refused["error"].lower()
    assert (ftp_server.root / "inbox" / "numbers.csv").read_text() == "n\n" + "".join(f"{i}\n" for i in range(10))
    assert archived_records(result.archive)[0]["destinations"][0]["type"] == "ftp"


@pytest.mark.parametrize(
    ("definition", "step", "message"),
    [
        ("source: {type: sql, conn_id: numbers_db, query: 'select n from numbers'}\n"
         "output: {name: '{{ no_such_value }}.csv'}\n",
         "extract", "template error, not retried: UndefinedError: 'no_such_value' is undefined"),
        ("source: {type: sql, conn_id: numbers_db, query: 'select n from numbers'}\n"
         "output: {name: '{{ var.value.no_such_variable }}.csv'}\n",
         "extract", "not found, not retried: AirflowRuntimeError"),
        ("source: {type: sql, conn_id: warehouse_that_does_not_exist, query: 'select 1'}\n",
         "extract", "not found, not retried: AirflowNotFoundException: The conn_id `warehouse_that_does_not_exist`"),
        ("source: {type: sql, conn_id: numbers_db, query: 'select n from numbers where 0', require_rows: true}\n",
         "extract", "the query returned no rows and source.require_rows is true"),
        ("source: {type: sql, conn_id: numbers_db, query: 'select n from numbers'}\n"
         "output: {name: numbers.csv, zip: {name: '../escape.zip'}}\n",
         "package", "output.zip.name: file name `../escape.zip` must be a plain name"),
    ],
    ids=["template", "missing-variable", "missing-connection", "require-rows", "bad-zip-name"],
)
def test_definition_errors_fail_at_the_first_try(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, numbers: str, definition: str, step: str, message: str,
) -> None:
    started = time.monotonic()
    result = run_definition(tmp_path, monkeypatch, (
        "kind: task\nname: no_retry\nschedule: none\nretries: {count: 5, delay: 30s}\n" + definition
        + f"destinations: [{{type: local, path: '{tmp_path / 'out'}'}}]\n"
    ), "no_retry")

    assert result.state == "failed"
    assert result.steps[step] == "failed"
    assert tries(result)[step] == 1
    assert time.monotonic() - started < 30, "no retry delay was waited"
    record = failure_record(tmp_path, "no_retry", step)
    assert record["retryable"] is False and record["try_number"] == 1
    assert message in record["error"]
