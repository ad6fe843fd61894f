"""Profile the engine on the China 2021 scenario (not a benchmark: ``make bench`` skips it).

Usage: python benchmarks/profile_engine.py PATHS [DAYS] [TOP]
Prints wall time, peak memory and the top cProfile entries by own time (tottime).
"""

from __future__ import annotations

import cProfile
import io
import pstats
import sys
import time


def main(argv: list[str]) -> None:
    paths = int(argv[0]) if argv else 1000
    days = int(argv[1]) if len(argv) > 1 else 730
    top = int(argv[2]) if len(argv) > 2 else 25
    t0 = time.perf_counter()
    from hashshift.sim.engine import resolve, run
    from hashshift.sim.examples import load_example

    t_import = time.perf_counter() - t0
    sc = load_example("china_2021")
    sc = sc.model_copy(update={"scenario": sc.scenario.model_copy(
        update={"horizon_days": days})})
    t0 = time.perf_counter()
    inp = resolve(sc)
    t_resolve = time.perf_counter() - t0
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    run(sc, inputs=inp, paths=paths)
    prof.disable()
    t_run = time.perf_counter() - t0
    hwm = next(ln for ln in open("/proc/self/status") if ln.startswith("VmHWM"))
    peak = int(hwm.split()[1]) / 1024  # this process's own peak
    print(f"{paths} paths x {days} days: imports {t_import:.2f} s, resolve {t_resolve:.2f} s, "
          f"run {t_run:.2f} s (under cProfile), peak {peak:,.0f} MB")
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    print(out.getvalue())


if __name__ == "__main__":
    main(sys.argv[1:])
