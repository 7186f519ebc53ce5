"""Audit entries in Airflow's own log table: written on a connection outside Airflow's pool, masked."""

from __future__ import annotations

import threading

import pytest
from airflow.models.log import Log
from airflow.utils.session import create_session
from sqlalchemy import select

from airflow_batchtasks.plugins.data import audit
from tests.integration.pipeline import migrate_metadata_db

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", autouse=True)
def _metadata_db() -> None:
    migrate_metadata_db()


def _entries(dag_id: str) -> list[str]:
    with create_session() as session:
        return list(session.scalars(select(Log.extra).where(Log.dag_id == dag_id, Log.owner == "op")).all())


def test_an_entry_lands_masked() -> None:
    audit.record("op", "run", dag_id="audit_probe", args="db_password=Probe-Pw-5 region=US")
    [extra] = _entries("audit_probe")
    assert "Probe-Pw-5" not in extra and "db_password=***" in extra and "region=US" in extra


def test_entries_are_written_while_every_pooled_connection_is_held() -> None:
    """What a burst of API actions does: each request holds a pooled session while its entry is written."""
    from airflow import settings

    held = [settings.engine.connect() for _ in range(settings.engine.pool.size() + settings.engine.pool._max_overflow)]
    try:
        writer = threading.Thread(target=audit.record, args=("op", "run"), kwargs={"dag_id": "audit_burst"})
        writer.start()
        writer.join(timeout=10)
        assert not writer.is_alive(), "the entry waited for a pooled connection"
    finally:
        for connection in held:
            connection.close()
    assert len(_entries("audit_burst")) == 1
