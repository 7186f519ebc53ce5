"""Airflow DB manager of the provider's tables (``db-managers`` in provider info).

Airflow 3 runs every provider DB manager during ``airflow db migrate`` (create from
the tables + stamp on a new database, Alembic upgrade otherwise) and drops the
tables on ``airflow db reset``, exactly as for the fab and edge3 providers.
"""

from __future__ import annotations

from pathlib import Path

from airflow.utils.db_manager import BaseDBManager

from airflow_batchtasks.db.tables import metadata

_HERE = Path(__file__).parent


class BatchTasksDBManager(BaseDBManager):
    """Creates and migrates the file-history index tables."""

    metadata = metadata
    version_table_name = "alembic_version_batchtasks"
    migration_dir = (_HERE / "migrations").as_posix()
    alembic_file = (_HERE / "alembic.ini").as_posix()
    supports_table_dropping = True
    revision_heads_map = {"0.1.0": "bt0001"}
