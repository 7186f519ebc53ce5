"""Writes stay in their folder: run arguments cannot move a delivery, and resend runs check the same.

Each test runs a definition for real (``dag.test()``, real SFTP server or local folder) with
hostile run arguments and checks what landed where: the deliver step fails at once (no retry)
with the reason recorded, and nothing exists outside the destination's folder.
The resend step (:mod:`airflow_batchtasks.operators.resend`) is run the same way, as a run of
the resend DAG the loader builds, against the archive the delivery wrote.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from airflow_batchtasks.dag_factory.loader import build_dags
from airflow_batchtasks.definitions.catalog import load_catalog
from airflow_batchtasks.naming import RESEND_DAG_PREFIX
from airflow_batchtasks.operators.step_failure import read_failure
from airflow_batchtasks.storage import resends
from tests.integration.pipeline import archived_records, migrate_metadata_db, run_definition, set_connection
from tests.integration.remote_folders import remote_folder

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", autouse=True)
def _metadata_db() -> None:
    migrate_metadata_db()


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table items (id integer, name text)")
        conn.executemany("insert into items values (?, ?)", [(i, f"n{i}") for i in range(10)])
    set_connection(monkeypatch, "shop", conn_type="sqlite", host=str(db))


def _task(name: str, destination: str, output: str = "items.csv") -> str:
    return (
        f"kind: task\nname: {name}\nschedule: none\n"
        "params: {sub: {default: in}, name: {default: items.csv}}\n"
        "source: {type: sql, conn_id: shop, query: 'select * from items order by id'}\n"
        f"output: {{name: '{output}'}}\n"
        f"destinations: [{destination}]\n"
    )


def _all_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("kind", ["local", "sftp"])
def test_run_arguments_cannot_move_a_delivery_out_of_its_folder(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest, shop: None
) -> None:
    dest = remote_folder(kind, request, tmp_path)
    inbox = dest.disk / "in"
    inbox.mkdir()
    outside = dest.disk.parent
    before = _all_files(outside)
    conn = f", conn_id: {dest.conn_id}" if dest.conn_id else ""
    yaml_text = _task(f"escape_{kind}", f"{{type: {kind}{conn}, path: '{dest.path}/{{{{ params.sub }}}}'}}")

    result = run_definition(tmp_path, monkeypatch, yaml_text, f"escape_{kind}", conf={"sub": "../.."})

    assert result.steps["deliver"] == "failed"
    failure = read_failure(result.dag_id, result.run_id, "deliver")
    assert failure is not None and failure["retryable"] is False
    assert "destinations[0].path" in failure["error"] and "contains `..`" in failure["error"]
    assert _all_files(outside) == before, "nothing written anywhere near the destination"
    assert archived_records(result.archive) == [], "refused before archiving: no history entry for it"

    ok = run_definition(tmp_path, monkeypatch, yaml_text, f"escape_{kind}", conf={"sub": "in"})
    assert ok.state == "success", ok.steps
    assert sorted(p.name for p in inbox.iterdir()) == ["items.csv"]


def test_a_path_that_starts_with_an_argument_cannot_be_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shop: None
) -> None:
    target = tmp_path / "chosen_by_caller"
    result = run_definition(tmp_path, monkeypatch, _task("abs_arg", "{type: local, path: '{{ params.sub }}'}"),
                            "abs_arg", conf={"sub": str(target)})
    assert result.steps["deliver"] == "failed"
    failure = read_failure(result.dag_id, result.run_id, "deliver")
    assert failure is not None and failure["retryable"] is False
    assert "is absolute but the definition names no folder" in failure["error"]
    assert not target.exists()


def test_an_output_name_with_a_folder_fails_without_retry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shop: None
) -> None:
    out = tmp_path / "out"
    yaml_text = _task("name_arg", f"{{type: local, path: '{out}'}}", output="{{ params.name }}")
    result = run_definition(tmp_path, monkeypatch, yaml_text, "name_arg", conf={"name": "../evil.csv"})
    assert result.steps["extract"] == "failed"
    failure = read_failure(result.dag_id, result.run_id, "extract")
    assert failure is not None and failure["retryable"] is False
    assert "must be a plain name" in failure["error"]
    assert not (tmp_path / "evil.csv").exists() and not out.exists()


def test_a_folder_from_a_variable_is_the_definitions_and_arguments_stay_inside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shop: None
) -> None:
    """Only run arguments are kept in: a path rendered from a Variable (set by an admin) names its folder."""
    out = tmp_path / "vendor_out"
    (out / "in").mkdir(parents=True)
    monkeypatch.setenv("AIRFLOW_VAR_VENDOR_OUT", str(out))
    yaml_text = _task("var_path", "{type: local, path: \"{{ var.value.vendor_out }}/{{ params.sub }}\"}")

    result = run_definition(tmp_path, monkeypatch, yaml_text, "var_path", conf={"sub": "in"})
    assert result.state == "success", result.steps
    assert (out / "in" / "items.csv").exists()

    escaped = run_definition(tmp_path, monkeypatch, yaml_text, "var_path", conf={"sub": "../../elsewhere"})
    assert escaped.steps["deliver"] == "failed"
    failure = read_failure(escaped.dag_id, escaped.run_id, "deliver")
    assert failure is not None and failure["retryable"] is False and "contains `..`" in failure["error"]
    assert not (tmp_path / "elsewhere").exists()


# ----------------------------------------------------------------------------- resend runs


def _resend(tmp_path: Path, request: dict[str, Any], *, stored: bool = True) -> tuple[str, dict[str, str]]:
    """Run the resend DAG the loader builds for the definitions under ``tmp_path`` for ``request``, stored in
    the archive as the API stores it (``stored=False``: a hand-written conf, as anyone allowed to trigger the
    resend DAG in Airflow could write)."""
    conf = {"request": resends.store(request)} if stored else dict(request)
    defs = tmp_path / "definitions"
    dag = build_dags(load_catalog(defs))[RESEND_DAG_PREFIX]
    dags_folder = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    dags_folder.mkdir(parents=True, exist_ok=True)
    loader = dags_folder / "batchtasks_resend_test.py"
    loader.write_text(f"from airflow_batchtasks.dag_factory import load_dags\nload_dags(globals(), {str(defs)!r})\n")
    try:
        run = dag.test(run_conf=conf)
    finally:
        loader.unlink()
    return str(run.state), {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def _record_file(result: Any) -> tuple[Path, Path]:
    [record] = sorted(result.archive.rglob("*.record.json"))
    return record, record.with_name(record.name.removesuffix(".record.json"))


def test_resend_run_sends_the_archived_file_again_and_records_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest, shop: None
) -> None:
    dest = remote_folder("sftp", request, tmp_path)
    (dest.disk / "in").mkdir()
    yaml_text = _task("resend_me", f"{{type: sftp, conn_id: {dest.conn_id}, path: '{dest.path}/{{{{ params.sub }}}}'}}")
    result = run_definition(tmp_path, monkeypatch, yaml_text, "resend_me", conf={"sub": "in"})
    assert result.state == "success", result.steps
    delivered = dest.disk / "in" / "items.csv"
    body = delivered.read_bytes()
    delivered.unlink()
    record_path, archived = _record_file(result)
    conf = {"task": "resend_me", "file_id": "f", "requested_by": "op",
            "archive_path": str(archived.relative_to(tmp_path / "archive")),
            "context": {"ds": "2026-11-20", "ds_nodash": "20261120", "params": {"sub": "in"}}}

    state, steps = _resend(tmp_path, conf)

    assert (state, steps) == ("success", {"resend": "success"})
    assert delivered.read_bytes() == body, "the archived bytes arrived again"
    [entry] = json.loads(record_path.read_text())["resends"]
    assert entry["by"] == "op" and entry["outcome"] == "sent" and entry["dag_id"] == RESEND_DAG_PREFIX
    assert [d["path"] for d in entry["destinations"]] == [str(delivered)]

    # the run's arguments (from the API) pointing elsewhere: refused, recorded, nothing sent
    delivered.unlink()
    escape = {**conf, "context": {**conf["context"], "params": {"sub": "../.."}}}
    assert _resend(tmp_path, escape) == ("failed", {"resend": "failed"})
    assert not delivered.exists() and sorted(p.name for p in dest.disk.iterdir()) == ["in"]
    last = json.loads(record_path.read_text())["resends"][-1]
    assert last["outcome"].startswith("failed: destinations[0].path") and "contains `..`" in last["outcome"]

    # a damaged archive copy is never sent
    archived.write_bytes(body + b"tampered")
    assert _resend(tmp_path, conf) == ("failed", {"resend": "failed"})
    assert not delivered.exists()
    last = json.loads(record_path.read_text())["resends"][-1]
    assert "is damaged" in last["outcome"] and hashlib.md5(body).hexdigest() in last["outcome"]


def test_resend_run_acts_only_on_a_request_the_api_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shop: None
) -> None:
    """Triggering the resend DAG by hand (a conf naming a file, or a replayed request id) sends nothing."""
    out = tmp_path / "out"
    result = run_definition(tmp_path, monkeypatch, _task("resend_me", f"{{type: local, path: '{out}'}}"), "resend_me")
    assert result.state == "success", result.steps
    (out / "items.csv").unlink()
    record_path, archived = _record_file(result)
    request = {"task": "resend_me", "file_id": "f", "requested_by": "op",
               "archive_path": str(archived.relative_to(tmp_path / "archive")), "context": {"params": {}}}

    assert _resend(tmp_path, request, stored=False) == ("failed", {"resend": "failed"})
    request_id = resends.store(request)
    assert _resend(tmp_path, {"request": "0" * 32}, stored=False) == ("failed", {"resend": "failed"})
    assert list(out.iterdir()) == [] and not json.loads(record_path.read_text()).get("resends")

    assert _resend(tmp_path, {"request": request_id}, stored=False) == ("success", {"resend": "success"})
    assert [p.name for p in out.iterdir()] == ["items.csv"]
    (out / "items.csv").unlink()
    assert _resend(tmp_path, {"request": request_id}, stored=False) == ("failed", {"resend": "failed"}), "replayed"
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("archive_path", ["../../etc/passwd", "other_task/r/0123456789ab/items.csv",
                                          "resend_me/../other_task/r/x/items.csv"])
def test_resend_run_only_reads_files_of_its_own_task(
    archive_path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shop: None
) -> None:
    out = tmp_path / "out"
    result = run_definition(tmp_path, monkeypatch, _task("resend_me", f"{{type: local, path: '{out}'}}"), "resend_me")
    assert result.state == "success", result.steps
    (out / "items.csv").unlink()
    conf = {"task": "resend_me", "file_id": "f", "requested_by": "op", "archive_path": archive_path,
            "context": {"params": {}}}
    assert _resend(tmp_path, conf) == ("failed", {"resend": "failed"})
    assert list(out.iterdir()) == []
