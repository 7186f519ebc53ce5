"""DAG parsing must stay cheap: heavy run-time libraries are imported by the steps, not by the loader."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "definitions"
HEAVY = ("pyarrow", "pandas", "paramiko", "asyncssh", "gnupg", "smbclient", "arrow_odbc")


def test_building_the_example_dags_imports_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "from airflow_batchtasks.dag_factory import load_dags\n"
        f"ns = {{}}; load_dags(ns, {str(EXAMPLES)!r})\n"
        "assert ns, 'no DAG built'\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout
