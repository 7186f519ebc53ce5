"""Throwaway real servers (OpenSSH, PostgreSQL, FTP, Samba) on free loopback ports for integration tests.

Plain classes, no pytest dependency, so e2e tests and ad-hoc scripts can reuse them; the session
fixtures live in ``tests/integration/conftest.py``.
"""

from tests.servers._common import ServerBinaryMissing, free_port
from tests.servers.ftp import FtpServer
from tests.servers.postgres import PostgresServer, find_odbc_driver
from tests.servers.smb import SmbServer
from tests.servers.sshd import SshServer

__all__ = [
    "FtpServer", "PostgresServer", "ServerBinaryMissing", "SmbServer", "SshServer", "find_odbc_driver", "free_port",
]
