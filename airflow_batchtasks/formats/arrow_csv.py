"""Arrow record batches to CSV bytes, identical to what ``csv.writer`` writes for the same rows.

The portable extract path hands DB-API rows to ``csv.writer``; that output *is*
the format (quoting, escaping, NULLs, the text of dates and numbers). The fast
ODBC path reads Arrow batches instead, so this module reproduces the same bytes
with vectorised ``pyarrow.compute`` kernels and no Python code per value:

* every column becomes a string array of finished fields (value text as
  ``str()`` of the Python value pyodbc would have returned, then quoted or
  escaped as the dialect says, NULL as the dialect renders ``None``);
* the fields of a row are joined with the delimiter and the line terminator
  appended, so the joined array's data buffer is the CSV chunk itself and is
  written to the file without a copy.

``pyarrow.csv.write_csv`` cannot do this: its "needed" quoting quotes every
string, it cannot escape (``QUOTE_NONE``) and it quotes on ``\\r``/``\\n``
where ``csv.writer`` quotes on the characters of the line terminator.

Which characters make ``csv.writer`` quote, how it renders ``None`` and what a
row of one empty field becomes differ between Python versions and quoting
modes, so they are probed from ``csv.writer`` itself (:func:`csv_rules`)
rather than written down here. Floats are the one exception to "no Python per
value": ``repr(float)`` has no vectorised twin, so float columns are formatted
in Python (still correct, only slower).
"""

from __future__ import annotations

import csv
import functools
import io
from array import array as std_array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc


class UnsupportedColumn(Exception):
    """A column whose type this formatter cannot render exactly like the portable path."""


@dataclass(frozen=True)
class CsvRules:
    """How ``csv.writer`` writes fields for one set of dialect options (probed, see :func:`csv_rules`)."""

    delimiter: str
    quotechar: str
    quoting: int
    lineterminator: str
    escapechar: str | None
    special: str  # characters that make a field quoted (escaped under QUOTE_NONE)
    null_field: str  # how None is written
    lone_empty_row: str | None  # a row of one empty field; None when csv.writer refuses it

    @property
    def special_regex(self) -> str:
        return "[" + "".join(_re2_class_char(c) for c in sorted(self.special)) + "]"


def _re2_class_char(char: str) -> str:
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char, "\\" + char if not char.isalnum() else char)


def _written(options: dict[str, Any], row: Sequence[Any]) -> str:
    out = io.StringIO()
    csv.writer(out, **options).writerow(row)
    return out.getvalue()


@functools.lru_cache(maxsize=64)
def _probe(options_items: tuple[tuple[str, Any], ...]) -> CsvRules:
    options = dict(options_items)
    probe = csv.writer(io.StringIO(), **options).dialect
    delimiter, quotechar, lt = probe.delimiter, probe.quotechar or '"', probe.lineterminator
    candidates = set(delimiter + quotechar + (probe.escapechar or "") + lt + "\r\n")
    plain_options = {**options, "quoting": csv.QUOTE_NONE if probe.quoting == csv.QUOTE_NONE else csv.QUOTE_MINIMAL}
    special = "".join(c for c in sorted(candidates) if _written(plain_options, [f"a{c}b"]) != f"a{c}b{lt}")
    pair = _written(options, [None, None])
    null_field = pair[: (len(pair) - len(lt) - len(delimiter)) // 2]
    try:
        lone = _written(options, [""])[: -len(lt) or None]
    except csv.Error:
        lone = None
    return CsvRules(delimiter, quotechar, probe.quoting, lt, probe.escapechar, special, null_field, lone)


def csv_rules(writer_kwargs: dict[str, Any]) -> CsvRules:
    """The rules ``csv.writer(**writer_kwargs)`` follows, probed once per set of options."""
    return _probe(tuple(sorted(writer_kwargs.items())))


@functools.lru_cache(maxsize=256)
def utf8(text: str) -> pa.Scalar:
    """A string scalar built from buffers.

    Every Python value pyarrow converts (``pa.scalar("x")``, or a ``str`` passed to a compute
    function) makes it import pandas when pandas is installed: seconds and tens of MB per process.
    """
    data = text.encode("utf-8")
    return pa.StringArray.from_buffers(1, pa.py_buffer(std_array("i", [0, len(data)])), pa.py_buffer(data))[0]


# -- value text: what str() gives for the Python value pyodbc / psycopg would return ---------------

DIGITS = "0123456789"
# Characters the text of each kind of value can contain: a column whose characters cannot make
# csv.writer quote or escape (the usual case for numbers and dates) skips that work altogether.
INTEGER_CHARS = DIGITS + "-"
DECIMAL_CHARS = DIGITS + "-.NaInfity"  # PostgreSQL prints NaN and Infinity, never exponents
DATETIME_CHARS = DIGITS + "-: ."
BOOL_CHARS = "TrueFals"
FLOAT_CHARS = DIGITS + "-+.enaif"  # repr(): 1e+16, nan, inf


def _cast_text(array: pa.Array) -> pa.Array:
    return pc.cast(array, pa.string())


def _datetime_text(array: pa.Array) -> pa.Array:
    """``str(datetime)`` / ``str(time)``: microseconds, and no fraction at all when they are zero.

    The fraction is the only ``.`` in the text, so a literal replace finds it (7x faster than a regex).
    """
    unit_us = pa.timestamp("us") if pa.types.is_timestamp(array.type) else pa.time64("us")
    text = pc.cast(pc.cast(array, unit_us, safe=False), pa.string())
    return pc.replace_substring(text, ".000000", "", max_replacements=1)


def _bool_text(array: pa.Array) -> pa.Array:
    return pc.if_else(array, utf8("True"), utf8("False"))


def _float_text(array: pa.Array) -> pa.Array:
    """``repr()`` of each double (no vectorised twin), put into an Arrow array from buffers (see :func:`utf8`)."""
    offsets, texts, end = [0], [], 0
    for value in array.to_pylist():
        if value is not None:
            text = repr(value).encode()
            texts.append(text)
            end += len(text)
        offsets.append(end)
    validity = pc.is_valid(array).buffers()[1] if array.null_count else None
    data = pa.py_buffer(b"".join(texts))
    return pa.StringArray.from_buffers(len(array), pa.py_buffer(std_array("i", offsets)), data, validity)


@dataclass(frozen=True)
class ColumnPlan:
    """How one column's values become text, and how ``csv`` treats them.

    :param numeric: ``csv`` sees a number (unquoted under QUOTE_NONNUMERIC)
    :param chars: every character the text can contain; ``None`` for free text
    """

    name: str
    to_text: Callable[[pa.Array], pa.Array]
    numeric: bool
    chars: str | None = None


def plan_column(field: pa.Field, *, numeric_text: bool = False) -> ColumnPlan:
    """The plan for a column of an Arrow batch.

    :param numeric_text: the column is a DB number fetched as its text (decimals), written as is but
        unquoted under QUOTE_NONNUMERIC like the ``Decimal`` the portable path gets
    """
    kind, name = field.type, field.name
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return ColumnPlan(name, lambda a: a, numeric_text, DECIMAL_CHARS if numeric_text else None)
    if pa.types.is_integer(kind):
        return ColumnPlan(name, _cast_text, True, INTEGER_CHARS)
    if pa.types.is_boolean(kind):
        return ColumnPlan(name, _bool_text, True, BOOL_CHARS)
    if pa.types.is_float64(kind):
        return ColumnPlan(name, _float_text, True, FLOAT_CHARS)
    if pa.types.is_date32(kind):
        return ColumnPlan(name, _cast_text, False, INTEGER_CHARS)
    if (pa.types.is_timestamp(kind) and kind.tz is None) or pa.types.is_time64(kind):
        return ColumnPlan(name, _datetime_text, False, DATETIME_CHARS)
    raise UnsupportedColumn(f"column {name!r} of Arrow type {kind}")


# -- fields and rows --------------------------------------------------------------------------------


def _quoted(text: pa.Array, rules: CsvRules, doubled: bool = True) -> pa.Array:
    q = rules.quotechar
    inner = pc.replace_substring(text, q, q + q) if doubled else text
    return pc.binary_join_element_wise(utf8(q), inner, utf8(q), utf8(""))


def _field(text: pa.Array, rules: CsvRules, plan: ColumnPlan) -> pa.Array:
    """Finished CSV fields of one column: quoted or escaped as ``csv.writer`` would, NULLs rendered."""
    plain = plan.chars is not None and not set(plan.chars) & set(rules.special)
    if rules.quoting == csv.QUOTE_ALL or (rules.quoting == csv.QUOTE_NONNUMERIC and not plan.numeric):
        doubled = (plan.chars is None or rules.quotechar in plan.chars) and _contains_any(text, rules.quotechar)
        out = _quoted(text, rules, doubled=doubled)
    elif plain or not _contains_any(text, rules.special):
        out = text
    elif rules.quoting == csv.QUOTE_NONE:
        escape = "\\\\" if rules.escapechar == "\\" else rules.escapechar
        out = pc.replace_substring_regex(text, f"({rules.special_regex})", f"{escape}\\1")
    else:
        needs = pc.match_substring_regex(text, rules.special_regex)
        if pc.any(needs).as_py():
            # quote only the rows that need it, then put them back in place
            out = pc.replace_with_mask(text, needs, _quoted(pc.filter(text, needs), rules))
        else:
            out = text
    return pc.fill_null(out, utf8(rules.null_field)) if out.null_count else out


class ArrowCsvWriter:
    """Writes record batches of one result set as CSV bytes (UTF-8) to a binary file object."""

    def __init__(self, plans: list[ColumnPlan], writer_kwargs: dict[str, Any]) -> None:
        if not plans:
            raise UnsupportedColumn("a result without columns")
        self.plans = plans
        self.rules = csv_rules(writer_kwargs)
        self.writer_kwargs = writer_kwargs

    def header(self) -> str:
        """The header line, written by ``csv.writer`` itself."""
        return _written(self.writer_kwargs, [p.name for p in self.plans])

    def lines(self, batch: pa.RecordBatch) -> pa.Array:
        """One string per row: the fields joined by the delimiter, the line terminator appended."""
        fields = [
            _field(plan.to_text(column), self.rules, plan)
            for plan, column in zip(self.plans, batch.columns, strict=True)
        ]
        if len(fields) == 1:
            fields = [self._lone_field(fields[0])]
        # the terminator goes on the last field, a narrower array than the joined rows
        fields[-1] = pc.binary_join_element_wise(fields[-1], utf8(self.rules.lineterminator), utf8(""))
        return pc.binary_join_element_wise(*fields, utf8(self.rules.delimiter)) if len(fields) > 1 else fields[0]

    def _lone_field(self, field: pa.Array) -> pa.Array:
        empty = pc.invert(pc.cast(pc.binary_length(field), pa.bool_()))
        if not pc.any(empty).as_py():
            return field
        if self.rules.lone_empty_row is None:
            raise csv.Error("single empty field record must be quoted")
        return pc.if_else(empty, utf8(self.rules.lone_empty_row), field)

    def chunk(self, batch: pa.RecordBatch) -> memoryview:
        """The CSV bytes (UTF-8) of ``batch``'s rows."""
        return chunk_bytes(self.lines(batch)) if batch.num_rows else memoryview(b"")

    def write(self, batch: pa.RecordBatch, out: Any) -> None:
        """Format ``batch`` and write its bytes to the binary file object ``out``."""
        if batch.num_rows:
            out.write(self.chunk(batch))


def _contains_any(text: pa.Array, chars: str) -> bool:
    """Whether a value of the string array contains one of ``chars``.

    One ``memchr``-speed search per character over the values' bytes, about 20x cheaper than the
    per-value regex it lets us skip when, as in most columns of most batches, no value needs quoting.
    """
    if text.buffers()[2] is None:
        return False
    region = bytes(chunk_bytes(text))
    return any(char.encode("utf-8") in region for char in chars)


def chunk_bytes(lines: pa.Array) -> memoryview:
    """The concatenated values of a string array, straight from its data buffer (no copy)."""
    _, offsets, data = lines.buffers()
    bounds = memoryview(offsets).cast("q" if pa.types.is_large_string(lines.type) else "i")
    return memoryview(data)[bounds[lines.offset] : bounds[lines.offset + len(lines)]]
