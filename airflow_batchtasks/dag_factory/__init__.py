"""Definitions -> Airflow DAGs. The public entries are :func:`load_dags` (one loader file) and
:func:`load_shard` (one of the loader files ``airflow batchtasks init --shards N`` writes)."""

from airflow_batchtasks.dag_factory.loader import load_dags
from airflow_batchtasks.dag_factory.shards import load_shard

__all__ = ["load_dags", "load_shard"]
