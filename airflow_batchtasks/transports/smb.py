"""SMB through the official SambaHook (smbprotocol): list and stream files, and atomic puts.

The share is the connection's ``schema`` (the Samba provider's convention, labelled "Share" in the
connection form); paths are folders inside it. SMB renames refuse an existing target unless asked
to replace it, so ``overwrite: false`` is enforced by the server at the rename itself: two writers
racing for one name cannot both win.

Reads and writes are pipelined: smbprotocol's file objects send one request and wait for its answer
before the next, so every MiB costs a full round trip through both processes' schedulers, and on a
busy machine the transfer mostly waits (1 GiB took 3 to 10x as long as ``smbclient``, which keeps
requests in flight). Here up to :data:`IN_FLIGHT` requests of :data:`BLOCK` bytes are outstanding,
through smbprotocol's own out-of-band ``Open.read``/``Open.write`` (``send=False``) and
``Connection.send``, with the SMB credits they need asked for as they go. The bytes, the file's
temporary name and the rename are unchanged.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import io
import posixpath
from collections.abc import Iterator
from typing import IO, Any

from airflow_batchtasks.storage.records import CHUNK
from airflow_batchtasks.transports.base import (
    DestinationExists,
    is_leftover_part,
    log_removed_leftovers,
    temp_name,
)

#: Bytes per SMB read or write request (capped by what the server negotiated).
BLOCK = CHUNK
#: Requests kept in flight on the connection: 8 MiB, enough to keep client and server busy on loopback and LAN.
IN_FLIGHT = 8
#: SMB's credit unit: a request of n bytes costs ceil(n / 64 KiB) credits (multi-credit servers).
_CREDIT_BYTES = 65536


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

    @contextlib.contextmanager
    def open(self, path: str) -> Iterator[IO[bytes]]:
        """The file's bytes, read ahead :data:`IN_FLIGHT` requests at a time (up to its size when opened)."""
        with self.hook.open_file(path, mode="rb", buffering=0) as raw:
            reader = _PipelinedReader(raw)
            try:
                yield io.BufferedReader(reader, CHUNK)
            finally:
                reader.drain()

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
            with self.hook.open_file(tmp, mode="wb", buffering=0) as out:
                _pipelined_write(out, src)
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


class _Pipe:
    """Requests in flight on one open file, oldest first, within the connection's SMB credits."""

    def __init__(self, raw: Any, operation: str) -> None:
        self.fd = raw.fd  # smbprotocol.open.Open
        self.connection = self.fd.connection
        self.ids = {"sid": self.fd.tree_connect.session.session_id, "tid": self.fd.tree_connect.tree_connect_id}
        self.block = min(BLOCK, getattr(self.connection, f"max_{operation}_size"))
        if not self.connection.supports_multi_credit:
            self.block = min(self.block, _CREDIT_BYTES)  # one credit per request, 64 KiB at most
        self.pending: collections.deque[tuple[Any, Any, int]] = collections.deque()

    def _credits(self) -> int:
        window = self.connection.sequence_window
        return int(window["high"] - window["low"])

    def room_for(self, size: int) -> int:
        """Bytes the next request may carry (<= ``size``), waiting for answers while none can go; 0: wait first."""
        size = min(size, self.block)
        if not self.pending and self._credits() < 1:  # cannot happen with a server that follows the protocol
            raise OSError(errno.EPROTO, "SMB server granted no credits: cannot send the next request")
        if not self.connection.supports_multi_credit:
            return size if len(self.pending) < IN_FLIGHT and self._credits() >= 1 else 0
        affordable = self._credits() * _CREDIT_BYTES
        if len(self.pending) >= IN_FLIGHT or (affordable < size and self.pending):
            return 0  # the oldest answer frees a slot and brings credits back
        return min(size, affordable)

    def send(self, message: Any, receive: Any, size: int) -> None:
        charge = max(1, (size - 1) // _CREDIT_BYTES + 1)
        # ask for what this request uses plus what keeps IN_FLIGHT full blocks going (the server may grant less)
        wanted = IN_FLIGHT * max(1, (self.block - 1) // _CREDIT_BYTES + 1)
        request = self.connection.send(message, credit_request=charge + max(0, wanted - self._credits()), **self.ids)
        self.pending.append((request, receive, size))

    def oldest(self) -> tuple[Any, int]:
        """Wait for the oldest request's answer: (what its receive function returns, the size asked)."""
        request, receive, size = self.pending.popleft()
        return receive(request), size


def _pipelined_write(raw: Any, src: IO[bytes]) -> int:
    """Write all of ``src`` to the open SMB file ``raw`` (unbuffered ``SMBFileIO``); return the bytes written."""
    pipe = _Pipe(raw, "write")
    offset = 0
    data = b""
    while True:
        if not data:
            data = src.read(pipe.block)
            if not data:
                break
        size = pipe.room_for(len(data))
        if not size:
            _written(*pipe.oldest())
            continue
        message, receive = pipe.fd.write(data[:size], offset=offset, send=False)
        pipe.send(message, receive, size)
        offset += size
        data = data[size:]
    while pipe.pending:
        _written(*pipe.oldest())
    return offset


def _written(count: int, size: int) -> None:
    if count != size:  # servers write all or fail; a short count would leave a hole in the file
        raise OSError(errno.EIO, f"SMB server wrote {count} of {size} bytes")


class _PipelinedReader(io.RawIOBase):
    """Reads of an open SMB file (unbuffered ``SMBFileIO``), kept :data:`IN_FLIGHT` requests ahead.

    Reads up to the size the file had when opened, as smbprotocol's own reader does.
    """

    def __init__(self, raw: Any) -> None:
        super().__init__()
        self._pipe = _Pipe(raw, "read")
        self._end = int(raw.fd.end_of_file)
        self._asked = 0  # bytes requested so far
        self._block = memoryview(b"")

    def readable(self) -> bool:
        return True

    def _ask(self) -> None:
        while self._asked < self._end:
            size = self._pipe.room_for(self._end - self._asked)
            if not size:
                return
            message, receive = self._pipe.fd.read(self._asked, size, send=False)
            self._pipe.send(message, receive, size)
            self._asked += size

    def readinto(self, buffer: Any) -> int:
        if not self._block:
            self._ask()
            if not self._pipe.pending:
                return 0
            data, size = self._pipe.oldest()
            if len(data) != size:  # the file shrank while being read: fail rather than hand on a hole
                raise OSError(errno.EIO, f"SMB read returned {len(data)} of {size} bytes")
            self._block = memoryview(data)
            self._ask()  # keep the pipe full while the caller works on this block
        count = min(len(buffer), len(self._block))
        buffer[:count] = self._block[:count]
        self._block = self._block[count:]
        return count

    def drain(self) -> None:
        """Collect the answers of reads still in flight (a reader closed early), so the connection stays in step."""
        self._block = memoryview(b"")
        while self._pipe.pending:
            with contextlib.suppress(Exception):
                self._pipe.oldest()
