"""The oracle for the network engine: every block of one path, drawn one at a time.

A deliberately simple per-block simulator, written as a plain Python loop so that it can be read
against the model it implements and trusted without cleverness. It is slow by design: the fast
engine, :mod:`hashshift.sim.network`, draws the same process in O(epochs + days) and is tested
against this module *in distribution* (``tests/test_sim_network.py``).

The model (docs/engine.md, "Each day, for all paths at once"; docs/consensus.md):

- blocks arrive as a Poisson process of rate ``H(t) / (D · 2**32)`` [blocks/s], with ``H`` the
  network hashrate [H/s], constant within each day, and ``D`` the difficulty [dimensionless] of
  the current bits, ``D = 0xffff · 2**208 / target`` (difficulty 1 is the target of compact
  ``0x1d00ffff``, as Bitcoin Core's ``GetDifficulty`` in ``src/rpc/blockchain.cpp``);
- so each block needs an Exp(1) amount of *work units*, which this module converts to time by
  walking through the day boundaries, spending ``H_day / (D · 2**32)`` work units per second;
- a block's timestamp is its time in whole seconds (the floor of the float time, with the same
  origin as the fast engine: time 0 is the moment the start block was found);
- every 2016 blocks the bits of the next epoch are Bitcoin Core's ``GetNextWorkRequired`` /
  ``CalculateNextWorkRequired`` (``src/pow.cpp``), via
  :func:`hashshift.consensus.next_work_required`, from the timestamps of the epoch's last block
  and of its first block (height − 2015): timespan clamped to [302 400, 4 838 400] s, new target
  = old target × timespan / 1 209 600, capped at the proof-of-work limit, rounded through compact
  bits.

Nothing else: no miners' strategies, no timestamp games (block times are the true times), no
orphans.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..consensus import DIFF1_TARGET, MAINNET, Params, next_work_required, target_from_bits
from ..units import EH, HASHES_PER_DIFFICULTY, SECONDS_PER_DAY

__all__ = ["EpochRecord", "PathResult", "ReferenceResult", "simulate_path", "simulate_paths"]

DAY_S = SECONDS_PER_DAY
EHS = EH
_CHUNK = 4096  # Exp(1) variates drawn per call to the generator (a speed detail only)


@dataclass(frozen=True)
class EpochRecord:
    """One completed epoch of one path.

    Attributes
    ----------
    epoch : int — [epoch] number, height // 2016
    first_time_s : int — [s since start, whole seconds] timestamp of the epoch's first block
    duration_s : int — [s] timestamp of the last block − timestamp of the first (2015 intervals)
    bits : int — [compact] bits of the epoch
    next_bits : int — [compact] bits of the next epoch (Core's retarget)
    """

    epoch: int
    first_time_s: int
    duration_s: int
    bits: int
    next_bits: int


@dataclass(frozen=True)
class PathResult:
    """What one simulated path produced.

    Attributes
    ----------
    blocks_per_day : array, one per day — [blocks] found during each day
    height : int — [block height] of the last block found by the end of the horizon
    bits : int — [compact] bits in force at the end of the horizon
    epochs : tuple of EpochRecord — every epoch completed within the horizon, in order
    block_times_s : array or None — [s since start, float] time of every block found, when
        requested with ``keep_times=True``
    """

    blocks_per_day: np.ndarray
    height: int
    bits: int
    epochs: tuple[EpochRecord, ...]
    block_times_s: np.ndarray | None = None


@dataclass(frozen=True)
class ReferenceResult:
    """Many paths, shaped like the fast engine's output.

    Attributes
    ----------
    blocks_per_day : array, paths × days — [blocks]
    height : array, one per path — [block height] at the end of the horizon
    epochs : dict of arrays — one row per completed epoch of any path, with the columns of
        :meth:`hashshift.sim.network.EpochLog.frame`: ``path``, ``epoch``, ``first_time_s`` [s],
        ``duration_s`` [s], ``bits`` [compact], ``next_bits`` [compact]
    """

    blocks_per_day: np.ndarray
    height: np.ndarray
    epochs: dict[str, np.ndarray]


def _difficulty(bits: int) -> float:
    """Difficulty [dimensionless] of compact bits: ``0xffff · 2**208 / target``."""
    return DIFF1_TARGET / target_from_bits(bits)


def simulate_path(
    height: int,
    bits: int,
    epoch_first_time_s: float,
    hashrate_ehs: Sequence[float] | np.ndarray,
    rng: np.random.Generator,
    params: Params = MAINNET,
    *,
    day_s: float = DAY_S,
    keep_times: bool = False,
) -> PathResult:
    """Simulate one path block by block over ``len(hashrate_ehs)`` days.

    Parameters
    ----------
    height : int — [block height] of the last block found, at time 0; it must not be the last
        block of an epoch (that epoch's retarget would need its first block's time anyway)
    bits : int — [compact] bits of that block's epoch
    epoch_first_time_s : float — [s since start, ≤ 0] time of the current epoch's first block
        (height − height % 2016); its whole-second floor is the timestamp used by the retarget
    hashrate_ehs : array, one per day — [EH/s] network hashrate, constant within each day (> 0);
        day ``k`` runs from ``k · day_s`` to ``(k + 1) · day_s``
    rng : numpy Generator — the only source of randomness
    day_s : float — [s] length of a day
    keep_times : bool — also return every block's time [s]
    """
    interval = params.interval
    if height % interval == interval - 1:
        raise ValueError("start at a height inside an epoch, not at its last block")
    rates_hs = [float(h) * EHS for h in np.asarray(hashrate_ehs, dtype=float).ravel()]
    if not rates_hs or not all(h > 0 for h in rates_hs):
        raise ValueError("hashrate must be positive on every day")
    n_days = len(rates_hs)
    blocks = [0] * n_days
    times: list[float] = []
    epochs: list[EpochRecord] = []

    first_time = math.floor(epoch_first_time_s)  # [s] timestamp of the epoch's first block
    difficulty = _difficulty(bits)
    t = 0.0  # [s] time of the last block found
    day = 0
    day_end = day_s
    rate = rates_hs[0] / (difficulty * HASHES_PER_DIFFICULTY)  # [work units/s] = [blocks/s]
    draws: list[float] = []
    k = 0
    while True:
        # The next block needs an Exp(1) amount of work.
        if k == len(draws):
            draws = rng.standard_exponential(_CHUNK).tolist()
            k = 0
        work = draws[k]
        k += 1
        # Convert work to time, walking across day boundaries.
        while t + work / rate >= day_end:
            work = max(work - (day_end - t) * rate, 0.0)
            t = day_end
            day += 1
            if day == n_days:
                return PathResult(
                    blocks_per_day=np.array(blocks, dtype=np.int64), height=height, bits=bits,
                    epochs=tuple(epochs),
                    block_times_s=np.array(times) if keep_times else None,
                )
            day_end = (day + 1) * day_s
            rate = rates_hs[day] / (difficulty * HASHES_PER_DIFFICULTY)
        t += work / rate
        height += 1
        blocks[day] += 1
        if keep_times:
            times.append(t)
        stamp = math.floor(t)  # [s] the block's timestamp, whole seconds
        if height % interval == 0:
            first_time = stamp
        if (height + 1) % interval == 0:
            # Last block of the epoch: Core's GetNextWorkRequired for the block after it.
            new_bits = next_work_required(height, bits, stamp, first_time, params)
            epochs.append(EpochRecord(
                epoch=height // interval, first_time_s=first_time,
                duration_s=stamp - first_time, bits=bits, next_bits=new_bits,
            ))
            bits = new_bits
            difficulty = _difficulty(bits)
            rate = rates_hs[day] / (difficulty * HASHES_PER_DIFFICULTY)


def simulate_paths(
    n_paths: int,
    height: int,
    bits: int,
    epoch_first_time_s: float,
    hashrate_ehs: Sequence[float] | np.ndarray,
    seed: int | np.random.SeedSequence,
    params: Params = MAINNET,
    *,
    day_s: float = DAY_S,
) -> ReferenceResult:
    """:func:`simulate_path` for ``n_paths`` independent paths, path ``i`` drawing from the
    ``i``-th generator of ``np.random.SeedSequence(seed).spawn(n_paths)``.

    Parameters
    ----------
    n_paths : int — number of paths
    hashrate_ehs : array, one per day or paths × days — [EH/s] one path shared by all, or one each
    seed : int or SeedSequence — same seed, same result
    (the other parameters as :func:`simulate_path`)
    """
    hr = np.asarray(hashrate_ehs, dtype=float)
    if hr.ndim == 1:
        hr = np.broadcast_to(hr, (n_paths, hr.shape[0]))
    if hr.shape[0] != n_paths:
        raise ValueError(f"hashrate has {hr.shape[0]} paths, expected {n_paths}")
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    children = ss.spawn(n_paths)
    blocks = np.zeros(hr.shape, dtype=np.int64)
    heights = np.zeros(n_paths, dtype=np.int64)
    rows: list[tuple[int, int, int, int, int, int]] = []
    for i, child in enumerate(children):
        res = simulate_path(height, bits, epoch_first_time_s, hr[i], np.random.default_rng(child),
                            params, day_s=day_s)
        blocks[i] = res.blocks_per_day
        heights[i] = res.height
        rows.extend((i, e.epoch, e.first_time_s, e.duration_s, e.bits, e.next_bits)
                    for e in res.epochs)
    cols = ("path", "epoch", "first_time_s", "duration_s", "bits", "next_bits")
    table = np.array(rows, dtype=np.int64).reshape(len(rows), len(cols))
    epochs = {c: table[:, j].copy() for j, c in enumerate(cols)}
    return ReferenceResult(blocks_per_day=blocks, height=heights, epochs=epochs)
