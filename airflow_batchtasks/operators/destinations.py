"""Destinations a packaged file is delivered to, each with an atomic put.

A file is written under a hidden temporary name in the target folder and then
renamed, so a consumer polling the folder never sees half a file and a failed
upload never leaves one under the final name. Without ``overwrite`` the
rename itself refuses an existing file (link on local disks, plain SFTP
rename on the server), so two runs racing cannot both win.

A connection that dies mid-upload cannot remove its own temporary file, so
every put first deletes the ``.part`` files an interrupted put of the same
name left behind (a retry therefore leaves the folder clean). FTP and SMB live
in ``ftp_files`` / ``smb_files``, which also read files for the file source.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import IO, Any, Protocol

from airflow_batchtasks.storage.records import CHUNK

log = logging.getLogger(__name__)


class DestinationExists(Exception):
    """The target file exists and the destination does not allow overwriting it."""


class Destination(Protocol):
    def put(self, src: IO[bytes], name: str, overwrite: bool) -> str: ...

    def close(self) -> None: ...


def temp_name(name: str) -> str:
    """The hidden name a file is uploaded under before the rename: ``.<name>.<12 hex>.part``."""
    return f".{name}.{uuid.uuid4().hex[:12]}.part"


def is_leftover_part(entry: str, name: str) -> bool:
    """Whether folder entry ``entry`` is a temporary file of a put of ``name`` (see :func:`temp_name`)."""
    return re.fullmatch(rf"\.{re.escape(name)}\.[0-9a-f]{{12}}\.part", entry) is not None


def log_removed_leftovers(removed: list[str], folder: str) -> None:
    for entry in removed:
        log.warning("Removed %s, left in %s by an interrupted upload", entry, folder)


class LocalDestination:
    """A folder on the machine running the deliver step (a shared mount on a cluster)."""

    def __init__(self, path: str) -> None:
        self.folder = Path(path)

    def put(self, src: IO[bytes], name: str, overwrite: bool) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        final = self.folder / name
        if final.exists() and not overwrite:
            raise DestinationExists(f"{final} exists and overwrite is false")
        leftovers = [p for p in self.folder.iterdir() if is_leftover_part(p.name, name)]
        for path in leftovers:
            path.unlink(missing_ok=True)
        log_removed_leftovers([p.name for p in leftovers], str(self.folder))
        tmp = self.folder / temp_name(name)
        try:
            with open(tmp, "wb") as out:
                shutil.copyfileobj(src, out, CHUNK)
                out.flush()
                os.fsync(out.fileno())
            if overwrite:
                os.replace(tmp, final)
            else:
                try:
                    os.link(tmp, final)
                except FileExistsError as exc:
                    raise DestinationExists(f"{final} exists and overwrite is false") from exc
                tmp.unlink()
        finally:
            tmp.unlink(missing_ok=True)
        return str(final)

    def close(self) -> None:
        pass


class ParamikoSftpClient:
    """The portable SFTP client: paramiko through the official SSHHook, every connection option honoured.

    Used when :mod:`sftp_fast` cannot carry the connection's settings; uploads are
    pipelined (``putfo``), compressed when the connection says so (SSHHook's default).
    """

    def __init__(self, conn_id: str) -> None:
        from airflow.providers.ssh.hooks.ssh import SSHHook

        # The SSH client is kept (SFTPHook.get_conn drops it), so close() ends the
        # session itself, not only its SFTP channel.
        self.ssh = SSHHook(ssh_conn_id=conn_id).get_conn()
        self.client = self.ssh.open_sftp()

    def exists(self, path: str) -> bool:
        try:
            self.client.stat(path)
            return True
        except FileNotFoundError:
            return False

    def listdir(self, folder: str) -> list[str]:
        return self.client.listdir(folder)

    def remove(self, path: str) -> None:
        self.client.remove(path)

    def rename(self, source: str, target: str, overwrite: bool) -> None:
        if overwrite:
            self.client.posix_rename(source, target)
        else:
            self.client.rename(source, target)

    def upload(self, src: IO[bytes], path: str) -> int:
        return self.client.putfo(src, path, confirm=True).st_size

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()
        self.ssh.close()


class SftpDestination:
    """A folder on an SFTP server, through the Airflow connection ``conn_id``.

    The client is asyncssh (:mod:`sftp_fast`, several times faster) unless the
    connection uses settings only the paramiko SSHHook understands.
    """

    def __init__(self, conn_id: str, path: str) -> None:
        from airflow_batchtasks.operators import sftp_fast

        self.folder = path.rstrip("/") or "/"
        reason = sftp_fast.unsupported_reason(conn_id)
        if reason is None:
            self.client: ParamikoSftpClient | sftp_fast.AsyncSftpClient = sftp_fast.AsyncSftpClient(conn_id)
            log.info("SFTP %s: asyncssh, cipher %s, no compression", conn_id, self.client.cipher)
        else:
            log.info("SFTP %s: paramiko SSHHook (%s)", conn_id, reason)
            self.client = ParamikoSftpClient(conn_id)

    def put(self, src: IO[bytes], name: str, overwrite: bool) -> str:
        final = f"{self.folder}/{name}"
        if not overwrite and self.client.exists(final):
            raise DestinationExists(f"sftp {final} exists and overwrite is false")
        leftovers = [e for e in self.client.listdir(self.folder) if is_leftover_part(e, name)]
        for entry in leftovers:
            self.client.remove(f"{self.folder}/{entry}")
        log_removed_leftovers(leftovers, self.folder)
        tmp = f"{self.folder}/{temp_name(name)}"
        try:
            self.client.upload(src, tmp)
            try:
                self.client.rename(tmp, final, overwrite)
            except Exception as exc:
                # a plain SFTP rename refuses an existing target; anything else is a real failure
                if not overwrite and self.client.exists(final):
                    raise DestinationExists(f"sftp {final} exists and overwrite is false") from exc
                raise
        except BaseException:
            self._remove_quietly(tmp)
            raise
        return final

    def _remove_quietly(self, path: str) -> None:
        # best effort: the connection may be the very thing that broke
        with contextlib.suppress(Exception):
            self.client.remove(path)

    def close(self) -> None:
        self.client.close()


class FolderDestination:
    """A folder through a connection that can put into any folder (``FtpFiles``, ``SmbFiles``)."""

    def __init__(self, files: Any, path: str) -> None:
        self.files = files
        self.folder = path.rstrip("/") or "/"

    def put(self, src: IO[bytes], name: str, overwrite: bool) -> str:
        return self.files.put(src, self.folder, name, overwrite)

    def close(self) -> None:
        self.files.close()


def open_destination(spec: dict[str, Any]) -> Destination:
    kind = spec["type"]
    if kind == "local":
        return LocalDestination(spec["path"])
    if kind == "sftp":
        return SftpDestination(spec["conn_id"], spec["path"])
    if kind == "ftp":
        from airflow_batchtasks.operators.ftp_files import FtpFiles

        return FolderDestination(FtpFiles(spec["conn_id"]), spec["path"])
    if kind == "smb":
        from airflow_batchtasks.operators.smb_files import SmbFiles

        return FolderDestination(SmbFiles(spec["conn_id"]), spec["path"])
    raise NotImplementedError(f"destination type `{kind}` is not supported yet")
