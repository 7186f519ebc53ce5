"""Stream a fetched file into its output format, counting data rows on the way.

Three ways, chosen by ``output.format`` for a file source:

- ``keep``: the bytes as they are; rows are counted as lines (only when the definition says the
  file is delimited text with ``source.input``; a binary file has no rows to count);
- ``csv``/``tsv``/``pipe``: parsed with ``csv.reader`` in the input dialect and written with
  ``csv.writer`` in the output dialect (quoting, delimiter, terminator, suffix, encoding), so
  quoted delimiters and embedded newlines survive the change;
- ``text``: line by line, re-encoded, with the output's terminator and suffix.

Everything streams in chunks through any object with ``read(n)`` (paramiko, ftplib and smbclient
streams alike), so memory stays flat whatever the file size.
"""

from __future__ import annotations

import csv
import io
import itertools
from typing import IO, Any

from airflow_batchtasks.formats.dialects import writer_options
from airflow_batchtasks.storage.records import CHUNK, write_blocks

BATCH_ROWS = 10_000


class _RawReader(io.RawIOBase):
    """Adapts any ``read(n)`` stream to ``io.RawIOBase`` so ``TextIOWrapper`` can decode it."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def text_stream(src: IO[bytes], encoding: str) -> io.TextIOWrapper:
    """Decoded text of ``src`` with newlines untouched (``newline=""``, what ``csv.reader`` needs)."""
    # utf-8-sig: a byte-order mark (common in files from Windows tools) is not part of the header.
    encoding = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    return io.TextIOWrapper(io.BufferedReader(_RawReader(src), CHUNK), encoding=encoding, newline="")


def _data_rows(records: int, header: bool) -> int:
    return max(records - 1, 0) if header else records


def copy_counting_lines(src: IO[bytes], dst: IO[bytes], header: bool) -> int:
    """Copy bytes unchanged (written in :func:`write_blocks` pieces); return the data rows (lines, less the header)."""
    lines = 0
    last = b"\n"
    while chunk := src.read(CHUNK):
        write_blocks(dst, chunk)
        lines += chunk.count(b"\n")
        last = chunk[-1:]
    if last != b"\n":
        lines += 1  # a last line without a terminator
    return _data_rows(lines, header)


def copy_bytes(src: IO[bytes], dst: IO[bytes]) -> int:
    """Copy bytes unchanged, written in :func:`write_blocks` pieces; return the size."""
    size = 0
    while chunk := src.read(CHUNK):
        write_blocks(dst, chunk)
        size += len(chunk)
    return size


def reformat_delimited(src: IO[bytes], dst: IO[str], input_format: dict[str, Any], output: dict[str, Any]) -> int:
    """csv -> csv in another dialect; returns the data rows (records, less the header when there is one)."""
    reader = csv.reader(
        text_stream(src, input_format.get("encoding") or "utf-8"),
        delimiter=input_format.get("delimiter") or ",",
        quotechar=input_format.get("quotechar") or '"',
    )
    writer = csv.writer(dst, **writer_options(output))
    records = 0
    while batch := list(itertools.islice(reader, BATCH_ROWS)):
        writer.writerows(batch)
        records += len(batch)
    return _data_rows(records, bool(input_format.get("header", True)))


def reformat_text(src: IO[bytes], dst: IO[str], input_format: dict[str, Any], output: dict[str, Any]) -> int:
    """Line by line: decode, drop the line's own terminator, write it with the output's suffix and terminator."""
    ending = (output.get("line_suffix") or "") + output.get("line_terminator", "\n")
    lines = 0
    for line in text_stream(src, input_format.get("encoding") or "utf-8"):
        dst.write(line.rstrip("\r\n") + ending)
        lines += 1
    return _data_rows(lines, bool(input_format.get("header", True)))
