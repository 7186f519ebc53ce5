"""Throwaway FTP server (pyftpdlib) on a free loopback port, for FTP source/destination tests.

Why pyftpdlib in a child process (not vsftpd, not a thread): vsftpd insists on root-owned chroots,
PAM users and a fixed config path, while pyftpdlib takes a user, a password and a folder on the
command line; a separate process keeps its event loop off the test's GIL and lets a test stop the
server mid-transfer like a real outage. ``root`` is the FTP root: FTP path ``/incoming`` is
``root / "incoming"`` on disk.
"""

from __future__ import annotations

import ftplib
import subprocess
import sys

from tests.servers._common import (
    ChildServer,
    ServerBinaryMissing,
    port_is_free,
    tcp_banner_starts_with,
    wait_until,
)


class FtpServer(ChildServer):
    """pyftpdlib with one read-write user; ``stop()``/``start()`` keep the same port.

    Attributes used by tests: ``host``, ``port``, ``username``, ``password``, ``root`` (the FTP
    root folder on disk), ``log_path``; ``client()`` returns a logged-in ``ftplib.FTP``.
    """

    def __init__(self, *, username: str = "vendor", password: str = "s3cret-ftp", startup_timeout: float = 30.0):
        try:
            import pyftpdlib  # noqa: F401
        except ImportError:
            raise ServerBinaryMissing("pyftpdlib not installed: run `uv sync` (it is a dev dependency)") from None
        super().__init__("ftp", "ftpd.log", startup_timeout)
        self.username = username
        self.password = password
        self.root = self.tmpdir / "root"
        self.root.mkdir()
        self._log_file = None

    def start(self) -> FtpServer:
        """Start (or restart) on the same port; returns once the ``220`` greeting is served."""
        if self.running:
            return self
        wait_until(lambda: port_is_free(self.port), timeout=self.startup_timeout, describe=f"port {self.port} busy")
        self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the process lifetime
        self._proc = subprocess.Popen(
            [
                sys.executable, "-m", "pyftpdlib", "-i", self.host, "-p", str(self.port), "-w",
                "-d", str(self.root), "-u", self.username, "-P", self.password,
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(
            lambda: tcp_banner_starts_with(self.host, self.port, b"220"),
            timeout=self.startup_timeout,
            describe=f"pyftpdlib on {self.host}:{self.port}",
            alive=lambda: self.running,
            log_path=self.log_path,
        )
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Kill the server (and with it every open session: the async server is one process)."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=timeout)
        self._proc = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def client(self) -> ftplib.FTP:
        ftp = ftplib.FTP()
        ftp.connect(self.host, self.port, timeout=10)
        ftp.login(self.username, self.password)
        return ftp

    def __repr__(self) -> str:
        return f"FtpServer({self.username}@{self.host}:{self.port}, root={self.root})"
