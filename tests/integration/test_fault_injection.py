"""Servers failing mid-transfer: the step's retry recovers and no half file is ever delivered.

A watcher thread waits until the transfer is really under way (bytes on disk), then breaks the
server: sshd is killed with its sessions during an SFTP upload, PostgreSQL backends are terminated
while a large result streams. Retries run in-process with ``dag.test()`` after a 1 s delay.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.pipeline import archived_records, migrate_metadata_db, run_definition, set_connection
from tests.servers import PostgresServer, SshServer, find_odbc_driver

pytestmark = pytest.mark.integration

UPLOAD_BYTES = 80 * 1024 * 1024
EXTRACT_ROWS = 1_000_000


@pytest.fixture(scope="module", autouse=True)
def _metadata_db() -> None:
    migrate_metadata_db()


def tries(dag_id: str) -> dict[str, int]:
    """Try number of each step of the DAG's (only) run, from the metadata DB."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        return {ti.task_id: ti.try_number for ti in session.query(TaskInstance).filter_by(dag_id=dag_id)}


class Saboteur(threading.Thread):
    """Calls ``strike`` once, as soon as ``ready`` is true (polled every 5 ms), then stops watching."""

    def __init__(self, ready: Callable[[], bool], strike: Callable[[], object], timeout: float = 120) -> None:
        super().__init__(daemon=True)
        self.ready, self.strike, self.timeout = ready, strike, timeout
        self.struck = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        deadline = time.monotonic() + self.timeout
        try:
            while time.monotonic() < deadline:
                if self.ready():
                    self.strike()
                    self.struck.set()
                    return
                time.sleep(0.005)
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.error = exc


def _parts_bigger_than(folder: Path, size: int) -> bool:
    try:
        return any(p.name.endswith(".part") and p.stat().st_size > size for p in folder.iterdir())
    except FileNotFoundError:
        return False


def test_sftp_server_dies_mid_upload_and_the_retry_delivers_the_whole_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sshd_server: SshServer, sftp_conn: str
) -> None:
    source = tmp_path / "source"
    source.mkdir()
    payload = os.urandom(UPLOAD_BYTES)
    (source / "big.bin").write_bytes(payload)
    inbox = sshd_server.root / "fault_inbox"
    inbox.mkdir()
    seen_partial: list[str] = []

    def kill_and_restart() -> None:
        seen_partial.extend(p.name for p in inbox.iterdir())
        sshd_server.stop()  # kills the session processes first: the upload's connection dies
        sshd_server.start()

    saboteur = Saboteur(lambda: _parts_bigger_than(inbox, 4 * 1024 * 1024), kill_and_restart)
    saboteur.start()
    result = run_definition(tmp_path, monkeypatch, (
        "kind: task\nname: fault_sftp\nschedule: none\nretries: {count: 1, delay: 1s}\n"
        f"source: {{type: file, location: {{type: local, path: '{source}/big.bin'}}}}\n"
        f"destinations: [{{type: sftp, conn_id: {sftp_conn}, path: '{inbox}'}}]\n"
    ), "fault_sftp")
    saboteur.join(timeout=5)
    assert saboteur.error is None, saboteur.error
    assert saboteur.struck.is_set(), "the upload finished before the server could be stopped"
    assert all(name.endswith(".part") for name in seen_partial), "nothing under the final name mid-upload"

    assert result.state == "success", result.steps
    assert tries("fault_sftp") == {"extract": 1, "package": 1, "deliver": 2}, "only the upload was retried"
    assert sorted(p.name for p in inbox.iterdir()) == ["big.bin"], "the dead upload's .part was cleaned up"
    assert hashlib.md5((inbox / "big.bin").read_bytes()).hexdigest() == hashlib.md5(payload).hexdigest()
    [record] = archived_records(result.archive)
    assert len(record["destinations"]) == 1


def test_database_connection_drops_mid_extract_and_the_retry_extracts_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_server: PostgresServer
) -> None:
    set_connection(
        monkeypatch, "pg_fault", conn_type="odbc", host=postgres_server.host, port=postgres_server.port,
        login=postgres_server.user, password=postgres_server.password, schema=postgres_server.database,
        extra={"driver": str(find_odbc_driver()), "UseDeclareFetch": "1", "Fetch": "10000", "SSLmode": "disable"},
    )
    out = tmp_path / "out"
    staged = tmp_path / "staging" / "fault_pg"
    terminated: list[int] = []

    def staged_bytes() -> int:
        return sum(p.stat().st_size for p in staged.rglob("*.csv")) if staged.exists() else 0

    saboteur = Saboteur(
        lambda: staged_bytes() > 2 * 1024 * 1024,
        lambda: terminated.append(postgres_server.terminate_backends()),
    )
    saboteur.start()
    result = run_definition(tmp_path, monkeypatch, (
        "kind: task\nname: fault_pg\nschedule: none\nretries: {count: 1, delay: 1s}\n"
        "source: {type: sql, conn_id: pg_fault, query: "
        f"'select g as id, md5(g::text) as digest from generate_series(1, {EXTRACT_ROWS}) g order by g'}}\n"
        "output: {name: big.csv}\n"
        f"destinations: [{{type: local, path: '{out}'}}]\n"
    ), "fault_pg")
    saboteur.join(timeout=5)
    assert saboteur.error is None, saboteur.error
    assert saboteur.struck.is_set() and terminated and terminated[0] >= 1, "no backend was streaming"

    assert result.state == "success", result.steps
    assert tries("fault_pg") == {"extract": 2, "package": 1, "deliver": 1}, "nothing went on after the failed try"
    assert sorted(p.name for p in out.iterdir()) == ["big.csv"]
    with open(out / "big.csv", "rb") as fh:
        lines = fh.read().split(b"\n")
    assert lines[0] == b"id,digest" and lines[1] == b"1," + hashlib.md5(b"1").hexdigest().encode()
    assert len(lines) == 1 + EXTRACT_ROWS + 1, "every row, once (the final line terminator adds an empty item)"
    assert lines[-2].startswith(f"{EXTRACT_ROWS},".encode())
    [record] = archived_records(result.archive)
    assert record["rows"] == EXTRACT_ROWS and len(record["destinations"]) == 1
