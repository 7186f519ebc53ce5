"""Roles a definition's ``access`` may name, as the loader can know them: the FAB auth manager's list.

Why: FAB refuses a grant (``access_control``) to a role it does not know by failing the whole loader
file for a parse, so every batch task's DAG would be marked broken for one mistyped role. The loader
runs where Airflow allows no database access (the dag-processor's parsing process), so it cannot ask
FAB; the API server (which can) publishes the role names as the Airflow variable
:data:`ROLES_VARIABLE` (``plugins/data/access.known_roles``: on every definition write, and at most once a
minute while its pages and API are used), and the loader reads it through the Task SDK.

Only a recent list is trusted (:data:`FRESH_FOR`): a role created after the list was published and
named at once in a hand-edited file must not be dropped on a stale list (FAB would then *revoke* its
grants). Without a recent list nothing is dropped and Airflow behaves as before.

A role the list does not have is left out of that definition's ``access_control`` (the other roles and
every other DAG are kept), and reported as a definition error ``file:line: access.<role>: ...`` on the
``batchtasks_definition_errors`` DAG and in the dag-processor's log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_batchtasks.definitions.catalog import Catalog, Entry
from airflow_batchtasks.definitions.errors import DefinitionError

#: The Airflow variable the API server writes: ``{"roles": [...], "at": "<ISO time>"}``.
ROLES_VARIABLE = "batchtasks_fab_roles"
#: How old a published list may be and still be trusted to drop a role.
FRESH_FOR = timedelta(hours=1)

log = logging.getLogger(__name__)


def published_roles(value: Any = None, now: datetime | None = None) -> set[str] | None:
    """The recently published FAB role names, or None (no list, an old one, or no way to read it).

    :param value: the variable's value (read through the Task SDK when not given)
    """
    if value is None:
        try:
            from airflow.sdk import Variable

            value = Variable.get(ROLES_VARIABLE, default=None, deserialize_json=True)
        except Exception:  # noqa: BLE001 - no Task SDK channel (tests, CLI validate): no check
            return None
    if not isinstance(value, Mapping) or not isinstance(value.get("roles"), list):
        return None
    try:
        at = datetime.fromisoformat(str(value.get("at")))
    except ValueError:
        return None
    at = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
    if (now or datetime.now(timezone.utc)) - at > FRESH_FOR:
        return None
    return {str(r) for r in value["roles"]}


def drop_unknown_roles(catalog: Catalog, roles: set[str] | None) -> list[DefinitionError]:
    """Leave roles not in ``roles`` out of every entry's ``access``; one error per role left out.

    ``roles`` None: nothing is checked. The entries are changed in place (their models copied).
    """
    if roles is None:
        return []
    errors: list[DefinitionError] = []
    kinds = (("project", catalog.projects), ("task", catalog.tasks), ("orchestration", catalog.orchestrations))
    for kind, entries in kinds:
        for name, entry in entries.items():
            errors += _drop(entry, kind, name, roles)
    return errors


def _drop(entry: Entry, kind: str, name: str, roles: set[str]) -> list[DefinitionError]:
    access = getattr(entry.model, "access", None)
    if not access:
        return []
    unknown = [r for r in access if r not in roles]
    if not unknown:
        return []
    entry.model = entry.model.model_copy(update={"access": {r: v for r, v in access.items() if r not in unknown}})
    errors = []
    for role in unknown:
        # a task's access includes its project's: point at the document that names the role
        own = entry.doc.data.get("access") if isinstance(entry.doc.data, Mapping) else None
        line = entry.doc.line_of(("access", role)) if isinstance(own, Mapping) and role in own else entry.doc.line
        message = (f"unknown role `{role}`: the FAB auth manager has no such role, so it was left out of this "
                   f"{kind}'s access_control (the other roles and DAGs are unchanged); create the role, then "
                   "run `airflow sync-perm --include-dags`")
        errors.append(DefinitionError(entry.doc.file, line, f"access.{role}", message, None, kind=kind))
        log.error("%s:%d: access.%s: %s", entry.doc.file, line, role, message)
    return errors


def role_names(roles: Iterable[str]) -> dict[str, Any]:
    """The variable's value for ``roles`` (what the API server publishes)."""
    return {"roles": sorted(roles), "at": datetime.now(timezone.utc).isoformat()}
