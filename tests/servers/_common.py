"""Small helpers shared by the throwaway-server harnesses (ports, binaries, waiting).

Kept separate so ``sshd.py`` and ``postgres.py`` stay focused on their own server.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # typing.Self is 3.11+; the tests also run on Python 3.10
    from typing import Self

LOOPBACK = "127.0.0.1"


class ServerBinaryMissing(RuntimeError):
    """A server binary is not installed; the message says which Debian package provides it.

    Integration tests must fail loudly instead of skipping, so CI never goes green without them.
    """


def free_port(host: str = LOOPBACK) -> int:
    """Return a port that is free right now, found by binding port 0 and letting the kernel choose."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """True when ``port`` can be bound; used to make sure a restart really gets the same port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def require_binary(path_or_name: str, package: str, what: str | None = None) -> str:
    """Resolve a binary or raise a clear, actionable error naming the Debian package to install."""
    found = path_or_name if os.path.isabs(path_or_name) and os.access(path_or_name, os.X_OK) else None
    found = found or shutil.which(path_or_name) or shutil.which(Path(path_or_name).name)
    if not found:
        label = what or Path(path_or_name).name
        raise ServerBinaryMissing(
            f"{label} not found: install Debian package {package} (dev/test.sh does it)"
        )
    return found


def read_tail(path: Path, limit: int = 4000) -> str:
    """Last part of a log file, for error messages when a server fails to come up."""
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return "<no log>"


def wait_until(
    ready: Callable[[], bool],
    *,
    timeout: float,
    describe: str,
    alive: Callable[[], bool] | None = None,
    log_path: Path | None = None,
) -> None:
    """Poll ``ready`` until true; fail fast (with the server log) if the process died meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        if ready():
            return
        if alive is not None and not alive():
            log = read_tail(log_path) if log_path else ""
            raise RuntimeError(f"{describe}: server process exited early.\n{log}")
        if time.monotonic() > deadline:
            log = read_tail(log_path) if log_path else ""
            raise TimeoutError(f"{describe}: not ready after {timeout:.0f}s.\n{log}")
        time.sleep(0.05)


def tcp_banner_starts_with(host: str, port: int, prefix: bytes, timeout: float = 1.0) -> bool:
    """True when a TCP connect succeeds and the server greets with ``prefix`` (e.g. ``b"SSH-"``)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            return sock.recv(len(prefix)) == prefix
    except OSError:
        return False


def run(cmd: list[str], *, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a setup command, raising with its full output on failure (bare CalledProcessError hides it)."""
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(
            f"command failed ({proc.returncode}): {' '.join(cmd)}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


class ChildServer:
    """A server run as one child process on a free loopback port, its files in a temp dir.

    Subclasses write ``start()`` (launch ``self._proc`` and wait until it serves); stopping,
    cleaning up and the context manager are the same for all of them.
    """

    def __init__(self, name: str, log_name: str, startup_timeout: float) -> None:
        self.host = LOOPBACK
        self.port = free_port()
        self.startup_timeout = startup_timeout
        self.tmpdir = Path(tempfile.mkdtemp(prefix=f"batchtasks-{name}-"))
        self.log_path = self.tmpdir / log_name
        self._proc: subprocess.Popen[bytes] | None = None
        atexit.register(self.close)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> Self:
        raise NotImplementedError

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

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
