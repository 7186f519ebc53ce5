"""Query rows into a CSV-style staging file: picks the fastest path that writes the exact same bytes.

Three paths, fastest first (measurements on the performance page of the docs):

* ODBC connections: arrow-odbc column batches formatted by vectorised kernels
  (:mod:`odbc_arrow`, :mod:`~airflow_batchtasks.formats.arrow_csv`);
* ``postgres`` connections: the server's own ``COPY (query) TO STDOUT`` (:mod:`pg_copy`);
* the portable path, for any DB-API connection and whenever a fast path says it
  cannot reproduce the format exactly: rows from the cursor into ``csv.writer``
  in batches (``fetchmany``). Its output defines the format; the fast paths are
  tested byte for byte against it.

Every path streams, never through ``fetchall`` or a DataFrame, so memory stays
flat however many rows there are. On the portable path PostgreSQL connections
use a server-side cursor, because psycopg would otherwise pull the whole result
into the client on ``execute``. Decimals are written as the database prints
them (``0.00000015``, where ``str(Decimal)`` would give ``1.5E-7``) on every path.

Kept apart from the operator so the benchmark runs exactly this code outside a DAG.
"""

from __future__ import annotations

import csv
import logging
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from airflow_batchtasks.formats.dialects import writer_options
from airflow_batchtasks.sql import odbc_arrow, pg_copy
from airflow_batchtasks.sql.params import driver_paramstyle

LOG_EVERY_SECONDS = 10.0
NUMERIC_OID = 1700

ARROW_ODBC = "arrow-odbc"
COPY = "COPY"
PORTABLE = "portable (DB-API cursor + csv.writer)"

# paramstyle -> (sql, values) for that style: the run arguments bound for the driver in use
QueryFor = Callable[[str], tuple[str, Any]]


def extract(
    hook: Any,
    query_for: QueryFor,
    target: Any,
    output_format: dict[str, Any],
    *,
    include_headers: bool,
    batch_size: int,
    log: logging.Logger,
    fast_paths: bool = True,
    on_rows: Callable[[int], None] | None = None,
) -> tuple[int, str]:
    """Run the query on ``hook``'s connection into ``target`` (an ObjectStoragePath); return rows and path used.

    :param fast_paths: ``False`` forces the portable path (what the fast paths are compared with)
    :param on_rows: told the row count after each batch while rows are written (the step's progress;
        it throttles itself); COPY tells it after each ~1 MB chunk.
    """
    kwargs = writer_options(output_format)
    encoding = output_format.get("encoding", "utf-8")
    if fast_paths and _is_odbc(hook):
        sql, values = query_for("qmark")
        _log_query(log, ARROW_ODBC, sql, values)
        try:
            rows, fetches = odbc_arrow.extract(
                hook, sql, values, target, kwargs, encoding=encoding, include_headers=include_headers, log=log,
                batch_size=batch_size, on_rows=on_rows,
            )
            log_fetches(log, rows, fetches, batch_size)
            return rows, ARROW_ODBC
        except odbc_arrow.FastPathUnavailable as exc:
            log.info("arrow-odbc cannot write this extract exactly (%s): using the portable path", exc)
    conn = hook.get_conn()
    try:
        sql, values = query_for(driver_paramstyle(conn))
        if fast_paths and type(conn).__module__.startswith("psycopg"):
            try:
                rows, statement = pg_copy.extract(
                    conn, sql, values, target, kwargs, encoding=encoding, include_headers=include_headers,
                    on_rows=on_rows,
                )
                _log_query(log, f"{COPY} (run arguments merged client-side as literals by the driver)", statement, [])
                return rows, COPY
            except pg_copy.CopyUnavailable as exc:
                log.info("COPY cannot write this extract exactly (%s): using the portable path", exc)
        _log_query(log, PORTABLE, sql, values)
        rows = write_rows(conn, sql, values, target, kwargs, encoding, include_headers, batch_size, log, on_rows)
        return rows, PORTABLE
    finally:
        conn.close()


def _log_query(log: logging.Logger, path: str, sql: str, values: Any) -> None:
    log.info("Running through %s:\n%s", path, sql)
    if values:
        log.info("Bound run arguments, in order: %r", values)


def _is_odbc(hook: Any) -> bool:
    try:
        from airflow.providers.odbc.hooks.odbc import OdbcHook
    except ImportError:  # pragma: no cover - the odbc provider is a dependency
        return False
    return isinstance(hook, OdbcHook)


def write_rows(
    conn: Any,
    sql: str,
    values: Any,
    target: Any,
    writer_kwargs: dict[str, Any],
    encoding: str,
    include_headers: bool,
    batch_size: int,
    log: logging.Logger,
    on_rows: Callable[[int], None] | None = None,
) -> int:
    """The portable path: ``fetchmany`` batches of ``batch_size`` rows into ``csv.writer``."""
    cursor = _streaming_cursor(conn, batch_size)
    try:
        if values:
            cursor.execute(sql, values)
        else:
            cursor.execute(sql)
        batches = _batches(cursor, batch_size)
        first = next(batches, [])
        rows = fetches = 0
        last_log = time.monotonic()
        with target.open("w", encoding=encoding, newline="") as fh:
            writer = csv.writer(fh, **writer_kwargs)
            if include_headers and cursor.description:
                writer.writerow([col[0] for col in cursor.description])
            decimals = _decimal_columns(cursor.description)
            for batch in _chain(first, batches):
                writer.writerows(_plain_decimals(batch, decimals) if decimals else batch)
                rows += len(batch)
                fetches += 1
                if on_rows is not None:
                    on_rows(rows)
                if time.monotonic() - last_log >= LOG_EVERY_SECONDS:
                    log.info("%d rows so far", rows)
                    last_log = time.monotonic()
        log_fetches(log, rows, fetches, batch_size)
        return rows
    finally:
        cursor.close()


def log_fetches(log: logging.Logger, rows: int, fetches: int, batch_size: int) -> None:
    """How the rows came: what ``[batchtasks] sql_batch_size`` changes, in the step's log."""
    log.info("Fetched %d rows in %d round trip(s) of up to %d rows each", rows, fetches, batch_size)


def _streaming_cursor(conn: Any, batch_size: int) -> Any:
    """A cursor that does not buffer the whole result set client-side where the driver allows it."""
    module = type(conn).__module__
    if module.startswith("psycopg"):
        cursor = conn.cursor(name="batchtasks_extract")
        cursor.itersize = batch_size
        return cursor
    return conn.cursor()


def _batches(cursor: Any, size: int) -> Iterator[list[Any]]:
    while True:
        batch = cursor.fetchmany(size)
        if not batch:
            return
        yield batch


def _chain(first: list[Any], rest: Iterator[list[Any]]) -> Iterator[list[Any]]:
    if first:
        yield first
    yield from rest


class PlainDecimal(Decimal):
    """A ``Decimal`` printed positionally, as databases print numerics (``str()`` would give ``1.5E-7``).

    Still a number to ``csv`` (unquoted under QUOTE_NONNUMERIC), like the ``Decimal`` it replaces.
    """

    def __str__(self) -> str:
        return format(self, "f")


def _decimal_columns(description: Any) -> list[int]:
    """Columns holding decimals: pyodbc describes them by Python type, psycopg by the numeric type's oid."""
    return [i for i, col in enumerate(description or []) if col[1] is Decimal or col[1] == NUMERIC_OID]


def _plain_decimals(batch: list[Any], columns: list[int]) -> list[Any]:
    """The batch, with each decimal that ``str()`` would print in exponent notation made a :class:`PlainDecimal`."""
    fixed: list[Any] | None = None
    for r, row in enumerate(batch):
        for i in columns:
            value = row[i]
            if value is not None and value.is_finite() and (value.adjusted() < -6 or value.as_tuple().exponent > 0):
                if fixed is None:
                    fixed = list(batch)
                values = list(fixed[r])
                values[i] = PlainDecimal(value)
                fixed[r] = tuple(values)
    return fixed if fixed is not None else batch
