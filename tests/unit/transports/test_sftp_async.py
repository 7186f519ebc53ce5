"""The asyncssh client's pure parts: the read-ahead of downloads and the CBC countermeasure switch."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from airflow_batchtasks.transports import sftp_async
from airflow_batchtasks.transports.sftp_async import PipelinedReader, skip_cbc_countermeasure

DATA = os.urandom(300_000 + 17)


class FakeRemote:
    """A remote file whose server answers at most ``limit`` bytes per read (as a server with a lower limit)."""

    def __init__(self, data: bytes, limit: int) -> None:
        self.data = data
        self.limit = limit
        self.reads: list[tuple[int, int]] = []

    async def read(self, size: int, offset: int) -> bytes:
        self.reads.append((offset, size))
        await asyncio.sleep(0)
        return self.data[offset : offset + min(size, self.limit)]


@pytest.fixture
def loop() -> Any:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.mark.parametrize("limit", [10_000, 7_777, 3_000], ids=["full answers", "short answers", "very short"])
@pytest.mark.parametrize("size", [1, 4096, 65_536, -1])
def test_reads_come_out_whole_and_in_order(loop: Any, limit: int, size: int) -> None:
    reader = PipelinedReader(loop, FakeRemote(DATA, limit), block=10_000)
    parts = []
    while chunk := reader.read(size):
        assert size < 0 or len(chunk) == size or len(b"".join(parts)) + len(chunk) == len(DATA)
        parts.append(chunk)
        if size < 0:
            break
    assert b"".join(parts) == DATA
    assert reader.read(10) == b""
    reader.cancel()


def test_reads_stay_bounded_and_stop_when_the_caller_stops(loop: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sftp_async, "MAX_REQUESTS", 4)
    remote = FakeRemote(DATA, 10_000)
    reader = PipelinedReader(loop, remote, block=10_000)
    assert reader.read(5) == DATA[:5]
    assert len(remote.reads) <= 4 + 1  # at most MAX_REQUESTS in flight (the first one already answered)
    reader.cancel()
    asked = len(remote.reads)
    loop.run_until_complete(asyncio.sleep(0))
    assert len(remote.reads) == asked


def test_an_empty_file_reads_empty(loop: Any) -> None:
    assert PipelinedReader(loop, FakeRemote(b"", 10_000), block=10_000).read() == b""


class FakeConn:
    def __init__(self, cipher: str) -> None:
        self.cipher = cipher
        self.sent: list[tuple[int, tuple[bytes, ...]]] = []

    def get_extra_info(self, name: str) -> str:
        return self.cipher

    def send_packet(self, pkttype: int, *args: bytes, handler: Any = None) -> None:
        self.sent.append((pkttype, args))


@pytest.mark.parametrize(
    ("cipher", "skipped"),
    [("aes128-gcm@openssh.com", True), ("aes256-ctr", True), ("chacha20-poly1305@openssh.com", True),
     ("aes128-cbc", False)],
)  # fmt: skip
def test_empty_ignore_packets_are_left_out_unless_the_cipher_is_cbc(cipher: str, skipped: bool) -> None:
    from asyncssh.constants import MSG_CHANNEL_DATA, MSG_IGNORE
    from asyncssh.packet import String

    conn = FakeConn(cipher)
    assert skip_cbc_countermeasure(conn) is skipped
    conn.send_packet(MSG_IGNORE, String(b""))
    conn.send_packet(MSG_IGNORE, String(b"padding a caller asked for"))
    conn.send_packet(MSG_CHANNEL_DATA, b"\0\0\0\0", String(b"data"), handler=None)
    types = [pkttype for pkttype, _ in conn.sent]
    expected = [MSG_IGNORE, MSG_CHANNEL_DATA] if skipped else [MSG_IGNORE, MSG_IGNORE, MSG_CHANNEL_DATA]
    assert types == expected
