"""Where staged and archived files live, and the one check that keeps names inside them.

Run ids contain ``:`` and ``+``, which some object stores and file systems
dislike, so they are made path-safe. File names come from templates that can
include run arguments, so a name that tries to leave its folder is refused.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from airflow_batchtasks import config

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_segment(value: str) -> str:
    """A single path segment from any string (``:`` and ``+`` of run ids become ``_``)."""
    cleaned = _UNSAFE.sub("_", value).strip(".")
    return cleaned or "_"


def check_file_name(name: str) -> str:
    """Return ``name`` if it is a plain file name; refuse separators, ``..`` and hidden names."""
    if not name or "/" in name or "\\" in name or name in (".", "..") or name.startswith(".") or "\x00" in name:
        raise ValueError(f"file name `{name}` must be a plain name (no folder, no leading dot)")
    return name


def _root(url: str) -> ObjectStoragePath:
    from airflow.sdk import ObjectStoragePath

    conn_id = config._get("storage_conn_id") or None
    return ObjectStoragePath(url, conn_id=conn_id) if conn_id else ObjectStoragePath(url)


def staging_dir(dag_id: str, run_id: str, step: str) -> ObjectStoragePath:
    return _root(config.staging_url()) / safe_segment(dag_id) / safe_segment(run_id) / step


def archive_dir(dag_id: str, run_id: str) -> ObjectStoragePath:
    return _root(config.archive_url()) / safe_segment(dag_id) / safe_segment(run_id)


def archive_root() -> ObjectStoragePath:
    return _root(config.archive_url())
