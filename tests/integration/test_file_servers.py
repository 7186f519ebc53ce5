"""Smoke tests of the FTP and Samba harnesses through the official hooks, on non-default ports."""

from __future__ import annotations

import io
import socket

import pytest

from tests.servers import FtpServer, SmbServer

pytestmark = pytest.mark.integration


def test_ftp_hook_uses_the_connection_port_and_the_server_restarts_on_it(
    ftp_server: FtpServer, ftp_conn: str
) -> None:
    from airflow.providers.ftp.hooks.ftp import FTPHook

    (ftp_server.root / "smoke").mkdir(exist_ok=True)
    with FTPHook(ftp_conn_id=ftp_conn) as hook:
        hook.get_conn().storbinary("STOR /smoke/a.txt", io.BytesIO(b"ftp bytes"))
    assert (ftp_server.root / "smoke" / "a.txt").read_bytes() == b"ftp bytes"
    port = ftp_server.port
    ftp_server.stop()
    with pytest.raises(OSError):
        socket.create_connection((ftp_server.host, port), timeout=2).close()
    ftp_server.start()
    assert ftp_server.port == port
    client = ftp_server.client()
    assert "a.txt" in client.nlst("/smoke")
    client.quit()


def test_samba_hook_uses_the_connection_port_share_and_password(
    smb_server: SmbServer, smb_conn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.providers.samba.hooks.samba import SambaHook

    with SambaHook(samba_conn_id=smb_conn) as hook, hook.open_file("/smoke.txt", mode="wb") as fh:
        fh.write(b"smb bytes")
    assert (smb_server.root / "smoke.txt").read_bytes() == b"smb bytes"

    from tests.integration.pipeline import set_connection

    set_connection(
        monkeypatch, "smb_wrong", conn_type="samba", host=smb_server.host, port=smb_server.port,
        login=smb_server.username, password="not-the-password", schema=smb_server.share,
    )
    with pytest.raises(Exception, match="(?i)logon|auth|password|access"), SambaHook(samba_conn_id="smb_wrong"):
        pass
