"""Network block process: the fast engine vs the per-block reference, same scenario, same run.

Scenario (as tests/test_sim_network.py): mainnet height 685 445, bits 0x170ffa1e, the epoch's
first block 1 h before time 0; 150 EH/s for 20 days, then 75 EH/s for 40 days (about 7 300
blocks and three retargets per path).

Goal (network engine): per path-year, the fast engine (hashshift.sim.network) is >= 1 000x faster
than the per-block oracle (hashshift.sim.reference).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from _goals import goal

from hashshift.sim import network, reference

HEIGHT = 685_445
BITS = 0x170FFA1E
EPOCH_FIRST_S = -3600.0
DAY_S = 86_400.0
HASHRATE = np.r_[np.full(20, 150.0), np.full(40, 75.0)]  # [EH/s] per day
YEARS = HASHRATE.size * DAY_S / (365.25 * DAY_S)  # [years] per path
REF_PATHS = 10
FAST_PATHS = (1_000, 10_000)
REPEATS = 3
GOAL = 1_000.0


def _best(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def run_reference(paths: int, seed: int = 1) -> reference.ReferenceResult:
    return reference.simulate_paths(paths, HEIGHT, BITS, EPOCH_FIRST_S, HASHRATE, seed)


def run_fast(paths: int, seed: int = 1) -> network.NetworkState:
    rng = np.random.default_rng(seed)
    state = network.start_network(paths, HEIGHT, BITS, EPOCH_FIRST_S, rng)
    for day, h in enumerate(HASHRATE):
        network.advance_day(state, day * DAY_S, np.full(paths, h), rng)
    return state


def _retarget_share(paths: int) -> float:
    """Share of the fast engine's time spent in its per-path calls to Core's retarget
    (a diagnostic: wraps ``network.retarget`` for one extra run, then restores it)."""
    original = network.retarget
    spent = [0.0]

    def timed(*args: object) -> int:
        t0 = time.perf_counter()
        out = original(*args)  # type: ignore[arg-type]
        spent[0] += time.perf_counter() - t0
        return out

    network.retarget = timed  # type: ignore[assignment]
    try:
        t0 = time.perf_counter()
        run_fast(paths)
        total = time.perf_counter() - t0
    finally:
        network.retarget = original
    return spent[0] / total


def main() -> bool:
    blocks = int(run_reference(1).height[0] - HEIGHT)
    print(f"scenario: {HASHRATE.size} days ({YEARS:.3f} years), 150 -> 75 EH/s on day 20, "
          f"~{blocks:,} blocks per path")
    t_ref = _best(lambda: run_reference(REF_PATHS), repeats=2 * REPEATS)
    ref_rate = REF_PATHS * YEARS / t_ref
    print(f"reference (per block, {REF_PATHS} paths): {t_ref * 1e3:8.1f} ms  "
          f"{ref_rate:12,.1f} path-years/s  ({REF_PATHS * blocks / t_ref:,.0f} blocks/s)")
    ratios = []
    for paths in FAST_PATHS:
        t = _best(lambda p=paths: run_fast(p))  # type: ignore[misc]
        rate = paths * YEARS / t
        ratios.append(rate / ref_rate)
        print(f"fast engine ({paths:>6,} paths):         {t * 1e3:8.1f} ms  "
              f"{rate:12,.1f} path-years/s  speed-up per path-year {rate / ref_rate:8,.0f}x")
    share = _retarget_share(FAST_PATHS[-1])
    print(f"  of the fast engine's time ({FAST_PATHS[-1]:,} paths), per-path Core retarget "
          f"calls: {share:.0%}")
    best = max(ratios)
    return goal("block process vs per-block reference, per path-year",
                f"best of {', '.join(f'{p:,}' for p in FAST_PATHS)} paths", best,
                f">= {GOAL:,.0f}", best >= GOAL)


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
