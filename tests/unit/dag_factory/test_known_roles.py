"""An ``access`` role FAB does not know: left out of that DAG's ``access_control``, reported, others kept.

The loader cannot ask FAB (no database while parsing); it trusts a recent list of role names the API
server published (``dag_factory.known_roles``). The API's own 422 for such a write, and FAB's answer,
are in ``tests/e2e/test_fab_access.py``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_batchtasks.dag_factory.known_roles import FRESH_FOR, drop_unknown_roles, published_roles, role_names
from airflow_batchtasks.dag_factory.loader import load_dags
from airflow_batchtasks.definitions.catalog import load_catalog
from airflow_batchtasks.naming import ERRORS_DAG_ID

PROJECT = """\
kind: project
name: sales
run_in_series: true
access:
  sales_ops: [read, run]
  sales_admn: [edit]
"""

NOW = datetime(2026, 12, 4, 7, 0, tzinfo=timezone.utc)


def test_only_a_recent_list_is_trusted() -> None:
    fresh = {"roles": ["Admin", "sales_ops"], "at": (NOW - timedelta(minutes=5)).isoformat()}
    assert published_roles(fresh, now=NOW) == {"Admin", "sales_ops"}
    old = {**fresh, "at": (NOW - FRESH_FOR - timedelta(seconds=1)).isoformat()}
    assert published_roles(old, now=NOW) is None, "a stale list could drop a role created since"
    assert published_roles({"roles": "Admin", "at": NOW.isoformat()}, now=NOW) is None
    assert published_roles({"roles": ["x"], "at": "yesterday"}, now=NOW) is None
    assert set(role_names({"b", "a"})["roles"]) == {"a", "b"}


def test_without_a_task_sdk_channel_nothing_is_checked() -> None:
    assert published_roles() is None  # unit tests have no dag-processor to ask: the loader drops nothing


def test_an_unknown_role_is_dropped_from_its_definitions_and_named_with_file_line_field(
    defs: Path, write: Any, sql_task: Any
) -> None:
    write("p.yaml", PROJECT)
    write("t.yaml", sql_task("orders", "access: {finance: [read]}\n", project="sales") + "---\n" + sql_task("other"))
    catalog = load_catalog(defs)
    errors = drop_unknown_roles(catalog, {"Admin", "sales_ops", "finance"})

    assert catalog.projects["sales"].model.access == {"sales_ops": ["read", "run"]}
    assert set(catalog.tasks["orders"].model.access) == {"sales_ops", "finance"}, "inherited and own roles kept"
    shown = sorted(f"{Path(e.file).name}:{e.line}: {e.field}" for e in errors)
    # the project's document names the role at line 6; the task inherits it (pointed at its document)
    assert shown == ["p.yaml:6: access.sales_admn", "t.yaml:1: access.sales_admn"], shown
    assert all("unknown role `sales_admn`" in e.message for e in errors)


def test_the_loader_keeps_every_dag_and_shows_the_error(
    defs: Path, write: Any, sql_task: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    write("p.yaml", PROJECT)
    write("t.yaml", sql_task("orders", project="sales") + "---\n" + sql_task("other"))
    import airflow_batchtasks.dag_factory.loader as loader

    monkeypatch.setattr(loader, "published_roles", lambda: {"Admin", "sales_ops"})
    namespace: dict[str, Any] = {}
    load_dags(namespace, defs)

    assert {"orders", "other", "project__sales", ERRORS_DAG_ID} <= set(namespace)
    assert set(namespace["orders"].access_control) == {"sales_ops"}
    assert set(namespace["project__sales"].access_control) == {"sales_ops"}
    assert "access.sales_admn" in (namespace[ERRORS_DAG_ID].doc_md or "")
