"""FastAPI dependencies: Airflow's session and user, and DAG-level authorization of path targets.

Authentication is Airflow's own ``get_user`` (Bearer JWT from ``/auth/token`` or
the UI's session cookie): no credentials -> 401. Authorization asks Airflow's
auth manager about the DAG named by the path (``{name}`` is a task's or an
orchestration's DAG id): refused -> 403. The aliases below say, per route, which
Airflow permission it needs (the permission table of docs/security.md: read = DAG read, actions = DAG-run
create/edit, definition writes = DAG edit).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.common.db.common import SessionDep
from fastapi import Depends, HTTPException, status

from airflow_batchtasks.plugins.current_user import current_user
from airflow_batchtasks.plugins.data.access import DagAccessEntity, is_authorized

if TYPE_CHECKING:
    from airflow.api_fastapi.auth.managers.base_auth_manager import ResourceMethod

__all__ = [
    "DagAccessEntity",
    "current_user",
    "DagReader",
    "GetUserDep",
    "LogReader",
    "RunCreator",
    "RunDeleter",
    "RunEditor",
    "RunReader",
    "SessionDep",
    "StepEditor",
    "forbid_unless",
]


GetUserDep = Annotated[BaseUser, Depends(current_user)]


def forbid_unless(allowed: bool) -> None:
    if not allowed:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Forbidden")


def requires_dag(method: ResourceMethod, entity: DagAccessEntity | None = None) -> Callable[..., BaseUser]:
    """Dependency: the caller, authorized for ``method`` (on ``entity``) on the DAG of path param ``name``."""

    def check(name: str, user: GetUserDep) -> BaseUser:
        forbid_unless(is_authorized(user, method, [name], entity))
        return user

    return check


DagReader = Annotated[BaseUser, Depends(requires_dag("GET"))]
RunReader = Annotated[BaseUser, Depends(requires_dag("GET", DagAccessEntity.RUN))]
RunCreator = Annotated[BaseUser, Depends(requires_dag("POST", DagAccessEntity.RUN))]
RunEditor = Annotated[BaseUser, Depends(requires_dag("PUT", DagAccessEntity.RUN))]
RunDeleter = Annotated[BaseUser, Depends(requires_dag("DELETE", DagAccessEntity.RUN))]
LogReader = Annotated[BaseUser, Depends(requires_dag("GET", DagAccessEntity.TASK_LOGS))]
StepEditor = Annotated[BaseUser, Depends(requires_dag("PUT", DagAccessEntity.TASK_INSTANCE))]
