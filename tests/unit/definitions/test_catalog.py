"""Loading a folder: project defaults merged into tasks, ordering, and targeted (parsing-context) loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_batchtasks.definitions import catalog as catalog_module
from airflow_batchtasks.definitions.catalog import load_catalog

PROJECT = """
kind: project
name: sales
description: Sales extracts
owners: [alice, bob]
run_in_series: true
timezone: Europe/Paris
params: {region: EU, limit: 100}
notify:
  on_failure: {to: [data-team@example.com]}
"""


@pytest.fixture
def sales(write, sql_task) -> Path:
    """A project with tasks of various ranks, plus an unrelated project and task."""
    write("sales/project.yaml", PROJECT)
    write(
        "sales/tasks.yaml",
        sql_task("zeta", "run_rank: 10\n", project="sales")
        + "---\n"
        + sql_task("alpha", "run_rank: 20\n", project="sales")
        + "---\n"
        + sql_task("beta", "run_rank: 10\n", project="sales")
        + "---\n"
        + sql_task("disabled_one", "run_rank: 1\nenabled: false\n", project="sales"),
    )
    write("hr/project.yaml", "kind: project\nname: hr\nowners: [carol]\n")
    write("hr/tasks.yaml", sql_task("payroll", project="hr"))
    return write("standalone.yaml", sql_task("lonely")).parent


# -- project defaults -------------------------------------------------------------------------


def test_task_params_override_project_params(write, sql_task, defs: Path) -> None:
    write("p.yaml", PROJECT)
    write(
        "t.yaml",
        sql_task(
            "daily",
            "params:\n  region: {default: US, description: Sales region}\n  day: '2024-01-01'\n",
            project="sales",
        ),
    )

    params = load_catalog(defs).tasks["daily"].model.params

    assert {k: v.default for k, v in params.items()} == {"region": "US", "limit": 100, "day": "2024-01-01"}
    assert params["region"].description == "Sales region"


def test_project_notify_is_the_default_and_task_notify_wins_per_event(write, sql_task, defs: Path) -> None:
    write("p.yaml", PROJECT)
    write("a.yaml", sql_task("inherits", project="sales"))
    write("b.yaml", sql_task("own_success", "notify:\n  on_success: {to: [me@example.com]}\n", project="sales"))
    write("c.yaml", sql_task("own_failure", "notify:\n  on_failure: {to: [oncall@example.com]}\n", project="sales"))

    tasks = load_catalog(defs).tasks

    inherits = tasks["inherits"].model.notify
    assert inherits.on_failure.to == ["data-team@example.com"] and inherits.on_success is None
    own_success = tasks["own_success"].model.notify
    assert own_success.on_success.to == ["me@example.com"]
    assert own_success.on_failure.to == ["data-team@example.com"]
    assert tasks["own_failure"].model.notify.on_failure.to == ["oncall@example.com"]


def test_timezone_comes_from_the_task_then_the_project_then_utc(write, sql_task, defs: Path) -> None:
    write("p.yaml", PROJECT)
    write("a.yaml", sql_task("from_project", project="sales"))
    write("b.yaml", sql_task("own_zone", "timezone: America/New_York\n", project="sales"))
    write("c.yaml", sql_task("no_project"))

    tasks = load_catalog(defs).tasks

    assert tasks["from_project"].model.timezone == "Europe/Paris"
    assert tasks["own_zone"].model.timezone == "America/New_York"
    assert tasks["no_project"].model.timezone == "UTC"


def test_owners_come_from_the_project(sales: Path) -> None:
    catalog = load_catalog(sales)

    assert catalog.owners_of(catalog.tasks["alpha"].model) == ["alice", "bob"]
    assert catalog.owners_of(catalog.tasks["payroll"].model) == ["carol"]
    assert catalog.owners_of(catalog.tasks["lonely"].model) == []


def test_project_tasks_by_run_rank_then_name_without_disabled(sales: Path) -> None:
    catalog = load_catalog(sales)

    assert [t.name for t in catalog.project_tasks("sales")] == ["beta", "zeta", "alpha"]
    assert [t.name for t in catalog.project_tasks("hr")] == ["payroll"]
    assert "disabled_one" in catalog.tasks  # still a DAG, just not part of the series


def test_a_full_load_is_deterministic_and_sees_everything(sales: Path) -> None:
    catalog = load_catalog(sales)

    assert catalog.errors == []
    assert list(catalog.projects) == ["hr", "sales"]
    assert list(catalog.tasks) == ["payroll", "zeta", "alpha", "beta", "disabled_one", "lonely"]


def test_yml_files_in_subfolders_load_and_other_files_are_ignored(write, sql_task, defs: Path) -> None:
    write("deep/er/one.yml", sql_task("one"))
    write("notes.txt", "kind: task\nname: [broken\n")
    write("README.md", "# not a definition")

    catalog = load_catalog(defs)

    assert list(catalog.tasks) == ["one"] and catalog.errors == []


def test_a_single_file_can_be_loaded(write, sql_task) -> None:
    path = write("one.yaml", sql_task("one"))

    assert list(load_catalog(path).tasks) == ["one"]


def test_trailing_and_leading_document_separators_are_not_errors(write, sql_task, defs: Path) -> None:
    write("a.yaml", "---\n" + sql_task("one") + "---\n# nothing here\n---\n")

    catalog = load_catalog(defs)

    assert catalog.errors == [] and list(catalog.tasks) == ["one"]


def test_entry_keeps_the_document_for_docs_and_positions(write, sql_task, defs: Path) -> None:
    write("a.yaml", sql_task("first") + "---\n" + sql_task("second"))

    entry = load_catalog(defs).tasks["second"]

    assert entry.doc.file == f"{defs}/a.yaml"
    assert entry.doc.line == 8
    assert entry.doc.text.startswith("kind: task\nname: second\n")
    assert "first" not in entry.doc.text
    assert entry.doc.line_of(("source", "query")) == 13


# -- targeted loading under a parsing context --------------------------------------------------


@pytest.fixture
def with_broken_neighbour(sales: Path, write) -> Path:
    write("zz_broken.yaml", "kind: task\nname: [never closed\n")
    write("zz_invalid.yaml", "kind: task\nname: unrelated\nsource: {type: nope}\n")
    return sales


def test_full_load_reports_the_broken_neighbours(with_broken_neighbour: Path) -> None:
    files = {Path(e.file).name for e in load_catalog(with_broken_neighbour).errors}

    assert files == {"zz_broken.yaml", "zz_invalid.yaml"}


def test_only_a_task_loads_it_and_its_project_and_nothing_else(with_broken_neighbour: Path) -> None:
    catalog = load_catalog(with_broken_neighbour, only="payroll")

    assert catalog.errors == []
    assert list(catalog.tasks) == ["payroll"]
    assert list(catalog.projects) == ["hr"]
    assert catalog.owners_of(catalog.tasks["payroll"].model) == ["carol"]


def test_only_a_task_merges_its_project_defaults(with_broken_neighbour: Path) -> None:
    catalog = load_catalog(with_broken_neighbour, only="alpha")

    task = catalog.tasks["alpha"].model
    assert catalog.errors == []
    assert task.timezone == "Europe/Paris"
    assert {k: v.default for k, v in task.params.items()} == {"region": "EU", "limit": 100}
    assert task.notify.on_failure.to == ["data-team@example.com"]


def test_only_does_not_parse_unrelated_files(with_broken_neighbour: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []
    real = catalog_module.parse_documents

    def spy(text: str, name: str):
        parsed.append(Path(name).relative_to(with_broken_neighbour).as_posix())
        return real(text, name)

    monkeypatch.setattr(catalog_module, "parse_documents", spy)

    load_catalog(with_broken_neighbour, only="lonely")

    assert parsed == ["standalone.yaml"]


def test_only_a_project_dag_loads_all_its_tasks(with_broken_neighbour: Path) -> None:
    catalog = load_catalog(with_broken_neighbour, only="project__sales")

    assert catalog.errors == []
    assert list(catalog.projects) == ["sales"]
    assert sorted(catalog.tasks) == ["alpha", "beta", "disabled_one", "zeta"]
    assert [t.name for t in catalog.project_tasks("sales")] == ["beta", "zeta", "alpha"]


def test_only_an_orchestration_loads_its_step_tasks(with_broken_neighbour: Path, write) -> None:
    write(
        "orchestrations/nightly.yaml",
        """
        kind: orchestration
        name: nightly
        steps:
          - task: payroll
          - task: "lonely"
        """,
    )

    catalog = load_catalog(with_broken_neighbour, only="nightly")

    assert catalog.errors == []
    assert list(catalog.orchestrations) == ["nightly"]
    assert sorted(catalog.tasks) == ["lonely", "payroll"]
    assert list(catalog.projects) == ["hr"]


def test_only_still_reports_errors_of_the_wanted_definition(write, sql_task, defs: Path) -> None:
    write("a.yaml", sql_task("wanted", "output: {format: xlsx}\n"))
    write("b.yaml", "kind: task\nname: [broken\n")

    catalog = load_catalog(defs, only="wanted")

    assert [(e.name, e.field) for e in catalog.errors] == [("wanted", "output.format")]


def test_only_an_unknown_name_loads_nothing(sales: Path) -> None:
    catalog = load_catalog(sales, only="does_not_exist")

    assert (catalog.tasks, catalog.projects, catalog.errors) == ({}, {}, [])
