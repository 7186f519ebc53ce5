"""What each step reports to OpenLineage, with the provider's real classes and a real SQLite connection.

Only the task instance is a stand-in: it answers ``xcom_pull`` with what the steps returned.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from openlineage.client.serde import Serde

from airflow_batchtasks.operators.deliver import DeliverOperator
from airflow_batchtasks.operators.file import FileExtractOperator
from airflow_batchtasks.operators.http import HttpCallOperator
from airflow_batchtasks.operators.package import PackageOperator
from airflow_batchtasks.operators.process import ProcessOperator
from airflow_batchtasks.operators.sql import SqlExtractOperator


class ReturnedFiles:
    """A task instance whose steps returned ``by_step`` (their XComs)."""

    def __init__(self, by_step: dict[str, Any]) -> None:
        self.by_step = by_step

    def xcom_pull(self, task_ids: str) -> Any:
        return self.by_step.get(task_ids)


def _pairs(datasets: list[Any]) -> set[tuple[str, str]]:
    return {(d.namespace, d.name) for d in datasets}


def _staged(tmp_path: Path, step: str, name: str, body: bytes = b"a\n1\n", **item: Any) -> dict[str, Any]:
    path = tmp_path / "staging" / "sales" / "manual__1" / step / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return {"name": name, "url": f"file://{path}", **item}


def test_sql_extract_reports_tables_in_the_connection_namespace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "shop.db"
    sqlite3.connect(db).close()
    monkeypatch.setenv("AIRFLOW_CONN_SHOP", json.dumps({"conn_type": "sqlite", "host": str(db)}))
    op = SqlExtractOperator(task_id="extract", batch_task="sales", conn_id="shop", output_name="x.csv",
                            output_format={}, query="select o.id from orders o join crm.clients c on c.id = o.c "
                            "where o.day = ?")
    staged = _staged(tmp_path, "extract", "x.csv", b"id\n1\n2\n", rows=2)
    lineage = op.get_openlineage_facets_on_complete(ReturnedFiles({"extract": [staged]}))
    namespace = f"sqlite://{db}"
    assert _pairs(lineage.inputs) == {(namespace, "main.orders"), (namespace, "crm.clients")}
    assert lineage.job_facets["sql"].query.endswith("where o.day = ?")
    [out] = lineage.outputs
    assert (out.namespace, out.name) == ("batchtasks", "sales/extract/x.csv")
    stats = out.outputFacets["outputStatistics"]
    assert (stats.rowCount, stats.size) == (2, 7)
    json.loads(Serde.to_json(lineage.outputs[0]))  # what the transport sends


def test_sql_extract_default_schema_from_connection_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_WH", json.dumps({
        "conn_type": "odbc", "host": "sql.example", "port": 1433, "login": "u", "password": "secret-pass",
        "schema": "sales", "extra": {"lineage_default_schema": "dbo"},
    }))
    op = SqlExtractOperator(task_id="extract", batch_task="s", conn_id="wh", output_name="x.csv", output_format={},
                            query="select * from orders")
    lineage = op.get_openlineage_facets_on_start()
    assert _pairs(lineage.inputs) == {("odbc://sql.example:1433", "sales.dbo.orders")}
    assert "secret-pass" not in Serde.to_json(lineage.inputs[0])


def test_failed_step_reports_its_inputs_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_SHOP", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "s.db")}))
    op = SqlExtractOperator(task_id="extract", batch_task="s", conn_id="shop", output_name="x.csv",
                            output_format={}, query="select * from orders")
    lineage = op.get_openlineage_facets_on_complete(ReturnedFiles({}))
    assert _pairs(lineage.inputs) == {(f"sqlite://{tmp_path / 's.db'}", "main.orders")} and lineage.outputs == []


def test_file_source_reports_each_file_read_by_its_asset_uri(tmp_path: Path) -> None:
    op = FileExtractOperator(task_id="extract", batch_task="sales", location={"type": "local", "path": "/in/s_*.csv"},
                             output_format={"format": "keep"})
    items = [_staged(tmp_path, "extract", f"s_{n}.csv", rows=1, source=f"/in/s_{n}.csv") for n in (1, 2)]
    lineage = op.get_openlineage_facets_on_complete(ReturnedFiles({"extract": items}))
    assert _pairs(lineage.inputs) == {("file", "/in/s_1.csv"), ("file", "/in/s_2.csv")}
    stats = lineage.inputs[0].inputFacets["inputStatistics"]
    assert (stats.rowCount, stats.size) == (1, 4)
    assert _pairs(lineage.outputs) == {("batchtasks", "sales/extract/s_1.csv"), ("batchtasks", "sales/extract/s_2.csv")}


def test_process_reports_each_file_the_script_wrote(tmp_path: Path) -> None:
    op = ProcessOperator(task_id="process", batch_task="sales", inline="print([])")
    given = [_staged(tmp_path, "extract", "all.csv", rows=6)]
    wrote = [_staged(tmp_path, "process", f"part_{n}.csv", b"x" * n) for n in (1, 2, 3)]
    lineage = op.get_openlineage_facets_on_complete(ReturnedFiles({"extract": given, "process": wrote}))
    assert _pairs(lineage.inputs) == {("batchtasks", "sales/extract/all.csv")}
    assert {d.name: d.outputFacets["outputStatistics"].size for d in lineage.outputs} == {
        f"sales/process/part_{n}.csv": n for n in (1, 2, 3)}


def test_package_reports_only_files_it_made(tmp_path: Path) -> None:
    op = PackageOperator(task_id="package", batch_task="sales", zip_name="all.zip")
    given = [_staged(tmp_path, "extract", "a.csv", rows=1)]
    passed_on = [{**given[0], "size": 4, "md5": "0" * 32}]
    assert op.get_openlineage_facets_on_complete(ReturnedFiles({"extract": given, "package": passed_on})).outputs == []
    zipped = [_staged(tmp_path, "package", "all.zip", size=10, md5="f" * 32)]
    lineage = op.get_openlineage_facets_on_complete(ReturnedFiles({"extract": given, "package": zipped}))
    assert _pairs(lineage.outputs) == {("batchtasks", "sales/package/all.zip")}
    assert lineage.outputs[0].facets["version"].datasetVersion == "f" * 32


def test_deliver_reports_each_file_at_each_destination(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_VENDOR", json.dumps({"conn_type": "sftp", "host": "Vendor.example",
                                                          "login": "u", "password": "secret-pass"}))
    op = DeliverOperator(task_id="deliver", batch_task="sales", destinations=[
        {"type": "sftp", "conn_id": "vendor", "path": "/in/sales"},
        {"type": "local", "path": "/data/out", "skip_empty": True},
    ])
    full = _staged(tmp_path, "package", "a.csv", rows=3, size=12, md5="a" * 32)
    empty = _staged(tmp_path, "package", "b.csv", rows=0, size=3, md5="b" * 32)
    lineage = op.get_openlineage_facets_on_complete(ReturnedFiles({"deliver": [full, empty]}))
    assert _pairs(lineage.inputs) == {("batchtasks", "sales/package/a.csv"), ("batchtasks", "sales/package/b.csv")}
    assert _pairs(lineage.outputs) == {
        ("sftp://vendor.example:22", "/in/sales/a.csv"), ("sftp://vendor.example:22", "/in/sales/b.csv"),
        ("file", "/data/out/a.csv"),  # b.csv has no rows: skip_empty did not send it there
    }
    sent = next(d for d in lineage.outputs if d.name == "/in/sales/a.csv")
    assert (sent.outputFacets["outputStatistics"].rowCount, sent.outputFacets["outputStatistics"].size) == (3, 12)
    assert "secret-pass" not in Serde.to_json(sent)


@pytest.mark.parametrize(("method", "keep", "reads", "writes"), [
    ("GET", False, True, False), ("POST", False, False, True), ("POST", True, True, True),
])
def test_http_reports_the_endpoint(monkeypatch: pytest.MonkeyPatch, method: str, keep: bool, reads: bool,
                                   writes: bool) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_API", json.dumps({"conn_type": "http", "host": "api.example", "schema": "https",
                                                       "port": 8443}))
    op = HttpCallOperator(task_id="extract", batch_task="s", conn_id="api", endpoint="/v1/jobs?since=2026-01-01",
                          method=method, keep_response=keep, output_name="r.json" if keep else None)
    lineage = op.get_openlineage_facets_on_start()
    endpoint = {("https://api.example:8443", "/v1/jobs")}
    assert _pairs(lineage.inputs) == (endpoint if reads else set())
    assert _pairs(lineage.outputs) == (endpoint if writes else set())
