"""The SQL extract through a second ODBC driver: MariaDB Connector/ODBC against a real MariaDB.

psqlODBC is not "ODBC": it hands decimals over as text and booleans as its own type. MariaDB's driver
reports DECIMAL as SQL_DECIMAL with a precision, BOOLEAN as TINYINT(1), DATETIME(6) with fractions, and
sends utf8mb4 text. The fast path (arrow-odbc) must still write the very bytes of the portable path
(pyodbc + csv.writer), and the whole task (definition -> DAG run -> file) must work with the T-SQL
habits users bring (``USE db``, ``GO``), which MariaDB would reject if they reached it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_batchtasks.sql.extract import ARROW_ODBC
from tests.integration.extract_paths import both_paths
from tests.integration.pipeline import migrate_metadata_db, run_definition, set_connection
from tests.servers import MariaDbServer, find_mariadb_odbc_driver

pytestmark = pytest.mark.integration

FILLER_ROWS = 30_000  # several arrow-odbc batches

TEXTS = [
    "plain", "Smith, John", 'say "hi"', "O'Brien", "multi\nline", "crlf\r\nend", "", None, "pipe|x", "tab\tx",
    "back\\slash", "é€😀", "Grüße, 東京", '"', ",", "NULL", " lead",
]  # fmt: skip
DECIMALS = ["0.0001", "-0.5000", "12345678.9999", "0.0000", None, "-99999999.9999", "1.2300"]
RAWS = ["0.0000000015", "12345678901234567890.1234567890", "-1.0000000000", None, "0E-10", "42"]
ODBC_FORMATS = [
    {},
    {"format": "pipe", "quoting": "all", "line_suffix": "~", "line_terminator": "\r\n"},
    {"format": "tsv", "quoting": "nonnumeric"},
    {"format": "csv", "quoting": "none", "delimiter": ";"},
    {"encoding": "utf-16"},
]


@pytest.fixture(scope="module")
def awkward(mariadb_server: MariaDbServer) -> int:
    """Integers, decimals, dates, datetimes with and without fractions, awkward text, NULLs, booleans."""
    db = mariadb_server
    db.execute(
        "drop table if exists awkward; create table awkward (id int primary key, small smallint, big bigint, "
        "amount decimal(12,4), raw decimal(30,10), day date, ts datetime(6), ts0 datetime, name varchar(100), "
        "note text, flag boolean) character set utf8mb4 collate utf8mb4_bin"
    )
    rows = []
    for i in range(len(TEXTS) * 2):
        rows.append((
            i, None if i % 5 == 0 else i - 20, None if i % 7 == 3 else (i - 10) * 10**15,
            DECIMALS[i % len(DECIMALS)], RAWS[i % len(RAWS)],
            None if i % 8 == 0 else f"{[1000, 1999, 2024, 9999][i % 4]:04d}-0{1 + i % 9}-1{i % 10}",
            None if i % 9 == 0 else f"2024-02-29 23:59:{i % 60:02d}" + ("" if i % 2 else f".{i * 1001:06d}"),
            None if i % 6 == 4 else f"1999-12-31 0{i % 10}:00:0{i % 10}",
            TEXTS[i % len(TEXTS)], TEXTS[(i + 5) % len(TEXTS)], None if i % 3 == 2 else i % 2,
        ))  # fmt: skip
    conn = db.connect()
    try:
        cur = conn.cursor()
        cur.executemany(f"insert into awkward values ({', '.join(['?'] * 11)})", rows)
    finally:
        conn.close()
    db.execute(
        "insert into awkward select seq, seq % 30000, seq * 7919, (seq % 100000) * 0.0001, seq / 7, "
        "date '2020-01-01' + interval (seq % 3000) day, "
        "timestamp '2020-01-01 00:00:00' + interval (seq * 1250000) microsecond, "
        "timestamp '2020-01-01 00:00:00' + interval seq minute, concat('n', seq), concat('c, \"', seq % 97, '\"'), "
        f"seq % 2 = 0 from seq_1000_to_{999 + FILLER_ROWS}"
    )
    return len(rows) + FILLER_ROWS


@pytest.fixture
def maria_hook(monkeypatch: pytest.MonkeyPatch, mariadb_server: MariaDbServer) -> Any:
    from airflow.sdk import BaseHook

    set_connection(
        monkeypatch, "maria_odbc", conn_type="odbc", host=mariadb_server.host, port=mariadb_server.port,
        login=mariadb_server.user, password=mariadb_server.password, schema=mariadb_server.database,
        extra={"driver": find_mariadb_odbc_driver()},
    )  # fmt: skip
    return BaseHook.get_hook("maria_odbc")


def plain(sql: str, values: list[Any] | None = None) -> Callable[[str], tuple[str, Any]]:
    """``query_for`` of a qmark query (both the ODBC paths bind ``?``)."""
    return lambda style: (sql, values or [])



@pytest.mark.parametrize("output", ODBC_FORMATS, ids=lambda o: "-".join(f"{k}={v!r}" for k, v in o.items()) or "csv")
def test_mariadb_fast_path_writes_the_portable_bytes(
    tmp_path: Path, awkward: int, maria_hook: Any, output: dict[str, Any]
) -> None:
    fast, path, portable, rows = both_paths(maria_hook, plain("select * from awkward order by id"), tmp_path, output)
    assert path == ARROW_ODBC
    assert rows == awkward
    assert fast == portable


def test_mariadb_values_are_what_the_database_holds(tmp_path: Path, awkward: int, maria_hook: Any) -> None:
    """Exact decimals (no float), fractions of seconds, booleans as 1/0, NULL as empty, quoted awkward text."""
    query = "select id, amount, raw, day, ts, ts0, name, flag from awkward where id in (1, 2, 4, 11, 12) order by id"
    fast, path, portable, _ = both_paths(maria_hook, plain(query), tmp_path, {})
    assert path == ARROW_ODBC and fast == portable
    assert fast.decode().split("\n")[:3] == [
        "id,amount,raw,day,ts,ts0,name,flag",
        '1,-0.5000,12345678901234567890.1234567890,1999-02-11,2024-02-29 23:59:01,1999-12-31 01:00:01,"Smith, John",1',
        '2,12345678.9999,-1.0000000000,2024-03-12,2024-02-29 23:59:02.002002,1999-12-31 02:00:02,"say ""hi""",',
    ]
    body = fast.decode()
    assert '\n4,,0.0000000000,1000-05-14,2024-02-29 23:59:04.004004,,"multi\nline",0\n' in body
    assert "\n11,,42.0000000000,9999-03-11,2024-02-29 23:59:11,1999-12-31 01:00:01,é€😀,\n" in body
    assert (
        '\n12,-99999999.9999,0.0000000015,1000-04-12,2024-02-29 23:59:12.012012,1999-12-31 02:00:02,"Grüße, 東京",0\n'
        in body
    )


def test_mariadb_text_run_arguments_are_bound(tmp_path: Path, awkward: int, maria_hook: Any) -> None:
    query = plain("select id, name from awkward where name = ? or name = ? order by id", ["O'Brien", "x' or '1'='1"])
    fast, path, portable, rows = both_paths(maria_hook, query, tmp_path, {})
    assert path == ARROW_ODBC and fast == portable
    assert fast == b"id,name\n3,O'Brien\n20,O'Brien\n" and rows == 2


def test_mariadb_task_with_use_and_go_delivers_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, awkward: int, mariadb_server: MariaDbServer
) -> None:
    """A query pasted from SQL Server Management Studio: ``USE`` and ``GO`` are removed before MariaDB sees it."""
    migrate_metadata_db()
    set_connection(
        monkeypatch, "maria_shop", conn_type="odbc", host=mariadb_server.host, port=mariadb_server.port,
        login=mariadb_server.user, password=mariadb_server.password, schema=mariadb_server.database,
        extra={"driver": find_mariadb_odbc_driver()},
    )  # fmt: skip
    out = tmp_path / "out"
    out.mkdir()
    query = "USE batch;\\nGO\\nselect id, name, flag from awkward where id < 4 order by id\\nGO\\n"
    result = run_definition(tmp_path, monkeypatch, (
        "kind: task\nname: maria_sales\nschedule: none\n"
        f'source: {{type: sql, conn_id: maria_shop, query: "{query}"}}\n'
        "output: {name: 'sales.csv'}\n"
        f"destinations: [{{type: local, path: '{out}'}}]\n"
    ), "maria_sales")
    assert result.state == "success", result.steps
    expected = b'id,name,flag\n0,plain,0\n1,"Smith, John",1\n2,"say ""hi""",\n3,O\'Brien,1\n'
    assert (out / "sales.csv").read_bytes() == expected
