"""AirflowPlugin registration; also exposed through the ``airflow.plugins`` entry point.

The operations API and pages (FastAPI app, external views) are not built yet;
the plugin already registers the date helpers as Jinja macros so
``{{ macros.batchtasks.yesterday() }}`` works in any DAG, not only generated ones.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from airflow_batchtasks.definitions import date_helpers


class BatchTasksPlugin(AirflowPlugin):
    name = "batchtasks"
    macros = [date_helpers]
