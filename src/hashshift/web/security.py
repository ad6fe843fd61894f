"""The ASGI guard in front of the dashboard: Host check, body-size limit, security headers.

- **Host**: only the names in ``allowed_hosts`` (``*`` allows any) — a page on another site that
  rebinds its DNS name to 127.0.0.1 cannot talk to the server (HTTP 400).
- **Body size**: a request body larger than ``max_body_bytes`` is refused with HTTP 413, from its
  ``Content-Length`` before anything is read, or while a chunked body is read.
- **Headers** on every response: a Content-Security-Policy that allows only this origin (no
  remote source of scripts, styles, images, fonts or connections; scripts only from files of
  this origin, no inline script, no eval; inline *styles* are allowed because plotly.js sets
  style attributes), ``frame-ancestors 'none'``,
  ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``, ``Referrer-Policy:
  no-referrer``, ``Cross-Origin-Opener-Policy``/``-Resource-Policy: same-origin``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CSP", "SECURITY_HEADERS", "Guard", "host_of"]

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    # plotly.js writes <style> rules and sets style attributes at run time (measured: with
    # style-src 'self' alone, or with hashes of its <style> blocks, Chromium blocks its
    # style attributes and the plots break); scripts stay strictly 'self'
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

SECURITY_HEADERS: dict[str, str] = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}


def host_of(header: str) -> str:
    """The host name of a Host header, without the port (IPv6 literals keep their brackets)."""
    h = header.strip().lower()
    if h.startswith("["):
        end = h.find("]")
        return h[: end + 1] if end > 0 else h
    return h.split(":", 1)[0]


def _norm_host(name: str) -> str:
    h = name.strip().lower()
    if h == "*" or h.startswith("["):
        return host_of(h) if h != "*" else h
    if h.count(":") > 1:  # a bare IPv6 literal
        return f"[{h}]"
    return host_of(h)


class Guard:
    """Pure ASGI middleware (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, allowed_hosts: Iterable[str], max_body_bytes: int):
        self.app = app
        hosts = {_norm_host(h) for h in allowed_hosts}
        self.any_host = "*" in hosts
        self.allowed = hosts
        self.max_body = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secure(message: Message) -> None:
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()
                         if k.encode() not in have]
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        if not self.any_host and host_of(headers.get("host", "")) not in self.allowed:
            await _plain(send_secure, 400, "invalid Host header")
            return
        length = headers.get("content-length")
        if length is not None:
            try:
                n = int(length)
            except ValueError:
                await _plain(send_secure, 400, "invalid Content-Length")
                return
            if n > self.max_body:
                await _too_large(send_secure, self.max_body)
                return
            await self.app(scope, receive, send_secure)
            return
        if headers.get("transfer-encoding", "").lower() != "chunked":
            await self.app(scope, receive, send_secure)
            return
        # A chunked body: read it up to the limit, then replay it to the app.
        buffered: list[Message] = []
        size = 0
        while True:
            msg = await receive()
            buffered.append(msg)
            if msg["type"] != "http.request":
                break
            size += len(msg.get("body", b""))
            if size > self.max_body:
                await _too_large(send_secure, self.max_body)
                return
            if not msg.get("more_body", False):
                break

        async def replay() -> Message:
            if buffered:
                return buffered.pop(0)
            return await receive()

        await self.app(scope, replay, send_secure)


async def _respond(send: Any, status: int, body: bytes, ctype: str) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", ctype.encode()),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


async def _plain(send: Any, status: int, text: str) -> None:
    body = json.dumps({"detail": text}).encode()
    await _respond(send, status, body, "application/json")


async def _too_large(send: Any, limit: int) -> None:
    body = json.dumps({"detail": f"request body larger than {limit:,} bytes"}).encode()
    await _respond(send, 413, body, "application/json")
