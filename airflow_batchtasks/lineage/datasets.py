"""Which OpenLineage dataset each thing a step reads or writes is: pure naming, no OpenLineage import.

OpenLineage names a dataset by a namespace (the data source: ``scheme://authority``) and a name
(the path or table in it). The provider's files already have one stable name, their Airflow Asset
URI (:mod:`airflow_batchtasks.assets.uris`); a dataset is that URI cut before its path, so a
lineage backend and Airflow's asset graph name the same file the same way:

- ``sftp://files.example:22/out/sales.csv`` -> namespace ``sftp://files.example:22``, name ``/out/sales.csv``;
- ``file:///data/out/sales.csv`` -> namespace ``file``, name ``/data/out/sales.csv`` (OpenLineage's
  convention for local files).

Files a step hands to the next one (staging) live under a folder per run; named with it, every run
would add new datasets. They are named without the run instead, ``<task DAG id>/<step>/<file name>``
in namespace :data:`STAGING_NAMESPACE`, so the steps of every run of a task link up through the same
datasets: table -> extract -> ``sales/extract/sales.csv`` -> deliver -> ``sftp://...``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

#: Namespace of the files steps hand to each other (the staging area).
STAGING_NAMESPACE = "batchtasks"


def uri_dataset(uri: str) -> tuple[str, str]:
    """``(namespace, name)`` of the file at ``uri``: the URI up to its path, and its path."""
    parts = urlsplit(uri)
    if parts.scheme == "file":
        return "file", parts.path
    return f"{parts.scheme}://{parts.netloc}", parts.path or "/"


def staged_dataset(url: str) -> tuple[str, str] | None:
    """``(namespace, name)`` of a staged file from its URL ``<staging>/<dag>/<run>/<step>/<name>``.

    The run's folder is left out (see the module's docstring); ``None`` for a URL too short to be staged.
    """
    segments = [s for s in urlsplit(url).path.split("/") if s]
    if len(segments) < 4:
        return None
    dag, _run, step, name = segments[-4:]
    return STAGING_NAMESPACE, f"{dag}/{step}/{name}"


def endpoint_dataset(base_url: str, endpoint: str) -> tuple[str, str]:
    """``(namespace, name)`` of an HTTP endpoint: ``scheme://host[:port]`` and the path, without the query.

    The query string is left out: it carries the run's arguments (often ids or dates), which would
    make one dataset per run, and sometimes secrets.
    """
    url = base_url.rstrip("/") + "/" + endpoint.lstrip("/") if endpoint else base_url
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    netloc = f"{host}:{parts.port}" if parts.port else host
    return f"{parts.scheme}://{netloc}", parts.path or "/"


def database_namespace(conn_type: str, host: str | None, port: int | None, schema: str | None,
                       extra: dict[str, Any]) -> tuple[str, str, str | None]:
    """``(scheme, authority, database)`` of a SQL connection whose hook gives no OpenLineage database info.

    Hooks of PostgreSQL, MySQL, MSSQL, ... say it themselves (``get_openlineage_database_info``); ODBC
    and SQLite do not. Then the connection type is the scheme; the authority is ``host:port`` (for
    SQLite the database file, kept in ``host``; for ODBC without a host, the DSN); the database is
    the connection's schema. No login or password is ever part of it.
    """
    if conn_type == "sqlite":
        return "sqlite", host or "", None
    authority = (host or "").rpartition("@")[2].lower()
    if authority and port:
        authority = f"{authority}:{port}"
    if not authority:
        authority = str(extra.get("dsn") or extra.get("DSN") or "")
    return conn_type or "sql", authority, schema or None
