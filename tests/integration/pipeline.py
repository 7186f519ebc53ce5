"""Run a batch task definition through Airflow's ``dag.test()`` and report what happened.

Integration tests need the real operators, hooks and servers but not a
scheduler; ``dag.test()`` runs every step in this process against the test
metadata DB. The e2e tests cover the same slice through a real Airflow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_batchtasks.dag_factory.loader import build_dags
from airflow_batchtasks.definitions.catalog import load_catalog


@dataclass
class RunResult:
    state: str
    steps: dict[str, str]
    archive: Path
    run_id: str = ""
    dag_id: str = ""


def migrate_metadata_db() -> None:
    """Create the throwaway metadata DB (SQLite under the tests' AIRFLOW_HOME)."""
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)


def set_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, **fields: Any) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))


def run_definition(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, yaml_text: str, dag_id: str,
                   conf: dict[str, Any] | None = None) -> RunResult:
    """Write ``yaml_text`` as the only definition file, build its DAG and run it once."""
    defs = tmp_path / "definitions"
    defs.mkdir(exist_ok=True)
    (defs / "task.yaml").write_text(yaml_text)
    monkeypatch.setenv("AIRFLOW__BATCHTASKS__STAGING_URL", f"file://{tmp_path}/staging")
    monkeypatch.setenv("AIRFLOW__BATCHTASKS__ARCHIVE_URL", f"file://{tmp_path}/archive")
    monkeypatch.setenv("AIRFLOW__BATCHTASKS__DEFINITIONS_FOLDER", str(defs))
    catalog = load_catalog(defs)
    assert not catalog.errors, [str(e) for e in catalog.errors]
    dag = build_dags(catalog)[dag_id]
    # dag.test() finds the DAG through the DAGs folder bundle, so a loader must be there while it runs.
    dags_folder = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    dags_folder.mkdir(parents=True, exist_ok=True)
    loader = dags_folder / f"batchtasks_{dag_id}.py"
    loader.write_text(f"from airflow_batchtasks.dag_factory import load_dags\nload_dags(globals(), {str(defs)!r})\n")
    try:
        run = dag.test(run_conf=conf)
    finally:
        loader.unlink()
    steps = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    return RunResult(str(run.state), steps, tmp_path / "archive" / dag_id, run.run_id, dag_id)


def xcom(result: RunResult, task_id: str, key: str = "return_value") -> Any:
    """The XCom a step of the run pushed under ``key`` (``None`` if it pushed none)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == result.dag_id, XComModel.run_id == result.run_id,
                XComModel.task_id == task_id, XComModel.key == key,
            )
        ).first()
        return None if row is None else XComModel.deserialize_value(row)


def archived_records(archive: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(archive.rglob("*.record.json"))]
