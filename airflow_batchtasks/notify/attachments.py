"""The output files a notification attaches or embeds, within one size budget.

Mail servers refuse large messages (often around 10-25 MB after base64's
third more), and a refused notification is worse than one without the file,
so attachments and embedded text together stay under
``[batchtasks] notify_max_attachment_mb`` (default 10). A file that does not
fit is left out and the mail says why, as does the log. Only text is embedded:
an encrypted or zipped file is attached or left out, never decoded into the
body (embedding the plain text of an encrypted output would defeat the
encryption).
"""

from __future__ import annotations

from typing import Any

from airflow_batchtasks import config
from airflow_batchtasks.notify.mail import Attachment
from airflow_batchtasks.storage.paths import storage_path

BINARY_SUFFIXES = (".gpg", ".zip", ".pgp", ".gz")


def _budget() -> int:
    return int(config.notify_max_attachment_mb() * 1024 * 1024)


def _source(item: dict[str, Any]) -> Any:
    """The archived copy when there is one (it outlives staging), else the staged file."""
    return storage_path(item.get("archive") or item["url"])


def _size_of(item: dict[str, Any]) -> int:
    size = item.get("size")
    return size if isinstance(size, int) else _source(item).stat().st_size


def _limit_note(name: str, size: int, what: str) -> str:
    return (f"{name} ({size / 1048576:.1f} MB) was not {what}: the notification is limited to "
            f"{config.notify_max_attachment_mb():g} MB ([batchtasks] notify_max_attachment_mb)")


def gather_attachments(files: list[dict[str, Any]], notes: list[str]) -> list[Attachment]:
    """Read the files to attach, in order, while they fit the budget; add a note for each left out."""
    if not files:
        notes.append("there is no output file to attach")
        return []
    budget, attached = _budget(), []
    for item in files:
        size = _size_of(item)
        if size > budget:
            notes.append(_limit_note(item["name"], size, "attached"))
            continue
        with _source(item).open("rb") as fh:
            attached.append(Attachment(item["name"], fh.read()))
        budget -= size
    return attached


def gather_embedded(files: list[dict[str, Any]], encoding: str, notes: list[str],
                    attached: list[Attachment]) -> list[tuple[str, str]]:
    """(name, text) of each text file that fits what the attachments left of the budget."""
    if not files:
        notes.append("there is no output file to embed")
        return []
    budget, embedded = _budget() - sum(len(a.content) for a in attached), []
    for item in files:
        name = item["name"]
        if item.get("encrypted") or name.lower().endswith(BINARY_SUFFIXES):
            notes.append(f"{name} was not embedded: it is not a text file (encrypted or compressed)")
            continue
        size = _size_of(item)
        if size > budget:
            notes.append(_limit_note(name, size, "embedded"))
            continue
        with _source(item).open("rb") as fh:
            data = fh.read()
        try:
            if b"\x00" in data:
                raise UnicodeDecodeError(encoding, data, 0, 1, "NUL byte")
            embedded.append((name, data.decode(encoding)))
            budget -= size
        except (UnicodeDecodeError, LookupError):
            notes.append(f"{name} was not embedded: it is not {encoding} text")
    return embedded
