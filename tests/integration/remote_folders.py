"""A fresh folder on one of the throwaway servers, seen both ways: as the server's path and on disk.

The servers run on this machine, so a test seeds and inspects files through the local folder and
the pipeline reaches the same folder through the protocol (sftp, ftp, smb) or directly (local).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class RemoteFolder:
    kind: str  # sftp | ftp | smb | local
    conn_id: str | None
    path: str  # as the pipeline names it (FTP and SMB paths are relative to their root/share)
    disk: Path  # the same folder on this machine

    def yaml_location(self, name: str) -> str:
        conn = f", conn_id: {self.conn_id}" if self.conn_id else ""
        return f"{{type: {self.kind}{conn}, path: '{self.path}/{name}'}}"

    def yaml_destination(self, **extra: object) -> str:
        conn = f", conn_id: {self.conn_id}" if self.conn_id else ""
        more = "".join(f", {k}: {str(v).lower() if isinstance(v, bool) else v}" for k, v in extra.items())
        return f"{{type: {self.kind}{conn}, path: '{self.path}'{more}}}"

    def names(self) -> list[str]:
        return sorted(p.name for p in self.disk.iterdir())


def remote_folder(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> RemoteFolder:
    """Create a uniquely named folder on the server of ``kind`` (starting that server if needed)."""
    leaf = f"f_{uuid.uuid4().hex[:8]}"
    if kind == "local":
        disk = tmp_path / "local_files" / leaf
        disk.mkdir(parents=True)
        return RemoteFolder(kind, None, str(disk), disk)
    conn_id = request.getfixturevalue(f"{kind}_conn")
    server = request.getfixturevalue({"sftp": "sshd_server", "ftp": "ftp_server", "smb": "smb_server"}[kind])
    disk = server.root / leaf
    disk.mkdir()
    path = str(disk) if kind == "sftp" else f"/{leaf}"
    return RemoteFolder(kind, conn_id, path, disk)
