"""The block process of many Monte Carlo paths at once, exact where Bitcoin is exact.

Blocks arrive as a Poisson process of rate ``H(t) / (D · 2**32)`` [blocks/s]. On the *work clock*
``W(t) = ∫ H / (D · 2**32) dt`` the gaps between blocks are i.i.d. Exp(1), so per 2016-block epoch
two Gamma draws suffice: ``Gamma(1)`` from the last block of the previous epoch to the epoch's
first block, and ``Gamma(2015)`` from its first to its last block. The times of those two blocks
are found by inverting ``W``, which is piecewise linear because ``H`` is constant within a day
(``hashshift/DESIGN``: "The network model"). The retarget then uses Bitcoin Core's arithmetic
(:func:`hashshift.consensus.retarget`, ``src/pow.cpp``) on the two timestamps (whole seconds),
so compact rounding and the factor-4 clamps are Bitcoin's.

Blocks per day (needed for miners' revenue) are drawn exactly too: given the epoch's first and
last block on the work clock, the 2014 blocks between them are uniform order statistics, so the
count falling in a day's slice of work is a sequential binomial draw.

Costs O(paths × (days + epochs)), never O(blocks). The oracle is :mod:`hashshift.sim.reference`,
which draws every block.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..consensus import (
    DIFF1_TARGET,
    MAINNET,
    Params,
    compact_to_target,
    retarget,
    target_to_compact,
)
from ..units import EH, HASHES_PER_DIFFICULTY, SECONDS_PER_DAY

__all__ = ["EpochLog", "NetworkState", "advance_day", "start_network"]

INTERIOR = 2014  # blocks strictly between the first and the last block of an epoch
_DIFF1 = float(DIFF1_TARGET)


@dataclass
class EpochLog:
    """Per path, one entry per completed epoch: epoch number, first-block time [s since start],
    duration [s] (last − first block), bits before and after the retarget."""

    epoch: list[np.ndarray] = field(default_factory=list)
    path: list[np.ndarray] = field(default_factory=list)
    first_time_s: list[np.ndarray] = field(default_factory=list)
    duration_s: list[np.ndarray] = field(default_factory=list)
    bits: list[np.ndarray] = field(default_factory=list)
    next_bits: list[np.ndarray] = field(default_factory=list)

    def add(self, path: np.ndarray, epoch: np.ndarray, first_time_s: np.ndarray,
            duration_s: np.ndarray, bits: np.ndarray, next_bits: np.ndarray) -> None:
        """Epochs completed by the paths ``path`` (one each), with their columns."""
        self.path.append(path.astype(np.int32))
        self.epoch.append(epoch.astype(np.int32))
        self.first_time_s.append(first_time_s)
        self.duration_s.append(duration_s)
        self.bits.append(bits.astype(np.uint32))
        self.next_bits.append(next_bits.astype(np.uint32))

    def frame(self, release: bool = False) -> dict[str, np.ndarray]:
        """The log as one array per column (path and epoch int32, bits uint32, times float).
        ``release``: empty the log column by column as it goes (half the peak memory)."""
        out: dict[str, np.ndarray] = {}
        for k in ("path", "epoch", "first_time_s", "duration_s", "bits", "next_bits"):
            parts: list[np.ndarray] = getattr(self, k)
            out[k] = np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
            if release:
                parts.clear()
        return out


@dataclass
class NetworkState:
    """State of every path. Times are seconds since the simulation start (a float, exact to
    well under a second over decades); heights are block heights.

    ``phase`` 0: waiting for the epoch's first block (``rem`` work units left);
    ``phase`` 1: between first and last block (``rem`` work left to the last block,
    ``interior_left`` blocks still to come strictly before it).
    """

    params: Params
    height: np.ndarray  # height of the last block found (paths)
    epoch_start_height: np.ndarray  # first height of the current epoch (paths)
    bits: np.ndarray  # compact bits of the current epoch (paths) (int64)
    difficulty: np.ndarray  # (paths)
    epoch_first_time: np.ndarray  # time of the epoch's first block (paths) (nan in phase 0)
    phase: np.ndarray  # (paths) int8
    rem: np.ndarray  # work units to the next event (paths)
    span_left: np.ndarray  # phase 1: work units to the last block (paths)
    interior_left: np.ndarray  # phase 1: interior blocks not yet counted (paths)
    log: EpochLog
    _target_cache: dict[int, int] = field(default_factory=dict)

    @property
    def paths(self) -> int:
        return int(self.height.shape[0])


def _difficulty(bits: int) -> float:
    target, _, _ = compact_to_target(bits)
    return _DIFF1 / target


def bits_to_difficulty(bits: np.ndarray | int) -> np.ndarray:
    """Difficulty [dimensionless] of each compact bits value (any shape).

    ``0xffff · 2**208 / target`` with ``target = mantissa · 2**(8 · (size − 3))``, computed as
    ``ldexp(0xffff / mantissa, 208 − 8 · (size − 3))``: the same correctly rounded double as
    :func:`hashshift.consensus.bits_to_difficulty` (a power of two scales a quotient exactly),
    for valid, normal bits (positive mantissa, size ≥ 3); others go through the scalar function.
    """
    b = np.asarray(bits, dtype=np.int64)
    size = b >> 24
    word = b & 0x7FFFFF
    ok = (word > 0) & ((b & 0x800000) == 0) & (size >= 3) & (size <= 32)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.ldexp(65535.0 / word, (208 - 8 * (size - 3)).astype(np.int32))
    if not ok.all():
        out = np.where(ok, out, 0.0)
        for k in np.flatnonzero(~ok.ravel()).tolist():
            out.flat[k] = _difficulty(int(b.flat[k]))
    return out


def _bit_length(x: np.ndarray) -> np.ndarray:
    """Bit length of positive int64 values (a float's exponent, corrected where rounding up to
    the next power of two made it one too large)."""
    n = np.frexp(x.astype(np.float64))[1].astype(np.int64)
    return n - ((x >> (n - 1)) == 0)


_SHIFT = 17  # mantissa (< 2**23) x timespan (< 2**23) x 2**17 < 2**63


def retarget_bits(bits: np.ndarray, span_s: np.ndarray, params: Params = MAINNET) -> np.ndarray:
    """Bitcoin Core's ``CalculateNextWorkRequired`` for many epochs at once, bit for bit.

    Parameters
    ----------
    bits : array of int — [compact] bits of each epoch
    span_s : array of int — [s] timestamp of the epoch's last block − that of its first

    The new target is ``floor(target · span / 1 209 600)`` (span clamped to a factor of 4),
    capped at the proof-of-work limit and rounded down to compact bits, which keep its top
    23 bits. With ``target = m · 2**S`` (``S = 8 · (size − 3)``) those bits are the top bits of
    ``floor(m · span · 2**17 / 1 209 600)``, shifted: nested floors of divisions by positive
    integers are one floor, so the int64 quotient ``Q`` gives them exactly when it has at least
    24 bits (it has about 30 for normal bits). Rows outside that case (size < 6, a sign bit,
    a result near the proof-of-work limit) go through :func:`hashshift.consensus.retarget`.
    """
    b = np.asarray(bits, dtype=np.int64)
    if params.no_retargeting:
        return b.copy()
    ts = params.pow_target_timespan
    span = np.clip(np.asarray(span_s, dtype=np.int64), ts // 4, ts * 4)
    size = b >> 24
    word = b & 0x7FFFFF
    ok = (size >= 6) & (size <= 29) & (word > 0) & ((b & 0x800000) == 0)
    q = np.where(ok, (word * span) << _SHIFT, ts) // ts  # floor(m · span · 2**17 / ts)
    qlen = _bit_length(np.maximum(q, 1))
    rlen = qlen + 8 * (size - 3) - _SHIFT  # bit length of the new 256-bit target
    ok &= (qlen >= 24) & (rlen < params.pow_limit.bit_length())  # never above the limit
    new_size = (rlen + 7) // 8
    mant = q >> np.maximum(8 * (new_size - 3) - 8 * (size - 3) + _SHIFT, 0)
    high = (mant & 0x800000) != 0  # GetCompact: the sign bit must stay clear
    mant = np.where(high, mant >> 8, mant)
    new_size = new_size + high
    out = np.where(ok, (new_size << 24) | mant, 0)
    for k in np.flatnonzero(~ok).tolist():
        out[k] = retarget(int(b[k]), 0, int(np.asarray(span_s).ravel()[k]), params)
    return out


def start_network(
    paths: int,
    height: int,
    bits: int,
    epoch_first_time_s: float | None,
    rng: np.random.Generator,
    params: Params = MAINNET,
    log: EpochLog | None = None,
) -> NetworkState:
    """Paths starting right after block ``height`` was found (time 0).

    Parameters
    ----------
    paths : int — [paths]
    height : int — [block height] of the last block found at time 0
    bits : int — [compact] bits of that block's epoch
    epoch_first_time_s : float — [s, relative to time 0, ≤ 0] time of the current epoch's first
        block (``height`` must lie inside an epoch, not be its last block)
    rng : numpy Generator — the only source of randomness
    log : EpochLog — where completed epochs go (default: a new :class:`EpochLog`)
    """
    interval = params.interval
    pos = height % interval  # position of the last found block in its epoch
    p = paths
    state = NetworkState(
        params=params,
        height=np.full(p, height, dtype=np.int64),
        epoch_start_height=np.full(p, height - pos, dtype=np.int64),
        bits=np.full(p, bits, dtype=np.int64),
        difficulty=np.full(p, _difficulty(bits)),
        epoch_first_time=np.full(p, np.nan),
        phase=np.zeros(p, dtype=np.int8),
        rem=np.zeros(p),
        span_left=np.zeros(p),
        interior_left=np.zeros(p, dtype=np.int64),
        log=EpochLog() if log is None else log,
    )
    if pos == interval - 1:
        # Next block is the first of a new epoch: the retarget must already have happened.
        raise ValueError("start at a height inside an epoch, not at its last block")
    if epoch_first_time_s is None:
        raise ValueError("epoch_first_time_s is required inside an epoch")
    # The epoch's first block is found; the last block is (interval - 1 - pos) blocks away.
    left = interval - 1 - pos  # blocks still to find in this epoch, the last included
    state.phase[:] = 1
    state.epoch_first_time[:] = epoch_first_time_s
    state.rem[:] = rng.gamma(left, 1.0, size=p)
    state.span_left[:] = state.rem
    state.interior_left[:] = left - 1
    return state


def advance_day(
    state: NetworkState,
    day_start_s: float,
    hashrate_ehs: np.ndarray,
    rng: np.random.Generator,
    *,
    day_s: float = SECONDS_PER_DAY,
) -> np.ndarray:
    """Run every path through one day of constant hashrate; return blocks found (paths).

    Parameters
    ----------
    day_start_s : float — [s since start] beginning of the day
    hashrate_ehs : array (paths) — [EH/s] network hashrate of each path during the day (> 0)

    The first pass handles every path with whole arrays; later passes (a path with an epoch's
    first or last block today continues after it) only the paths that had an event.
    """
    h = np.asarray(hashrate_ehs, dtype=float) * EH
    if not (h > 0).all():
        raise ValueError("hashrate must be positive on every path")
    p = state.paths
    blocks = np.zeros(p, dtype=np.int64)
    rate = h / (state.difficulty * HASHES_PER_DIFFICULTY)  # work units per second
    work_today = rate * day_s
    hit = state.rem <= work_today
    _consume_whole_day(state, ~hit, work_today, blocks, rng)
    idx = np.flatnonzero(hit)
    t_left = np.full(idx.size, day_s)  # seconds of the day left, for the paths in idx
    for _ in range(10_000):  # each pass handles at most one event per path
        if idx.size == 0:
            return blocks
        dt = state.rem[idx] / rate[idx]
        t_now = day_start_s + (day_s - t_left) + dt
        t_left = t_left - dt
        _reach_event(state, idx, blocks)
        _event(state, idx, t_now, blocks, rng)
        # Paths with time left: their next event today, or the rest of the day.
        more = t_left > 0
        idx, t_left = idx[more], t_left[more]
        rate[idx] = h[idx] / (state.difficulty[idx] * HASHES_PER_DIFFICULTY)  # retargeted
        work_left = t_left * rate[idx]
        hit = state.rem[idx] <= work_left
        if not hit.all():
            idle = ~hit
            full = np.zeros(p)
            full[idx[idle]] = work_left[idle]
            _consume_idle(state, idx[idle], full, blocks, rng)
        idx, t_left = idx[hit], t_left[hit]
    raise RuntimeError("too many epochs within one day")  # pragma: no cover - absurd jumps


def _event(state: NetworkState, idx: np.ndarray, t_now: np.ndarray, blocks: np.ndarray,
           rng: np.random.Generator) -> None:
    """The event block of the paths ``idx`` at times ``t_now`` [s]: an epoch's first block
    (draw the work to its last block) or its last block (Core's retarget, then draw the work
    to the next epoch's first block)."""
    interval = state.params.interval
    blocks[idx] += 1
    state.height[idx] += 1
    first = state.phase[idx] == 0
    if first.any():
        i = idx[first]
        state.epoch_start_height[i] = state.height[i]
        state.epoch_first_time[i] = t_now[first]
        state.phase[i] = 1
        state.rem[i] = rng.gamma(interval - 1, 1.0, size=i.size)
        state.span_left[i] = state.rem[i]
        state.interior_left[i] = interval - 2
    last = ~first
    if last.any():
        i = idx[last]
        first_t = state.epoch_first_time[i]
        # Block timestamps are whole seconds: round both ends from the same origin.
        span = np.floor(t_now[last]) - np.floor(first_t)
        old_bits = state.bits[i]
        new_bits = retarget_bits(old_bits, span.astype(np.int64), state.params)
        state.log.add(i, state.epoch_start_height[i] // interval, first_t, span, old_bits,
                      new_bits)
        state.bits[i] = new_bits
        state.difficulty[i] = bits_to_difficulty(new_bits)
        state.phase[i] = 0
        state.epoch_first_time[i] = np.nan
        state.rem[i] = rng.exponential(1.0, size=i.size)
        state.span_left[i] = 0.0
        state.interior_left[i] = 0


def _consume_whole_day(state: NetworkState, idle: np.ndarray, work: np.ndarray,
                       blocks: np.ndarray, rng: np.random.Generator) -> None:
    """:func:`_consume_idle` of every path where ``idle``, with whole arrays: a binomial draw
    with ``n = 0`` takes no random number, so the draws are those of the idle paths alone."""
    w = np.where(idle, work, 0.0)
    state.rem -= w
    in_span = idle & (state.phase == 1)
    ws = np.where(in_span, work, 0.0)
    n = np.where(in_span, state.interior_left, 0)
    found = rng.binomial(n, np.minimum(ws / np.maximum(state.span_left, 1e-300), 1.0))
    blocks += found
    state.height += found
    state.interior_left -= found
    state.span_left -= ws


def _consume_idle(state: NetworkState, i: np.ndarray, work: np.ndarray, blocks: np.ndarray,
                  rng: np.random.Generator) -> None:
    """Advance the work clock of the paths ``i`` by ``work[i]`` units (no event: the 2014
    interior blocks of an epoch are uniform on its work span, so the count in this slice is
    binomial)."""
    if i.size == 0:
        return
    if i.size == state.paths:  # every path: whole arrays, no gathers
        state.rem -= work
        in_span = state.phase == 1
        j = np.flatnonzero(in_span)
        wj = work[j]
    else:
        state.rem[i] -= work[i]
        j = i[state.phase[i] == 1]
        wj = work[j]
    if j.size == 0:
        return
    n = state.interior_left[j]
    span = state.span_left[j]
    frac = np.minimum(wj / np.maximum(span, 1e-300), 1.0)  # work is never negative
    found = rng.binomial(n, frac)
    blocks[j] += found
    state.height[j] += found
    state.interior_left[j] = n - found
    state.span_left[j] = span - wj


def _reach_event(state: NetworkState, i: np.ndarray, blocks: np.ndarray) -> None:
    """The paths ``i`` reach their event block: every interior block before it is found."""
    inside = state.phase[i] == 1
    j = i[inside]
    n = state.interior_left[j]
    blocks[j] += n
    state.height[j] += n
    state.interior_left[j] = 0
    state.span_left[j] -= state.rem[j]
    state.rem[i] = 0.0


def encode_difficulty(difficulty: float) -> int:
    """Compact bits nearest below a difficulty [dimensionless] (for scenario starts)."""
    return target_to_compact(int(_DIFF1 / difficulty))
