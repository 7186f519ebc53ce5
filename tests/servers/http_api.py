"""A throwaway HTTP API on a free loopback port that records every request and answers as scripted.

Why a real server (not ``requests`` mocks): the provider calls APIs through
Airflow's HttpHook, and what matters is what really goes over the wire:
method, path, headers, auth, body.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.servers._common import LOOPBACK


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"


@dataclass
class HttpApiServer:
    """``answers[path] = Answer(...)``, or a list answered in turn (the last one repeats); every request is
    appended to ``requests`` (headers lower-cased)."""

    host: str = LOOPBACK
    port: int = 0
    answers: dict[str, Answer | list[Answer]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)

    def start(self) -> HttpApiServer:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                api.requests.append(Recorded(
                    self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                answer = api.answers.get(self.path.split("?", 1)[0], Answer(404, b'{"error": "no such endpoint"}'))
                if isinstance(answer, list):
                    answer = answer.pop(0) if len(answer) > 1 else answer[0]
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer((self.host, 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        self.answers.clear()
        self.requests.clear()
