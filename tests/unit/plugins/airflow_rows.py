"""Rows for Airflow's own tables in unit tests, fitted to the installed Airflow version (3.1 to 3.3).

The tables differ between versions: 3.2 added columns (``dag.fail_fast``, ``dag.exceeds_max_non_backfill``)
that 3.1 does not have, and 3.1 stores ``task_instance.id`` as text where 3.2+ store a UUID. Tests write
their rows once, for the newest version; this keeps only the columns the installed table has and gives
each value the Python type its column binds.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Table


def fit(table: Table, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` without the columns ``table`` lacks, a UUID as text where the column stores text."""
    out = {}
    for name, value in values.items():
        if name not in table.c:
            continue
        if isinstance(value, uuid.UUID) and _python_type(table.c[name].type) is str:
            value = str(value)
        out[name] = value
    return out


def _python_type(column_type: Any) -> type | None:
    try:
        return column_type.python_type
    except NotImplementedError:
        return None
