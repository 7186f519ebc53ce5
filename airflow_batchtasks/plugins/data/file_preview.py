"""The first rows of a run's delivered files, read from the archived copy, bounded in rows and bytes.

The archive holds exactly what was delivered, so the preview is what the recipient got. At most
:data:`MAX_ROWS` lines and :data:`MAX_BYTES` bytes are read, whichever comes first: the work is the
same for a 1 KB file and a 100 GB one. Encrypted files (``output.gpg``: ``.gpg`` names) and zips are
never opened: an encrypted file's content is not for the API server to show, and a zip is binary; the
answer says why there is no preview instead. The same holds for any file that is not text.

Reading a run's files needs what downloading them needs (DAG-run read on the task's DAG): a preview
shows nothing the result-file download would not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_batchtasks.plugins.data import files, runs
from airflow_batchtasks.plugins.data.errors import NotFound
from airflow_batchtasks.plugins.data.models import FilePreview

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

MAX_ROWS = 50
MAX_BYTES = 64 * 1024
#: Files of one run previewed at most (a run delivers one file, or a few).
MAX_FILES = 5
ENCRYPTED = (".gpg", ".pgp", ".asc")
ARCHIVES = (".zip", ".gz", ".bz2", ".xz", ".7z")


def no_preview_reason(name: str, head: bytes = b"") -> str | None:
    """Why file ``name`` (starting with ``head``) gets no preview; None when it is text to show."""
    lower = name.lower()
    if lower.endswith(ENCRYPTED):
        return "encrypted (output.gpg): its content is shown only to whoever holds the key"
    if lower.endswith(ARCHIVES) or head.startswith(b"PK\x03\x04"):
        return "a zip or compressed archive: download it to see its files"
    if b"\x00" in head:
        return "not a text file"
    return None


def first_lines(head: bytes, more: bool, max_rows: int = MAX_ROWS) -> tuple[list[str], bool]:
    """The first ``max_rows`` lines of ``head`` (``more``: the file goes on past it), and whether any were left out.

    A line cut by the byte limit is dropped unless it is the only one (then it is shown cut).
    """
    text = head.decode("utf-8", errors="replace")
    lines = text.splitlines()
    partial = more and not text.endswith(("\n", "\r"))
    if partial and len(lines) > 1:
        lines.pop()
    truncated = more or len(lines) > max_rows
    return lines[:max_rows], truncated


def preview_file(info: Any, path: Any, max_rows: int = MAX_ROWS, max_bytes: int = MAX_BYTES) -> FilePreview:
    """The preview of one archived file (``info`` a FileInfo, ``path`` where it lies)."""
    shown = FilePreview(file_id=info.id, name=info.name, size=info.size)
    reason = no_preview_reason(info.name)
    if reason:
        shown.reason = reason
        return shown
    with path.open("rb") as fh:
        head = fh.read(max_bytes + 1)
    more = len(head) > max_bytes
    head = head[:max_bytes]
    reason = no_preview_reason(info.name, head[:4096])
    if reason:
        shown.reason = reason
        return shown
    shown.lines, shown.truncated = first_lines(head, more, max_rows)
    return shown


def run_previews(session: Session, task: str, run_id: str) -> list[FilePreview]:
    """Previews of the files run ``run_id`` of ``task`` delivered (first :data:`MAX_FILES`)."""
    runs.task_dag(session, task)
    runs.get_run_row(session, task, run_id)
    files.sync(session, task)
    found = files.files_of_runs(session, task, [run_id]).get(run_id, [])[:MAX_FILES]
    out = []
    for f in found:
        try:
            info, path = files.get_file(session, task, f.id)
        except NotFound as exc:  # removed by the archive's retention: say so in place of the rows
            out.append(FilePreview(file_id=f.id, name=f.name, size=f.size, reason=str(exc)))
            continue
        out.append(preview_file(info, path))
    return out
