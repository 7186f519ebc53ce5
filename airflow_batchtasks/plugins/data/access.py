"""Authorization through Airflow's auth manager, shared by the API routes and the pages.

Every decision is Airflow's: ``is_authorized_dag`` on the DAG a request touches
(a task's DAG is the task name, an orchestration's DAG is its name, a project's
is ``project__<name>`` plus its tasks' DAGs), so whatever auth manager the
deployment uses (simple, FAB, Keycloak...) governs our routes like Airflow's own.
"""

from __future__ import annotations

import logging
import time
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

log = logging.getLogger(__name__)

__all__ = [
    "DagAccessEntity",
    "MissingRight",
    "allowed_dag_ids",
    "can_access_all_dags",
    "can_edit_connection",
    "can_read_variables",
    "can_write_definition",
    "is_authorized",
    "known_roles",
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


#: A DAG id no DAG can have (``~`` and ``:`` are not allowed in DAG ids), so no role holds a per-DAG grant on it.
ANY_DAG = "~batchtasks:any-dag~"


def can_access_all_dags(user: BaseUser, method: ResourceMethod, entity: DagAccessEntity | None = None) -> bool:
    """Whether ``user`` may ``method`` every DAG, asked as "a DAG nobody granted anything on in particular".

    Why not ``is_authorized_dag`` without details: that is Airflow's question "may list DAGs", which the FAB
    auth manager answers yes to whoever may read *one* DAG (and, for a sub-entity write, without looking at
    any DAG), so a role granted one project through ``access_control`` would see every task.
    """
    return get_auth_manager().is_authorized_dag(
        method=method, access_entity=entity, details=DagDetails(id=ANY_DAG), user=user
    )


def readable_dag_ids(
    user: BaseUser, method: ResourceMethod = "GET", entity: DagAccessEntity | None = None
) -> set[str] | None:
    """DAG ids ``user`` may access with ``method`` (on ``entity``: a DAG's runs, its audit log...), or None
    when they may access every DAG (no filter needed).

    With an ``entity``, a DAG counts only when that part of it is allowed too, as Airflow's own routes ask
    (``GET /dags/{id}/dagRuns`` needs RUN, the event log AUDIT_LOG): a role that may read DAGs but not
    their runs must not read them through a list of every task's runs either.
    """
    refresh_published_roles()
    if can_access_all_dags(user, method, entity):
        return None
    ids = get_auth_manager().get_authorized_dag_ids(user=user, method=method)
    return ids if entity is None else allowed_dag_ids(user, method, ids, entity)


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


def can_write_definition(user: BaseUser, dag_ids: Iterable[str]) -> bool:
    """Whether ``user`` may change or delete the definition behind ``dag_ids``: edit *and* delete on each DAG.

    Why delete too: under the FAB auth manager edit on a DAG is also what triggering it needs, so a role
    granted ``run`` by a definition's ``access`` holds it; only ``edit`` grants delete (see
    ``dag_factory.access_control``). Airflow's own roles and the other auth managers give both together.
    """
    ids = list(dag_ids)
    return is_authorized(user, "PUT", ids) and is_authorized(user, "DELETE", ids)


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


def known_roles() -> set[str] | None:
    """The role names the FAB auth manager knows, or None under an auth manager without a role list.

    Why: a definition's ``access`` becomes ``access_control``, and FAB refuses a grant to a role it does not
    know by failing the whole loader file for a parse (every batch task's DAG marked broken). The same test
    Airflow's dag-processor makes decides whether FAB syncs ``access_control`` at all (the configured auth
    manager's name); the other auth managers ignore ``access_control``, so any role name is harmless there.
    """
    from airflow.configuration import conf

    if "FabAuthManager" not in conf.get("core", "auth_manager", fallback=""):
        return None
    from airflow.providers.fab.auth_manager.models import Role
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        roles = set(session.scalars(select(Role.name)).all())
    _publish(roles)
    return roles


#: Seconds between two refreshes of the published role list while the pages and API are used.
PUBLISH_EVERY = 60.0
_published_at: float | None = None


def _publish(roles: set[str]) -> None:
    """Write the role names where the loader can read them (it may not read the database; see
    ``dag_factory.known_roles``). A failure only means the loader checks nothing."""
    global _published_at
    try:
        from airflow.models.variable import Variable

        from airflow_batchtasks.dag_factory.known_roles import ROLES_VARIABLE, role_names

        Variable.set(key=ROLES_VARIABLE, value=role_names(roles), serialize_json=True)
        _published_at = time.monotonic()
    except Exception:  # noqa: BLE001 - the loader then checks nothing, as before
        log.warning("could not publish the FAB role names for the definitions loader", exc_info=True)


def refresh_published_roles() -> None:
    """Publish the role names again when the last time is over a minute old (one clock read otherwise)."""
    global _published_at
    if _published_at is not None and time.monotonic() - _published_at < PUBLISH_EVERY:
        return
    _published_at = time.monotonic()  # also under other auth managers: one clock read per request after this
    try:
        known_roles()
    except Exception:  # noqa: BLE001 - never fail a request for this
        log.warning("could not read the FAB role names", exc_info=True)


def can_read_variables(user: BaseUser) -> bool:
    """Whether ``user`` may read Airflow variables (``GET /variables``): what ``{{ var... }}`` in a definition reads."""
    return get_auth_manager().is_authorized_variable(method="GET", user=user)
