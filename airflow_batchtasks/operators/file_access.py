"""Read access to files on sftp/ftp/smb/local locations: list a folder and stream one file.

One small interface for every location type so the file source (``source.type: file``) and the
location fetcher (``query_from``, ``command_from``, ``processing.from``) share one implementation
per protocol, each through the official provider hook that holds the connection. Files are opened
as streams (never fetched whole to the worker's disk), so a file of any size flows straight into
staging.

Wildcards: only the last path segment may hold ``*``, ``?`` or ``[...]`` (matched with fnmatch,
case-sensitively except on SMB, whose servers compare names case-insensitively).
"""

from __future__ import annotations

import contextlib
import fnmatch
import posixpath
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Protocol

from airflow_batchtasks.storage.local_roots import check_local_path

WILDCARD_CHARS = set("*?[")


class FileReader(Protocol):
    """What the file source and the location fetcher need from a location type."""

    case_sensitive: bool

    def list_files(self, folder: str) -> list[str]:
        """Names (not paths) of the regular files directly in ``folder``."""
        ...

    def open(self, path: str) -> contextlib.AbstractContextManager[IO[bytes]]:
        """A binary stream of the file at ``path``."""
        ...

    def close(self) -> None: ...


def split_pattern(path: str) -> tuple[str, str]:
    """``/out/sales_*.csv`` -> (``/out``, ``sales_*.csv``); wildcards are refused in folder segments."""
    folder, pattern = posixpath.split(path)
    if not pattern:
        raise ValueError(f"path `{path}` names a folder: add a file name or a pattern such as `*.csv`")
    if WILDCARD_CHARS & set(folder):
        raise ValueError(f"path `{path}`: wildcards are only allowed in the file name, not in folders")
    return folder or ".", pattern


def has_wildcard(name: str) -> bool:
    return bool(WILDCARD_CHARS & set(name))


def matching_files(reader: FileReader, path: str) -> list[str]:
    """Full paths of the files matching ``path`` (a plain path or a basename pattern), sorted by name."""
    folder, pattern = split_pattern(path)
    names = reader.list_files(folder)
    if reader.case_sensitive:
        hits = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
    else:
        hits = [n for n in names if fnmatch.fnmatchcase(n.lower(), pattern.lower())]
    return [posixpath.join(folder, n) for n in sorted(hits)]


class LocalReader:
    """A folder on the machine running the step (on a cluster: a mount every worker sees).

    With ``[batchtasks] local_roots`` set, only folders and files inside a root (or inside ``also``)
    are listed or opened (:func:`~airflow_batchtasks.storage.local_roots.check_local_path`); a path
    outside fails the step without retry. ``what`` names the field in that error.
    """

    case_sensitive = True

    def __init__(self, what: str = "source.location.path", also: tuple[str, ...] = ()) -> None:
        self.what = what
        self.also = also

    def list_files(self, folder: str) -> list[str]:
        check_local_path(folder, self.what, self.also)
        return [p.name for p in Path(folder).iterdir() if p.is_file()]

    def open(self, path: str) -> contextlib.AbstractContextManager[IO[bytes]]:
        check_local_path(path, self.what, self.also)
        return open(path, "rb")  # noqa: SIM115 - returned as the context manager itself

    def close(self) -> None:
        pass


class SftpReader:
    """Files on an SFTP server, through the official SFTPHook's connection."""

    case_sensitive = True

    def __init__(self, conn_id: str) -> None:
        from airflow.providers.sftp.hooks.sftp import SFTPHook

        self.hook = SFTPHook(ssh_conn_id=conn_id)
        self._managed = self.hook.get_managed_conn()
        self.client = self._managed.__enter__()

    def list_files(self, folder: str) -> list[str]:
        return [a.filename for a in self.client.listdir_attr(folder) if stat.S_ISREG(a.st_mode or 0)]

    @contextlib.contextmanager
    def open(self, path: str) -> Iterator[IO[bytes]]:
        with self.client.open(path, "rb") as fh:
            # Pipelined reads: without prefetch paramiko waits for each 32 KB block in turn.
            fh.prefetch(self.client.stat(path).st_size)
            yield fh

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._managed.__exit__(None, None, None)


def open_reader(kind: str, conn_id: str | None) -> FileReader:
    """The reader for a location type (``sftp``, ``ftp``, ``smb``, ``local``); close it when done."""
    if kind == "local":
        return LocalReader()
    if not conn_id:
        raise ValueError(f"a `{kind}` location needs `conn_id`")
    if kind == "sftp":
        return SftpReader(conn_id)
    if kind == "ftp":
        from airflow_batchtasks.operators.ftp_files import FtpFiles

        return FtpFiles(conn_id)
    if kind == "smb":
        from airflow_batchtasks.operators.smb_files import SmbFiles

        return SmbFiles(conn_id)
    raise ValueError(f"location type `{kind}` cannot hold files")


def reader_for(location: dict[str, Any]) -> FileReader:
    return open_reader(location["type"], location.get("conn_id"))
