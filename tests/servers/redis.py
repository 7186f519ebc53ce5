"""A throwaway Redis (Debian's ``redis-server``) on a free loopback port: the Celery broker of the e2e tests.

Started with every persistence feature off and its own temporary folder, so it leaves nothing behind and
never touches a Redis the machine may already run on 6379.
"""

from __future__ import annotations

import socket
import subprocess

from tests.servers._common import ChildServer, require_binary, wait_until


def _pong(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(7) == b"+PONG\r\n"
    except OSError:
        return False


class RedisServer(ChildServer):
    """``redis-server`` bound to 127.0.0.1:<free port>, no password, no persistence.

    ``url`` is what Celery's ``broker_url`` takes (database 0).
    """

    def __init__(self, *, startup_timeout: float = 20) -> None:
        self.binary = require_binary("redis-server", "redis-server")
        super().__init__("redis", "redis.log", startup_timeout)

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

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

