"""Bitcoin Core's JSON-RPC interface: chain tip, block hashes and raw headers from your own node.

Protocol (Bitcoin Core ``doc/JSON-RPC-interface.md``, ``src/httprpc.cpp``):

- JSON-RPC 1.0 over HTTP POST to ``/``: ``{"jsonrpc": "1.0", "id", "method", "params"}`` ->
  ``{"result", "error", "id"}``; an error is ``{"code": int, "message": str}`` and comes with
  HTTP 500 (404 for an unknown method, 400 for an invalid request) for a single call;
- a batch is a JSON array of calls, answered with HTTP 200 and an array of replies, each with
  its own ``error``;
- HTTP basic authentication, either ``rpcuser``/``rpcpassword`` or the cookie file
  ``<datadir>/.cookie`` that bitcoind rewrites at every start, holding
  ``__cookie__:<password>``; a wrong credential is answered with HTTP 401 and no body;
- ``getblockhash <height>`` -> hash (display hex); ``getblockheader <hash> false`` -> the
  80-byte header as hex; ``getblockcount``; ``getblockchaininfo``.

Headers returned by :meth:`BitcoinRPC.get_headers` are checked against the hashes the node
reports, nothing more: callers must validate them with
:func:`hashshift.consensus.validate_headers` before storing them.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from .errors import RPCError, SourceAuthError, SourceFormatError
from .http import HttpClient, RetryPolicy, json_body
from .mempool import parse_block_hash, parse_header_hex

__all__ = [
    "DEFAULT_URL",
    "VARIABLE_MAP",
    "BitcoinRPC",
    "BlockchainInfo",
    "parse_blockchain_info",
    "parse_rpc_batch",
    "parse_rpc_reply",
    "read_cookie",
]

SOURCE = "bitcoind"
DEFAULT_URL = "http://127.0.0.1:8332"

#: ``getblockchaininfo`` field names -> the project's names.
VARIABLE_MAP: dict[str, str] = {
    "chain": "chain",  # "main", "test", "testnet4", "signet", "regtest"
    "blocks": "height",  # [block height] of the validated tip
    "headers": "headers_height",  # [block height] of the best known header
    "bestblockhash": "best_hash",  # display hex
    "difficulty": "difficulty",  # [dimensionless]
    "mediantime": "median_time",  # [unix s] -> tz-aware UTC
    "chainwork": "chainwork",  # [expected hashes] hex -> int
}


# ---------------------------------------------------------------------------------------------
# Parsers (pure)
# ---------------------------------------------------------------------------------------------
def read_cookie(path: str | Path) -> tuple[str, str]:
    """Read Bitcoin Core's cookie file: one line ``__cookie__:<password>`` -> (user, password)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise FileNotFoundError(
            f"cannot read the bitcoind cookie file {p} ({exc.strerror}); is bitcoind running, "
            "and is this its datadir (the file is <datadir>/.cookie, <datadir>/testnet3/.cookie "
            "...)?"
        ) from exc
    line = text.strip().splitlines()[0] if text.strip() else ""
    user, sep, password = line.partition(":")
    if not sep or not user or not password:
        raise SourceFormatError(str(p), "cookie", line[:20] + "...",
                                "expected one line '__cookie__:<password>'")
    return user, password


@dataclass(frozen=True)
class BlockchainInfo:
    """The part of ``getblockchaininfo`` the project uses (names per :data:`VARIABLE_MAP`)."""

    chain: str
    height: int
    headers_height: int
    best_hash: str
    difficulty: float
    median_time: datetime
    chainwork: int


def parse_blockchain_info(obj: Any) -> BlockchainInfo:
    """Parse the ``result`` of ``getblockchaininfo``."""
    if not isinstance(obj, dict):
        raise SourceFormatError(SOURCE, "getblockchaininfo", obj, "expected a JSON object")
    missing = [k for k in VARIABLE_MAP if k not in obj]
    if missing:
        raise SourceFormatError(SOURCE, f"getblockchaininfo.{missing[0]}", None, "missing")

    def integer(key: str, limit: int = 2**63 - 1) -> int:
        v = obj[key]
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= limit:
            raise SourceFormatError(SOURCE, f"getblockchaininfo.{key}", v,
                                    f"expected an integer in [0, {limit}]")
        return v

    chain = obj["chain"]
    if not isinstance(chain, str):
        raise SourceFormatError(SOURCE, "getblockchaininfo.chain", chain, "expected a string")
    diff = obj["difficulty"]
    if isinstance(diff, bool) or not isinstance(diff, int | float) or not diff > 0 \
            or (isinstance(diff, int) and diff.bit_length() > 1000) or not math.isfinite(diff):
        raise SourceFormatError(SOURCE, "getblockchaininfo.difficulty", diff,
                                "expected a positive finite number")
    try:
        work = int(obj["chainwork"], 16)
    except (TypeError, ValueError):
        raise SourceFormatError(SOURCE, "getblockchaininfo.chainwork", obj["chainwork"],
                                "expected hex digits") from None
    return BlockchainInfo(
        chain=chain,
        height=integer("blocks"),
        headers_height=integer("headers"),
        best_hash=parse_block_hash(str(obj["bestblockhash"]), source=SOURCE),
        difficulty=float(diff),
        # block times are 32-bit unsigned [unix s] (the header's nTime)
        median_time=datetime.fromtimestamp(integer("mediantime", 2**32 - 1), tz=UTC),
        chainwork=work,
    )


def _reply_error(reply: dict[str, Any], method: str, index: int | None) -> RPCError | None:
    err = reply.get("error")
    if err is None:
        return None
    if isinstance(err, dict) and isinstance(err.get("code"), int):
        return RPCError(err["code"], str(err.get("message", "")), method, index)
    return RPCError(0, str(err), method, index)  # pre-0.3.12 string errors


def parse_rpc_reply(obj: Any, method: str = "") -> Any:
    """The ``result`` of one JSON-RPC reply; its ``error`` raised as :class:`RPCError`."""
    if not isinstance(obj, dict):
        raise SourceFormatError(SOURCE, "reply", obj, "expected a JSON-RPC reply object")
    err = _reply_error(obj, method, None)
    if err is not None:
        raise err
    if "result" not in obj:
        raise SourceFormatError(SOURCE, "reply.result", None, "missing")
    return obj["result"]


def parse_rpc_batch(
    obj: Any, ids: Sequence[Any], methods: Sequence[str]
) -> list[Any | RPCError]:
    """Replies of a batch, matched to the calls by ``id`` and returned in call order; an item
    that failed is returned as its :class:`RPCError` (not raised)."""
    if not isinstance(obj, list):
        if isinstance(obj, dict) and obj.get("error") is not None:
            raise _reply_error(obj, "batch", None) or RPCError(0, "batch failed", "batch")
        raise SourceFormatError(SOURCE, "batch", obj, "expected a JSON array of replies")
    by_id: dict[Any, Any] = {}
    for i, reply in enumerate(obj):
        if not isinstance(reply, dict) or "id" not in reply:
            raise SourceFormatError(SOURCE, f"batch[{i}]", reply,
                                    "expected a reply object with an id")
        by_id[json.dumps(reply["id"])] = reply
    out: list[Any | RPCError] = []
    for i, (call_id, method) in enumerate(zip(ids, methods, strict=True)):
        reply = by_id.get(json.dumps(call_id))
        if reply is None:
            raise SourceFormatError(SOURCE, f"batch[{i}].id", call_id,
                                    f"no reply to call {i} ({method})")
        err = _reply_error(reply, method, i)
        if err is not None:
            out.append(err)
        elif "result" not in reply:
            raise SourceFormatError(SOURCE, f"batch[{i}].result", None, "missing")
        else:
            out.append(reply["result"])
    return out


def _is_rpc_error_reply(response: httpx.Response) -> bool:
    """Bitcoin Core answers a failed single call with HTTP 500/404/400 and a JSON error body:
    that is an answer, not a server failure to retry."""
    if response.status_code not in (400, 404, 500):
        return False
    try:
        obj = json.loads(response.content)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    return isinstance(obj, dict) and obj.get("error") is not None


# ---------------------------------------------------------------------------------------------
# Client
# ---------------------------------------------------------------------------------------------
class BitcoinRPC:
    """Client of a Bitcoin Core node's JSON-RPC server.

    Parameters
    ----------
    url : str — ``http://127.0.0.1:8332`` (mainnet; 18332 testnet3, 48332 testnet4,
        38332 signet, 18443 regtest)
    cookie_file : path — ``<datadir>/.cookie`` (re-read once if the node answers 401, since
        bitcoind rewrites it at each start)
    user, password : str — ``rpcuser``/``rpcpassword`` (instead of the cookie)
    timeout_s, retry, min_interval_s, sleep, rng, seed, transport — see
        :class:`hashshift.sources.http.HttpClient`

    Calls are read-only and idempotent, so transient failures (timeouts, HTTP 503 "work queue
    depth exceeded", truncated replies) are retried.
    """

    source = SOURCE

    def __init__(
        self,
        url: str = DEFAULT_URL,
        cookie_file: str | Path | None = None,
        user: str | None = None,
        password: str | None = None,
        *,
        timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
        min_interval_s: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        seed: int | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if cookie_file is not None and (user is not None or password is not None):
            raise ValueError("give either cookie_file or user/password, not both")
        if (user is None) != (password is None):
            raise ValueError("user and password go together")
        self.url = url
        self.cookie_file = Path(cookie_file) if cookie_file is not None else None
        auth: tuple[str, str] | None = None
        if self.cookie_file is not None:
            auth = read_cookie(self.cookie_file)
        elif user is not None and password is not None:
            auth = (user, password)
        self._auth = auth
        self.http = HttpClient(
            url, source=SOURCE, timeout_s=timeout_s, retry=retry, min_interval_s=min_interval_s,
            headers={"Content-Type": "application/json"}, auth=auth, sleep=sleep, rng=rng,
            seed=seed, transport=transport,
        )
        self._ids = itertools.count(1)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> BitcoinRPC:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport ------------------------------------------------------------------------------
    def _post(self, payload: Any, accept: Callable[[httpx.Response], bool] | None) -> Any:
        try:
            return self.http.request("POST", "/", json=payload, parse=json_body, accept=accept)
        except SourceAuthError as exc:
            if self.cookie_file is not None:
                try:
                    fresh: tuple[str, str] | None = read_cookie(self.cookie_file)
                except (OSError, SourceFormatError):
                    fresh = self._auth
                # the node restarted and wrote a new cookie: use it
                if fresh is not None and fresh != self._auth:
                    self._auth = fresh
                    self.http.auth = fresh
                    return self.http.request("POST", "/", json=payload, parse=json_body,
                                             accept=accept)
                hint = (f"the cookie in {self.cookie_file} was refused: is it this node's "
                        "datadir and network?")
            elif self._auth is None:
                hint = "no credentials given: pass cookie_file=<datadir>/.cookie or user/password"
            else:
                hint = "rpcuser/rpcpassword refused: check them against bitcoin.conf"
            raise SourceAuthError(SOURCE, exc.url, exc.status, exc.body, hint=hint) from None

    def call(self, method: str, *params: Any) -> Any:
        """Call one RPC method and return its ``result``; an error reply raises
        :class:`RPCError` (with ``code`` and ``message``)."""
        payload = {"jsonrpc": "1.0", "id": next(self._ids), "method": method,
                   "params": list(params)}
        return parse_rpc_reply(self._post(payload, _is_rpc_error_reply), method)

    def batch(
        self, calls: Sequence[tuple[str, Sequence[Any]]], *, raise_errors: bool = True
    ) -> list[Any]:
        """Send ``[(method, params), ...]`` as one JSON-RPC batch; results in call order.

        With ``raise_errors`` the first failed item raises its :class:`RPCError` (``index``
        tells which); otherwise failed items are returned as :class:`RPCError` instances.
        """
        if not calls:
            return []
        ids = [next(self._ids) for _ in calls]
        methods = [m for m, _ in calls]
        payload = [{"jsonrpc": "1.0", "id": i, "method": m, "params": list(p)}
                   for i, (m, p) in zip(ids, calls, strict=True)]
        results = parse_rpc_batch(self._post(payload, _is_rpc_error_reply), ids, methods)
        if raise_errors:
            for r in results:
                if isinstance(r, RPCError):
                    raise r
        return results

    # -- methods --------------------------------------------------------------------------------
    def get_blockchain_info(self) -> BlockchainInfo:
        """``getblockchaininfo``, parsed by :func:`parse_blockchain_info`."""
        return parse_blockchain_info(self.call("getblockchaininfo"))

    def get_tip_height(self) -> int:
        """Height [block height] of the node's validated tip (``getblockcount``)."""
        h = self.call("getblockcount")
        if isinstance(h, bool) or not isinstance(h, int) or h < 0:
            raise SourceFormatError(SOURCE, "getblockcount", h, "expected a non-negative integer")
        return h

    def get_block_hash(self, height: int) -> str:
        """Hash (display hex) of the block at ``height`` in the best chain (``getblockhash``)."""
        return self._hash(self.call("getblockhash", _height(height)), "getblockhash")

    def get_block_header(self, block_hash: str) -> bytes:
        """The 80-byte header of ``block_hash`` (``getblockheader <hash> false``), checked to
        hash to it."""
        want = parse_block_hash(block_hash, source=SOURCE)
        return self._header(self.call("getblockheader", want, False), want)

    def get_headers(
        self, start_height: int, count: int, batch_size: int = 500, *,
        progress: Callable[[int, int], None] | None = None,
    ) -> bytes:
        """``count`` raw headers from ``start_height``, concatenated (80 bytes each).

        Two batches per ``batch_size`` headers: ``getblockhash`` for the heights, then
        ``getblockheader <hash> false``; each header is checked to hash to its hash.
        ``progress(done, count)`` is called after each batch. The result is NOT validated: run
        :func:`hashshift.consensus.validate_headers` on it before storing (a reorg during the
        download shows up there as a broken link).
        """
        start = _height(start_height, "start_height")
        n = _height(count, "count")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        out = bytearray()
        for lo in range(start, start + n, batch_size):
            heights = range(lo, min(lo + batch_size, start + n))
            hashes = [self._hash(h, "getblockhash")
                      for h in self.batch([("getblockhash", [h]) for h in heights])]
            raws = self.batch([("getblockheader", [h, False]) for h in hashes])
            for raw, h in zip(raws, hashes, strict=True):
                out += self._header(raw, h)
            if progress is not None:
                progress(len(out) // 80, n)
        return bytes(out)

    @staticmethod
    def _hash(value: Any, method: str) -> str:
        if not isinstance(value, str):
            raise SourceFormatError(SOURCE, method, value, "expected a block hash string")
        return parse_block_hash(value, source=SOURCE)

    @staticmethod
    def _header(value: Any, block_hash: str) -> bytes:
        if not isinstance(value, str):
            raise SourceFormatError(SOURCE, "getblockheader", value, "expected a hex string")
        return parse_header_hex(value, block_hash, source=SOURCE)


def _height(value: int, name: str = "height") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return value
