"""A bounded in-memory cache of whole HTTP responses for reads whose answer cannot change.

The JSON views of the bundled data (mining map, history, energy, …) are computed once per
process anyway, and a run's files are fixed by its hash; what costs time when many clients
read them is the framework around them (routing, the thread hop of a sync endpoint, JSON
encoding of large payloads — ``result.json`` of a year-long run is 280 KB of floats, ≈ 35 ms to
encode — and gzip). This ASGI middleware answers a repeated ``GET`` for such a URL from the
bytes of the first answer:

- only ``GET`` requests whose path the ``rule`` accepts, only answers with status 200 whose
  body is complete and at most ``max_entry_bytes``; the key is the path, the raw query string
  and whether the client accepts gzip (the gzip middleware sits inside this one);
- an entry has a *tag* (``rule``'s answer): ``valid(tag)`` is asked on every hit — a run's
  files are served only while the run is in the run cache — and :meth:`ResponseCache.purge`
  drops a tag's entries (the run manager calls it when it evicts a run);
- least recently used entries go first once there are more than ``max_entries`` or their
  bodies exceed ``max_bytes`` in all;
- concurrent misses of one key compute it once: the first goes through, the others wait for it
  (at most ``wait_s``) and are answered from the cache (no stampede when 50 clients ask for a
  run that has just finished).

Security headers are added by the guard outside this middleware, to hits as to misses.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CachedResponse", "ResponseCache"]

Key = tuple[str, bytes, bool]


@dataclass(frozen=True)
class CachedResponse:
    tag: str
    headers: list[tuple[bytes, bytes]]
    body: bytes


class ResponseCache:
    """Pure ASGI middleware (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, rule: Callable[[str], str | None],
                 valid: Callable[[str], bool] | None = None, max_entries: int = 256,
                 max_bytes: int = 64 * 2**20, max_entry_bytes: int = 8 * 2**20,
                 wait_s: float = 10.0):
        self.app = app
        self.rule = rule
        self.valid = valid
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.max_entry_bytes = min(max_entry_bytes, max_bytes)
        self._entries: OrderedDict[Key, CachedResponse] = OrderedDict()
        self._pending: dict[Key, asyncio.Event] = {}  # keys being computed (event loop only)
        self.wait_s = wait_s
        self._bytes = 0
        self._lock = threading.Lock()  # purge() is called from the run manager's threads
        self.hits = 0
        self.misses = 0

    # -- the store ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def _get(self, key: Key) -> CachedResponse | None:
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
            return hit

    def _put(self, key: Key, entry: CachedResponse) -> None:
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= len(old.body)
            self._entries[key] = entry
            self._bytes += len(entry.body)
            while self._entries and (len(self._entries) > self.max_entries
                                     or self._bytes > self.max_bytes):
                _, gone = self._entries.popitem(last=False)
                self._bytes -= len(gone.body)

    def purge(self, tag: str) -> None:
        """Drop every entry with this tag."""
        with self._lock:
            for key in [k for k, e in self._entries.items() if e.tag == tag]:
                self._bytes -= len(self._entries.pop(key).body)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    # -- ASGI --------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "GET":
            await self.app(scope, receive, send)
            return
        tag = self.rule(scope["path"])
        if tag is None:
            await self.app(scope, receive, send)
            return
        gzip = any(k.lower() == b"accept-encoding" and b"gzip" in v
                   for k, v in scope.get("headers", []))
        key: Key = (scope["path"], scope.get("query_string", b""), gzip)
        if await self._answer(key, send):
            return
        pending = self._pending.get(key)
        if pending is not None:  # another request is computing this answer: wait for it
            try:
                await asyncio.wait_for(pending.wait(), self.wait_s)
            except TimeoutError:
                pass
            if await self._answer(key, send):
                return
            await self.app(scope, receive, send)  # not cacheable after all: compute it
            return
        self.misses += 1
        done = self._pending[key] = asyncio.Event()
        try:
            await self._fill(key, tag, scope, receive, send)
        finally:
            del self._pending[key]
            done.set()

    async def _answer(self, key: Key, send: Send) -> bool:
        """Send the cached answer of ``key``, if there is a valid one."""
        hit = self._get(key)
        if hit is not None and self.valid is not None and not self.valid(hit.tag):
            self.purge(hit.tag)  # e.g. a run evicted from the run cache since
            hit = None
        if hit is None:
            return False
        self.hits += 1
        await send({"type": "http.response.start", "status": 200, "headers": list(hit.headers)})
        await send({"type": "http.response.body", "body": hit.body})
        return True

    async def _fill(self, key: Key, tag: str, scope: Scope, receive: Receive,
                    send: Send) -> None:
        """Compute the answer, pass it on, and keep it when it may be kept."""
        start: Message | None = None
        parts: list[bytes] = []
        size = 0
        keep = True

        async def capture(message: Message) -> None:
            nonlocal start, size, keep
            if message["type"] == "http.response.start":
                start = message
                keep = message.get("status") == 200
            elif message["type"] == "http.response.body" and keep:
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.max_entry_bytes:
                    keep = False
                    parts.clear()
                else:
                    parts.append(chunk)
                    if not message.get("more_body", False) and start is not None:
                        self._put(key, CachedResponse(tag, list(start.get("headers", [])),
                                                      b"".join(parts)))
            elif message["type"] != "http.response.body":
                keep = False  # trailers, pathsend, …: not cached
            await send(message)

        await self.app(scope, receive, capture)
