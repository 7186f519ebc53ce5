"""Dataset names: the Asset URI cut before its path, staged files without their run, endpoints without query."""

from __future__ import annotations

from airflow_batchtasks.assets.uris import Address, file_uri
from airflow_batchtasks.lineage.datasets import (
    STAGING_NAMESPACE,
    database_namespace,
    endpoint_dataset,
    staged_dataset,
    uri_dataset,
)


def test_remote_file_is_its_asset_uri_split_at_the_path() -> None:
    uri = file_uri("sftp", "/out/daily", "sales 1.csv", Address("Files.Example", None))
    namespace, name = uri_dataset(uri)
    assert (namespace, name) == ("sftp://files.example:22", "/out/daily/sales%201.csv")
    assert namespace + name == uri


def test_local_file_uses_openlineage_file_namespace() -> None:
    assert uri_dataset(file_uri("local", "/data/out", "a.csv")) == ("file", "/data/out/a.csv")


def test_smb_share_stays_in_the_name() -> None:
    uri = file_uri("smb", "in\\x", "a.csv", Address("nas", None, "Finance"))
    assert uri_dataset(uri) == ("smb://nas:445", "/Finance/in/x/a.csv")


def test_staged_file_is_named_without_its_run() -> None:
    first = staged_dataset("file:///srv/staging/sales/manual__2026-01-01T00_00_00_00_00/extract/sales.csv")
    second = staged_dataset("s3://bucket/staging/sales/scheduled__2026-01-02/extract/sales.csv")
    assert first == second == (STAGING_NAMESPACE, "sales/extract/sales.csv")
    assert staged_dataset("file:///x.csv") is None


def test_endpoint_drops_query_and_credentials() -> None:
    assert endpoint_dataset("https://user:secret@API.example:8443", "/v1/users?token=abc&region=EU") == (
        "https://api.example:8443", "/v1/users",
    )
    assert endpoint_dataset("http://api.example/", "") == ("http://api.example", "/")


def test_database_namespace_for_hooks_without_their_own() -> None:
    assert database_namespace("sqlite", "/var/db/app.db", None, None, {}) == ("sqlite", "/var/db/app.db", None)
    assert database_namespace("odbc", "DB.example", 1433, "sales", {}) == ("odbc", "db.example:1433", "sales")
    assert database_namespace("odbc", None, None, None, {"dsn": "Warehouse"}) == ("odbc", "Warehouse", None)
