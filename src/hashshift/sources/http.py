"""A small HTTP layer shared by the network sources (``mempool``, ``bitcoind``), on ``httpx``.

What it adds to a bare ``httpx.Client``:

- a base URL and a ``User-Agent: hashshift/<version> (+https://github.com/hashshift)``;
- timeouts [s] on connect and read;
- retries with exponential backoff and jitter (from an injectable, seedable ``random.Random``)
  on HTTP 429 and 5xx, timeouts, connection errors and truncated bodies (a ``Content-Length``
  the server does not honour, JSON that does not parse), honouring ``Retry-After``
  (RFC 9110 §10.2.3: delay in seconds or an HTTP date);
- a polite rate limit: a minimum interval [s] between the starts of two requests;
- errors that name the URL and the status (:mod:`hashshift.sources.errors`).

``sleep`` and ``clock`` are injectable so tests run without waiting.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any, Protocol, TypeVar

import httpx

from .. import __version__
from .errors import (
    SourceAuthError,
    SourceHTTPError,
    SourceUnavailableError,
    TruncatedBodyError,
)

__all__ = [
    "USER_AGENT",
    "HeaderSource",
    "HttpClient",
    "RetryPolicy",
    "json_body",
    "parse_retry_after",
    "text_body",
]

log = logging.getLogger(__name__)

USER_AGENT = f"hashshift/{__version__} (+https://github.com/hashshift)"

T = TypeVar("T")


class HeaderSource(Protocol):
    """What the store needs from a source of block headers (mempool.space or Bitcoin Core).

    Headers returned are NOT validated: callers must run
    :func:`hashshift.consensus.validate_headers` on them before storing them.
    """

    def get_tip_height(self) -> int:
        """Height [block height] of the source's best chain tip."""
        ...

    def get_headers(
        self, start_height: int, count: int, *,
        progress: Callable[[int, int], None] | None = None,
    ) -> bytes:
        """``count`` raw 80-byte headers from ``start_height``, concatenated."""
        ...


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry.

    Attributes
    ----------
    attempts : int — total tries per request (1 = no retry)
    backoff_s : float — [s] delay before the first retry; doubles (``backoff_factor``) each time
    backoff_factor : float — growth of the delay per retry
    max_backoff_s : float — [s] cap on one delay
    jitter : float — the delay is multiplied by ``1 + U(0, jitter)``
    max_retry_after_s : float — [s] longest ``Retry-After`` honoured; a server asking for more
        makes the request fail at once rather than block the caller
    """

    attempts: int = 5
    backoff_s: float = 0.5
    backoff_factor: float = 2.0
    max_backoff_s: float = 30.0
    jitter: float = 0.25
    max_retry_after_s: float = 300.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be >= 1, got {self.attempts}")
        if self.backoff_s < 0 or self.max_backoff_s < 0 or self.jitter < 0:
            raise ValueError("backoff_s, max_backoff_s and jitter must be >= 0")

    def delay(self, retry: int, rng: random.Random) -> float:
        """Delay [s] before retry number ``retry`` (1-based), jittered."""
        base = min(self.max_backoff_s, self.backoff_s * self.backoff_factor ** (retry - 1))
        return base * (1.0 + self.jitter * rng.random())


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header value (delta-seconds or an HTTP date).

    Returns ``None`` when the header is absent or unreadable; never negative.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        stamp = when.timestamp()
    except (TypeError, ValueError, OverflowError):  # e.g. a year beyond 2**31
        return None
    ref = now if now is not None else time.time()
    return max(0.0, stamp - ref)


class _Retry(Exception):
    """Internal: one failed attempt that may be retried."""

    def __init__(self, reason: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


def _body_excerpt(response: httpx.Response, limit: int = 300) -> str:
    try:
        return response.text[:limit]
    except Exception:  # noqa: BLE001 - an undecodable body is still worth reporting as such
        return "<undecodable body>"


def json_body(response: httpx.Response) -> Any:
    """The JSON document of a response; a body that does not parse is treated as truncated."""
    try:
        return json.loads(response.content)
    except json.JSONDecodeError as exc:
        reason = f"not valid JSON ({exc.msg} at byte {exc.pos} of {len(response.content)})"
    except UnicodeDecodeError as exc:
        reason = f"not valid UTF-8 ({exc.reason})"
    raise TruncatedBodyError("http", "body", response.content[-60:], reason + "; truncated?")


def text_body(response: httpx.Response) -> str:
    """The text of a response (UTF-8), stripped of surrounding whitespace."""
    return response.text.strip()


class HttpClient:
    """A polite, retrying HTTP client bound to one base URL.

    Parameters
    ----------
    base_url : str — prefix of every request path (``"https://mempool.space/api"``)
    source : str — name used in errors and logs
    timeout_s : float — [s] connect and read timeout of one attempt
    retry : RetryPolicy — retry budget and backoff (default :class:`RetryPolicy()`)
    min_interval_s : float — [s] minimum time between the starts of two requests
    headers : mapping — extra request headers
    auth : (user, password) — HTTP basic authentication
    sleep : callable — ``sleep(seconds)``; inject a no-op in tests
    clock : callable — monotonic clock [s] for the rate limit
    rng : random.Random — source of jitter; ``seed`` builds one when ``rng`` is not given
    transport : httpx.BaseTransport — e.g. ``httpx.MockTransport`` in unit tests
    """

    def __init__(
        self,
        base_url: str,
        *,
        source: str = "http",
        timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
        min_interval_s: float = 0.0,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        seed: int | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        if min_interval_s < 0:
            raise ValueError(f"min_interval_s must be >= 0, got {min_interval_s}")
        self.base_url = base_url.rstrip("/")
        self.source = source
        self.timeout_s = timeout_s
        self.retry = retry if retry is not None else RetryPolicy()
        self.min_interval_s = min_interval_s
        self.sleep = sleep
        self.clock = clock
        self.rng = rng if rng is not None else random.Random(seed)
        #: Requests sent (every attempt counts).
        self.requests_sent = 0
        self._last_start: float | None = None
        self._lock = threading.Lock()
        all_headers = {"User-Agent": USER_AGENT, "Accept": "application/json, text/plain, */*"}
        all_headers.update(headers or {})
        self._client = httpx.Client(
            base_url=self.base_url,
            headers=all_headers,
            timeout=httpx.Timeout(timeout_s),
            auth=auth,
            transport=transport,
            follow_redirects=True,
        )

    # -- lifecycle ------------------------------------------------------------------------------
    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def auth(self) -> httpx.Auth | None:
        return self._client.auth

    @auth.setter
    def auth(self, value: tuple[str, str] | None) -> None:
        self._client.auth = value  # type: ignore[assignment]

    def url_for(self, path: str) -> str:
        """Full URL of ``path`` (for messages)."""
        return str(self._client.build_request("GET", path).url)

    # -- requests -------------------------------------------------------------------------------
    def get_text(self, path: str, *, params: Mapping[str, str] | None = None) -> str:
        """GET ``path`` and return the body as stripped text."""
        return self.request("GET", path, params=params, parse=text_body)

    def get_json(self, path: str, *, params: Mapping[str, str] | None = None) -> Any:
        """GET ``path`` and return the decoded JSON body (retried if it does not parse)."""
        return self.request("GET", path, params=params, parse=json_body)

    def post_json(
        self, path: str, payload: Any, *,
        accept: Callable[[httpx.Response], bool] | None = None,
    ) -> Any:
        """POST ``payload`` as JSON to ``path`` and return the decoded JSON response."""
        return self.request("POST", path, json=payload, parse=json_body, accept=accept)

    def request(
        self,
        method: str,
        path: str,
        *,
        parse: Callable[[httpx.Response], T],
        params: Mapping[str, str] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        accept: Callable[[httpx.Response], bool] | None = None,
    ) -> T:
        """Send one request, retrying transient failures, and return ``parse(response)``.

        ``parse`` runs inside the retry loop: raising :class:`TruncatedBodyError` there marks
        the body as cut short and the request is retried. ``accept(response)`` may claim an
        error status as an answer (Bitcoin Core sends RPC errors with HTTP 500), which is then
        parsed instead of retried.

        Raises
        ------
        SourceUnavailableError — the retry budget is spent (names the URL, the last status)
        SourceAuthError — HTTP 401 or 403
        SourceHTTPError — another non-retryable error status (e.g. 404)
        """
        url = self.url_for(path)
        policy = self.retry
        last: _Retry | None = None
        for attempt in range(1, policy.attempts + 1):
            if last is not None:
                wait = policy.delay(attempt - 1, self.rng)
                if last.retry_after is not None:
                    if last.retry_after > policy.max_retry_after_s:
                        raise SourceUnavailableError(
                            self.source, url,
                            f"{last.reason}; the server asks to retry after "
                            f"{last.retry_after:.0f} s, more than the "
                            f"{policy.max_retry_after_s:.0f} s this client waits",
                            status=last.status, attempts=attempt - 1,
                        )
                    wait = max(wait, last.retry_after)
                log.info("%s: %s %s failed (%s); retry %d/%d in %.2f s", self.source, method,
                         url, last.reason, attempt - 1, policy.attempts - 1, wait)
                self.sleep(wait)
            try:
                return self._attempt(method, path, url, parse, params, json, headers, accept)
            except _Retry as exc:
                last = exc
        assert last is not None
        raise SourceUnavailableError(
            self.source, url,
            f"{method} failed after {policy.attempts} attempt(s): {last.reason}",
            status=last.status, attempts=policy.attempts,
        ) from last.__cause__

    def _wait_turn(self) -> None:
        with self._lock:
            if self.min_interval_s > 0 and self._last_start is not None:
                wait = self._last_start + self.min_interval_s - self.clock()
                if wait > 0:
                    self.sleep(wait)
            self._last_start = self.clock()
            self.requests_sent += 1

    def _attempt(
        self,
        method: str,
        path: str,
        url: str,
        parse: Callable[[httpx.Response], T],
        params: Mapping[str, str] | None,
        json: Any,
        headers: Mapping[str, str] | None,
        accept: Callable[[httpx.Response], bool] | None,
    ) -> T:
        self._wait_turn()
        try:
            response = self._client.request(
                method, path, params=params, json=json, headers=headers
            )
        except httpx.TimeoutException as exc:
            raise _Retry(f"timed out after {self.timeout_s:g} s ({type(exc).__name__})") from exc
        except httpx.RemoteProtocolError as exc:
            # e.g. "peer closed connection without sending complete message body"
            raise _Retry(f"incomplete response ({exc})") from exc
        except httpx.TransportError as exc:
            raise _Retry(f"connection failed ({type(exc).__name__}: {exc})") from exc
        except httpx.TooManyRedirects as exc:  # a redirect loop: asking again will not help
            raise SourceUnavailableError(self.source, url, f"{method} failed: {exc} (a "
                                         "redirect loop?)", attempts=1) from exc
        except httpx.RequestError as exc:  # e.g. DecodingError: a body that does not decode
            raise _Retry(f"unreadable response ({type(exc).__name__}: {exc})") from exc
        status = response.status_code
        if status >= 400 and not (accept is not None and accept(response)):
            if status == 429 or status >= 500:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                excerpt = _body_excerpt(response, 120).strip()
                reason = f"HTTP {status} {response.reason_phrase}".rstrip()
                if excerpt:
                    reason += f": {excerpt}"
                raise _Retry(reason, status, retry_after)
            if status in (401, 403):
                raise SourceAuthError(self.source, url, status, _body_excerpt(response))
            raise SourceHTTPError(self.source, url, status, _body_excerpt(response))
        try:
            return parse(response)
        except TruncatedBodyError as exc:
            raise _Retry(f"truncated or malformed body ({exc.detail})", status) from exc
