"""``access`` in definitions: validated with file:line:field, inherited per role, turned into ``access_control``."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_batchtasks.dag_factory.access_control import RIGHTS, access_control
from airflow_batchtasks.definitions.catalog import load_catalog

PROJECT = """\
kind: project
name: sales
run_in_series: true
access: {sales_ops: [read, run], sales_admin: [read, run, edit]}
"""

ORCH = """\
kind: orchestration
name: nightly
access:
  sales_ops: [run]
steps:
  - task: orders
"""


def test_each_right_is_the_fab_permissions_our_routes_ask_for() -> None:
    control = access_control({"viewers": ["read"], "ops": ["run"], "admins": ["read", "run", "edit"]})

    assert control == {
        "viewers": {"DAGs": {"can_read"}, "DAG Runs": {"can_read"}},
        "ops": {"DAGs": {"can_read", "can_edit"}, "DAG Runs": {"can_read", "can_create", "can_delete"}},
        "admins": {"DAGs": {"can_read", "can_edit", "can_delete"},
                   "DAG Runs": {"can_read", "can_create", "can_delete"}},
    }
    # only `edit` grants delete on the DAG: what definition writes ask for besides DAG edit
    assert [r for r, res in RIGHTS.items() if "can_delete" in res["DAGs"]] == ["edit"]


def test_none_declares_nothing_and_empty_revokes() -> None:
    assert access_control(None) is None
    assert access_control({}) == {}


def test_the_mapping_is_what_fab_accepts() -> None:
    """FAB validates access_control against this map (the FAB provider's; Airflow's own where the version
    matrix installs Airflow without the FAB provider: the same map, 3.1 to 3.3)."""
    try:
        from airflow.providers.fab.auth_manager.security_manager.override import FabAirflowSecurityManagerOverride
    except ModuleNotFoundError:
        from airflow.security import permissions

        valid = permissions.RESOURCE_DETAILS_MAP
    else:
        valid = FabAirflowSecurityManagerOverride.RESOURCE_DETAILS_MAP
    for resources in RIGHTS.values():
        for resource, actions in resources.items():
            assert actions <= set(valid[resource]["actions"]), (resource, actions)


def test_a_task_adds_to_its_projects_access_per_role(build_from, sql_task) -> None:
    dags = build_from({
        "p.yaml": PROJECT,
        "t.yaml": sql_task("orders", "access: {sales_ops: [edit], finance: [read]}\n", project="sales")
        + "---\n" + sql_task("refunds", project="sales") + "---\n" + sql_task("lonely"),
        "o.yaml": ORCH,
    })

    assert dags["orders"].access_control == {
        "sales_ops": {"DAGs": {"can_read", "can_edit", "can_delete"},
                      "DAG Runs": {"can_read", "can_create", "can_delete"}},
        "sales_admin": {"DAGs": {"can_read", "can_edit", "can_delete"},
                        "DAG Runs": {"can_read", "can_create", "can_delete"}},
        "finance": {"DAGs": {"can_read"}, "DAG Runs": {"can_read"}},
    }
    assert dags["refunds"].access_control == dags["project__sales"].access_control
    assert set(dags["project__sales"].access_control) == {"sales_ops", "sales_admin"}
    assert dags["lonely"].access_control is None
    assert dags["nightly"].access_control == {
        "sales_ops": {"DAGs": {"can_read", "can_edit"},
                      "DAG Runs": {"can_read", "can_create", "can_delete"}},
    }


def test_the_serialized_dag_carries_it(build_from, sql_task) -> None:
    """What the dag-processor hands FAB's sync is the serialized DAG: the grants must survive serialization."""
    from airflow.serialization.serialized_objects import LazyDeserializedDAG

    dags = build_from({"p.yaml": PROJECT, "t.yaml": sql_task("orders", project="sales")})
    lazy = LazyDeserializedDAG.from_dag(dags["orders"])

    assert {role: {res: set(acts) for res, acts in r.items()} for role, r in lazy.access_control.items()} == \
        dags["orders"].access_control


def test_catalog_merges_without_duplicates(write, sql_task, defs: Path) -> None:
    write("p.yaml", PROJECT)
    write("t.yaml", sql_task("orders", "access: {sales_ops: [run, edit]}\n", project="sales"))

    access = load_catalog(defs).tasks["orders"].model.access

    assert access == {"sales_ops": ["read", "run", "edit"], "sales_admin": ["read", "run", "edit"]}


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        ("access:\n  sales_ops: [read, delete]\n", 8, "access.sales_ops[1]", "`delete` is not allowed here"),
        ("access:\n  sales_ops: read\n", 8, "access.sales_ops", "rights are a list: write [read]"),
        ("access: [sales_ops]\n", 7, "access", "dict"),
    ],
)
def test_a_bad_access_is_an_error_with_file_line_field(
    write, sql_task, defs: Path, text: str, line: int, field: str, message: str
) -> None:
    write("t.yaml", sql_task("orders", text))

    catalog = load_catalog(defs)

    assert "orders" not in catalog.tasks
    [error] = catalog.errors
    assert (Path(error.file).name, error.line, error.field) == ("t.yaml", line, field)
    assert message in error.message


def test_an_unknown_right_on_a_project_or_orchestration_is_an_error(write, sql_task, defs: Path) -> None:
    write("p.yaml", PROJECT.replace("edit]", "admin]"))
    write("o.yaml", ORCH.replace("[run]", "[launch]"))

    errors = {(e.kind, e.field): e.message for e in load_catalog(defs).errors}

    assert "`admin` is not allowed here" in errors[("project", "access.sales_admin[2]")]
    assert "`launch` is not allowed here" in errors[("orchestration", "access.sales_ops[0]")]


def test_the_schema_offers_access_on_every_kind() -> None:
    from airflow_batchtasks.definitions.schema import definition_schema

    schema = definition_schema()
    for kind in ("Project", "Task", "Orchestration"):
        access = schema["$defs"][kind]["properties"]["access"]
        rights = access["anyOf"][0]["additionalProperties"]["items"]
        assert rights["enum"] == ["read", "run", "edit"], (kind, access)
