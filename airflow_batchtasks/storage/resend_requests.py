"""Resend requests: what an authorized API call asked a resend run to do, kept where users cannot write.

A resend DAG's run conf can be written by anyone Airflow lets trigger that DAG,
who need not hold any right on the task whose file would be resent. So the API,
after checking the caller's right on the task, stores the request (task, file,
archived path, rendering context, who asked) in the archive and puts only its
id in the run's conf; the worker acts on the stored request alone and consumes
it. A hand-written conf names no stored request, and a replayed id finds none.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import TYPE_CHECKING, Any

from airflow_batchtasks.storage.paths import archive_root

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

#: Folder of pending requests under the archive root; no task folder starts with ``~`` (see ``archive_segment``).
FOLDER = "~resend-requests"
SUFFIX = ".request.json"  # not a file record's suffix: the archive index never reads these


def _path(request_id: str) -> ObjectStoragePath:
    if not re.fullmatch(r"[0-9a-f]{32}", request_id):
        raise ValueError(f"`{request_id}` is not a resend request id")
    return archive_root() / FOLDER / f"{request_id}{SUFFIX}"


def store(request: dict[str, Any]) -> str:
    """Keep ``request`` for one resend run; returns the id to pass in the run's conf."""
    request_id = uuid.uuid4().hex
    path = _path(request_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(request))
    return request_id


def take(request_id: str) -> dict[str, Any] | None:
    """The stored request, removed so that it is acted on once; None if there is none (forged or replayed)."""
    try:
        path = _path(request_id)
        request = json.loads(path.read_text())
    except (ValueError, FileNotFoundError, OSError):
        return None
    path.unlink()
    return request if isinstance(request, dict) else None
