"""Batch tasks declared in YAML, run as Airflow 3 DAGs."""
