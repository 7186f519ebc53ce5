"""Run arguments in SQL are always bound, however the query template reaches them (real PostgreSQL and SQLite).

Each query asks for the hostile argument and, written the same way, for a harmless one: exactly the
harmless one's row must come back. An argument pasted into the SQL text would instead return every row
(``' or 1=1 --``), or fail the query.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.integration.pipeline import migrate_metadata_db, run_definition, set_connection
from tests.servers import PostgresServer

pytestmark = pytest.mark.integration

HOSTILE = "' or 1=1 --"
ROWS = [(1, "alice"), (2, "O'Brien"), (3, "carol")]


@pytest.fixture(scope="module", autouse=True)
def _metadata_db() -> None:
    migrate_metadata_db()


@pytest.fixture(scope="module")
def pg_accounts(postgres_server: PostgresServer) -> None:
    postgres_server.execute("drop table if exists accounts")
    postgres_server.execute("create table accounts (id int primary key, name text)")
    for row in ROWS:
        postgres_server.execute("insert into accounts values (%s, %s)", row)


@pytest.fixture
def pg_conn(monkeypatch: pytest.MonkeyPatch, postgres_server: PostgresServer, pg_accounts: None) -> str:
    set_connection(
        monkeypatch, "pg_accounts", conn_type="postgres", host=postgres_server.host, port=postgres_server.port,
        login=postgres_server.user, password=postgres_server.password, schema=postgres_server.database,
    )
    return "pg_accounts"


@pytest.fixture
def sqlite_conn(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    db = tmp_path / "accounts.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table accounts (id integer, name text)")
        conn.executemany("insert into accounts values (?, ?)", ROWS)
    set_connection(monkeypatch, "sqlite_accounts", conn_type="sqlite", host=str(db))
    return "sqlite_accounts"


def _task(conn_id: str, out: Path, query: str, params: dict[str, object]) -> str:
    declared = {key: {"default": value} for key, value in params.items()}
    return (
        f"kind: task\nname: accounts_picked\nschedule: none\nparams: {json.dumps(declared)}\n"
        f"source: {json.dumps({'type': 'sql', 'conn_id': conn_id, 'query': query})}\n"
        "output: {name: picked.csv}\n"
        f"destinations: [{{type: local, path: '{out}'}}]\n"
    )


#: Ways of writing argument ``K`` into a query; each must end up bound.
WAYS = [
    "'{{ params.K.value }}'",
    "{{ params['K'] }}",
    "'{{ params.get('K') }}'",
    "{{ dag_run.conf.K }}",
    "{{ dag_run.conf['K'] | string }}",
    "{{ \"'\" ~ params.K ~ \"'\" }}",
    "{{ params.K | attr('value') }}",
    "{% set v = params.K %}{{ v }}",
]


@pytest.mark.parametrize("conn_fixture", ["pg_conn", "sqlite_conn"])
@pytest.mark.parametrize("way", WAYS)
def test_every_way_of_writing_an_argument_is_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest, conn_fixture: str, way: str,
) -> None:
    conn_id = request.getfixturevalue(conn_fixture)
    out = tmp_path / "out"
    query = (f"select id, name from accounts where name = {way.replace('K', 'evil')} "
             f"union select id, name from accounts where name = {way.replace('K', 'plain')} order by id")
    conf = {"evil": HOSTILE, "plain": "O'Brien"}
    result = run_definition(tmp_path, monkeypatch, _task(conn_id, out, query, conf), "accounts_picked", conf=conf)

    assert result.state == "success", result.steps
    assert (out / "picked.csv").read_text() == "id,name\n2,O'Brien\n"


@pytest.mark.parametrize("conn_fixture", ["pg_conn", "sqlite_conn"])
def test_arguments_read_in_a_loop_are_bound_one_by_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest, conn_fixture: str,
) -> None:
    conn_id = request.getfixturevalue(conn_fixture)
    out = tmp_path / "out"
    query = ("select id, name from accounts where name in ("
             "{% for n in params.names %}{{ n }}{% if not loop.last %}, {% endif %}{% endfor %}) "
             "{% for key in dag_run.conf %}or name = {{ key }} {% endfor %}order by id")
    conf = {"names": [HOSTILE, "O'Brien"], f"carol{HOSTILE}": 1}
    result = run_definition(tmp_path, monkeypatch, _task(conn_id, out, query, {"names": []}), "accounts_picked",
                            conf=conf)

    assert result.state == "success", result.steps
    assert (out / "picked.csv").read_text() == "id,name\n2,O'Brien\n", "the conf keys are bound too"


def test_an_argument_transformed_in_the_template_is_refused_with_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_conn: str, capfd: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"
    query = "select id from accounts where name = '{{ params.who | lower }}'"
    result = run_definition(tmp_path, monkeypatch, _task(sqlite_conn, out, query, {"who": "x"}), "accounts_picked",
                            conf={"who": HOSTILE})
    log = capfd.readouterr().out

    assert result.steps == {"extract": "failed", "package": "upstream_failed", "deliver": "upstream_failed"}
    assert "source.query: run argument `params.who` goes through `| lower` in the template" in log
    assert not out.exists()


@pytest.mark.parametrize("conn_fixture", ["pg_conn", "sqlite_conn"])
def test_a_query_fetched_with_query_from_binds_value_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest, conn_fixture: str,
) -> None:
    conn_id = request.getfixturevalue(conn_fixture)
    folder = tmp_path / "queries"
    folder.mkdir()
    (folder / "picked.sql").write_text(
        "select id, name from accounts where name = '{{ params.evil.value }}' "
        "union select id, name from accounts where name = '{{ params.plain.value }}' order by id"
    )
    out = tmp_path / "out"
    conf = {"evil": HOSTILE, "plain": "O'Brien"}
    declared = {key: {"default": value} for key, value in conf.items()}
    source = {"type": "sql", "conn_id": conn_id, "query_from": {"type": "local", "path": str(folder / "picked.sql")}}
    text = (f"kind: task\nname: accounts_picked\nschedule: none\nparams: {json.dumps(declared)}\n"
            f"source: {json.dumps(source)}\noutput: {{name: picked.csv}}\n"
            f"destinations: [{{type: local, path: '{out}'}}]\n")
    result = run_definition(tmp_path, monkeypatch, text, "accounts_picked", conf=conf)

    assert result.state == "success", result.steps
    assert (out / "picked.csv").read_text() == "id,name\n2,O'Brien\n"


def test_a_run_argument_cannot_choose_where_the_query_comes_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_conn: str, capfd: pytest.CaptureFixture[str],
) -> None:
    folder = tmp_path / "queries"
    folder.mkdir()
    (folder / "all.sql").write_text("select id, name from accounts order by id")
    out = tmp_path / "out"
    source = {"type": "sql", "conn_id": sqlite_conn,
              "query_from": {"type": "local", "path": str(folder) + "/{{ params.which }}.sql"}}
    text = (f"kind: task\nname: accounts_picked\nschedule: none\nparams: {{which: {{default: mine}}}}\n"
            f"source: {json.dumps(source)}\noutput: {{name: picked.csv}}\n"
            f"destinations: [{{type: local, path: '{out}'}}]\n")
    result = run_definition(tmp_path, monkeypatch, text, "accounts_picked", conf={"which": "all"})
    log = capfd.readouterr().out

    assert result.steps["extract"] == "failed"
    assert "source.query_from: run argument `params.which` cannot choose where the query comes from" in log
    assert not out.exists()
