"""``arrow_csv`` writes the bytes ``csv.writer`` writes for the same values, in every dialect.

Pure logic: Arrow batches built in memory next to the Python rows pyodbc would return for
them, formatted both ways. The database round trip is covered by the integration tests.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import subprocess
import sys
from typing import Any

import pyarrow as pa
import pytest

from airflow_batchtasks.formats.arrow_csv import ArrowCsvWriter, UnsupportedColumn, csv_rules, plan_column
from airflow_batchtasks.formats.dialects import writer_options
from airflow_batchtasks.sql.odbc_arrow import FastPathUnavailable, text_parameters

TEXTS = [
    "plain", "a,b", 'q"uote', "multi\nline", "cr\rhere", "", None, "pipe|x", "tab\tx", "semi;x",
    "back\\slash", "tilde~x", " lead", "é€😀", '"', ",", "\r\n", "\\.",
]  # fmt: skip
N = len(TEXTS)
COLUMNS: dict[str, tuple[pa.DataType, list[Any]]] = {
    "t": (pa.string(), TEXTS),
    "i": (pa.int64(), [i * 37 - 100 if i % 4 else None for i in range(N)]),
    "b": (pa.bool_(), [None if i % 5 == 0 else bool(i % 2) for i in range(N)]),
    "f": (pa.float64(), [None if i % 6 == 0 else v for i, v in zip(range(N), itertools.cycle(
        [1.5, 0.1, 1e16, 2.0, -3.25e-7, 123456789.123, float("nan"), float("-inf")]))]),
    "d": (pa.date32(), [None if i % 7 == 0 else dt.date(1 + i * 500, 1 + i % 12, 1 + i) for i in range(N)]),
    "ts": (pa.timestamp("us"), [None if i % 3 == 0 else dt.datetime(2024, 2, 29, 23, 59, i, 0 if i % 2 else 120000)
                                for i in range(N)]),
    "ms": (pa.timestamp("ms"), [dt.datetime(2024, 1, 1, 0, 0, 0, 1000 * i) for i in range(N)]),
    "tm": (pa.time64("us"), [None if i % 3 == 1 else dt.time(1, 2, 3, 0 if i % 2 else 5) for i in range(N)]),
}  # fmt: skip
DIALECTS = [
    {"format": fmt, "quoting": quoting, "line_terminator": lt, "line_suffix": suffix}
    for fmt in ("csv", "tsv", "pipe")
    for quoting in ("minimal", "all", "nonnumeric", "none")
    for lt, suffix in (("\n", ""), ("\r\n", ""), ("\n", "~"))
]


def _batch(names: list[str]) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays(
        [pa.array(COLUMNS[n][1], COLUMNS[n][0]) for n in names], schema=pa.schema([(n, COLUMNS[n][0]) for n in names])
    )


def _expected(names: list[str], options: dict[str, Any]) -> bytes:
    out = io.StringIO()
    rows = list(zip(*(COLUMNS[n][1] for n in names), strict=True))
    try:
        csv.writer(out, **options).writerows(rows)
    except csv.Error as exc:
        return f"error: {exc}".encode()
    return out.getvalue().encode()


def _formatted(names: list[str], options: dict[str, Any]) -> bytes:
    batch = _batch(names)
    writer = ArrowCsvWriter([plan_column(f) for f in batch.schema], options)
    out = io.BytesIO()
    try:
        writer.write(batch, out)
    except csv.Error as exc:
        return f"error: {exc}".encode()
    return out.getvalue()


@pytest.mark.parametrize("output", DIALECTS, ids=lambda o: "-".join(repr(v) for v in o.values()))
@pytest.mark.parametrize("names", [list(COLUMNS), ["t"], ["i"], ["t", "i"]], ids=lambda n: "+".join(n))
def test_same_bytes_as_csv_writer(output: dict[str, Any], names: list[str]) -> None:
    options = writer_options(output)
    assert _formatted(names, options) == _expected(names, options)


def test_header_is_written_by_csv_writer() -> None:
    options = writer_options({"quoting": "all", "line_suffix": "~"})
    writer = ArrowCsvWriter([plan_column(pa.field(n, pa.string())) for n in ("a,b", "c")], options)
    assert writer.header() == '"a,b","c"~\n'


def test_sliced_batches_write_only_their_rows() -> None:
    batch = _batch(["t", "i"]).slice(3, 4)
    writer = ArrowCsvWriter([plan_column(f) for f in batch.schema], writer_options({}))
    out = io.BytesIO()
    writer.write(batch, out)
    rows = list(zip(TEXTS[3:7], COLUMNS["i"][1][3:7], strict=True))
    expected = io.StringIO()
    csv.writer(expected, **writer_options({})).writerows(rows)
    assert out.getvalue() == expected.getvalue().encode()


@pytest.mark.parametrize("output", DIALECTS, ids=lambda o: "-".join(repr(v) for v in o.values()))
def test_text_needing_no_quotes_in_this_slice(output: dict[str, Any]) -> None:
    """Specials outside a batch's rows (sliced away) must not quote or escape the rows it has."""
    texts = ['a,"b"\n', "plain", "x y", None, "", "é€😀", 'c|\t"d"\r\n']
    batch = pa.RecordBatch.from_arrays([pa.array(texts), pa.array(range(len(texts)))], ["t", "n"]).slice(1, 5)
    options = writer_options(output)
    writer = ArrowCsvWriter([plan_column(f) for f in batch.schema], options)
    out = io.BytesIO()
    writer.write(batch, out)
    expected = io.StringIO()
    csv.writer(expected, **options).writerows(zip(texts[1:6], range(1, 6), strict=True))
    assert out.getvalue() == expected.getvalue().encode()


def test_decimal_text_is_a_number_for_nonnumeric_quoting() -> None:
    numbers, texts = pa.array(["1.5000", None, "0.00000015"]), pa.array(["x", "y", None])
    batch = pa.RecordBatch.from_arrays([numbers, texts], ["n", "s"])
    plans = [plan_column(batch.schema.field(0), numeric_text=True), plan_column(batch.schema.field(1))]
    out = io.BytesIO()
    ArrowCsvWriter(plans, writer_options({"quoting": "nonnumeric"})).write(batch, out)
    assert out.getvalue() == b'1.5000,"x"\n"","y"\n0.00000015,""\n'


@pytest.mark.parametrize(
    "kind", [pa.binary(), pa.decimal128(10, 2), pa.timestamp("us", tz="UTC"), pa.duration("s"), pa.float32()]
)
def test_types_without_an_exact_rendering_are_refused(kind: pa.DataType) -> None:
    with pytest.raises(UnsupportedColumn):
        plan_column(pa.field("x", kind))


def test_probed_rules_follow_this_python() -> None:
    rules = csv_rules(writer_options({"line_suffix": "~"}))
    assert set(rules.special) >= {",", '"', "\n", "~"}
    assert ("\r" in rules.special) == (csv_quotes_lone_cr())
    assert csv_rules(writer_options({"quoting": "all"})).null_field == '""'
    assert csv_rules(writer_options({"quoting": "none"})).lone_empty_row is None


def csv_quotes_lone_cr() -> bool:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(["a\rb"])
    return out.getvalue().startswith('"')


def test_run_arguments_bind_as_text_only() -> None:
    assert text_parameters([]) is None
    assert text_parameters(["a", None]) == ["a", None]
    with pytest.raises(FastPathUnavailable, match="int"):
        text_parameters(["a", 3])


NO_PANDAS = """
import io, sys
from array import array
import pyarrow as pa
from airflow_batchtasks.formats.arrow_csv import ArrowCsvWriter, plan_column
from airflow_batchtasks.formats.dialects import writer_options
ints = pa.Array.from_buffers(pa.int64(), 3, [None, pa.py_buffer(array("q", [1, 2, 3]))])
texts = pa.StringArray.from_buffers(3, pa.py_buffer(array("i", [0, 1, 4, 6])), pa.py_buffer(b'a,"bcd'))
floats = pa.Array.from_buffers(pa.float64(), 3, [None, pa.py_buffer(array("d", [0.1, 1e16, 2.0]))])
stamps = pa.Array.from_buffers(pa.timestamp("us"), 3, [None, pa.py_buffer(array("q", [0, 1500000, 3000000]))])
batch = pa.RecordBatch.from_arrays([ints, texts, floats, stamps], names=["i", "t", "f", "ts"])
for quoting in ("minimal", "all", "nonnumeric", "none"):
    writer = ArrowCsvWriter([plan_column(f) for f in batch.schema], writer_options({"quoting": quoting}))
    writer.write(batch, io.BytesIO())
print("pandas" in sys.modules)
"""


def test_formatting_never_imports_pandas() -> None:
    """pyarrow imports pandas (seconds, tens of MB) on the first Python value it converts: none is converted."""
    result = subprocess.run([sys.executable, "-c", NO_PANDAS], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False", result.stderr
