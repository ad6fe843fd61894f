"""How long people wait for the command line (issue 16): ``hashshift --help`` and
``hashshift history --rows 3``, each a fresh process (best of ``REPEATS``), against the start-up
of a bare ``python -c pass`` measured in the same run.

Goal: each ≤ 0.4 s. The modules each command imports are listed (``-X importtime``) when a goal
is missed, heaviest first.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from _goals import goal

REPEATS = 7
GOAL_S = 0.4
COMMANDS = (["--help"], ["history", "--rows", "3"])


def _wall(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=env)
    return time.perf_counter() - t0


def _heaviest(args: list[str], env: dict[str, str], top: int = 8) -> str:
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "hashshift", *args],
                         capture_output=True, text=True, env=env).stderr
    rows = []
    for line in out.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \|\s+(\S+)", line)
        if m and "." not in m.group(2):
            rows.append((int(m.group(1)), m.group(2)))
    rows.sort(reverse=True)
    return ", ".join(f"{name} {us / 1e6:.2f} s" for us, name in rows[:top])


def main() -> bool:
    env = dict(os.environ)
    env.setdefault("HASHSHIFT_HOME", str(Path.home() / ".cache" / "hashshift-bench-cli"))
    exe = [sys.executable, "-m", "hashshift"]
    bare = min(_wall([sys.executable, "-c", "pass"], env) for _ in range(REPEATS))
    print(f"  bare interpreter start-up: {bare:.3f} s")
    ok = True
    for args in COMMANDS:
        _wall(exe + args, env)  # warm the file cache
        t = min(_wall(exe + args, env) for _ in range(REPEATS))
        name = "hashshift " + " ".join(args)
        met = goal(name, f"{t:.3f} s ({t / bare:.1f}× a bare interpreter)", t / GOAL_S,
                   f"≤ 1 (≤ {GOAL_S} s)", t <= GOAL_S)
        if not met:
            print(f"    top-level imports: {_heaviest(args, env)}")
        ok &= met
    return ok


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
