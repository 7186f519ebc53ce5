"""Helpers shared by the route modules: file responses and query-date parsing."""

from __future__ import annotations

import mimetypes
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import quote

from fastapi.responses import StreamingResponse

from airflow_batchtasks.plugins.data.runs import parse_when
from airflow_batchtasks.storage.records import CHUNK

if TYPE_CHECKING:
    from datetime import datetime

    from airflow.sdk import ObjectStoragePath


def content_disposition(name: str) -> str:
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


def _chunks(path: ObjectStoragePath) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            yield chunk


def file_response(path: ObjectStoragePath, name: str, size: int | None = None) -> StreamingResponse:
    """Stream an archived file (flat memory whatever its size) as an attachment."""
    headers = {"Content-Disposition": content_disposition(name)}
    if size is not None:
        headers["Content-Length"] = str(size)
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return StreamingResponse(_chunks(path), media_type=media_type, headers=headers)


def when(value: str | None, field: str, end: bool = False) -> datetime | None:
    return parse_when(value, end=end, field=field) if value else None
