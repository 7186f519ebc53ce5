"""``airflow batchtasks import memority``: run as a user runs it, then ``airflow batchtasks validate`` on the output."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.airflow_compat import batchtasks_cli

FIXTURES = Path(__file__).parent / "fixtures"
TASK = "kind: task\nname: {}\nsource: {{type: sql, conn_id: db, query: select 1}}\n"


@pytest.fixture
def run(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "_AIRFLOW"))}
    env.update(AIRFLOW_HOME=str(tmp_path / "home"), AIRFLOW__CORE__LOAD_EXAMPLES="False",
               AIRFLOW__BATCHTASKS__DEFINITIONS_FOLDER=str(tmp_path / "configured"))

    def _run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*batchtasks_cli(), *args], capture_output=True, text=True, env=env, timeout=180,
                              check=False)

    return _run


def test_import_then_validate(run, tmp_path: Path) -> None:
    out = tmp_path / "defs"
    out.mkdir()
    (out / "tasks.yaml").write_text("---\n".join(TASK.format(t) for t in ("test_exportTaskId", "test_importTaskId")))

    imported = run("import", "memority", str(FIXTURES / "sample.xml"), "--out", str(out))

    assert imported.returncode == 0, imported.stderr
    written = out / "sample_orchestration_task.yaml"
    assert f"written: {written} (orchestration `sample_orchestration_task`, 2 step(s)" in imported.stdout
    assert "must be defined (kind: task): test_exportTaskId, test_importTaskId" in imported.stdout
    assert f"{FIXTURES / 'sample.xml'}:14: note: orchestratedTasks/orchestratedTask[1]/taskType:" in imported.stderr
    validated = run("validate", "--no-connections", str(out))
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert validated.stdout.splitlines()[-1] == f"OK: {out}: 0 project(s), 2 task(s), 1 orchestration(s)"


def test_validate_names_the_tasks_still_to_define(run, tmp_path: Path) -> None:
    out = tmp_path / "defs"

    assert run("import", "memority", str(FIXTURES / "sample.xml"), "--out", str(out)).returncode == 0
    validated = run("validate", "--no-connections", str(out))

    assert validated.returncode == 1
    assert f"{out}/sample_orchestration_task.yaml:" in validated.stdout
    assert "unknown task `test_exportTaskId`" in validated.stdout


def test_default_output_is_the_configured_definitions_folder_and_nothing_is_overwritten(run, tmp_path: Path) -> None:
    configured = tmp_path / "configured"

    first = run("import", "memority", str(FIXTURES / "export_many.xml"))
    assert first.returncode == 0, first.stderr
    assert sorted(p.name for p in configured.iterdir()) == ["nightly_identity_sync.yaml", "weekly_reconciliation.yaml"]
    assert "export_many.xml:53: warning: SynchronizationTaskDefinition: not an OrchestrationTaskDefinition" \
        in first.stderr

    (configured / "weekly_reconciliation.yaml").write_text("# edited by hand\n")
    (configured / "nightly_identity_sync.yaml").unlink()
    again = run("import", "memority", str(FIXTURES / "export_many.xml"))
    assert again.returncode == 1
    assert f"error: {configured / 'weekly_reconciliation.yaml'} already exist(s): nothing written; use --force" \
        in again.stderr
    assert not (configured / "nightly_identity_sync.yaml").exists()  # all or nothing
    assert (configured / "weekly_reconciliation.yaml").read_text() == "# edited by hand\n"

    forced = run("import", "memority", str(FIXTURES / "export_many.xml"), "--force")
    assert forced.returncode == 0, forced.stderr
    assert (configured / "weekly_reconciliation.yaml").read_text().startswith("# Imported from Memority")


def test_bad_xml_is_one_clear_error(run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text('<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY a "aaaa">]>\n<x>&a;</x>\n')

    result = run("import", "memority", str(bad), "--out", str(tmp_path / "out"))

    assert result.returncode == 1
    assert result.stderr.startswith(f"error: {bad}:2: a DOCTYPE (document type declaration) is refused")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_an_output_that_is_not_a_folder_is_one_clear_error(run, tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file.txt"
    not_a_folder.write_text("x")

    result = run("import", "memority", str(FIXTURES / "sample.xml"), "--out", str(not_a_folder))

    assert result.returncode == 1
    assert f"error: cannot write into {not_a_folder}:" in result.stderr
    assert "Traceback" not in result.stderr
