"""The demo (dev/demo.py) end to end: real Airflow, example definitions, `airflow batchtasks init`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.airflow_instance import free_port

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def test_demo_once(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env["DEMO_ROOT"] = str(tmp_path / "demo")  # never share <repo>/.demo with a developer's running demo
    result = subprocess.run(
        [sys.executable, "-m", "dev.demo", "--once", "--port", str(free_port())],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Run finished: success" in output, output
    delivered = [
        line.split(": ", 1)[1] for line in output.splitlines() if line.startswith("Delivered file: ")
    ]
    assert delivered and all(Path(p).is_relative_to(tmp_path / "demo" / "outbox") for p in delivered), output
    assert "Airflow UI: http://127.0.0.1:" in output
