"""SMB reads and writes with requests in flight (transports/smb.py) against a real smbd: bytes, sizes, early close."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_batchtasks.transports import smb as smb_transport
from airflow_batchtasks.transports.smb import SmbFiles
from tests.servers import SmbServer

pytestmark = pytest.mark.integration

# More than IN_FLIGHT blocks, and not a whole number of them: the last request is a short one.
BIG = smb_transport.BLOCK * (smb_transport.IN_FLIGHT + 3) + 12_345


@pytest.fixture
def files(smb_conn: str) -> Iterator[SmbFiles]:
    opened = SmbFiles(smb_conn)
    yield opened
    opened.close()


@pytest.fixture
def folder(smb_server: SmbServer, request: pytest.FixtureRequest) -> tuple[str, Path]:
    leaf = f"pipe_{request.node.name.replace('[', '_').replace(']', '')}"
    disk = smb_server.root / leaf
    disk.mkdir()
    return f"/{leaf}", disk


def test_a_large_file_goes_up_and_comes_back_byte_for_byte(files: SmbFiles, folder: tuple[str, Path]) -> None:
    remote, disk = folder
    payload = os.urandom(BIG)
    src = disk.parent / f"{disk.name}.src"
    src.write_bytes(payload)
    with open(src, "rb") as fh:
        assert files.put(fh, remote, "big.bin", overwrite=True) == f"{remote}/big.bin"
    assert sorted(p.name for p in disk.iterdir()) == ["big.bin"], "no .part file left"
    assert hashlib.md5((disk / "big.bin").read_bytes()).hexdigest() == hashlib.md5(payload).hexdigest()

    with files.open(f"{remote}/big.bin") as fh:  # odd read sizes, as the CSV reformatting reads
        pieces = []
        while piece := fh.read(777_777):
            pieces.append(piece)
    assert b"".join(pieces) == payload
    with files.open(f"{remote}/big.bin") as fh:
        assert fh.read() == payload, "read() with no size returns the whole file"


def test_an_empty_file_goes_up_and_comes_back_empty(files: SmbFiles, folder: tuple[str, Path]) -> None:
    remote, disk = folder
    src = disk.parent / f"{disk.name}.empty"
    src.write_bytes(b"")
    with open(src, "rb") as fh:
        files.put(fh, remote, "empty.csv", overwrite=True)
    assert (disk / "empty.csv").read_bytes() == b""
    with files.open(f"{remote}/empty.csv") as fh:
        assert fh.read(1 << 20) == b""


def test_a_reader_closed_early_leaves_the_connection_usable(files: SmbFiles, folder: tuple[str, Path]) -> None:
    """Only the first bytes are read (a location's size check stops there): reads still in flight are collected."""
    remote, disk = folder
    payload = os.urandom(BIG)
    (disk / "big.bin").write_bytes(payload)
    with files.open(f"{remote}/big.bin") as fh:
        assert fh.read(100) == payload[:100]
    assert files.list_files(remote) == ["big.bin"]
    with files.open(f"{remote}/big.bin") as fh:
        assert fh.read() == payload
