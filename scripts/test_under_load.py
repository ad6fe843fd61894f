"""Run the whole pytest suite several times while every core is kept busy, and count failures.

Usage: python scripts/test_under_load.py [--runs 3] [--burners N] [--out FILE] [-- PYTEST ARGS]

A busy laptop is what users run the suite on: ``--burners`` processes (default: one per core)
spin in a busy loop at normal priority for as long as the runs last. Each run is a fresh
``pytest`` process with ``HASHSHIFT_REQUIRE_SHARED=1`` and ``HASHSHIFT_REQUIRE_BROWSER=1`` (a
missing reference file or Chromium is a failure, not a skip) and its own JUnit XML report. Per
run the script records passed / failed / errors / skipped, the failing test IDs, the wall time,
the load average and the CPU share the burners actually got (from /proc, so a run that was not
under load is visible as such). It prints a table, writes the figures as JSON (``--out``,
default ``out/test_under_load.json``) and exits 1 when any run had a failure or an error.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUSY_LOOP = "while True:\n    pass\n"


@dataclass
class RunFigures:
    run: int
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    wall_s: float = 0.0
    exit_code: int = 0
    load_avg_1min: list[float] = field(default_factory=list)
    burner_cpu_share: float = 0.0  # CPU seconds the burners got / (wall seconds x burners)
    failures: list[str] = field(default_factory=list)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process [s] (Linux /proc), 0 when unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_burners(n: int) -> list[subprocess.Popen[bytes]]:
    return [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(n)]


def stop_burners(burners: list[subprocess.Popen[bytes]]) -> None:
    for p in burners:
        p.terminate()
    for p in burners:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def parse_junit(path: Path) -> tuple[dict[str, int], list[str]]:
    """Counts (passed, failed, errors, skipped) and the IDs of failed or erroring tests."""
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    failures: list[str] = []
    for case in ET.parse(path).getroot().iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        kinds = {child.tag for child in case}
        if "failure" in kinds:
            counts["failed"] += 1
            failures.append(f"FAILED {name}")
        elif "error" in kinds:
            counts["errors"] += 1
            failures.append(f"ERROR {name}")
        elif "skipped" in kinds:
            counts["skipped"] += 1
        else:
            counts["passed"] += 1
    return counts, failures


def one_run(index: int, burners: list[subprocess.Popen[bytes]], pytest_args: list[str],
            report_dir: Path) -> RunFigures:
    junit = report_dir / f"run-{index}.xml"
    env = {**os.environ, "HASHSHIFT_REQUIRE_SHARED": "1", "HASHSHIFT_REQUIRE_BROWSER": "1"}
    cpu0 = sum(cpu_seconds(p.pid) for p in burners)
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             f"--junitxml={junit}", *pytest_args], cwd=ROOT, env=env)
    loads: list[float] = []
    while proc.poll() is None:  # sample the load while the suite runs
        loads.append(round(os.getloadavg()[0], 2))
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            pass
    wall = time.monotonic() - t0
    figures = RunFigures(run=index, wall_s=round(wall, 1), exit_code=proc.returncode,
                         load_avg_1min=loads)
    if burners:
        got = sum(cpu_seconds(p.pid) for p in burners) - cpu0
        figures.burner_cpu_share = round(got / (wall * len(burners)), 3)
    if junit.exists():
        counts, figures.failures = parse_junit(junit)
        for k, v in counts.items():
            setattr(figures, k, v)
    elif proc.returncode != 0:
        figures.errors = 1
        figures.failures = [f"pytest exited with {proc.returncode} and wrote no report"]
    return figures


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--burners", type=int, default=os.cpu_count() or 1,
                    help="busy-loop processes (default: one per core); 0 for no load")
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "test_under_load.json")
    ap.add_argument("pytest_args", nargs="*", help="after --: passed to pytest")
    args = ap.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report_dir = args.out.parent / "test_under_load"
    report_dir.mkdir(exist_ok=True)
    started = datetime.now(UTC)
    burners = start_burners(args.burners)
    runs: list[RunFigures] = []
    try:
        for i in range(1, args.runs + 1):
            print(f"--- run {i}/{args.runs} under {args.burners} busy-loop process(es)",
                  flush=True)
            runs.append(one_run(i, burners, args.pytest_args, report_dir))
    finally:
        stop_burners(burners)
    print(f"\n{'run':>3} {'passed':>7} {'failed':>6} {'errors':>6} {'skipped':>7} "
          f"{'wall s':>7} {'load max':>8} {'burner CPU':>10}")
    for r in runs:
        print(f"{r.run:>3} {r.passed:>7} {r.failed:>6} {r.errors:>6} {r.skipped:>7} "
              f"{r.wall_s:>7.0f} {max(r.load_avg_1min, default=0):>8.2f} "
              f"{r.burner_cpu_share:>10.0%}")
        for f in r.failures:
            print(f"    {f}")
    record = {"started": started.isoformat(timespec="seconds"), "cores": os.cpu_count(),
              "burners": args.burners, "pytest_args": args.pytest_args,
              "runs": [asdict(r) for r in runs]}
    args.out.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    bad = sum(r.failed + r.errors for r in runs)
    print(f"\n{bad} failure(s) in {len(runs)} loaded run(s); figures in {args.out}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
