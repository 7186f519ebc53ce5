"""Extract step for ``source.type: sql``: stream a query's rows into the output file.

Rows go from the cursor to the file in batches (``fetchmany``), never through
``fetchall`` or a DataFrame, so memory stays flat however many rows there
are. PostgreSQL connections use a server-side cursor, because psycopg would
otherwise pull the whole result into the client on ``execute``.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator, Sequence
from typing import Any

from airflow.sdk import BaseHook

from airflow_batchtasks.compat import AirflowException, AirflowFailException
from airflow_batchtasks.operators.base import BatchStepOperator
from airflow_batchtasks.operators.formatting import writer_options
from airflow_batchtasks.operators.locations import LocationError, fetch_text
from airflow_batchtasks.operators.sql_params import ParamBinder, QueryParamError, driver_paramstyle, named_values
from airflow_batchtasks.operators.sql_rewrite import strip_unsupported_statements
from airflow_batchtasks.storage.paths import check_file_name

LOG_EVERY_SECONDS = 10.0


class SqlExtractOperator(BatchStepOperator):
    """Run a query on any Airflow SQL connection and write its rows to a staged CSV-style file.

    :param conn_id: Airflow connection whose hook is a DbApiHook (odbc, postgres, sqlite, ...)
    :param query: SQL text, rendered with the run's context before it runs
    :param query_from: where to fetch the SQL text instead (a ``Location`` dict, see ``locations``);
        fetched while templates render, so the UI's rendered template shows the query that ran
    :param output_name: file name of the output (templated)
    :param output_format: the definition's ``output`` block (format, delimiter, quoting, terminators, encoding)
    :param include_headers: write the column names as the first line
    :param require_rows: fail (without retry) when the query returns no row
    :param batch_size: rows per ``fetchmany``
    """

    template_fields: Sequence[str] = ("query", "query_from", "output_name")
    template_ext: Sequence[str] = ()
    template_fields_renderers = {"query": "sql"}
    ui_color = "#cfe8ff"

    def __init__(
        self,
        *,
        conn_id: str,
        query: str | None = None,
        query_from: dict[str, Any] | None = None,
        output_name: str,
        output_format: dict[str, Any],
        include_headers: bool = True,
        require_rows: bool = False,
        batch_size: int = 10_000,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.query = query
        self.query_from = query_from
        self.output_name = output_name
        self.output_format = output_format
        self.include_headers = include_headers
        self.require_rows = require_rows
        self.batch_size = batch_size
        self._bound_sql: str | None = None
        self._binder: ParamBinder | None = None

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        """Render as usual, then render ``query`` again with run arguments as bind markers.

        ``self.query`` ends up with ``?`` where arguments go (what the UI's rendered
        template shows); the driver-specific SQL is made in ``execute``.
        """
        template = self.query
        super().render_template_fields(context, jinja_env)
        if self.query_from:
            try:
                template = fetch_text(self.query_from, context, self.log)
            except LocationError as exc:
                raise AirflowException(f"source.query_from: {exc}") from exc
        template, removed = strip_unsupported_statements(template or "")
        if removed:
            self.log.info("Removed from the query (one ODBC statement cannot run them): %s", " | ".join(removed))
        binder = ParamBinder()
        try:
            rendered = self.render_template(template, binder.context(context), jinja_env or self.get_template_env())
            self.query, _ = binder.finish(rendered, "qmark")
        except QueryParamError as exc:
            raise AirflowFailException(f"source.query: {exc}") from exc
        self._bound_sql, self._binder = rendered, binder

    def execute(self, context: Any) -> list[dict[str, Any]]:
        try:
            name = check_file_name(self.output_name)
        except ValueError as exc:
            raise AirflowFailException(f"output.name: {exc}") from exc
        target = self.staging(context, "extract") / name
        target.parent.mkdir(parents=True, exist_ok=True)
        hook = BaseHook.get_hook(self.conn_id)
        conn = hook.get_conn()
        try:
            sql, values = self._final_sql(conn)
            self.log.info("Running on connection %s:\n%s", self.conn_id, sql)
            if values:
                self.log.info("Bound run arguments, in order: %r", values)
            rows = self._write(conn, target, sql, values)
        finally:
            conn.close()
        self.log.info("Query done: %d rows written to %s", rows, name)
        if rows == 0 and self.require_rows:
            raise AirflowFailException("the query returned no rows and source.require_rows is true")
        return [{"name": name, "url": str(target), "rows": rows}]

    def _final_sql(self, conn: Any) -> tuple[str, Any]:
        if self._binder is None or self._bound_sql is None:
            return self.query, []
        style = driver_paramstyle(conn)
        sql, values = self._binder.finish(self._bound_sql, style)
        return sql, named_values(values, style)

    def _write(self, conn: Any, target: Any, sql: str, values: Any) -> int:
        cursor = _streaming_cursor(conn)
        try:
            if values:
                cursor.execute(sql, values)
            else:
                cursor.execute(sql)
            batches = _batches(cursor, self.batch_size)
            first = next(batches, [])
            rows = 0
            last_log = time.monotonic()
            with target.open("w", encoding=self.output_format.get("encoding", "utf-8"), newline="") as fh:
                writer = csv.writer(fh, **writer_options(self.output_format))
                if self.include_headers and cursor.description:
                    writer.writerow([col[0] for col in cursor.description])
                for batch in _chain(first, batches):
                    writer.writerows(batch)
                    rows += len(batch)
                    if time.monotonic() - last_log >= LOG_EVERY_SECONDS:
                        self.log.info("%d rows so far", rows)
                        last_log = time.monotonic()
            return rows
        finally:
            cursor.close()


def _streaming_cursor(conn: Any) -> Any:
    """A cursor that does not buffer the whole result set client-side where the driver allows it."""
    module = type(conn).__module__
    if module.startswith("psycopg"):
        cursor = conn.cursor(name="batchtasks_extract")
        cursor.itersize = 10_000
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
