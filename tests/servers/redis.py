"""A throwaway Redis (Debian's ``redis-server``) on a free loopback port: the Celery broker of the e2e tests.

Started with every persistence feature off and its own temporary folder, so it leaves nothing behind and
never touches a Redis the machine may already run on 6379.
"""

from __future__ import annotations

import atexit
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from tests.servers._common import LOOPBACK, free_port, require_binary, wait_until


def _pong(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(7) == b"+PONG\r\n"
    except OSError:
        return False


class RedisServer:
    """``redis-server`` bound to 127.0.0.1:<free port>, no password, no persistence.

    ``url`` is what Celery's ``broker_url`` takes (database 0).
    """

    def __init__(self, *, startup_timeout: float = 20) -> None:
        self.binary = require_binary("redis-server", "redis-server")
        self.host = LOOPBACK
        self.port = free_port()
        self.startup_timeout = startup_timeout
        self.tmpdir = Path(tempfile.mkdtemp(prefix="batchtasks-redis-"))
        self.log_path = self.tmpdir / "redis.log"
        self._proc: subprocess.Popen[bytes] | None = None
        atexit.register(self.close)

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> RedisServer:
        if self.running:
            return self
        args = [
            self.binary, "--bind", self.host, "--port", str(self.port), "--dir", str(self.tmpdir),
            "--save", "", "--appendonly", "no", "--protected-mode", "yes", "--daemonize", "no",
            "--logfile", str(self.log_path),
        ]
        self._proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(lambda: _pong(self.host, self.port), timeout=self.startup_timeout, describe="redis-server",
                   alive=lambda: self.running, log_path=self.log_path)
        return self

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
