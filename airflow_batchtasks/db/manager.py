"""Airflow DB manager of the provider's tables (``db-managers`` in provider info).

Airflow 3 runs every provider DB manager during ``airflow db migrate`` (create from
the tables + stamp on a new database, Alembic upgrade otherwise) and drops the
tables on ``airflow db reset``, exactly as for the fab and edge3 providers.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from airflow.utils.db_manager import BaseDBManager
from alembic import command
from sqlalchemy import inspect
from sqlalchemy.exc import DBAPIError

from airflow_batchtasks.db.tables import metadata

_HERE = Path(__file__).parent
_MANAGER_PATH = "airflow_batchtasks.db.manager.BatchTasksDBManager"
log = logging.getLogger(__name__)


class BatchTasksDBManager(BaseDBManager):
    """Creates and migrates the file-history index tables."""

    metadata = metadata
    version_table_name = "alembic_version_batchtasks"
    migration_dir = (_HERE / "migrations").as_posix()
    alembic_file = (_HERE / "alembic.ini").as_posix()
    supports_table_dropping = True
    revision_heads_map = {"0.1.0": "bt0001"}


class TablesNotMigrated(RuntimeError):
    """The provider's tables are not at the migrations' head and migrating them failed (message says how to fix)."""


def ensure_migrated(session: Any, manager_class: type[BaseDBManager] | None = None) -> None:
    """Bring the provider's tables to the migrations' head through the DB manager, or raise.

    Why here and not only in ``airflow db migrate``: Airflow 3.1 runs provider DB managers
    only when ``[database] external_db_managers`` names them, so a deployment that did not
    set it reaches the first file-history read with no tables. What runs then is exactly what
    ``airflow db migrate`` would run (create and stamp on a new database, the Alembic
    migrations on an older one), never a bare ``create_all``: a migration that fails or
    leaves the version behind raises :class:`TablesNotMigrated` instead of being papered
    over with tables made from the models, which would hide it until the next upgrade.

    :param manager_class: the DB manager (default :class:`BatchTasksDBManager`)
    """
    manager_class = manager_class or BatchTasksDBManager
    manager = manager_class(session)
    if manager.check_migration():
        return
    current = manager.get_current_revision()
    log.warning(
        "batchtasks tables at revision %s, code expects %s: migrating them now with %s "
        "(on Airflow 3.1 add it to [database] external_db_managers so `airflow db migrate` does it)",
        current or "none (no tables yet)",
        ", ".join(manager.get_script_object().get_heads()),
        f"{manager_class.__module__}.{manager_class.__qualname__}",
    )
    try:
        _migrate(manager, current)
        session.commit()
    except DBAPIError as exc:
        # Another process (the scheduler's listener, a second API worker) may have migrated first.
        session.rollback()
        if not manager_class(session).check_migration():
            raise TablesNotMigrated(_not_migrated(current, exc)) from exc
        return
    except Exception as exc:
        session.rollback()
        raise TablesNotMigrated(_not_migrated(current, exc)) from exc
    if not manager.check_migration():
        raise TablesNotMigrated(_not_migrated(current, "the version table is still not at the head"))


def _migrate(manager: BaseDBManager, current: str | None) -> None:
    """What ``airflow db migrate`` does for this manager, on every supported Airflow.

    Tables without a version (made by a bare ``create_all`` of an older release) are
    stamped with the first revision, whose shape they have, then upgraded: stamping them
    with the head would declare migrations done that never ran.
    """
    existing = set(inspect(manager.session.get_bind()).get_table_names())
    if current is None and existing & set(manager.metadata.tables):
        base = next(r.revision for r in manager.get_script_object().walk_revisions() if r.down_revision is None)
        command.stamp(manager.get_alembic_config(), base)
        current = base
    if current is None:
        manager.initdb()  # a new database: tables from the models, stamped with the head
    else:
        manager.upgradedb()


def _not_migrated(current: str | None, why: object) -> str:
    return (
        f"the batchtasks tables could not be migrated from revision {current or 'none'}: {why}. "
        f"Run `airflow db migrate` (on Airflow 3.1 with [database] external_db_managers = {_MANAGER_PATH})"
    )
