"""A throwaway SMTP server (aiosmtpd) on a free loopback port that records every message it accepts.

Why a real server (not a mocked ``smtplib``): notifications go through Airflow's SmtpHook, and what
matters is what really goes over the wire: login, envelope recipients, MIME structure, attachments.
It requires AUTH LOGIN/PLAIN with ``username``/``password`` (over plain TCP, fine on loopback), so a
test also proves the connection's credentials are used. ``stop()``/``start()`` keep the same port,
for tests of a mail server that is down at first.
"""

from __future__ import annotations

import email
import email.policy
import logging
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from tests.servers._common import LOOPBACK, ServerBinaryMissing, free_port, port_is_free, wait_until


@dataclass
class Received:
    """One accepted message: the envelope and the parsed MIME message."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes

    def text(self) -> str:
        """The text/plain body (the first one, for multipart messages), with SMTP's CRLF made ``\\n``."""
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content().replace("\r\n", "\n") if part is not None else ""

    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        return part.get_content().replace("\r\n", "\n") if part is not None else ""

    def attachments(self) -> dict[str, bytes]:
        return {a.get_filename(): a.get_content() for a in self.message.iter_attachments()}


class SmtpServer:
    """aiosmtpd in a background thread; ``messages`` lists what it accepted, oldest first."""

    def __init__(self, *, username: str = "notifier", password: str = "s3cret-smtp") -> None:
        try:
            import aiosmtpd  # noqa: F401
        except ImportError:
            raise ServerBinaryMissing("aiosmtpd not installed: run `uv sync` (it is a dev dependency)") from None
        self.host = LOOPBACK
        self.port = free_port()
        self.username = username
        self.password = password
        self.messages: list[Received] = []
        #: recipients refused once with a temporary error (451), then accepted
        self.refuse_once: set[str] = set()
        self._lock = threading.Lock()
        self._controller: Any = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> SmtpServer:
        if self.running:
            return self
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        server = self

        class Handler:
            async def handle_RCPT(  # noqa: N802 - aiosmtpd API
                self, smtp: Any, session: Any, envelope: Any, address: str, options: list[str]
            ) -> str:
                with server._lock:
                    if address in server.refuse_once:
                        server.refuse_once.discard(address)
                        return "451 4.3.0 gateway busy, try again later"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, smtp: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
                raw = envelope.original_content or envelope.content
                parsed = email.message_from_bytes(raw, policy=email.policy.default)
                with server._lock:
                    server.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed, raw))
                return "250 OK"

        def authenticate(smtp: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            ok = (getattr(data, "login", b"") == self.username.encode()
                  and getattr(data, "password", b"") == self.password.encode())
            return AuthResult(success=ok, handled=False)

        logging.getLogger("mail.log").setLevel(logging.WARNING)  # one INFO line per SMTP command otherwise
        wait_until(lambda: port_is_free(self.port), timeout=30, describe=f"port {self.port} busy")
        controller = Controller(
            Handler(), hostname=self.host, port=self.port, authenticator=authenticate,
            auth_required=True, auth_require_tls=False, data_size_limit=64 * 1024 * 1024,
        )
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    close = stop

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
            self.refuse_once.clear()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """The messages once at least ``count`` arrived (they are sent by the step before it ends)."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        with self._lock:
            return list(self.messages)

    def connection(self, **extra: Any) -> dict[str, Any]:
        """An Airflow ``smtp`` connection to this server (plain SMTP: no SSL, no STARTTLS)."""
        return {
            "conn_type": "smtp", "host": self.host, "port": self.port, "login": self.username,
            "password": self.password,
            "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "batch@example.com",
                      "timeout": 10, "retry_limit": 0, **extra},
        }

    def __repr__(self) -> str:
        return f"SmtpServer({self.username}@{self.host}:{self.port}, {len(self.messages)} message(s))"
