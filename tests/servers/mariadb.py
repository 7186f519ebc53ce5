"""Throwaway MariaDB server on a free loopback port, reached by tests through MariaDB Connector/ODBC.

Why a second ODBC server: every ODBC test used to go through psqlODBC, so a habit of that one driver
(decimals as text, booleans as ``1``/``0`` strings, how it reports column sizes) could pass for "ODBC".
MariaDB's driver (Debian's ``odbc-mariadb``) reports types its own way. Like the PostgreSQL harness:
no system service and no container, its own datadir, socket and log in one temp dir, started and
stopped by the fixture; data is disposable (no fsync).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from typing import Any

from tests.servers._common import (
    ChildServer,
    ServerBinaryMissing,
    read_tail,
    require_binary,
    run,
    wait_until,
)

MARIADB_ODBC_GLOBS = (
    "/usr/lib/x86_64-linux-gnu/odbc/libmaodbc.so",
    "/usr/lib/*/odbc/libmaodbc.so",
    "/usr/lib*/libmaodbc.so",
    "/usr/local/lib*/libmaodbc.so",
)


def find_mariadb_odbc_driver() -> str:
    """Path of MariaDB Connector/ODBC; used as ``Driver={...}`` so no odbcinst.ini entry is needed."""
    for pattern in MARIADB_ODBC_GLOBS:
        hits = sorted(glob.glob(pattern))
        if hits:
            return hits[0]
    raise ServerBinaryMissing("libmaodbc.so not found: install Debian package odbc-mariadb (dev/test.sh does it)")


def find_mariadb_cli() -> str:
    """The ``mariadb`` client (``mysql`` on older packages), the ``--batch`` reference of the benchmark."""
    for name in ("mariadb", "mysql"):
        path = shutil.which(name)
        if path:
            return path
    raise ServerBinaryMissing("mariadb client not found: install Debian package mariadb-client")


class MariaDbServer(ChildServer):
    """Private ``mariadbd`` with user ``batch``/``batch`` owning database ``batch``.

    Attributes used by tests: ``host``, ``port``, ``user``, ``password``, ``database``, ``socket``;
    methods ``odbc_connection_string()``, ``execute()`` (as root over the socket, through the CLI),
    ``cli()`` (the ``mariadb`` client's argv for the benchmark), ``stop()``/``start()`` (same port).
    """

    def __init__(
        self, *, user: str = "batch", password: str = "batch", database: str = "batch", startup_timeout: float = 60
    ) -> None:
        super().__init__("mariadb", "mariadb.log", startup_timeout)
        self.mariadbd = require_binary("/usr/sbin/mariadbd", "mariadb-server", "mariadbd")
        self.install_db = require_binary("mariadb-install-db", "mariadb-server")
        self.client = find_mariadb_cli()
        self.user = user
        self.password = password
        self.database = database
        self.data_dir = self.tmpdir / "data"
        self.socket = str(self.tmpdir / "mariadb.sock")
        self._initialized = False

    def _server_args(self) -> list[str]:
        args = [
            "--no-defaults",
            f"--datadir={self.data_dir}",
            f"--socket={self.socket}",
            f"--pid-file={self.tmpdir / 'mariadb.pid'}",
            f"--log-error={self.log_path}",
            f"--bind-address={self.host}",
            f"--port={self.port}",
            "--skip-name-resolve",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_bin",
            "--default-time-zone=+00:00",
            "--innodb-flush-log-at-trx-commit=0",
            "--innodb-doublewrite=0",
            "--innodb-buffer-pool-size=64M",
            "--skip-log-bin",
        ]
        if os.geteuid() == 0:
            args.append("--user=root")  # mariadbd refuses to run as root unless told so
        return args

    def _install(self) -> None:
        """Create the system tables once; root logs in over the socket without a password."""
        self.data_dir.mkdir()
        cmd = [self.install_db, "--no-defaults", f"--datadir={self.data_dir}", "--skip-test-db",
               "--auth-root-authentication-method=normal"]  # fmt: skip
        if os.geteuid() == 0:
            cmd.append("--user=root")
        run(cmd, cwd=self.tmpdir, timeout=180)

    def start(self) -> MariaDbServer:
        """Install on first call, then start ``mariadbd`` and wait until the socket answers."""
        if self.running:
            return self
        first = not self._initialized
        if first:
            self._install()
            self._initialized = True
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                [self.mariadbd, *self._server_args()], stdout=log, stderr=subprocess.STDOUT, cwd=self.tmpdir
            )
        try:
            wait_until(self._answers, timeout=self.startup_timeout, describe="mariadbd accepting connections")
        except TimeoutError as exc:
            raise RuntimeError(f"{exc}\nserver log:\n{read_tail(self.log_path)}") from None
        if first:
            self.execute(
                f"CREATE DATABASE {self.database} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin; "
                f"CREATE USER '{self.user}'@'%' IDENTIFIED BY '{self.password}'; "
                f"GRANT ALL ON {self.database}.* TO '{self.user}'@'%';",
                database="mysql",
            )
        return self

    def _answers(self) -> bool:
        if self._proc is not None and self._proc.poll() is not None:
            raise RuntimeError(f"mariadbd exited with {self._proc.returncode}:\n{read_tail(self.log_path)}")
        try:
            self.execute("SELECT 1", database="mysql")
        except RuntimeError:
            return False
        return True

    def root_cli(self, database: str | None = None) -> list[str]:
        return [self.client, "--no-defaults", "--protocol=socket", f"--socket={self.socket}", "-uroot",
                database or self.database]  # fmt: skip

    def cli(self, *args: str) -> list[str]:
        """The ``mariadb`` client as the test user over TCP, the way a user's ``--batch`` export runs."""
        return [self.client, "--no-defaults", "--protocol=tcp", f"-h{self.host}", f"-P{self.port}",
                f"-u{self.user}", f"-p{self.password}", *args, self.database]  # fmt: skip

    def execute(self, sql: str, *, database: str | None = None) -> str:
        """Run SQL as root through the client (statements separated by ``;``); returns its ``--batch`` output."""
        db = database or self.database
        proc = subprocess.run(
            [*self.root_cli(db), "--batch", "-e", sql], capture_output=True, text=True, timeout=120
        )
        if proc.returncode != 0:
            raise RuntimeError(f"mariadb client failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc.stdout

    def odbc_connection_string(self, **extra: str | int) -> str:
        """Connection string for pyodbc, naming the driver by file path."""
        parts: dict[str, str | int] = {
            "Driver": "{" + find_mariadb_odbc_driver() + "}",
            "Server": self.host,
            "Port": self.port,
            "Database": self.database,
            "Uid": self.user,
            "Pwd": self.password,
        }
        parts.update(extra)
        return "".join(f"{k}={v};" for k, v in parts.items())

    def connect(self) -> Any:
        """pyodbc connection as the test user (autocommit), to seed data with bound parameters."""
        import pyodbc

        return pyodbc.connect(self.odbc_connection_string(), autocommit=True)

    def __repr__(self) -> str:
        return f"MariaDbServer({self.user}@{self.host}:{self.port}/{self.database}, data={self.data_dir})"

