"""SMB through the official SambaHook (smbprotocol): list and stream files, and atomic puts.

The share is the connection's ``schema`` (the Samba provider's convention, labelled "Share" in the
connection form); paths are folders inside it. SMB renames refuse an existing target unless asked
to replace it, so ``overwrite: false`` is enforced by the server at the rename itself: two writers
racing for one name cannot both win.
"""

from __future__ import annotations

import contextlib
import errno
import posixpath
import shutil
from typing import IO

from airflow_batchtasks.storage.records import CHUNK
from airflow_batchtasks.transports.base import (
    DestinationExists,
    is_leftover_part,
    log_removed_leftovers,
    temp_name,
)


class SmbFiles:
    """One SMB session on the connection's host and port (``port`` defaults to 445)."""

    # SMB servers match names case-insensitively, so patterns do too.
    case_sensitive = False

    def __init__(self, conn_id: str) -> None:
        from airflow.providers.samba.hooks.samba import SambaHook

        self.conn_id = conn_id
        self.hook = SambaHook(samba_conn_id=conn_id)
        self.hook.__enter__()

    def list_files(self, folder: str) -> list[str]:
        return [entry.name for entry in self.hook.scandir(folder) if entry.is_file()]

    def open(self, path: str) -> contextlib.AbstractContextManager[IO[bytes]]:
        return self.hook.open_file(path, mode="rb")

    def _exists(self, path: str) -> bool:
        try:
            self.hook.stat(path)
            return True
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return False
            raise

    def remove_leftovers(self, folder: str, name: str) -> list[str]:
        """Delete ``.part`` files an earlier, interrupted put of ``name`` left in ``folder``."""
        removed = []
        for entry in self.hook.listdir(folder):
            if is_leftover_part(entry, name):
                self.hook.remove(posixpath.join(folder, entry))
                removed.append(entry)
        return removed

    def put(self, src: IO[bytes], folder: str, name: str, overwrite: bool) -> str:
        final = posixpath.join(folder, name)
        if not overwrite and self._exists(final):
            raise DestinationExists(f"smb {final} exists and overwrite is false")
        log_removed_leftovers(self.remove_leftovers(folder, name), folder)
        tmp = posixpath.join(folder, temp_name(name))
        try:
            with self.hook.open_file(tmp, mode="wb") as out:
                shutil.copyfileobj(src, out, CHUNK)
            if overwrite:
                self.hook.replace(tmp, final)
            else:
                try:
                    self.hook.rename(tmp, final)
                except OSError as exc:
                    if self._exists(final):
                        raise DestinationExists(f"smb {final} exists and overwrite is false") from exc
                    raise
        except BaseException:
            # best effort: the connection may be the very thing that broke (the next put cleans up)
            with contextlib.suppress(Exception):
                self.hook.remove(tmp)
            raise
        return final

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.hook.__exit__(None, None, None)
