"""Pure logic of the file source: patterns, leftover temp names, transcoding, keep-or-reformat."""

from __future__ import annotations

import io

import pytest

from airflow_batchtasks.dag_factory.steps import file_output_format
from airflow_batchtasks.definitions.models import Task
from airflow_batchtasks.operators.destinations import is_leftover_part, temp_name
from airflow_batchtasks.operators.file_access import split_pattern
from airflow_batchtasks.operators.locations import describe
from airflow_batchtasks.operators.transcode import copy_counting_lines, reformat_delimited, reformat_text


def test_split_pattern_allows_wildcards_in_the_file_name_only() -> None:
    assert split_pattern("/out/sales_*.csv") == ("/out", "sales_*.csv")
    assert split_pattern("daily.sql") == (".", "daily.sql")
    with pytest.raises(ValueError, match="only allowed in the file name"):
        split_pattern("/out/*/sales.csv")
    with pytest.raises(ValueError, match="names a folder"):
        split_pattern("/out/")


def test_leftover_parts_are_only_this_names_temporaries() -> None:
    assert is_leftover_part(temp_name("a.csv"), "a.csv")
    assert not is_leftover_part(temp_name("a.csv"), "b.csv")
    assert not is_leftover_part(temp_name("xa.csv"), "a.csv")
    assert not is_leftover_part(".a.csv.notahexstring.part", "a.csv")
    assert not is_leftover_part("a.csv", "a.csv")


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


@pytest.mark.parametrize(
    ("output", "expected"),
    [(None, "keep"), ({"name": "x.csv"}, "keep"), ({"format": "pipe"}, "pipe"), ({"delimiter": ";"}, "csv"),
     ({"format": "keep", "delimiter": ";"}, "keep")],
)
def test_file_sources_keep_their_bytes_unless_a_format_is_asked(output: dict | None, expected: str) -> None:
    doc = {"kind": "task", "name": "t", "source": {"type": "file", "location": {"type": "local", "path": "/x/*.csv"}}}
    if output is not None:
        doc["output"] = output
    assert file_output_format(Task.model_validate(doc)) == expected


def test_location_descriptions_never_show_a_query_string() -> None:
    assert describe({"type": "url", "url": "https://h/q.sql?private_token=s3cret"}) == "url https://h/q.sql"
    assert describe({"type": "git", "conn_id": "gl", "path": "g/p/-/q.sql", "ref": "main"}) == "git gl:g/p/-/q.sql@main"
