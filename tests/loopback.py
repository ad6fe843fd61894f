"""A real HTTP server on 127.0.0.1 that plays mempool.space and Bitcoin Core, for tests.

It serves one real header chain (mined by :func:`hashshift.testing.build_chain`, so every header
has valid proof of work and passes :func:`hashshift.consensus.validate_headers`) through

- mempool.space's REST API under ``/api``: ``GET /api/blocks/tip/height``,
  ``/api/blocks/tip/hash``, ``/api/block-height/<h>``, ``/api/block/<hash>/header``,
  ``/api/block/<hash>`` (esplora JSON), ``/api/blocks[/<h>]`` (esplora: up to 10 blocks going
  down from ``h`` or the tip, stopping at genesis; HTTP 404 above the tip),
  ``/api/v1/blocks[/<h>]`` (mempool: up to 15 going down, esplora JSON plus ``extras``; above
  the tip it starts at the tip with ``15 - (h - tip)`` blocks, as mempool's ``$getBlocks``),
  ``/api/v1/mining/difficulty-adjustments[/<period>]`` and ``/api/v1/mining/hashrate[/<period>]``
  (both derived from the chain's bits and times; the period is accepted and ignored);
- Bitcoin Core's JSON-RPC at ``POST /`` with basic auth (a wrong or missing credential gets
  HTTP 401): ``getblockchaininfo``, ``getblockcount``, ``getbestblockhash``, ``getdifficulty``,
  ``getblockhash``, ``getblockheader <hash> [verbose]``, single calls and batches, errors as
  Core sends them (HTTP 500/404/400 for a single call, per-item errors in a batch).

Start it (``port=0``: the OS picks a free port; the server runs in a daemon thread)::

    from loopback import Chain, LoopbackServer      # tests/ is on sys.path under pytest

    chain = Chain.build(300)                         # REGTEST_STRICT, 300 headers + genesis
    with LoopbackServer(chain) as srv:
        MempoolClient(srv.mempool_url, min_interval_s=0, sleep=lambda s: None)
        BitcoinRPC(srv.rpc_url, cookie_file=srv.write_cookie(tmp_path / ".cookie"))
        # or BitcoinRPC(srv.rpc_url, user=srv.rpc_user, password=srv.rpc_password)

As a pytest fixture::

    @pytest.fixture
    def server():
        with LoopbackServer(Chain.build(300)) as srv:
            yield srv

Switch chains (a reorg)::

    old = srv.chain
    new = srv.reorg(fork_height=250, extra=10, tag=b"fork")   # 60 new headers after 250:
    # new.tip_height == 310, more work than old (constant bits, more blocks); served at once
    srv.set_chain(old)                                        # or switch back / to any Chain

Inject faults (each fault applies to the next ``times`` matching requests, then expires)::

    srv.inject("status", status=500, times=2)                 # HTTP 500 twice, then success
    srv.inject("status", status=429, retry_after="1")         # 429 with Retry-After: 1
    srv.inject("slow", delay_s=1.0, path="/api/blocks/tip/height")  # beyond the client timeout
    srv.inject("truncate")      # Content-Length larger than the body sent, connection closed
    srv.inject("cut_json")      # body cut in half, Content-Length matching the cut body
    srv.inject("close")         # connection closed without any response
    srv.inject("status", status=503, rpc_method="getblockheader")   # only RPC posts with it
    srv.corrupt_pow(120)                  # header 120 served with a nonce whose hash fails PoW
    srv.corrupt_pow(120, consistent=True) # ... and its hash reported as that bad header's hash
    # (block pages show the bad header's fields, with the good id or, if consistent, the bad)
    srv.override("/api/v1/mining/hashrate/3y", {"hashrates": 5})   # serve any payload
    srv.override_rpc("getblockchaininfo", result={})                # or any RPC result/error
    srv.clear_faults()

``path`` matches the request path exactly, or as a prefix when it ends with ``*``
(``"/api/*"``); ``None`` matches every request. ``srv.requests`` logs every request seen
(method, path, RPC methods, status); ``srv.count(path=..., rpc_method=...)`` counts them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import struct
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from hashshift.consensus import (
    ChainState,
    Header,
    Params,
    check_proof_of_work,
    compact_to_target,
    double_sha256,
    median_time_past,
    target_to_difficulty,
    validate_headers,
)
from hashshift.testing import REGTEST_STRICT, build_chain

__all__ = ["Chain", "Fault", "LoopbackServer", "Seen"]


def _difficulty(bits: int) -> float:
    return target_to_difficulty(compact_to_target(bits)[0])


# ---------------------------------------------------------------------------------------------
# The chain
# ---------------------------------------------------------------------------------------------
class Chain:
    """Headers by height (``headers[0]`` is the genesis header of ``params``)."""

    def __init__(self, params: Params, headers: list[bytes]) -> None:
        if not headers or headers[0] != params.genesis_header:
            raise ValueError("a Chain starts with its params' genesis header")
        self.params = params
        self.headers = list(headers)
        self.hashes = [double_sha256(h)[::-1].hex() for h in self.headers]
        self._height_of = {h: i for i, h in enumerate(self.hashes)}
        self.parsed = [Header.parse(h) for h in self.headers]

    @classmethod
    def build(
        cls, n: int = 300, params: Params = REGTEST_STRICT, *, seed: int = 0, tag: bytes = b"",
        spacing_s: float = 600.0,
    ) -> Chain:
        """Mine ``n`` headers on top of the genesis block of ``params``."""
        raw, _ = build_chain(n, params, seed=seed, tag=tag, spacing_s=spacing_s)
        return cls(params, [params.genesis_header] + _split(raw))

    def fork(
        self, fork_height: int, n: int, *, tag: bytes = b"fork", seed: int = 1,
        spacing_s: float = 600.0,
    ) -> Chain:
        """A competing chain: this chain's headers up to ``fork_height``, then ``n`` new ones."""
        if not 0 <= fork_height <= self.tip_height:
            raise ValueError(f"fork_height must be within 0..{self.tip_height}")
        state = self.state_at(fork_height)
        raw, _ = build_chain(n, self.params, tip=state, seed=seed, tag=tag, spacing_s=spacing_s)
        return Chain(self.params, self.headers[: fork_height + 1] + _split(raw))

    def state_at(self, height: int) -> ChainState:
        """The validated :class:`ChainState` at ``height``."""
        return validate_headers(b"".join(self.headers[: height + 1]), None, self.params)

    @property
    def tip_height(self) -> int:
        return len(self.headers) - 1

    @property
    def tip_hash(self) -> str:
        return self.hashes[-1]

    @property
    def chainwork(self) -> int:
        return self.state_at(self.tip_height).chainwork or 0

    def height_of(self, block_hash: str) -> int | None:
        return self._height_of.get(block_hash.lower())

    def raw(self, start: int = 1, count: int | None = None) -> bytes:
        """Concatenated headers ``start .. start+count-1`` (default: all after genesis)."""
        stop = len(self.headers) if count is None else start + count
        return b"".join(self.headers[start:stop])

    # -- mempool-shaped derived data -----------------------------------------------------------
    def difficulty_adjustments(self) -> list[list[float]]:
        """``/v1/mining/difficulty-adjustments`` rows ``[time, height, difficulty, adjustment]``,
        newest first, as mempool's backend builds them (adjustment = new/old difficulty,
        rounded to 6 decimals; 0 for the genesis row)."""
        rows: list[list[float]] = []
        prev_bits = None
        prev_diff = 0.0
        for h, hdr in enumerate(self.parsed):
            if prev_bits is None or hdr.bits != prev_bits:
                d = _difficulty(hdr.bits)
                adj = 0.0 if prev_bits is None else round(d / prev_diff, 6)
                rows.append([hdr.time, h, d, adj])
                prev_bits, prev_diff = hdr.bits, d
        return rows[::-1]

    def hashrate(self) -> dict[str, Any]:
        """``/v1/mining/hashrate/<period>``: one hashrate per UTC day [H/s] (work of that day's
        blocks / 86400 s, stamped at the midnight ending the day), the adjustments, and the
        current values."""
        work_by_day: dict[int, float] = {}
        for hdr in self.parsed[1:]:
            day_end = (hdr.time // 86400 + 1) * 86400
            work_by_day[day_end] = work_by_day.get(day_end, 0.0) + _difficulty(hdr.bits) * 2**32
        hashrates = [{"timestamp": t, "avgHashrate": w / 86400}
                     for t, w in sorted(work_by_day.items())]
        difficulty = [{"time": t, "height": h, "difficulty": d, "adjustment": a}
                      for t, h, d, a in self.difficulty_adjustments()[::-1]]
        return {
            "hashrates": hashrates,
            "difficulty": difficulty,
            "currentHashrate": hashrates[-1]["avgHashrate"] if hashrates else 0,
            "currentDifficulty": _difficulty(self.parsed[-1].bits),
        }


def _split(raw: bytes) -> list[bytes]:
    return [raw[i : i + 80] for i in range(0, len(raw), 80)]


def _bad_pow(raw: bytes, params: Params) -> bytes:
    """The header with another nonce, one whose hash is above the target."""
    head, nonce = raw[:76], struct.unpack("<I", raw[76:])[0]
    bits = struct.unpack("<I", raw[72:76])[0]
    for k in range(1, 10_000):
        cand = head + struct.pack("<I", (nonce + k) & 0xFFFFFFFF)
        if not check_proof_of_work(double_sha256(cand), bits, params):
            return cand
    raise RuntimeError("could not find a failing nonce")


# ---------------------------------------------------------------------------------------------
# Faults and the request log
# ---------------------------------------------------------------------------------------------
FAULT_KINDS = ("status", "slow", "truncate", "cut_json", "close")


@dataclass
class Fault:
    """One injected fault; see :meth:`LoopbackServer.inject`."""

    kind: str
    path: str | None = None
    rpc_method: str | None = None
    times: int = 1
    status: int = 500
    retry_after: str | None = None
    delay_s: float = 1.0
    body: str = ""

    def matches(self, path: str, rpc_methods: tuple[str, ...]) -> bool:
        if self.times <= 0:
            return False
        if self.path is not None:
            if self.path.endswith("*"):
                if not path.startswith(self.path[:-1]):
                    return False
            elif path != self.path:
                return False
        return self.rpc_method is None or self.rpc_method in rpc_methods


@dataclass(frozen=True)
class Seen:
    """A request the server received."""

    method: str
    path: str
    rpc_methods: tuple[str, ...] = ()
    status: int = 0
    fault: str | None = None
    user_agent: str = ""


@dataclass
class _Override:
    body: bytes
    status: int
    content_type: str


@dataclass
class _State:
    faults: list[Fault] = field(default_factory=list)
    overrides: dict[str, _Override] = field(default_factory=dict)
    rpc_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    corrupt: dict[int, tuple[bytes, bool]] = field(default_factory=dict)


class _RPCFail(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


_PERIOD = r"(?:/(?:24h|3d|1w|1m|3m|6m|1y|2y|3y|4y|all))?"
_ROUTES = [
    ("tip_height", re.compile(r"/api/blocks/tip/height")),
    ("tip_hash", re.compile(r"/api/blocks/tip/hash")),
    ("block_height", re.compile(r"/api/block-height/(\d+)")),
    ("blocks", re.compile(r"/api/blocks(?:/(\d+))?")),
    ("v1_blocks", re.compile(r"/api/v1/blocks(?:/(\d+))?")),
    ("header", re.compile(r"/api/block/([0-9a-fA-F]+)/header")),
    ("block", re.compile(r"/api/block/([0-9a-fA-F]+)")),
    ("adjustments", re.compile(r"/api/v1/mining/difficulty-adjustments" + _PERIOD)),
    ("hashrate", re.compile(r"/api/v1/mining/hashrate" + _PERIOD)),
]


# ---------------------------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------------------------
class LoopbackServer:
    """mempool REST + Bitcoin Core JSON-RPC for one :class:`Chain`, on 127.0.0.1 (see the
    module docstring for usage)."""

    def __init__(
        self, chain: Chain, *, rpc_user: str = "__cookie__",
        rpc_password: str = "loopback-cookie-password", host: str = "127.0.0.1",
    ) -> None:
        self._chain = chain
        self.rpc_user = rpc_user
        self.rpc_password = rpc_password
        self.host = host
        self.requests: list[Seen] = []
        self._state = _State()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> LoopbackServer:
        handler = type("Handler", (_Handler,), {"owner": self})
        httpd = ThreadingHTTPServer((self.host, 0), handler)
        httpd.daemon_threads = True
        httpd.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self._httpd = httpd
        self._stop.clear()
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="loopback-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()  # wakes handlers sleeping in a "slow" fault
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def mempool_url(self) -> str:
        return f"{self.url}/api"

    @property
    def rpc_url(self) -> str:
        return self.url

    def write_cookie(self, path: str | Path) -> Path:
        """Write a Bitcoin Core cookie file (``user:password``) for this server; returns it."""
        p = Path(path)
        p.write_text(f"{self.rpc_user}:{self.rpc_password}", encoding="utf-8")
        return p

    # -- the chain ------------------------------------------------------------------------------
    @property
    def chain(self) -> Chain:
        return self._chain

    def set_chain(self, chain: Chain) -> None:
        """Serve another chain from now on (corrupted headers are forgotten)."""
        with self._lock:
            self._chain = chain
            self._state.corrupt.clear()

    def reorg(self, fork_height: int, extra: int = 5, *, tag: bytes = b"fork", seed: int = 1
              ) -> Chain:
        """Switch to a competing chain that forks after ``fork_height`` and ends ``extra``
        blocks above the current tip (more work under constant bits); returns it."""
        n = self._chain.tip_height - fork_height + extra
        new = self._chain.fork(fork_height, n, tag=tag, seed=seed)
        self.set_chain(new)
        return new

    def corrupt_pow(self, height: int, *, consistent: bool = False) -> bytes:
        """Serve header ``height`` with a nonce whose hash misses the target.

        ``consistent=False``: the block's hash is unchanged, so a client that checks the header
        against the hash it asked for sees a mismatch. ``consistent=True``: the block-height
        endpoint and ``getblockhash`` report the bad header's own hash, so only proof-of-work
        validation catches it. Block pages (``/api/blocks/<h>``, ``/api/v1/blocks/<h>``) show the
        bad header's fields with, as ``id``, the good hash (``consistent=False``) or the bad
        header's own hash (``consistent=True``). Returns the bad header.
        """
        with self._lock:
            bad = _bad_pow(self._chain.headers[height], self._chain.params)
            self._state.corrupt[height] = (bad, consistent)
        return bad

    # -- faults ---------------------------------------------------------------------------------
    def inject(
        self, kind: str, *, path: str | None = None, rpc_method: str | None = None,
        times: int = 1, status: int = 500, retry_after: str | None = None,
        delay_s: float = 1.0, body: str = "",
    ) -> Fault:
        """Queue a fault for the next ``times`` requests matching ``path``/``rpc_method``.

        kind: ``"status"`` (answer ``status``, with ``Retry-After: retry_after`` if given),
        ``"slow"`` (wait ``delay_s`` before answering normally), ``"truncate"`` (announce the
        full Content-Length, send half the body, close), ``"cut_json"`` (send half the body
        with a matching Content-Length), ``"close"`` (close the connection without answering).
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {FAULT_KINDS}")
        fault = Fault(kind, path, rpc_method, times, status, retry_after, delay_s, body)
        with self._lock:
            self._state.faults.append(fault)
        return fault

    def override(self, path: str, body: Any, *, status: int = 200,
                 content_type: str | None = None) -> None:
        """Serve ``body`` (bytes, str, or a JSON-able object) for GET ``path``."""
        if isinstance(body, bytes):
            data, ctype = body, content_type or "application/octet-stream"
        elif isinstance(body, str):
            data, ctype = body.encode(), content_type or "text/plain"
        else:
            data, ctype = json.dumps(body).encode(), content_type or "application/json"
        with self._lock:
            self._state.overrides[path] = _Override(data, status, ctype)

    def override_rpc(self, method: str, *, result: Any = None,
                     error: dict[str, Any] | None = None) -> None:
        """Answer RPC ``method`` with ``result`` (or the error object ``error``)."""
        with self._lock:
            self._state.rpc_overrides[method] = {"result": result, "error": error}

    def clear_faults(self) -> None:
        """Forget faults, overrides and corrupted headers (and keep the chain)."""
        with self._lock:
            self._state = _State()

    def count(self, path: str | None = None, *, rpc_method: str | None = None,
              method: str | None = None) -> int:
        """Requests seen matching ``path`` (exact, or prefix with a trailing ``*``), containing
        ``rpc_method``, and with HTTP ``method``."""
        probe = Fault("status", path, rpc_method)
        with self._lock:
            seen = list(self.requests)
        return sum(1 for s in seen if probe.matches(s.path, s.rpc_methods)
                   and (method is None or s.method == method))

    # -- internals used by the handler ----------------------------------------------------------
    def _take_fault(self, path: str, rpc_methods: tuple[str, ...]) -> Fault | None:
        with self._lock:
            for f in self._state.faults:
                if f.matches(path, rpc_methods):
                    f.times -= 1
                    return Fault(f.kind, f.path, f.rpc_method, 1, f.status, f.retry_after,
                                 f.delay_s, f.body)
        return None

    def _log(self, seen: Seen) -> None:
        with self._lock:
            self.requests.append(seen)

    def _hash_at(self, height: int) -> str | None:
        chain = self._chain
        if not 0 <= height <= chain.tip_height:
            return None
        bad = self._state.corrupt.get(height)
        if bad is not None and bad[1]:
            return double_sha256(bad[0])[::-1].hex()
        return chain.hashes[height]

    def _raw_at(self, height: int) -> bytes:
        bad = self._state.corrupt.get(height)
        return bad[0] if bad is not None else self._chain.headers[height]

    def _blocks_page(self, top: int | None, limit: int, *, v1: bool) -> tuple[int, bytes, str]:
        """``/api/blocks[/<top>]`` (esplora) or ``/api/v1/blocks[/<top>]`` (mempool)."""
        chain = self._chain
        tip = chain.tip_height
        if top is None:
            top = tip
        elif top > tip:
            if not v1:
                return _text("Block not found", 404)
            limit -= top - tip  # mempool's $getBlocks: start at the tip, fewer blocks
            top = tip
        out: list[dict[str, Any]] = []
        for h in range(top, max(-1, top - limit), -1):
            block = _esplora_block(chain, h, self._raw_at(h), block_id=self._hash_at(h))
            if v1:
                block["stale"] = False
                block["extras"] = {"reward": 5_000_000_000, "totalFees": 0, "medianFee": 0,
                                   "pool": {"id": 0, "name": "Unknown", "slug": "unknown"}}
            out.append(block)
        return _json(out)

    def _header_for(self, block_hash: str) -> tuple[int, bytes] | None:
        chain = self._chain
        block_hash = block_hash.lower()
        for bad_height, (bad, _) in self._state.corrupt.items():
            if double_sha256(bad)[::-1].hex() == block_hash:
                return bad_height, bad
        h = chain.height_of(block_hash)
        if h is None:
            return None
        bad_entry = self._state.corrupt.get(h)
        return h, bad_entry[0] if bad_entry is not None else chain.headers[h]

    # -- mempool REST ---------------------------------------------------------------------------
    def _get(self, path: str) -> tuple[int, bytes, str]:
        ov = self._state.overrides.get(path)
        if ov is not None:
            return ov.status, ov.body, ov.content_type
        chain = self._chain
        for name, rx in _ROUTES:
            m = rx.fullmatch(path)
            if m is None:
                continue
            if name == "tip_height":
                return _text(str(chain.tip_height))
            if name == "tip_hash":
                return _text(self._hash_at(chain.tip_height) or "")
            if name == "block_height":
                found = self._hash_at(int(m.group(1)))
                return _text(found) if found else _text("Block not found", 404)
            if name in ("blocks", "v1_blocks"):
                top = None if m.group(1) is None else int(m.group(1))
                v1 = name == "v1_blocks"
                return self._blocks_page(top, 15 if v1 else 10, v1=v1)
            if name in ("header", "block"):
                if len(m.group(1)) != 64:
                    return _text("Invalid hex string", 400)
                hit = self._header_for(m.group(1))
                if hit is None:
                    return _text("Block not found", 404)
                height, raw = hit
                if name == "header":
                    return _text(raw.hex())
                return _json(_esplora_block(chain, height, raw))
            if name == "adjustments":
                return _json(chain.difficulty_adjustments())
            return _json(chain.hashrate())
        return _text("Not Found", 404)

    # -- Bitcoin Core JSON-RPC ------------------------------------------------------------------
    def _auth_ok(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            given = base64.b64decode(header[6:], validate=True).decode()
        except ValueError:
            return False
        want = f"{self.rpc_user}:{self.rpc_password}"
        return hashlib.sha256(given.encode()).digest() == hashlib.sha256(want.encode()).digest()

    def _rpc(self, obj: Any) -> tuple[int, bytes, str]:
        if isinstance(obj, list):
            if not obj:
                return _json_bytes(500, _reply(None, None, (-32600, "Invalid Request object")))
            body = b"[" + b",".join(self._rpc_one(c)[1] for c in obj) + b"]"
            return 200, body, "application/json"
        status, body = self._rpc_one(obj)
        return status, body, "application/json"

    def _rpc_one(self, call: Any) -> tuple[int, bytes]:
        if not isinstance(call, dict) or not isinstance(call.get("method"), str):
            return 400, _reply(None, None, (-32600, "Invalid Request object"))
        call_id = call.get("id")
        params = call.get("params", [])
        if not isinstance(params, list):
            params = []
        try:
            result = self._dispatch(call["method"], params)
        except _RPCFail as exc:
            status = 404 if exc.code == -32601 else 400 if exc.code == -32600 else 500
            return status, _reply(None, call_id, (exc.code, exc.message))
        return 200, _reply(result, call_id, None)

    def _dispatch(self, method: str, params: list[Any]) -> Any:
        ov = self._state.rpc_overrides.get(method)
        if ov is not None:
            if ov["error"] is not None:
                raise _RPCFail(int(ov["error"]["code"]), str(ov["error"]["message"]))
            return ov["result"]
        chain = self._chain
        if method == "getblockcount":
            return chain.tip_height
        if method == "getbestblockhash":
            return self._hash_at(chain.tip_height)
        if method == "getdifficulty":
            return _difficulty(chain.parsed[-1].bits)
        if method == "getblockchaininfo":
            tip = chain.parsed
            return {
                "chain": "regtest", "blocks": chain.tip_height, "headers": chain.tip_height,
                "bestblockhash": self._hash_at(chain.tip_height),
                "difficulty": _difficulty(tip[-1].bits), "time": tip[-1].time,
                "mediantime": median_time_past([h.time for h in tip[-11:]]),
                "verificationprogress": 1, "initialblockdownload": False,
                "chainwork": f"{chain.chainwork:064x}", "size_on_disk": 0, "pruned": False,
                "warnings": [],
            }
        if method == "getblockhash":
            if len(params) != 1:
                raise _RPCFail(-1, "getblockhash height")
            h = params[0]
            if isinstance(h, bool) or not isinstance(h, int):
                raise _RPCFail(-3, f"JSON value of type {type(h).__name__} is not of expected "
                               "type number")
            found = self._hash_at(h)
            if found is None:
                raise _RPCFail(-8, "Block height out of range")
            return found
        if method == "getblockheader":
            if not 1 <= len(params) <= 2 or not isinstance(params[0], str):
                raise _RPCFail(-1, "getblockheader \"blockhash\" ( verbose )")
            if not re.fullmatch(r"[0-9a-fA-F]{64}", params[0]):
                raise _RPCFail(-8, f"blockhash must be of length 64 (not {len(params[0])}, "
                               f"for '{params[0]}')")
            hit = self._header_for(params[0])
            if hit is None:
                raise _RPCFail(-5, "Block not found")
            height, raw = hit
            verbose = params[1] if len(params) == 2 else True
            if not verbose:
                return raw.hex()
            return _core_header(chain, height, raw)
        raise _RPCFail(-32601, "Method not found")


def _text(s: str, status: int = 200) -> tuple[int, bytes, str]:
    return status, s.encode(), "text/plain"


def _json(obj: Any, status: int = 200) -> tuple[int, bytes, str]:
    return status, json.dumps(obj).encode(), "application/json"


def _json_bytes(status: int, body: bytes) -> tuple[int, bytes, str]:
    return status, body, "application/json"


def _reply(result: Any, call_id: Any, error: tuple[int, str] | None) -> bytes:
    err = None if error is None else {"code": error[0], "message": error[1]}
    return json.dumps({"result": result, "error": err, "id": call_id}).encode()


def _esplora_block(chain: Chain, height: int, raw: bytes, *, block_id: str | None = None
                   ) -> dict[str, Any]:
    """Esplora's block format for header ``raw`` at ``height``; ``id`` is the header's hash
    unless ``block_id`` is given (a server that reports another hash)."""
    h = Header.parse(raw)
    return {
        "id": block_id or double_sha256(raw)[::-1].hex(), "height": height, "version": h.version,
        "timestamp": h.time, "bits": h.bits, "nonce": h.nonce,
        "difficulty": _difficulty(h.bits), "merkle_root": h.merkle_root[::-1].hex(),
        "previousblockhash": h.prev_hash_hex if height > 0 else None,
        "mediantime": median_time_past([x.time for x in chain.parsed[max(0, height - 10):
                                                                     height + 1]]),
        "tx_count": 1, "size": 0, "weight": 0,
    }


def _core_header(chain: Chain, height: int, raw: bytes) -> dict[str, Any]:
    h = Header.parse(raw)
    out = {
        "hash": double_sha256(raw)[::-1].hex(), "confirmations": chain.tip_height - height + 1,
        "height": height, "version": h.version, "versionHex": f"{h.version:08x}",
        "merkleroot": h.merkle_root[::-1].hex(), "time": h.time, "nonce": h.nonce,
        "bits": f"{h.bits:08x}", "difficulty": _difficulty(h.bits), "nTx": 1,
    }
    if height > 0:
        out["previousblockhash"] = h.prev_hash_hex
    if height < chain.tip_height:
        out["nextblockhash"] = chain.hashes[height + 1]
    return out


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    owner: LoopbackServer  # set on the subclass built by LoopbackServer.start
    server_version = "loopback/1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        path = self.path.split("?", 1)[0]
        self._serve("GET", path, (), lambda: self.owner._get(path))

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        try:
            obj: Any = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError):
            obj = None
        calls = obj if isinstance(obj, list) else [obj]
        methods = tuple(c["method"] for c in calls
                        if isinstance(c, dict) and isinstance(c.get("method"), str))
        owner = self.owner

        def answer() -> tuple[int, bytes, str]:
            if path != "/":
                return _text("Not Found", 404)
            if not owner._auth_ok(self.headers.get("Authorization")):
                return 401, b"", "text/html"
            if obj is None:
                return 500, _reply(None, None, (-32700, "Parse error")), "application/json"
            return owner._rpc(obj)

        self._serve("POST", path, methods, answer)

    def _serve(self, method: str, path: str, rpc_methods: tuple[str, ...],
               answer: Any) -> None:
        owner = self.owner
        fault = owner._take_fault(path, rpc_methods)
        kind = fault.kind if fault is not None else None
        agent = self.headers.get("User-Agent", "")

        def log(status: int) -> None:
            owner._log(Seen(method, path, rpc_methods, status, kind, agent))

        try:
            if fault is not None and fault.kind == "close":
                log(0)
                self.close_connection = True
                return
            if fault is not None and fault.kind == "slow":
                log(0)  # logged on arrival: the client has usually given up before the answer
                if owner._stop.wait(fault.delay_s):
                    self.close_connection = True
                    return
            if fault is not None and fault.kind == "status":
                body = (fault.body or f"injected HTTP {fault.status}").encode()
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                log(fault.status)
                self._send(fault.status, body, "text/plain", headers)
                return
            with owner._lock:
                status, body, ctype = answer()
            if kind != "slow":
                log(status)
            extra = {"WWW-Authenticate": 'Basic realm="jsonrpc"'} if status == 401 else {}
            if fault is not None and fault.kind == "truncate":
                self._send(status, body[: len(body) // 2], ctype, extra, length=len(body))
                self.close_connection = True
                return
            if fault is not None and fault.kind == "cut_json":
                body = body[: len(body) // 2]
            self._send(status, body, ctype, extra)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str],
              length: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

