"""``[batchtasks] local_roots`` at run time: with roots set, a `local` path outside every root fails the step.

Each test runs a definition for real (``dag.test()``, real folders on this machine) and checks what
landed where. The probe is the hole the setting closes: a plain SQL task whose output is named
``x.py`` and delivered to the DAGs folder is Python the dag-processor will run; a `file` source with
a `local` path reads any file the worker can read (``airflow.cfg``) into the archive. With roots set,
both fail at once (not retryable) with the reason recorded, and nothing is written or archived.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from airflow_batchtasks.operators.step_failure import read_failure
from tests.integration.pipeline import archived_records, migrate_metadata_db, run_definition, set_connection

pytestmark = pytest.mark.integration

PYTHON_TEXT = "print('owned')"


@pytest.fixture(scope="module", autouse=True)
def _metadata_db() -> None:
    migrate_metadata_db()


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table code (line text)")
        conn.execute("insert into code values (?)", (PYTHON_TEXT,))
    set_connection(monkeypatch, "shop", conn_type="sqlite", host=str(db))


def _sql_task(name: str, folder: Path | str) -> str:
    return (f"kind: task\nname: {name}\nschedule: none\n"
            "source: {type: sql, conn_id: shop, query: 'select line from code', include_headers: false}\n"
            f"output: {{name: x.py}}\ndestinations: [{{type: local, path: '{folder}'}}]\n")


def _file_task(name: str, path: Path, out: Path) -> str:
    return (f"kind: task\nname: {name}\nschedule: none\n"
            f"source: {{type: file, location: {{type: local, path: '{path}'}}}}\n"
            f"output: {{format: keep}}\ndestinations: [{{type: local, path: '{out}'}}]\n")


def test_a_delivery_outside_every_root_fails_without_retry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shop: None
) -> None:
    dags, outbox = tmp_path / "dags_folder", tmp_path / "outbox"
    dags.mkdir()
    monkeypatch.setenv("AIRFLOW__BATCHTASKS__LOCAL_ROOTS", f"{outbox},{tmp_path / 'elsewhere'}")

    result = run_definition(tmp_path, monkeypatch, _sql_task("to_dags", dags), "to_dags")

    assert result.steps.get("deliver") == "failed", result.steps
    failure = read_failure(result.dag_id, result.run_id, "deliver")
    assert failure is not None and failure["retryable"] is False
    # "[batchtasks]" itself may read "[***]": the test servers' password is a word of it, masked in records
    assert f"destinations[0].path: local path `{dags}` is outside [" in failure["error"]
    assert "] local_roots (" in failure["error"]
    assert list(dags.iterdir()) == [], "no x.py in the DAGs folder"
    assert archived_records(result.archive) == [], "refused before archiving"

    inside = run_definition(tmp_path, monkeypatch, _sql_task("to_outbox", outbox / "vendor"), "to_outbox")
    assert inside.state == "success", inside.steps
    assert (outbox / "vendor" / "x.py").read_text().strip() == PYTHON_TEXT


def test_a_local_file_source_outside_every_root_fails_without_retry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, outbox, private = tmp_path / "inbox", tmp_path / "outbox", tmp_path / "home"
    for folder in (inbox, outbox, private):
        folder.mkdir()
    (private / "airflow.cfg").write_text("[database]\nsql_alchemy_conn = postgresql://etl:s3cret@db/airflow\n")
    (inbox / "sales.csv").write_text("id\n1\n")
    (inbox / "cfg.csv").symlink_to(private / "airflow.cfg")  # a link inside a root to a file outside
    monkeypatch.setenv("AIRFLOW__BATCHTASKS__LOCAL_ROOTS", f"{inbox},{outbox}")

    for name, path in (("read_cfg", private / "airflow.cfg"), ("read_link", inbox / "cfg.csv")):
        result = run_definition(tmp_path, monkeypatch, _file_task(name, path, outbox), name)
        assert result.steps["extract"] == "failed", (name, result.steps)
        failure = read_failure(result.dag_id, result.run_id, "extract")
        assert failure is not None and failure["retryable"] is False, failure
        assert "is outside [" in failure["error"] and "] local_roots (" in failure["error"]
        assert "s3cret" not in failure["error"]
    assert list(outbox.iterdir()) == [] and archived_records(tmp_path / "archive") == []

    ok = run_definition(tmp_path, monkeypatch, _file_task("read_sales", inbox / "sales.csv", outbox), "read_sales")
    assert ok.state == "success", ok.steps
    assert (outbox / "sales.csv").read_text() == "id\n1\n"


def test_without_roots_local_paths_work_as_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shop: None) -> None:
    """Backwards compatible: a definition a trusted author put in the folder may write where it says."""
    monkeypatch.delenv("AIRFLOW__BATCHTASKS__LOCAL_ROOTS", raising=False)
    anywhere = tmp_path / "anywhere"
    result = run_definition(tmp_path, monkeypatch, _sql_task("no_roots", anywhere), "no_roots")
    assert result.state == "success", result.steps
    assert (anywhere / "x.py").exists()
