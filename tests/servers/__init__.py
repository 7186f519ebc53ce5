"""Throwaway real servers (OpenSSH, PostgreSQL, MariaDB, FTP, Samba) on free loopback ports for integration tests.

Plain classes, no pytest dependency, so e2e tests and ad-hoc scripts can reuse them; the session
fixtures live in ``tests/integration/conftest.py``.
"""

from tests.servers._common import ServerBinaryMissing, free_port
from tests.servers.ftp import FtpServer
from tests.servers.mariadb import MariaDbServer, find_mariadb_odbc_driver
from tests.servers.postgres import PostgresServer, find_odbc_driver
from tests.servers.smb import SmbServer
from tests.servers.sshd import SshServer

__all__ = [
    "FtpServer", "MariaDbServer", "PostgresServer", "ServerBinaryMissing", "SmbServer", "SshServer",
    "find_mariadb_odbc_driver", "find_odbc_driver", "free_port",
]
