"""A tiny HTTP file server on a free loopback port that insists on a token header.

Stands in for a web host of raw files (``query_from: {type: url}``) and for GitLab's raw-file API
(``{type: git}``): files are served by exact request path (query string included), only when the
request carries the expected header, so a test fails if the token is not sent. Runs in a thread of
the test process; ``stop()``/``start()`` keep the port, for "server unreachable" tests.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.servers._common import LOOPBACK, free_port


class TokenFileServer:
    """Serves ``files`` (request path -> body) to requests whose ``header`` equals ``value``; 401 otherwise.

    ``requests`` lists (path, headers) of every request, for assertions.
    """

    def __init__(self, files: dict[str, bytes], header: str, value: str) -> None:
        self.files = files
        self.header = header
        self.value = value
        self.host = LOOPBACK
        self.port = free_port()
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                outer.requests.append((self.path, dict(self.headers)))
                if self.headers.get(outer.header) != outer.value:
                    self._answer(401, b"missing or wrong token\n")
                elif self.path not in outer.files:
                    self._answer(404, b"not found\n")
                else:
                    self._answer(200, outer.files[self.path])

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def start(self) -> TokenFileServer:
        if self._server is None:
            ThreadingHTTPServer.allow_reuse_address = True
            self._server = ThreadingHTTPServer((self.host, self.port), self._handler())
            self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> TokenFileServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
