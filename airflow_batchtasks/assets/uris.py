"""The stable URI of a delivered file, or of a file a ``file`` source reads, as Airflow Assets name it.

One function, :func:`file_uri`, decides what a file's URI looks like; the others
only find its parts (the connection's host and port, the rendered folder and the
file name). Delivery assets, file-source inlets and OpenLineage datasets all use
it, so the producer's asset and the consumer's inlet are the same asset (Airflow
matches assets by name and URI, character for character).

What a URI looks like (documented in docs/data-awareness.md):

=========  ============================================================
``local``  ``file:///<absolute folder>/<file name>``
``sftp``   ``sftp://<host>:<port, default 22>/<folder>/<file name>``
``ftp``    ``ftp://<host>:<port, default 21>/<folder>/<file name>``
``smb``    ``smb://<host>:<port, default 445>/<share>/<folder>/<file name>``
=========  ============================================================

Why the port is always written: Airflow's sftp and ftp providers normalise an
asset URI by adding the default port, so writing it ourselves keeps the URI we
compute equal to the one Airflow stores (and one host reached two ways stays one
asset). The host is lower-cased (host names are case-insensitive). The folder is
normalised (``//`` and ``./`` collapsed, no trailing ``/``), SMB backslashes
become ``/``, and characters that would end a URI path (``?``, ``#``, ``%``,
spaces, non-ASCII) are percent-encoded, so two spellings of one path give one
URI. A URI never holds a login or a password: only the connection's host and
port are read, and anything before an ``@`` in the host field is dropped.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import posixpath
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import quote, urlsplit

#: Location / destination type -> URI scheme and default port.
SCHEMES: dict[str, tuple[str, int | None]] = {
    "local": ("file", None),
    "sftp": ("sftp", 22),
    "ftp": ("ftp", 21),
    "smb": ("smb", 445),
}
# Path characters kept as they are: RFC 3986 sub-delims plus ":" and "@" (legal in a path segment).
_SAFE = "/:@!$&'()*+,;=~"


class Address(NamedTuple):
    """Where a connection points: what a URI may say about it (never a login or a password)."""

    host: str
    port: int | None = None
    share: str | None = None


def file_uri(kind: str, folder: str, name: str | None = None, address: Address | None = None) -> str:
    """The URI of the file ``name`` in ``folder`` (or of the file at path ``folder`` when ``name`` is None).

    :param kind: ``local``, ``sftp``, ``ftp`` or ``smb`` (a destination's or file location's ``type``)
    :param folder: the rendered destination folder, or the file's full path when ``name`` is None
    :param name: the file name; a plain name (destinations check it before delivering)
    :param address: the connection's host, port and (SMB) share; required except for ``local``
    :raises ValueError: unknown type, a remote type without a host, an empty path
    """
    try:
        scheme, default_port = SCHEMES[kind]
    except KeyError:
        raise ValueError(f"no file URI for location type `{kind}`: expected one of {', '.join(SCHEMES)}") from None
    path = _normal_path(kind, folder, name)
    if kind == "local":
        return f"file://{quote(path, safe=_SAFE)}"
    if address is None or not address.host:
        raise ValueError(f"a `{kind}` file URI needs the connection's host")
    if kind == "smb":
        share = (address.share or "").replace("\\", "/").strip("/")
        if share:
            path = f"/{share}{path}" if path != "/" else f"/{share}"
    return f"{scheme}://{_netloc(address.host, address.port or default_port)}{quote(path, safe=_SAFE)}"


def destination_uri(spec: Mapping[str, Any], name: str) -> str:
    """The URI of file ``name`` delivered to destination ``spec`` (``type``, ``conn_id``, rendered ``path``).

    Remote types read the Airflow connection ``conn_id`` for its host and port (see :func:`connection_address`).
    """
    kind = spec["type"]
    address = None if kind == "local" else connection_address(spec["conn_id"])
    return file_uri(kind, spec["path"], name, address)


def source_file_uri(location: Mapping[str, Any], path: str | None = None) -> str:
    """The URI of a file a ``file`` source reads: ``path`` (a file it found), else the location's own ``path``."""
    kind = location["type"]
    address = None if kind == "local" else connection_address(location["conn_id"])
    return file_uri(kind, path if path is not None else location["path"], None, address)


@functools.lru_cache(maxsize=256)
def connection_address(conn_id: str) -> Address:
    """Host, port and SMB share of Airflow connection ``conn_id`` (cached: one lookup per connection and process).

    :raises ValueError: the connection has no host
    """
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    host = conn.host or ""
    if not host:
        raise ValueError(f"connection `{conn_id}` has no host: its files have no URI")
    return Address(host, conn.port or None, conn.schema or None)


def _netloc(host: str, port: int | None) -> str:
    host = host.strip()
    if "://" in host:  # a host field holding a URL (``sftp://vendor.example``): keep its host only
        host = urlsplit(host).hostname or ""
    host = host.rpartition("@")[2].strip("[]").lower()  # never a login in a URI
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass
    if not host:
        raise ValueError("a file URI needs the connection's host")
    return f"{host}:{port}" if port else host


def _normal_path(kind: str, folder: str, name: str | None) -> str:
    text = folder.replace("\\", "/") if kind == "smb" else folder
    if kind == "local" and not text.startswith("/"):
        text = os.path.abspath(text)  # a relative local folder is relative to the worker's working directory
    if name is not None:
        text = f"{text.rstrip('/')}/{name}"
    if not text.strip("/"):
        raise ValueError("a file URI needs a file path, not a bare folder")
    return posixpath.normpath("/" + text.lstrip("/"))
