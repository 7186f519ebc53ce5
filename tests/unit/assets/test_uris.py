"""File URIs: one spelling per file, Airflow's own normal form, never a credential."""

from __future__ import annotations

import pytest
from airflow.sdk import Asset

from airflow_batchtasks.assets.uris import Address, connection_address, destination_uri, file_uri, source_file_uri


@pytest.fixture(autouse=True)
def _fresh_connections() -> None:
    connection_address.cache_clear()


@pytest.mark.parametrize(
    ("kind", "folder", "name", "address", "expected"),
    [
        ("local", "/data/out", "sales.csv", None, "file:///data/out/sales.csv"),
        ("local", "/data//out/./", "sales.csv", None, "file:///data/out/sales.csv"),
        ("sftp", "/out", "sales.csv", Address("vendor.example"), "sftp://vendor.example:22/out/sales.csv"),
        ("sftp", "out/", "sales.csv", Address("Vendor.Example", 2222), "sftp://vendor.example:2222/out/sales.csv"),
        ("ftp", "/in", "a.csv", Address("ftp.example"), "ftp://ftp.example:21/in/a.csv"),
        ("smb", "\\exports\\daily", "a.csv", Address("fs1", None, "data"), "smb://fs1:445/data/exports/daily/a.csv"),
        ("smb", "/", "a.csv", Address("fs1", 1445, "/data/"), "smb://fs1:1445/data/a.csv"),
        ("sftp", "/out", "a.csv", Address("::1", 22), "sftp://[::1]:22/out/a.csv"),
    ],
)
def test_file_uri_per_type(kind: str, folder: str, name: str, address: Address | None, expected: str) -> None:
    assert file_uri(kind, folder, name, address) == expected


def test_a_full_path_without_a_name_is_the_file_itself() -> None:
    assert file_uri("local", "/data/out/sales.csv") == file_uri("local", "/data/out", "sales.csv")


def test_characters_that_would_end_a_path_are_encoded() -> None:
    uri = file_uri("local", "/data/out", "Q1 #2?.csv")
    assert uri == "file:///data/out/Q1%20%232%3F.csv"
    assert file_uri("local", "/données", "é.csv") == "file:///donn%C3%A9es/%C3%A9.csv"


def test_uris_are_already_in_airflows_normal_form() -> None:
    """Airflow normalises asset URIs (sftp/ftp add their default port): ours must come out unchanged."""
    for uri in (
        file_uri("local", "/data/out", "a b.csv"),
        file_uri("sftp", "/out", "a.csv", Address("h")),
        file_uri("ftp", "/out", "a.csv", Address("h", 2121)),
        file_uri("smb", "/out", "a.csv", Address("h", None, "s")),
    ):
        assert Asset(uri).uri == uri


def test_no_credential_ever_reaches_a_uri() -> None:
    assert file_uri("sftp", "/o", "a.csv", Address("bob:secret@vendor.example")) == "sftp://vendor.example:22/o/a.csv"
    assert file_uri("ftp", "/o", "a.csv", Address("ftp://bob:pw@ftp.example:99")) == "ftp://ftp.example:21/o/a.csv"


def test_relative_local_folder_is_made_absolute() -> None:
    assert file_uri("local", "out", "a.csv").startswith("file:///")


@pytest.mark.parametrize(
    ("kind", "folder", "address", "message"),
    [
        ("url", "/x", None, "no file URI for location type `url`"),
        ("sftp", "/x", None, "needs the connection's host"),
        ("sftp", "/x", Address(""), "needs the connection's host"),
        ("local", "/", None, "needs a file path"),
    ],
)
def test_refusals(kind: str, folder: str, address: Address | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        file_uri(kind, folder, None, address)


def test_connection_host_and_port_but_not_login(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_VENDOR_SFTP", "sftp://bob:s3cret@Vendor.Example:2222")
    uri = destination_uri({"type": "sftp", "conn_id": "vendor_sftp", "path": "/in/d"}, "a.csv")
    assert uri == "sftp://vendor.example:2222/in/d/a.csv"
    assert "bob" not in uri and "s3cret" not in uri


def test_smb_share_comes_from_the_connection_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_FS", "samba://u:p@fs1/exports")
    assert source_file_uri({"type": "smb", "conn_id": "fs", "path": "/daily/a.csv"}) == \
        "smb://fs1:445/exports/daily/a.csv"


def test_local_destination_needs_no_connection() -> None:
    assert destination_uri({"type": "local", "path": "/srv/out"}, "a.csv") == "file:///srv/out/a.csv"
    assert source_file_uri({"type": "local", "path": "/srv/out/*.csv"}, "/srv/out/a.csv") == "file:///srv/out/a.csv"
