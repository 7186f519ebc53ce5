"""The code behind Airflow's own dagRun endpoints, for each supported Airflow (3.1 to 3.3).

Used where Airflow's metadata database may be written (the API server and the
``airflow batchtasks orchestration`` CLI): by the plugin's actions and by
orchestration instances; next to ``compat`` because both hide the differences
between Airflow versions.

Airflow 3.3 moved the bodies of its trigger, set-state, clear and note endpoints
into ``api_fastapi.core_api.services.public.dag_run``; 3.1 and 3.2 inline them
in the routes. The actions call these functions, which use 3.3's services when
they exist and otherwise do exactly what the 3.1/3.2 route does, so on every
version a run queued, skipped or retried here is the run Airflow's own REST API
would have made.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
    from airflow.models.dagrun import DagRun
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)


def create_manual_run(dag: Any, conf: dict[str, Any], user: BaseUser, session: Session) -> DagRun:
    """``POST /api/v2/dags/{dag_id}/dagRuns`` with no logical date, as ``user``, from the REST API."""
    from airflow.api_fastapi.core_api.datamodels.dag_run import TriggerDAGRunPostBody
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType

    ctx = TriggerDAGRunPostBody(logical_date=None, conf=conf).validate_context(dag)
    # partitions exist from 3.2 (key) and 3.3 (date): pass what this Airflow's trigger passes
    partition = {k: ctx[k] for k in ("partition_key", "partition_date") if k in ctx}
    return dag.create_dagrun(
        run_id=ctx["run_id"],
        logical_date=ctx["logical_date"],
        data_interval=ctx["data_interval"],
        run_after=ctx["run_after"],
        conf=ctx["conf"],
        run_type=DagRunType.MANUAL,
        triggered_by=DagRunTriggeredByType.REST_API,
        triggering_user_name=user.get_name(),
        state=DagRunState.QUEUED,
        session=session,
        **partition,
    )


def fail_run(dag: Any, run: DagRun, session: Session) -> None:
    """``PATCH .../dagRuns/{id}`` with ``state=failed``: running steps failed, the others skipped."""
    try:
        from airflow.api_fastapi.core_api.datamodels.dag_run import DagRunMutableStates
        from airflow.api_fastapi.core_api.services.public.dag_run import patch_dag_run_state
    except ImportError:  # Airflow 3.1 / 3.2: the route's own body
        from airflow.api.common.mark_tasks import set_dag_run_state_to_failed
        from airflow.listeners.listener import get_listener_manager

        set_dag_run_state_to_failed(dag=dag, run_id=run.run_id, commit=True, session=session)
        try:
            get_listener_manager().hook.on_dag_run_failed(dag_run=run, msg="")
        except Exception:
            log.exception("error calling listener")
        return
    patch_dag_run_state(dag=dag, dag_run=run, state=DagRunMutableStates.FAILED, session=session)


def clear_run(dag: Any, run: DagRun, user: BaseUser, session: Session) -> None:
    """``POST .../dagRuns/{id}/clear`` of every step (not only the failed ones)."""
    try:
        from airflow.api_fastapi.core_api.services.public.dag_run import perform_clear_dag_run
    except ImportError:  # Airflow 3.1 / 3.2
        dag.clear(run_id=run.run_id, task_ids=None, only_failed=False, run_on_latest_version=False, session=session)
        return
    perform_clear_dag_run(
        session=session, dag=dag, dag_run=run, dag_id=run.dag_id, only_failed=False, only_new=False,
        run_on_latest_version=None, note=None, user=user,
    )


def set_note(run: DagRun, text: str, user: BaseUser | None) -> None:
    """The run's note, as ``PATCH .../dagRuns/{id}`` with a ``note`` sets it.

    ``user`` is None for actions no Airflow user made (the orchestration CLI):
    the note is then written unattributed, as Airflow's own model allows.
    """
    if user is not None:
        try:
            from airflow.api_fastapi.core_api.services.public.dag_run import patch_dag_run_note
        except ImportError:  # Airflow 3.1 / 3.2: the route's own body, below
            pass
        else:
            patch_dag_run_note(dag_run=run, note=text, user=user)
            return
    if run.dag_run_note is None:
        run.note = (text, user.get_id() if user is not None else None)
    else:
        run.dag_run_note.content = text
        if user is not None:  # an unattributed change keeps the note's author
            run.dag_run_note.user_id = user.get_id()
