"""Header validation speed: full rules vs plain double SHA-256 of the same bytes, same run.

Goals (issue 16; issue 2 asked 150 000/s and 4x): >= 500 000 headers/s on one core, within
1.5x of plain hashing (best of ``REPEATS`` each).
"""

from __future__ import annotations

import hashlib
import time

from _goals import goal

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
    ok = goal("header validation rate", f"{rate:,.0f} headers/s", rate / 500_000,
              ">= 1 (>= 500,000 headers/s)", rate >= 500_000)
    ok &= goal("header validation vs plain double SHA-256", f"{t_val * 1e3:.0f} ms vs "
               f"{t_sha * 1e3:.0f} ms", ratio, "<= 1.5", ratio <= 1.5)
    return ok


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
