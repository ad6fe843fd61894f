"""Shared by the benchmarks: each goal is printed on one line with its ratio and "met" or
"missed", and remembered so that ``benchmarks/run.py`` can exit non-zero when one is missed.

A ratio is a measurement divided by its baseline from the same run (the floor kernel, plain
hashing, BlockSim …) or by the goal's own bound; ``goal()`` prints both and returns whether the
goal is met.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable

#: (benchmark goal, met) of every goal checked in this process
RESULTS: list[tuple[str, bool]] = []
#: goals that could not be measured here (a tool is missing), with the reason
SKIPPED: list[tuple[str, str]] = []


def goal(name: str, measured: str, ratio: float, bound: str, met: bool) -> bool:
    """Print one goal: ``name``, what was measured, the ratio checked, the bound it must meet."""
    status = "met" if met else "MISSED"
    print(f"  goal  {name}: {measured}; ratio {ratio:,.3g} (goal {bound}) ... {status}",
          flush=True)
    RESULTS.append((name, met))
    return met


def skip(name: str, reason: str) -> None:
    """A goal that cannot be measured on this machine (printed, not counted as met)."""
    print(f"  goal  {name}: not measured ({reason}) ... SKIPPED", flush=True)
    SKIPPED.append((name, reason))


def best_of(fn: Callable[[], object], repeats: int) -> float:
    """The shortest wall time [s] of ``repeats`` calls."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def one_core_env() -> dict[str, str]:
    """Environment of a child measured on one core: BLAS and OpenMP with one thread."""
    env = dict(os.environ)
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def run_child(code: str, *args: str, one_core: bool = True, timeout: float = 1800) -> str:
    """Run ``python -c code args`` (pinned to the last CPU when ``one_core``); its stdout."""
    cmd = [sys.executable, "-c", code, *args]
    env = one_core_env() if one_core else dict(os.environ)
    pin = None
    if one_core and hasattr(os, "sched_setaffinity"):
        cpu = max(os.sched_getaffinity(0))

        def pin() -> None:
            os.sched_setaffinity(0, {cpu})
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env,
                         timeout=timeout, preexec_fn=pin)
    return out.stdout
