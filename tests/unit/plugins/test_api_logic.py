"""Pure logic behind the REST API: dates, run arguments, definition file edits, archive scans, path templates.

The routes themselves are tested against a real Airflow in ``tests/e2e/test_api_*.py``.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pendulum
import pytest
from airflow.sdk import DAG, Param

from airflow_batchtasks.definitions.yaml_source import parse_documents
from airflow_batchtasks.plugins.data import definitions_store as store
from airflow_batchtasks.plugins.data.actions import check_params, parse_and_check, parse_args
from airflow_batchtasks.plugins.data.errors import Conflict, Invalid, NotFound, ReadOnly
from airflow_batchtasks.plugins.data.files import _keep_resends, _scan, file_id
from airflow_batchtasks.plugins.data.resend import render_path
from airflow_batchtasks.plugins.data.runs import parse_when
from airflow_batchtasks.plugins.data.status import run_states, run_status
from tests.airflow_compat import DagSerialization

# ----------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("text", "end", "expected"),
    [
        ("20220221", False, datetime(2022, 2, 21, tzinfo=timezone.utc)),
        ("20220221", True, datetime(2022, 2, 22, tzinfo=timezone.utc)),
        ("20220221T061500", False, datetime(2022, 2, 21, 6, 15, tzinfo=timezone.utc)),
        ("20220221T061500", True, datetime(2022, 2, 21, 6, 15, tzinfo=timezone.utc)),
        ("20220221T0615", False, datetime(2022, 2, 21, 6, 15, tzinfo=timezone.utc)),
        ("2022-02-21T06:15:00+01:00", False, datetime(2022, 2, 21, 5, 15, tzinfo=timezone.utc)),
        ("2022-02-21", True, datetime(2022, 2, 22, tzinfo=timezone.utc)),
    ],
)
def test_parse_when_forms(text: str, end: bool, expected: datetime) -> None:
    assert parse_when(text, end=end) == expected


@pytest.mark.parametrize("text", ["2022", "20220230", "20220221T2561", "yesterday"])
def test_parse_when_refuses_and_names_the_field(text: str) -> None:
    with pytest.raises(Invalid, match=r"^fromDate: `"):
        parse_when(text, field="fromDate")


def test_run_status_mapping() -> None:
    assert [run_status(s) for s in ("queued", "running", "success", "failed", None)] == [
        "IN_PROGRESS", "IN_PROGRESS", "SUCCEEDED", "FAILED", "IN_PROGRESS"]
    assert run_states(["IN_PROGRESS", "FAILED"]) == ["queued", "running", "failed"]


# ----------------------------------------------------------------------------- run arguments


@pytest.fixture(scope="module")
def params():
    """The params of a DAG as the API server sees them: deserialized from the serialized DAG."""
    with DAG(
        "args_test", schedule=None, start_date=pendulum.datetime(2024, 1, 1),
        params={
            "region": Param("EU", type="string", enum=["EU", "US"]),
            "count": Param(3, type=["integer", "null"]),
            "ratio": Param(0.5, type="number"),
            "dry": Param(False, type="boolean"),
            "ids": Param([], type="array"),
            "note": Param("", type="string"),
        },
    ) as dag:
        pass
    return DagSerialization.from_dict(DagSerialization.to_dict(dag)).params


def test_args_are_split_and_typed(params) -> None:
    parsed = parse_args("region=US count=7 ratio=1.5 dry=yes ids=a,b note='two words'", params)
    assert parsed == {"region": "US", "count": 7, "ratio": 1.5, "dry": True, "ids": ["a", "b"], "note": "two words"}
    assert parse_args("""ids='["x", "y"]'""", params) == {"ids": ["x", "y"]}
    assert parse_args("", params) == {}
    check_params(parsed, params)


def test_positional_values_fill_the_declared_params_in_order(params) -> None:
    # declared order: region, count, ratio, dry, ids, note (kept through the serialized DAG)
    assert list(params.keys()) == ["region", "count", "ratio", "dry", "ids", "note"]
    assert parse_args("US 7", params) == {"region": "US", "count": 7}
    assert parse_args("US 7 0.25 yes a,b 'two words'", params) == {
        "region": "US", "count": 7, "ratio": 0.25, "dry": True, "ids": ["a", "b"], "note": "two words"}
    # mixed: positional values skip the params given by key, whatever the tokens' order
    assert parse_args("count=9 US 0.1", params) == {"region": "US", "count": 9, "ratio": 0.1}
    assert parse_args("US 0.1 count=9", params) == {"region": "US", "count": 9, "ratio": 0.1}
    # a value holding `=` whose left part is not a name is a positional value, kept whole
    assert parse_args("region=EU count=1 ratio=1 dry=no ids=x 'a b=c'", params)["note"] == "a b=c"


def test_a_mistyped_key_is_an_unknown_argument_not_a_value(params) -> None:
    with pytest.raises(Invalid) as exc:
        parse_and_check("regio=EU", params)
    assert str(exc.value) == (
        "unknown argument `regio`: this task accepts `count`, `dry`, `ids`, `note`, `ratio`, `region`")
    assert parse_and_check("US 2", params) == {"region": "US", "count": 2}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("US 7 0.5 no a 'n' X", "args: `X` is one value too many: this task accepts in this order "
                                "`region`, `count`, `ratio`, `dry`, `ids`, `note`"),
        ("region=US count=1 ratio=1 dry=no ids=a note=x colour=red", "unknown argument `colour`: "
         "this task accepts `count`, `dry`, `ids`, `note`, `ratio`, `region`"),
        ("count=many", "argument `count`: `many` is not a valid integer"),
        ("US many", "argument `count`: `many` is not a valid integer"),
        ("region=EU 'colour red'", "argument `count`: `colour red` is not a valid integer"),
        ("dry=perhaps", "argument `dry`: `perhaps` is not a valid boolean"),
        ("region=EU region=US", "argument `region` is given twice"),
        ("note='open", "args: cannot split `note='open`: No closing quotation"),
    ],
)
def test_bad_args_name_the_argument(params, args: str, message: str) -> None:
    with pytest.raises(Invalid) as exc:
        parse_args(args, params)
    assert str(exc.value) == message


def test_a_task_without_params_takes_no_values(params) -> None:
    from airflow.sdk.definitions.param import ParamsDict

    with pytest.raises(Invalid, match=r"^args: `EU` is one value too many: this task takes no arguments$"):
        parse_args("EU", ParamsDict({}))


def test_param_validation_names_the_argument(params) -> None:
    with pytest.raises(Invalid, match=r"^argument `region`: 'XX' is not one of \['EU', 'US'\]$"):
        check_params({"region": "XX"}, params)
    with pytest.raises(Invalid, match=r"^unknown argument `colour`"):
        check_params({"colour": "red"}, params)


# ----------------------------------------------------------------------------- definition files


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "definitions"
    root.mkdir()
    monkeypatch.setenv("AIRFLOW__BATCHTASKS__DEFINITIONS_FOLDER", str(root))
    monkeypatch.setenv("AIRFLOW__BATCHTASKS__DEFINITIONS_WRITABLE", "True")
    (root / "main.yaml").write_text(
        "# the project\nkind: project\nname: sales\n---\n# first task\nkind: task\nname: a\nproject: sales\n"
        "source: {type: sql, conn_id: c, query: 'select 1'}\n---\nkind: task\nname: b\n"
        "source: {type: sql, conn_id: c, query: 'select 2'}\n"
    )
    store.catalog_cache.invalidate()
    return root


TASK_C = "kind: task\nname: c\nsource: {type: sql, conn_id: c, query: 'select 3'}\n"


def test_create_update_delete_keep_other_documents(folder: Path) -> None:
    created = store.create(TASK_C)
    assert created.file == "c.yaml" and (folder / "c.yaml").read_text() == TASK_C
    with pytest.raises(Conflict):
        store.create(TASK_C)

    store.update("task", "a", "# first task, edited\nkind: task\nname: a\nproject: sales\ndescription: new\n"
                 "source: {type: sql, conn_id: c, query: 'select 1'}\n")
    text = (folder / "main.yaml").read_text()
    assert text.count("# first task") == 1 and "# first task, edited" in text and "description: new" in text
    assert "# the project" in text and "name: b" in text

    store.delete("task", "b")
    text = (folder / "main.yaml").read_text()
    assert "name: b" not in text and "name: a" in text
    store.delete("task", "c")
    assert not (folder / "c.yaml").exists(), "a file left without documents is removed"
    with pytest.raises(NotFound):
        store.delete("task", "c")


def test_changes_that_break_the_folder_are_refused_with_positions(folder: Path) -> None:
    with pytest.raises(Invalid) as exc:
        store.delete("project", "sales")
    # positions are those of the file as the change would leave it (the project's 4 lines are gone)
    assert exc.value.errors == ["main.yaml:6: project: unknown project `sales`"]
    with pytest.raises(Invalid) as exc:
        store.create("kind: task\nname: d\nsource: {type: sql, conn_id: c, query: x}\ndestination: []\n")
    assert exc.value.errors == ["d.yaml:4: destination: unknown key `destination` (did you mean `destinations`?)"]
    with pytest.raises(Invalid, match="defines task `z`, not task `a`"):
        store.update("task", "a", "kind: task\nname: z\nsource: {type: sql, conn_id: c, query: x}\n")
    assert not (folder / "d.yaml").exists()


def test_errors_already_in_the_folder_do_not_block_other_changes(folder: Path) -> None:
    (folder / "broken.yaml").write_text("kind: task\nname: broken\n")
    store.catalog_cache.invalidate()
    assert store.create(TASK_C).name == "c"
    assert store.validate_text(TASK_C.replace("select 3", "select 4")) == [], "validated as a replacement of c"
    assert store.validate_text("kind: task\nname: e\n") == ["e.yaml:1: source: required key `source` is missing"]


@pytest.mark.parametrize("file", ["../out.yaml", "/etc/x.yaml", "sub/.hidden.yaml", "notes.txt"])
def test_files_stay_inside_the_folder(folder: Path, file: str) -> None:
    with pytest.raises(Invalid, match="inside the definitions folder"):
        store.create(TASK_C, file)


def test_duplicate_is_disabled_and_keeps_comments(folder: Path) -> None:
    copy = store.duplicate("task", "a", "a2")
    assert copy.data["enabled"] is False and copy.data["project"] == "sales"
    assert (folder / "a2.yaml").read_text().startswith("kind: task\nname: a2\nenabled: false\nproject: sales\n")
    doc = parse_documents("kind: orchestration\nname: o  # nightly\nactive: true\nsteps: [{task: a}]\n", "x")[0][0]
    assert store.renamed_copy(doc, "o2", "active") == \
        "kind: orchestration\nname: o2  # nightly\nactive: false\nsteps: [{task: a}]\n"
    flow = parse_documents("{kind: task, name: f, source: {type: python}}\n", "x")[0][0]
    assert "name: f2" in store.renamed_copy(flow, "f2", "enabled"), "flow style falls back to a dump"


def test_read_only_folder(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__BATCHTASKS__DEFINITIONS_WRITABLE", "False")
    for call in (lambda: store.create(TASK_C), lambda: store.delete("task", "a"),
                 lambda: store.update("task", "a", TASK_C), lambda: store.duplicate("task", "a", "a3")):
        with pytest.raises(ReadOnly):
            call()
    assert [d.name for d in store.list_definitions("task")[0]] == ["a", "b"]


# ----------------------------------------------------------------------------- archive scan


def test_scan_reads_records_and_ids_are_path_hashes(tmp_path: Path) -> None:
    from airflow.sdk import ObjectStoragePath

    folder = tmp_path / "archive" / "t" / "run_1" / "0123456789ab"
    folder.mkdir(parents=True)
    (folder / "out.csv").write_text("x\n")
    record = {"name": "out.csv", "size": 2, "md5": "m", "task": "t", "run_id": "run:1", "rows": 1,
              "created": "2026-01-02T03:04:05+00:00", "destinations": [{"type": "local", "path": "/x"}]}
    (folder / "out.csv.record.json").write_text(json.dumps(record))
    (folder.parent / "garbage.record.json").write_text("{not json")
    root = ObjectStoragePath(f"file://{tmp_path / 'archive'}")
    [row] = _scan(root / "t", root)
    assert row["path"] == "t/run_1/0123456789ab/out.csv"
    assert row["id"] == file_id("t/run_1/0123456789ab/out.csv") and len(row["id"]) == 24
    assert row["run_id"] == "run:1" and row["created"] == datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert _scan(root / "missing", root) == []


def test_a_scan_older_than_a_resend_does_not_drop_it_from_the_index(tmp_path: Path) -> None:
    from sqlalchemy import create_engine, insert
    from sqlalchemy.orm import Session

    from airflow_batchtasks.db.tables import files as files_t
    from airflow_batchtasks.db.tables import metadata

    engine = create_engine(f"sqlite:///{tmp_path / 'index.db'}")
    metadata.create_all(engine)
    resend = [{"at": "2026-11-21T10:00:00+00:00", "by": "op", "destinations": [], "outcome": "sent"}]

    def row(fid: str, resends: list) -> dict:
        return {"id": fid, "task": "t", "run_id": "r", "name": fid, "size": 1, "md5": "m", "rows": 1, "created": None,
                "destinations": "[]", "resends": json.dumps(resends), "path": f"t/r/x/{fid}"}

    with Session(engine) as session:
        session.execute(insert(files_t), [row("resent", resend), row("other", [])])
        # the scan read the records just before the resend rewrote "resent"; "other" was resent since
        scanned = _keep_resends(session, [row("resent", []), row("other", resend * 2)], files_t.c.task == "t")
    assert [json.loads(r["resends"]) for r in scanned] == [resend, resend * 2]


# ----------------------------------------------------------------------------- resend paths


def test_destination_paths_render_for_the_original_run() -> None:
    ctx = {"ds": "2026-11-20", "ds_nodash": "20261120", "params": {"region": "EU"}}
    assert render_path("/in/{{ ds_nodash }}/{{ params.region }}", ctx) == "/in/20261120/EU"
    assert render_path("/plain", {}) == "/plain"
    with pytest.raises(Conflict, match="cannot be rendered"):
        render_path("/in/{{ nope }}", ctx)


def test_the_audit_records_positional_values_under_their_param_names(params) -> None:
    from airflow_batchtasks.definitions import masking
    from airflow_batchtasks.plugins.data.actions import args_for_audit

    assert args_for_audit("US 7 note='two words'", params) == "region=US count=7 note='two words'"
    # a value that cannot be placed may be any param's, a secret's too: recorded masked
    assert args_for_audit("US 7 0.5 no a n s3cr3t", params) == "*** *** *** *** *** *** ***"
    assert args_for_audit("region=US s3cr3t=x", params) == "region=US ***"
    assert "s3cr3t" not in masking.mask_args(args_for_audit("s3cr3t", _secret_params()))


def _secret_params():
    from airflow.sdk.definitions.param import Param, ParamsDict

    return ParamsDict({"db_password": Param("x"), "region": Param("EU")})
