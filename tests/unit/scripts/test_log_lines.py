"""A child's output as task-log lines: split across chunks, redacted, cut."""

from __future__ import annotations

from airflow_batchtasks.scripts.log_lines import LineLogger, LineSplitter, Redactor


def test_line_splitter_rebuilds_lines_across_chunks() -> None:
    splitter = LineSplitter()
    got = list(splitter.feed(b"first ha")) + list(splitter.feed(b"lf\r\nsecond\n\nthi")) + list(splitter.flush())

    assert got == ["first half", "second", "", "thi"]


def test_line_splitter_keeps_multibyte_characters_split_between_chunks() -> None:
    data = "café\n".encode()
    splitter = LineSplitter()

    assert list(splitter.feed(data[:4])) + list(splitter.feed(data[4:])) == ["café"]


def test_redactor_hides_longest_secret_first_and_ignores_tiny_values() -> None:
    redact = Redactor(["abc123", "abc123-full-uri", "x"])

    assert redact("uri=abc123-full-uri pw=abc123 x") == "uri=*** pw=*** x"


def test_line_logger_redacts_cuts_long_lines_and_remembers_the_last_line() -> None:
    shown: list[str] = []
    lines = LineLogger(shown.append, Redactor(["s3cret"]), keep=2)
    lines.feed(b"one s3cret\n" + b"y" * 10_050 + b"\n['/w/a.csv']\n  \n")
    lines.close()

    assert shown[0] == "one ***"
    assert shown[1].endswith("... [50 more characters]")
    assert lines.last_non_empty == "['/w/a.csv']"
    assert list(lines.tail) == ["['/w/a.csv']", "  "]
