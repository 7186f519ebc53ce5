"""What every transport shares: the reader and writer interfaces, atomic-put names, wildcards.

The bottom of ``transports``: protocol modules (``local``, ``sftp``, ``ftp``,
``smb``) import from here, and :mod:`~airflow_batchtasks.transports.registry`
on top picks one by location type, so no protocol module imports another.

Atomic puts: a file is written under a hidden temporary name in the target
folder and then renamed, so a consumer polling the folder never sees half a
file and a failed upload never leaves one under the final name. Without
``overwrite`` the rename itself refuses an existing file, so two runs racing
cannot both win. A connection that dies mid-upload cannot remove its own
temporary file, so every put first deletes the ``.part`` files an interrupted
put of the same name left behind (a retry therefore leaves the folder clean).

Wildcards: only the last path segment may hold ``*``, ``?`` or ``[...]``
(matched with fnmatch, case-sensitively except on SMB, whose servers compare
names case-insensitively).
"""

from __future__ import annotations

import contextlib
import fnmatch
import logging
import posixpath
import re
import uuid
from typing import IO, Any, Protocol

log = logging.getLogger(__name__)

WILDCARD_CHARS = set("*?[")


class DestinationExists(Exception):
    """The target file exists and the destination does not allow overwriting it."""


class FileWriter(Protocol):
    """What the deliver step needs from a destination: one atomic put per file."""

    def put(self, src: IO[bytes], name: str, overwrite: bool) -> str: ...

    def close(self) -> None: ...


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


def temp_name(name: str) -> str:
    """The hidden name a file is uploaded under before the rename: ``.<name>.<12 hex>.part``."""
    return f".{name}.{uuid.uuid4().hex[:12]}.part"


def is_leftover_part(entry: str, name: str) -> bool:
    """Whether folder entry ``entry`` is a temporary file of a put of ``name`` (see :func:`temp_name`)."""
    return re.fullmatch(rf"\.{re.escape(name)}\.[0-9a-f]{{12}}\.part", entry) is not None


def log_removed_leftovers(removed: list[str], folder: str) -> None:
    for entry in removed:
        log.warning("Removed %s, left in %s by an interrupted upload", entry, folder)


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


class FolderDestination:
    """A folder through a connection that can put into any folder (``FtpFiles``, ``SmbFiles``)."""

    def __init__(self, files: Any, path: str) -> None:
        self.files = files
        self.folder = path.rstrip("/") or "/"

    def put(self, src: IO[bytes], name: str, overwrite: bool) -> str:
        return self.files.put(src, self.folder, name, overwrite)

    def close(self) -> None:
        self.files.close()
