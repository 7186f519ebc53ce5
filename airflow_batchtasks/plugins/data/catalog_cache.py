"""The definitions catalog, re-parsed only when a definition file changed.

The API server needs definitions for task details, resend (current
destinations) and the definitions CRUD; parsing a thousand files per request
would cost seconds, so the parsed catalog is kept per process and keyed by
every file's (path, mtime, size): a stat pass over the folder is all a request pays.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from airflow_batchtasks import config
from airflow_batchtasks.definitions.catalog import SUFFIXES, Catalog, load_catalog

_lock = threading.Lock()
_cached: tuple[tuple, Catalog] | None = None


def _fingerprint(root: Path) -> tuple:
    if not root.exists():
        return (str(root), None)
    if root.is_file():
        st = root.stat()
        return (str(root), ((str(root), st.st_mtime_ns, st.st_size),))
    stats: list[tuple[str, int, int]] = []
    _scan(str(root), stats)
    return (str(root), tuple(sorted(stats)))


def _scan(folder: str, out: list[tuple[str, int, int]]) -> None:
    # os.scandir + DirEntry.stat: several times faster than Path.rglob for a thousand files
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir():
                _scan(entry.path, out)
            elif entry.name.endswith(SUFFIXES) and entry.is_file():
                st = entry.stat()
                out.append((entry.path, st.st_mtime_ns, st.st_size))


def definitions_root() -> Path:
    return config.definitions_folder().resolve()


def get_catalog() -> Catalog:
    """The catalog of the configured definitions folder, as of now."""
    global _cached
    root = definitions_root()
    key = _fingerprint(root)
    with _lock:
        if _cached is not None and _cached[0] == key:
            return _cached[1]
    catalog = load_catalog(root)
    with _lock:
        _cached = (key, catalog)
    return catalog


def invalidate() -> None:
    """Forget the cached catalog (after the API itself wrote a file within the same mtime tick)."""
    global _cached
    with _lock:
        _cached = None
