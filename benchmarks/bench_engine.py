"""The scenario engine on the China 2021 scenario against its floor (issue 16).

Goals, each measured in a child process pinned to one core (BLAS with one thread):
- 10 000 paths × 2 years: engine time ≤ 1.5 × the floor kernel's (``kernel.py``: the same
  per-day work without bans, migration or deliveries), both timed in the same process,
  alternately, best of ``REPEATS``;
- peak memory of that engine run ≤ 300 MB (a child that runs only it; the resident memory
  before the run, imports and resolved inputs, is printed beside it);
- 1 000 paths × 1 year: ≤ 0.5 s of engine time (wall time, best of 7, after a warm-up; its
  CPU time and its ratio to the kernel printed too).

Wall times on a machine others use are longer than the CPU times: the load average is printed.
"""

from __future__ import annotations

import json

from _goals import goal, run_child

REPEATS = 2
PEAK_GOAL_MB = 300.0

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, "BENCH_DIR")
from kernel import run_kernel
from hashshift.sim.engine import resolve, run
from hashshift.sim.examples import load_example

what, paths, days, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
sc = load_example("china_2021")
sc = sc.model_copy(update={"scenario": sc.scenario.model_copy(update={"horizon_days": days})})
inp = resolve(sc)

def rss_mb():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20

def timed(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    cpu.append(time.process_time() - c0)
    return time.perf_counter() - t0

cpu = []

engine = lambda: run(sc, inputs=inp, paths=paths)
kernel = lambda: run_kernel(inp, paths, sc.scenario.seed)
out = {"regions": len(inp.regions), "classes": len(inp.classes.names)}
if what == "ratio":
    run(sc, inputs=inp, paths=50), run_kernel(inp, 50, 1)  # warm-up
    out["kernel_s"], out["engine_s"], out["kernel_cpu_s"], out["engine_cpu_s"] = [], [], [], []
    for _ in range(repeats):
        out["kernel_s"].append(timed(kernel))
        out["kernel_cpu_s"].append(cpu[-1])
        out["engine_s"].append(timed(engine))
        out["engine_cpu_s"].append(cpu[-1])
else:  # peak memory of one run
    out["before_mb"] = rss_mb()
    out["s"] = timed(engine if what == "engine" else kernel)
    hwm = next(ln for ln in open("/proc/self/status") if ln.startswith("VmHWM"))
    out["peak_mb"] = int(hwm.split()[1]) / 1024  # this process's own peak (not ru_maxrss)
print(json.dumps(out))
"""


def child(what: str, paths: int, days: int, repeats: int = 1) -> dict:  # type: ignore[type-arg]
    from pathlib import Path

    code = CHILD.replace("BENCH_DIR", str(Path(__file__).resolve().parent))
    return json.loads(run_child(code, what, str(paths), str(days), str(repeats)))


def main() -> bool:
    import os

    big = child("ratio", 10_000, 730, REPEATS)
    print(f"China 2021 scenario: {big['regions']} regions × {big['classes']} classes, one core; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    k, e = min(big["kernel_s"]), min(big["engine_s"])
    print(f"  10 000 paths × 730 days: kernel {k:.2f} s, engine {e:.2f} s "
          f"(runs: kernel {', '.join(f'{x:.2f}' for x in big['kernel_s'])}; "
          f"engine {', '.join(f'{x:.2f}' for x in big['engine_s'])}; CPU: kernel "
          f"{min(big['kernel_cpu_s']):.2f} s, engine {min(big['engine_cpu_s']):.2f} s)")
    ok = goal("engine vs floor kernel, 10 000 paths × 2 years", f"{e:.2f} s vs {k:.2f} s",
              e / k, "≤ 1.5", e / k <= 1.5)
    mem = child("engine", 10_000, 730)
    kmem = child("kernel", 10_000, 730)
    print(f"  resident before the run (imports, resolved inputs): {mem['before_mb']:.0f} MB; "
          f"kernel's peak {kmem['peak_mb']:.0f} MB")
    ok &= goal("engine peak memory, 10 000 paths × 2 years",
               f"{mem['peak_mb']:.0f} MB ({mem['peak_mb'] - mem['before_mb']:.0f} MB for the "
               f"run)", mem["peak_mb"] / PEAK_GOAL_MB, f"≤ 1 (≤ {PEAK_GOAL_MB:.0f} MB)",
               mem["peak_mb"] <= PEAK_GOAL_MB)
    small = child("ratio", 1_000, 365, 7)
    k, e = min(small["kernel_s"]), min(small["engine_s"])
    print(f"  1 000 paths × 365 days: kernel {k:.3f} s, engine {e:.3f} s (engine / kernel "
          f"{e / k:.2f}; CPU: kernel {min(small['kernel_cpu_s']):.3f} s, engine "
          f"{min(small['engine_cpu_s']):.3f} s)")
    ok &= goal("engine time, 1 000 paths × 1 year", f"{e:.3f} s", e / 0.5, "≤ 1 (≤ 0.5 s)",
               e <= 0.5)
    return ok


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
