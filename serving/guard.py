"""The service's ASGI guard: the API key, the request body limit and JSON-only POST bodies.

- API key: when set, every request but the probes (/livez, /readyz, /healthz, /metrics) needs
  `Authorization: Bearer <key>` (or, as an alternative for clients that cannot set that
  header, `X-API-Key: <key>`); a missing or wrong key gets 401. Keys are compared in constant
  time.
- Body limit: a body over `max_body_bytes` gets 413, whether it declares its Content-Length or
  streams in chunks without one (counted as it arrives; the request stops there).
- A POST body that is not `application/json` gets 415 (BentoML answers a multipart body without
  a boundary with a 500).
"""

from __future__ import annotations

import hmac
import json
from typing import Any

__all__ = ["OPEN_PATHS", "GuardMiddleware"]

OPEN_PATHS = frozenset({"/livez", "/readyz", "/healthz", "/metrics"})


class _TooLarge(Exception):
    """The body went past the limit while it streamed in."""


async def _reply(send: Any, status: int, error: str, extra: list[Any] | None = None) -> None:
    body = json.dumps({"error": error}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send(
        {"type": "http.response.start", "status": status, "headers": headers + (extra or [])}
    )
    await send({"type": "http.response.body", "body": body})


def _presented_key(headers: dict[bytes, bytes]) -> bytes:
    auth = headers.get(b"authorization", b"")
    scheme, _, token = auth.partition(b" ")
    if scheme.lower() == b"bearer" and token.strip():
        return token.strip()
    return headers.get(b"x-api-key", b"")


class GuardMiddleware:
    """ASGI middleware in front of every route of the service.

    Parameters
    ----------
    app
        the ASGI app it guards.
    api_key
        the key requests must present; None lets every request through.
    max_body_bytes
        the largest request body accepted.
    """

    def __init__(self, app: Any, api_key: str | None, max_body_bytes: int = 1 << 20) -> None:
        self.app, self.key = app, api_key.encode() if api_key else None
        self.max_body = max_body_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        if self.key is not None and not hmac.compare_digest(_presented_key(headers), self.key):
            challenge = [(b"www-authenticate", b"Bearer")]
            msg = "invalid or missing API key (header Authorization: Bearer <key>)"
            return await _reply(send, 401, msg, challenge)
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                return await _reply(send, 400, "Content-Length is not a number")
            if size > self.max_body:
                return await _reply(send, 413, self._too_large())
        if scope["method"] == "POST":
            kind = headers.get(b"content-type", b"application/json").split(b";")[0].strip()
            if kind.lower() != b"application/json":
                return await _reply(send, 415, "Content-Type must be application/json")
        if declared is not None:
            return await self.app(scope, receive, send)
        return await self._counted(scope, receive, send)

    def _too_large(self) -> str:
        return f"request body larger than the limit of {self.max_body} bytes"

    async def _counted(self, scope: Any, receive: Any, send: Any) -> None:
        """Pass a body without a Content-Length on, counting it; 413 once past the limit."""
        seen = 0
        started = over = False

        async def counting_receive() -> Any:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    over = True
                    raise _TooLarge
            return message

        async def tracking_send(message: Any) -> None:
            nonlocal started
            if over and not started:
                return  # the app's answer to a body it never got whole: 413 instead
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except Exception:
            if not over:
                raise
        if over and not started:
            await _reply(send, 413, self._too_large())
