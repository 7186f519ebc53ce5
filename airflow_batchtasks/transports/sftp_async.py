"""Fast SFTP client for deliveries: asyncssh, AES-GCM, no compression, many writes in flight.

Why (measured, README "Performance"): uploading 1 GiB to a loopback OpenSSH,
``SFTPHook.store_file`` (paramiko, the connection compresses by default) takes
several times OpenSSH's own ``sftp``; paramiko tuned (no compression, AES-GCM,
pipelined 32 KB requests that fit one SSH packet) still ~1.8x, because it
handles every packet in Python on two threads that share the GIL. asyncssh
uses one thread and its cipher is a single OpenSSL AEAD call per packet:
~1.3x. Cipher order matters: AES-GCM runs on AES-NI with no separate MAC, while
asyncssh's default (chacha20-poly1305) costs about 50% more CPU. Compression
is off: zlib at tens of MB/s would be the bottleneck on any fast link, and
zipped or encrypted files do not shrink.

Same Airflow connection: the official ``SFTPHookAsync`` (sftp provider) reads
it (login, password, ``private_key``/``key_file`` and passphrase,
``no_host_key_check``/``host_key``/``known_hosts``) exactly as for its own
asyncssh connections; only the algorithm preferences are added to the connect
call. A connection that uses what only the paramiko ``SSHHook`` understands
(a proxy command from ``~/.ssh/config``, explicit ``ciphers`` or
``disabled_algorithms``, other extras) keeps the paramiko path
(:func:`unsupported_reason` says why), so nothing about a connection is ever
silently ignored.

Where the client's CPU goes (``benchmarks/extract_and_deliver.py --profile``): every SSH packet
costs a trip through asyncssh's Python (build, pad, encrypt, one socket write), and a packet
carries at most 32 KB towards OpenSSH (the server's channel limit). Three things cut that work
without touching what goes over the wire: (1) asyncssh sends an empty ``SSH_MSG_IGNORE`` before
every packet, a countermeasure for CBC ciphers (RFC 4251, 9.3.1) that AES-GCM and CTR do not need
and OpenSSH does not send; with a non-CBC cipher it is dropped (:func:`skip_cbc_countermeasure`),
halving the packets; (2) files are opened with ``block_size=0``, so a 255 KB request is one
SFTP message, not a task of asyncssh's parallel writer; (3) downloads advertise 256 KB packets and
a 16 MB window, so the server sends 8 times fewer packets than with asyncssh's 32 KB default
(OpenSSH's sshd honours the size the client asks for).

The destination code is synchronous; each client owns a private event loop. Downloads are a
synchronous ``read(n)`` over that loop (:class:`PipelinedReader`): up to :data:`MAX_REQUESTS` reads
stay in flight while the caller writes what it got, as paramiko's prefetch does with a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Coroutine, Iterator
from typing import IO, Any, TypeVar

T = TypeVar("T")

PREFERRED_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "aes128-ctr", "aes256-ctr")
MAX_REQUESTS = 64  # writes in flight: 64 x 255 KB = 16 MB at most, whatever the file size
DEFAULT_BLOCK = 32 * 1024  # servers without the limits@openssh.com extension
RECV_PACKET = 256 * 1024  # the largest SSH packet we accept: OpenSSH's own packet limit
RECV_WINDOW = 16 * 1024 * 1024  # what the server may send before we acknowledge: MAX_REQUESTS reads of 255 KB

# Extras both hooks read the same way; anything else keeps the paramiko path.
ASYNC_SAFE_EXTRAS = {
    "private_key",
    "private_key_passphrase",
    "passphrase",
    "key_file",
    "no_host_key_check",
    "host_key",
    "known_hosts",
    "compress",  # compression is off on this path, see above
    "conn_timeout",
    "timeout",
}


def unsupported_reason(conn_id: str) -> str | None:
    """Why the asyncssh client cannot carry this connection's settings, or ``None`` when it can."""
    try:
        asyncio.get_running_loop()
        return "called from a running event loop"
    except RuntimeError:
        pass
    from airflow.providers.ssh.hooks.ssh import SSHHook

    hook = SSHHook(ssh_conn_id=conn_id)  # parses the connection and ~/.ssh/config, does not connect
    if hook.host_proxy_cmd:
        return "a proxy command (from ~/.ssh/config)"
    if hook.ciphers or hook.disabled_algorithms:
        return "explicit ciphers or disabled_algorithms"
    extras = set(hook.get_connection(conn_id).extra_dejson) - ASYNC_SAFE_EXTRAS
    if extras:
        return f"connection extras only the paramiko SSHHook reads: {', '.join(sorted(extras))}"
    return None


def connect_options(conn_id: str) -> dict[str, Any]:
    """asyncssh ``connect`` arguments for an Airflow connection, as the official SFTPHookAsync builds them."""
    import asyncssh
    from airflow.providers.sftp.hooks.sftp import SFTPHookAsync
    from asyncssh.encryption import get_default_encryption_algs
    from paramiko.config import SSH_PORT

    hook = SFTPHookAsync(sftp_conn_id=conn_id)
    conn = hook.get_connection(conn_id)
    hook._parse_extras(conn)  # the provider's own reading of the extras (keys, host keys, passphrase)
    options: dict[str, Any] = {
        "host": hook.host or conn.host,
        # the connection's port first: SFTPHookAsync of sftp provider <= 5.4 defaults its own port to 22
        "port": conn.port or hook.port or SSH_PORT,
        "username": hook.username or conn.login,
        "password": hook.password or conn.password,
    }
    if hook.key_file:
        options["client_keys"] = hook.key_file
    if hook.known_hosts:
        if isinstance(hook.known_hosts, str) and hook.known_hosts.lower() == "none":
            options["known_hosts"] = None
        elif hook._should_use_known_hosts():
            options["known_hosts"] = hook.known_hosts
    if hook.private_key:
        options["client_keys"] = [asyncssh.import_private_key(hook.private_key, hook.passphrase or None)]
    if hook.passphrase:
        options["passphrase"] = hook.passphrase
    timeout = conn.extra_dejson.get("conn_timeout") or conn.extra_dejson.get("timeout")
    if timeout:
        options["connect_timeout"] = float(timeout)
    available = [alg.decode() for alg in get_default_encryption_algs()]
    options["encryption_algs"] = [c for c in PREFERRED_CIPHERS if c in available] + [
        c for c in available if c not in PREFERRED_CIPHERS
    ]
    options["compression_algs"] = ["none"]
    options["max_pktsize"] = RECV_PACKET
    options["window"] = RECV_WINDOW
    return options


def skip_cbc_countermeasure(conn: Any) -> bool:
    """Stop asyncssh sending an empty ``SSH_MSG_IGNORE`` before every packet, unless the cipher is CBC.

    asyncssh (2.x) inserts one before each encrypted packet: the countermeasure of RFC 4251 9.3.1
    against CBC's predictable IVs. AES-GCM, CTR and chacha20 do not need it (OpenSSH never sends it),
    and it doubles the packets each side encrypts, writes and decrypts. Receivers must ignore the
    message, so leaving it out changes nothing else. Returns whether it is now skipped.
    """
    cipher = str(conn.get_extra_info("send_cipher") or "")
    if not cipher or "cbc" in cipher:
        return False
    from asyncssh.constants import MSG_IGNORE
    from asyncssh.packet import String

    empty = String(b"")
    send_packet = conn.send_packet

    def without_empty_ignore(pkttype: int, *args: bytes, **kwargs: Any) -> None:
        if pkttype == MSG_IGNORE and args == (empty,):
            return
        send_packet(pkttype, *args, **kwargs)

    # an instance attribute: asyncssh's own ``self.send_packet(MSG_IGNORE, ...)`` comes through it too
    conn.send_packet = without_empty_ignore
    return True


class AsyncSftpClient:
    """The operations a delivery needs (exists, listdir, remove, upload, rename), on asyncssh."""

    def __init__(self, conn_id: str) -> None:
        import asyncssh

        self._asyncssh = asyncssh
        options = connect_options(conn_id)
        self._loop = asyncio.new_event_loop()
        try:
            self._ssh = self._run(asyncssh.connect(**options))
            self._sftp = self._run(self._ssh.start_sftp_client())
        except BaseException:
            self._loop.close()
            raise
        self.cipher = self._ssh.get_extra_info("send_cipher")
        skip_cbc_countermeasure(self._ssh)

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._loop.run_until_complete(coro)

    def exists(self, path: str) -> bool:
        return self._run(self._sftp.exists(path))

    def listdir(self, folder: str) -> list[str]:
        return [name for name in self._run(self._sftp.listdir(folder)) if name not in (".", "..")]

    def remove(self, path: str) -> None:
        self._run(self._sftp.remove(path))

    def rename(self, source: str, target: str, overwrite: bool) -> None:
        """Replace ``target`` atomically (posix-rename) or, without ``overwrite``, fail if it exists."""
        self._run(self._sftp.posix_rename(source, target) if overwrite else self._sftp.rename(source, target))

    def upload(self, src: IO[bytes], path: str) -> int:
        """Write ``src`` to ``path`` with up to :data:`MAX_REQUESTS` writes in flight; check the size after."""
        return self._run(self._upload(src, path))

    async def _upload(self, src: IO[bytes], path: str) -> int:
        limits = getattr(self._sftp, "limits", None)
        block = getattr(limits, "max_write_len", 0) or DEFAULT_BLOCK
        pending: set[asyncio.Future[Any]] = set()
        offset = 0
        # block_size=0: each write below is one SFTP request (not a task of asyncssh's parallel writer)
        async with self._sftp.open(path, "wb", block_size=0) as remote:
            try:
                while data := src.read(block):
                    pending.add(asyncio.ensure_future(remote.write(data, offset)))
                    offset += len(data)
                    if len(pending) >= MAX_REQUESTS:
                        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                        failures = [error for error in (write.exception() for write in done) if error]
                        if failures:
                            raise failures[0]
                if pending:
                    await asyncio.gather(*pending)
                    pending = set()
            finally:
                # a failed upload (dead connection) must not leave writes running or errors unread
                for write in pending:
                    write.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
        size = (await self._sftp.stat(path)).size
        if size != offset:
            raise OSError(f"sftp {path}: the server holds {size} bytes after {offset} were sent")
        return offset

    def list_files(self, folder: str) -> list[str]:
        """The regular files in ``folder`` as the server lists them (a symbolic link is not one)."""
        import stat

        entries = self._run(self._sftp.readdir(folder))
        return [str(e.filename) for e in entries if stat.S_ISREG(e.attrs.permissions or 0)]

    @contextlib.contextmanager
    def open_read(self, path: str) -> Iterator[IO[bytes]]:
        """``path`` for reading front to back, with reads in flight ahead of the caller."""
        limits = getattr(self._sftp, "limits", None)
        block = getattr(limits, "max_read_len", 0) or DEFAULT_BLOCK
        remote = self._run(self._sftp.open(path, "rb", block_size=0))
        reader = PipelinedReader(self._loop, remote, block)
        try:
            yield reader  # type: ignore[misc]
        finally:
            reader.cancel()
            with contextlib.suppress(Exception):
                self._run(remote.close())

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._sftp.exit()
            self._ssh.close()
            self._run(self._ssh.wait_closed())
        self._loop.close()


class PipelinedReader:
    """A remote file read in order with up to :data:`MAX_REQUESTS` reads of ``block`` bytes in flight.

    ``read(n)`` answers like a local file (``n`` bytes, fewer only at the end, ``b""`` after it);
    while it waits for the next block, the loop also takes in the later ones. A short answer (the
    end of the file, or a server that sends less than asked) is completed by reading the rest of
    the block before going on, so bytes come out in order and none is skipped; an empty answer is
    the end. The reads asked past the end come back empty and are dropped.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, remote: Any, block: int) -> None:
        self._loop = loop
        self._remote = remote
        self._block = block
        self._pending: deque[tuple[int, asyncio.Future[bytes]]] = deque()
        self._next = 0  # offset of the next read to ask for
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._ended = False

    def _ask(self) -> None:
        while len(self._pending) < MAX_REQUESTS:
            read = asyncio.ensure_future(self._remote.read(self._block, self._next), loop=self._loop)
            self._pending.append((self._next, read))
            self._next += self._block

    def _take_block(self) -> bool:
        """Move the next block into the buffer; False at the end of the file."""
        if self._ended:
            return False
        self._ask()
        offset, read = self._pending.popleft()
        data = self._loop.run_until_complete(read)
        if not data:
            self._ended = True
            return False
        while len(data) < self._block:  # short: the end of the file, or a server that answers less
            more = self._loop.run_until_complete(self._remote.read(self._block - len(data), offset + len(data)))
            if not more:
                self._ended = True
                break
            data += more
        self._chunks.append(data)
        self._buffered += len(data)
        return True

    def read(self, n: int = -1) -> bytes:
        while (n < 0 or self._buffered < n) and self._take_block():
            pass
        if n < 0 or n >= self._buffered:
            out = b"".join(self._chunks)
            self._chunks.clear()
        else:
            parts, size = [], 0
            while size < n:
                chunk = self._chunks.popleft()
                if size + len(chunk) > n:
                    cut = n - size
                    self._chunks.appendleft(chunk[cut:])
                    chunk = chunk[:cut]
                parts.append(chunk)
                size += len(chunk)
            out = b"".join(parts)
        self._buffered -= len(out)
        return out

    def cancel(self) -> None:
        """Stop the reads still in flight (the caller stopped early, or failed)."""
        for _, read in self._pending:
            read.cancel()
        if self._pending:
            with contextlib.suppress(Exception):
                self._loop.run_until_complete(asyncio.gather(*(r for _, r in self._pending), return_exceptions=True))
        self._pending.clear()
