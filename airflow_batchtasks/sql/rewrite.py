"""Statements removed from a query before it runs, because one ODBC statement cannot take them.

Queries written for SQL Server Management Studio or sqlcmd often start with ``USE sales;`` and
separate batches with ``GO``. ``GO`` is not SQL at all (a client-side batch separator) and ``USE``
switches the session's database, which an ODBC connection fixes in its DSN/connection instead;
both fail or mislead when sent as one statement. They are removed on whole lines only (anchored
at the start of a line), so text inside string literals or identifiers is never touched, and the
caller logs what was removed. Tables must then be fully qualified, or the database set on the
connection.
"""

from __future__ import annotations

import re

_NAME = r"(?:\[[^\]\n]+\]|\"[^\"\n]+\"|`[^`\n]+`|[\w$#@.]+)"
# `GO` alone on its line, optionally with a repeat count (sqlcmd's `GO 5`).
_GO = re.compile(r"^[ \t]*GO(?:[ \t]+\d+)?[ \t]*;?[ \t]*(?:\r?\n|\Z)", re.IGNORECASE | re.MULTILINE)
# `USE <db>` at the start of a line, up to its `;` or the end of the line (`USE x; SELECT ...` keeps the SELECT).
_USE = re.compile(rf"^[ \t]*USE[ \t]+{_NAME}[ \t]*(?:;[ \t]*|(?=\r?\n|\Z))", re.IGNORECASE | re.MULTILINE)


def strip_unsupported_statements(sql: str) -> tuple[str, list[str]]:
    """Return ``sql`` without ``USE <db>`` statements and ``GO`` separators, and the removed texts."""
    removed: list[str] = []

    def _drop(match: re.Match[str]) -> str:
        removed.append(match.group(0).strip())
        return ""

    text = _USE.sub(_drop, sql)
    text = _GO.sub(_drop, text)
    if not removed:
        return sql, []
    # a leading `USE x;` line leaves an empty line behind
    return text.lstrip("\r\n\t "), removed
