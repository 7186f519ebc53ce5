"""Throwaway PostgreSQL cluster on a free loopback port, reached by tests via psqlODBC and psycopg2.

Why a private cluster (not the distro's "main" cluster or a container): CI runs as root without
systemd or docker, and fault-injection tests stop the server mid-extract, which must not disturb
anything else. Everything (data dir, socket dir, log) lives in one temp dir.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import shutil
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psutil

from tests.servers._common import LOOPBACK, ServerBinaryMissing, free_port, read_tail, run, wait_until

PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
ODBC_DRIVER_GLOBS = (
    "/usr/lib/x86_64-linux-gnu/odbc/psqlodbcw.so",
    "/usr/lib/*/odbc/psqlodbcw.so",
    "/usr/lib*/psqlodbcw.so",
    "/usr/local/lib*/psqlodbcw.so",
)


def find_pg_bin() -> Path:
    """Newest ``/usr/lib/postgresql/<major>/bin`` containing initdb (Debian doesn't put it on PATH)."""
    candidates = [Path(p) for p in glob.glob(PG_BIN_GLOB) if (Path(p) / "initdb").exists()]
    if not candidates:
        raise ServerBinaryMissing("initdb not found: install Debian package postgresql (dev/test.sh does it)")
    return max(candidates, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)


def find_odbc_driver() -> str:
    """Path of the psqlODBC Unicode driver; used directly as ``Driver={...}`` so no odbcinst.ini is needed."""
    for pattern in ODBC_DRIVER_GLOBS:
        hits = sorted(glob.glob(pattern))
        if hits:
            return hits[0]
    raise ServerBinaryMissing(
        "psqlodbcw.so not found: install Debian package odbc-postgresql (dev/test.sh does it)"
    )


class PostgresServer:
    """Private PostgreSQL cluster with role ``batch``/``batch`` owning database ``batch``.

    Attributes used by tests: ``host``, ``port``, ``user``, ``password``, ``database``, ``dsn``
    (libpq URI), ``superuser`` (``postgres``), ``socket_dir``, ``data_dir``, ``log_path``; methods
    ``odbc_connection_string()``, ``execute()``, ``connect()``, ``stop()``/``start()`` (same port).
    """

    def __init__(
        self,
        *,
        user: str = "batch",
        password: str = "batch",
        database: str = "batch",
        auth: str = "trust",
        startup_timeout: int = 60,
    ) -> None:
        self.bin = find_pg_bin()
        self.host = LOOPBACK
        self.port = free_port()
        self.user = user
        self.password = password
        self.database = database
        self.superuser = "postgres"
        self.auth = auth  # "trust" (default) or "scram-sha-256" to make passwords matter
        self.startup_timeout = startup_timeout
        self.tmpdir = Path(tempfile.mkdtemp(prefix="batchtasks-pg-"))
        self.data_dir = self.tmpdir / "data"
        self.socket_dir = self.tmpdir / "sock"
        self.log_path = self.tmpdir / "postgres.log"
        self._as_postgres = os.geteuid() == 0
        self._initialized = False
        # Scripts that crash (or forget close()) must not leave servers running and temp dirs behind.
        atexit.register(self.close)

    @property
    def dsn(self) -> str:
        return (
            f"postgresql://{quote(self.user, safe='')}:{quote(self.password, safe='')}"
            f"@{self.host}:{self.port}/{quote(self.database, safe='')}"
        )

    @property
    def running(self) -> bool:
        """Postmaster alive per its pid file, so a server killed behind our back counts as stopped."""
        pid = self._postmaster_pid()
        return pid is not None and _alive(pid)

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def _clear_stale_pid_file(self) -> None:
        """After a SIGKILLed postmaster, its pid file stays and postgres refuses to start while that pid
        exists, which includes an unreaped zombie (container inits can take seconds to reap). Wait for it
        to vanish; if it is still a zombie, the pid file is provably stale and can be removed."""
        pid = self._postmaster_pid()
        if pid is None or _alive(pid):
            return
        with contextlib.suppress(TimeoutError):
            wait_until(lambda: not psutil.pid_exists(pid), timeout=5, describe="old postmaster reaped")
        (self.data_dir / "postmaster.pid").unlink(missing_ok=True)

    # -- process helpers ---------------------------------------------------------------------------

    def _cmd(self, tool: str, *args: str) -> list[str]:
        """initdb/pg_ctl refuse to run as root, so as root they run as the ``postgres`` OS user."""
        cmd = [str(self.bin / tool), *args]
        if self._as_postgres:
            runuser = shutil.which("runuser")
            if runuser is None:
                raise ServerBinaryMissing("runuser not found: install Debian package util-linux")
            cmd = [runuser, "-u", "postgres", "--", *cmd]
        return cmd

    def _pg(self, tool: str, *args: str, timeout: float = 120) -> None:
        try:
            run(self._cmd(tool, *args), cwd=self.tmpdir, timeout=timeout)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\nserver log:\n{read_tail(self.log_path)}") from None

    def _chown_to_postgres(self) -> None:
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            raise ServerBinaryMissing(
                "OS user postgres not found: install Debian package postgresql (dev/test.sh does it)"
            ) from None
        for path in [self.tmpdir, *self.tmpdir.rglob("*")]:
            os.chown(path, pw.pw_uid, pw.pw_gid)

    # -- lifecycle ---------------------------------------------------------------------------------

    def _initdb(self) -> None:
        """Create the cluster once; settings favour speed (fsync off) since the data is disposable."""
        self.socket_dir.mkdir()
        self.log_path.touch()
        if self._as_postgres:
            self._chown_to_postgres()
        self._pg(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            self.superuser,
            "-E",
            "UTF8",
            "--locale=C",
            "-A",
            "trust",
            "--no-sync",
        )
        conf = [
            f"listen_addresses = '{self.host}'",
            f"port = {self.port}",
            f"unix_socket_directories = '{self.socket_dir}'",
            "fsync = off",
            "synchronous_commit = off",
            "full_page_writes = off",
            "max_connections = 50",
            "shared_buffers = 32MB",
            "timezone = 'UTC'",  # psqlODBC hands timestamptz to pyodbc as naive datetimes in this zone
            "log_min_messages = warning",
        ]
        with open(self.data_dir / "postgresql.conf", "a") as fh:
            fh.write("\n# batchtasks test harness\n" + "\n".join(conf) + "\n")
        (self.data_dir / "pg_hba.conf").write_text(
            f"local all all trust\nhost all all 127.0.0.1/32 {self.auth}\nhost all all ::1/128 {self.auth}\n"
        )
        if self._as_postgres:
            self._chown_to_postgres()

    def _bootstrap_roles(self) -> None:
        self.execute(
            f"CREATE ROLE {self.user} LOGIN PASSWORD %s",
            (self.password,),
            superuser=True,
            database="postgres",
        )
        self.execute(
            f"CREATE DATABASE {self.database} OWNER {self.user}", superuser=True, database="postgres"
        )

    def start(self) -> PostgresServer:
        """Initialise on first call, then ``pg_ctl start -w`` (returns once connections are accepted)."""
        if self.running:
            return self
        first = not self._initialized
        if first:
            self._initdb()
            self._initialized = True
        else:
            self._clear_stale_pid_file()
        self._pg(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_path),
            "-w",
            "-t",
            str(self.startup_timeout),
            "start",
            timeout=self.startup_timeout + 30,
        )
        if first:
            self._bootstrap_roles()
        return self

    def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop``; ``fast`` disconnects clients, ``immediate`` simulates a crash."""
        if self.running:
            self._pg("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop")

    def restart(self) -> PostgresServer:
        self.stop()
        return self.start()

    def close(self) -> None:
        """Stop (immediately; data is thrown away anyway) and delete the temp dir."""
        try:
            self.stop(mode="immediate")
        finally:
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- client helpers ----------------------------------------------------------------------------

    def odbc_connection_string(
        self,
        *,
        use_declare_fetch: bool = False,
        fetch: int = 100,
        database: str | None = None,
        **extra: str | int,
    ) -> str:
        """Connection string for pyodbc / OdbcHook, naming the driver by file path.

        ``use_declare_fetch=True`` makes psqlODBC stream via a server-side cursor in ``fetch``-row chunks
        instead of buffering the whole result set in client memory (what large extracts need).
        """
        parts: dict[str, str | int] = {
            "Driver": "{" + find_odbc_driver() + "}",
            "Server": self.host,
            "Port": self.port,
            "Database": database or self.database,
            "Uid": self.user,
            "Pwd": self.password,
            "SSLmode": "disable",
        }
        if use_declare_fetch:
            parts.update(UseDeclareFetch=1, Fetch=fetch)
        parts.update(extra)
        return "".join(f"{k}={v};" for k, v in parts.items())

    def connect(
        self, *, superuser: bool = False, database: str | None = None, autocommit: bool = True
    ) -> Any:
        """psycopg2 connection (superuser goes through the unix socket, where auth is always trust)."""
        import psycopg2

        if superuser:
            conn = psycopg2.connect(
                host=str(self.socket_dir), port=self.port, user=self.superuser, dbname=database or "postgres"
            )
        else:
            conn = psycopg2.connect(
                host=self.host,
                port=self.port,
                user=self.user,
                password=self.password,
                dbname=database or self.database,
            )
        conn.autocommit = autocommit
        return conn

    def execute(
        self,
        sql: str,
        params: tuple[Any, ...] | dict[str, Any] | None = None,
        *,
        superuser: bool = False,
        database: str | None = None,
    ) -> list[tuple[Any, ...]]:
        """Run one statement (autocommit) to seed/inspect data; returns rows, or ``[]`` if none."""
        conn = self.connect(superuser=superuser, database=database)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return list(cur.fetchall()) if cur.description is not None else []
        finally:
            conn.close()

    def terminate_backends(self, database: str | None = None) -> int:
        """Kill client sessions on ``database`` while the server stays up (a dropped-connection fault)."""
        rows = self.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (database or self.database,),
            superuser=True,
        )
        return int(rows[0][0])

    def __repr__(self) -> str:
        return f"PostgresServer({self.user}@{self.host}:{self.port}/{self.database}, data={self.data_dir})"


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
