"""A file source's download into staging, seen from the local file: exact bytes, written in 64 KiB pieces.

The write size matters to the kernel (``storage.records.write_blocks``): every sftp, ftp and smb
download must reach the staging file in writes of at most ``WRITE_BLOCK`` bytes, whatever size the
protocol's reads come in, and leave nothing but the file.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import IO, Any

import pytest

from airflow_batchtasks.operators.file import FileExtractOperator
from airflow_batchtasks.storage.records import CHUNK, WRITE_BLOCK
from airflow_batchtasks.transports.registry import reader_for
from tests.integration.remote_folders import remote_folder

pytestmark = pytest.mark.integration


class _WriteSizes:
    """The real staging file (an ObjectStoragePath), with the size of each write to it noted."""

    def __init__(self, path: Any) -> None:
        self.path = path
        self.name = path.name
        self.sizes: list[int] = []

    def open(self, mode: str) -> Any:
        return _Noting(self.path.open(mode), self.sizes)

    def __str__(self) -> str:
        return str(self.path)


class _Noting:
    def __init__(self, fh: IO[bytes], sizes: list[int]) -> None:
        self._fh = fh
        self._sizes = sizes

    def write(self, data: bytes) -> int:
        self._sizes.append(len(data))
        return self._fh.write(data)

    def __enter__(self) -> _Noting:
        self._fh.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.__exit__(*exc)


@pytest.mark.parametrize("kind", ["sftp", "ftp", "smb"])
def test_download_reaches_staging_in_blocks_of_at_most_64_kib(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from airflow.sdk import ObjectStoragePath

    src = remote_folder(kind, request, tmp_path)
    data = os.urandom(3 * CHUNK + 12345)  # several protocol reads, and a short last one
    (src.disk / "big.bin").write_bytes(data)
    location = {"type": kind, "conn_id": src.conn_id, "path": f"{src.path}/big.bin"}
    operator = FileExtractOperator(task_id="t", batch_task="t", location=location, output_format={"format": "keep"})
    staging = tmp_path / "staging"
    staging.mkdir()
    target = _WriteSizes(ObjectStoragePath(f"file://{staging}/big.bin"))
    reader = reader_for(location)
    try:
        result = operator._fetch(reader, location["path"], target)
    finally:
        reader.close()
    written = (staging / "big.bin").read_bytes()
    assert hashlib.md5(written).hexdigest() == hashlib.md5(data).hexdigest() and len(written) == len(data)
    assert result["name"] == "big.bin" and result["rows"] is None
    assert max(target.sizes) <= WRITE_BLOCK, f"{kind}: writes of {max(target.sizes)} bytes"
    assert sum(target.sizes) == len(data)
    assert len(target.sizes) >= len(data) // WRITE_BLOCK, "no byte goes through a second, hidden copy"
    assert sorted(p.name for p in staging.iterdir()) == ["big.bin"], "nothing but the file is left"
