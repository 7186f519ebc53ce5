"""Fast path of the ODBC extract: arrow-odbc fetches column batches, ``formats.arrow_csv`` writes them.

Why: pyodbc builds one Python object per value and ``csv.writer`` reads each
back, about 8x the time ``psql \\copy`` takes. arrow-odbc binds column buffers
and fetches thousands of rows per ODBC call straight into Arrow arrays (on a
second thread, while this one formats the previous batch), and the CSV is
made by vectorised kernels, so no Python code runs per value.

Same connection: the connection string is the official ``OdbcHook``'s
``odbc_connection_string`` (driver, DSN, extras, login), nothing is configured
twice. Same bytes: decimals are fetched as their text (exactly what the
database sends, never a float, and no precision guessed from a driver's column
description), 32-bit floats as doubles (as pyodbc reads them), every other
value rendered as ``str()`` of what pyodbc returns.

When it is not used, :class:`FastPathUnavailable` says why before a byte is
written and the caller runs the portable path (pyodbc + ``csv.writer``):
connection options arrow-odbc cannot take (``attrs_before``), a run argument
that is not text (arrow-odbc binds every parameter as VARCHAR, pyodbc binds
numbers as numbers), a column type the formatter cannot render exactly (binary,
time zones, intervals...). Text longer than the transit buffer makes arrow-odbc
stop with a truncation error; the extract then starts over with a buffer sized
from what the driver reported, and past :data:`MAX_TEXT_LIMIT` on the portable path.

Memory stays flat: arrow-odbc's transit buffers hold at most
:data:`BATCH_BYTES` each (two with concurrent fetching) whatever the row count;
a text column costs ``max_text_size`` bytes per row of buffer, so wide text
means fewer rows per batch, not more memory. psqlODBC buffers the whole result
client-side unless the connection has ``UseDeclareFetch=1``: a warning says so.
"""

from __future__ import annotations

import codecs
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from airflow_batchtasks.formats.arrow_csv import ArrowCsvWriter, UnsupportedColumn, plan_column

BATCH_ROWS = 100_000
BATCH_BYTES = 16 * 1024 * 1024
MAX_TEXT_SIZE = 1024
MAX_TEXT_LIMIT = 64 * 1024
LOG_EVERY_SECONDS = 10.0

_TRUNCATION = re.compile(r"too large to be written into the allocated buffer.*?Some\((\d+)\)", re.DOTALL)


class FastPathUnavailable(Exception):
    """The fast path cannot produce this extract exactly; the message says why (nothing was written)."""


def odbc_connection_string(hook: Any) -> str:
    """The connection string the official OdbcHook would give pyodbc; refuses what it cannot carry over."""
    try:
        from airflow.providers.odbc.hooks.odbc import OdbcHook
    except ImportError as exc:  # pragma: no cover - the odbc provider is a dependency
        raise FastPathUnavailable("the odbc provider is not installed") from exc
    if not isinstance(hook, OdbcHook):
        raise FastPathUnavailable(f"{type(hook).__name__} is not an ODBC connection")
    if "attrs_before" in hook.connect_kwargs:
        raise FastPathUnavailable("connect_kwargs.attrs_before (set before connecting) cannot be passed to arrow-odbc")
    return hook.odbc_connection_string


def text_parameters(values: list[Any]) -> list[str | None] | None:
    """Run arguments as arrow-odbc binds them (VARCHAR), or refuse when that would change their meaning."""
    if not values:
        return None
    others = sorted({type(v).__name__ for v in values if v is not None and not isinstance(v, str)})
    if others:
        raise FastPathUnavailable(
            f"run arguments of type {', '.join(others)} (arrow-odbc binds every parameter as text, pyodbc by type)"
        )
    return list(values)


class _SchemaMap:
    """``map_schema`` for arrow-odbc: decimals as text, 32-bit floats as doubles; remembers the decimals."""

    def __init__(self) -> None:
        self.decimal_columns: set[int] = set()

    def __call__(self, schema: Any) -> Any:
        import pyarrow as pa

        fields = []
        for i, field in enumerate(schema):
            if pa.types.is_decimal(field.type):
                self.decimal_columns.add(i)
                field = field.with_type(pa.string())
            elif pa.types.is_float32(field.type) or pa.types.is_float16(field.type):
                field = field.with_type(pa.float64())
            fields.append(field)
        return pa.schema(fields)


def extract(
    hook: Any,
    sql: str,
    values: list[Any],
    target: Any,
    writer_kwargs: dict[str, Any],
    *,
    encoding: str,
    include_headers: bool,
    log: logging.Logger,
    batch_size: int = BATCH_ROWS,
    on_rows: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """Run ``sql`` through arrow-odbc and write the CSV to ``target`` (an ObjectStoragePath).

    Returns the row count and the number of batches fetched (at most ``batch_size`` rows each, fewer when
    :data:`BATCH_BYTES` cannot hold that many). Raises :class:`FastPathUnavailable` when the portable
    path must be used instead.
    """
    connection_string = odbc_connection_string(hook)
    parameters = text_parameters(values)
    flat = connection_string.lower().replace(" ", "")
    if ("psqlodbc" in flat or "postgresql" in flat) and "usedeclarefetch=1" not in flat:
        log.warning(
            "psqlODBC without UseDeclareFetch=1 holds the whole result in memory: add it to the connection's extra"
        )
    timeout = hook.connect_kwargs.get("timeout")
    text_size = MAX_TEXT_SIZE
    while True:
        try:
            return _extract_once(
                sql,
                connection_string,
                parameters,
                target,
                writer_kwargs,
                encoding=encoding,
                include_headers=include_headers,
                log=log,
                max_text_size=text_size,
                login_timeout=timeout,
                batch_size=batch_size,
                on_rows=on_rows,
            )
        except _Truncated as exc:
            needed = max(exc.size or 0, text_size) * 2
            if needed > MAX_TEXT_LIMIT:
                raise FastPathUnavailable(
                    f"a text value longer than {MAX_TEXT_LIMIT} bytes (arrow-odbc's transit buffer limit here)"
                ) from exc
            log.info("A text value did not fit %d bytes; starting over with %d", text_size, needed)
            text_size = needed


class _Truncated(Exception):
    def __init__(self, size: int | None) -> None:
        super().__init__(size)
        self.size = size


def open_reader(
    sql: str,
    connection_string: str,
    parameters: list[str | None] | None = None,
    max_text_size: int = MAX_TEXT_SIZE,
    login_timeout: Any = None,
    batch_size: int = BATCH_ROWS,
) -> tuple[Any, set[int]]:
    """The arrow-odbc batch reader the extract reads, and which of its columns are decimals fetched as text.

    Public so that the benchmark measures the fetch alone with exactly these settings.
    """
    from arrow_odbc import read_arrow_batches_from_odbc

    schema_map = _SchemaMap()
    reader = read_arrow_batches_from_odbc(
        query=sql,
        connection_string=connection_string,
        batch_size=batch_size,
        parameters=parameters,
        max_bytes_per_batch=BATCH_BYTES,
        max_text_size=max_text_size,
        max_binary_size=max_text_size,
        map_schema=schema_map,
        fetch_concurrently=True,
        login_timeout_sec=int(login_timeout) if login_timeout else None,
    )
    return reader, schema_map.decimal_columns


def _extract_once(
    sql: str,
    connection_string: str,
    parameters: list[str | None] | None,
    target: Any,
    writer_kwargs: dict[str, Any],
    *,
    encoding: str,
    include_headers: bool,
    log: logging.Logger,
    max_text_size: int,
    login_timeout: Any,
    batch_size: int,
    on_rows: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    from arrow_odbc import Error as ArrowOdbcError

    try:
        reader, decimal_columns = open_reader(
            sql, connection_string, parameters, max_text_size, login_timeout, batch_size
        )
        plans = [plan_column(f, numeric_text=i in decimal_columns) for i, f in enumerate(reader.schema)]
        writer = ArrowCsvWriter(plans, writer_kwargs)
    except UnsupportedColumn as exc:
        raise FastPathUnavailable(str(exc)) from exc
    except ArrowOdbcError as exc:
        _raise_truncated(exc)
        raise
    utf8 = codecs.lookup(encoding).name == "utf-8"
    rows = fetches = 0
    last_log = time.monotonic()
    with target.open("wb") if utf8 else target.open("w", encoding=encoding, newline="") as out:
        if include_headers:
            header = writer.header()
            out.write(header.encode("utf-8") if utf8 else header)
        try:
            for batch in reader:
                if utf8:
                    writer.write(batch, out)
                elif batch.num_rows:
                    out.write(str(writer.chunk(batch), "utf-8"))
                rows += batch.num_rows
                fetches += 1
                if on_rows is not None:
                    on_rows(rows)
                if time.monotonic() - last_log >= LOG_EVERY_SECONDS:
                    log.info("%d rows so far", rows)
                    last_log = time.monotonic()
        except ArrowOdbcError as exc:
            _raise_truncated(exc)
            raise
    return rows, fetches


def _raise_truncated(exc: Exception) -> None:
    match = _TRUNCATION.search(str(exc))
    if match or "truncat" in str(exc).lower():
        raise _Truncated(int(match.group(1)) if match else None) from exc
