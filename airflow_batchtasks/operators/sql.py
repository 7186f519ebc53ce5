"""Extract step for ``source.type: sql``: stream a query's rows into the output file.

The operator renders the query (``query`` or ``query_from``, run arguments as
bind parameters, statements ODBC cannot take removed) and leaves the rows to
``sql.extract``, which picks the fastest path that writes the exact bytes of
the portable one (arrow-odbc, COPY, or ``fetchmany`` into ``csv.writer``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from airflow_batchtasks import config
from airflow_batchtasks.arguments.binding import refuse_arguments
from airflow_batchtasks.compat import AirflowException, AirflowFailException
from airflow_batchtasks.lineage.steps import SqlLineage
from airflow_batchtasks.operators.base import BatchStepOperator
from airflow_batchtasks.operators.progress import Progress
from airflow_batchtasks.sql.params import ParamBinder, QueryParamError, named_values, prepare_query
from airflow_batchtasks.storage.paths import check_file_name
from airflow_batchtasks.transports.locations import LocationError, fetch_text

if TYPE_CHECKING:
    from airflow.sdk import Context


class SqlExtractOperator(SqlLineage, BatchStepOperator):
    """Run a query on any Airflow SQL connection and write its rows to a staged CSV-style file.

    :param conn_id: Airflow connection whose hook is a DbApiHook (odbc, postgres, sqlite, ...)
    :param query: SQL text, rendered with the run's context before it runs
    :param query_from: where to fetch the SQL text instead (a ``Location`` dict, see ``transports.locations``);
        fetched while templates render, so the UI's rendered template shows the query that ran
    :param output_name: file name of the output (templated)
    :param output_format: the definition's ``output`` block (format, delimiter, quoting, terminators, encoding)
    :param include_headers: write the column names as the first line
    :param require_rows: fail (without retry) when the query returns no row
    :param batch_size: rows per fetch round trip; default ``[batchtasks] sql_batch_size``, read when the
        step runs (the worker's configuration, not the DAG processor's)
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
        batch_size: int | None = None,
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

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        """Render as usual, then render ``query`` again with run arguments as bind markers.

        ``self.query`` ends up with ``?`` where arguments go (what the UI's rendered
        template shows); the driver-specific SQL is made in ``execute``.
        """
        template, self.query = self.query, None  # rendered below only, with run arguments bound
        refuse_arguments(self, self.query_from, "source.query_from", context, jinja_env, "where the query comes from")
        super().render_template_fields(context, jinja_env)
        if self.query_from:
            try:
                template = fetch_text(self.query_from, context, self.log)
            except LocationError as exc:
                raise AirflowException(f"source.query_from: {exc}") from exc
        try:
            binder, rendered, removed = prepare_query(
                template or "", context, jinja_env or self.get_template_env(), self.render_template,
            )
            if removed:
                self.log.info("Removed from the query (one ODBC statement cannot run them): %s", " | ".join(removed))
            self.query, _ = binder.finish(rendered, "qmark")
        except QueryParamError as exc:
            raise AirflowFailException(f"source.query: {exc}") from exc
        self._bound_sql, self._binder = rendered, binder

    def execute(self, context: Context) -> list[dict[str, Any]]:
        try:
            name = check_file_name(self.output_name)
        except ValueError as exc:
            raise AirflowFailException(f"output.name: {exc}") from exc
        target = self.staging(context, "extract") / name
        target.parent.mkdir(parents=True, exist_ok=True)
        self.log.info("Query on connection %s", self.conn_id)
        # Imported here: the fast paths pull in pyarrow, which DAG parsing must not pay for.
        from airflow_batchtasks.sql import extract as sql_extract

        try:
            batch_size = self.batch_size or config.sql_batch_size()
        except ValueError as exc:
            raise AirflowFailException(str(exc)) from exc
        rows, path = sql_extract.extract(
            BaseHook.get_hook(self.conn_id),
            self._query_for,
            target,
            self.output_format,
            include_headers=self.include_headers,
            batch_size=batch_size,
            log=self.log,
            on_rows=Progress.of(context, "extract").rows,
        )
        self.log.info("Query done through %s: %d rows written to %s", path, rows, name)
        if rows == 0 and self.require_rows:
            raise AirflowFailException("the query returned no rows and source.require_rows is true")
        return [{"name": name, "url": str(target), "rows": rows}]

    def _query_for(self, paramstyle: str) -> tuple[str, Any]:
        """The SQL with run arguments as ``paramstyle`` placeholders, and their values in order."""
        if self._binder is None or self._bound_sql is None:
            return self.query, []
        sql, values = self._binder.finish(self._bound_sql, paramstyle)
        return sql, named_values(values, paramstyle)
