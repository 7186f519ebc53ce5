"""What DAGs declare: delivery aliases, `after` schedules, file-source inlets, the deliveries note; `after` errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

from airflow.sdk import Asset, AssetAlias, AssetAll, AssetAny

from airflow_batchtasks.assets.declared import after_condition, delivery_alias_names, source_inlets
from airflow_batchtasks.assets.events import delivery_extra
from airflow_batchtasks.assets.notes import NOTE_MAX, deliveries_note
from airflow_batchtasks.dag_factory.loader import load_dags
from airflow_batchtasks.definitions.catalog import load_catalog

DEFS = """
kind: task
name: producer
source: {type: file, location: {type: local, path: /srv/in/seed.csv}}
output: {name: "sales_{{ ds }}.csv"}
destinations:
  - {type: local, path: /srv/out}
  - {type: sftp, conn_id: vendor, path: "/in/{{ ds }}"}
  - {type: sftp, conn_id: vendor, path: /archive}
---
kind: task
name: other
source: {type: file, location: {type: local, path: "/srv/in/*.csv"}}
destinations: [{type: local, path: /srv/out2}]
---
kind: task
name: consumer
schedule: {after: [producer, other]}
source: {type: file, location: {type: local, path: /srv/out/sales.csv}}
destinations: [{type: local, path: /srv/final}]
---
kind: orchestration
name: nightly
schedule: {after: [consumer]}
steps: [{task: producer}]
"""


def test_one_alias_per_destination_named_from_task_and_destination() -> None:
    dests = [{"type": "local"}, {"type": "sftp", "conn_id": "vendor"}, {"type": "sftp", "conn_id": "vendor"},
             {"type": "sftp", "conn_id": "vendor"}]
    assert delivery_alias_names("t", dests) == [
        "batchtasks/t/local", "batchtasks/t/sftp:vendor", "batchtasks/t/sftp:vendor#2", "batchtasks/t/sftp:vendor#3"]


def test_after_waits_for_every_task_and_any_of_its_destinations() -> None:
    cond = after_condition(["a", "b"], {"a": [{"type": "local"}, {"type": "ftp", "conn_id": "f"}],
                                        "b": [{"type": "local"}]})
    # compared as text: Airflow 3.1's conditions have no equality
    assert repr(cond) == repr(AssetAll(AssetAny(AssetAlias("batchtasks/a/local"), AssetAlias("batchtasks/a/ftp:f")),
                                       AssetAlias("batchtasks/b/local")))
    assert after_condition(["b"], {"b": [{"type": "local"}]}) == AssetAlias("batchtasks/b/local")


def test_only_a_fixed_file_path_is_declared_as_inlet() -> None:
    assert source_inlets({"type": "local", "path": "/srv/out/a.csv"}) == [Asset("file:///srv/out/a.csv")]
    assert source_inlets({"type": "local", "path": "/srv/out/*.csv"}) == []
    assert source_inlets({"type": "local", "path": "/srv/out/{{ ds }}.csv"}) == []
    # a connection that cannot be read while parsing: nothing declared, and the DAG still loads
    assert source_inlets({"type": "sftp", "conn_id": "no_such_conn_anywhere", "path": "/a.csv"}) == []


def test_dags_declare_aliases_schedules_and_inlets(tmp_path: Path, write: Callable[[str, str], Path],
                                                    defs: Path) -> None:
    write("all.yaml", DEFS)
    dags: dict = {}
    catalog = load_dags(dags, defs)
    assert catalog.errors == []
    deliver = dags["producer"].get_task("deliver")
    assert [a.name for a in deliver.outlets] == [
        "batchtasks/producer/local", "batchtasks/producer/sftp:vendor", "batchtasks/producer/sftp:vendor#2"]
    assert dags["consumer"].get_task("extract").inlets == [Asset("file:///srv/out/sales.csv")]
    assert dags["other"].get_task("extract").inlets == []
    producer = AssetAny(*(AssetAlias(a.name) for a in deliver.outlets))
    assert repr(dags["consumer"].timetable.asset_condition) == repr(
        AssetAll(producer, AssetAlias("batchtasks/other/local")))
    assert dags["nightly"].timetable.asset_condition == AssetAlias("batchtasks/consumer/local")


def test_after_names_are_checked_at_their_line(write: Callable[[str, str], Path], defs: Path) -> None:
    write("bad.yaml", """
kind: task
name: quiet
source: {type: file, location: {type: local, path: /a.csv}}
---
kind: task
name: waits
schedule:
  after:
    - quiet
    - waits
    - missing_tsk
source: {type: file, location: {type: local, path: /a.csv}}
destinations: [{type: local, path: /out}]
---
kind: task
name: typo
schedule: {after: [waitz]}
source: {type: file, location: {type: local, path: /a.csv}}
destinations: [{type: local, path: /out}]
""")
    errors = {(e.line, e.field, e.message) for e in load_catalog(defs).errors}
    assert (9, "schedule.after[0]", "task `quiet` has no `destinations`: it never delivers") in errors
    assert any(e[:2] == (17, "schedule.after[0]") and "unknown task `waitz`" in e[2] for e in errors), errors


def test_event_extra_is_the_file_record() -> None:
    record = SimpleNamespace(task="t", run_id="r1", name="a.csv", size=10, md5="abc", rows=3)
    extra = delivery_extra(record, {"type": "sftp", "conn_id": "vendor", "path": "/in"}, "sftp://h:22/in/a.csv")
    assert extra == {"batch_task": "t", "run_id": "r1", "name": "a.csv", "size": 10, "md5": "abc", "rows": 3,
                     "destination": "sftp", "conn_id": "vendor", "uri": "sftp://h:22/in/a.csv"}


def test_deliveries_note() -> None:
    event = {"source_dag_id": "t", "source_run_id": "r1", "uri": "file:///o/a.csv",
             "extra": {"batch_task": "t", "run_id": "r1", "name": "a.csv", "md5": "abc", "rows": 3}}
    assert deliveries_note([event]) == "Started by deliveries:\n- t run r1: a.csv -> file:///o/a.csv (md5 abc, 3 rows)"
    assert deliveries_note([{**event, "extra": {}}]) == "", "an event that is no delivery is not reported"
    many = deliveries_note([event] * 100)
    assert len(many) <= NOTE_MAX and many.endswith("(100 deliveries in all: see the run's asset events)")


def test_after_refuses_itself_and_orchestrations(write: Callable[[str, str], Path], defs: Path) -> None:
    write("loop.yaml", """
kind: task
name: loop
schedule: {after: [loop]}
source: {type: file, location: {type: local, path: /a.csv}}
destinations: [{type: local, path: /out}]
---
kind: orchestration
name: nightly
schedule: {after: [nightly2]}
steps: [{task: loop}]
---
kind: orchestration
name: nightly2
steps: [{task: loop}]
""")
    messages = {e.message for e in load_catalog(defs).errors}
    assert "`loop` is this task: a task cannot wait for its own deliveries" in messages
    assert "`nightly2` is an orchestration: `after` names tasks (their deliveries)" in messages
