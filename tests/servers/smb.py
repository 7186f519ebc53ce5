"""Throwaway Samba ``smbd`` on a free loopback port, for SMB source/destination tests.

Why a private smbd (not the distro's service or a container): CI runs as root without systemd or
docker, and tests must not touch the machine's own shares or passdb. Everything smbd writes (state,
locks, private passdb, logs, the share) lives in one temp dir; the config names each of those
folders, so nothing falls back to /var/lib/samba. Direct TCP (``smb ports``) on the chosen port,
no NetBIOS, SMB2+ only, which is what smbprotocol (the Samba provider's client) speaks.
"""

from __future__ import annotations

import atexit
import contextlib
import getpass
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from tests.servers._common import (
    LOOPBACK,
    free_port,
    port_is_free,
    require_binary,
    wait_until,
)

SMBD = "/usr/sbin/smbd"


class SmbServer:
    """``smbd --foreground`` with one share ``files`` (read-write) and one user with a known password.

    Attributes used by tests: ``host``, ``port``, ``username`` (the current OS user: Samba users must
    map to one), ``password``, ``share``, ``root`` (the share's folder on disk), ``log_path``.
    ``stop()``/``start()`` keep the same port.
    """

    def __init__(self, *, password: str = "s3cret-smb", share: str = "files", startup_timeout: float = 30.0):
        self.smbd = require_binary(SMBD, "samba", "smbd")
        self.smbpasswd = require_binary("smbpasswd", "samba")
        self.host = LOOPBACK
        self.port = free_port()
        self.username = getpass.getuser()
        self.password = password
        self.share = share
        self.startup_timeout = startup_timeout
        self.tmpdir = Path(tempfile.mkdtemp(prefix="batchtasks-smb-"))
        self.root = self.tmpdir / "share"
        self.log_path = self.tmpdir / "smbd.log"
        self.config_path = self.tmpdir / "smb.conf"
        for sub in ("share", "private", "lock", "state", "cache", "pid", "ncalrpc", "logs"):
            (self.tmpdir / sub).mkdir(mode=0o755)
        os.chmod(self.tmpdir / "private", 0o700)
        self._write_config()
        self._add_user()
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file = None
        atexit.register(self.close)

    def _write_config(self) -> None:
        t = self.tmpdir
        lines = [
            "[global]",
            "server role = standalone server",
            f"smb ports = {self.port}",
            f"interfaces = {self.host}",
            "bind interfaces only = yes",
            "disable netbios = yes",
            "server min protocol = SMB2_02",
            f"private dir = {t / 'private'}",
            f"lock directory = {t / 'lock'}",
            f"state directory = {t / 'state'}",
            f"cache directory = {t / 'cache'}",
            f"pid directory = {t / 'pid'}",
            f"ncalrpc dir = {t / 'ncalrpc'}",
            f"log file = {t / 'logs' / 'log.%m'}",
            f"passdb backend = tdbsam:{t / 'private' / 'passdb.tdb'}",
            "map to guest = never",
            "restrict anonymous = 2",
            "load printers = no",
            "printing = bsd",
            "printcap name = /dev/null",
            "disable spoolss = yes",
            "usershare max shares = 0",
            "log level = 1",
            "",
            f"[{self.share}]",
            f"path = {self.root}",
            "read only = no",
            f"valid users = {self.username}",
            "create mask = 0644",
        ]
        self.config_path.write_text("\n".join(lines) + "\n")

    def _add_user(self) -> None:
        """Add the user to the private passdb (``-s`` reads the password twice from stdin)."""
        proc = subprocess.run(
            [self.smbpasswd, "-c", str(self.config_path), "-a", "-s", self.username],
            input=f"{self.password}\n{self.password}\n",
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"smbpasswd -a failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _serves_smb(self) -> bool:
        """True once an SMB2 negotiate gets an answer (a bare TCP accept comes earlier than that)."""
        import uuid

        from smbprotocol.connection import Connection

        conn = Connection(uuid.uuid4(), self.host, self.port, require_signing=False)
        try:
            conn.connect(timeout=2)
        except Exception:
            return False
        conn.disconnect()
        return True

    def start(self) -> SmbServer:
        """Start (or restart) on the same port and return once SMB2 negotiation works."""
        if self.running:
            return self
        wait_until(lambda: port_is_free(self.port), timeout=self.startup_timeout, describe=f"port {self.port} busy")
        self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the process lifetime
        self._proc = subprocess.Popen(
            [self.smbd, "--foreground", "--no-process-group", "--debug-stdout", "-s", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            cwd=self.tmpdir,
            start_new_session=True,
        )
        wait_until(
            self._serves_smb,
            timeout=self.startup_timeout,
            describe=f"smbd on {self.host}:{self.port}",
            alive=lambda: self.running,
            log_path=self.log_path,
        )
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Kill smbd and its per-client children (they share its session, started with its own)."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            # smbd forks one child per client; they are in the session/process group we created.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout)
        self._proc = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    def __enter__(self) -> SmbServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SmbServer({self.username}@{self.host}:{self.port}/{self.share}, root={self.root})"
