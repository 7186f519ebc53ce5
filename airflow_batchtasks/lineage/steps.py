"""The OpenLineage methods of the pipeline steps, one mixin per step.

Airflow's OpenLineage provider calls ``get_openlineage_facets_on_start()`` before a step runs and
``get_openlineage_facets_on_complete(task_instance)`` after it (also after a failure), and sends
what they return with its own run and job facets. Nothing here runs unless OpenLineage is configured
(the provider's listener is the only caller), and the provider is imported inside these methods
only: it stays an optional extra (``airflow-batchtasks[openlineage]``), as in Airflow's own providers.

What each step reports (docs/lineage.md explains it for users):

- SQL extract: the tables its query reads (Airflow's SQL parser, the connection's namespace), and the
  staged file it wrote with its row count and size;
- file source: each file it read (the same URI as its Airflow Asset) with rows and size;
- http source: the endpoint (read by a GET, written by any other method), and the kept response;
- process: the files it was given, and each file the script wrote;
- package: the files it was given, and the zip or encrypted files it made;
- deliver: the files it was given, and each file it put at each destination (the destinations'
  Asset URIs), with rows, size and the md5 as the dataset's version.

A step's outputs are read from its own XCom (what ``execute`` returned), so no operator keeps extra
state for lineage; a failed step has none, and reports its inputs only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_batchtasks.assets.uris import destination_uri, source_file_uri
from airflow_batchtasks.lineage.datasets import database_namespace, endpoint_dataset, staged_dataset, uri_dataset

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage


# -- building blocks (OpenLineage imported lazily) ------------------------------------------------------


def _lineage(inputs: list[Any] | None = None, outputs: list[Any] | None = None, **facets: Any) -> OperatorLineage:
    from airflow.providers.openlineage.extractors import OperatorLineage

    return OperatorLineage(inputs=inputs or [], outputs=outputs or [], **facets)


def _input(where: tuple[str, str], rows: int | None = None, size: int | None = None) -> Any:
    """An input dataset; with OpenLineage's input statistics when known and the client has them."""
    from openlineage.client.event_v2 import InputDataset

    facets: dict[str, Any] = {}
    if rows is not None or size is not None:
        try:
            from openlineage.client.facet_v2 import input_statistics_input_dataset as stats
        except ImportError:  # an older openlineage-python: the dataset without its statistics
            pass
        else:
            facets["inputStatistics"] = stats.InputStatisticsInputDatasetFacet(rowCount=rows, size=size)
    return InputDataset(namespace=where[0], name=where[1], inputFacets=facets)


def _output(where: tuple[str, str], rows: int | None = None, size: int | None = None,
            version: str | None = None) -> Any:
    """An output dataset with its row count and size (``outputStatistics``) and version (the md5)."""
    from openlineage.client.event_v2 import OutputDataset
    from openlineage.client.facet_v2 import dataset_version_dataset, output_statistics_output_dataset

    output_facets: dict[str, Any] = {}
    if rows is not None or size is not None:
        output_facets["outputStatistics"] = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
            rowCount=rows, size=size
        )
    facets: dict[str, Any] = {}
    if version:
        facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=version)
    return OutputDataset(namespace=where[0], name=where[1], facets=facets, outputFacets=output_facets)


def _staged_size(item: dict[str, Any]) -> int | None:
    """The size of a staged file: from the step's XCom when it says, else from storage (one stat)."""
    if item.get("size") is not None:
        return int(item["size"])
    try:
        from airflow_batchtasks.storage.paths import storage_path

        return int(storage_path(item["url"]).stat().st_size)
    except Exception:  # lineage must never fail a step: a file gone from staging has no size
        return None


def _returned(task_instance: Any, task_id: str) -> list[dict[str, Any]]:
    """What step ``task_id`` returned (its XCom), or ``[]`` when it returned nothing (failed, skipped)."""
    if task_instance is None:
        return []
    value = task_instance.xcom_pull(task_ids=task_id)
    return [v for v in value or [] if isinstance(v, dict) and v.get("url")]


def _staged_inputs(items: list[dict[str, Any]]) -> list[Any]:
    return [_input(where, item.get("rows"), item.get("size"))
            for item in items if (where := staged_dataset(item["url"]))]


def _staged_outputs(items: list[dict[str, Any]], skip_urls: set[str] = frozenset()) -> list[Any]:  # type: ignore[assignment]
    return [_output(where, item.get("rows"), _staged_size(item), item.get("md5"))
            for item in items if item["url"] not in skip_urls and (where := staged_dataset(item["url"]))]


# -- one mixin per step --------------------------------------------------------------------------------


class StagedFilesLineage:
    """Any step between extract and deliver: the staged files it was given in, the new ones it made out.

    ``lineage_input_step`` names the step whose files it reads (``None``: none).
    """

    task_id: str

    def lineage_input_step(self) -> str | None:
        return None

    def get_openlineage_facets_on_start(self) -> OperatorLineage:
        return _lineage()

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        step = self.lineage_input_step()
        given = _returned(task_instance, step) if step else []
        made = _returned(task_instance, self.task_id)
        return _lineage(_staged_inputs(given), _staged_outputs(made, {i["url"] for i in given}))


class ProcessLineage(StagedFilesLineage):
    """Process step: the files the script was given (its input step's), and each file it wrote."""

    input_step: str | None

    def lineage_input_step(self) -> str | None:
        return self.input_step


class PackageLineage(StagedFilesLineage):
    """Package step: the files of ``process`` (or ``extract``), and the zip or encrypted files it made."""

    upstream_task_ids: set[str]

    def lineage_input_step(self) -> str | None:
        return "process" if "process" in self.upstream_task_ids else "extract"


class DeliverLineage:
    """Deliver step: the packaged files in; each file at each destination out, named by its Asset URI."""

    destinations: list[dict[str, Any]]
    task_id: str

    def get_openlineage_facets_on_start(self) -> OperatorLineage:
        return _lineage()

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        delivered = _returned(task_instance, self.task_id)
        outputs = []
        for item in delivered:
            for spec in self.destinations:
                if spec.get("skip_empty") and item.get("rows") == 0:
                    continue  # not sent (the deliver step's own rule)
                outputs.append(_output(uri_dataset(destination_uri(spec, item["name"])),
                                       item.get("rows"), item.get("size"), item.get("md5")))
        return _lineage(_staged_inputs(delivered), outputs)


class FileSourceLineage:
    """File source: each file it read (its Asset URI) in; the staged copies out."""

    location: dict[str, Any]
    output_format: dict[str, Any]
    task_id: str

    def get_openlineage_facets_on_start(self) -> OperatorLineage:
        return _lineage()

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        fetched = _returned(task_instance, self.task_id)
        kept = self.output_format.get("format", "keep") == "keep"  # then the staged copy has the source's size
        inputs = [_input(uri_dataset(source_file_uri(self.location, item["source"])), item.get("rows"),
                         _staged_size(item) if kept else None)
                  for item in fetched if item.get("source")]
        return _lineage(inputs, _staged_outputs(fetched))


class SqlLineage:
    """SQL extract: the tables its query reads (Airflow's SQL parser) in; the staged file out, with rows.

    The tables are named as Airflow's own SQL operators name them: the hook's
    ``get_openlineage_database_info`` (namespace ``postgres://host:5432`` ...), its dialect and default
    schema; for hooks without one (ODBC, SQLite) see :func:`~airflow_batchtasks.lineage.datasets.database_namespace`.
    The query is the rendered one, run arguments as ``?``: their values are never in an event.
    """

    conn_id: str
    query: str | None
    task_id: str

    def get_openlineage_facets_on_start(self) -> OperatorLineage:
        from airflow.providers.openlineage.sqlparser import DatabaseInfo, SQLParser
        from airflow.sdk import BaseHook

        if not self.query or not self.query.strip():
            return _lineage()
        hook: Any = BaseHook.get_hook(self.conn_id)
        connection = hook.get_connection(self.conn_id)
        info = getattr(hook, "get_openlineage_database_info", lambda _c: None)(connection)
        own_info = info is not None
        if info is None:
            scheme, authority, database = database_namespace(
                connection.conn_type or "", connection.host, connection.port, connection.schema,
                connection.extra_dejson,
            )
            info = DatabaseInfo(scheme=scheme, authority=authority, database=database)
        dialect = hook.get_openlineage_database_dialect(connection) if own_info else "generic"
        default_schema = default_schema_of(hook, connection)
        parser = SQLParser(dialect=dialect, default_schema=default_schema)
        # Parsed with run arguments as `:1`, `:2`: every dialect of the parser reads those, while `?` is not
        # SQL to its PostgreSQL dialect (no table would be found); the `sql` facet keeps the `?` form.
        query_for = getattr(self, "_query_for", None)
        parsed_sql = query_for("numeric")[0] if callable(query_for) else self.query
        lineage = parser.generate_openlineage_metadata_from_sql(
            sql=parsed_sql, hook=hook, database_info=info, use_connection=own_info, sqlalchemy_engine=None,
        )
        if "sql" in lineage.job_facets:
            from openlineage.client.facet_v2 import sql_job

            lineage.job_facets["sql"] = sql_job.SQLJobFacet(query=SQLParser.normalize_sql(self.query))
        return lineage

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        tables = self.get_openlineage_facets_on_start()
        written = _returned(task_instance, self.task_id)
        return _lineage(tables.inputs, _staged_outputs(written), run_facets=tables.run_facets,
                        job_facets=tables.job_facets)


def default_schema_of(hook: Any, connection: Any) -> str | None:
    """The schema of a table the query names without one: the connection's extra ``lineage_default_schema``
    when set (e.g. ``dbo`` for SQL Server over ODBC), ``main`` for SQLite, else the hook's own answer
    (PostgreSQL asks the server for ``CURRENT_SCHEMA``; other SQL hooks say ``public``)."""
    extra = connection.extra_dejson
    if extra.get("lineage_default_schema"):
        return str(extra["lineage_default_schema"])
    if connection.conn_type == "sqlite":
        return "main"
    return hook.get_openlineage_default_schema()


class HttpLineage:
    """HTTP source: the endpoint, an input for ``GET`` and an output for any other method (it writes
    to the API); with ``keep_response`` the body is read too (input) and the staged file is an output."""

    conn_id: str
    endpoint: str
    method: str
    keep_response: bool
    task_id: str

    def _endpoint_lineage(self) -> tuple[list[Any], list[Any]]:
        from airflow.sdk import BaseHook

        connection = BaseHook.get_connection(self.conn_id)
        schema = connection.schema or "http"
        host = connection.host or ""
        base = host if "://" in host else f"{schema}://{host}"
        if connection.port and "://" not in host:
            base = f"{base}:{connection.port}"
        where = endpoint_dataset(base, self.endpoint)
        reads = self.method == "GET" or self.keep_response
        return ([_input(where)] if reads else []), ([] if self.method == "GET" else [_output(where)])

    def get_openlineage_facets_on_start(self) -> OperatorLineage:
        inputs, outputs = self._endpoint_lineage()
        return _lineage(inputs, outputs)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        inputs, outputs = self._endpoint_lineage()
        return _lineage(inputs, outputs + _staged_outputs(_returned(task_instance, self.task_id)))
