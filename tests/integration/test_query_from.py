"""``query_from``: the SQL text fetched from sftp/ftp/smb/local/url/git, cleaned of USE/GO, cached."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from airflow_batchtasks.operators.step_failure import read_failure
from tests.integration.pipeline import migrate_metadata_db, run_definition, set_connection
from tests.integration.remote_folders import remote_folder
from tests.servers.http_files import TokenFileServer

pytestmark = pytest.mark.integration

# Written for SQL Server tools: a USE line and GO separators, plus a run argument and a date helper.
QUERY = (
    "USE shop;\n"
    "select id, name, '{{ ds_nodash }}' as day from items where id <= {{ params.max_id }} order by id\n"
    "GO\n"
)
GITLAB_RAW = "/api/v4/projects/data%2Fqueries/repository/files/sales%2Fdaily.sql/raw?ref=main"


@pytest.fixture(scope="module", autouse=True)
def _metadata_db() -> None:
    migrate_metadata_db()


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table items (id integer, name text)")
        conn.executemany("insert into items values (?, ?)", [(1, "a"), (2, "b"), (3, "c")])
    set_connection(monkeypatch, "shop", conn_type="sqlite", host=str(db))
    return "shop"


def _task(name: str, query_from: str, out: Path) -> str:
    return (
        f"kind: task\nname: {name}\nschedule: none\nparams: {{max_id: 2}}\n"
        f"source: {{type: sql, conn_id: shop, query_from: {query_from}}}\n"
        f"output: {{name: items.csv}}\ndestinations: [{{type: local, path: '{out}'}}]\n"
    )


def _expected(day: str) -> str:
    return f"id,name,day\n1,a,{day}\n2,b,{day}\n"


def _rendered_query(dag_id: str) -> str:
    """The ``query`` field as the UI's "Rendered Template" shows it, from the metadata DB."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.utils.session import create_session

    with create_session() as session:
        row = (
            session.query(RenderedTaskInstanceFields)
            .filter_by(dag_id=dag_id, task_id="extract")
            .order_by(RenderedTaskInstanceFields.run_id.desc())
            .first()
        )
        return row.rendered_fields["query"]


@pytest.mark.parametrize("kind", ["sftp", "ftp", "smb", "local"])
def test_query_from_a_file_location_runs_cleaned_and_templated(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest, shop: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    folder = remote_folder(kind, request, tmp_path)
    (folder.disk / "daily.sql").write_text(QUERY)
    out = tmp_path / "out"
    dag_id = f"query_from_{kind}"
    result = run_definition(tmp_path, monkeypatch, _task(dag_id, folder.yaml_location("daily.sql"), out), dag_id)
    logs = capfd.readouterr().out
    assert result.state == "success", result.steps
    body = (out / "items.csv").read_text()
    assert body == _expected(body.split(",")[-1].strip()), "rows 1-2 only: the run argument was bound"
    assert "Removed from the query (one ODBC statement cannot run them): USE shop; | GO" in logs
    rendered = _rendered_query(dag_id)
    assert rendered.startswith("select id, name, '2") and "where id <= ? order by id" in rendered
    assert "USE" not in rendered and "GO" not in rendered


def test_query_from_url_sends_the_connection_token_as_bearer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shop: str
) -> None:
    with TokenFileServer({"/sql/daily.sql": QUERY.encode()}, "Authorization", "Bearer t0k3n") as web:
        set_connection(monkeypatch, "web", conn_type="http", host=web.host, port=web.port, password="t0k3n")
        out = tmp_path / "out"
        result = run_definition(tmp_path, monkeypatch, _task(
            "query_from_url", f"{{type: url, conn_id: web, url: '{web.base_url}/sql/daily.sql'}}", out,
        ), "query_from_url")
    assert result.state == "success", result.steps
    assert (out / "items.csv").read_text().startswith("id,name,day\n1,a,")
    assert [path for path, _ in web.requests] == ["/sql/daily.sql"]


def test_query_from_url_without_the_token_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shop: str) -> None:
    with TokenFileServer({"/sql/daily.sql": QUERY.encode()}, "Authorization", "Bearer t0k3n") as web:
        out = tmp_path / "out"
        result = run_definition(tmp_path, monkeypatch, _task(
            "query_from_url_no_token", f"{{type: url, url: '{web.base_url}/sql/daily.sql'}}", out,
        ), "query_from_url_no_token")
    assert result.steps["extract"] == "failed"
    failure = read_failure(result.dag_id, result.run_id, "extract")
    assert failure["error"].startswith("HTTP 401 (the request itself is refused"), failure["error"]
    assert f"source.query_from: cannot read url {web.base_url}/sql/daily.sql: 401" in failure["error"]
    assert failure["retryable"] is False, "a missing token stays missing: 4xx other than 408/425/429 is not retried"
    assert not out.exists()


def test_query_from_gitlab_raw_file_api_with_private_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shop: str
) -> None:
    with TokenFileServer({GITLAB_RAW: QUERY.encode()}, "PRIVATE-TOKEN", "glpat-123") as gitlab:
        set_connection(monkeypatch, "gitlab", conn_type="http", host=gitlab.base_url, password="glpat-123")
        out = tmp_path / "out"
        result = run_definition(tmp_path, monkeypatch, _task(
            "query_from_git", "{type: git, conn_id: gitlab, path: data/queries/-/sales/daily.sql, ref: main}", out,
        ), "query_from_git")
    assert result.state == "success", result.steps
    assert [path for path, _ in gitlab.requests] == [GITLAB_RAW]
    assert (out / "items.csv").read_text().startswith("id,name,day\n1,a,")


def test_cached_query_is_used_with_a_warning_when_the_location_is_unreachable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shop: str, capfd: pytest.CaptureFixture[str]
) -> None:
    web = TokenFileServer({"/sql/daily.sql": QUERY.encode()}, "Authorization", "Bearer t0k3n").start()
    set_connection(monkeypatch, "web", conn_type="http", host=web.host, port=web.port, password="t0k3n")
    out = tmp_path / "out"
    cached = _task("query_cached", "{type: url, conn_id: web, url: /sql/daily.sql, cache: true}", out)
    try:
        first = run_definition(tmp_path, monkeypatch, cached, "query_cached")
    finally:
        web.stop()
    assert first.state == "success", first.steps
    copies = list((tmp_path / "archive" / "_cache" / "query_cached").iterdir())
    assert any(p.read_bytes() == QUERY.encode() for p in copies), "the text is cached before templating"
    (out / "items.csv").unlink()
    capfd.readouterr()

    second = run_definition(tmp_path, monkeypatch, cached, "query_cached")
    logs = capfd.readouterr().out
    assert second.state == "success", second.steps
    assert (out / "items.csv").read_text().startswith("id,name,day\n1,a,"), "params still apply to the cached copy"
    assert "Cannot read url web:/sql/daily.sql" in logs and "using the cached copy fetched at" in logs
    assert "t0k3n" not in logs

    uncached = _task("query_not_cached", "{type: url, conn_id: web, url: /sql/daily.sql}", tmp_path / "out2")
    third = run_definition(tmp_path, monkeypatch, uncached, "query_not_cached")
    assert third.steps["extract"] == "failed", "without cache: true an unreachable location fails the run"
