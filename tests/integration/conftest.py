"""Integration tests run against real servers started once per session on free loopback ports.

The fixtures are defined in ``tests.servers.fixtures`` so e2e tests can import the same ones.
"""

from tests.integration.connections import ftp_conn, sftp_conn, smb_conn
from tests.servers.fixtures import (
    _restart_stopped_servers,
    ftp_server,
    mariadb_server,
    postgres_server,
    smb_server,
    smtp_server,
    sshd_server,
)

__all__ = [
    "_restart_stopped_servers", "ftp_conn", "ftp_server", "mariadb_server", "postgres_server", "sftp_conn",
    "smb_conn", "smb_server", "smtp_server", "sshd_server",
]
