"""Native bulk path of the extract on ``postgres`` connections: ``COPY (query) TO STDOUT``.

Why: the server writes CSV itself, in C, as ``psql \\copy`` does; the client
only moves bytes from the socket into the staging file. Fetching rows into
Python objects and formatting them again costs several times more.

Same bytes as the portable path (server-side cursor + ``csv.writer``), so the
query is wrapped: ``SELECT <exprs> FROM (<query>) AS q(c1, ..., cN)`` where each
expression makes the server print what ``str()`` of the Python value prints
(``True``/``False`` for booleans, microseconds only when non-zero) and what
``csv.writer`` does with NULLs and empty strings (``NULLIF`` for minimal
quoting, since COPY quotes an empty string; ``COALESCE`` for quote-all, since
COPY never quotes NULL). The column types come from describing the query first
(``LIMIT 0``); the header line is written by ``csv.writer`` from the names.

Used only when COPY can say the same thing; otherwise :class:`CopyUnavailable`
names the reason and the caller runs the portable path: quoting ``minimal`` or
``all`` (COPY cannot escape, nor quote only non-numbers), terminator ``\\n``
without ``line_suffix``, UTF-8, a one-byte delimiter, more than one column
(``csv.writer`` writes a lone empty field as ``""``), and only column types whose
text is known to match (integers, numeric, text types, uuid, date, timestamp,
timestamptz, boolean; not floats, json, intervals, arrays, binary).

Bind parameters still work: the values are merged into the statement
client-side as SQL literals by the driver's own quoting (psycopg 3
``ClientCursor.mogrify``, psycopg2 ``cursor.mogrify``), because COPY cannot take
server-side parameters. Those literals are escaped by libpq for the
connection's ``standard_conforming_strings``, so a value can never end the
literal, and the describe step binds the same values server-side first.

One difference from ``csv.writer`` is corrected, not avoided: COPY quotes a
value containing a carriage return, Python < 3.12's ``csv`` does not (it only
quotes the line terminator's characters). Rows are moved in chunks of about a
megabyte; a chunk containing ``\\r`` (rare) is parsed and written again by
``csv.writer``, which reproduces the portable bytes because the values are the same text.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Sequence
from typing import IO, Any

from airflow_batchtasks.formats.arrow_csv import CsvRules, csv_rules
from airflow_batchtasks.storage.records import write_blocks

CHUNK_BYTES = 1 << 20

INTEGER_OIDS = {20, 21, 23, 26}  # int8, int2, int4, oid
NUMERIC_OID = 1700
TEXT_OIDS = {25, 1043, 19}  # text, varchar, name
BPCHAR_OID = 1042  # char(n): padded, never empty
UUID_OID = 2950
DATE_OID = 1082
TIMESTAMP_OID = 1114
TIMESTAMPTZ_OID = 1184
BOOL_OID = 16

_SECONDS = "YYYY-MM-DD HH24:MI:SS"
_TRAILING_SEMICOLONS = re.compile(r"[;\s]+$")


class CopyUnavailable(Exception):
    """COPY cannot produce this extract byte for byte; the message says why (nothing was written)."""


def check_format(writer_kwargs: dict[str, Any], encoding: str) -> CsvRules:
    """The CSV rules, if COPY can follow them; raises :class:`CopyUnavailable` otherwise."""
    rules = csv_rules(writer_kwargs)
    if rules.quoting not in (csv.QUOTE_MINIMAL, csv.QUOTE_ALL):
        raise CopyUnavailable("quoting other than minimal or all")
    if rules.lineterminator != "\n":
        raise CopyUnavailable("a line terminator or line_suffix other than \\n")
    if codecs.lookup(encoding).name != "utf-8":
        raise CopyUnavailable(f"encoding {encoding}")
    if len(rules.delimiter.encode("utf-8")) != 1 or rules.delimiter in '"\r\n\\':
        raise CopyUnavailable(f"delimiter {rules.delimiter!r}")
    if not set(rules.special) <= set(rules.delimiter + '"\r\n'):
        raise CopyUnavailable(f"csv quotes on {rules.special!r}, COPY does not")
    return rules


def column_expression(oid: int, column: str, quote_all: bool) -> str:
    """SQL printing column ``column`` of type ``oid`` as the portable path's ``str()`` would."""
    if oid in TEXT_OIDS:
        return f"COALESCE({column}, '')" if quote_all else f"NULLIF({column}, '')"
    if oid == BPCHAR_OID:
        text = column
    elif oid in INTEGER_OIDS or oid in (NUMERIC_OID, UUID_OID, DATE_OID):
        text = column if not quote_all else f"{column}::text"
    elif oid == TIMESTAMP_OID:
        text = _timestamp_text(column)
    elif oid == TIMESTAMPTZ_OID:
        text = (
            f"(CASE WHEN {column} = date_trunc('second', {column}) THEN to_char({column}, '{_SECONDS}') "
            f"ELSE to_char({column}, '{_SECONDS}.US') END || to_char({column}, 'TZH:TZM'))"
        )
    elif oid == BOOL_OID:
        text = f"(CASE WHEN {column} THEN 'True' WHEN NOT {column} THEN 'False' END)"
    else:
        raise CopyUnavailable(f"column {column} has type oid {oid}, whose text COPY would write differently")
    return f"COALESCE({text}, '')" if quote_all else text


def _timestamp_text(column: str) -> str:
    """``str(datetime)``: the server's own text with its fraction padded back to six digits.

    PostgreSQL prints ``01.5`` where Python prints ``01.500000``. ``to_char`` would do it but
    costs about half of the whole COPY's CPU per timestamp column. A whole second (the value equals
    itself rounded to ``timestamp(0)``: integer arithmetic, cheaper than ``date_trunc``, which splits
    the value into fields) is printed as is; for years 1000 to 9999 (the text is then 26 characters
    with six digits) ``rpad`` adds the zeros.
    Other years take the general form, the native text plus as many zeros as the microseconds have
    trailing zeros; it costs more on real data, whose microseconds rarely end in zeros: PostgreSQL
    evaluates ``date_part`` again for every ``WHEN`` it reaches, six times for ``…123456``.
    """
    micros = f"(date_part('microseconds', {column})::int8 % 1000000)"
    pads = " ".join(f"WHEN {micros} % {10**n} = 0 THEN '{'0' * n}'" for n in range(5, 0, -1))
    general = f"{column}::text || CASE WHEN {micros} = 0 THEN '' {pads} ELSE '' END"
    return (
        f"(CASE WHEN {column} = {column}::timestamp(0) THEN {column}::text "
        f"WHEN {column} >= '1000-01-01' AND {column} < '10000-01-01' THEN rpad({column}::text, 26, '0') "
        f"ELSE {general} END)"
    )


def copy_statement(sql: str, oids: Sequence[int], rules: CsvRules) -> str:
    """``COPY (SELECT <exprs> FROM (<sql>) AS q(c1..cN)) TO STDOUT WITH (...)`` for these columns."""
    quote_all = rules.quoting == csv.QUOTE_ALL
    if len(oids) < 2 and not quote_all:
        raise CopyUnavailable('a single column (csv.writer writes an empty lone field as "")')
    names = [f"c{i + 1}" for i in range(len(oids))]
    exprs = ", ".join(column_expression(oid, name, quote_all) for oid, name in zip(oids, names, strict=True))
    delimiter = "'" + rules.delimiter.replace("'", "''") + "'"
    options = f"FORMAT csv, HEADER false, DELIMITER {delimiter}, ENCODING 'UTF8'" + (
        ", FORCE_QUOTE *" if quote_all else ""
    )
    return f"COPY (SELECT {exprs} FROM ({sql}\n) AS batchtasks_q({', '.join(names)})) TO STDOUT WITH ({options})"


def _describe(conn: Any, sql: str, values: Any) -> list[tuple[str, int]]:
    """Names and type oids of the query's columns, taken as a subquery (which it must be for COPY).

    psycopg 3 prepares the statement and describes it without running it, so a query with side
    effects (a data-modifying ``WITH``) still runs once; psycopg2 has no describe and runs it
    with ``LIMIT 0``.
    """
    wrapped = f"SELECT * FROM ({sql}\n) AS batchtasks_q"
    if _is_psycopg3(conn):
        from psycopg import pq

        encoding = conn.info.encoding
        pgconn = conn.pgconn
        blocking_before = pgconn.nonblocking
        pgconn.nonblocking = 0
        try:
            prepared = pgconn.prepare(b"", _merged(conn, wrapped, values).encode(encoding))
            if prepared.status != pq.ExecStatus.COMMAND_OK:
                raise CopyUnavailable((prepared.error_message or b"").decode(encoding, "replace").strip())
            described = pgconn.describe_prepared(b"")
            if described.status != pq.ExecStatus.COMMAND_OK:
                raise CopyUnavailable((described.error_message or b"").decode(encoding, "replace").strip())
            return [(described.fname(i).decode(encoding), described.ftype(i)) for i in range(described.nfields)]
        finally:
            pgconn.nonblocking = blocking_before
    cursor = conn.cursor()
    try:
        cursor.execute(f"{wrapped} LIMIT 0", values or None)
        return [(_name(col), int(_type_code(col))) for col in cursor.description or []]
    finally:
        cursor.close()


def _name(column: Any) -> str:
    return getattr(column, "name", None) or column[0]


def _type_code(column: Any) -> int:
    code = getattr(column, "type_code", None)
    return code if code is not None else column[1]


def _is_psycopg3(conn: Any) -> bool:
    return type(conn).__module__.startswith("psycopg.") or type(conn).__module__ == "psycopg"


def _merged(conn: Any, statement: str, values: Any) -> str:
    """The statement with bound values merged in as literals by the driver (COPY has no parameters)."""
    if not values:
        return statement
    if _is_psycopg3(conn):
        import psycopg

        return psycopg.ClientCursor(conn).mogrify(statement, values)
    from psycopg2.extensions import encodings

    cursor = conn.cursor()
    try:
        return cursor.mogrify(statement, values).decode(encodings[conn.encoding])
    finally:
        cursor.close()


class _ChunkWriter:
    """Writes COPY rows in chunks of ~1 MB; fixes the rows COPY quoted where ``csv.writer`` would not.

    Rows are gathered in a ``BytesIO`` (a C call per row; keeping libpq's row buffers in a
    list instead costs more than the whole rest of the loop) and always end a chunk whole.
    """

    def __init__(self, out: IO[bytes], rules: CsvRules, writer_kwargs: dict[str, Any],
                 on_rows: Callable[[int], None] | None = None) -> None:
        self.out = out
        self.on_rows = on_rows
        self.rows = 0  # rows written so far, told to ``on_rows`` once per chunk (the step's progress)
        self.requote_cr = "\r" not in rules.special
        self.rules = rules
        self.writer_kwargs = writer_kwargs
        self.buffer = io.BytesIO()
        self.size = 0

    def write(self, row: Any) -> None:
        """One row, as psycopg2's ``copy_expert`` hands them (the psycopg 3 loop inlines this)."""
        self.rows += 1
        self.size += self.buffer.write(row)
        if self.size >= CHUNK_BYTES:
            self.flush()

    def flush(self) -> None:
        chunk = self.buffer.getvalue()
        if self.requote_cr and b"\r" in chunk:
            chunk = self._rewritten(chunk)
        write_blocks(self.out, chunk)
        self.buffer.seek(0)
        self.buffer.truncate()
        self.size = 0
        if self.on_rows is not None:
            self.on_rows(self.rows)

    def _rewritten(self, chunk: bytes) -> bytes:
        """The chunk's rows parsed and written again by ``csv.writer`` (values are the same text)."""
        text = io.StringIO()
        rows = csv.reader(io.StringIO(chunk.decode("utf-8"), newline=""), delimiter=self.rules.delimiter)
        csv.writer(text, **self.writer_kwargs).writerows(rows)
        return text.getvalue().encode("utf-8")


def _copy_psycopg3(conn: Any, statement: str, sink: _ChunkWriter) -> int:
    """Stream COPY OUT rows through libpq directly.

    psycopg's ``Copy`` iterator costs about 1 µs a row in Python, as would a method of ours
    per row: the loop below is the whole per-row cost (~0.4 µs), the rest happens per chunk.
    """
    import psycopg
    from psycopg import pq

    pgconn = conn.pgconn
    blocking_before = pgconn.nonblocking
    pgconn.nonblocking = 0
    try:
        pgconn.send_query(statement.encode(conn.info.encoding))
        result = pgconn.get_result()
        if result is None or result.status != pq.ExecStatus.COPY_OUT:
            _drain(pgconn)
            raise _error(psycopg, result, conn)
        get_copy_data, add, pending, rows = pgconn.get_copy_data, sink.buffer.write, 0, 0
        while True:
            size, data = get_copy_data(0)
            if size < 0:
                break
            pending += add(data)
            rows += 1  # one COPY data message is one row
            if pending >= CHUNK_BYTES:
                sink.rows = rows
                sink.flush()
                pending = 0
        sink.rows = rows
        sink.flush()
        final = pgconn.get_result()
        _drain(pgconn)
        if final is None or final.status != pq.ExecStatus.COMMAND_OK:
            raise _error(psycopg, final, conn)
        return int(final.command_tuples or 0)
    finally:
        pgconn.nonblocking = blocking_before


def _drain(pgconn: Any) -> None:
    while pgconn.get_result() is not None:
        pass


def _error(psycopg: Any, result: Any, conn: Any) -> Exception:
    if result is not None:
        from psycopg import errors

        return errors.error_from_result(result, encoding=conn.info.encoding)
    message = conn.pgconn.error_message.decode(errors="replace") or "COPY failed"
    return psycopg.OperationalError(message)


def extract(
    conn: Any,
    sql: str,
    values: Any,
    target: Any,
    writer_kwargs: dict[str, Any],
    *,
    encoding: str,
    include_headers: bool,
    on_rows: Callable[[int], None] | None = None,
) -> tuple[int, str]:
    """Run ``sql`` as a COPY into ``target``; return the row count and the COPY statement that ran.

    Raises :class:`CopyUnavailable` (before writing anything) when the portable path must be used.
    ``on_rows`` is told the rows written so far after each ~1 MB chunk (the step's progress; it
    throttles itself), so a long COPY shows progress like the portable path.
    """
    rules = check_format(writer_kwargs, encoding)
    sql = _TRAILING_SEMICOLONS.sub("", sql)  # "select ...;" is one statement, but not a subquery
    try:
        columns = _describe(conn, sql, values)
    except Exception as exc:
        conn.rollback()
        raise CopyUnavailable(f"the query cannot be described as a subquery: {exc}") from exc
    statement = copy_statement(sql, [oid for _, oid in columns], rules)
    with conn.cursor() as cursor:
        cursor.execute("SET datestyle TO ISO")
    merged = _merged(conn, statement, values)
    with target.open("wb") as out:
        if include_headers:
            header = io.StringIO()
            csv.writer(header, **writer_kwargs).writerow([name for name, _ in columns])
            out.write(header.getvalue().encode("utf-8"))
        sink = _ChunkWriter(out, rules, writer_kwargs, on_rows)
        if _is_psycopg3(conn):
            rows = _copy_psycopg3(conn, merged, sink)
        else:
            with conn.cursor() as cursor:
                cursor.copy_expert(merged, sink, CHUNK_BYTES)
                rows = max(cursor.rowcount, 0)
            sink.flush()
    return rows, merged
