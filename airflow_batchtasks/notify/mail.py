"""Compose notification messages: an email (text + HTML, attachments) and SMS-gateway short messages.

Pure logic on already gathered facts (:class:`Report`), so the layout and the
SMS rules are unit-tested without a server. Sending is ``notify.py``'s job.

SMS rule: an address whose local part is only digits (an optional leading
``+``), such as ``5551234567@sms.example.net``, is a phone number behind an
email-to-SMS gateway. It gets its own plain-text message: the notification's
message only (no subject, no HTML, no attachment, no log excerpt), on one line,
cut to :data:`SMS_LIMIT` characters.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

SMS_LIMIT = 160
_SMS_LOCAL_PART = re.compile(r"\+?[0-9]+")

DEFAULT_SUBJECT = "[batchtasks] {{ task }} {{ status_text }} ({{ ds }})"
DEFAULT_MESSAGE = (
    "{% if status == 'success' %}Batch task {{ task }} succeeded: {{ files | length }} file(s), run {{ run_id }}."
    "{% else %}Batch task {{ task }} FAILED at step {{ failed_step }}: {{ error_line }}{% endif %}"
)


def is_sms_address(address: str) -> bool:
    local, at, domain = address.strip().rpartition("@")
    return bool(at and domain and _SMS_LOCAL_PART.fullmatch(local))


def split_recipients(addresses: list[str]) -> tuple[list[str], list[str]]:
    """(email addresses, SMS-gateway addresses), each in the given order, blanks dropped."""
    cleaned = [a.strip() for a in addresses if a and a.strip()]
    return [a for a in cleaned if not is_sms_address(a)], [a for a in cleaned if is_sms_address(a)]


def sms_text(message: str, limit: int = SMS_LIMIT) -> str:
    """One line of at most ``limit`` characters (whitespace collapsed; ``...`` marks a cut: plain ASCII,
    which every gateway passes through)."""
    text = " ".join(message.split())
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


@dataclass
class Attachment:
    name: str
    content: bytes


@dataclass
class Report:
    """Everything a notification says, already rendered."""

    task: str
    run_id: str
    status_text: str
    message: str
    files: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)  # failure records + ``log_url``
    embedded: list[tuple[str, str]] = field(default_factory=list)  # (file name, text)
    notes: list[str] = field(default_factory=list)  # why something was not attached/embedded


def _size(n: Any) -> str:
    if not isinstance(n, int):
        return "?"
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def _file_line(f: dict[str, Any]) -> str:
    rows = f" {f['rows']} rows" if f.get("rows") is not None else ""
    return f"{f['name']}  {_size(f.get('size'))}  md5 {f.get('md5', '?')}{rows}"


def _try_text(record: dict[str, Any]) -> str:
    tries, last = record.get("try_number"), record.get("max_tries")
    if tries and last is not None:
        return f" (try {tries} of {last + 1})"
    return ""


def body_text(report: Report) -> str:
    out = [report.message, "", f"Task: {report.task}", f"Run: {report.run_id}", f"Status: {report.status_text}"]
    if report.files:
        out += ["", "Files:"] + [f"  {_file_line(f)}" for f in report.files]
    for record in report.failures:
        out += ["", f"Failed step: {record['task_id']}{_try_text(record)}", f"Error: {record.get('error', '')}"]
        if record.get("log_tail"):
            out += [f"Last log lines of {record['task_id']}:"] + [f"  {line}" for line in record["log_tail"]]
        if record.get("log_url"):
            out.append(f"Log: {record['log_url']}")
    for name, text in report.embedded:
        out += ["", f"--- {name} ---", text.rstrip("\n"), f"--- end of {name} ---"]
    if report.notes:
        out += [""] + [f"Note: {n}" for n in report.notes]
    return "\n".join(out) + "\n"


def body_html(report: Report) -> str:
    e = html.escape
    parts = [f"<p>{e(report.message)}</p>",
             "<table>",
             f"<tr><th align='left'>Task</th><td>{e(report.task)}</td></tr>",
             f"<tr><th align='left'>Run</th><td>{e(report.run_id)}</td></tr>",
             f"<tr><th align='left'>Status</th><td>{e(report.status_text)}</td></tr>",
             "</table>"]
    if report.files:
        rows = "".join(
            f"<tr><td>{e(f['name'])}</td><td>{e(_size(f.get('size')))}</td><td><code>{e(str(f.get('md5', '?')))}"
            f"</code></td><td>{e(str(f.get('rows', '')) if f.get('rows') is not None else '')}</td></tr>"
            for f in report.files
        )
        parts.append(f"<h3>Files</h3><table><tr><th>name</th><th>size</th><th>md5</th><th>rows</th></tr>{rows}</table>")
    for record in report.failures:
        parts.append(f"<h3>Failed step: {e(record['task_id'])}{e(_try_text(record))}</h3>")
        parts.append(f"<pre>{e(record.get('error', ''))}</pre>")
        if record.get("log_tail"):
            parts.append(f"<p>Last log lines:</p><pre>{e(chr(10).join(record['log_tail']))}</pre>")
        if record.get("log_url"):
            parts.append(f"<p><a href=\"{e(record['log_url'], quote=True)}\">Log of {e(record['task_id'])}</a></p>")
    for name, text in report.embedded:
        parts.append(f"<h3>{e(name)}</h3><pre>{e(text)}</pre>")
    parts += [f"<p><i>Note: {e(n)}</i></p>" for n in report.notes]
    return "<html><body>" + "\n".join(parts) + "</body></html>"


def _headers(msg: EmailMessage, sender: str, to: list[str], subject: str | None) -> None:
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    if subject is not None:
        msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)


def build_email(sender: str, to: list[str], cc: list[str], subject: str, report: Report,
                attachments: list[Attachment]) -> EmailMessage:
    msg = EmailMessage()
    _headers(msg, sender, to, subject)
    if cc:
        msg["Cc"] = ", ".join(cc)
    msg.set_content(body_text(report))
    msg.add_alternative(body_html(report), subtype="html")
    for item in attachments:
        msg.add_attachment(item.content, maintype="application", subtype="octet-stream", filename=item.name)
    return msg


def build_sms(sender: str, to: str, message: str) -> EmailMessage:
    msg = EmailMessage()
    _headers(msg, sender, [to], None)
    msg.set_content(sms_text(message))
    return msg
