"""Authorization through Airflow's auth manager, shared by the API routes and the pages.

Every decision is Airflow's: ``is_authorized_dag`` on the DAG a request touches
(a task's DAG is the task name, an orchestration's DAG is its name, a project's
is ``project__<name>`` plus its tasks' DAGs), so whatever auth manager the
deployment uses (simple, FAB, Keycloak...) governs our routes like Airflow's own.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.resource_details import (
    ConnectionDetails,
    DagAccessEntity,
    DagDetails,
)
from airflow.models.dag import DagModel

from airflow_batchtasks.plugins.data.errors import DataError

if TYPE_CHECKING:
    from airflow.api_fastapi.auth.managers.base_auth_manager import ResourceMethod
    from airflow.api_fastapi.auth.managers.models.base_user import BaseUser

__all__ = [
    "DagAccessEntity",
    "MissingRight",
    "allowed_dag_ids",
    "can_access_all_dags",
    "can_edit_connection",
    "can_read_variables",
    "is_authorized",
    "listed_dag_ids",
    "readable_dag_ids",
]


class MissingRight(DataError):
    """403 whose message names the permission that is missing (a page shows it next to the form)."""

    status_code = 403


def is_authorized(
    user: BaseUser,
    method: ResourceMethod,
    dag_ids: Iterable[str],
    entity: DagAccessEntity | None = None,
) -> bool:
    """Whether ``user`` may do ``method`` on every DAG of ``dag_ids`` (team-aware, like Airflow's routes)."""
    ids = list(dict.fromkeys(dag_ids))
    if not ids:
        return can_access_all_dags(user, method, entity)
    teams = _teams(ids)
    return get_auth_manager().batch_is_authorized_dag(
        [
            {"method": method, "access_entity": entity, "details": DagDetails(id=i, team_name=teams.get(i))}
            for i in ids
        ],
        user=user,
    )


def _teams(dag_ids: list[str]) -> dict[str, str | None]:
    """Each DAG's team, as Airflow's own checks pass it (one query on 3.2+, one per DAG on 3.1)."""
    mapping = getattr(DagModel, "get_dag_id_to_team_name_mapping", None)
    if mapping is not None:
        return mapping(dag_ids)
    return {dag_id: DagModel.get_team_name(dag_id) for dag_id in dag_ids}


def can_access_all_dags(user: BaseUser, method: ResourceMethod, entity: DagAccessEntity | None = None) -> bool:
    """``is_authorized_dag`` without details: Airflow's question for "all DAGs"."""
    return get_auth_manager().is_authorized_dag(method=method, access_entity=entity, user=user)


def readable_dag_ids(user: BaseUser, method: ResourceMethod = "GET") -> set[str] | None:
    """DAG ids ``user`` may access with ``method``, or None when they may access every DAG (no filter needed)."""
    if can_access_all_dags(user, method):
        return None
    return get_auth_manager().get_authorized_dag_ids(user=user, method=method)


def listed_dag_ids(user: BaseUser, method: ResourceMethod = "GET") -> set[str]:
    """The DAG ids ``user`` may access with ``method``, always as the auth manager's list (for lists of rows).

    Not :func:`readable_dag_ids`' "None = every DAG" shortcut: under FAB, ``is_authorized_dag`` without
    details answers whether the user may list DAGs at all (true with read on a single ``DAG:<id>``), so
    a list filtered by that shortcut would show every DAG's rows to such a user. Airflow's own list
    endpoints filter by this list too.
    """
    return get_auth_manager().get_authorized_dag_ids(user=user, method=method)


def allowed_dag_ids(
    user: BaseUser, method: ResourceMethod, dag_ids: Iterable[str], entity: DagAccessEntity | None = None
) -> set[str]:
    """The subset of ``dag_ids`` ``user`` may ``method`` (pages hide the buttons of the others).

    One question for "all DAGs" first, so admins and users pay one call per page, not one per row.
    """
    ids = list(dict.fromkeys(dag_ids))
    if not ids or can_access_all_dags(user, method, entity):
        return set(ids)
    return {i for i in ids if is_authorized(user, method, [i], entity)}


def can_edit_connection(user: BaseUser, conn_id: str | None = None) -> bool:
    """Whether ``user`` may edit connection ``conn_id`` (None: connections in general), as ``PUT /connections``.

    The right to write a definition that runs code (see ``definitions.code_features``): whoever may edit
    connections can already read their secrets, so code that can reach them adds nothing to what they hold.
    """
    return get_auth_manager().is_authorized_connection(
        method="PUT", details=ConnectionDetails(conn_id=conn_id, team_name=_connection_team(conn_id)), user=user
    )


def _connection_team(conn_id: str | None) -> str | None:
    """The connection's team when Airflow runs multi-team (as Airflow's own connection routes ask), else None."""
    from airflow.configuration import conf

    if conn_id is None or not conf.getboolean("core", "multi_team", fallback=False):
        return None
    from airflow.models.connection import Connection

    get_team = getattr(Connection, "get_team_name", None)  # Airflow 3.1 has no teams on connections
    return get_team(conn_id) if get_team is not None else None


def can_read_variables(user: BaseUser) -> bool:
    """Whether ``user`` may read Airflow variables (``GET /variables``): what ``{{ var... }}`` in a definition reads."""
    return get_auth_manager().is_authorized_variable(method="GET", user=user)
