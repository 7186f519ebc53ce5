"""The plugin's ASGI guards: bodies over the limit refused before the app reads them; the pages' headers.

A real API server is attacked with these in ``tests/e2e/test_hostile_requests.py``;
here the byte counting and the replay of a buffered body are checked on their own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from airflow_batchtasks.plugins.http_guards import PAGE_HEADERS, BodyLimit, SecurityHeaders

LIMIT = 1000
pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Echo:
    """An app that reads the whole body and answers its length (and remembers it was called)."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.calls += 1
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": str(len(body)).encode()})


async def chunks(*sizes: int) -> AsyncIterator[bytes]:
    for size in sizes:
        yield b"x" * size


@pytest.fixture
def echo() -> Echo:
    return Echo()


async def post(app: Any, content: Any) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        return await client.post("/", content=content)


@pytest.mark.parametrize("size", [0, 1, LIMIT])
async def test_bodies_up_to_the_limit_reach_the_app_whole(echo: Echo, size: int) -> None:
    resp = await post(BodyLimit(echo, LIMIT), b"y" * size)

    assert (resp.status_code, resp.text) == (200, str(size))


async def test_a_declared_length_over_the_limit_is_refused_before_the_app_runs(echo: Echo) -> None:
    resp = await post(BodyLimit(echo, LIMIT), b"y" * (LIMIT + 1))

    assert resp.status_code == 413
    assert resp.json() == {"detail": "the request body is over the 0.000953674 MB limit ([batchtasks] max_request_mb)"}
    assert echo.calls == 0


async def test_a_chunked_body_is_counted_and_refused_when_it_goes_over(echo: Echo) -> None:
    refused = await post(BodyLimit(echo, LIMIT), chunks(600, 600, 10_000_000))
    accepted = await post(BodyLimit(echo, LIMIT), chunks(500, 500))

    assert refused.status_code == 413 and echo.calls == 1
    assert (accepted.status_code, accepted.text) == (200, "1000")


async def test_the_limit_is_read_once_from_its_source(echo: Echo) -> None:
    reads: list[int] = []

    def limit() -> int:
        reads.append(1)
        return 10

    app = BodyLimit(echo, limit)
    statuses = [(await post(app, b"z" * n)).status_code for n in (10, 11, 5)]

    assert statuses == [200, 413, 200]
    assert len(reads) == 1


async def test_page_headers_are_added_to_every_response(echo: Echo) -> None:
    resp = await post(SecurityHeaders(echo, PAGE_HEADERS), b"")

    assert resp.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'self'" in resp.headers["content-security-policy"]
    assert "script-src 'self';" in resp.headers["content-security-policy"]
