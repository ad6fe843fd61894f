"""Sweep schedulers: the same 200 scenarios × 200 paths on local, processes and dask.

The spec is the shipped ``china_lhs`` sweep (migration delay × underground share × price
volatility, Latin hypercube) with n = 200 samples, 200 paths per task and a 180-day horizon.
Each scheduler starts from an empty work folder, in this order, in one run:

- ``local``: in the driver's process, one task after the other;
- ``processes``: a spawned process pool of 2 workers;
- ``dask``: a ``LocalCluster`` of 2 worker processes (1 thread each) started by the sweep.

Reported per scheduler: wall time of the whole ``run_sweep`` call (start-up, tasks, collecting
the parts), the start-up alone, the sum of the tasks' own times measured inside the workers,
the speed-up over ``local`` (wall / wall), and the scheduler overhead per task,
``(workers × run time − Σ task time) / tasks``, where the run time is from the first
submission to the last result (start-up excluded). The three result tables must be identical.

Goals: speed-up ≥ 1.7× on 2 cores for processes and for dask; dask overhead ≤ 20 ms per task.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path

from _goals import goal

from hashshift import sweep as sw

N_TASKS = int(os.environ.get("BENCH_SWEEP_TASKS", "200"))
PATHS = int(os.environ.get("BENCH_SWEEP_PATHS", "200"))
HORIZON_DAYS = 180
WORKERS = 2
GOAL_SPEEDUP = 1.7
GOAL_OVERHEAD_S = 0.020


def bench_spec() -> str:
    text = sw.shipped_sweeps()["china_lhs"].read_text(encoding="utf-8")
    text = re.sub(r"(?m)^name = .*$", 'name = "bench_sweep"', text, count=1)
    text = re.sub(r"(?m)^paths = \d+$", f"paths = {PATHS}", text, count=1)
    text = re.sub(r"(?m)^n = \d+$", f"n = {N_TASKS}", text, count=1)
    return re.sub(r"(?m)^scenario\.horizon_days = \d+$",
                  f"scenario.horizon_days = {HORIZON_DAYS}", text, count=1)


def _jiffies() -> tuple[int, int] | None:
    """(total, idle) CPU jiffies of the machine so far (Linux), to see competing load."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            vals = [int(v) for v in fh.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    return sum(vals), vals[3] + vals[4]


def local_cpu_speedup(results: dict[str, sw.SweepResult], name: str) -> float:
    """Speed-up over local had every task run at its CPU time (no competing processes):
    local's CPU time / (the pool's CPU time / workers + its overhead and start-up)."""
    loc, s = results["local"].stats, results[name].stats
    n = max(s.computed, 1)
    pool = s.task_cpu_s / s.workers + n * max(s.overhead_per_task_s, 0.0) / s.workers \
        + s.startup_s
    return loc.task_cpu_s / pool


def main() -> bool:
    plan = sw.parse_sweep(bench_spec(), "bench_sweep (china_lhs)",
                          max_tasks=max(N_TASKS, sw.DEFAULT_MAX_TASKS))
    ncpu = os.cpu_count() or 1
    print(f"{len(plan.tasks)} tasks × {PATHS} paths, {HORIZON_DAYS}-day horizon (china_lhs); "
          f"{ncpu} cores; pools of {WORKERS} workers")
    results: dict[str, sw.SweepResult] = {}
    with tempfile.TemporaryDirectory(prefix="bench_sweep_") as tmp:
        for scheduler in ("local", "processes", "dask"):
            load = os.getloadavg()[0]
            if load > 0.5:
                print(f"  note: 1-minute load average {load:.1f} before the {scheduler} run: "
                      "other processes compete for the cores, so wall times are inflated")
            t0, c0, j0 = time.perf_counter(), time.process_time(), _jiffies()
            res = sw.run_sweep(plan, scheduler=scheduler,
                               workers=None if scheduler == "local" else WORKERS,
                               work_dir=Path(tmp) / scheduler, ingest_results=False)
            wall = time.perf_counter() - t0
            driver_cpu, j1 = time.process_time() - c0, _jiffies()
            res.stats.wall_s = wall
            results[scheduler] = res
            s = res.stats
            if res.failures:
                print(f"  {scheduler}: {len(res.failures)} task(s) failed, e.g. "
                      f"{res.failures[0].describe()}")
            n = max(s.computed, 1)
            print(f"{scheduler:>9}: wall {wall:7.1f} s  (start-up {s.startup_s:5.2f} s, run "
                  f"{s.run_s:7.1f} s; per task {s.task_s / n:.3f} s, of it CPU "
                  f"{s.task_cpu_s / n:.3f} s = {s.task_cpu_s / s.task_s:.0%})", flush=True)
            if j0 is not None and j1 is not None and j1[0] > j0[0]:
                busy = (1.0 - (j1[1] - j0[1]) / (j1[0] - j0[0])) * ncpu
                tasks = s.task_cpu_s / wall
                drv = (driver_cpu - (s.task_cpu_s if scheduler == "local" else 0.0)) / wall
                print(f"{'':>11}cores busy on average {busy:.2f} of {ncpu}: this sweep's tasks "
                      f"{tasks:.2f}, its driver {drv:.2f}, everything else (other processes, "
                      f"Dask's scheduler and nannies) {max(busy - tasks - drv, 0.0):.2f}")
    local = results["local"].stats.wall_s
    ok = True
    base = results["local"].tidy[["task", "metric", "value"]].reset_index(drop=True)
    for name in ("processes", "dask"):
        other = results[name].tidy[["task", "metric", "value"]].reset_index(drop=True)
        same = base.equals(other)
        ok &= goal(f"sweep on {name}: results identical to local", str(same), float(same),
                   "1 (identical)", same)
    print("speed-up over local and scheduler overhead per task "
          "((workers × run − Σ task) / tasks):")
    for name in ("local", "processes", "dask"):
        s = results[name].stats
        speed = local / s.wall_s
        over = s.overhead_per_task_s
        print(f"{name:>9}: {speed:5.2f}×   overhead {over * 1e3:6.1f} ms/task   "
              f"(start-up {s.startup_s * 1e3 / max(s.computed, 1):5.1f} ms/task amortised)")
        if name != "local":
            ok &= goal(f"sweep speed-up on {name} over local", f"{s.wall_s:.1f} s vs "
                       f"{local:.1f} s", speed, f">= {GOAL_SPEEDUP}", speed >= GOAL_SPEEDUP)
    dask_over = results["dask"].stats.overhead_per_task_s
    ok &= goal("Dask overhead per task", f"{dask_over * 1e3:.1f} ms",
               dask_over / GOAL_OVERHEAD_S, f"<= 1 (<= {GOAL_OVERHEAD_S * 1e3:.0f} ms)",
               dask_over <= GOAL_OVERHEAD_S)
    print(f"goals: speed-up >= {GOAL_SPEEDUP}x for processes and dask "
          f"({local / results['processes'].stats.wall_s:.2f}x, "
          f"{local / results['dask'].stats.wall_s:.2f}x); dask overhead <= "
          f"{GOAL_OVERHEAD_S * 1e3:.0f} ms/task ({dask_over * 1e3:.1f} ms)")
    cpu = {k: r.stats.task_cpu_s / max(r.stats.computed, 1) for k, r in results.items()}
    share = {k: r.stats.task_cpu_s / r.stats.task_s for k, r in results.items()}
    if min(share.values()) < 0.9:
        est = {k: local_cpu_speedup(results, k) for k in ("processes", "dask")}
        print("the tasks got less than 90 % of a core (CPU share "
              + ", ".join(f"{k} {v:.0%}" for k, v in share.items()) + "): other processes "
              "compete for the cores and the wall times above are inflated. CPU time per task "
              + ", ".join(f"{k} {v:.3f} s" for k, v in cpu.items()) + "; speed-up if the "
              "tasks had had whole cores: "
              + ", ".join(f"{k} {v:.2f}x" for k, v in est.items()))
    sens = results["local"].sensitivity
    top = sens[sens["metric"] == "trough_drop_pct"].head(3)
    print("largest effects on trough_drop_pct: " + "; ".join(
        f"{r.axis} {r.low:.1f} → {r.high:.1f} % (SRC {r.src:+.2f})" for r in top.itertuples()))
    return bool(ok)


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
