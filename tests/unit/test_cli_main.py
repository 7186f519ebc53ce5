"""The ``airflow-batchtasks`` console script: the provider's commands where ``airflow batchtasks`` is missing.

Airflow 3.1 has no provider CLI (the provider-info ``cli`` key came with 3.2), so the script is the only
way to run ``validate``/``init``/... there; these tests run it the way a user would.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(sys.executable).parent / "airflow-batchtasks"


def _run(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    assert SCRIPT.exists(), "console script missing: `uv sync` installs the project with its [project.scripts]"
    env = {"PATH": str(SCRIPT.parent), "AIRFLOW_HOME": str(tmp_path / "home"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=120, check=False)


def test_validate_reports_errors_with_exit_code(tmp_path: Path) -> None:
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.mkdir()
    bad.mkdir()
    task = "kind: task\nname: t\nsource: {type: sql, conn_id: db, query: select 1}\n"
    (good / "t.yaml").write_text(task)
    (bad / "t.yaml").write_text(task + "queues: {x: q}\n")

    ok = _run("validate", "--no-connections", str(good), tmp_path=tmp_path)
    broken = _run("validate", "--no-connections", str(bad), tmp_path=tmp_path)

    assert ok.returncode == 0, ok.stderr
    assert "1 task(s)" in ok.stdout
    assert broken.returncode == 1
    assert f"{bad}/t.yaml:4: queues.x" in broken.stdout + broken.stderr


def test_schema_and_init(tmp_path: Path) -> None:
    schema = _run("schema", tmp_path=tmp_path)
    dags = tmp_path / "dags"

    init = _run("init", "--dags-folder", str(dags), tmp_path=tmp_path)

    assert "queues" in json.loads(schema.stdout)["$defs"]["Task"]["properties"]
    assert init.returncode == 0, init.stderr
    assert "load_dags(globals())" in (dags / "batchtasks_dags.py").read_text()


def test_unknown_command_is_an_argparse_error(tmp_path: Path) -> None:
    result = _run("frobnicate", tmp_path=tmp_path)

    assert result.returncode == 2
    assert "invalid choice" in result.stderr
