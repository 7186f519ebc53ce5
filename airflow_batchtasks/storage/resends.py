"""Resend requests: what an authorized API call asked a resend run to do, kept where users cannot write.

A resend DAG's run conf can be written by anyone Airflow lets trigger that DAG,
who need not hold any right on the task whose file would be resent. So the API,
after checking the caller's right on the task, stores the request (task, file,
archived path, rendering context, who asked) in the archive and puts only its
id in the run's conf; the worker acts on the stored request alone and consumes
it. A hand-written conf names no stored request, and a replayed id finds none.

Also here: the checks both sides make before a file is sent again (the API
before queueing, the worker before sending), on the archive's side: the
archived copy belongs to the task and matches its record, and the task still
has destinations. The destinations' own checks are in
:mod:`airflow_batchtasks.transports.destinations`.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import TYPE_CHECKING, Any

from airflow_batchtasks.storage.paths import archive_root, archive_segment, check_within, legacy_segments
from airflow_batchtasks.storage.records import FileRecord, md5_of

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

#: Folder of pending requests under the archive root; no task folder starts with ``~`` (see ``archive_segment``).
FOLDER = "~resend-requests"
SUFFIX = ".request.json"  # not a file record's suffix: the archive index never reads these
#: Keys of a stored resend request (written by the API, read by the resend step; the run's conf holds only its id).
CONF_KEYS = ("task", "file_id", "archive_path", "requested_by", "context")


class ResendRefused(Exception):
    """The resend cannot be done as asked: the reason is shown to the user and recorded."""


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


def archived_path(task: str, rel: str) -> Any:
    """The archived file ``rel`` (relative to the archive root), refused unless it is under ``task``'s folder."""
    root = archive_root()
    folders = [archive_segment(task), *legacy_segments(task)]
    if ".." in rel.split("/") or not any(rel.startswith(f"{folder}/") for folder in folders):
        raise ResendRefused(f"`{rel}` is not a file of task `{task}` in the archive")
    path = root / rel
    check_within(root.path, path.path, "archive")
    return path


def destinations_of(task: str, entry: Any) -> list[dict[str, Any]]:
    """The destinations of ``task``'s catalog ``entry``; refused when it has none or no valid definition
    (asked by the API before queueing and by the run itself, the definition may change in between)."""
    if entry is None:
        raise ResendRefused(f"task `{task}` has no valid definition: its current destinations are unknown")
    if not entry.model.destinations:
        raise ResendRefused(f"task `{task}` has no destinations to resend to")
    return [d.model_dump() for d in entry.model.destinations]


def check_copy(archived: Any, record: FileRecord) -> None:
    size, md5 = md5_of(archived)
    if md5 != record.md5 or size != record.size:
        raise ResendRefused(
            f"archived `{record.name}` is damaged: md5 {md5} ({size} bytes) does not match the recorded "
            f"{record.md5} ({record.size} bytes); nothing was sent"
        )
