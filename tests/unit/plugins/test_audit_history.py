"""The audit history's query on Airflow's real ``log`` and ``dag_run`` tables (a SQLite file, no server).

What a user of ``GET /audit`` would notice: one stream newest first over actions and run endings, each
filter narrowing it, pages that neither skip nor repeat a line, entries of DAGs the caller may not read
left out, and no secret in anything shown, whoever wrote the entry.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from airflow.models import import_all_models
from airflow.models.base import Base
from airflow.models.dag import DagTag
from airflow.models.dagrun import DagRun
from airflow.models.log import Log
from airflow.models.taskinstance import TaskInstance
from sqlalchemy import create_engine, insert
from sqlalchemy.orm import Session

from airflow_batchtasks.plugins.data import history
from airflow_batchtasks.plugins.data.errors import Invalid
from tests.unit.plugins.airflow_rows import fit

T0 = datetime(2026, 12, 1, 6, 0, tzinfo=timezone.utc)
SECRET = "hunter2-Zq9"


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    """Tasks t0 (project p0), t1 and t2 (project p1), an orchestration and a DAG that is not ours."""
    import_all_models()
    db: Path = tmp_path_factory.mktemp("audit") / "airflow.db"
    engine = create_engine(f"sqlite:///{db}")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        tags = [(f"t{i}", n) for i in range(3) for n in ("batchtasks", f"project:p{min(i, 1)}")]
        tags += [("nightly", "batchtasks"), ("nightly", "orchestration"), ("project__p1", "batchtasks")]
        s.execute(insert(DagTag.__table__), [fit(DagTag.__table__, {"dag_id": d, "name": n}) for d, n in tags])
        runs = []
        for i, dag in enumerate(("t0", "t1", "t2", "nightly", "foreign")):
            for j, state in enumerate(("success", "failed", "failed", "running")):
                start = T0 + timedelta(hours=j, minutes=i)
                runs.append({
                    "dag_id": dag, "run_id": f"r{j}", "state": state, "run_type": "manual" if j else "scheduled",
                    "triggering_user_name": None if j == 0 else "bob", "run_after": start, "start_date": start,
                    "end_date": None if state == "running" else start + timedelta(seconds=90),
                    "conf": {"db_password": SECRET, "region": "EU"}, "clear_number": 0,
                })
        s.execute(insert(DagRun.__table__), [fit(DagRun.__table__, r) for r in runs])
        # run r1 of every DAG really ran (a step failed); r2 was skipped (its step left skipped, as a skip does)
        s.execute(insert(TaskInstance.__table__), [fit(TaskInstance.__table__,
            {"id": uuid.UUID(f"0190a0a0-0000-7000-8000-0000000000{n}{i}"), "dag_id": d, "run_id": run_id,
             "task_id": "extract", "map_index": -1, "state": state, "try_number": 1, "max_tries": 0,
             "pool": "default_pool",
             "pool_slots": 1, "priority_weight": 1, "dag_version_id": None, "span_status": "not_started",
             "custom_operator_name": "", "hostname": "", "unixname": "",
             "queue": "default", "weight_rule": "downstream"})
            for i, d in enumerate(("t0", "t1", "t2"))
            for n, (run_id, state) in enumerate((("r1", "failed"), ("r2", "skipped")))
        ])
        entry = {"task_id": None, "map_index": None, "logical_date": None, "owner_display_name": None,
                 "try_number": None}
        s.execute(insert(Log.__table__), [fit(Log.__table__, row) for row in [
            {**entry, "dttm": T0 + timedelta(minutes=30), "dag_id": "t1", "run_id": "r1", "event": "batchtasks.run",
             "owner": "alice", "extra": json.dumps({"outcome": "done", "args": f"region=EU db_password={SECRET}"})},
            # an older entry written before masking, and its secret quoted in the outcome
            {**entry, "dttm": T0 + timedelta(minutes=31), "dag_id": "t1", "run_id": "r1", "event": "batchtasks.skip",
             "owner": "alice", "extra": json.dumps({"outcome": f"refused (409): bad {SECRET}",
                                                    "params": {"api_token": SECRET}})},
            {**entry, "dttm": T0 + timedelta(minutes=32), "dag_id": "t2", "run_id": None, "event": "patch_dag",
             "owner": "admin", "extra": json.dumps({"is_paused": True, "method": "PATCH"})},
            {**entry, "dttm": T0 + timedelta(minutes=33), "dag_id": None, "run_id": None,
             "event": "batchtasks.definition_create", "owner": "carol",
             "extra": json.dumps({"outcome": "done", "kind": "project", "name": "p1"})},
            {**entry, "dttm": T0 + timedelta(minutes=34), "dag_id": "nightly", "run_id": None,
             "event": "batchtasks.orchestration_launch", "owner": "alice", "extra": json.dumps({"outcome": "done"})},
            # Airflow's events on a DAG that is not ours, and one of Airflow's events we do not list
            {**entry, "dttm": T0 + timedelta(minutes=35), "dag_id": "foreign", "run_id": "r0",
             "event": "trigger_dag_run", "owner": "admin", "extra": "{}"},
            {**entry, "dttm": T0 + timedelta(minutes=36), "dag_id": "t1", "run_id": None, "event": "get_dag",
             "owner": "admin", "extra": "{}"},
            {**entry, "dttm": T0 + timedelta(minutes=37), "dag_id": "t0", "run_id": "r1",
             "event": "clear_dag_run", "owner": "admin", "extra": f"db_password={SECRET} note=x"},
        ]])
        s.commit()
        yield s


def page(session: Session, readable: set[str] | None = None, limit: int = 100, offset: int = 0, **kw):
    return history.list_audit(session, history.AuditFilter(**kw), readable, limit, offset, with_files=False)


def test_one_stream_of_actions_and_run_endings_newest_first(session: Session) -> None:
    got = page(session)
    # 6 listed log entries (not the foreign DAG's, not get_dag) + 3 tasks x 3 ended runs (not the orchestration's)
    assert got.total == 6 + 9 == len(got.entries)
    times = [e.at for e in got.entries]
    assert times == sorted(times, reverse=True)
    actions = {e.action for e in got.entries}
    assert actions == {"run", "skip", "patch_dag", "definition_create", "orchestration_launch", "clear_dag_run",
                       "run_ended"}
    assert all(e.task != "foreign" for e in got.entries)


def test_run_endings_carry_status_duration_and_who_started_them(session: Session) -> None:
    ended = {(e.task, e.run_id): e for e in page(session, actions=("run_ended",)).entries}
    assert len(ended) == 9
    assert ended[("t1", "r0")].status == "Finished" and ended[("t1", "r0")].user == "scheduler"
    assert ended[("t1", "r1")].status == "Failed" and ended[("t1", "r1")].user == "bob"
    assert ended[("t1", "r2")].status == "Skipped"
    assert ended[("t1", "r0")].duration == 90.0
    assert ended[("t1", "r0")].details["conf"] == {"db_password": "***", "region": "EU"}


@pytest.mark.parametrize(("action", "expected"), [
    ("run_finished", {"Finished"}), ("run_failed", {"Failed"}), ("run_skipped", {"Skipped"}),
])
def test_run_ending_actions_pick_one_status(session: Session, action: str, expected: set[str]) -> None:
    got = page(session, actions=(action,))
    assert got.total == 3 and {e.status for e in got.entries} == expected


def test_filters(session: Session) -> None:
    assert {e.task for e in page(session, task="T1").entries} == {"t1"}  # contains, case-insensitive
    by_project = page(session, project="p1").entries
    assert {e.task for e in by_project} == {"t1", "t2", None}
    assert any(e.target == "project p1" for e in by_project)  # the project's definition has no DAG
    assert {e.user for e in page(session, user="alice").entries} == {"alice"}
    assert {(e.task, e.run_id) for e in page(session, user="scheduler").entries} == {
        ("t0", "r0"), ("t1", "r0"), ("t2", "r0")}
    both = page(session, actions=("skip", "patch_dag"))
    assert [e.action for e in both.entries] == ["patch_dag", "skip"]
    assert both.entries[0].outcome == "paused (disabled)"
    window = page(session, from_date=T0 + timedelta(minutes=31), to_date=T0 + timedelta(minutes=34))
    assert [e.action for e in window.entries] == ["definition_create", "patch_dag", "skip"]


def test_pages_neither_skip_nor_repeat(session: Session) -> None:
    everything = [(e.action, e.task, e.run_id, e.at) for e in page(session).entries]
    pages = [page(session, limit=4, offset=o) for o in range(0, 16, 4)]
    assert all(p.total == len(everything) for p in pages)
    assert [(e.action, e.task, e.run_id, e.at) for p in pages for e in p.entries] == everything
    assert page(session, offset=1000).entries == []
    assert page(session, offset=1000).total == len(everything), "past the end, the total is still the total"
    only_logs = [p for p in pages if all(e.kind == "action" for e in p.entries)]
    assert only_logs and all(p.total == len(everything) for p in only_logs), "runs are counted on pages without one"


def test_only_entries_of_readable_dags(session: Session) -> None:
    got = page(session, readable={"t0"})
    assert {e.task for e in got.entries} == {"t0"} and got.total == 4  # clear + 3 endings
    assert all(e.target is None for e in got.entries)  # a project's definition: readers of every DAG only
    assert page(session, readable=set()).total == 0


def test_nothing_shown_holds_a_secret(session: Session) -> None:
    text = page(session).model_dump_json()
    assert SECRET not in text
    by_action = {e.action: e for e in page(session).entries}
    assert by_action["run"].details["args"] == "region=EU db_password=***"
    assert by_action["skip"].details["params"] == {"api_token": "***"}
    assert by_action["skip"].outcome == "refused (409): bad ***"
    assert "db_password=***" in by_action["clear_dag_run"].details["extra"]


def test_action_names_are_checked() -> None:
    assert history.parse_actions(["run,skip", "batchtasks.retry", "run_ended"]) == ("run", "skip", "retry",
                                                                                     "run_ended")
    assert history.parse_actions(["Finished", "skipped"]) == ("run_finished", "run_skipped")
    with pytest.raises(Invalid, match="`launch` is not an action"):
        history.parse_actions(["launch"])
