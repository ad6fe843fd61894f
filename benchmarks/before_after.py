"""The engine before and after a change, measured side by side (not a benchmark: ``make bench``
skips it; docs/benchmarks.md quotes its output).

Usage: python benchmarks/before_after.py REV [REPEATS]

``REV``'s ``src/`` (``git archive``) and this checkout's are each run in child processes pinned to
one core (BLAS with one thread), alternately, ``REPEATS`` times (default 2): the China 2021
scenario at 10 000 paths × 730 days and 1 000 paths × 365 days, wall and CPU time of the run
(inputs resolved before it) and the child's peak resident memory. Prints the best of each and
the ratio before / after, measured in this one invocation.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _goals import one_core_env  # noqa: E402

CHILD = r"""
import json, resource, sys, time
from hashshift.sim.engine import resolve, run
from hashshift.sim.examples import load_example
paths, days = int(sys.argv[1]), int(sys.argv[2])
sc = load_example("china_2021")
sc = sc.model_copy(update={"scenario": sc.scenario.model_copy(update={"horizon_days": days})})
inp = resolve(sc)
run(sc, inputs=inp, paths=50)  # warm-up
t0, c0 = time.perf_counter(), time.process_time()
run(sc, inputs=inp, paths=paths)
hwm = next(ln for ln in open("/proc/self/status") if ln.startswith("VmHWM"))
print(json.dumps({"s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
                  "peak_mb": int(hwm.split()[1]) / 1024}))  # own peak, not ru_maxrss
"""


def child(src: str, paths: int, days: int) -> dict[str, float]:
    env = one_core_env()
    env["PYTHONPATH"] = src
    cpu = max(os.sched_getaffinity(0))
    out = subprocess.run([sys.executable, "-c", CHILD, str(paths), str(days)], check=True,
                         capture_output=True, text=True, env=env, timeout=3600,
                         preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> None:
    rev = argv[0]
    repeats = int(argv[1]) if len(argv) > 1 else 2
    root = HERE.parent
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(root), "archive", rev, "src"], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        srcs = {"before": str(Path(tmp) / "src"), "after": str(root / "src")}
        print(f"before: {rev}; after: this checkout; load average {os.getloadavg()[0]:.1f} on "
              f"{os.cpu_count()} CPUs")
        for paths, days in ((10_000, 730), (1_000, 365)):
            got: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
            for _ in range(repeats):
                for which, src in srcs.items():
                    got[which].append(child(src, paths, days))
            best = {w: {k: min(r[k] for r in runs) for k in ("s", "cpu_s", "peak_mb")}
                    for w, runs in got.items()}
            b, a = best["before"], best["after"]
            print(f"  {paths:,} paths × {days} days: before {b['s']:.2f} s ({b['cpu_s']:.2f} s "
                  f"CPU), peak {b['peak_mb']:.0f} MB; after {a['s']:.2f} s ({a['cpu_s']:.2f} s "
                  f"CPU), peak {a['peak_mb']:.0f} MB; before / after: time "
                  f"{b['s'] / a['s']:.2f}×, CPU {b['cpu_s'] / a['cpu_s']:.2f}×, memory "
                  f"{b['peak_mb'] / a['peak_mb']:.2f}×", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
