"""FTP through the official FTPHook: list and stream files (file source, locations) and atomic puts.

FTP has no "rename unless the target exists", so ``overwrite: false`` checks the folder listing
before the upload and again right before the rename; a file that appears in between (another
writer racing this one) can still be replaced, which the README states. A put goes to
``.<name>.<random>.part`` first and is renamed with RNFR/RNTO, so a consumer never sees half a
file. Transfers are binary (``TYPE I``): bytes arrive exactly as staged.
"""

from __future__ import annotations

import contextlib
import ftplib  # nosec: B402 - FTP is what the destination speaks; FTPS is the connection's choice
import posixpath
from collections.abc import Iterator
from typing import IO

from airflow_batchtasks.storage.records import CHUNK
from airflow_batchtasks.transports.base import (
    DestinationExists,
    is_leftover_part,
    log_removed_leftovers,
    temp_name,
)

# ftplib waits forever by default; a server that vanishes must fail the step so its retry can run.
TIMEOUT_SECONDS = 120.0


class FtpFiles:
    """One FTP session (from the connection's host, port, login, password, ``passive`` extra)."""

    case_sensitive = True

    def __init__(self, conn_id: str) -> None:
        from airflow.providers.ftp.hooks.ftp import FTPHook

        self.conn_id = conn_id
        self.hook = FTPHook(ftp_conn_id=conn_id)
        self.ftp = self.hook.get_conn()
        self.ftp.timeout = TIMEOUT_SECONDS  # used for data connections
        if self.ftp.sock is not None:
            self.ftp.sock.settimeout(TIMEOUT_SECONDS)

    # -- reading -----------------------------------------------------------------------------------

    def _names(self, folder: str) -> list[str]:
        return [posixpath.basename(n.rstrip("/")) for n in self.ftp.nlst(folder)]

    def list_files(self, folder: str) -> list[str]:
        """Regular files in ``folder``: MLSD where the server has it (it tells files from folders)."""
        try:
            return [name for name, facts in self.ftp.mlsd(folder) if facts.get("type") == "file"]
        except ftplib.error_perm:
            # No MLSD (e.g. vsftpd): NLST, and drop entries the server cannot give a size for (folders).
            files = []
            self.ftp.voidcmd("TYPE I")
            for name in self._names(folder):
                with contextlib.suppress(ftplib.error_perm):
                    self.ftp.size(posixpath.join(folder, name))
                    files.append(name)
            return files

    @contextlib.contextmanager
    def open(self, path: str) -> Iterator[IO[bytes]]:
        self.ftp.voidcmd("TYPE I")
        sock = self.ftp.transfercmd(f"RETR {path}")
        stream = sock.makefile("rb")
        try:
            yield stream
        except BaseException:
            stream.close()
            sock.close()
            raise
        stream.close()
        sock.close()
        self.ftp.voidresp()

    # -- writing -----------------------------------------------------------------------------------

    def _exists(self, folder: str, name: str) -> bool:
        try:
            return name in self._names(folder)
        except ftplib.error_perm as exc:
            # Some servers answer "550 No files found" to NLST of an empty folder.
            if str(exc).startswith("550"):
                return False
            raise

    def remove_leftovers(self, folder: str, name: str) -> list[str]:
        """Delete ``.part`` files an earlier, interrupted put of ``name`` left in ``folder``."""
        removed = []
        with contextlib.suppress(ftplib.error_perm):
            for entry in self._names(folder):
                if is_leftover_part(entry, name):
                    self.ftp.delete(posixpath.join(folder, entry))
                    removed.append(entry)
        return removed

    def put(self, src: IO[bytes], folder: str, name: str, overwrite: bool) -> str:
        final = posixpath.join(folder, name)
        if not overwrite and self._exists(folder, name):
            raise DestinationExists(f"ftp {final} exists and overwrite is false")
        log_removed_leftovers(self.remove_leftovers(folder, name), folder)
        tmp = posixpath.join(folder, temp_name(name))
        try:
            self.ftp.storbinary(f"STOR {tmp}", src, blocksize=CHUNK)
            if not overwrite and self._exists(folder, name):
                raise DestinationExists(f"ftp {final} exists and overwrite is false")
            self.ftp.rename(tmp, final)
        except BaseException:
            # best effort: the connection may be the very thing that broke (the next put cleans up)
            with contextlib.suppress(Exception):
                self.ftp.delete(tmp)
            raise
        return final

    def close(self) -> None:
        try:
            self.hook.close_conn()
        except Exception:
            # QUIT on a dead session fails; the socket still has to go.
            with contextlib.suppress(Exception):
                self.ftp.close()
            self.hook.conn = None
