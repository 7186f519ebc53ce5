"""The REST API (``/batchtasks/api/v1``): thin routes over :mod:`airflow_batchtasks.plugins.data`."""
