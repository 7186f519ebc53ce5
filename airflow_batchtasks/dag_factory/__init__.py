"""Definitions -> Airflow DAGs. The public entry is :func:`load_dags`."""

from airflow_batchtasks.dag_factory.loader import load_dags

__all__ = ["load_dags"]
