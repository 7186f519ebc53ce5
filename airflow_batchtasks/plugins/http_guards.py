"""ASGI guards of the plugin app: a cap on request bodies, and the pages' security headers.

Both are plain ASGI wrappers (not Starlette ``BaseHTTPMiddleware``) so they see
the raw byte stream and cost nothing on the way out.

- :class:`BodyLimit`: every route of the plugin (REST API and page forms) reads
  its body whole (JSON, YAML, form fields). Without a cap one request could make
  the API server hold and parse tens of MB; Airflow runs a single API worker by
  default, so that stalls the UI and ``/api/v2`` for everyone. A declared
  ``Content-Length`` over the limit is refused before one byte is read; a body
  without one (chunked) is read up to the limit and refused as soon as it goes
  over, so at most ``limit`` bytes are ever held.
- :class:`SecurityHeaders`: the pages may only be framed by Airflow's own UI
  (same origin) and load only their own scripts and styles.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: What the pages may load: their own files only; no inline script or style attribute is used by them.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return value
    return None


class BodyLimit:
    """Answer 413 to any request whose body is over ``max_bytes``, before the app reads it.

    :param max_bytes: the limit, or a callable giving it (read once, on the first request)
    """

    def __init__(self, app: ASGIApp, max_bytes: int | Callable[[], int]) -> None:
        self.app = app
        self._max_bytes = max_bytes

    @property
    def max_bytes(self) -> int:
        if callable(self._max_bytes):
            self._max_bytes = self._max_bytes()
        return self._max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        declared = _header(scope, b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                length = limit + 1  # a server would refuse it anyway; never let it through uncounted
            if length > limit:
                await self._refuse(send, limit)
                return
            await self.app(scope, receive, send)
            return
        if _header(scope, b"transfer-encoding") is None:
            await self.app(scope, receive, send)  # no body at all
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            body += message.get("body", b"")
            if len(body) > limit:
                await self._refuse(send, limit)
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(bytes(body), receive), send)

    @staticmethod
    async def _refuse(send: Send, limit: int) -> None:
        text = json.dumps({"detail": f"the request body is over the {limit / (1024 * 1024):g} MB limit "
                                     "([batchtasks] max_request_mb)"}).encode()
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(text)).encode()),
            (b"connection", b"close"),
        ]})
        await send({"type": "http.response.body", "body": text})


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the buffered body once, then the client's own messages (disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class SecurityHeaders:
    """Add ``headers`` to every HTTP response of ``app`` (unless the response sets them itself)."""

    def __init__(self, app: ASGIApp, headers: dict[str, str]) -> None:
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", ())}
                message["headers"] = [*message.get("headers", ()),
                                      *((k, v) for k, v in self.headers if k not in present)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


#: The pages' headers: framed only by Airflow's own UI, no MIME sniffing of downloads.
PAGE_HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "X-Content-Type-Options": "nosniff"}
