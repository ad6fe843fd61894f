"""Build real header chains cheaply, for tests, benchmarks and the loopback test servers.

Headers are mined for real (nonce search until the double SHA-256 meets the target), at regtest's
easy ``pow_limit`` so that one header takes about two attempts. They pass
:func:`hashshift.consensus.validate_headers` under the given parameters.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import replace

import numpy as np

from .consensus import (
    REGTEST,
    ChainState,
    Header,
    Params,
    compact_to_target,
    next_work_required,
    validate_headers,
)

#: Regtest's pow limit and genesis with mainnet's strict bits rule (no 20-minute exception).
REGTEST_STRICT = replace(REGTEST, name="regtest-strict", allow_min_difficulty=False)


def mine_header(
    prev_hash: bytes, merkle_root: bytes, time: int, bits: int, version: int = 0x20000000,
    start_nonce: int = 0,
) -> bytes:
    """Return an 80-byte header whose hash meets the target of ``bits``."""
    target, _, _ = compact_to_target(bits)
    head = struct.pack("<I32s32sII", version, prev_hash, merkle_root, time, bits)
    sha = hashlib.sha256
    nonce = start_nonce
    while True:
        raw = head + struct.pack("<I", nonce & 0xFFFFFFFF)
        if int.from_bytes(sha(sha(raw).digest()).digest(), "little") <= target:
            return raw
        nonce += 1


def build_chain(
    n: int,
    params: Params = REGTEST_STRICT,
    *,
    tip: ChainState | None = None,
    spacing_s: float = 600.0,
    seed: int = 0,
    tag: bytes = b"",
) -> tuple[bytes, ChainState]:
    """Mine ``n`` headers extending ``tip`` (default: the genesis block of ``params``).

    Parameters
    ----------
    n : int — [headers] to mine
    spacing_s : float — [s] mean spacing; times are exponential draws (never below the median
        time past), as real block arrivals are
    seed : int — seed of the time draws
    tag : bytes — mixed into merkle roots, so two calls with different tags build different
        (competing) chains from the same tip

    Returns
    -------
    (headers, new_tip) : concatenated headers (the genesis header is not included) and the tip.
    """
    rng = np.random.default_rng(seed)
    state = tip if tip is not None else ChainState.genesis(params)
    out = bytearray()
    gaps = rng.exponential(spacing_s, size=n)
    prev_hash, last_time, bits = state.hash, state.times[-1], state.bits
    times = list(state.times)
    epoch_start = state.epoch_start_time
    # Testnet's 20-minute rule: a block within 20 min of its parent needs the bits of the last
    # block that was not a min-difficulty block (GetNextWorkRequired walks back to it).
    last_normal = state.last_normal_bits
    limit_bits = params.pow_limit_bits
    interval = params.interval
    for i in range(n):
        h = state.height + 1 + i
        mtp = sorted(times[-11:])[len(times[-11:]) // 2]
        t = max(int(last_time + gaps[i]), mtp + 1)
        bits = next_work_required(h - 1, bits, last_time, epoch_start, params, new_block_time=t,
                                  last_normal_bits=last_normal)
        merkle = hashlib.sha256(tag + h.to_bytes(8, "little") + prev_hash).digest()
        raw = mine_header(prev_hash, merkle, t, bits)
        out += raw
        prev_hash = Header.parse(raw).hash
        last_time = t
        times.append(t)
        if h % interval == 0:
            epoch_start = t
        if h % interval == 0 or bits != limit_bits:
            last_normal = bits
    new_tip = validate_headers(bytes(out), state, params)
    return bytes(out), new_tip
