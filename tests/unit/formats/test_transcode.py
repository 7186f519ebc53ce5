"""Transcoding a fetched file: line counts, dialect changes, line endings."""

from __future__ import annotations

import io

import pytest

from airflow_batchtasks.formats.transcode import copy_counting_lines, reformat_delimited, reformat_text


@pytest.mark.parametrize(
    ("data", "header", "rows"),
    [(b"", True, 0), (b"h\n", True, 0), (b"h\n1\n2", True, 2), (b"1\r\n2\r\n", False, 2), (b"h", True, 0)],
)
def test_kept_text_counts_lines_less_the_header(data: bytes, header: bool, rows: int) -> None:
    out = io.BytesIO()
    assert copy_counting_lines(io.BytesIO(data), out, header) == rows
    assert out.getvalue() == data


def test_reformat_changes_the_dialect_and_keeps_quoted_fields() -> None:
    src = io.BytesIO('\ufeffa;b\n"x;y";"multi\nline"\n'.encode())
    out = io.StringIO()
    rows = reformat_delimited(src, out, {"delimiter": ";"}, {"format": "csv", "quoting": "all", "line_suffix": "~"})
    assert out.getvalue() == '"a","b"~\n"x;y","multi\nline"~\n'
    assert rows == 1


def test_text_reformat_rewrites_line_endings() -> None:
    out = io.StringIO()
    output = {"line_terminator": "\n", "line_suffix": "|"}
    rows = reformat_text(io.BytesIO(b"h\r\n1\r\n2"), out, {"header": True}, output)
    assert out.getvalue() == "h|\n1|\n2|\n" and rows == 2
