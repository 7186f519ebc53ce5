"""The extract's fast paths write the very bytes of the portable path, or step aside.

The portable path (DB-API rows into ``csv.writer``) defines the output format.
arrow-odbc (ODBC connections) and COPY (``postgres`` connections) must match it
byte for byte on awkward data in every output dialect, and must hand over to it
when they cannot (types, options, run arguments they cannot reproduce).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_batchtasks.sql import odbc_arrow
from airflow_batchtasks.sql.extract import ARROW_ODBC, COPY, PORTABLE, extract
from tests.integration.extract_paths import both_paths
from tests.integration.pipeline import set_connection
from tests.servers import PostgresServer, find_odbc_driver

pytestmark = pytest.mark.integration

LOG = logging.getLogger("test_sql_fast_paths")
FILLER_ROWS = 40_000  # several arrow-odbc batches and COPY chunks

TEXTS = [
    "plain", "Smith, John", 'say "hi"', "multi\nline", "cr\ronly", "crlf\r\nend", "", None, "pipe|x",
    "tab\tx", "back\\slash", "\\.", "tilde~x", " lead", "é€😀", '"', ",", "semi;colon", "NULL",
]  # fmt: skip
NUMERICS = ["0.00000015", "1e20", "NaN", "-0.5", "123456789012345678901234.5", "0", None, "-0.0000001"]
FLOATS = ["0.1", "1e16", "2", "-3.25e-7", "NaN", "-Infinity", None, "123456789.123"]

ODBC_FORMATS = [
    {},
    {"format": "pipe", "quoting": "all", "line_suffix": "~", "line_terminator": "\r\n"},
    {"format": "tsv", "quoting": "nonnumeric"},
    {"format": "csv", "quoting": "none", "delimiter": ";"},
    {"encoding": "utf-16"},
    {"encoding": "utf-8-sig", "line_terminator": "\r\n"},
]
COPY_FORMATS = [{}, {"format": "pipe", "quoting": "all"}, {"format": "tsv"}]


@pytest.fixture(scope="module")
def awkward(postgres_server: PostgresServer) -> int:
    """Every supported type with NULLs, quotes, delimiters, CR/LF, exponents, unicode; then filler rows."""
    pg = postgres_server
    pg.execute("drop table if exists awkward")
    pg.execute(
        "create table awkward (id int primary key, small int2, big int8, amount numeric(12,4), raw numeric, "
        "f8 float8, f4 float4, name text, code varchar(10), fixed char(3), day date, ts timestamp, "
        "tstz timestamptz, t time, flag boolean, uid uuid)"
    )
    rows = []
    for i in range(len(TEXTS) * 2):
        rows.append((
            i, None if i % 5 == 0 else i - 20, None if i % 7 == 3 else (i - 10) * 10**15,
            None if i % 6 == 1 else f"{(i - 20) * 1.2345:.4f}", NUMERICS[i % len(NUMERICS)],
            FLOATS[i % len(FLOATS)], FLOATS[(i + 3) % len(FLOATS)], TEXTS[i % len(TEXTS)],
            None if i % 4 == 0 else (TEXTS[(i + 1) % len(TEXTS)] or "")[:10], None if i % 3 == 0 else "ab",
            None if i % 8 == 0 else f"{[5, 1999, 2024, 9999][i % 4]:04d}-0{1 + i % 9}-1{i % 10}",
            None if i % 9 == 0 else f"2024-02-29 23:59:{i % 60:02d}" + ("" if i % 2 else f".{i:06d}"),
            None if i % 9 == 1 else f"2024-03-31 01:30:00.5+0{i % 3}", None if i % 10 == 2 else f"0{i % 10}:02:03.45",
            None if i % 3 == 2 else bool(i % 2), None if i % 4 == 1 else f"{i:08d}-0000-4000-8000-{i:012d}",
        ))  # fmt: skip
    conn = pg.connect()
    try:
        with conn.cursor() as cur:
            cur.executemany(f"insert into awkward values ({', '.join(['%s'] * 16)})", rows)
            cur.execute(
                "insert into awkward select g, g % 30000, g * 7919, (g % 100000) * 0.0001, g / 7.0, g * 0.5, g, "
                "'n' || g, 'c' || (g % 97), 'x', date '2020-01-01' + g % 3000, "
                "timestamp '2020-01-01' + g * interval '1.25 second', timestamptz '2020-01-01 00:00:00+00' + g * "
                "interval '1 minute', time '00:00' + g * interval '1 second', g % 2 = 0, null "
                f"from generate_series(1000, {999 + FILLER_ROWS}) g"
            )
    finally:
        conn.close()
    return len(rows) + FILLER_ROWS


@pytest.fixture
def odbc_hook(monkeypatch: pytest.MonkeyPatch, postgres_server: PostgresServer) -> Any:
    from airflow.sdk import BaseHook

    set_connection(
        monkeypatch, "fast_odbc", conn_type="odbc", host=postgres_server.host, port=postgres_server.port,
        login=postgres_server.user, password=postgres_server.password, schema=postgres_server.database,
        extra={"driver": str(find_odbc_driver()), "UseDeclareFetch": "1", "Fetch": "10000", "SSLmode": "disable"},
    )  # fmt: skip
    return BaseHook.get_hook("fast_odbc")


@pytest.fixture
def pg_hook(monkeypatch: pytest.MonkeyPatch, postgres_server: PostgresServer) -> Any:
    from airflow.sdk import BaseHook

    set_connection(
        monkeypatch, "fast_pg", conn_type="postgres", host=postgres_server.host, port=postgres_server.port,
        login=postgres_server.user, password=postgres_server.password, schema=postgres_server.database,
    )  # fmt: skip
    return BaseHook.get_hook("fast_pg")


def plain(sql: str, values: list[Any] | None = None) -> Callable[[str], tuple[str, Any]]:
    """``query_for`` of a query whose ``?`` marks become the driver's placeholders."""

    def query_for(style: str) -> tuple[str, Any]:
        if style in ("format", "pyformat"):
            return sql.replace("%", "%%").replace("?", "%s") if values else sql, values or []
        return sql, values or []

    return query_for



@pytest.mark.parametrize("output", ODBC_FORMATS, ids=lambda o: "-".join(f"{k}={v!r}" for k, v in o.items()) or "csv")
def test_arrow_odbc_writes_the_portable_bytes_in_every_dialect(
    tmp_path: Path, awkward: int, odbc_hook: Any, output: dict[str, Any]
) -> None:
    fast, path, portable, rows = both_paths(odbc_hook, plain("select * from awkward order by id"), tmp_path, output)
    assert path == ARROW_ODBC
    assert rows == awkward
    assert fast == portable


def test_arrow_odbc_output_keeps_database_decimals_and_awkward_text(tmp_path: Path, awkward: int, odbc_hook: Any):
    fast, path, portable, _ = both_paths(
        odbc_hook, plain("select id, amount, raw, name from awkward where id < 8 order by id"), tmp_path, {}
    )
    assert path == ARROW_ODBC and fast == portable
    lines = fast.split(b"\n")
    assert lines[:3] == [
        b"id,amount,raw,name",
        b"0,-24.6900,0.00000015,plain",
        b'1,,100000000000000000000,"Smith, John"',
    ]
    assert b'\n5,-18.5175,0,"crlf\r\nend"\n' in fast


def test_arrow_odbc_binds_text_run_arguments(tmp_path: Path, awkward: int, odbc_hook: Any) -> None:
    query = plain(
        "select id, name from awkward where name = ? or name = ? order by id", ["Smith, John", "x' or '1'='1"]
    )
    fast, path, portable, rows = both_paths(odbc_hook, query, tmp_path, {})
    assert path == ARROW_ODBC and fast == portable
    assert fast == b'id,name\n1,"Smith, John"\n20,"Smith, John"\n' and rows == 2


@pytest.mark.parametrize(
    ("query", "why"),
    [
        (plain("select id, decode('00ff', 'hex') as blob from awkward where id < 3 order by id"), "binary column"),
        (plain("select id, interval '1 day' * id as span from awkward where id < 3 order by id"), "interval"),
        (plain("select id, name from awkward where id = ? or id = ?", [3, 4]), "number run argument"),
    ],
)
def test_arrow_odbc_hands_over_to_the_portable_path(
    tmp_path: Path, awkward: int, odbc_hook: Any, query: Callable[[str], tuple[str, Any]], why: str
) -> None:
    fast, path, portable, rows = both_paths(odbc_hook, query, tmp_path, {})
    if why == "interval":  # psqlODBC reports intervals as text: arrow-odbc takes them, same bytes
        assert path == ARROW_ODBC
    else:
        assert path == PORTABLE, why
    assert fast == portable and rows >= 2


def test_arrow_odbc_long_text_grows_its_buffer_or_hands_over(tmp_path: Path, awkward: int, odbc_hook: Any) -> None:
    medium = plain("select id, repeat('ab,', 2000) || id as long from awkward where id < 5 order by id")
    fast, path, portable, _ = both_paths(odbc_hook, medium, tmp_path, {})
    assert path == ARROW_ODBC and fast == portable
    huge = plain(f"select id, repeat('x', {odbc_arrow.MAX_TEXT_LIMIT + 1}) as long from awkward where id < 3")
    fast, path, portable, _ = both_paths(odbc_hook, huge, tmp_path, {})
    assert path == PORTABLE and fast == portable


COPY_QUERY = (
    "select id, small, big, amount, raw, name, code, fixed, day, ts, tstz, flag, uid from awkward "
    "where coalesce(day, date '2000-01-01') > date '0999-12-31' order by id"  # psycopg cannot load year 5
)


@pytest.mark.parametrize("output", COPY_FORMATS, ids=lambda o: "-".join(f"{k}={v!r}" for k, v in o.items()) or "csv")
def test_copy_writes_the_portable_bytes(tmp_path: Path, awkward: int, pg_hook: Any, output: dict[str, Any]) -> None:
    fast, path, portable, rows = both_paths(pg_hook, plain(COPY_QUERY), tmp_path, output)
    assert path == COPY
    assert rows > FILLER_ROWS
    assert fast == portable


def test_copy_binds_run_arguments_as_safe_literals(tmp_path: Path, awkward: int, pg_hook: Any) -> None:
    query = plain(
        "select id, name from awkward where name in (?, ?) or name = ? or id = ? order by id",
        ["Smith, John", 'say "hi"', "x' or '1'='1", 3],
    )
    fast, path, portable, rows = both_paths(pg_hook, query, tmp_path, {})
    assert path == COPY and fast == portable
    assert fast == b'id,name\n1,"Smith, John"\n2,"say ""hi"""\n3,"multi\nline"\n20,"Smith, John"\n21,"say ""hi"""\n'
    assert rows == 5


TIMESTAMPS = [
    "0005-03-01 01:02:03.5", "0999-12-31 23:59:59.99999", "1000-01-01 00:00:00", "1000-01-01 00:00:00.000001",
    "2024-02-29 23:59:59.123456", "2024-02-29 23:59:59.1", "2024-02-29 23:59:59.12345", "9999-12-31 23:59:59.99999",
    "9999-12-31 23:59:59", None,
]


@pytest.mark.parametrize("output", [{}, {"quoting": "all"}], ids=["minimal", "all"])
def test_copy_prints_timestamps_of_any_year_and_fraction_as_python_does(
    tmp_path: Path, pg_hook: Any, output: dict[str, Any]
) -> None:
    # years 1000-9999 are padded with rpad, others through the microseconds' trailing zeros: same text
    values = ", ".join(f"({i}, {'null' if t is None else repr(t)}::timestamp)" for i, t in enumerate(TIMESTAMPS))
    query = plain(f"select id, ts from (values {values}) as v(id, ts) order by id")
    fast, path, portable, rows = both_paths(pg_hook, query, tmp_path, output)
    assert path == COPY and rows == len(TIMESTAMPS)
    assert fast == portable
    if not output:
        assert fast.splitlines()[1:4] == [
            b"0,0005-03-01 01:02:03.500000", b"1,0999-12-31 23:59:59.999990", b"2,1000-01-01 00:00:00",
        ]  # fmt: skip


def test_copy_takes_queries_ending_in_a_comment_or_semicolon(tmp_path: Path, awkward: int, pg_hook: Any) -> None:
    for sql in ("select id, code from awkward order by id -- all of them", "select id, code from awkward;\n"):
        fast, path, portable, _ = both_paths(pg_hook, plain(sql), tmp_path, {})
        assert path == COPY and fast == portable


@pytest.mark.parametrize(
    ("sql", "output", "why"),
    [
        ("select id, f8 from awkward order by id", {}, "float column"),
        ("select id, t from awkward order by id", {}, "time column"),
        ("select id, name from awkward order by id", {"quoting": "nonnumeric"}, "nonnumeric quoting"),
        ("select id, name from awkward order by id", {"line_suffix": "~"}, "line suffix"),
        ("select id, name from awkward order by id", {"line_terminator": "\r\n"}, "CRLF"),
        ("select id, name from awkward order by id", {"encoding": "utf-16"}, "encoding"),
        ("select name from awkward order by id", {}, "single column"),
    ],
)
def test_copy_hands_over_to_the_portable_path(
    tmp_path: Path, awkward: int, pg_hook: Any, sql: str, output: dict[str, Any], why: str
) -> None:
    fast, path, portable, _ = both_paths(pg_hook, plain(sql), tmp_path, output)
    assert path == PORTABLE, why
    assert fast == portable


def test_portable_path_prints_decimals_as_the_database_does(tmp_path: Path, awkward: int, pg_hook: Any) -> None:
    target = tmp_path / "out.csv"
    extract(
        pg_hook, plain("select id, raw from awkward where id in (0, 7) order by id"), target, {"quoting": "nonnumeric"},
        include_headers=False, batch_size=10, log=LOG, fast_paths=False,
    )  # fmt: skip
    assert target.read_bytes() == b"0,0.00000015\n7,-0.0000001\n"


def test_copy_tells_its_progress_in_rows_while_it_writes(tmp_path: Path, awkward: int, pg_hook: Any) -> None:
    # ~40,000 rows are several 1 MB chunks: the step's progress hears a growing row count, ending at the total
    told: list[int] = []
    wide = "select id, name, repeat(coalesce(name, 'x'), 20) as padding from awkward order by id"
    rows, path = extract(pg_hook, plain(wide), tmp_path / "copy.csv", {}, include_headers=True, batch_size=5000,
                         log=LOG, on_rows=told.append)
    assert path == COPY
    assert len(told) >= 2, f"told after each chunk, not only at the end: {told}"
    assert told == sorted(told) and told[0] < rows and told[-1] == rows == awkward
