"""File sources (sftp/ftp/smb/local, wildcards, keep or reformat) and ftp/smb/sftp/local destinations."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from airflow_batchtasks.operators.step_failure import read_failure
from tests.integration.pipeline import archived_records, migrate_metadata_db, run_definition, set_connection
from tests.integration.remote_folders import remote_folder

pytestmark = pytest.mark.integration

KINDS = ["sftp", "ftp", "smb", "local"]
# Quoted delimiters, an embedded newline, non-ASCII text and a CRLF file: what a reformat must keep intact.
AWKWARD_CSV = 'id,name,note\r\n1,"Smith, John","said ""hi"""\r\n2,"multi\nline",été\r\n3,plain,\r\n'


@pytest.fixture(scope="module", autouse=True)
def _metadata_db() -> None:
    migrate_metadata_db()


def _task(name: str, source: str, destinations: str, output: str = "") -> str:
    return f"kind: task\nname: {name}\nschedule: none\nsource: {source}\n{output}\ndestinations: {destinations}\n"


@pytest.mark.parametrize("kind", KINDS)
def test_file_source_fetches_the_matching_files_unchanged(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    src = remote_folder(kind, request, tmp_path)
    payload = {"sales_1.csv": b"a,b\r\n1,2\r\n", "sales_2.csv": bytes(range(256)) * 4000, "other.csv": b"x\n"}
    for name, data in payload.items():
        (src.disk / name).write_bytes(data)
    (src.disk / "sales_dir.csv").mkdir()  # a folder that matches the pattern is not a file
    (src.disk / ".sales_3.csv.0123456789ab.part").write_bytes(b"upload in progress")
    out = tmp_path / "out"
    result = run_definition(tmp_path, monkeypatch, _task(
        f"files_from_{kind}", f"{{type: file, location: {src.yaml_location('sales_*.csv')}}}",
        f"[{{type: local, path: '{out}'}}]",
    ), f"files_from_{kind}")
    assert result.state == "success", result.steps
    assert sorted(p.name for p in out.iterdir()) == ["sales_1.csv", "sales_2.csv"]
    for name in ("sales_1.csv", "sales_2.csv"):
        assert (out / name).read_bytes() == payload[name], "kept byte for byte"
    records = {r["name"]: r for r in archived_records(result.archive)}
    assert records["sales_2.csv"]["md5"] == hashlib.md5(payload["sales_2.csv"]).hexdigest()
    assert records["sales_2.csv"]["rows"] is None, "no `input` given: a kept file's rows are unknown"


@pytest.mark.parametrize("kind", KINDS)
def test_delivers_to_each_destination_type_atomically(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    dest = remote_folder(kind, request, tmp_path)
    # A temporary file an interrupted upload of the same name left behind: the put removes it.
    (dest.disk / ".items.csv.0123456789ab.part").write_bytes(b"half")
    (dest.disk / "items.csv").write_bytes(b"yesterday's file\n")
    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table items (id integer, name text)")
        conn.executemany("insert into items values (?, ?)", [(i, f"n{i}") for i in range(5000)])
    set_connection(monkeypatch, "shop", conn_type="sqlite", host=str(db))
    result = run_definition(tmp_path, monkeypatch, _task(
        f"to_{kind}", "{type: sql, conn_id: shop, query: 'select * from items order by id'}",
        f"[{dest.yaml_destination()}]", "output: {name: items.csv}",
    ), f"to_{kind}")
    assert result.state == "success", result.steps
    assert dest.names() == ["items.csv"], "overwritten in place, no temporary file left"
    body = (dest.disk / "items.csv").read_bytes()
    assert body.startswith(b"id,name\n0,n0\n") and body.count(b"\n") == 5001
    record = archived_records(result.archive)[0]
    assert record["md5"] == hashlib.md5(body).hexdigest()
    assert [d["type"] for d in record["destinations"]] == [kind]


@pytest.mark.parametrize("kind", ["ftp", "smb"])
def test_overwrite_false_refuses_an_existing_file(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    src = remote_folder("local", request, tmp_path)
    (src.disk / "fixed.csv").write_bytes(b"new content\n")
    dest = remote_folder(kind, request, tmp_path)
    (dest.disk / "fixed.csv").write_bytes(b"already here\n")
    result = run_definition(tmp_path, monkeypatch, _task(
        f"no_overwrite_{kind}", f"{{type: file, location: {src.yaml_location('fixed.csv')}}}",
        f"[{dest.yaml_destination(overwrite=False)}]",
    ), f"no_overwrite_{kind}")
    assert result.steps["deliver"] == "failed"
    failure = read_failure(result.dag_id, result.run_id, "deliver")
    assert failure["error_type"] == "AirflowFailException" and failure["retryable"] is False, failure
    assert failure["error"].startswith(f"{kind} /") and failure["error"].endswith(
        "/fixed.csv exists and overwrite is false"), failure["error"]
    assert (dest.disk / "fixed.csv").read_bytes() == b"already here\n"
    assert dest.names() == ["fixed.csv"], "no temporary file left"


def test_reformat_csv_to_pipe_keeps_quoted_fields_and_counts_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    src = remote_folder("sftp", request, tmp_path)
    (src.disk / "people.csv").write_bytes(AWKWARD_CSV.encode())
    dest = remote_folder("smb", request, tmp_path)
    result = run_definition(tmp_path, monkeypatch, _task(
        "csv_to_pipe", f"{{type: file, location: {src.yaml_location('people.csv')}, input: {{delimiter: ','}}}}",
        f"[{dest.yaml_destination()}]", "output: {format: pipe, encoding: latin-1, line_terminator: \"\\r\\n\"}",
    ), "csv_to_pipe")
    assert result.state == "success", result.steps
    assert dest.names() == ["people.csv"], "file sources keep their names when output.name is omitted"
    assert (dest.disk / "people.csv").read_bytes() == (
        'id|name|note\r\n1|Smith, John|"said ""hi"""\r\n2|"multi\nline"|été\r\n3|plain|\r\n'.encode("latin-1")
    )
    assert archived_records(result.archive)[0]["rows"] == 3


def test_header_only_file_is_empty_for_skip_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    src = remote_folder("ftp", request, tmp_path)
    (src.disk / "empty_20261120.tsv").write_bytes(b"id\tname\n")
    dest = remote_folder("ftp", request, tmp_path)
    result = run_definition(tmp_path, monkeypatch, _task(
        "header_only", f"{{type: file, location: {src.yaml_location('empty_*.tsv')}, input: {{delimiter: \"\\t\"}}}}",
        f"[{dest.yaml_destination(skip_empty=True)}]", "output: {format: keep, zip: {name: empty.zip}}",
    ), "header_only")
    assert result.state == "success", result.steps
    assert dest.names() == [], "no upload and no zip for an output without data rows"
    record = archived_records(result.archive)[0]
    assert record["name"] == "empty_20261120.tsv" and record["rows"] == 0


def test_keep_with_one_file_and_output_name_renames_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    src = remote_folder("smb", request, tmp_path)
    (src.disk / "Report_2026.TXT").write_bytes(b"line 1\nline 2")
    out = tmp_path / "out"
    result = run_definition(tmp_path, monkeypatch, _task(
        "rename_one", f"{{type: file, location: {src.yaml_location('report_*.txt')}, input: {{header: false}}}}",
        f"[{{type: local, path: '{out}'}}]", "output: {name: 'report_{{ ds_nodash }}.txt', format: keep}",
    ), "rename_one")
    assert result.state == "success", result.steps
    [delivered] = list(out.iterdir())
    assert delivered.name.startswith("report_2") and delivered.read_bytes() == b"line 1\nline 2"
    assert archived_records(result.archive)[0]["rows"] == 2, "SMB patterns match case-insensitively"


def test_no_matching_file_fails_the_extract_and_delivers_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    src = remote_folder("sftp", request, tmp_path)
    (src.disk / "other.csv").write_bytes(b"x\n")
    out = tmp_path / "out"
    result = run_definition(tmp_path, monkeypatch, _task(
        "nothing_there", f"{{type: file, location: {src.yaml_location('sales_*.csv')}}}",
        f"[{{type: local, path: '{out}'}}]",
    ), "nothing_there")
    assert result.steps["extract"] == "failed"
    assert result.state == "failed"
    failure = read_failure(result.dag_id, result.run_id, "extract")
    assert failure["error"].startswith("no file matches sftp ") and failure["error"].endswith(
        f"/{src.disk.name}/sales_*.csv"), failure["error"]
    assert failure["retryable"] is True, "a file that arrives late: the task's retries wait for it"
    assert not out.exists()


def test_output_name_with_several_files_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    src = remote_folder("local", request, tmp_path)
    for name in ("a.csv", "b.csv"):
        (src.disk / name).write_bytes(b"h\n1\n")
    out = tmp_path / "out"
    result = run_definition(tmp_path, monkeypatch, _task(
        "two_into_one", f"{{type: file, location: {src.yaml_location('*.csv')}}}",
        f"[{{type: local, path: '{out}'}}]", "output: {name: one.csv}",
    ), "two_into_one")
    assert result.steps["extract"] == "failed"
    failure = read_failure(result.dag_id, result.run_id, "extract")
    assert failure["error"] == ("output.name renames a single file, but 2 files match: omit output.name to keep "
                                "their names, or zip them (output.zip)")
    assert failure["retryable"] is False, "a definition error: no retry can fix it"
    assert not out.exists()
