"""Pytest fixtures for the throwaway servers, importable from any conftest (integration, e2e).

Session scope because starting servers per test would dominate run time; a per-test guard restarts a
server that a fault-injection test left stopped, so one failing test cannot cascade into the rest.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers.ftp import FtpServer
from tests.servers.mariadb import MariaDbServer
from tests.servers.postgres import PostgresServer
from tests.servers.smb import SmbServer
from tests.servers.smtp import SmtpServer
from tests.servers.sshd import SshServer


@pytest.fixture(scope="session")
def sshd_server() -> Iterator[SshServer]:
    """OpenSSH on 127.0.0.1:<free port>; key-only login as the current user (see ``SshServer``)."""
    server = SshServer().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """PostgreSQL 15 on 127.0.0.1:<free port>; role/password/database ``batch`` (see ``PostgresServer``)."""
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[MariaDbServer]:
    """MariaDB on 127.0.0.1:<free port>; user/password/database ``batch`` (see ``MariaDbServer``)."""
    server = MariaDbServer().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def ftp_server() -> Iterator[FtpServer]:
    """pyftpdlib on 127.0.0.1:<free port>; one read-write user, FTP root ``ftp_server.root``."""
    server = FtpServer().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def smb_server() -> Iterator[SmbServer]:
    """Samba smbd on 127.0.0.1:<free port>; share ``files`` at ``smb_server.root``, user = current OS user."""
    server = SmbServer().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpServer]:
    """aiosmtpd on 127.0.0.1:<free port> recording every message; AUTH required (see ``SmtpServer``)."""
    server = SmtpServer().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(autouse=True)
def _restart_stopped_servers(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test, bring back any session server the test stopped (``start()`` is a no-op if up)."""
    yield
    for name in ("sshd_server", "postgres_server", "mariadb_server", "ftp_server", "smb_server", "smtp_server"):
        if name in request.fixturenames:
            request.getfixturevalue(name).start()
