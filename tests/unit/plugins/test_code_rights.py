"""Which rights a definition write asks the auth manager for, by what it adds (the routes' decision).

The auth manager's answers are stubbed: this is the pure decision. Its answers for real roles are
tested against a real api-server under two auth managers in ``tests/e2e/test_code_permissions.py``;
per-connection answers (``expose_connections``) need an auth manager that grants connections one by
one, which neither built-in role set does, hence this test.
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_batchtasks.plugins.api.routes import definitions as route
from airflow_batchtasks.plugins.data.access import MissingRight

PYTHON = {"kind": "task", "name": "split", "source": {"type": "python"}, "processing": {"inline": "pass"}}
EXPOSED = {**PYTHON, "processing": {"inline": "pass", "expose_connections": True},
           "destinations": [{"type": "sftp", "conn_id": "vendor", "path": "/in"},
                            {"type": "sftp", "conn_id": "backup", "path": "/in"}]}


@pytest.fixture
def rights(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What the stub auth manager grants (edit any connection, these connections, read variables), and asks."""
    granted: dict[str, Any] = {"connections": True, "only": None, "variables": True, "asked": []}

    def can_edit_connection(user: Any, conn_id: str | None = None) -> bool:
        granted["asked"].append(conn_id)
        return granted["connections"] and (conn_id is None or granted["only"] is None or conn_id in granted["only"])

    monkeypatch.setattr(route, "can_edit_connection", can_edit_connection)
    monkeypatch.setattr(route, "can_read_variables", lambda user: granted["variables"])
    return granted


def refusal(old: dict[str, Any] | None, new: dict[str, Any]) -> str | None:
    try:
        route._require_code_rights(object(), old, new)
    except MissingRight as exc:
        assert exc.status_code == 403
        return str(exc)
    return None


def test_a_plain_definition_asks_nothing(rights: dict[str, Any]) -> None:
    rights["connections"] = rights["variables"] = False
    assert refusal(None, {"kind": "task", "name": "t", "source": {"type": "sql", "conn_id": "c", "query": "1"}}) is None
    assert rights["asked"] == []


def test_new_code_needs_the_connection_right(rights: dict[str, Any]) -> None:
    rights["connections"] = False
    detail = refusal(None, PYTHON)
    assert detail and "needs the right to edit connections" in detail and "`processing`" in detail
    assert refusal(PYTHON, {**PYTHON, "schedule": "@daily"}) is None, "unchanged code: DAG edit is enough"


def test_variables_need_the_variables_right_only(rights: dict[str, Any]) -> None:
    rights["connections"] = False
    rights["variables"] = False
    task = {"kind": "task", "name": "t", "source": {"type": "sql", "conn_id": "c", "query": "{{ var.value.x }}"}}
    detail = refusal(None, task)
    assert detail and "needs the right to read variables" in detail and "`source.query`" in detail
    rights["variables"] = True
    assert refusal(None, task) is None


def test_expose_connections_needs_each_connection(rights: dict[str, Any]) -> None:
    rights["only"] = {None, "vendor"}
    detail = refusal(None, EXPOSED)
    assert detail and "you may not edit `backup`" in detail and "`vendor`" not in detail.split("edit", 1)[1]
    rights["only"] = None
    assert refusal(None, EXPOSED) is None
    assert set(rights["asked"]) >= {None, "vendor", "backup"}


def test_an_unchanged_exposing_script_asks_no_connection(rights: dict[str, Any]) -> None:
    """A reschedule of an exposing task hands nothing new: no per-connection question at all."""
    rights["connections"] = False
    assert refusal(EXPOSED, {**EXPOSED, "schedule": "@hourly"}) is None
    assert rights["asked"] == []


def _delivering_to(path: str) -> dict[str, Any]:
    return {"kind": "task", "name": "t", "source": {"type": "sql", "conn_id": "c", "query": "select 1"},
            "output": {"name": "x.py"}, "destinations": [{"type": "local", "path": path}]}


def test_a_local_write_outside_local_roots_needs_the_connection_right(
    rights: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probe: a SQL task whose output lands in the DAGs folder as ``x.py`` is code the dag-processor runs."""
    rights["connections"] = False
    monkeypatch.setenv("AIRFLOW__BATCHTASKS__LOCAL_ROOTS", "/srv/outbox, /srv/exchange")
    detail = refusal(None, _delivering_to("/opt/airflow/dags"))
    assert detail and "needs the right to edit connections" in detail
    assert "`destinations[0]`: writes files into the worker's folder `/opt/airflow/dags`" in detail
    assert refusal(None, _delivering_to("/srv/exchange/vendor")) is None, "inside a root: DAG edit is enough"
    monkeypatch.delenv("AIRFLOW__BATCHTASKS__LOCAL_ROOTS")
    assert refusal(None, _delivering_to("/srv/exchange/vendor")), "no roots configured: every local path is code"
