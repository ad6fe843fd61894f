"""How the engine's time grows with paths, horizon and region-classes (issue 16), one core.

- paths 100 … 10 000 (China 2021, 1 year);
- horizon 1 … 5 years (China 2021, 1 000 paths);
- region-classes 10 … 504 (1 000 paths, 1 year): the China 2021 inputs with their regions
  repeated (shares renormalised, same tariffs, distances and events) and 2 … 7 efficiency
  classes between 98 and 13.5 J/TH, all on sale;
each with the exponent of a least-squares fit of log time on log size (1: linear). Times are
CPU times of the run (best of 2, one core): on a machine others use, wall times of short runs
mostly measure the others.

Goal: a 5-year, 10 000-path run fits in memory: its peak resident memory, measured in a child
that runs only it, stays within the 300 MB asked of the 2-year run (results are reduced as the
days go, so the horizon should not matter).
"""

from __future__ import annotations

import json

import numpy as np
from _goals import goal, run_child

PEAK_GOAL_MB = 300.0

CHILD = r"""
import dataclasses, json, resource, sys, time
import numpy as np
from hashshift.sim.engine import resolve, run
from hashshift.sim.examples import load_example
from hashshift.sim.fleet import ClassSet

def china(days):
    sc = load_example("china_2021")
    return sc.model_copy(update={"scenario": sc.scenario.model_copy(
        update={"horizon_days": days})})

def widened(inp, regions, classes):
    # the inputs with `regions` regions (the originals repeated) and `classes` classes
    idx = np.arange(regions) % len(inp.regions)
    shares = inp.shares[idx] / inp.shares[idx].sum()
    eff = np.geomspace(98.0, 13.5, classes)
    cs = ClassSet(tuple(f"class {i}" for i in range(classes)), eff, (None,) * classes,
                  np.full(classes, 1.0 / classes))
    samples = None
    if inp.share_samples is not None:
        samples = inp.share_samples[:, idx]
        samples = samples / samples.sum(axis=1, keepdims=True)
    return dataclasses.replace(
        inp, regions=[inp.regions[i] for i in idx], shares=shares, classes=cs,
        price_usd_kwh=inp.price_usd_kwh[idx], risk=inp.risk[idx],
        intensity_g_kwh=inp.intensity_g_kwh[:, idx], capacity_mw=inp.capacity_mw[idx],
        growth_mw_month=inp.growth_mw_month[idx],
        distance_km=inp.distance_km[np.ix_(idx, idx)], share_samples=samples)

def best(sc, inp, paths, repeats=2):
    out = float("inf")
    for _ in range(repeats):
        t0 = time.process_time()
        run(sc, inputs=inp, paths=paths)
        out = min(out, time.process_time() - t0)
    return out

what = sys.argv[1]
res = {}
if what == "sweeps":
    sc = china(365)
    inp = resolve(sc)
    run(sc, inputs=inp, paths=50)  # warm-up
    res["paths"] = [(p, best(sc, inp, p)) for p in (100, 300, 1000, 3000, 10000)]
    res["years"] = []
    for years in (1, 2, 3, 4, 5):
        s = china(365 * years)
        res["years"].append((years, best(s, resolve(s), 1000)))
    res["region_classes"] = []
    for r, c in ((5, 2), (18, 4), (36, 7), (72, 7)):
        res["region_classes"].append((r * c, best(sc, widened(inp, r, c), 1000)))
else:  # peak memory of one 5-year, 10 000-path run
    sc = china(5 * 365)
    inp = resolve(sc)
    res["before_mb"] = int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
    t0 = time.process_time()
    run(sc, inputs=inp, paths=10000)
    res["s"] = time.process_time() - t0
    hwm = next(ln for ln in open("/proc/self/status") if ln.startswith("VmHWM"))
    res["peak_mb"] = int(hwm.split()[1]) / 1024  # this process's own peak (not ru_maxrss)
print(json.dumps(res))
"""


def exponent(points: list[list[float]]) -> float:
    """Slope of log time on log size."""
    x, y = np.log([p[0] for p in points]), np.log([p[1] for p in points])
    return float(np.polyfit(x, y, 1)[0])


def main() -> bool:
    res = json.loads(run_child(CHILD, "sweeps"))
    for key, label, unit in (("paths", "paths (1 year)", "paths"),
                             ("years", "horizon (1 000 paths)", "years"),
                             ("region_classes", "region-classes (1 000 paths, 1 year)",
                              "region-classes")):
        pts = res[key]
        print(f"  engine CPU time against {label}: "
              + ", ".join(f"{int(n):,} {unit} {t:.2f} s" for n, t in pts)
              + f"; fitted exponent {exponent(pts):.2f}")
    big = json.loads(run_child(CHILD, "peak"))
    print(f"  10 000 paths × 5 years: {big['s']:.1f} s of CPU, resident before the run "
          f"{big['before_mb']:.0f} MB")
    return goal("5-year, 10 000-path run fits in memory", f"peak {big['peak_mb']:.0f} MB",
                big["peak_mb"] / PEAK_GOAL_MB, f"≤ 1 (≤ {PEAK_GOAL_MB:.0f} MB)",
                big["peak_mb"] <= PEAK_GOAL_MB)


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
