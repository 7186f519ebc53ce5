"""The OpenLineage provider stays optional: building DAGs and importing the steps never imports it."""

from __future__ import annotations

import subprocess
import sys

MODULES = ("airflow_batchtasks.lineage.steps", "airflow_batchtasks.operators.sql", "airflow_batchtasks.operators.file",
           "airflow_batchtasks.operators.http", "airflow_batchtasks.operators.process",
           "airflow_batchtasks.operators.package", "airflow_batchtasks.operators.deliver",
           "airflow_batchtasks.dag_factory.task_dag")


def test_steps_import_no_openlineage_code() -> None:
    code = (
        f"import importlib, sys\nfor m in {MODULES!r}: importlib.import_module(m)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'openlineage' "
        "or m.startswith(('airflow.providers.openlineage.extractors', 'airflow.providers.openlineage.sqlparser'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout
