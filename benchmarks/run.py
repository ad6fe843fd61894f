"""Run every benchmark in this folder (``make bench``); each prints its own figures and one line
per goal with its ratio and "met" or "missed". Exits 1 when any goal is missed.

Usage: python benchmarks/run.py [NAME ...]   (NAME: a bench_NAME.py file, e.g. headers)
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _goals  # noqa: E402  (after the path: the benchmarks' shared helpers)


def main(argv: list[str]) -> int:
    names = argv or sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    failed = []
    for name in names:
        path = HERE / f"bench_{name}.py"
        spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
        assert spec and spec.loader
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        print(f"\n=== {name} ===", flush=True)
        if not mod.main():
            failed.append(name)
    print("\n=== summary ===")
    for goal, met in _goals.RESULTS:
        print(f"  {'met   ' if met else 'MISSED'}  {goal}")
    for goal, why in _goals.SKIPPED:
        print(f"  skipped {goal} ({why})")
    missed = [g for g, met in _goals.RESULTS if not met]
    if failed or missed:
        print(f"\nbenchmarks below their goals: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
