"""Pick the transport for a location or destination type: the one place that knows them all.

Protocol modules never import each other; the file source, the location
fetcher and the deliver step ask here and get a
:class:`~airflow_batchtasks.transports.base.FileReader` or
:class:`~airflow_batchtasks.transports.base.FileWriter`. Each is imported only
when asked for, so a worker that never touches SMB never imports smbprotocol.
"""

from __future__ import annotations

from typing import Any

from airflow_batchtasks.transports.base import FileReader, FileWriter, FolderDestination


def open_destination(spec: dict[str, Any]) -> FileWriter:
    kind = spec["type"]
    if kind == "local":
        from airflow_batchtasks.transports.local import LocalDestination

        return LocalDestination(spec["path"])
    if kind == "sftp":
        from airflow_batchtasks.transports.sftp import SftpDestination

        return SftpDestination(spec["conn_id"], spec["path"])
    if kind == "ftp":
        from airflow_batchtasks.transports.ftp import FtpFiles

        return FolderDestination(FtpFiles(spec["conn_id"]), spec["path"])
    if kind == "smb":
        from airflow_batchtasks.transports.smb import SmbFiles

        return FolderDestination(SmbFiles(spec["conn_id"]), spec["path"])
    raise NotImplementedError(f"destination type `{kind}` is not supported yet")


def open_reader(kind: str, conn_id: str | None) -> FileReader:
    """The reader for a location type (``sftp``, ``ftp``, ``smb``, ``local``); close it when done."""
    if kind == "local":
        from airflow_batchtasks.transports.local import LocalReader

        return LocalReader()
    if not conn_id:
        raise ValueError(f"a `{kind}` location needs `conn_id`")
    if kind == "sftp":
        from airflow_batchtasks.transports.sftp import SftpReader

        return SftpReader(conn_id)
    if kind == "ftp":
        from airflow_batchtasks.transports.ftp import FtpFiles

        return FtpFiles(conn_id)
    if kind == "smb":
        from airflow_batchtasks.transports.smb import SmbFiles

        return SmbFiles(conn_id)
    raise ValueError(f"location type `{kind}` cannot hold files")


def reader_for(location: dict[str, Any]) -> FileReader:
    return open_reader(location["type"], location.get("conn_id"))
