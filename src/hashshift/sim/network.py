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

import functools
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

    def frame(self) -> dict[str, np.ndarray]:
        if not self.epoch:
            empty = np.empty(0, dtype=np.int64)
            return {k: empty for k in ("path", "epoch", "first_time_s", "duration_s", "bits",
                                       "next_bits")}
        return {
            "path": np.concatenate(self.path), "epoch": np.concatenate(self.epoch),
            "first_time_s": np.concatenate(self.first_time_s),
            "duration_s": np.concatenate(self.duration_s),
            "bits": np.concatenate(self.bits), "next_bits": np.concatenate(self.next_bits),
        }


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


@functools.lru_cache(maxsize=65_536)
def _difficulty(bits: int) -> float:
    target, _, _ = compact_to_target(bits)
    return _DIFF1 / target


def start_network(
    paths: int,
    height: int,
    bits: int,
    epoch_first_time_s: float | None,
    rng: np.random.Generator,
    params: Params = MAINNET,
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
        log=EpochLog(),
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
    """
    h = np.asarray(hashrate_ehs, dtype=float) * EH
    if np.any(~(h > 0)):
        raise ValueError("hashrate must be positive on every path")
    p = state.paths
    blocks = np.zeros(p, dtype=np.int64)
    t_left = np.full(p, day_s)  # seconds of the day still to simulate
    interval = state.params.interval
    for _ in range(10_000):  # each pass handles at most one event per path
        rate = h / (state.difficulty * HASHES_PER_DIFFICULTY)  # work units per second
        work_left_today = t_left * rate
        hit = state.rem <= work_left_today
        active = t_left > 0
        # Paths without an event today: consume the rest of the day.
        idle = active & ~hit
        if idle.any():
            _consume(state, idle, work_left_today, blocks, rng)
            t_left[idle] = 0.0
        ev = active & hit
        if not ev.any():
            break
        dt = state.rem[ev] / rate[ev]
        t_now = day_start_s + (day_s - t_left[ev]) + dt
        # Count interior blocks in the consumed work, then the event block itself.
        _consume(state, ev, np.where(ev, state.rem, 0.0), blocks, rng, to_event=True)
        t_left[ev] -= dt
        idx = np.flatnonzero(ev)
        first = state.phase[idx] == 0
        # Event: the first block of an epoch.
        if first.any():
            i = idx[first]
            blocks[i] += 1
            state.height[i] += 1
            state.epoch_start_height[i] = state.height[i]
            state.epoch_first_time[i] = t_now[first]
            state.phase[i] = 1
            state.rem[i] = rng.gamma(interval - 1, 1.0, size=i.size)
            state.span_left[i] = state.rem[i]
            state.interior_left[i] = interval - 2
        # Event: the last block of an epoch -> retarget with Core's arithmetic.
        last = ~first
        if last.any():
            i = idx[last]
            blocks[i] += 1
            state.height[i] += 1
            t_last = t_now[last]
            first_t = state.epoch_first_time[i]
            # Block timestamps are whole seconds: round both ends from the same origin.
            span = np.floor(t_last) - np.floor(first_t)
            old_bits = state.bits[i]
            new_bits = np.empty_like(old_bits)
            for k, (b, s) in enumerate(zip(old_bits.tolist(), span.tolist(), strict=True)):
                new_bits[k] = retarget(b, 0, int(s), state.params)
            log = state.log
            log.path.append(i.copy())
            log.epoch.append(state.epoch_start_height[i] // interval)
            log.first_time_s.append(first_t.copy())
            log.duration_s.append(span)
            log.bits.append(old_bits.copy())
            log.next_bits.append(new_bits)
            state.bits[i] = new_bits
            state.difficulty[i] = [_difficulty(int(b)) for b in new_bits.tolist()]
            state.phase[i] = 0
            state.epoch_first_time[i] = np.nan
            state.rem[i] = rng.exponential(1.0, size=i.size)
            state.span_left[i] = 0.0
            state.interior_left[i] = 0
    else:  # pragma: no cover - only with absurd hashrate jumps
        raise RuntimeError("too many epochs within one day")
    return blocks


def _consume(
    state: NetworkState, mask: np.ndarray, work: np.ndarray, blocks: np.ndarray,
    rng: np.random.Generator, *, to_event: bool = False,
) -> None:
    """Advance the work clock of ``mask`` paths by ``work`` units, counting interior blocks."""
    i = np.flatnonzero(mask)
    w = work[i]
    state.rem[i] -= w
    in_span = state.phase[i] == 1
    if in_span.any():
        j = i[in_span]
        wj = w[in_span]
        n = state.interior_left[j]
        if to_event:
            found = n  # reaching the last block passes every interior block
        else:
            frac = np.clip(wj / np.maximum(state.span_left[j], 1e-300), 0.0, 1.0)
            found = rng.binomial(n, frac)
        blocks[j] += found
        state.height[j] += found
        state.interior_left[j] = n - found
        state.span_left[j] -= wj
    if to_event:
        state.rem[i] = 0.0


def bits_to_difficulty(bits: np.ndarray) -> np.ndarray:
    """Difficulty [dimensionless] of each compact bits value."""
    return np.array([_difficulty(int(b)) for b in np.asarray(bits).tolist()])


def encode_difficulty(difficulty: float) -> int:
    """Compact bits nearest below a difficulty [dimensionless] (for scenario starts)."""
    return target_to_compact(int(_DIFF1 / difficulty))
