"""Throwaway OpenSSH server on a free loopback port, for SFTP/SSH integration and fault-injection tests.

Why a real sshd (not a paramiko stub): the provider talks to servers through Airflow's SSH/SFTP hooks,
and the interesting failures (server vanishing mid-upload, reconnects) only show up against the real
thing. All state (host key, user key, config, pid file, log, upload area) lives in one temp dir.
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

import psutil

from tests.servers._common import (
    LOOPBACK,
    free_port,
    port_is_free,
    require_binary,
    run,
    tcp_banner_starts_with,
    wait_until,
)

SSHD = "/usr/sbin/sshd"
PRIVSEP_DIR = Path("/run/sshd")


class SshServer:
    """``sshd -D -e`` with a generated config; key-only login as the current user.

    Attributes used by tests: ``host``, ``port``, ``username``, ``private_key_path``, ``private_key``
    (OpenSSH-format text), ``public_key``, ``host_public_key``, ``root`` (empty upload area),
    ``tmpdir`` and ``log_path``. ``stop()``/``start()`` keep the same port so a test can kill the
    server mid-transfer and bring it back.
    """

    def __init__(self, *, key_type: str = "ed25519", startup_timeout: float = 30.0) -> None:
        self.sshd = require_binary(SSHD, "openssh-server", "sshd")
        self.ssh_keygen = require_binary("ssh-keygen", "openssh-client")
        self.host = LOOPBACK
        self.port = free_port()
        self.username = getpass.getuser()
        self.startup_timeout = startup_timeout
        self.tmpdir = Path(tempfile.mkdtemp(prefix="batchtasks-sshd-"))
        self.root = self.tmpdir / "root"
        self.root.mkdir()
        self.log_path = self.tmpdir / "sshd.log"
        self.config_path = self.tmpdir / "sshd_config"
        self.host_key_path = self.tmpdir / "ssh_host_ed25519_key"
        self.private_key_path = self.tmpdir / f"id_{key_type}"
        self._generate_keys(key_type)
        self.private_key = self.private_key_path.read_text()
        self.public_key = self.private_key_path.with_suffix(".pub").read_text().strip()
        self.host_public_key = self.host_key_path.with_suffix(".pub").read_text().strip()
        (self.tmpdir / "authorized_keys").write_text(self.public_key + "\n")
        self._write_config()
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file = None
        # Scripts that crash (or forget close()) must not leave servers running and temp dirs behind.
        atexit.register(self.close)

    # -- setup -------------------------------------------------------------------------------------

    def _generate_keys(self, key_type: str) -> None:
        """Fresh keys per run, so nothing depends on (or leaks into) the machine's own ssh setup."""
        self._keygen(self.host_key_path, "ed25519", "batchtasks-host")
        # RSA in PEM is the most widely parseable user key; ed25519 is the default and modern choice.
        extra = ["-b", "3072", "-m", "PEM"] if key_type == "rsa" else []
        self._keygen(self.private_key_path, key_type, "batchtasks-user", *extra)

    def _keygen(self, path: Path, key_type: str, comment: str, *extra: str) -> None:
        run([self.ssh_keygen, "-q", "-t", key_type, *extra, "-N", "", "-C", comment, "-f", str(path)])

    def _write_config(self) -> None:
        """Config that ignores /etc/ssh entirely; StrictModes/UsePAM off so a temp dir + root works."""
        lines = [
            f"Port {self.port}",
            f"ListenAddress {self.host}",
            f"HostKey {self.host_key_path}",
            f"PidFile {self.tmpdir / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.tmpdir / 'authorized_keys'}",
            f"AllowUsers {self.username}",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "StrictModes no",
            "UsePAM no",
            "UseDNS no",
            "PrintMotd no",
            "MaxStartups 100",
            "MaxSessions 100",
            "LogLevel VERBOSE",
            "Subsystem sftp internal-sftp",
        ]
        self.config_path.write_text("\n".join(lines) + "\n")

    def connection(self, conn_type: str = "sftp", **extra: object) -> dict[str, object]:
        """An Airflow ``sftp`` (or ``ssh``) connection to this server, key auth, host key not checked."""
        return {
            "conn_type": conn_type, "host": self.host, "port": self.port, "login": self.username,
            "extra": {"private_key": self.private_key, "no_host_key_check": True, **extra},
        }

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> SshServer:
        """Start (or restart) on the same port and return once the SSH banner is served."""
        if self.running:
            return self
        if os.geteuid() == 0:
            # sshd refuses to start without its privilege-separation directory (not created in containers).
            PRIVSEP_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
        wait_until(
            lambda: port_is_free(self.port),
            timeout=self.startup_timeout,
            describe=f"port {self.port} still busy before sshd restart",
        )
        self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the process lifetime
        self._proc = subprocess.Popen(
            [self.sshd, "-D", "-e", "-f", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            cwd=self.tmpdir,
            start_new_session=True,
        )
        wait_until(
            lambda: tcp_banner_starts_with(self.host, self.port, b"SSH-"),
            timeout=self.startup_timeout,
            describe=f"sshd on {self.host}:{self.port}",
            alive=lambda: self.running,
            log_path=self.log_path,
        )
        return self

    def stop(self, *, kill_sessions: bool = True, timeout: float = 10.0) -> None:
        """Stop the listener; by default first SIGKILL the per-connection sshd processes.

        sshd session processes call setsid(), so they are not in the listener's process group and
        would survive it (open SFTP transfers would keep working). Killing them is what a
        "server went away mid-upload" test needs. They are killed *before* the listener so the
        listener reaps them; orphaned zombies are reaped late by some init processes (seconds).
        """
        proc = self._proc
        if proc is None:
            return
        if kill_sessions and proc.poll() is None:
            try:
                sessions = psutil.Process(proc.pid).children(recursive=True)
            except psutil.NoSuchProcess:
                sessions = []
            for child in sessions:
                with contextlib.suppress(psutil.NoSuchProcess):
                    child.kill()
            wait_until(
                lambda: all(_gone(child) for child in sessions),
                timeout=timeout,
                describe="sshd session processes did not exit",
            )
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)
        self._proc = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def restart(self) -> SshServer:
        self.stop()
        return self.start()

    def close(self) -> None:
        """Stop and delete all state (keys, config, upload area)."""
        self.stop()
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    def __enter__(self) -> SshServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SshServer({self.username}@{self.host}:{self.port}, root={self.root})"


def _gone(process: psutil.Process) -> bool:
    """Exited or zombie: either way its sockets are closed, which is all a fault-injection test needs."""
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
