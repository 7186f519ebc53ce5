"""AirflowPlugin registration; also exposed through the ``airflow.plugins`` entry point.

The plugin mounts the provider's FastAPI app at ``/batchtasks`` on the API server
(REST API under ``/batchtasks/api/v1``; the app is built on its first request,
see ``plugins/app.py``), a listener that indexes archived files when a task
run ends (``plugins/listeners.py``), and registers the date helpers as Jinja macros so
``{{ macros.batchtasks.yesterday() }}`` works in any DAG, not only generated ones.
The pages (``/batchtasks/ui``) appear in Airflow's navigation as "Batch Tasks"
through ``external_views`` (Airflow shows them in an iframe on its own origin).
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from airflow_batchtasks.definitions import date_helpers
from airflow_batchtasks.plugins import listeners as file_index_listener
from airflow_batchtasks.plugins.app import app as batchtasks_app


def _under_base(path: str) -> str:
    """``path`` below Airflow's ``[api] base_url`` path: the iframe's src is used as given, no prefix added."""
    from urllib.parse import urlsplit

    from airflow.configuration import conf

    return urlsplit(conf.get("api", "base_url", fallback="") or "").path.rstrip("/") + path


class BatchTasksPlugin(AirflowPlugin):
    name = "batchtasks"
    macros = [date_helpers]
    listeners = [file_index_listener]  # indexes archived files when a task run ends
    fastapi_apps = [{"app": batchtasks_app, "url_prefix": "/batchtasks", "name": "Batch Tasks"}]
    external_views = [
        {
            "name": "Batch Tasks",
            "href": _under_base("/batchtasks/ui/tasks"),
            "destination": "nav",
            "url_route": "batch-tasks",
            "nav_top_level": True,
            "icon": _under_base("/batchtasks/ui/static/icon.svg"),
            "icon_dark_mode": _under_base("/batchtasks/ui/static/icon-dark.svg"),
        }
    ]
