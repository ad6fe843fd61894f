"""The ASGI guard in front of the dashboard: Host check, CORS refusal, token, size limits,
security headers.

- **Host**: only the names in ``allowed_hosts`` (``*`` allows any) — a page on another site that
  rebinds its DNS name to 127.0.0.1 cannot talk to the server (HTTP 400).
- **URL length**: a request line whose path and query exceed ``max_url_bytes`` is refused (414).
- **No CORS**: no response carries ``Access-Control-Allow-*`` headers, so a page of another
  origin cannot read any answer; ``OPTIONS`` (a CORS preflight) is refused with 405, so a
  browser never sends another origin's non-simple request (JSON bodies, ``Authorization``).
  A state-changing request (any method but GET/HEAD) whose ``Origin`` header names another
  origin is refused with 403 (a cross-site form cannot post to the API either).
- **Token** (``token`` set, e.g. from ``HASHSHIFT_TOKEN``): every state-changing request — the
  ones that run work or write — needs ``Authorization: Bearer <token>``, compared in constant
  time; otherwise 401 with ``WWW-Authenticate: Bearer``, before its body is read. Reads
  (GET/HEAD) stay open.
- **Body size**: a request body larger than ``max_body_bytes`` is refused with HTTP 413, from its
  ``Content-Length`` before anything is read, or while a chunked body is read.
- **Headers** on every response: a Content-Security-Policy that allows only this origin (no
  remote source of scripts, styles, images, fonts or connections; scripts only from files of
  this origin, no inline script, no eval; inline *styles* are allowed because plotly.js sets
  style attributes), ``frame-ancestors 'none'``,
  ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``, ``Referrer-Policy:
  no-referrer``, ``Cross-Origin-Opener-Policy``/``-Resource-Policy: same-origin``.

The guard also records the client's address in :data:`CLIENT` for the request's task: the run
manager bounds work per client with it (the socket's peer address; proxy headers are ignored).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable
from contextvars import ContextVar
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CLIENT", "CSP", "SAFE_METHODS", "SECURITY_HEADERS", "Guard", "check_token",
           "host_of"]

#: The address of the client whose request the current task handles ("" outside a request).
CLIENT: ContextVar[str] = ContextVar("hashshift_client", default="")

#: Methods that only read; every other method runs work or writes (and needs the token).
SAFE_METHODS = frozenset({"GET", "HEAD"})

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


def check_token(token: str) -> str:
    """``token`` if it can be an access token (8 to 512 visible ASCII characters), else
    ``ValueError`` (the message never contains the token)."""
    if not 8 <= len(token) <= 512:
        raise ValueError(f"the access token must be 8 to 512 characters long, not {len(token)}")
    if not all(0x21 <= ord(c) <= 0x7E for c in token):
        raise ValueError("the access token must be visible ASCII characters only (no spaces)")
    return token


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


def _same_origin(origin: str, host: str) -> bool:
    """Whether the ``Origin`` header names this server (its scheme://host[:port] is the Host
    header the request came with)."""
    o = origin.strip().lower()
    for scheme in ("http://", "https://"):
        if o.startswith(scheme):
            return bool(host) and o[len(scheme):] == host.strip().lower()
    return False  # "null" (sandboxed frames, file: pages) or garbage


def _bearer_ok(header: str, token: bytes) -> bool:
    """Whether an ``Authorization`` header carries ``token`` as a Bearer credential (the
    comparison takes the same time wherever the first difference is)."""
    scheme, _, given = header.strip().partition(" ")
    ok = hmac.compare_digest(given.strip().encode("latin-1"), token)
    return ok and scheme.lower() == "bearer"


class Guard:
    """Pure ASGI middleware (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, allowed_hosts: Iterable[str], max_body_bytes: int,
                 token: str | None = None, max_url_bytes: int = 4096):
        self.app = app
        hosts = {_norm_host(h) for h in allowed_hosts}
        self.any_host = "*" in hosts
        self.allowed = hosts
        self.max_body = max_body_bytes
        self.max_url = max_url_bytes
        self._token = check_token(token).encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        reset = CLIENT.set(str(client[0]) if client else "")
        try:
            await self._http(scope, receive, send)
        finally:
            CLIENT.reset(reset)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_secure(message: Message) -> None:
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()
                         if k.encode() not in have]
                message["headers"] = [(k, v) for k, v in message.get("headers", [])
                                      if not k.lower().startswith(b"access-control-")] + extra
            await send(message)

        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        if not self.any_host and host_of(headers.get("host", "")) not in self.allowed:
            await _plain(send_secure, 400, "invalid Host header")
            return
        if len(scope.get("raw_path") or b"") + len(scope.get("query_string", b"")) > self.max_url:
            await _plain(send_secure, 414, f"URL longer than {self.max_url:,} bytes")
            return
        method = scope.get("method", "GET").upper()
        if method == "OPTIONS":  # a CORS preflight, or a probe: neither is served
            await _plain(send_secure, 405, "OPTIONS is not allowed (this server does no CORS)",
                         [(b"allow", b"GET, HEAD, POST")])
            return
        if method not in SAFE_METHODS:
            origin = headers.get("origin")
            if origin is not None and not _same_origin(origin, headers.get("host", "")):
                await _plain(send_secure, 403, "cross-origin request refused")
                return
            if self._token is not None and not _bearer_ok(headers.get("authorization", ""),
                                                          self._token):
                await _plain(send_secure, 401, "this server needs an access token for this "
                             "request: send 'Authorization: Bearer <token>'",
                             [(b"www-authenticate", b'Bearer realm="hashshift"')])
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


async def _respond(send: Any, status: int, body: bytes, ctype: str,
                   extra: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", ctype.encode()),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"), *(extra or [])]})
    await send({"type": "http.response.body", "body": body})


async def _plain(send: Any, status: int, text: str,
                 extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"detail": text}).encode()
    await _respond(send, status, body, "application/json", extra)


async def _too_large(send: Any, limit: int) -> None:
    body = json.dumps({"detail": f"request body larger than {limit:,} bytes"}).encode()
    await _respond(send, 413, body, "application/json")
