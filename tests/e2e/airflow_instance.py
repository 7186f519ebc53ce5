"""The real-Airflow harness for e2e tests.

The implementation lives in ``dev/airflow_runner.py`` because ``dev/demo.py`` uses it too and must not import
from ``tests/``; this module only re-exports it under the name the tests use.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

_REPO = str(Path(__file__).resolve().parents[2])
if _REPO not in sys.path:  # `pytest` (unlike `python -m pytest`) does not put the repo root on sys.path
    sys.path.insert(0, _REPO)

from dev.airflow_runner import (  # noqa: E402
    COMPONENTS,
    PASSWORDS,
    USERS,
    AirflowError,
    AirflowInstance,
    free_port,
    port_is_free,
)

#: Type of the ``start_airflow`` fixture: ``start_airflow(dags_folder, env=None, **kw) -> AirflowInstance``.
StartAirflow = Callable[..., AirflowInstance]

__all__ = [
    "COMPONENTS",
    "PASSWORDS",
    "USERS",
    "AirflowError",
    "AirflowInstance",
    "StartAirflow",
    "free_port",
    "port_is_free",
]
