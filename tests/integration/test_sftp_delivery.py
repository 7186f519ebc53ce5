"""SFTP deliveries and file-source reads through both clients: asyncssh (fast) and paramiko.

paramiko serves the connections asyncssh cannot carry.

Either way the file lands whole under its final name, never half under it, and
a leftover ``.part`` of an interrupted upload of the same name is removed; a read
returns every byte of the remote file in order, whatever the read sizes.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from airflow_batchtasks.transports import sftp_async
from airflow_batchtasks.transports.base import DestinationExists
from airflow_batchtasks.transports.sftp import ParamikoSftpClient, SftpDestination, SftpReader
from tests.integration.pipeline import set_connection
from tests.servers import SshServer

pytestmark = pytest.mark.integration

PAYLOAD = os.urandom(9 * 1024 * 1024 + 123)  # several write blocks, not a multiple of any


@pytest.fixture(params=["asyncssh", "paramiko"])
def client_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, sshd_server: SshServer) -> str:
    """An SFTP connection the asyncssh client takes, or one with an extra only the paramiko SSHHook reads."""
    extra = {"look_for_keys": False} if request.param == "paramiko" else {}
    set_connection(monkeypatch, "deliver_sftp", **sshd_server.connection(**extra))
    return request.param


def _inbox(sshd_server: SshServer, tmp_path: Path) -> Path:
    inbox = sshd_server.root / tmp_path.name
    inbox.mkdir()
    return inbox


def test_the_client_is_chosen_by_what_the_connection_needs(client_kind: str) -> None:
    reason = sftp_async.unsupported_reason("deliver_sftp")
    destination = SftpDestination("deliver_sftp", "/")
    try:
        if client_kind == "asyncssh":
            assert reason is None
            assert isinstance(destination.client, sftp_async.AsyncSftpClient)
            assert destination.client.cipher == "aes128-gcm@openssh.com"
        else:
            assert reason == "connection extras only the paramiko SSHHook reads: look_for_keys"
            assert isinstance(destination.client, ParamikoSftpClient)
    finally:
        destination.close()


def test_put_delivers_every_byte_and_cleans_leftovers(client_kind: str, sshd_server: SshServer, tmp_path: Path) -> None:
    inbox = _inbox(sshd_server, tmp_path)
    (inbox / ".data.bin.0123456789ab.part").write_bytes(b"half of an interrupted upload")
    (inbox / ".other.bin.0123456789ab.part").write_bytes(b"another file's upload in progress")
    destination = SftpDestination("deliver_sftp", str(inbox))
    try:
        final = destination.put(io.BytesIO(PAYLOAD), "data.bin", overwrite=True)
        destination.put(io.BytesIO(b""), "empty.bin", overwrite=True)
    finally:
        destination.close()
    assert final == f"{inbox}/data.bin"
    assert (inbox / "data.bin").read_bytes() == PAYLOAD
    assert (inbox / "empty.bin").read_bytes() == b""
    assert sorted(p.name for p in inbox.iterdir()) == [".other.bin.0123456789ab.part", "data.bin", "empty.bin"]


def test_overwrite_replaces_or_refuses(client_kind: str, sshd_server: SshServer, tmp_path: Path) -> None:
    inbox = _inbox(sshd_server, tmp_path)
    (inbox / "data.bin").write_bytes(b"old")
    destination = SftpDestination("deliver_sftp", str(inbox))
    try:
        with pytest.raises(DestinationExists):
            destination.put(io.BytesIO(PAYLOAD), "data.bin", overwrite=False)
        assert (inbox / "data.bin").read_bytes() == b"old"
        destination.put(io.BytesIO(PAYLOAD), "data.bin", overwrite=True)
    finally:
        destination.close()
    assert (inbox / "data.bin").read_bytes() == PAYLOAD
    assert [p.name for p in inbox.iterdir()] == ["data.bin"], "no temporary file left"


def test_a_failed_upload_leaves_nothing_behind(client_kind: str, sshd_server: SshServer, tmp_path: Path) -> None:
    inbox = _inbox(sshd_server, tmp_path)

    class Broken(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            if self.tell() > 3 * 1024 * 1024:
                raise OSError("source disk went away")
            return super().read(size)

    destination = SftpDestination("deliver_sftp", str(inbox))
    try:
        with pytest.raises(OSError, match="source disk went away"):
            destination.put(Broken(PAYLOAD), "data.bin", overwrite=True)
    finally:
        destination.close()
    assert list(inbox.iterdir()) == []


# more than MAX_REQUESTS reads of 255 KB (the read-ahead refills), not a multiple of any block
BIG = os.urandom(17 * 1024 * 1024 + 5)


def test_reader_returns_every_byte_in_order(client_kind: str, sshd_server: SshServer, tmp_path: Path) -> None:
    outbox = _inbox(sshd_server, tmp_path)
    (outbox / "big.bin").write_bytes(BIG)
    (outbox / "blocks.bin").write_bytes(BIG[: 3 * 261_120])  # exactly three of OpenSSH's read blocks
    (outbox / "empty.bin").write_bytes(b"")
    (outbox / "sub").mkdir()
    (outbox / "link.bin").symlink_to(outbox / "big.bin")
    reader = SftpReader("deliver_sftp")
    try:
        assert isinstance(reader._async, sftp_async.AsyncSftpClient) == (client_kind == "asyncssh")
        assert sorted(reader.list_files(str(outbox))) == ["big.bin", "blocks.bin", "empty.bin"]
        for size in (1 << 20, 100_003):
            with reader.open(f"{outbox}/big.bin") as fh:
                parts = iter(lambda fh=fh, size=size: fh.read(size), b"")
                assert b"".join(parts) == BIG
        with reader.open(f"{outbox}/blocks.bin") as fh:
            assert fh.read() == BIG[: 3 * 261_120]
        with reader.open(f"{outbox}/empty.bin") as fh:
            assert fh.read(1 << 20) == b""
        with reader.open(f"{outbox}/big.bin") as fh:  # a caller that stops early
            assert fh.read(10) == BIG[:10]
        with reader.open(f"{outbox}/blocks.bin") as fh:  # ...leaves the connection fit for the next file
            assert fh.read(261_121) == BIG[:261_121]
        with pytest.raises(Exception, match="(?i)no such file"), reader.open(f"{outbox}/missing.bin") as fh:
            fh.read()
    finally:
        reader.close()


def test_asyncssh_sends_no_empty_ignore_packets_with_aes_gcm(
    monkeypatch: pytest.MonkeyPatch, sshd_server: SshServer, tmp_path: Path
) -> None:
    """asyncssh's CBC countermeasure (an SSH_MSG_IGNORE before every packet) is off: half the packets to send."""
    set_connection(monkeypatch, "deliver_sftp", **sshd_server.connection())
    inbox = _inbox(sshd_server, tmp_path)
    destination = SftpDestination("deliver_sftp", str(inbox))
    try:
        assert isinstance(destination.client, sftp_async.AsyncSftpClient)
        before = destination.client._ssh._send_seq
        destination.put(io.BytesIO(PAYLOAD), "data.bin", overwrite=True)
        packets = destination.client._ssh._send_seq - before
    finally:
        destination.close()
    assert (inbox / "data.bin").read_bytes() == PAYLOAD
    data_packets = len(PAYLOAD) // 32_768 + 1  # OpenSSH takes at most 32 KB of data per packet
    # with the countermeasure on: at least twice as many; without it, the data packets plus each write's
    # short last packet and the open / stat / rename / close requests (348 for 289 data packets seen)
    assert data_packets <= packets < 1.5 * data_packets
