"""The service's guard as ASGI middleware in front of a small echo app: the key by Bearer or
X-API-Key (401 otherwise, probes open), bodies over the limit 413 with or without a
Content-Length, non-JSON POST bodies 415. (tests/test_service.py checks the same on a real
`bentoml serve`.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from serving.guard import GuardMiddleware

KEY = "s3cret-key"
LIMIT = 2048
seen: list[int] = []


async def echo(scope: Any, receive: Any, send: Any) -> None:
    """Reads the whole body and answers with its size."""
    size, more = 0, True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    seen.append(size)
    body = str(size).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
    app = GuardMiddleware(echo, api_key=KEY, max_body_bytes=LIMIT)

    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(run())


BEARER = {"Authorization": f"Bearer {KEY}"}


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (BEARER, 200),
        ({"Authorization": f"bearer {KEY}"}, 200),  # the scheme is case-insensitive
        ({"X-API-Key": KEY}, 200),
        ({}, 401),
        ({"Authorization": "Bearer wrong"}, 401),
        ({"Authorization": f"Basic {KEY}"}, 401),
        ({"Authorization": "Bearer "}, 401),
        ({"X-API-Key": KEY[:-1]}, 401),
        ({"Authorization": "Bearer wrong", "X-API-Key": KEY}, 401),  # a wrong Bearer decides
    ],
)
def test_the_key_is_required_on_every_route_but_the_probes(headers, status) -> None:
    for path in ("/score", "/explain", "/docs.json", "/anything"):
        r = call("POST", path, json={}, headers=headers)
        assert r.status_code == status, (path, r.text)
        if status == 401:
            assert "Bearer" in r.json()["error"]
            assert r.headers["www-authenticate"] == "Bearer"
    for probe in ("/livez", "/readyz", "/metrics"):
        assert call("GET", probe).status_code == 200


async def chunks(total: int, size: int = 500) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        n = min(size, total - sent)
        sent += n
        yield b"x" * n


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"content": b"x" * LIMIT}, 200),
        ({"content": b"x" * (LIMIT + 1)}, 413),
        ({"content": chunks(LIMIT)}, 200),  # streamed: no Content-Length
        ({"content": chunks(LIMIT + 1)}, 413),
        ({"content": chunks(50 * LIMIT)}, 413),
    ],
)
def test_bodies_over_the_limit_get_413(kwargs, status) -> None:
    headers = BEARER | {"content-type": "application/json"}
    r = call("POST", "/score", headers=headers, **kwargs)
    assert r.status_code == status, r.text
    if status == 413:
        assert f"limit of {LIMIT} bytes" in r.json()["error"]
    else:
        assert r.text == str(LIMIT)


def test_a_streamed_body_stops_being_read_at_the_limit() -> None:
    seen.clear()
    r = call("POST", "/score", content=chunks(50 * LIMIT), headers=BEARER)
    assert r.status_code == 413
    assert seen == []  # the app never got the body whole


def test_non_json_posts_get_415_and_a_bad_length_400() -> None:
    r = call("POST", "/score", content=b"a=1", headers=BEARER | {"content-type": "text/plain"})
    assert r.status_code == 415
    r = call("POST", "/score", content=b"{}", headers=BEARER | {"content-length": "zz"})
    assert r.status_code == 400


def test_no_key_configured_lets_requests_through() -> None:
    app = GuardMiddleware(echo, api_key=None)

    async def run() -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return (await client.post("/score", json={})).status_code

    assert asyncio.run(run()) == 200
