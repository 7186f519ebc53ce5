"""Airflow connections (as ``AIRFLOW_CONN_*`` env vars) to the session's throwaway servers.

Shared by the file-source, destination, location and fault-injection tests; each fixture returns
the connection id. Ports are the servers' free loopback ports, never the protocol defaults, so
every test also proves the hooks honour a connection's port.
"""

from __future__ import annotations

import pytest

from tests.integration.pipeline import set_connection
from tests.servers import FtpServer, SmbServer, SshServer


@pytest.fixture
def sftp_conn(monkeypatch: pytest.MonkeyPatch, sshd_server: SshServer) -> str:
    set_connection(monkeypatch, "files_sftp", **sshd_server.connection())
    return "files_sftp"


@pytest.fixture
def ftp_conn(monkeypatch: pytest.MonkeyPatch, ftp_server: FtpServer) -> str:
    set_connection(
        monkeypatch, "files_ftp", conn_type="ftp", host=ftp_server.host, port=ftp_server.port,
        login=ftp_server.username, password=ftp_server.password,
    )
    return "files_ftp"


@pytest.fixture
def smb_conn(monkeypatch: pytest.MonkeyPatch, smb_server: SmbServer) -> str:
    set_connection(
        monkeypatch, "files_smb", conn_type="samba", host=smb_server.host, port=smb_server.port,
        login=smb_server.username, password=smb_server.password, schema=smb_server.share,
    )
    return "files_smb"
