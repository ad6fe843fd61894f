"""Header validation speed: full rules vs plain double SHA-256 of the same bytes, same run.

Goal (issue 2): >= 150 000 headers/s on one core, within 4x of plain hashing.
"""

from __future__ import annotations

import hashlib
import time

from hashshift.consensus import ChainState, validate_headers
from hashshift.testing import REGTEST_STRICT, build_chain

N = 100_000
REPEATS = 5


def _best(fn: object, repeats: int = REPEATS) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> bool:
    t0 = time.perf_counter()
    raw, tip = build_chain(N, REGTEST_STRICT, seed=1)
    print(f"built {N:,} mined headers (regtest pow limit, strict bits rule) "
          f"in {time.perf_counter() - t0:.1f} s")
    genesis = ChainState.genesis(REGTEST_STRICT)

    def validate() -> None:
        assert validate_headers(raw, genesis).height == tip.height

    def plain() -> None:
        mv = memoryview(raw)
        sha = hashlib.sha256
        for i in range(0, len(raw), 80):
            sha(sha(mv[i : i + 80]).digest()).digest()

    t_val = _best(validate)
    t_sha = _best(plain)
    rate = N / t_val
    ratio = t_val / t_sha
    print(f"validate_headers (link, bits, median-time-past, PoW): {rate:,.0f} headers/s")
    print(f"plain double SHA-256 baseline:                       {N / t_sha:,.0f} headers/s")
    print(f"ratio validate / plain hashing: {ratio:.2f}x   (goals: >= 150,000/s and <= 4x)")
    return rate >= 150_000 and ratio <= 4.0


if __name__ == "__main__":
    main()
