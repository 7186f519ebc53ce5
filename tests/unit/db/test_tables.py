"""The provider's own tables: made by ``airflow db migrate`` through the DB manager, migrations equal to models.

Airflow builds a *new* database from the table models and stamps it with the head; only an
*existing* one goes through the migration files. So a migration that drifts from the models
stays unseen until a user upgrades: the comparison below runs the migrations on an empty
database and diffs the result against the models with Alembic's autogenerate.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from airflow import settings
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.orm import Session

from airflow_batchtasks.db.manager import BatchTasksDBManager, TablesNotMigrated, ensure_migrated
from airflow_batchtasks.db.tables import metadata

OURS = set(metadata.tables)
VERSION_TABLE = BatchTasksDBManager.version_table_name


def head() -> str:
    [only] = BatchTasksDBManager(None).get_script_object().get_heads()
    return only


def discovers_provider_db_managers() -> bool:
    """Airflow 3.3 runs every provider's ``db-managers``; 3.1 only those in ``[database] external_db_managers``."""
    from airflow.providers_manager import ProvidersManager

    return hasattr(ProvidersManager, "db_managers")


def version_of(db: Path) -> str | None:
    with sqlite3.connect(db) as conn:
        try:
            return conn.execute(f"select version_num from {VERSION_TABLE}").fetchone()[0]
        except sqlite3.OperationalError:
            return None


def tables_of(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")}


def test_airflow_db_migrate_on_a_fresh_database_creates_them_through_the_db_manager(tmp_path: Path) -> None:
    db = tmp_path / "airflow.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(AIRFLOW_HOME=str(tmp_path), AIRFLOW__CORE__LOAD_EXAMPLES="False",
               AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{db}")
    if not discovers_provider_db_managers():  # the documented setting on Airflow 3.1
        env["AIRFLOW__DATABASE__EXTERNAL_DB_MANAGERS"] = "airflow_batchtasks.db.manager.BatchTasksDBManager"
    done = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert tables_of(db) >= OURS, "batchtasks_file and batchtasks_file_scan exist"
    assert version_of(db) == head(), "stamped by the provider's DB manager with its own version table"


@pytest.fixture
def scratch_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Session]]:
    """An empty SQLite database that Airflow's settings (and so the migrations' env.py) point at."""
    db = tmp_path / "scratch.db"
    engine = sa.create_engine(f"sqlite:///{db}")
    monkeypatch.setattr(settings, "engine", engine)
    monkeypatch.setattr(settings, "SQL_ALCHEMY_CONN", f"sqlite:///{db}")
    with Session(engine) as session:
        yield db, session
    engine.dispose()


def test_the_migrations_build_exactly_the_tables_the_models_describe(scratch_db: tuple[Path, Session]) -> None:
    db, session = scratch_db
    config = BatchTasksDBManager(session).get_alembic_config()
    command.upgrade(config, "heads")  # the migration files, from nothing (what an upgrade runs)
    assert version_of(db) == head()
    with settings.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={
            "compare_type": True, "compare_server_default": True,
            "include_object": lambda _obj, name, type_, *_: type_ != "table" or name in OURS,
        })
        drift = compare_metadata(context, metadata)
    assert drift == [], f"the migrations and db/tables.py disagree: {drift}"


def test_a_fresh_database_is_created_and_stamped_not_left_unversioned(scratch_db: tuple[Path, Session]) -> None:
    db, session = scratch_db
    ensure_migrated(session)
    assert tables_of(db) >= OURS
    assert version_of(db) == head(), "a later `airflow db migrate` knows which migrations already ran"


def test_tables_an_older_release_made_without_a_version_are_stamped_then_migrated(
    scratch_db: tuple[Path, Session],
) -> None:
    db, session = scratch_db
    metadata.create_all(settings.engine)  # what ensure_tables did before: tables, no version
    assert version_of(db) is None
    ensure_migrated(session)
    assert version_of(db) == head()


@pytest.fixture
def broken_manager(tmp_path: Path) -> type[BatchTasksDBManager]:
    """The provider's DB manager with one more migration, which fails (a typo in a table name)."""
    migrations = tmp_path / "migrations"
    shutil.copytree(Path(BatchTasksDBManager.migration_dir), migrations,
                    ignore=shutil.ignore_patterns("__pycache__"))
    (migrations / "versions" / "0099_broken.py").write_text(
        f'"""A migration that fails."""\n'
        f"import sqlalchemy as sa\nfrom alembic import op\n\n"
        f'revision = "bt0099"\ndown_revision = "{head()}"\nbranch_labels = None\ndepends_on = None\n\n\n'
        f"def upgrade():\n    op.add_column(\"batchtasks_fiel\", sa.Column(\"note\", sa.Text))\n\n\n"
        f"def downgrade():\n    pass\n"
    )

    class Broken(BatchTasksDBManager):
        migration_dir = migrations.as_posix()

    return Broken


def test_a_broken_migration_is_an_error_not_hidden_by_tables_from_the_models(
    scratch_db: tuple[Path, Session], broken_manager: type[BatchTasksDBManager],
) -> None:
    db, session = scratch_db
    ensure_migrated(session)  # a database of the previous release, at its head
    with pytest.raises(TablesNotMigrated) as failure:
        ensure_migrated(session, broken_manager)
    message = str(failure.value)
    assert f"could not be migrated from revision {head()}" in message and "batchtasks_fiel" in message
    assert "airflow db migrate" in message
    assert version_of(db) == head(), "still at the revision it really has"
