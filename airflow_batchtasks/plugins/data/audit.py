"""Actions written to Airflow's audit log (the ``log`` table, shown under Browse > Audit Log).

Airflow's own ``action_logging`` dependency logs a request before it runs and
so cannot say how it ended; ours is written after the action, in its own
session (a rolled-back action still leaves its refusal on record), with the
user, the action, the target (DAG id, run id) and the outcome.

Every viewer reads these entries (``/api/v2/eventLogs``), so they are masked
as Airflow's own audit logging masks request bodies: values under sensitive
key names (``db_password``, ``api_token``...) are ``***``, in ``params`` and
in the ``args`` text (``db_password=***``), and any of those values quoted by
an error in the outcome is masked there too (and in the error the caller gets).
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from airflow.models.log import Log
from sqlalchemy.orm import Session

from airflow_batchtasks.definitions import masking
from airflow_batchtasks.plugins.data.errors import DataError, Invalid

if TYPE_CHECKING:
    from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
    from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

PREFIX = "batchtasks."


def record(
    user: BaseUser | str | None,
    action: str,
    *,
    dag_id: str | None = None,
    run_id: str | None = None,
    outcome: str = "done",
    **extra: Any,
) -> None:
    """Write one audit entry, masked (see the module doc); never raises (an audit failure must not hide the
    action's own result)."""
    name = user if isinstance(user, str) or user is None else user.get_name()
    details = {k: v for k, v in extra.items() if v is not None}
    payload = {"outcome": masking.mask_message(outcome, secrets_of(details)), **masked(details)}
    try:
        with Session(_engine()) as session, session.begin():
            session.add(
                Log(
                    event=f"{PREFIX}{action}"[:60],
                    owner=name,
                    owner_display_name=name,
                    dag_id=dag_id,
                    run_id=run_id,
                    extra=json.dumps(payload, default=str),
                )
            )
    except Exception:
        log.exception("could not write the audit entry %s for %s", action, dag_id)


@functools.cache
def _engine() -> Engine:
    """A connection of its own for each entry, outside Airflow's pool.

    The entry is written while the request's session still holds a pooled
    connection (the action's answer is read after its commit); taking a second
    one from the same pool let 15 concurrent requests hold the whole pool and
    wait for each other until the pool's timeout (20 simultaneous triggers
    stalled the API server for 30 s).
    """
    from airflow import settings
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    # Airflow's own engine settings (isolation level, `[database] sql_alchemy_connect_args` such as SSL)
    engine_args = settings.prepare_engine_args(pool_class=NullPool)
    connect_args = dict(getattr(settings, "_get_connect_args", lambda _mode: {})("sync") or {})
    return create_engine(settings.engine.url, connect_args=connect_args, **engine_args)


def masked(details: dict[str, Any]) -> dict[str, Any]:
    """An entry's details as viewers may read them: ``args`` text and every other value masked."""
    shown = masking.mask_data({k: v for k, v in details.items() if k != "args"})
    if isinstance(details.get("args"), str):
        shown = {"args": masking.mask_args(details["args"]), **shown}
    return shown


def secrets_of(details: dict[str, Any]) -> list[str]:
    """The values :func:`masked` hides, to scrub from messages (an invalid argument's error quotes it)."""
    secrets = masking.secret_values({k: v for k, v in details.items() if k != "args"})
    if isinstance(details.get("args"), str):
        secrets += masking.args_secrets(details["args"])
    return secrets


def _scrub(exc: Exception, secrets: list[str]) -> None:
    """Mask ``secrets`` in an error the caller will see (``str(exc)``, and a 422's list of errors)."""
    if not secrets:
        return
    exc.args = tuple(masking.mask_message(a, secrets) if isinstance(a, str) else a for a in exc.args)
    if isinstance(exc, Invalid):
        exc.errors = [masking.mask_message(e, secrets) for e in exc.errors]
    detail = getattr(exc, "detail", None)
    if isinstance(detail, str):
        exc.detail = masking.mask_message(detail, secrets)  # type: ignore[attr-defined]


class Audit:
    """What an action found out while running: its run id and extra details for the entry."""

    def __init__(self) -> None:
        self.run_id: str | None = None
        self.extra: dict[str, Any] = {}


@contextmanager
def audited(
    user: BaseUser, action: str, dag_id: str | None = None, run_id: str | None = None, **extra: Any
) -> Iterator[Audit]:
    """Run an action and record how it ended: ``done``, ``refused (<status>): <why>`` or ``error: <type>``."""
    entry = Audit()
    entry.run_id = run_id
    entry.extra.update(extra)
    try:
        yield entry
    except DataError as exc:
        _scrub(exc, secrets_of({k: v for k, v in entry.extra.items() if v is not None}))
        record(user, action, dag_id=dag_id, run_id=entry.run_id,
               outcome=f"refused ({exc.status_code}): {exc}", **entry.extra)
        raise
    except Exception as exc:
        _scrub(exc, secrets_of({k: v for k, v in entry.extra.items() if v is not None}))
        status = getattr(exc, "status_code", None)
        outcome = f"refused ({status}): {getattr(exc, 'detail', exc)}" if status else f"error: {type(exc).__name__}"
        record(user, action, dag_id=dag_id, run_id=entry.run_id, outcome=outcome, **entry.extra)
        raise
    record(user, action, dag_id=dag_id, run_id=entry.run_id, outcome="done", **entry.extra)
