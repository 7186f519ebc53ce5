"""Airflow names the tests use whose home differs between Airflow 3.1 and 3.2+ (see ``dev/matrix.sh``).

The provider's own moved names are in ``airflow_batchtasks.compat``; this module holds the ones only tests
touch (the scheduler-side DAG serializer), so the provider does not import Airflow-core internals for them.
"""

from __future__ import annotations

try:
    from airflow.serialization.serialized_objects import DagSerialization
except ImportError:  # Airflow 3.1: the same to_dict/from_dict API under its old name
    from airflow.serialization.serialized_objects import SerializedDAG as DagSerialization  # type: ignore[no-redef]

__all__ = ["DagSerialization", "batchtasks_cli", "cron_expression_of", "timezone_name_of"]


def cron_expression_of(timetable: object) -> str:
    """The cron expression of a ``CronTriggerTimetable``: ``expression`` since 3.2, ``_expression`` on 3.1."""
    return getattr(timetable, "expression", None) or timetable._expression  # type: ignore[attr-defined]


def batchtasks_cli() -> list[str]:
    """How to run the provider's commands: ``airflow batchtasks`` (3.2+), the console script's module on 3.1."""
    import sys

    from airflow_batchtasks.compat import AIRFLOW_V_3_2_PLUS

    if AIRFLOW_V_3_2_PLUS:
        return [sys.executable, "-m", "airflow", "batchtasks"]
    return [sys.executable, "-m", "airflow_batchtasks.cli_main"]


def timezone_name_of(timetable: object) -> str:
    """The zone name of a ``CronTriggerTimetable``: ``timezone`` since 3.2, ``_timezone`` on 3.1."""
    zone = getattr(timetable, "timezone", None) or timetable._timezone  # type: ignore[attr-defined]
    return zone.name
