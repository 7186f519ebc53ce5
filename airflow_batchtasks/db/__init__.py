"""The provider's own tables in Airflow's metadata database (the file-history index).

Declared to Airflow through ``db-managers`` in provider info, so ``airflow db migrate``
creates and upgrades them with the provider's own Alembic history and version table.
"""
