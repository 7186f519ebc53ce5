"""Index a task run's archived files as soon as the run ends (Airflow listener).

Workers cannot write the metadata database, so the file-history index
(:mod:`airflow_batchtasks.plugins.data.files`) is filled by whoever can: the
API server on read, and this listener in the process that ends a run (the
scheduler, or the API server for a run a user set failed). With it, the
first read of a task's history or runs finds its finished runs already
indexed instead of paying the archive scan.

The work runs on one background thread: the hooks are called inside the
scheduler's loop (sometimes inside its transaction), which must not wait for
an archive listing or contend for SQLite's write lock. A failure is logged
and costs nothing but the head start: the API indexes on read anyway.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from airflow.listeners import hookimpl

log = logging.getLogger(__name__)

_executor: ThreadPoolExecutor | None = None


def _submit(dag_id: str) -> None:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batchtasks-index")
    _executor.submit(_index, dag_id)


def _index(dag_id: str) -> None:
    try:
        from airflow.models.dag import DagTag
        from airflow.utils.session import create_session
        from sqlalchemy import select

        from airflow_batchtasks.naming import is_batch_task_dag
        from airflow_batchtasks.plugins.data import files

        with create_session() as session:
            tags = set(session.scalars(select(DagTag.name).where(DagTag.dag_id == dag_id)).all())
            if not is_batch_task_dag(dag_id, tags):
                return
            files.sync(session, dag_id)
    except Exception:
        log.exception("could not index the archived files of %s (the API will on its next read)", dag_id)


@hookimpl
def on_dag_run_success(dag_run: Any, msg: str) -> None:
    _submit(dag_run.dag_id)


@hookimpl
def on_dag_run_failed(dag_run: Any, msg: str) -> None:
    _submit(dag_run.dag_id)
