"""Transcoding a fetched file: line counts, dialect changes, line endings."""

from __future__ import annotations

import io

import pytest

from airflow_batchtasks.formats.transcode import copy_bytes, copy_counting_lines, reformat_delimited, reformat_text
from airflow_batchtasks.storage.records import WRITE_BLOCK


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


class _RecordingFile(io.BytesIO):
    """A file that remembers the size of every write it gets."""

    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[int] = []

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.sizes.append(len(data))
        return super().write(data)


@pytest.mark.parametrize("copy", ["bytes", "lines"])
def test_kept_bytes_are_written_in_blocks_of_at_most_64_kib(copy: str) -> None:
    # 1 MiB reads, 64 KiB writes: a large write costs the kernel a large page-cache folio (storage.records)
    data = bytes(range(256)) * (10 * 1024 + 3) + b"\n"
    out = _RecordingFile()
    if copy == "bytes":
        assert copy_bytes(io.BytesIO(data), out) == len(data)
    else:
        assert copy_counting_lines(io.BytesIO(data), out, header=False) == data.count(b"\n")
    assert out.getvalue() == data
    assert max(out.sizes) == WRITE_BLOCK
    assert len(out.sizes) == -(-len(data) // WRITE_BLOCK)
