"""The network sources (mempool.space REST, Bitcoin Core JSON-RPC) against a real HTTP server on
127.0.0.1 (tests/loopback.py) serving a real mined regtest chain, with injected faults; plus
opt-in checks against the public mempool.space (``pytest --remote-data``)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hashshift.consensus import (
    MAINNET,
    BadLinkError,
    BadPowError,
    ChainState,
    double_sha256,
    validate_headers,
)
from hashshift.sources.bitcoind import BitcoinRPC, read_cookie
from hashshift.sources.errors import (
    RPCError,
    SourceAuthError,
    SourceError,
    SourceFormatError,
    SourceHTTPError,
    SourceUnavailableError,
    TruncatedBodyError,
)
from hashshift.sources.http import (
    USER_AGENT,
    HeaderSource,
    HttpClient,
    RetryPolicy,
    parse_retry_after,
)
from hashshift.sources.mempool import (
    BLOCKS_PAGE,
    HEADER_METHODS,
    VARIABLE_MAP,
    MempoolClient,
    parse_blocks,
    parse_difficulty_adjustments,
    parse_hashrate,
    parse_header_hex,
)
from hashshift.testing import REGTEST_STRICT
from loopback import Chain, LoopbackServer

N = 300
FAST = RetryPolicy(attempts=3, backoff_s=0.01, max_backoff_s=0.05)
TIMEOUT_S = 1.5  # generous: a loaded 2-core CI machine must not turn slow answers into retries


class Sleeps(list[float]):
    """A no-op ``sleep`` that records what it was asked to wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture(scope="module")
def chain() -> Chain:
    return Chain.build(N, REGTEST_STRICT, seed=7)


@pytest.fixture
def server(chain: Chain) -> Iterator[LoopbackServer]:
    with LoopbackServer(chain) as srv:
        yield srv


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def mempool(server: LoopbackServer, sleeps: Sleeps) -> Iterator[MempoolClient]:
    with MempoolClient(server.mempool_url, timeout_s=TIMEOUT_S, retry=FAST, min_interval_s=0,
                       sleep=sleeps, seed=1) as client:
        yield client


@pytest.fixture
def cookie(server: LoopbackServer, tmp_path: Path) -> Path:
    return server.write_cookie(tmp_path / ".cookie")


@pytest.fixture
def rpc(server: LoopbackServer, cookie: Path, sleeps: Sleeps) -> Iterator[BitcoinRPC]:
    with BitcoinRPC(server.rpc_url, cookie_file=cookie, timeout_s=TIMEOUT_S, retry=FAST,
                    sleep=sleeps, seed=1) as client:
        yield client


def genesis_plus(data: bytes) -> bytes:
    return REGTEST_STRICT.genesis_header + data


# ---------------------------------------------------------------------------------------------
# mempool: happy paths
# ---------------------------------------------------------------------------------------------
def test_mempool_tip_hash_and_header(mempool: MempoolClient, chain: Chain,
                                     server: LoopbackServer) -> None:
    assert mempool.get_tip_height() == N
    assert mempool.get_block_hash(0) == REGTEST_STRICT.genesis_hash[::-1].hex()
    h = mempool.get_block_hash(150)
    assert h == chain.hashes[150]
    assert mempool.get_header(h) == chain.headers[150]
    assert mempool.get_header(h.upper()) == chain.headers[150]
    assert {s.user_agent for s in server.requests} == {USER_AGENT}
    assert USER_AGENT.startswith("hashshift/") and "(+https://github.com/hashshift)" in USER_AGENT


def test_mempool_get_headers_per_header_validate_from_genesis(
    mempool: MempoolClient, chain: Chain, server: LoopbackServer
) -> None:
    seen: list[tuple[int, int]] = []
    data = mempool.get_headers(1, N, progress=lambda done, total: seen.append((done, total)),
                               method="header")
    assert len(data) == 80 * N
    assert data == chain.raw(1, N)
    tip = validate_headers(genesis_plus(data), None, REGTEST_STRICT)
    assert tip.height == N and tip.hash[::-1].hex() == chain.tip_hash
    assert seen[0] == (1, N) and seen[-1] == (N, N) and len(seen) == N
    # two sequential requests per header
    assert server.count("/api/block-height/*") == N
    assert server.count("/api/block/*") == N
    assert server.count("/api/blocks/*") == 0
    # starting at genesis works too
    first = mempool.get_headers(0, 5, method="header")
    assert validate_headers(first, None, REGTEST_STRICT).height == 4
    assert mempool.get_headers(10, 0, method="header") == b""


# ---------------------------------------------------------------------------------------------
# mempool: headers from pages of /blocks/:height (the fast path)
# ---------------------------------------------------------------------------------------------
def pages(n: int, method: str) -> int:
    """Requests the paged path needs for ``n`` headers."""
    return -(-n // BLOCKS_PAGE[method])


BLOCKS_GLOB = {"blocks": "/api/blocks/*", "v1": "/api/v1/blocks/*"}


@pytest.mark.parametrize("method", ["blocks", "v1"])
def test_paged_headers_equal_per_header_headers(method: str, mempool: MempoolClient,
                                                chain: Chain, server: LoopbackServer) -> None:
    slow = mempool.get_headers(1, N, method="header")
    assert server.count() == 2 * N
    before = server.count()
    seen: list[tuple[int, int]] = []
    fast = mempool.get_headers(1, N, method=method, progress=lambda d, t: seen.append((d, t)))
    assert fast == slow == chain.raw(1, N)
    # about count / 10 (count / 15 for v1) requests, all to the paged endpoint
    assert server.count() - before == server.count(BLOCKS_GLOB[method]) == pages(N, method)
    assert server.count("/api/block-height/*") == N  # only the slow path's
    page = BLOCKS_PAGE[method]
    assert seen == [(min(N, page * (k + 1)), N) for k in range(pages(N, method))]
    tip = validate_headers(genesis_plus(fast), None, REGTEST_STRICT)
    assert tip.height == N and tip.hash[::-1].hex() == chain.tip_hash


@pytest.mark.parametrize("method", ["blocks", "v1"])
@pytest.mark.parametrize("start, count", [(0, 1), (0, 5), (0, N + 1), (95, 23), (N - 4, 5),
                                          (N, 1), (7, 10), (7, 11), (150, 0)])
def test_paged_headers_windows(method: str, start: int, count: int, mempool: MempoolClient,
                               chain: Chain, server: LoopbackServer) -> None:
    data = mempool.get_headers(start, count, method=method)
    assert data == chain.raw(start, count)
    assert server.count() == pages(count, method)
    # each window is asked for at its top height, so no block is fetched twice
    page = BLOCKS_PAGE[method]
    prefix = BLOCKS_GLOB[method][:-1]
    tops = [min(lo + page, start + count) - 1 for lo in range(start, start + count, page)]
    assert [s.path for s in server.requests] == [f"{prefix}{t}" for t in tops]


def test_paged_is_the_default(server: LoopbackServer, chain: Chain) -> None:
    with MempoolClient(server.mempool_url, min_interval_s=0) as client:
        assert client.headers_method == "blocks"
        assert client.get_headers(1, 100) == chain.raw(1, 100)
    assert server.count() == server.count("/api/blocks/*") == 10
    with MempoolClient(server.mempool_url, min_interval_s=0, headers_method="header") as client:
        assert client.get_headers(1, 3) == chain.raw(1, 3)
    assert server.count("/api/block-height/*") == 3
    assert set(HEADER_METHODS) == {"blocks", "v1", "header"}
    with pytest.raises(ValueError, match="method must be one of"):
        MempoolClient(server.mempool_url, headers_method="pages")
    with MempoolClient(server.mempool_url, min_interval_s=0) as client:
        with pytest.raises(ValueError, match="method must be one of"):
            client.get_headers(1, 3, method="bulk")
        with pytest.raises(ValueError, match="endpoint must be one of"):
            client.get_blocks(3, endpoint="header")


def test_get_blocks_pages(mempool: MempoolClient, chain: Chain) -> None:
    rows = mempool.get_blocks(N)
    assert [r.height for r in rows] == list(range(N, N - 10, -1))
    assert [r.hash for r in rows] == [chain.hashes[h] for h in range(N, N - 10, -1)]
    assert [r.header for r in rows] == [chain.headers[h] for h in range(N, N - 10, -1)]
    v1 = mempool.get_blocks(N, endpoint="v1")
    assert [r.height for r in v1] == list(range(N, N - 15, -1))
    assert [r.height for r in mempool.get_blocks(3)] == [3, 2, 1, 0]  # stops at genesis
    assert mempool.get_blocks(0)[0].header == REGTEST_STRICT.genesis_header
    # above the tip: esplora answers 404, mempool's v1 starts at the tip with fewer blocks
    with pytest.raises(SourceHTTPError, match="Block not found"):
        mempool.get_blocks(N + 1)
    assert [r.height for r in mempool.get_blocks(N + 3, endpoint="v1")] == \
        list(range(N, N - 12, -1))


@pytest.mark.parametrize("field, value", [
    ("merkle_root", "ab" * 32),
    ("previousblockhash", "cd" * 32),
    ("version", 0x20000004),
    ("timestamp", 1_700_000_000),
    ("bits", 0x1D00FFFF),
    ("nonce", 12345),
])
def test_paged_tampered_field_detected(field: str, value: object, mempool: MempoolClient,
                                       server: LoopbackServer) -> None:
    page = mempool.get_json("/blocks/109")
    assert page[3]["height"] == 106
    page[3][field] = value
    server.override("/api/blocks/109", page)
    before = server.count()
    with pytest.raises(SourceFormatError, match="hashes to") as exc:
        mempool.get_headers(100, 10)
    assert exc.value.field == "[3].id" and exc.value.source == "mempool"
    assert "block 106" in str(exc.value) and "merkle_root" in str(exc.value)
    assert server.count() - before == 1  # a wrong payload is not retried


def test_paged_tampered_merkle_root_v1(mempool: MempoolClient, server: LoopbackServer,
                                      chain: Chain) -> None:
    page = mempool.get_json("/v1/blocks/114")
    root = page[0]["merkle_root"]
    page[0]["merkle_root"] = root[:-1] + ("0" if root[-1] != "0" else "1")
    server.override("/api/v1/blocks/114", page)
    with pytest.raises(SourceFormatError, match="block 114") as exc:
        mempool.get_headers(100, 15, method="v1")
    assert exc.value.field == "[0].id"
    # the slow path does not read that page
    assert mempool.get_headers(100, 15, method="header") == chain.raw(100, 15)


@pytest.mark.parametrize("edit, field, message", [
    (lambda b: b.pop("merkle_root"), "[2].merkle_root", "block 107: missing"),
    (lambda b: b.update(merkle_root="zz" * 32), "[2].merkle_root", "64 hex digits"),
    (lambda b: b.update(nonce=-1), "[2].nonce", "out of range"),
    (lambda b: b.update(bits=2**32), "[2].bits", "out of range"),
    (lambda b: b.update(timestamp="1700000000"), "[2].timestamp", "expected an integer"),
    (lambda b: b.update(version=1.5), "[2].version", "expected an integer"),
    (lambda b: b.update(height=None), "[2].height", "expected an integer"),
    (lambda b: b.update(id=None), "[2].id", "block 107: expected 64 hex digits"),
    (lambda b: b.update(previousblockhash=None), "[2].previousblockhash", "block 107"),
])
def test_paged_malformed_block(edit: Callable[[dict[str, object]], object], field: str,
                               message: str, mempool: MempoolClient,
                               server: LoopbackServer) -> None:
    page = mempool.get_json("/blocks/109")
    edit(page[2])
    server.override("/api/blocks/109", page)
    with pytest.raises(SourceFormatError, match=message) as exc:
        mempool.get_headers(100, 10)
    assert exc.value.field == field


def test_paged_missing_and_wrong_heights(mempool: MempoolClient, server: LoopbackServer,
                                         chain: Chain) -> None:
    page = mempool.get_json("/blocks/109")
    # a block missing from the middle of a page
    server.override("/api/blocks/109", page[:4] + page[5:])
    with pytest.raises(SourceFormatError, match="block 105 is missing") as exc:
        mempool.get_headers(100, 10)
    assert exc.value.field == "[4].height" and exc.value.value == 104
    # a page that starts below the height asked for
    server.override("/api/blocks/109", mempool.get_json("/blocks/108"))
    with pytest.raises(SourceFormatError, match="should be block 109") as exc:
        mempool.get_headers(100, 10)
    assert exc.value.field == "[0].height"
    # blocks in the wrong order
    server.override("/api/blocks/109", page[::-1])
    with pytest.raises(SourceFormatError, match="should be block 109"):
        mempool.get_headers(100, 10)
    # an empty page
    server.override("/api/blocks/109", [])
    with pytest.raises(SourceFormatError, match="returned no blocks") as exc:
        mempool.get_headers(100, 10)
    assert "100..109" in str(exc.value)
    # not an array at all
    server.override("/api/blocks/109", {"blocks": page})
    with pytest.raises(SourceFormatError, match="JSON array") as exc:
        mempool.get_headers(100, 10)
    assert exc.value.field == "(root)"
    # beyond the tip: esplora's 404, or mempool's v1 page starting at the tip
    with pytest.raises(SourceHTTPError, match="Block not found"):
        mempool.get_headers(N - 2, 5)
    with pytest.raises(SourceFormatError, match=f"should be block {N + 2} .*got block {N}"):
        mempool.get_headers(N - 2, 5, method="v1")
    # a short page (a server with a smaller limit) is continued from below it
    server.clear_faults()
    server.override("/api/blocks/109", page[:4])
    before = server.count()
    assert mempool.get_headers(100, 10) == chain.raw(100, 10)
    assert [s.path for s in server.requests[before:]] == ["/api/blocks/109", "/api/blocks/105"]


def test_paged_retries_on_500_and_truncation(mempool: MempoolClient, server: LoopbackServer,
                                             chain: Chain, sleeps: Sleeps) -> None:
    server.inject("status", status=500, times=2, path="/api/blocks/*")
    assert mempool.get_headers(1, 50) == chain.raw(1, 50)
    assert server.count("/api/blocks/*") == pages(50, "blocks") + 2
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0] > 0
    for fault in ("truncate", "cut_json", "close"):
        server.inject(fault, path="/api/v1/blocks/29")
        before = server.count("/api/v1/blocks/29")
        assert mempool.get_headers(0, 30, method="v1") == chain.raw(0, 30)
        assert server.count("/api/v1/blocks/29") - before == 2
    server.inject("status", status=503, times=99, path="/api/blocks/*")
    with pytest.raises(SourceUnavailableError, match="HTTP 503") as exc:
        mempool.get_headers(1, 50)
    assert exc.value.url.endswith("/blocks/10") and exc.value.attempts == FAST.attempts


def test_parse_blocks_directly() -> None:
    genesis = REGTEST_STRICT.genesis_header
    gid = REGTEST_STRICT.genesis_hash[::-1].hex()
    block = {"id": gid.upper(), "height": 0, "version": 1, "timestamp": 1296688602,
             "bits": 0x207FFFFF, "nonce": 2, "merkle_root": genesis[36:68][::-1].hex(),
             "previousblockhash": None, "tx_count": 1}
    assert parse_blocks([block]) == [(0, gid, genesis)]
    # genesis with the zero hash spelled out, or the field left out; bits as Core's hex text
    assert parse_blocks([{**block, "previousblockhash": "00" * 32}])[0].header == genesis
    no_prev = {k: v for k, v in block.items() if k != "previousblockhash"}
    assert parse_blocks([{**no_prev, "bits": "207fffff"}])[0].header == genesis
    assert parse_blocks([]) == []
    # the version is an int32; a server may show it signed or as uint32
    raw = (-2).to_bytes(4, "little", signed=True) + genesis[4:]
    rid = double_sha256(raw)[::-1].hex()
    for version in (-2, 2**32 - 2):
        assert parse_blocks([{**block, "id": rid, "version": version}])[0].header == raw
    with pytest.raises(SourceFormatError, match="out of range") as exc:
        parse_blocks([{**block, "version": 2**32}])
    with pytest.raises(SourceFormatError, match="hashes to") as exc:
        parse_blocks([{**block, "version": -1}])
    assert exc.value.field == "[0].id"
    with pytest.raises(SourceFormatError, match="JSON array"):
        parse_blocks({"id": gid})
    with pytest.raises(SourceFormatError, match="block object") as exc:
        parse_blocks([block, "x"])
    assert exc.value.field == "[1]"
    # previousblockhash may only be null for the genesis block
    with pytest.raises(SourceFormatError, match="block 1: expected 64 hex") as exc:
        parse_blocks([{**block, "height": 1}])
    assert exc.value.field == "[0].previousblockhash"
    for api_field in ("id", "height", "version", "timestamp", "bits", "nonce", "merkle_root",
                      "previousblockhash"):
        assert api_field in VARIABLE_MAP


def test_mempool_difficulty_adjustments(mempool: MempoolClient, server: LoopbackServer) -> None:
    df = mempool.get_difficulty_adjustments()
    assert list(df.columns) == ["time", "height", "difficulty", "change_pct"]
    assert len(df) == 1 and df.height.iloc[0] == 0  # regtest never retargets
    assert df.time.dt.tz is not None and str(df.time.dt.tz) == "UTC"
    assert df.time.iloc[0] == pd.Timestamp(1296688602, unit="s", tz="UTC")
    assert df.difficulty.iloc[0] == pytest.approx(4.6565423739069247e-10)
    assert np.isnan(df.change_pct.iloc[0])  # genesis: adjustment 0 = no predecessor
    # a mainnet-shaped payload (newest first, ratios) served by the same server
    server.override("/api/v1/mining/difficulty-adjustments/1y", [
        [1625319000, 689472, 14363025673659.96, 0.720586],
        [1624019000, 687456, 19932791027262.74, 0.95],
        [1231006505, 0, 1.0, 0.0],
    ])
    df = mempool.get_difficulty_adjustments("1y")
    assert df.height.tolist() == [0, 687456, 689472]
    assert df.change_pct.iloc[2] == pytest.approx(-27.9414)
    assert df.change_pct.iloc[1] == pytest.approx(-5.0)
    assert df.time.iloc[2] == pd.Timestamp("2021-07-03 13:30:00", tz="UTC")
    with pytest.raises(ValueError, match="period must be one of"):
        mempool.get_difficulty_adjustments("5y")


def test_mempool_hashrate(mempool: MempoolClient, chain: Chain) -> None:
    hr = mempool.get_hashrate("3y")
    assert list(hr.hashrates.columns) == ["time", "hashrate_ehs"]
    assert list(hr.difficulty.columns) == ["time", "height", "difficulty", "change_pct"]
    assert hr.hashrates.time.is_monotonic_increasing
    assert (hr.hashrates.time.dt.hour == 0).all()
    # the daily hashrates integrate to the chain's work: N blocks x difficulty x 2**32 hashes
    work = (hr.hashrates.hashrate_ehs * 1e18 * 86400).sum()
    assert work == pytest.approx(N * hr.current_difficulty * 2**32)
    assert hr.current_difficulty == pytest.approx(4.6565423739069247e-10)
    assert hr.current_hashrate_ehs == pytest.approx(hr.hashrates.hashrate_ehs.iloc[-1])
    assert mempool.get_hashrate(None).hashrates.equals(hr.hashrates)


def test_parsers_directly() -> None:
    df = parse_difficulty_adjustments([[10, 2016, 2.0, 2.0], [0, 0, 1.0, 0]])
    assert df.height.tolist() == [0, 2016] and df.change_pct.iloc[1] == pytest.approx(100.0)
    hr = parse_hashrate({"hashrates": [{"timestamp": 86400, "avgHashrate": 5e20}],
                         "difficulty": [], "currentHashrate": 6e20, "currentDifficulty": 1e14})
    assert hr.hashrates.hashrate_ehs.tolist() == [500.0] and hr.current_hashrate_ehs == 600.0
    assert hr.difficulty.empty
    raw = REGTEST_STRICT.genesis_header
    assert parse_header_hex(raw.hex() + "\n", REGTEST_STRICT.genesis_hash[::-1].hex()) == raw
    with pytest.raises(TruncatedBodyError):
        parse_header_hex(raw.hex()[:100])
    with pytest.raises(SourceFormatError, match="hashes to"):
        parse_header_hex(raw.hex(), "00" * 32)


# ---------------------------------------------------------------------------------------------
# Bitcoin Core RPC: happy paths
# ---------------------------------------------------------------------------------------------
def test_rpc_methods(rpc: BitcoinRPC, chain: Chain) -> None:
    assert rpc.get_tip_height() == N
    info = rpc.get_blockchain_info()
    assert info.chain == "regtest" and info.height == N and info.headers_height == N
    assert info.best_hash == chain.tip_hash
    assert info.chainwork == chain.chainwork == chain.state_at(N).chainwork
    assert info.median_time.tzinfo is not None
    assert info.difficulty == pytest.approx(4.6565423739069247e-10)
    h = rpc.get_block_hash(42)
    assert h == chain.hashes[42]
    assert rpc.get_block_header(h) == chain.headers[42]


def test_rpc_get_headers_batches(rpc: BitcoinRPC, chain: Chain, server: LoopbackServer) -> None:
    seen: list[tuple[int, int]] = []
    data = rpc.get_headers(0, N + 1, batch_size=64, progress=lambda d, t: seen.append((d, t)))
    tip = validate_headers(data, None, REGTEST_STRICT)
    assert tip.height == N and tip.hash[::-1].hex() == chain.tip_hash
    batches = -(-(N + 1) // 64)
    assert server.count("/", rpc_method="getblockhash") == batches
    assert server.count("/", rpc_method="getblockheader") == batches
    assert seen == [(min(64 * (i + 1), N + 1), N + 1) for i in range(batches)]


def test_rpc_batch_errors_per_item(rpc: BitcoinRPC, chain: Chain) -> None:
    out = rpc.batch([("getblockhash", [1]), ("getblockhash", [10_000]), ("getblockcount", [])],
                    raise_errors=False)
    assert out[0] == chain.hashes[1] and out[2] == N
    assert isinstance(out[1], RPCError) and out[1].code == -8 and out[1].index == 1
    with pytest.raises(RPCError, match="batch item 1") as exc:
        rpc.batch([("getblockhash", [1]), ("getblockhash", [10_000])])
    assert exc.value.message == "Block height out of range"
    assert rpc.batch([]) == []


def test_rpc_user_password(server: LoopbackServer, chain: Chain) -> None:
    with BitcoinRPC(server.rpc_url, user=server.rpc_user, password=server.rpc_password) as rpc:
        assert rpc.get_block_hash(N) == chain.tip_hash


@pytest.mark.parametrize("kind", ["mempool", "rpc"])
def test_both_clients_are_header_sources(kind: str, request: pytest.FixtureRequest,
                                         chain: Chain) -> None:
    source: HeaderSource = request.getfixturevalue(kind)
    assert source.get_tip_height() == N
    data = source.get_headers(101, 50)
    assert data == chain.raw(101, 50)
    tip = validate_headers(data, chain.state_at(100))
    assert tip.height == 150


# ---------------------------------------------------------------------------------------------
# Retries, timeouts, truncation
# ---------------------------------------------------------------------------------------------
def test_retry_on_500_then_success(mempool: MempoolClient, server: LoopbackServer,
                                   sleeps: Sleeps) -> None:
    server.inject("status", status=500, times=2, path="/api/blocks/tip/height")
    assert mempool.get_tip_height() == N
    assert server.count("/api/blocks/tip/height") == 3
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0] > 0  # exponential backoff


def test_retry_after_honoured_on_429(mempool: MempoolClient, server: LoopbackServer,
                                     sleeps: Sleeps) -> None:
    server.inject("status", status=429, retry_after="2", path="/api/block-height/*")
    assert mempool.get_block_hash(7) == server.chain.hashes[7]
    assert server.count("/api/block-height/7") == 2
    assert sleeps == [pytest.approx(2.0)]


def test_retry_after_too_long_fails_fast(mempool: MempoolClient, server: LoopbackServer) -> None:
    server.inject("status", status=429, retry_after="3600")
    with pytest.raises(SourceUnavailableError, match="retry after 3600 s") as exc:
        mempool.get_tip_height()
    assert exc.value.status == 429 and server.count() == 1


def test_rpc_retry_on_503(rpc: BitcoinRPC, server: LoopbackServer) -> None:
    server.inject("status", status=503, rpc_method="getblockcount",
                  body="Work queue depth exceeded")
    assert rpc.get_tip_height() == N
    assert server.count("/", rpc_method="getblockcount") == 2


def test_persistent_500_names_url_and_status(mempool: MempoolClient,
                                             server: LoopbackServer) -> None:
    server.inject("status", status=502, times=99)
    with pytest.raises(SourceUnavailableError) as exc:
        mempool.get_hashrate("1m")
    err = exc.value
    assert err.url == f"{server.mempool_url}/v1/mining/hashrate/1m" and err.url in str(err)
    assert err.status == 502 and "HTTP 502" in str(err) and err.attempts == FAST.attempts
    assert server.count() == FAST.attempts


@pytest.mark.parametrize("kind", ["mempool", "rpc"])
def test_timeout_after_retry_budget(kind: str, request: pytest.FixtureRequest,
                                    server: LoopbackServer) -> None:
    client: HeaderSource = request.getfixturevalue(kind)
    # answers come after 60 s (the server wakes its handlers when it stops): a client that
    # waited for any of them instead of giving up after its timeout takes 60 s or more
    server.inject("slow", delay_s=60.0, times=99)
    t0 = time.monotonic()
    with pytest.raises(SourceUnavailableError, match="timed out") as exc:
        client.get_tip_height()
    assert time.monotonic() - t0 < 60.0
    assert exc.value.status is None and server.url in str(exc.value)
    assert server.count() == FAST.attempts


def test_slow_once_then_success(mempool: MempoolClient, server: LoopbackServer) -> None:
    server.inject("slow", delay_s=TIMEOUT_S + 1.0, path="/api/blocks/tip/height")
    assert mempool.get_tip_height() == N


@pytest.mark.parametrize("fault", ["truncate", "cut_json", "close"])
def test_truncated_body_retried(fault: str, mempool: MempoolClient,
                                server: LoopbackServer) -> None:
    server.inject(fault, path="/api/v1/mining/hashrate/3y")
    assert not mempool.get_hashrate("3y").hashrates.empty
    assert server.count("/api/v1/mining/hashrate/3y") == 2


def test_truncated_header_hex_retried(mempool: MempoolClient, server: LoopbackServer,
                                      chain: Chain) -> None:
    path = f"/api/block/{chain.hashes[5]}/header"
    server.inject("cut_json", path=path)
    assert mempool.get_header(chain.hashes[5]) == chain.headers[5]
    assert server.count(path) == 2


@pytest.mark.parametrize("fault, message", [("truncate", "incomplete response"),
                                            ("cut_json", "not valid JSON")])
def test_truncated_body_persistent(fault: str, message: str, mempool: MempoolClient,
                                   server: LoopbackServer) -> None:
    server.inject(fault, times=99)
    with pytest.raises(SourceUnavailableError, match=message) as exc:
        mempool.get_difficulty_adjustments()
    assert "difficulty-adjustments" in exc.value.url and exc.value.attempts == FAST.attempts


def test_rpc_truncated_batch_retried(rpc: BitcoinRPC, server: LoopbackServer,
                                     chain: Chain) -> None:
    server.inject("cut_json", rpc_method="getblockheader")
    server.inject("truncate", rpc_method="getblockhash")
    assert rpc.get_headers(1, 20) == chain.raw(1, 20)
    assert server.count("/") == 4


# ---------------------------------------------------------------------------------------------
# Bad data: PoW, reorgs, shapes, errors
# ---------------------------------------------------------------------------------------------
def test_bad_pow_header_hash_mismatch(mempool: MempoolClient, rpc: BitcoinRPC,
                                      server: LoopbackServer, chain: Chain) -> None:
    server.corrupt_pow(120)
    with pytest.raises(SourceFormatError, match="hashes to") as exc:
        mempool.get_header(chain.hashes[120])
    assert exc.value.field == "header" and exc.value.source == "mempool"
    with pytest.raises(SourceFormatError, match="hashes to"):
        mempool.get_headers(118, 5)
    with pytest.raises(SourceFormatError, match="hashes to") as exc:
        rpc.get_headers(100, 50)
    assert exc.value.source == "bitcoind"


@pytest.mark.parametrize("method", HEADER_METHODS)
def test_bad_pow_page_hash_mismatch(method: str, mempool: MempoolClient,
                                    server: LoopbackServer) -> None:
    server.corrupt_pow(120)
    with pytest.raises(SourceFormatError, match="hashes to") as exc:
        mempool.get_headers(101, 30, method=method)
    assert ("block 120" in str(exc.value)) == (method != "header")


@pytest.mark.parametrize("kind", ["mempool", "mempool-v1", "mempool-header", "rpc"])
def test_bad_pow_header_caught_by_validation(kind: str, request: pytest.FixtureRequest,
                                             server: LoopbackServer, chain: Chain) -> None:
    client: HeaderSource = request.getfixturevalue(kind.split("-")[0])
    if "-" in kind:
        assert isinstance(client, MempoolClient)
        client.headers_method = kind.split("-")[1]
    bad = server.corrupt_pow(120, consistent=True)
    data = client.get_headers(1, 150)
    assert data[119 * 80 : 120 * 80] == bad
    with pytest.raises(BadPowError) as exc:
        validate_headers(genesis_plus(data), None, REGTEST_STRICT)
    assert exc.value.height == 120 and exc.value.accepted == 120


def test_reorg_to_competing_chain(mempool: MempoolClient, rpc: BitcoinRPC,
                                  server: LoopbackServer, chain: Chain) -> None:
    old_tip = validate_headers(genesis_plus(rpc.get_headers(1, N)), None, REGTEST_STRICT)
    new = server.reorg(fork_height=250, extra=10, tag=b"competitor")
    assert mempool.get_tip_height() == rpc.get_tip_height() == N + 10
    assert rpc.get_block_hash(250) == chain.hashes[250]
    assert rpc.get_block_hash(251) != chain.hashes[251]
    # the new headers do not extend the stored tip ...
    with pytest.raises(BadLinkError):
        validate_headers(rpc.get_headers(N + 1, 10), old_tip)
    # ... but do extend the fork point, with more work
    fork_state: ChainState = chain.state_at(250)
    for client in (mempool, rpc):
        data = client.get_headers(251, N + 10 - 250)
        new_tip = validate_headers(data, fork_state)
        assert new_tip.hash[::-1].hex() == new.tip_hash
        assert new_tip.chainwork is not None and old_tip.chainwork is not None
        assert new_tip.chainwork > old_tip.chainwork


def test_bad_auth(server: LoopbackServer, tmp_path: Path) -> None:
    with BitcoinRPC(server.rpc_url, user="alice", password="wrong") as rpc:
        with pytest.raises(SourceAuthError, match="rpcuser/rpcpassword refused") as exc:
            rpc.get_tip_height()
    assert exc.value.status == 401 and server.url in str(exc.value)
    with BitcoinRPC(server.rpc_url) as rpc, pytest.raises(SourceAuthError, match="no credentials"):
        rpc.get_tip_height()
    stale = tmp_path / "stale.cookie"
    stale.write_text("__cookie__:old")
    with BitcoinRPC(server.rpc_url, cookie_file=stale) as rpc:
        with pytest.raises(SourceAuthError, match="cookie"):
            rpc.get_tip_height()
        server.write_cookie(stale)  # bitcoind restarted and wrote a new cookie
        assert rpc.get_tip_height() == N
    assert server.count(method="POST") == 5


def test_read_cookie(tmp_path: Path) -> None:
    p = tmp_path / ".cookie"
    p.write_text("__cookie__:abc:def\n")
    assert read_cookie(p) == ("__cookie__", "abc:def")
    p.write_text("garbage")
    with pytest.raises(SourceFormatError, match="cookie"):
        read_cookie(p)
    with pytest.raises(FileNotFoundError, match="datadir"):
        read_cookie(tmp_path / "missing")


def test_rpc_error_object(rpc: BitcoinRPC, server: LoopbackServer) -> None:
    with pytest.raises(RPCError) as exc:
        rpc.get_block_hash(10_000)
    assert exc.value.code == -8 and exc.value.message == "Block height out of range"
    assert exc.value.method == "getblockhash" and "-8" in str(exc.value)
    with pytest.raises(RPCError) as exc:
        rpc.call("nosuchmethod")
    assert exc.value.code == -32601  # HTTP 404 with a JSON error body: an answer, not retried
    with pytest.raises(RPCError) as exc:
        rpc.get_block_header("ab" * 32)
    assert exc.value.code == -5
    server.override_rpc("getblockcount", error={"code": -28, "message": "Loading block index…"})
    with pytest.raises(RPCError, match="Loading block index"):
        rpc.get_tip_height()
    assert server.count("/") == 4  # none retried


def test_not_found_is_not_retried(mempool: MempoolClient, server: LoopbackServer) -> None:
    with pytest.raises(SourceHTTPError, match="Block not found") as exc:
        mempool.get_block_hash(10_000)
    assert exc.value.status == 404 and exc.value.url.endswith("/block-height/10000")
    assert server.count() == 1
    with pytest.raises(ValueError, match="non-negative"):
        mempool.get_block_hash(-1)


@pytest.mark.parametrize("path, payload, field", [
    ("/api/v1/mining/hashrate/3y", {"hashrates": 5, "difficulty": [], "currentHashrate": 1,
                                    "currentDifficulty": 1}, "hashrates"),
    ("/api/v1/mining/hashrate/3y", {"hashrates": [], "difficulty": []}, "currentHashrate"),
    ("/api/v1/mining/hashrate/3y", {"hashrates": [{"timestamp": 1, "avgHashrate": "big"}],
                                    "difficulty": [], "currentHashrate": 1,
                                    "currentDifficulty": 1}, "hashrates[0].avgHashrate"),
    ("/api/v1/mining/hashrate/3y", {"hashrates": [], "difficulty": [{"time": 1, "height": 2}],
                                    "currentHashrate": 1, "currentDifficulty": 1},
     "difficulty[0].difficulty"),
    ("/api/v1/mining/difficulty-adjustments", {"rows": []}, "(root)"),
    ("/api/v1/mining/difficulty-adjustments", [[1, 2, 3]], "[0]"),
    ("/api/v1/mining/difficulty-adjustments", [[1, 2, "3", 1.0]], "[0][2] (difficulty)"),
    ("/api/v1/mining/difficulty-adjustments", [[1, 2.5, 3, 1.0]], "[0][1] (height)"),
    ("/api/v1/mining/difficulty-adjustments", [[1, 2, -3, 1.0]], "[0][2] (difficulty)"),
    ("/api/blocks/tip/height", "tip", "tip height"),
    ("/api/block-height/3", "zz" * 32, "block hash"),
])
def test_malformed_mempool_payload(path: str, payload: object, field: str,
                                   mempool: MempoolClient, server: LoopbackServer) -> None:
    server.override(path, payload)
    calls: dict[str, Callable[[], object]] = {
        "/api/v1/mining/hashrate/3y": lambda: mempool.get_hashrate("3y"),
        "/api/v1/mining/difficulty-adjustments": mempool.get_difficulty_adjustments,
        "/api/blocks/tip/height": mempool.get_tip_height,
        "/api/block-height/3": lambda: mempool.get_block_hash(3),
    }
    with pytest.raises(SourceFormatError) as exc:
        calls[path]()
    assert exc.value.field == field and exc.value.source == "mempool"
    assert repr(field) in str(exc.value)
    assert server.count(path) == 1  # a wrong shape is not retried


@pytest.mark.parametrize("method, result, field", [
    ("getblockchaininfo", {}, "getblockchaininfo.chain"),
    ("getblockchaininfo", [], "getblockchaininfo"),
    ("getblockcount", "300", "getblockcount"),
    ("getblockhash", 17, "getblockhash"),
    ("getblockheader", {"hash": "x"}, "getblockheader"),
])
def test_malformed_rpc_result(method: str, result: object, field: str, rpc: BitcoinRPC,
                              server: LoopbackServer) -> None:
    calls: dict[str, Callable[[], object]] = {
        "getblockchaininfo": rpc.get_blockchain_info,
        "getblockcount": rpc.get_tip_height,
        "getblockhash": lambda: rpc.get_block_hash(1),
        "getblockheader": lambda: rpc.get_headers(1, 3),
    }
    server.override_rpc(method, result=result)
    with pytest.raises(SourceFormatError) as exc:
        calls[method]()
    assert exc.value.field == field and exc.value.source == "bitcoind"


# ---------------------------------------------------------------------------------------------
# The HTTP layer itself
# ---------------------------------------------------------------------------------------------
def test_parse_retry_after() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    now = datetime(2024, 1, 1, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(later, now=now.timestamp()) == pytest.approx(30.0)
    assert parse_retry_after(format_datetime(now, usegmt=True), now=now.timestamp() + 5) == 0.0


def test_backoff_is_seeded_and_bounded() -> None:
    policy = RetryPolicy(attempts=6, backoff_s=0.5, max_backoff_s=4.0, jitter=0.25)
    a = [policy.delay(k, random.Random(3)) for k in range(1, 6)]
    b = [policy.delay(k, random.Random(3)) for k in range(1, 6)]
    assert a == b
    for k, d in enumerate(a, start=1):
        base = min(4.0, 0.5 * 2 ** (k - 1))
        assert base <= d <= base * 1.25
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)


def test_rate_limit_spaces_requests(server: LoopbackServer) -> None:
    sleeps = Sleeps()
    now = [100.0]
    with HttpClient(server.mempool_url, min_interval_s=0.5, sleep=sleeps,
                    clock=lambda: now[0]) as http:
        for _ in range(3):
            assert http.get_text("/blocks/tip/height") == str(N)
            now[0] += 0.2  # 0.2 s pass between calls: the client waits the other 0.3 s
    assert sleeps == [pytest.approx(0.3), pytest.approx(0.3)]
    assert http.requests_sent == 3


def test_errors_share_a_base() -> None:
    for cls in (SourceFormatError, SourceUnavailableError, SourceHTTPError, RPCError):
        assert issubclass(cls, SourceError)
    assert issubclass(SourceFormatError, ValueError)
    assert issubclass(SourceUnavailableError, RuntimeError)


# ---------------------------------------------------------------------------------------------
# The public mempool.space (opt-in: pytest --remote-data)
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def public() -> Iterator[MempoolClient]:
    with MempoolClient(min_interval_s=0.5, timeout_s=20) as client:
        yield client


@pytest.mark.remote_data
def test_public_tip_and_first_headers(public: MempoolClient) -> None:
    assert public.get_tip_height() > 840_000
    data = public.get_headers(0, 3)
    assert validate_headers(data, None, MAINNET).height == 2


@pytest.mark.remote_data
def test_public_difficulty_adjustments(public: MempoolClient) -> None:
    df = public.get_difficulty_adjustments()
    row = df[df.height == 689_472]
    assert len(row) == 1
    assert row.change_pct.iloc[0] == pytest.approx(-27.94, abs=0.01)
    assert row.time.iloc[0].date().isoformat() == "2021-07-03"


@pytest.mark.remote_data
def test_public_hashrate(public: MempoolClient) -> None:
    hr = public.get_hashrate("1m")
    assert 20 <= len(hr.hashrates) <= 40
    assert 100 < hr.hashrates.hashrate_ehs.median() < 10_000
    assert hr.current_difficulty > 1e13
