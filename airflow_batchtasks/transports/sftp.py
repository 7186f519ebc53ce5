"""SFTP through the official SSH/SFTP hooks: stream files from a server and put files atomically.

Deliveries and file sources use the asyncssh client of :mod:`~airflow_batchtasks.transports.sftp_async`
(several times faster) unless the connection uses settings only the paramiko
SSHHook understands; then they use the hooks' paramiko client (reads with prefetch).
"""

from __future__ import annotations

import contextlib
import logging
import stat
from collections.abc import Iterator
from typing import IO

from airflow_batchtasks.transports import sftp_async
from airflow_batchtasks.transports.base import DestinationExists, is_leftover_part, log_removed_leftovers, temp_name

log = logging.getLogger(__name__)


class ParamikoSftpClient:
    """The portable SFTP client: paramiko through the official SSHHook, every connection option honoured.

    Used when :mod:`~airflow_batchtasks.transports.sftp_async` cannot carry the connection's settings; uploads are
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

    The client is asyncssh (:mod:`~airflow_batchtasks.transports.sftp_async`, several times faster) unless the
    connection uses settings only the paramiko SSHHook understands.
    """

    def __init__(self, conn_id: str, path: str) -> None:
        self.folder = path.rstrip("/") or "/"
        reason = sftp_async.unsupported_reason(conn_id)
        if reason is None:
            self.client: ParamikoSftpClient | sftp_async.AsyncSftpClient = sftp_async.AsyncSftpClient(conn_id)
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


class SftpReader:
    """Files on an SFTP server, through the Airflow connection ``conn_id``.

    asyncssh (:mod:`~airflow_batchtasks.transports.sftp_async`: reads pipelined, compression off, large
    packets) unless the connection uses settings only the paramiko SSHHook understands; then the official
    SFTPHook's client, with prefetch.
    """

    case_sensitive = True

    def __init__(self, conn_id: str) -> None:
        reason = sftp_async.unsupported_reason(conn_id)
        self._async: sftp_async.AsyncSftpClient | None = None
        if reason is None:
            self._async = sftp_async.AsyncSftpClient(conn_id)
            log.info("SFTP %s: asyncssh, cipher %s, no compression", conn_id, self._async.cipher)
            return
        from airflow.providers.sftp.hooks.sftp import SFTPHook

        log.info("SFTP %s: paramiko SFTPHook (%s)", conn_id, reason)
        self.hook = SFTPHook(ssh_conn_id=conn_id)
        self._managed = self.hook.get_managed_conn()
        self.client = self._managed.__enter__()

    def list_files(self, folder: str) -> list[str]:
        if self._async is not None:
            return self._async.list_files(folder)
        return [a.filename for a in self.client.listdir_attr(folder) if stat.S_ISREG(a.st_mode or 0)]

    @contextlib.contextmanager
    def open(self, path: str) -> Iterator[IO[bytes]]:
        if self._async is not None:
            with self._async.open_read(path) as fh:
                yield fh
            return
        with self.client.open(path, "rb") as fh:
            # Pipelined reads: without prefetch paramiko waits for each 32 KB block in turn.
            fh.prefetch(self.client.stat(path).st_size)
            yield fh

    def close(self) -> None:
        if self._async is not None:
            self._async.close()
            return
        with contextlib.suppress(Exception):
            self._managed.__exit__(None, None, None)
