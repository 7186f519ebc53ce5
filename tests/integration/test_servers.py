"""Smoke tests for the server harness itself, so a broken harness fails here and not inside feature tests."""

from __future__ import annotations

import io
import socket
from datetime import date
from decimal import Decimal

import paramiko
import pyodbc
import pytest

from tests.servers import PostgresServer, SshServer

pytestmark = pytest.mark.integration


def ssh_client(server: SshServer) -> paramiko.SSHClient:
    """Key-only client, ignoring any agent or ~/.ssh keys of the machine running the tests."""
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(
        server.host,
        port=server.port,
        username=server.username,
        key_filename=str(server.private_key_path),
        allow_agent=False,
        look_for_keys=False,
        timeout=10,
    )
    return client


def test_sftp_upload_and_read_back(sshd_server: SshServer) -> None:
    payload = b"id;name\n1;\xc3\xa9t\xc3\xa9\n" * 1000
    remote = sshd_server.root / "smoke" / "upload.csv"
    with ssh_client(sshd_server) as client, client.open_sftp() as sftp:
        sftp.mkdir(str(remote.parent))
        with sftp.open(str(remote), "wb") as fh:
            fh.write(payload)
        with sftp.open(str(remote), "rb") as fh:
            assert fh.read() == payload
        assert sftp.listdir(str(remote.parent)) == ["upload.csv"]
    assert remote.read_bytes() == payload  # same machine: the upload area is a local directory


def test_private_key_text_loads_in_paramiko(sshd_server: SshServer) -> None:
    """Hooks receive keys as text (connection extras), not as files."""
    key = paramiko.Ed25519Key.from_private_key(io.StringIO(sshd_server.private_key))
    assert key.get_base64() == sshd_server.public_key.split()[1]


def test_ssh_command_execution(sshd_server: SshServer) -> None:
    with ssh_client(sshd_server) as client:
        _, stdout, stderr = client.exec_command("echo hi")
        assert stdout.read() == b"hi\n"
        assert stdout.channel.recv_exit_status() == 0
        assert stderr.read() == b""


@pytest.mark.parametrize("use_declare_fetch", [False, True], ids=["buffered", "declare-fetch"])
def test_postgres_via_pyodbc(postgres_server: PostgresServer, use_declare_fetch: bool) -> None:
    table = f"smoke_{int(use_declare_fetch)}"
    postgres_server.execute(f"DROP TABLE IF EXISTS {table}")
    postgres_server.execute(f"CREATE TABLE {table} (id int, name text, amount numeric(10,2), day date)")
    postgres_server.execute(
        f"INSERT INTO {table} SELECT g, 'n' || g, g / 4.0, DATE '2024-01-01' + g"
        " FROM generate_series(1, 500) g"
    )
    conn_str = postgres_server.odbc_connection_string(use_declare_fetch=use_declare_fetch, fetch=50)
    assert ("UseDeclareFetch=1" in conn_str) is use_declare_fetch
    with pyodbc.connect(conn_str, autocommit=True) as conn:
        cursor = conn.cursor()
        cursor.execute(f"SELECT id, name, amount, day FROM {table} WHERE id >= ? ORDER BY id", 1)
        rows = cursor.fetchall()
    assert len(rows) == 500
    assert tuple(rows[0]) == (1, "n1", Decimal("0.25"), date(2024, 1, 2))


def test_postgres_dsn_and_restart(postgres_server: PostgresServer) -> None:
    import psycopg2

    port = postgres_server.port
    postgres_server.stop()
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(postgres_server.dsn, connect_timeout=2)
    postgres_server.start()
    assert postgres_server.port == port
    with psycopg2.connect(postgres_server.dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT current_user, current_database()")
        assert cur.fetchone() == ("batch", "batch")
    conn.close()


def test_sshd_stop_and_start_on_same_port(sshd_server: SshServer) -> None:
    port = sshd_server.port
    live = ssh_client(sshd_server)
    sshd_server.stop()
    try:
        with pytest.raises(OSError):
            socket.create_connection((sshd_server.host, port), timeout=2).close()
        # The open session was killed too (what a "server died mid-upload" test relies on).
        with pytest.raises((paramiko.SSHException, EOFError, OSError)):
            live.exec_command("echo still-alive", timeout=5)[1].read()
    finally:
        live.close()
        sshd_server.start()
    assert sshd_server.port == port
    with ssh_client(sshd_server) as client:
        assert client.exec_command("echo back")[1].read() == b"back\n"
