"""``load_dags(globals())``: every DAG of a folder, or just one under Airflow's parsing context."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_batchtasks.dag_factory.loader import load_dags
from airflow_batchtasks.definitions import catalog as catalog_module
from airflow_batchtasks.naming import ERRORS_DAG_ID

PARSING_CONTEXT_ENV = "_AIRFLOW_PARSING_CONTEXT_DAG_ID"


@pytest.fixture
def folder(write, sql_task, defs: Path) -> Path:
    write(
        "sales.yaml",
        "kind: project\nname: sales\nrun_in_series: true\nowners: [alice]\n---\n"
        + sql_task("alpha", "run_rank: 1\n", project="sales")
        + "---\n"
        + sql_task("beta", "run_rank: 2\n", project="sales"),
    )
    write("hr.yaml", sql_task("payroll"))
    write("nightly.yaml", "kind: orchestration\nname: nightly\nsteps:\n  - task: payroll\n")
    write("invalid.yaml", "kind: task\nname: invalid_one\nsource: {type: nope}\n")
    write("zz_broken.yaml", "kind: task\nname: [never closed\n")
    return defs


def test_everything_is_built_into_the_namespace(folder: Path) -> None:
    namespace: dict = {"__name__": "batchtasks_dags"}

    catalog = load_dags(namespace, folder)

    assert sorted(k for k in namespace if k != "__name__") == [
        "alpha",
        ERRORS_DAG_ID,
        "beta",
        "invalid_one",
        "nightly",
        "payroll",
        "project__sales",
    ]
    assert namespace["alpha"].dag_id == "alpha"
    assert len(catalog.errors) == 2


def test_parsing_context_builds_only_that_task(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PARSING_CONTEXT_ENV, "payroll")
    namespace: dict = {}

    catalog = load_dags(namespace, folder)

    assert list(namespace) == ["payroll"]
    assert catalog.errors == []  # the broken neighbours were not even parsed


def test_parsing_context_builds_only_that_project_dag(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PARSING_CONTEXT_ENV, "project__sales")
    namespace: dict = {}

    load_dags(namespace, folder)

    assert list(namespace) == ["project__sales"]
    assert sorted(namespace["project__sales"].task_ids) == ["run_alpha", "run_beta", "series_result"]


def test_parsing_context_of_an_invalid_task_builds_its_placeholder(folder: Path, monkeypatch) -> None:
    monkeypatch.setenv(PARSING_CONTEXT_ENV, "invalid_one")
    namespace: dict = {}

    load_dags(namespace, folder)

    assert list(namespace) == ["invalid_one"]
    assert namespace["invalid_one"].task_ids == ["definition_error"]


def test_parsing_context_of_the_errors_dag_falls_back_to_a_full_load(folder: Path, monkeypatch) -> None:
    monkeypatch.setenv(PARSING_CONTEXT_ENV, ERRORS_DAG_ID)
    namespace: dict = {}

    load_dags(namespace, folder)

    assert list(namespace) == [ERRORS_DAG_ID]
    assert "zz_broken.yaml:3: invalid YAML" in namespace[ERRORS_DAG_ID].doc_md


def test_flow_style_definition_is_still_found_under_parsing_context(write, defs: Path, monkeypatch) -> None:
    write("flow.yaml", "{kind: task, name: flowy, source: {type: sql, conn_id: db, query: select 1}}\n")
    monkeypatch.setenv(PARSING_CONTEXT_ENV, "flowy")
    namespace: dict = {}

    load_dags(namespace, defs)

    assert list(namespace) == ["flowy"]


def test_targeted_load_parses_few_files(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []
    real = catalog_module.parse_documents
    monkeypatch.setattr(
        catalog_module, "parse_documents", lambda text, name: parsed.append(Path(name).name) or real(text, name)
    )
    monkeypatch.setenv(PARSING_CONTEXT_ENV, "alpha")

    load_dags({}, folder)

    assert parsed == ["sales.yaml"]


def test_folder_comes_from_the_batchtasks_config(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__BATCHTASKS__DEFINITIONS_FOLDER", str(folder))
    namespace: dict = {}

    load_dags(namespace)

    assert "payroll" in namespace and "project__sales" in namespace


def test_missing_folder_gives_the_errors_dag(tmp_path: Path) -> None:
    namespace: dict = {}

    load_dags(namespace, tmp_path / "nowhere")

    assert list(namespace) == [ERRORS_DAG_ID]
    assert "definitions folder does not exist" in namespace[ERRORS_DAG_ID].doc_md
