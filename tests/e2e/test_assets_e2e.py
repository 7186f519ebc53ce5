"""Deliveries as Airflow Assets on a real Airflow: A delivers, B (``schedule: {after: [A]}``) starts by itself.

No trigger for B and no polling: the scheduler starts B from the asset event A's deliver step adds.
B's ``file`` source reads exactly the file A delivered; the event's extra is A's file record, and
Airflow's own Assets API lists the asset and the event.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.e2e.airflow_instance import StartAirflow
from tests.e2e.api_support import API, LOADER, wait_for

pytestmark = pytest.mark.e2e

DEFINITIONS = """
kind: task
name: assets_producer
source:
  type: file
  location: {type: local, path: __IN__/seed.csv}
  input: {header: true}
output: {name: "vendor_{{ params.day }}.csv"}
params:
  day: {default: "monday"}
destinations:
  - {type: local, path: __OUT__}
---
kind: task
name: assets_consumer
schedule:
  after: [assets_producer]
source:
  type: file
  location: {type: local, path: __OUT__/vendor_monday.csv}
destinations:
  - {type: local, path: __FINAL__}
"""


def test_delivery_starts_the_task_scheduled_after_it(tmp_path: Path, start_airflow: StartAirflow) -> None:
    seed, out, final = tmp_path / "in", tmp_path / "out", tmp_path / "final"
    seed.mkdir()
    (seed / "seed.csv").write_text("id,amount\n1,2.5\n2,4.0\n")
    defs, dags = tmp_path / "definitions", tmp_path / "dags"
    defs.mkdir()
    dags.mkdir()
    (defs / "assets.yaml").write_text(
        DEFINITIONS.replace("__IN__", str(seed)).replace("__OUT__", str(out)).replace("__FINAL__", str(final)))
    (dags / "batchtasks_dags.py").write_text(LOADER)
    airflow = start_airflow(dags, env={
        "AIRFLOW__BATCHTASKS__DEFINITIONS_FOLDER": str(defs),
        "AIRFLOW__BATCHTASKS__STAGING_URL": f"file://{tmp_path}/staging",
        "AIRFLOW__BATCHTASKS__ARCHIVE_URL": f"file://{tmp_path}/archive",
    })
    airflow.wait_for_dag("assets_producer")
    consumer = airflow.wait_for_dag("assets_consumer")
    assert not consumer["is_paused"]
    assert airflow.import_errors() == []

    run_id = airflow.trigger("assets_producer")
    assert airflow.wait_for_run("assets_producer", run_id, timeout=180) == "success"
    delivered = out / "vendor_monday.csv"
    body = delivered.read_bytes()

    # B runs by itself, started by the asset event (no trigger, no schedule but the delivery)
    def consumer_runs() -> list[dict]:
        return airflow.api("GET", "/api/v2/dags/assets_consumer/dagRuns").json()["dag_runs"]

    [run] = wait_for("a run of assets_consumer", consumer_runs, timeout=120)
    assert run["run_type"] == "asset_triggered"
    assert airflow.wait_for_run("assets_consumer", run["dag_run_id"], timeout=180) == "success"
    assert (final / "vendor_monday.csv").read_bytes() == body, "B fetched exactly A's file"

    # the run's note names the delivery that started it (written by the listener when the run started)
    note = wait_for("the consumer run's note", lambda: airflow.api(
        "GET", f"/api/v2/dags/assets_consumer/dagRuns/{run['dag_run_id']}").json().get("note"))
    uri = f"file://{delivered}"
    assert note.startswith("Started by deliveries:") and f"assets_producer run {run_id}" in note and uri in note

    # the event's extra is the file record the file history shows
    [record] = airflow.api("GET", f"{API}/tasks/assets_producer/files").json()["files"]
    assert record["md5"] == hashlib.md5(body).hexdigest()
    events = airflow.api("GET", "/api/v2/assets/events", params={"source_dag_id": "assets_producer"}).json()
    [event] = events["asset_events"]
    assert event["uri"] == uri and event["source_run_id"] == run_id
    extra = event["extra"]
    assert {k: extra[k] for k in ("name", "size", "md5", "rows", "run_id")} == {
        "name": record["name"], "size": record["size"], "md5": record["md5"], "rows": record["rows"],
        "run_id": record["run_id"]}
    assert extra["rows"] == 2 and extra["batch_task"] == "assets_producer"

    # Airflow's Assets API lists the file's asset: produced through A's alias, read by B's extract step
    assets = airflow.api("GET", "/api/v2/assets", params={"uri_pattern": str(out)}).json()["assets"]
    [asset] = [a for a in assets if a["uri"] == uri]
    assert {a["name"] for a in asset["aliases"]} == {"batchtasks/assets_producer/local"}
    assert {(c["dag_id"], c["task_id"]) for c in asset["consuming_tasks"]} == {("assets_consumer", "extract")}
    aliases = airflow.api("GET", "/api/v2/assets/aliases").json()["asset_aliases"]
    assert "batchtasks/assets_producer/local" in {a["name"] for a in aliases}
