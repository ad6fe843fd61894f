"""The scenario engine on the China 2021 scenario, 2-year horizon, daily steps.

Goals (issue 5): 1 000 paths <= 2 s and 10 000 paths <= 20 s on one core; the per-block reference
simulator (10 paths, network only, driven by the engine's median hashrate path) in the same run,
ratio per path-year >= 1 000x; peak memory for 10 000 paths <= 2 GB (measured in a subprocess).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np

from hashshift.sim.engine import resolve, run
from hashshift.sim.examples import load_example
from hashshift.sim.reference import simulate_paths

HORIZON = 730

CHILD = r"""
import json, resource, sys, time
from hashshift.sim.examples import load_example
from hashshift.sim.engine import resolve, run
sc = load_example("china_2021")
meta = sc.scenario.model_copy(update={"horizon_days": HORIZON_DAYS})
sc = sc.model_copy(update={"scenario": meta})
inp = resolve(sc)
t0 = time.perf_counter()
run(sc, inputs=inp, paths=int(sys.argv[1]))
print(json.dumps({"s": time.perf_counter() - t0,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
""".replace("HORIZON_DAYS", str(HORIZON))


def main() -> bool:
    sc = load_example("china_2021")
    sc = sc.model_copy(update={"scenario": sc.scenario.model_copy(
        update={"horizon_days": HORIZON})})
    inp = resolve(sc)
    years = HORIZON / 365.25
    print(f"China 2021 scenario: {len(inp.regions)} regions x {len(inp.classes.names)} classes, "
          f"{HORIZON} days")
    run(sc, inputs=inp, paths=50)  # warm-up (imports, caches)
    t0 = time.perf_counter()
    res = run(sc, inputs=inp, paths=1_000)
    t1000 = time.perf_counter() - t0
    child = subprocess.run([sys.executable, "-c", CHILD, "10000"], check=True,
                           capture_output=True, text=True)
    r10k = json.loads(child.stdout)
    h = res.world("hashrate_ehs")["q50"].to_numpy()
    t0 = time.perf_counter()
    simulate_paths(10, inp.height, inp.bits, inp.epoch_first_time_s, np.maximum(h, 1e-3), seed=1)
    t_ref = time.perf_counter() - t0
    fast_py = 1_000 * years / t1000
    ref_py = 10 * years / t_ref
    print(f"engine   1 000 paths: {t1000:6.2f} s  ({fast_py:,.0f} path-years/s)  goal <= 2 s")
    print(f"engine  10 000 paths: {r10k['s']:6.2f} s  ({10_000 * years / r10k['s']:,.0f} "
          f"path-years/s)  goal <= 20 s; peak memory {r10k['peak_mb']:,.0f} MB (goal <= 2 GB)")
    print(f"reference per-block, 10 paths (network only): {t_ref:6.2f} s "
          f"({ref_py:,.1f} path-years/s)")
    ratio = fast_py / ref_py
    print(f"speed ratio per path-year, full engine vs per-block network alone: {ratio:,.0f}x "
          f"(goal >= 1 000x)")
    return t1000 <= 2 and r10k["s"] <= 20 and r10k["peak_mb"] <= 2048 and ratio >= 1000


if __name__ == "__main__":
    main()
