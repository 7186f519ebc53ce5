"""Extract (SQL -> CSV) and SFTP delivery speed of airflow-batchtasks, side by side with the references.

Starts a throwaway PostgreSQL 15 (reached through psqlODBC and psycopg) and an
OpenSSH sshd on loopback (the test harness in ``tests/servers``), fills two
tables of 8 columns (int, nullable int, numeric(12,4), text with commas and
quotes, nullable text, date, timestamp, boolean) and a 1 GiB random file, then
measures, round-robin so that a busy neighbour slows every path alike:

Extract (the same ``select *`` for every path, CSV with header):

* ``psql \\copy (...) to file csv header``: the reference;
* ours, ODBC connection: arrow-odbc + vectorised CSV (``sql.extract.extract``, as the extract step runs it);
* the same arrow-odbc reader with nothing written (``odbc_arrow.open_reader``): the driver's floor;
* ours, postgres connection: ``COPY ... TO STDOUT``;
* the same COPY statement read with psycopg's ``get_copy_data`` alone, nothing written: psycopg's floor;
* the portable path on the ODBC connection (pyodbc ``fetchmany`` + ``csv.writer``);
* Airflow ``OdbcHook.get_records`` + ``csv.writer``; ``pandas.read_sql`` + ``to_csv`` (what teams often write).

MariaDB extract (``--maria-sizes``; a throwaway ``mariadbd``, the same 8 columns, MariaDB
Connector/ODBC): ``mariadb --batch -e 'select ...' > file`` as the reference (the client's own export,
tab-separated with ``\t``/``\n`` escapes and ``NULL``: not the same bytes, the nearest CLI), ours
through arrow-odbc, the arrow-odbc fetch alone (the driver's floor) and the portable path.

Every round checks each output: its row count is the table's, and ours and the portable path write
files with the same MD5 (the reference CLIs write another format, so only their rows are checked).
(Through psqlODBC booleans arrive as 0/1, its ``BoolsAsChar`` default, and through COPY as True/False: the
ODBC and COPY files differ in that column only, so they are not compared with each other.)

SFTP upload of the 1 GiB file: OpenSSH ``sftp -c aes128-gcm@openssh.com`` put (the reference: the
cipher ours negotiates), OpenSSH with its default cipher (chacha20-poly1305, a second reference);
ours (``SftpDestination``, asyncssh); a bare asyncssh ``SFTPClient.put`` with the same options (the
library's floor); ours on the paramiko fallback (a connection asyncssh cannot carry, compression
off); Airflow ``SFTPHook.store_file`` with the connection's defaults (compression on) and with
``compress: false``.

SFTP download of the same file (a ``source: {type: sftp}`` file source): OpenSSH ``sftp -c
aes128-gcm@openssh.com`` get (reference); ours (``FileExtractOperator._fetch`` through the sftp reader
into staging, exactly as the extract step runs it); a bare asyncssh ``SFTPClient.get`` (floor); ours on
the paramiko fallback; Airflow ``SFTPHook.retrieve_file`` with the connection's defaults and with
``compress: false``. Every round checks the size and MD5 of every file uploaded or downloaded against
the source's; a wrong file is reported as a failure.

Every measurement runs in its own child process: time is the operation inside the child
(connect + query/upload + write, not interpreter start and imports; psql and sftp are timed
whole), peak RSS is the child's (``wait4``), imports included, the "imports" row shows what
a child costs before doing anything. Every ODBC path uses the same connection
(``UseDeclareFetch=1;Fetch=10000``, without which psqlODBC holds the whole result in memory).

``uv run python benchmarks/extract_and_deliver.py --help`` lists the options.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TABLE_SQL = """create table {table} as select g::bigint as id,
  case when g % 10 = 0 then null else g % 1000 end::int as qty,
  ((g * 1.2345) % 10000000)::numeric(12,4) as amount,
  'Customer ' || g || case when g % 7 = 0 then ', "VIP"' else '' end as customer,
  case when g % 5 = 0 then null else md5(g::text) end as note,
  date '2020-01-01' + g % 2000 as day,
  timestamp '2020-01-01' + g * interval '1.5 second' as created,
  g % 2 = 0 as active
  from generate_series(1, {rows}) g"""

# The same 8 columns in MariaDB (its Sequence engine's seq_1_to_N is generate_series).
MARIA_TABLE_SQL = """create table {table} as select seq as id,
  case when seq % 10 = 0 then null else seq % 1000 end as qty,
  cast((seq * 1.2345) % 10000000 as decimal(12,4)) as amount,
  concat('Customer ', seq, case when seq % 7 = 0 then ', "VIP"' else '' end) as customer,
  case when seq % 5 = 0 then null else md5(seq) end as note,
  date '2020-01-01' + interval (seq % 2000) day as day,
  cast(timestamp '2020-01-01 00:00:00' + interval (seq * 1500000) microsecond as datetime(1)) as created,
  seq % 2 = 0 as active
  from seq_1_to_{rows}"""

COLUMNS = "id,qty,amount,customer,note,day,created,active"
ODBC, PG, MARIA = "bench_odbc", "bench_pg", "bench_maria"
SFTP, SFTP_NOCOMPRESS, SFTP_PARAMIKO = "bench_sftp", "bench_sftp_nc", "bench_sftp_pk"

# Targets this project commits to (issue 3), checked at the end.
MAX_ODBC_VS_PSQL = 2.0
MIN_ODBC_SPEEDUP = 5.0
MAX_RSS_MB = 250
MAX_COPY_VS_PSQL = 1.2
MAX_SFTP_VS_OPENSSH = 1.5
MIN_SFTP_SPEEDUP = 3.0
MAX_SFTP_GET_VS_OPENSSH = 1.5
MIN_SFTP_GET_SPEEDUP = 3.0
# The cipher ours negotiates with OpenSSH (sftp_async.PREFERRED_CIPHERS): the fair reference uses it too.
SAME_CIPHER = "aes128-gcm@openssh.com"
NOISY_SPREAD = 1.3


@dataclass
class Case:
    key: str
    label: str
    group: str  # "extract <rows>" or "sftp"
    command: list[str]
    slow: bool = False
    rows: int | None = None  # what every run must output (None: not checked)
    problems: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    op_cpu: list[float] = field(default_factory=list)  # a Python child's CPU inside the timed operation
    ratios: list[float] = field(default_factory=list)
    server_cpu: list[float] = field(default_factory=list)
    server_pid: int | None = None
    digest: str | None = None
    #: a file the run must produce with this (size, md5): an uploaded or downloaded copy of the source
    produces: tuple[Path, int, str] | None = None


# --------------------------------------------------------------------------- children


def child(args: argparse.Namespace) -> None:
    """Run one measured operation; write seconds (and a digest of the output) to ``args.result``."""
    kind, out = args.child, Path(args.out) if args.out else None
    result: dict[str, Any] = {}
    _warm_up()
    if kind == "imports":
        start, cpu_start = time.perf_counter(), _own_cpu()
    elif kind in ("ours_odbc", "ours_pg", "portable_odbc"):
        import logging

        from airflow.sdk import BaseHook, ObjectStoragePath

        from airflow_batchtasks.sql.extract import extract

        logging.basicConfig(level=logging.WARNING)
        start, cpu_start = time.perf_counter(), _own_cpu()
        hook = BaseHook.get_hook(PG if kind == "ours_pg" else args.conn)
        rows, path = extract(
            hook, lambda _style: (args.sql, []), ObjectStoragePath(f"file://{out}"), {}, include_headers=True,
            batch_size=10_000, log=logging.getLogger("bench"), fast_paths=kind != "portable_odbc",
        )  # fmt: skip
        result.update(rows=rows, path=path)
    elif kind == "copy_floor":
        from airflow.sdk import BaseHook

        from airflow_batchtasks.sql import pg_copy

        start, cpu_start = time.perf_counter(), _own_cpu()
        conn = BaseHook.get_hook(PG).get_conn()
        result.update(rows=_copy_floor(conn, args.sql, pg_copy))
    elif kind == "odbc_fetch":
        from airflow.sdk import BaseHook

        from airflow_batchtasks.sql.odbc_arrow import odbc_connection_string, open_reader

        start, cpu_start = time.perf_counter(), _own_cpu()
        reader, _ = open_reader(args.sql, odbc_connection_string(BaseHook.get_hook(args.conn)))
        result.update(rows=sum(batch.num_rows for batch in reader))
    elif kind == "get_records":
        from airflow.sdk import BaseHook

        start, cpu_start = time.perf_counter(), _own_cpu()
        hook = BaseHook.get_hook(ODBC)
        records = hook.get_records(args.sql)
        with open(out, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(args.columns.split(","))
            writer.writerows(records)
        result.update(rows=len(records))
    elif kind == "pandas":
        import warnings

        import pandas as pd
        from airflow.sdk import BaseHook

        warnings.simplefilter("ignore")  # pandas warns about DB-API (not SQLAlchemy) connections
        start, cpu_start = time.perf_counter(), _own_cpu()
        conn = BaseHook.get_hook(ODBC).get_conn()
        frame = pd.read_sql(args.sql, conn)
        frame.to_csv(out, index=False)
        result.update(rows=len(frame))
    elif kind.startswith(("sftp_", "store_file", "get_", "retrieve_file")):
        start, cpu_start, profiler = time.perf_counter(), _own_cpu(), _profiler(args)
        result.update(_sftp_child(kind, args))
        if profiler:
            profiler.disable()
            profiler.dump_stats(str(Path(args.profile) / f"{kind}.prof"))
    else:
        raise SystemExit(f"unknown child {kind}")
    result["seconds"] = time.perf_counter() - start
    result["cpu"] = _own_cpu() - cpu_start  # the operation's own CPU, imports excluded
    Path(args.result).write_text(json.dumps(result))


def _own_cpu() -> float:
    """CPU seconds of this process so far (its threads included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _copy_floor(conn: Any, sql: str, pg_copy: Any) -> int:
    """Our COPY statement read row by row with psycopg's ``get_copy_data`` and dropped: the client's floor.

    What any psycopg 3 client pays per row (a call, a buffer object, a memoryview), without our
    chunking, row counting and writes; psql's C loop pays none of it.
    """
    rules = pg_copy.check_format({"lineterminator": "\n"}, "utf-8")
    statement = pg_copy.copy_statement(sql, [oid for _, oid in pg_copy._describe(conn, sql, [])], rules)
    with conn.cursor() as cursor:
        cursor.execute("SET datestyle TO ISO")
    pgconn, rows = conn.pgconn, 0
    pgconn.send_query(statement.encode())
    pgconn.get_result()
    get_copy_data = pgconn.get_copy_data
    while get_copy_data(0)[0] >= 0:
        rows += 1
    while pgconn.get_result() is not None:
        pass
    conn.close()
    return rows


def _profiler(args: argparse.Namespace) -> Any:
    """``--profile DIR``: a CPU-time cProfile of the measured operation (it slows the run: not a timing run)."""
    if not args.profile:
        return None
    import cProfile

    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    return profiler


def _sftp_child(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    """One SFTP transfer of ``args.src``: uploads to ``remote_dir/remote_name``, downloads to ``args.out``."""
    from airflow_batchtasks.operators.progress import CountingReader, Progress

    remote = f"{args.remote_dir}/{args.remote_name}"
    if kind in ("sftp_ours", "sftp_paramiko"):
        from airflow_batchtasks.transports.sftp import SftpDestination

        destination = SftpDestination(SFTP if kind == "sftp_ours" else SFTP_PARAMIKO, args.remote_dir)
        try:
            with open(args.src, "rb") as fh:
                # as the deliver step reads its staging file: through the progress counter
                destination.put(CountingReader(fh, None, Progress(lambda _v: None, "deliver")), args.remote_name,
                                overwrite=True)  # fmt: skip
        finally:
            destination.close()
        return {"client": type(destination.client).__name__}
    if kind in ("get_ours", "get_paramiko"):
        from airflow.sdk import ObjectStoragePath

        from airflow_batchtasks.operators.file import FileExtractOperator
        from airflow_batchtasks.transports.registry import reader_for

        conn_id = SFTP if kind == "get_ours" else SFTP_PARAMIKO
        operator = FileExtractOperator(
            task_id="bench_get", batch_task="bench", location={"type": "sftp", "conn_id": conn_id, "path": args.src},
            output_format={"format": "keep"},
        )  # fmt: skip
        operator._progress = Progress(lambda _v: None, "extract")  # as execute() sets it
        reader = reader_for(operator.location)
        try:
            operator._fetch(reader, args.src, ObjectStoragePath(f"file://{args.out}"))
        finally:
            reader.close()
        return {"client": type(getattr(reader, "_async", None) or getattr(reader, "client", reader)).__name__}
    if kind in ("sftp_floor", "get_floor"):
        import asyncio

        import asyncssh

        from airflow_batchtasks.transports.sftp_async import connect_options

        async def transfer() -> None:
            async with asyncssh.connect(**connect_options(SFTP)) as conn, conn.start_sftp_client() as sftp:
                if kind == "sftp_floor":
                    await sftp.put(args.src, remote)
                else:
                    await sftp.get(args.src, args.out)

        asyncio.run(transfer())
        return {"client": "asyncssh"}
    from airflow.providers.sftp.hooks.sftp import SFTPHook

    hook = SFTPHook(ssh_conn_id=SFTP_NOCOMPRESS if kind.endswith("_nc") else SFTP)
    if kind.startswith("store_file"):
        hook.store_file(remote, args.src)
    else:
        hook.retrieve_file(args.src, args.out)
    return {}


def _warm_up() -> None:
    """What a task process has done before its operator runs: imports, and plugins loaded.

    Airflow loads every ``airflow.plugins`` entry point the first time a file is opened through
    ``ObjectStoragePath`` (hook lineage asks the plugins); doing it here keeps that one-time cost
    out of the measured time and in the baseline RSS, the same for every path.
    """
    import airflow.sdk
    from airflow.providers.odbc.hooks.odbc import OdbcHook  # noqa: F401
    from airflow.providers.postgres.hooks.postgres import PostgresHook  # noqa: F401
    from airflow.providers.sftp.hooks.sftp import SFTPHook  # noqa: F401

    from airflow_batchtasks.sql import extract  # noqa: F401
    from airflow_batchtasks.transports import registry, sftp, sftp_async  # noqa: F401

    probe = airflow.sdk.ObjectStoragePath(f"file://{tempfile.gettempdir()}/batchtasks-bench-warm-{os.getpid()}")
    with probe.open("wb") as fh:
        fh.write(b"warm")
    probe.unlink()


def run_child(command: list[str], env: dict[str, str], timeout: float) -> tuple[float, float, float, dict[str, Any]]:
    """Run ``command``; return (wall seconds, peak RSS MB, CPU seconds, the child's JSON result or {}).

    The child's stderr goes to a file, not a pipe: a client library that logs every request would
    fill a pipe nobody reads during the transfer and hang the child.
    """
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp:
        result_path = tmp.name
    command = [part.replace("{result}", result_path) for part in command]
    with tempfile.TemporaryFile() as stderr:
        start = time.perf_counter()
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = start + timeout
        try:
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.perf_counter() > deadline:
                    raise TimeoutError(f"{command[:4]} ran longer than {timeout} s")
                time.sleep(0.01)
        except BaseException:  # timeout or Ctrl-C: never leave a child running
            proc.kill()
            proc.wait()
            raise
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            stderr.seek(0)
            text = stderr.read().decode(errors="replace")
            raise RuntimeError(f"{' '.join(command[:6])} failed ({proc.returncode}):\n{text[-3000:]}")
    text = Path(result_path).read_text() if os.path.getsize(result_path) else ""
    os.unlink(result_path)
    result = json.loads(text) if text else {}
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime, result


# --------------------------------------------------------------------------- setup


def connections(pg: Any, sshd: Any, odbc_driver: str, maria: Any = None) -> dict[str, str]:
    odbc = {
        "conn_type": "odbc", "host": pg.host, "port": pg.port, "login": pg.user, "password": pg.password,
        "schema": pg.database,
        "extra": {"driver": odbc_driver, "UseDeclareFetch": "1", "Fetch": "10000", "SSLmode": "disable"},
    }  # fmt: skip
    postgres = {"conn_type": "postgres", "host": pg.host, "port": pg.port, "login": pg.user,
                "password": pg.password, "schema": pg.database}  # fmt: skip
    conns = {f"AIRFLOW_CONN_{ODBC.upper()}": json.dumps(odbc), f"AIRFLOW_CONN_{PG.upper()}": json.dumps(postgres)}
    if maria is not None:
        from tests.servers.mariadb import find_mariadb_odbc_driver

        conns[f"AIRFLOW_CONN_{MARIA.upper()}"] = json.dumps({
            "conn_type": "odbc", "host": maria.host, "port": maria.port, "login": maria.user,
            "password": maria.password, "schema": maria.database, "extra": {"driver": find_mariadb_odbc_driver()},
        })  # fmt: skip
    if sshd is None:
        return conns
    return {
        **conns,
        f"AIRFLOW_CONN_{SFTP.upper()}": json.dumps(sshd.connection()),
        f"AIRFLOW_CONN_{SFTP_NOCOMPRESS.upper()}": json.dumps(sshd.connection(compress=False)),
        f"AIRFLOW_CONN_{SFTP_PARAMIKO.upper()}": json.dumps(sshd.connection(compress=False, look_for_keys=False)),
    }


def build_cases(
    args: argparse.Namespace, work: Path, pg: Any, sshd: Any, src: Path | None, maria: Any = None
) -> list[Case]:
    me = [sys.executable, str(Path(__file__).resolve())]
    cases = [
        Case(
            "imports",
            "a child that only imports (baseline RSS)",
            "imports",
            [*me, "--child", "imports", "--result", "{result}"],
        )
    ]
    for rows in args.sizes:
        table, group = f"bench_{rows}", f"extract {rows:,} rows"
        sql = f"select * from {table}"
        out = work / f"out_{rows}.csv"
        psql = [
            shutil.which("psql") or "psql", "-X", "-q", "-h", pg.host, "-p", str(pg.port), "-U", pg.user, "-d",
            pg.database, "-c", f"\\copy ({sql}) to '{out}' csv header",
        ]  # fmt: skip
        slow = rows > args.slow_max_rows

        def py(kind: str, out: Path = out, sql: str = sql) -> list[str]:
            return [*me, "--child", kind, "--sql", sql, "--columns", COLUMNS, "--out", str(out), "--result", "{result}"]

        cases += [
            Case(f"psql_{rows}", "`psql \\copy ... csv header` (reference)", group, psql),
            Case(f"ours_odbc_{rows}", "**ours, ODBC**: arrow-odbc + vectorised CSV", group, py("ours_odbc")),
            Case(f"fetch_{rows}", "arrow-odbc fetch alone, nothing written (the ODBC driver's floor)", group,
                 py("odbc_fetch")),
            Case(f"ours_pg_{rows}", "**ours, postgres**: `COPY (query) TO STDOUT`", group, py("ours_pg")),
            Case(f"copy_floor_{rows}", "our COPY read with psycopg's `get_copy_data` alone, nothing written "
                 "(psycopg's floor)", group, py("copy_floor")),  # fmt: skip
            Case(f"portable_{rows}", "portable: pyodbc `fetchmany` + `csv.writer`", group, py("portable_odbc")),
            Case(f"records_{rows}", "Airflow `OdbcHook.get_records` + `csv.writer`", group, py("get_records"), True),
            Case(f"pandas_{rows}", "`pandas.read_sql` + `to_csv`", group, py("pandas"), True),
        ]
        if slow and args.skip_slow:
            cases = [c for c in cases if not (c.group == group and c.slow)]
        for case in cases:
            if case.group == group:
                case.rows = rows
    for rows in args.maria_sizes if maria is not None else []:
        table, group = f"maria_{rows}", f"MariaDB extract {rows:,} rows"
        sql = f"select * from {table}"
        out = work / f"maria_{rows}.csv"
        cli = " ".join(maria.cli("--batch", "--default-character-set=utf8mb4", "-e", f"'{sql}'"))
        reference = ["sh", "-c", f"{cli} > '{out}'", "--out", str(out)]  # "--out": where _run finds the file

        def maria_py(kind: str, out: Path = out, sql: str = sql) -> list[str]:
            return [*me, "--child", kind, "--conn", MARIA, "--sql", sql, "--columns", COLUMNS, "--out", str(out),
                    "--result", "{result}"]  # fmt: skip

        cases += [
            Case(f"maria_cli_{rows}", "`mariadb --batch -e 'select ...' > file` (reference)", group, reference,
                 rows=rows),
            Case(f"maria_ours_{rows}", "**ours, ODBC**: arrow-odbc + vectorised CSV", group, maria_py("ours_odbc"),
                 rows=rows),
            Case(f"maria_fetch_{rows}", "arrow-odbc fetch alone, nothing written (the ODBC driver's floor)", group,
                 maria_py("odbc_fetch"), rows=rows),
            Case(f"maria_portable_{rows}", "portable: pyodbc `fetchmany` + `csv.writer`", group,
                 maria_py("portable_odbc"), rows=rows),
        ]  # fmt: skip
    if src is not None:
        cases += _sftp_cases(args, work, sshd, src, me)
    for case in cases:
        case.server_pid = pg._postmaster_pid() if case.group.startswith("extract") else None
        if case.group.startswith("MariaDB") and maria._proc is not None:
            case.server_pid = maria._proc.pid
        if case.group.startswith("sftp") and sshd is not None and sshd._proc is not None:
            case.server_pid = sshd._proc.pid
    return [c for c in cases if not args.only or any(o in c.key for o in args.only)]


def _sftp_cases(args: argparse.Namespace, work: Path, sshd: Any, src: Path, me: list[str]) -> list[Case]:
    """Upload and download of ``src``, each against OpenSSH with our cipher; each file's size + MD5 checked."""
    remote = sshd.root / "bench"
    remote.mkdir(exist_ok=True)
    expect = (src.stat().st_size, _md5(src))
    profile = ["--profile", args.profile] if args.profile else []

    def openssh(name: str, command: str, cipher: str | None) -> list[str]:
        batch = work / f"{name}.batch"
        batch.write_text(command + "\n")
        return [
            shutil.which("sftp") or "sftp", "-q", "-i", str(sshd.private_key_path), "-P", str(sshd.port),
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-b", str(batch),
            *(["-c", cipher] if cipher else []), f"{sshd.username}@{sshd.host}",
        ]  # fmt: skip

    def up(kind: str) -> list[str]:
        return [*me, "--child", kind, "--src", str(src), "--remote-dir", str(remote), "--remote-name",
                f"{kind}.bin", "--result", "{result}", *profile]  # fmt: skip

    def get(kind: str) -> list[str]:
        return [*me, "--child", kind, "--src", str(src), "--out", str(work / f"{kind}.bin"), "--result", "{result}",
                *profile]  # fmt: skip

    uploads = [
        Case("openssh", f"OpenSSH `sftp -c {SAME_CIPHER}` put (reference: ours' cipher)", "sftp",
             openssh("put", f"put {src} {remote}/openssh.bin", SAME_CIPHER)),
        Case("openssh_default", "OpenSSH `sftp` put, default cipher (chacha20-poly1305)", "sftp",
             openssh("put_default", f"put {src} {remote}/openssh_default.bin", None)),
        Case("sftp_ours", "**ours**: asyncssh, AES-GCM, no compression, 64 writes in flight", "sftp",
             up("sftp_ours")),
        Case("sftp_floor", "bare asyncssh `SFTPClient.put`, same options (the library's floor)", "sftp",
             up("sftp_floor")),
        Case("sftp_paramiko", "ours, paramiko fallback (SSHHook, pipelined, compress off)", "sftp",
             up("sftp_paramiko")),
        Case("store_file", "Airflow `SFTPHook.store_file`, connection defaults (compression on)", "sftp",
             up("store_file"), slow=True),
        Case("store_file_nc", "Airflow `SFTPHook.store_file`, `compress: false`", "sftp", up("store_file_nc")),
    ]  # fmt: skip
    for case in uploads:
        case.produces = (remote / f"{case.key}.bin", *expect)
    downloads = [
        Case("get_openssh", f"OpenSSH `sftp -c {SAME_CIPHER}` get (reference)", "sftp download",
             openssh("get", f"get {src} {work / 'get_openssh.bin'}", SAME_CIPHER)),
        Case("get_ours", "**ours**: file source (`FileExtractOperator` + sftp reader) into staging", "sftp download",
             get("get_ours")),
        Case("get_floor", "bare asyncssh `SFTPClient.get`, same options (the library's floor)", "sftp download",
             get("get_floor")),
        Case("get_paramiko", "ours, paramiko fallback (SFTPHook client, prefetch, compress off)", "sftp download",
             get("get_paramiko")),
        Case("retrieve_file", "Airflow `SFTPHook.retrieve_file`, connection defaults (compression on)",
             "sftp download", get("retrieve_file"), slow=True),
        Case("retrieve_file_nc", "Airflow `SFTPHook.retrieve_file`, `compress: false`", "sftp download",
             get("retrieve_file_nc")),
    ]  # fmt: skip
    for case in downloads:
        case.produces = (work / f"{case.key}.bin", *expect)
    return uploads + downloads


def process_cpu(pid: int | None) -> float:
    """CPU seconds of a server process and of the children it has reaped (backends, smbd sessions)."""
    if not pid:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def measure(cases: list[Case], args: argparse.Namespace, env: dict[str, str], sshd: Any) -> None:
    """Round-robin; every path runs right after a run of its group's reference, and is compared with it.

    On a shared machine the load changes from one minute to the next: a ratio to a reference
    measured seconds earlier is far steadier than a ratio of medians taken minutes apart.
    """
    groups: dict[str, list[Case]] = {}
    for case in cases:
        groups.setdefault(case.group, []).append(case)
    for round_no in range(args.repeat):
        for group, (ref, *others) in groups.items():
            if group == "imports":
                if round_no == 0:
                    _run(ref, args, env, sshd, round_no)
                continue
            for case in others:
                if case.slow and round_no >= args.slow_repeat:
                    continue
                ref_seconds = _run(ref, args, env, sshd, round_no)
                case.ratios.append(_run(case, args, env, sshd, round_no) / ref_seconds)


def _run(case: Case, args: argparse.Namespace, env: dict[str, str], sshd: Any, round_no: int) -> float:
    server_before = process_cpu(case.server_pid)
    wall, rss, cpu, result = run_child(case.command, env, args.timeout)
    time.sleep(0.2)  # the server reaps the backend / session process that served the child
    case.server_cpu.append(process_cpu(case.server_pid) - server_before)
    seconds = result.get("seconds", wall)
    case.times.append(seconds)
    case.rss_mb.append(rss)
    case.cpu.append(cpu)
    if "cpu" in result:
        case.op_cpu.append(result["cpu"])
    if case.produces is not None:
        _verify_copy(case, round_no)
    out = _output_of(case)
    if case.rows is not None and "rows" in result and result["rows"] != case.rows:
        case.problems.append(f"round {round_no + 1}: {result['rows']} rows, not {case.rows}")
    if out is not None and out.exists():
        if args.verify:
            _verify_output(case, out, round_no)
        out.unlink()
    for leftover in (sshd.root / "bench").glob("*.bin") if sshd else []:
        leftover.unlink()
    detail = result.get("path") or result.get("client") or ""
    print(f"  round {round_no + 1} {case.key:<18} {seconds:7.2f} s  rss {rss:6.0f} MB  cpu {cpu:6.2f} s  "
          f"load {os.getloadavg()[0]:4.1f}  {detail}", flush=True)  # fmt: skip
    return seconds


def _verify_output(case: Case, out: Path, round_no: int) -> None:
    """Every round: a CLI's file has a header and one line per row; a Python path's has the first round's MD5."""
    if case.command[0] != sys.executable:
        if case.rows is not None:
            lines = _count_lines(out)
            if lines != case.rows + 1:
                case.problems.append(f"round {round_no + 1}: {lines} lines, not {case.rows} rows + header")
        return
    digest = _md5(out)
    if case.digest is None:
        case.digest = digest
    elif digest != case.digest:
        case.problems.append(f"round {round_no + 1}: output differs from round 1's")


def _verify_copy(case: Case, round_no: int) -> None:
    """An SFTP run must leave an exact copy of the source: same size, same MD5 (then the copy is removed)."""
    assert case.produces is not None
    path, size, digest = case.produces
    if not path.exists():
        case.problems.append(f"round {round_no + 1}: {path.name} was not written")
        return
    if path.stat().st_size != size:
        case.problems.append(f"round {round_no + 1}: {path.name} has {path.stat().st_size} bytes, not {size}")
    elif _md5(path) != digest:
        case.problems.append(f"round {round_no + 1}: {path.name} differs from the source (MD5)")
    path.unlink()


def _count_lines(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))


def _output_of(case: Case) -> Path | None:
    if case.produces is not None:
        return None  # checked and removed by _verify_copy
    if "--out" in case.command:
        return Path(case.command[case.command.index("--out") + 1])
    for part in case.command:
        if part.startswith("\\copy"):
            return Path(part.split("to '")[1].split("'")[0])
    return None


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------- report


def report(cases: list[Case], args: argparse.Namespace, load: tuple[float, float]) -> list[str]:
    """Print one Markdown table per group and return the target checks that failed."""
    failed: list[str] = []
    by_group: dict[str, list[Case]] = {}
    for case in cases:
        by_group.setdefault(case.group, []).append(case)
    imports = by_group.pop("imports", [])
    baseline = imports[0].rss_mb[0] if imports else 0.0
    baseline_cpu = imports[0].cpu[0] if imports else 0.0
    print(f"\nLoad average (1 min) at start / end: {load[0]:.1f} / {load[1]:.1f} on {os.cpu_count()} cores; "
          f"{args.repeat} rounds (slow paths: {args.slow_repeat}); \"vs reference\" is the median of the ratios "
          "to the reference run just before each run; client CPU of Python children is their own CPU during the "
          "timed operation (imports and plugins excluded).")  # fmt: skip
    if imports:
        print(
            f"Baseline RSS: a child that only imports Airflow, the hooks and our modules and loads the plugins "
            f"(what a task process holds before its operator runs) peaks at {baseline:.0f} MB."
        )
    for group, members in by_group.items():
        print(f"\n### {group}\n")
        server = {"extract": "PostgreSQL", "MariaDB": "MariaDB"}.get(group.split()[0], "sshd")
        print(f"| path | time (median) | vs reference | peak RSS (over baseline) | CPU: client + {server} | runs (s) |")
        print("|---|---|---|---|---|---|")
        for case in members:
            if not case.times:
                continue
            ratio = statistics.median(case.ratios) if case.ratios else 1.0
            runs = ", ".join(f"{t:.2f}" for t in case.times)
            python = case.command[0] == sys.executable
            over = f" (+{max(case.rss_mb) - baseline:.0f})" if python else ""
            # a Python child's own count (the operation only); the net of the baseline child is noisy
            client = statistics.median(case.op_cpu) if case.op_cpu else statistics.median(case.cpu) - (
                baseline_cpu if python else 0.0)  # fmt: skip
            server_cpu = statistics.median(case.server_cpu) if case.server_cpu else 0.0
            print(f"| {case.label} | {statistics.median(case.times):.2f} s | {ratio:.2f}x | "
                  f"{max(case.rss_mb):.0f} MB{over} | {client:.1f} + {server_cpu:.1f} s | {runs} |")  # fmt: skip
        failed += _check(group, {_short(c): c for c in members}, baseline)
    rss = {c.key: max(c.rss_mb) for c in cases if c.rss_mb and c.key.startswith(("ours_odbc", "ours_pg"))}
    for kind in ("ours_odbc", "ours_pg"):
        sizes = sorted((int(k.rsplit("_", 1)[1]), v) for k, v in rss.items() if k.rsplit("_", 1)[0] == kind)
        if len(sizes) > 1 and sizes[-1][1] > 1.1 * sizes[0][1]:
            failed.append(f"{kind}: peak RSS grows with rows ({sizes[0][1]:.0f} -> {sizes[-1][1]:.0f} MB)")
    print()
    for line in failed or ["all targets met"]:
        print(f"- {line}")
    return failed


def _short(case: Case) -> str:
    return case.key if case.group.startswith("sftp") else case.key.rsplit("_", 1)[0]


def _ratio(case: Case | None) -> float | None:
    return statistics.median(case.ratios) if case and case.ratios else None


def _check(group: str, cases: dict[str, Case], baseline: float) -> list[str]:
    failed: list[str] = []
    failed += [f"{group}: {c.label}: {problem}" for c in cases.values() for problem in c.problems]
    if group.startswith("MariaDB"):
        digests = {k: cases[k].digest for k in ("maria_ours", "maria_portable") if k in cases and cases[k].digest}
        if len(digests) == 2 and len(set(digests.values())) != 1:
            failed.append(f"{group}: arrow-odbc output differs from the portable path's")
        return failed
    if group.startswith("sftp"):
        up = group == "sftp"
        ours = _ratio(cases.get("sftp_ours" if up else "get_ours"))
        hook = _ratio(cases.get("store_file" if up else "retrieve_file"))
        most, least = (MAX_SFTP_VS_OPENSSH, MIN_SFTP_SPEEDUP) if up else (MAX_SFTP_GET_VS_OPENSSH, MIN_SFTP_GET_SPEEDUP)
        floor = _ratio(cases.get("sftp_floor" if up else "get_floor"))
        if ours and ours > most:
            failed.append(f"{group}: ours {ours:.2f}x OpenSSH with the same cipher (target <= {most}x)"
                          + (f"; bare asyncssh is {floor:.2f}x" if floor else ""))  # fmt: skip
        if hook and ours and hook < least * ours:
            name = "store_file" if up else "retrieve_file"
            failed.append(f"{group}: ours only {hook / ours:.1f}x faster than {name} (target >= {least}x)")
        default = _ratio(cases.get("openssh_default"))
        if up and ours and default:
            print(f"\nOurs against OpenSSH with its default cipher: {ours / default:.2f}x "
                  "(the two medians of paired ratios divided).")  # fmt: skip
        return failed
    odbc, pg = _ratio(cases.get("ours_odbc")), _ratio(cases.get("ours_pg"))
    if odbc and odbc > MAX_ODBC_VS_PSQL:
        floor = _ratio(cases.get("fetch"))
        failed.append(f"{group}: ours ODBC {odbc:.2f}x psql (target <= {MAX_ODBC_VS_PSQL}x)"
                      + (f"; the driver's fetch alone is {floor:.2f}x" if floor else ""))  # fmt: skip
    if pg and pg > MAX_COPY_VS_PSQL:
        failed.append(f"{group}: ours COPY {pg:.2f}x psql (target <= {MAX_COPY_VS_PSQL}x)")
    for slow in ("records", "pandas"):
        other = _ratio(cases.get(slow))
        if other and odbc and other < MIN_ODBC_SPEEDUP * odbc:
            failed.append(f"{group}: ours ODBC only {other / odbc:.1f}x faster than {slow} (target >= 5x)")
    for key in ("ours_odbc", "ours_pg"):
        if key in cases and cases[key].rss_mb and max(cases[key].rss_mb) - baseline > MAX_RSS_MB:
            failed.append(f"{group}: {key} uses {max(cases[key].rss_mb) - baseline:.0f} MB over the baseline")
    digests = {k: cases[k].digest for k in ("ours_odbc", "portable") if k in cases and cases[k].digest}
    if len(digests) == 2 and len(set(digests.values())) != 1:
        failed.append(f"{group}: arrow-odbc output differs from the portable path's")
    return failed


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[200_000, 2_000_000], help="rows per extract table")
    parser.add_argument("--maria-sizes", type=int, nargs="*", default=[200_000],
                        help="rows per MariaDB extract table; none skips MariaDB")
    parser.add_argument("--repeat", type=int, default=3, help="measured rounds (median reported)")
    parser.add_argument("--slow-repeat", type=int, default=1, help="rounds for get_records/pandas (slow, GBs)")
    parser.add_argument("--slow-max-rows", type=int, default=2_000_000, help="largest table for get_records/pandas")
    parser.add_argument("--skip-slow", action="store_true", help="skip get_records/pandas above --slow-max-rows")
    parser.add_argument("--sftp-mib", type=int, default=1024, help="size of the uploaded file; 0 skips SFTP")
    parser.add_argument("--only", nargs="*", help="only cases whose key contains one of these (e.g. odbc psql)")
    parser.add_argument("--no-verify", dest="verify", action="store_false", help="skip output digests")
    parser.add_argument("--timeout", type=float, default=900, help="seconds before a child is killed")
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="SFTP children write a CPU-time cProfile of their transfer to DIR/<case>.prof "
        "(slower: for finding costs, not for timing)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--sql", help=argparse.SUPPRESS)
    parser.add_argument("--conn", default=ODBC, help=argparse.SUPPRESS)
    parser.add_argument("--columns", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--src", help=argparse.SUPPRESS)
    parser.add_argument("--remote-dir", help=argparse.SUPPRESS)
    parser.add_argument("--remote-name", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        child(args)
        return 0
    from tests.servers import MariaDbServer, PostgresServer, SshServer, find_odbc_driver

    work = Path(tempfile.mkdtemp(prefix="batchtasks-bench-"))
    pg = PostgresServer().start()
    sshd = SshServer().start() if args.sftp_mib else None
    maria = MariaDbServer().start() if args.maria_sizes else None
    try:
        print(f"PostgreSQL on {pg.port}, sshd on {sshd.port if sshd else '-'}, work dir {work}", flush=True)
        for rows in args.sizes:
            pg.execute(TABLE_SQL.format(table=f"bench_{rows}", rows=rows))
            pg.execute(f"vacuum analyze bench_{rows}")
        for rows in args.maria_sizes if maria else []:
            maria.execute(MARIA_TABLE_SQL.format(table=f"maria_{rows}", rows=rows) + f"; analyze table maria_{rows}")
        src = None
        if sshd:
            src = work / "upload.bin"
            with open(src, "wb") as fh:
                for _ in range(args.sftp_mib):
                    fh.write(os.urandom(1 << 20))
        home = work / "airflow_home"
        home.mkdir()
        env = {
            **os.environ, **connections(pg, sshd, find_odbc_driver(), maria),
            "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__PROVIDERS_ODBC__ALLOW_DRIVER_IN_EXTRA": "True", "PGPASSWORD": pg.password,
            "PYTHONPATH": str(ROOT), "PYTHONPYCACHEPREFIX": str(work / "pycache"),
        }  # fmt: skip
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # children import from cached bytecode, as a deployment does
        cases = build_cases(args, work, pg, sshd, src, maria)
        run_child(cases[0].command, env, args.timeout)  # fills the bytecode cache, not measured
        load_start = os.getloadavg()[0]
        measure(cases, args, env, sshd)
        failed = report(cases, args, (load_start, os.getloadavg()[0]))
    finally:
        pg.close()
        if sshd:
            sshd.close()
        if maria:
            maria.close()
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
