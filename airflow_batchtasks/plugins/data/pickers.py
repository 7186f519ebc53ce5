"""What the authoring pages' pickers list: connection ids, variable names, time zones, projects, tasks.

Names only, never a secret: a connection is its id and type (no host, login, password or extra),
a variable its key (no value). Whether the caller may see them is Airflow's decision
(``is_authorized_connection`` / ``is_authorized_variable`` with ``GET``, as Airflow's own list routes
ask); projects and tasks are filtered by the caller's readable DAGs by the API route.

Connections and variables listed are those in Airflow's database (what Airflow's own pages list);
ones defined only in a secrets backend or in environment variables are not enumerable and so not listed.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

if TYPE_CHECKING:
    from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
    from sqlalchemy.orm import Session

#: Most entries a picker answers with (a folder of thousands of connections still answers fast).
LIMIT = 5000


def parse_types(types: str | Iterable[str] | None) -> set[str] | None:
    """``"sftp, ssh"`` (or repeated values) -> ``{"sftp", "ssh"}``; None or nothing given: no filter."""
    if types is None:
        return None
    parts = [types] if isinstance(types, str) else list(types)
    wanted = {t.strip().lower() for p in parts for t in p.split(",") if t.strip()}
    return wanted or None


def may_read_connections(user: BaseUser) -> bool:
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager().is_authorized_connection(method="GET", user=user)


def may_read_variables(user: BaseUser) -> bool:
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager().is_authorized_variable(method="GET", user=user)


def connections(session: Session, types: set[str] | None) -> list[dict[str, str]]:
    """``[{"conn_id", "conn_type"}]`` sorted by id, of the ``types`` given (all when None)."""
    from airflow.models.connection import Connection

    query = select(Connection.conn_id, Connection.conn_type).order_by(Connection.conn_id).limit(LIMIT)
    rows = session.execute(query).all()
    return filter_connections([(r[0], r[1]) for r in rows], types)


def filter_connections(rows: Iterable[tuple[str, str | None]], types: set[str] | None) -> list[dict[str, str]]:
    """Rows of (id, type) as the picker's answer, only the ``types`` given (types compared case-insensitively)."""
    out = []
    for conn_id, conn_type in rows:
        kind = (conn_type or "").lower()
        if types is None or kind in types:
            out.append({"conn_id": conn_id, "conn_type": conn_type or ""})
    return sorted(out, key=lambda c: c["conn_id"])


def variables(session: Session) -> list[str]:
    from airflow.models.variable import Variable

    return sorted(session.scalars(select(Variable.key).order_by(Variable.key).limit(LIMIT)).all())


@functools.cache
def timezones() -> list[str]:
    """IANA time zone names, sorted (``UTC`` included)."""
    from zoneinfo import available_timezones

    return sorted(available_timezones() | {"UTC"})


def named(items: Iterable[tuple[str, Any]], readable: Any) -> list[tuple[str, Any]]:
    """Items whose name ``readable(name)`` accepts, sorted by name."""
    return sorted(((n, v) for n, v in items if readable(n)), key=lambda item: item[0])
