"""Pure parts of the pickers API: type filters, connection rows, time zones, name filters; and what
still uses a task (the reason a delete is refused)."""

from __future__ import annotations

from airflow_batchtasks.definitions.catalog import Catalog, add_documents, resolve
from airflow_batchtasks.definitions.yaml_source import parse_documents
from airflow_batchtasks.plugins.api.routes.definitions import task_users
from airflow_batchtasks.plugins.data import pickers


def test_types_are_split_trimmed_and_lowercased() -> None:
    assert pickers.parse_types(None) is None
    assert pickers.parse_types("") is None
    assert pickers.parse_types(" SFTP, ssh ,,") == {"sftp", "ssh"}
    assert pickers.parse_types(["sftp", "ftp,smb"]) == {"sftp", "ftp", "smb"}


def test_connections_are_ids_and_types_only_filtered_and_sorted() -> None:
    rows = [("z_db", "postgres"), ("a_sftp", "sftp"), ("m_ssh", "SSH"), ("no_type", None)]
    assert pickers.filter_connections(rows, None) == [
        {"conn_id": "a_sftp", "conn_type": "sftp"}, {"conn_id": "m_ssh", "conn_type": "SSH"},
        {"conn_id": "no_type", "conn_type": ""}, {"conn_id": "z_db", "conn_type": "postgres"},
    ]
    assert pickers.filter_connections(rows, {"sftp", "ssh"}) == [
        {"conn_id": "a_sftp", "conn_type": "sftp"}, {"conn_id": "m_ssh", "conn_type": "SSH"}]
    assert pickers.filter_connections(rows, {"ftp"}) == []


def test_time_zones_are_iana_names_sorted() -> None:
    zones = pickers.timezones()
    assert zones == sorted(zones)
    assert {"UTC", "Europe/Paris", "America/New_York"} <= set(zones)


def test_named_keeps_the_readable_ones_sorted() -> None:
    items = [("b", 1), ("a", 2), ("c", 3)]
    assert pickers.named(items, lambda n: n != "c") == [("a", 2), ("b", 1)]


def _catalog(text: str) -> Catalog:
    docs, errors = parse_documents(text, "defs.yaml")
    assert not errors
    catalog = Catalog()
    add_documents(catalog, docs)
    resolve(catalog)
    assert not catalog.errors, catalog.errors
    return catalog


SQL = "source: {type: sql, conn_id: db, query: select 1}\n"


def test_orchestration_steps_and_project_series_use_a_task() -> None:
    catalog = _catalog(
        "kind: project\nname: ops\nrun_in_series: true\n---\n"
        f"kind: task\nname: a\nproject: ops\n{SQL}---\n"
        f"kind: task\nname: b\nproject: ops\nenabled: false\n{SQL}---\n"
        f"kind: task\nname: c\n{SQL}---\n"
        "kind: orchestration\nname: nightly\nsteps:\n  - task: c\n  - task: a\n"
    )
    assert task_users("a", catalog) == [
        "orchestration `nightly` (step 2)", "the series of project `ops` (DAG `project__ops`)"]
    assert task_users("b", catalog) == [], "a disabled task is not in its project's series"
    assert task_users("c", catalog) == ["orchestration `nightly` (step 1)"]
    assert task_users("unknown", catalog) == []


def test_a_project_without_series_or_schedule_runs_none_of_its_tasks() -> None:
    catalog = _catalog(f"kind: project\nname: ops\n---\nkind: task\nname: a\nproject: ops\n{SQL}")
    assert task_users("a", catalog) == []
