"""The first slice for real: SQL (ODBC -> PostgreSQL, SQLite) -> formatted file -> SFTP / local."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from airflow_batchtasks.operators.step_failure import read_failure
from tests.integration.pipeline import archived_records, migrate_metadata_db, run_definition, set_connection
from tests.servers import PostgresServer, SshServer, find_odbc_driver

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", autouse=True)
def _metadata_db() -> None:
    migrate_metadata_db()


@pytest.fixture(scope="module")
def sales_table(postgres_server: PostgresServer) -> int:
    """20,005 rows with awkward values: quotes, delimiters, newlines, NULLs, exact numerics."""
    postgres_server.execute("drop table if exists sales")
    postgres_server.execute(
        "create table sales (id int primary key, customer text, amount numeric(12,4), day date, note text)"
    )
    postgres_server.execute(
        "insert into sales values "
        "(1, 'Smith, John', 1234.5000, '2026-11-20', 'said \"hi\"'),"
        "(2, 'O''Brien', 0.1000, '2026-11-20', null),"
        "(3, 'multi\nline', -7.0001, '2026-11-19', ''),"
        "(4, 'pipe|name', 99999999.9999, '2026-11-19', 'x'),"
        "(5, 'plain', 0, '2026-11-18', 'y')"
    )
    postgres_server.execute(
        "insert into sales select g, 'c' || g, g * 1.25, date '2026-01-01' + (g % 300), 'n' "
        "from generate_series(6, 20005) g"
    )
    return 20005


@pytest.fixture
def odbc_conn(monkeypatch: pytest.MonkeyPatch, postgres_server: PostgresServer) -> str:
    set_connection(
        monkeypatch, "pg_odbc", conn_type="odbc", host=postgres_server.host, port=postgres_server.port,
        login=postgres_server.user, password=postgres_server.password, schema=postgres_server.database,
        extra={"driver": str(find_odbc_driver()), "UseDeclareFetch": "1", "Fetch": "10000", "SSLmode": "disable"},
    )
    return "pg_odbc"


@pytest.fixture
def sftp_conn(monkeypatch: pytest.MonkeyPatch, sshd_server: SshServer) -> str:
    set_connection(monkeypatch, "vendor_sftp", **sshd_server.connection())
    return "vendor_sftp"


def _task(name: str, source: str, output: str, destinations: str) -> str:
    return f"kind: task\nname: {name}\nschedule: none\n{source}\n{output}\n{destinations}\n"


def test_odbc_postgres_to_sftp_streams_every_row_with_exact_csv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sales_table: int, odbc_conn: str, sftp_conn: str,
    sshd_server: SshServer,
) -> None:
    inbox = sshd_server.root / "incoming"
    inbox.mkdir(exist_ok=True)
    result = run_definition(tmp_path, monkeypatch, _task(
        "pg_sales",
        f"source: {{type: sql, conn_id: {odbc_conn}, query: 'select * from sales order by id'}}",
        "output: {name: 'sales_{{ ds_nodash }}.csv'}",
        f"destinations: [{{type: sftp, conn_id: {sftp_conn}, path: {inbox}}}]",
    ), "pg_sales")

    assert result.state == "success", result.steps
    delivered = list(inbox.iterdir())
    assert [p.name for p in delivered] == [f"sales_{_today()}.csv"], "one file, no temporary left behind"
    lines = delivered[0].read_bytes().split(b"\n")
    assert lines[:7] == [
        b"id,customer,amount,day,note",
        b'1,"Smith, John",1234.5000,2026-11-20,"said ""hi"""',
        b"2,O'Brien,0.1000,2026-11-20,",
        b'3,"multi',
        b'line",-7.0001,2026-11-19,',
        b"4,pipe|name,99999999.9999,2026-11-19,x",
        b"5,plain,0.0000,2026-11-18,y",
    ]
    assert len(lines) == 1 + sales_table + 1 + 1  # header, rows, the embedded newline, final terminator
    record = archived_records(result.archive)[0]
    body = delivered[0].read_bytes()
    assert record["md5"] == hashlib.md5(body).hexdigest()
    assert record["size"] == len(body)
    assert record["rows"] == sales_table
    assert record["destinations"][0]["path"] == str(inbox / delivered[0].name)


def test_sqlite_to_local_pipe_format_with_quoting_suffix_and_no_headers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table items (id integer, name text, price real)")
        conn.executemany("insert into items values (?, ?, ?)", [(1, "a|b", 2.5), (2, "plain", 3.0)])
    set_connection(monkeypatch, "shop", conn_type="sqlite", host=str(db))
    out = tmp_path / "out"
    result = run_definition(tmp_path, monkeypatch, _task(
        "shop_items",
        "source: {type: sql, conn_id: shop, query: 'select * from items order by id', include_headers: false}",
        "output: {name: items.txt, format: pipe, quoting: all, line_suffix: '~', line_terminator: \"\\r\\n\"}",
        f"destinations: [{{type: local, path: '{out}'}}]",
    ), "shop_items")
    assert result.state == "success", result.steps
    assert (out / "items.txt").read_bytes() == b'"1"|"a|b"|"2.5"~\r\n"2"|"plain"|"3.0"~\r\n'


def test_require_rows_fails_on_empty_result_and_delivers_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sales_table: int, odbc_conn: str
) -> None:
    out = tmp_path / "out"
    result = run_definition(tmp_path, monkeypatch, _task(
        "pg_empty",
        f"source: {{type: sql, conn_id: {odbc_conn}, query: 'select * from sales where id < 0', require_rows: true}}",
        "output: {name: empty.csv}",
        f"destinations: [{{type: local, path: '{out}'}}]",
    ), "pg_empty")
    assert result.steps["extract"] == "failed"
    assert result.state == "failed"
    failure = read_failure(result.dag_id, result.run_id, "extract")
    assert failure["error"] == "the query returned no rows and source.require_rows is true"
    assert failure["error_type"] == "AirflowFailException" and failure["retryable"] is False
    assert not out.exists() or not any(out.iterdir())


def test_skip_empty_sends_nothing_but_the_run_succeeds_and_is_archived(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sales_table: int, odbc_conn: str
) -> None:
    out = tmp_path / "out"
    result = run_definition(tmp_path, monkeypatch, _task(
        "pg_skip",
        f"source: {{type: sql, conn_id: {odbc_conn}, query: 'select * from sales where id < 0'}}",
        "output: {name: empty.csv}",
        f"destinations: [{{type: local, path: '{out}', skip_empty: true}}]",
    ), "pg_skip")
    assert result.state == "success", result.steps
    assert not out.exists() or not any(out.iterdir())
    record = archived_records(result.archive)[0]
    assert record["rows"] == 0 and record["destinations"] == []


def test_overwrite_false_refuses_an_existing_file_and_leaves_it_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sales_table: int, odbc_conn: str, sftp_conn: str,
    sshd_server: SshServer,
) -> None:
    inbox = sshd_server.root / "no_overwrite"
    inbox.mkdir(exist_ok=True)
    (inbox / "fixed.csv").write_text("already here\n")
    result = run_definition(tmp_path, monkeypatch, _task(
        "pg_no_overwrite",
        f"source: {{type: sql, conn_id: {odbc_conn}, query: 'select id from sales where id < 3'}}",
        "output: {name: fixed.csv}",
        f"destinations: [{{type: sftp, conn_id: {sftp_conn}, path: {inbox}, overwrite: false}}]",
    ), "pg_no_overwrite")
    assert result.steps["deliver"] == "failed"
    failure = read_failure(result.dag_id, result.run_id, "deliver")
    assert failure["error"].startswith("sftp /") and failure["error"].endswith(
        "/no_overwrite/fixed.csv exists and overwrite is false"), failure["error"]
    assert failure["error_type"] == "AirflowFailException" and failure["retryable"] is False
    assert (inbox / "fixed.csv").read_text() == "already here\n"
    assert sorted(p.name for p in inbox.iterdir()) == ["fixed.csv"], "no temporary file left"


def test_run_arguments_reach_the_query_and_file_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sales_table: int, odbc_conn: str
) -> None:
    out = tmp_path / "out"
    text = (
        "kind: task\nname: pg_params\nschedule: none\n"
        "params: {day: {default: '2026-11-20', description: Day to extract}}\n"
        f"source: {{type: sql, conn_id: {odbc_conn}, query: \"select id from sales where day = "
        "'{{ params.day }}' order by id\"}\n"
        "output: {name: 'sales_{{ params.day }}.csv'}\n"
        f"destinations: [{{type: local, path: '{out}'}}]\n"
    )
    result = run_definition(tmp_path, monkeypatch, text, "pg_params", conf={"day": "2026-11-19"})
    assert result.state == "success", result.steps
    assert (out / "sales_2026-11-19.csv").read_text() == "id\n3\n4\n"


def _today() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).strftime("%Y%m%d")


@pytest.mark.parametrize("conn_fixture", ["odbc_conn", "pg_native_conn"])
def test_run_arguments_cannot_inject_sql(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sales_table: int, conn_fixture: str,
    request: pytest.FixtureRequest,
) -> None:
    conn_id = request.getfixturevalue(conn_fixture)
    out = tmp_path / "out"
    text = (
        "kind: task\nname: pg_inject\nschedule: none\n"
        "params: {customer: {default: plain}}\n"
        f"source: {{type: sql, conn_id: {conn_id}, query: \"select id, customer from sales where customer = "
        "'{{ params.customer }}' and customer like '%' order by id\"}\n"
        "output: {name: picked.csv}\n"
        f"destinations: [{{type: local, path: '{out}'}}]\n"
    )
    result = run_definition(tmp_path, monkeypatch, text, "pg_inject", conf={"customer": "x' or '1'='1"})
    assert result.state == "success", result.steps
    assert (out / "picked.csv").read_text() == "id,customer\n", "the argument matched nothing instead of everything"
    result = run_definition(tmp_path, monkeypatch, text, "pg_inject", conf={"customer": "O'Brien"})
    assert (out / "picked.csv").read_text() == "id,customer\n2,O'Brien\n"


@pytest.fixture
def pg_native_conn(monkeypatch: pytest.MonkeyPatch, postgres_server: PostgresServer) -> str:
    set_connection(
        monkeypatch, "pg_native", conn_type="postgres", host=postgres_server.host, port=postgres_server.port,
        login=postgres_server.user, password=postgres_server.password, schema=postgres_server.database,
    )
    return "pg_native"


@pytest.fixture
def statement_log(postgres_server: PostgresServer) -> Iterator[Callable[[], str]]:
    """The server's log of every statement the test role sends from now on (PostgreSQL's own ``log_statement``)."""
    postgres_server.execute(f"alter role {postgres_server.user} set log_statement = 'all'", superuser=True,
                            database="postgres")
    start = postgres_server.log_path.stat().st_size
    try:
        yield lambda: postgres_server.log_path.read_bytes()[start:].decode("utf-8", "replace")
    finally:
        postgres_server.execute(f"alter role {postgres_server.user} reset log_statement", superuser=True,
                                database="postgres")


@pytest.mark.parametrize("conn_fixture", ["pg_native_conn", "odbc_conn", "sqlite_conn"])
def test_sql_batch_size_is_the_rows_per_fetch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sales_table: int, conn_fixture: str,
    request: pytest.FixtureRequest, statement_log: Callable[[], str], capfd: pytest.CaptureFixture[str],
) -> None:
    """``[batchtasks] sql_batch_size`` reaches the fetch on every path that fetches in batches.

    ``quoting: nonnumeric`` keeps PostgreSQL off COPY (which streams without batches), so the native
    connection uses its server-side cursor, whose ``FETCH FORWARD n`` the server logs.
    """
    conn_id = request.getfixturevalue(conn_fixture)
    monkeypatch.setenv("AIRFLOW__BATCHTASKS__SQL_BATCH_SIZE", "7")
    out = tmp_path / "out"
    result = run_definition(tmp_path, monkeypatch, _task(
        "batched",
        f"source: {{type: sql, conn_id: {conn_id}, query: 'select id from sales where id <= 20 order by id'}}",
        "output: {name: ids.csv, quoting: nonnumeric}",
        f"destinations: [{{type: local, path: '{out}'}}]",
    ), "batched")
    assert result.state == "success", result.steps
    assert (out / "ids.csv").read_text().splitlines() == ['"id"', *map(str, range(1, 21))]
    assert "Fetched 20 rows in 3 round trip(s) of up to 7 rows each" in capfd.readouterr().out, "7 + 7 + 6"
    if conn_fixture == "pg_native_conn":
        fetches = re.findall(r'FETCH FORWARD (\d+) FROM "batchtasks_extract"', statement_log())
        assert fetches and set(fetches) == {"7"}, fetches


@pytest.fixture
def sqlite_conn(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    db = tmp_path / "sales.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table sales (id integer)")
        conn.executemany("insert into sales values (?)", [(i,) for i in range(1, 31)])
    set_connection(monkeypatch, "sqlite_sales", conn_type="sqlite", host=str(db))
    return "sqlite_sales"
