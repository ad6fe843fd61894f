"""Errors raised by the data sources (``hashshift.sources``).

Every error derives from :class:`SourceError`, so ``except SourceError`` catches any failure of a
source; each also derives from the built-in it refines (``ValueError`` for a payload of the wrong
shape, ``RuntimeError`` for a service that did not answer as it should).
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "MissingFilesError",
    "OutOfRangeError",
    "RPCError",
    "SourceAuthError",
    "SourceError",
    "SourceFormatError",
    "SourceHTTPError",
    "SourceUnavailableError",
    "TruncatedBodyError",
]


def _excerpt(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class SourceError(Exception):
    """Base class of every error raised by a data source."""


class SourceFormatError(SourceError, ValueError):
    """A payload that does not have the shape the source documents.

    Attributes
    ----------
    source : str — which source produced it (``"mempool"``, ``"bitcoind"``, a file path ...)
    field : str — the offending field, as a path into the payload (``"hashrates[3].avgHashrate"``)
    value : object — the offending value (or an excerpt of it)
    """

    def __init__(
        self, source: str, field: str, value: object = None, message: str | None = None
    ) -> None:
        self.source = source
        self.field = field
        self.value = value
        self.detail = message or "unexpected value"
        super().__init__(f"{source}: field {field!r}: {self.detail} (got {_excerpt(value)})")


class OutOfRangeError(SourceError, LookupError):
    """A date outside the span a data set covers; the message names the span."""


class MissingFilesError(SourceError, FileNotFoundError):
    """Files a reader needs that are not there.

    Attributes
    ----------
    missing : list[Path] — the files not found
    """

    def __init__(self, missing: list[Path]) -> None:
        self.missing = missing
        super().__init__("missing file(s): " + ", ".join(str(p) for p in missing))


class TruncatedBodyError(SourceFormatError):
    """A response body that looks cut short (JSON that does not parse, hex of the wrong length).

    The HTTP layer retries these as transient failures; when the retry budget is spent it raises
    :class:`SourceUnavailableError` chained to the last one.
    """


class SourceUnavailableError(SourceError, RuntimeError):
    """A service that could not be reached, or kept failing, after every retry.

    Attributes
    ----------
    source : str — the source's name
    url : str — the URL requested
    status : int | None — the last HTTP status seen (``None`` for timeouts and network errors)
    attempts : int — how many requests were made
    """

    def __init__(
        self, source: str, url: str, message: str, *, status: int | None = None, attempts: int = 1
    ) -> None:
        self.source = source
        self.url = url
        self.status = status
        self.attempts = attempts
        super().__init__(f"{source}: {url}: {message}")


class SourceHTTPError(SourceError, RuntimeError):
    """A definitive (not retried) HTTP error status, e.g. 400 or 404.

    Attributes
    ----------
    source : str — the source's name
    url : str — the URL requested
    status : int — [HTTP status code]
    body : str — the start of the response body (servers often explain the error there)
    """

    def __init__(self, source: str, url: str, status: int, body: str = "") -> None:
        self.source = source
        self.url = url
        self.status = status
        self.body = body
        reason = f": {body.strip()[:200]}" if body.strip() else ""
        super().__init__(f"{source}: {url}: HTTP {status}{reason}")


class SourceAuthError(SourceHTTPError):
    """HTTP 401/403: missing or wrong credentials (Bitcoin Core's cookie or rpcuser/rpcpassword)."""

    def __init__(self, source: str, url: str, status: int, body: str = "", hint: str = "") -> None:
        super().__init__(source, url, status, body)
        self.hint = hint
        if hint:
            self.args = (f"{self.args[0]} ({hint})",)


class RPCError(SourceError, RuntimeError):
    """A JSON-RPC error object returned by Bitcoin Core: ``{"code": int, "message": str}``.

    Attributes
    ----------
    code : int — Bitcoin Core's RPC error code (e.g. -8 invalid parameter, -5 not found,
        -32601 method not found; see ``src/rpc/protocol.h``)
    message : str — the node's message
    method : str — the RPC method called
    index : int | None — position of the call within a batch
    """

    def __init__(self, code: int, message: str, method: str = "", index: int | None = None) -> None:
        self.code = code
        self.message = message
        self.method = method
        self.index = index
        where = f" (batch item {index})" if index is not None else ""
        call = f"{method}: " if method else ""
        super().__init__(f"bitcoind RPC {call}error {code}: {message}{where}")
