"""Airflow names the tests use whose home differs between Airflow 3.1 and 3.2+ (see ``dev/matrix.sh``).

The provider's own moved names are in ``airflow_batchtasks.compat``; this module holds the ones only tests
touch (the scheduler-side DAG serializer), so the provider does not import Airflow-core internals for them.
"""

from __future__ import annotations

try:
    from airflow.serialization.serialized_objects import DagSerialization
except ImportError:  # Airflow 3.1: the same to_dict/from_dict API under its old name
    from airflow.serialization.serialized_objects import SerializedDAG as DagSerialization  # type: ignore[no-redef]

__all__ = ["DagSerialization"]
