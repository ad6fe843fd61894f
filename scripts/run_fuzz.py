"""`make fuzz`: the property tests with many more cases, the kill -9 trials with many more
trials, the slow fault tests, then the atheris harnesses, each time-boxed; prints the counts
(cases tried per target, kill trials, fuzzer executions, crashes) and writes them as JSON.

Usage::

    python scripts/run_fuzz.py [--examples 5000] [--kill-trials 60] [--seconds 120]
                               [--out out/fuzz] [--no-pytest] [--no-atheris]

With the defaults it takes about 20 minutes on 2 cores (pytest about 15, each harness 2).

Exit status: 0 when every test passed and no fuzzer found a crash; 1 otherwise. Crashing
inputs are kept under ``<out>/crashes/`` (reproduce one with ``python fuzz/fuzz_csv.py FILE``).
Without atheris installed (``pip install atheris``; wheels for CPython 3.11 on Linux x86-64) the
harnesses are skipped with a note, and the rest still runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HARNESSES = {"fuzz_headers": "headers", "fuzz_csv": "csv"}


def run_pytest(examples: int, trials: int, out: Path) -> tuple[int, dict[str, object]]:
    env = {**os.environ, "HASHSHIFT_FUZZ_EXAMPLES": str(examples),
           "HASHSHIFT_KILL_TRIALS": str(trials), "HASHSHIFT_SLOW": "1"}
    cmd = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
           "--hypothesis-show-statistics", "tests/test_fuzz_properties.py",
           "tests/test_faults.py"]
    print("$", " ".join(cmd), flush=True)
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    elapsed = time.monotonic() - t0
    (out / "pytest.log").write_text(proc.stdout + proc.stderr)
    cases: dict[str, dict[str, int]] = {}
    current = None
    for line in proc.stdout.splitlines():
        m = re.match(r"tests/\S+::(\w+)(\[.*\])?:$", line.strip())
        if m:
            current = m.group(1)
            continue
        m = re.search(r"(\d+) passing, (\d+) failing, and (\d+) invalid", line)
        if m and current:
            c = cases.setdefault(current, {"passing": 0, "failing": 0, "invalid": 0})
            for key, val in zip(("passing", "failing", "invalid"), m.groups(), strict=True):
                c[key] += int(val)
    kills = [ln.strip() for ln in proc.stdout.splitlines() if ln.startswith("kill -9 ")]
    tail = [ln for ln in proc.stdout.splitlines() if re.search(r"\d+ (passed|failed)", ln)]
    for name, c in sorted(cases.items()):
        print(f"  {name:62s} {c['passing']:>8,} cases  {c['failing']} failing", flush=True)
    print(f"  {'all property targets':62s} {sum(c['passing'] for c in cases.values()):>8,} "
          "cases", flush=True)
    for line in kills:
        print("  " + line, flush=True)
    print(tail[-1] if tail else proc.stdout[-2000:], flush=True)
    return proc.returncode, {"seconds": round(elapsed, 1), "cases": cases, "kill_trials": kills,
                             "result": tail[-1] if tail else "", "exit": proc.returncode}


def seed_corpus(name: str, folder: Path) -> None:
    """Seeds: the CSV samples of tests/data; for headers, valid regtest chains."""
    folder.mkdir(parents=True, exist_ok=True)
    if name == "fuzz_csv":
        for f in sorted((REPO / "tests" / "data").glob("*.csv")):
            for parser in range(9):
                (folder / f"{f.stem}-{parser}").write_bytes(bytes([parser]) + f.read_bytes())
        return
    sys.path.insert(0, str(REPO / "src"))
    from hashshift.consensus import REGTEST
    from hashshift.testing import REGTEST_STRICT, build_chain

    strict, _ = build_chain(24, REGTEST_STRICT, seed=1)
    loose, _ = build_chain(24, REGTEST, seed=2)
    seeds = {
        "header": bytes([0, 0]) + strict[:80],
        "hex": bytes([1, 0]) + strict[:80].hex().encode(),
        "chain-strict": bytes([2, 0]) + strict,
        "chain-regtest": bytes([2, 1]) + loose,
        "split-strict": bytes([3, 0]) + strict,
        "split-regtest": bytes([3, 1]) + loose,
        "checkpoint": bytes([4, 0]) + strict[:80] + (1).to_bytes(4, "little") + strict[80:800],
        "file": bytes([5, 0]) + strict[:400],
    }
    for k, v in seeds.items():
        (folder / k).write_bytes(v)


def run_atheris(seconds: int, out: Path) -> tuple[int, dict[str, object]]:
    try:
        import atheris  # noqa: F401
    except ImportError:
        print("atheris is not installed (pip install atheris): harnesses skipped", flush=True)
        return 0, {"skipped": "atheris not installed"}
    results: dict[str, object] = {}
    status = 0
    for name in HARNESSES:
        corpus = out / "corpus" / name
        seed_corpus(name, corpus)
        crashes = out / "crashes" / name
        crashes.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, str(REPO / "fuzz" / f"{name}.py"), str(corpus),
               f"-max_total_time={seconds}", "-print_final_stats=1", "-rss_limit_mb=4096",
               f"-artifact_prefix={crashes}/", "-timeout=30"]
        print("$", " ".join(cmd), flush=True)
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True,
                              timeout=seconds + 600)
        (out / f"{name}.log").write_text(proc.stdout + proc.stderr)
        stats = dict(re.findall(r"stat::(\w+):\s+(\d+)", proc.stderr))
        found = sorted(p.name for p in crashes.iterdir())
        results[name] = {"executions": int(stats.get("number_of_executed_units", 0)),
                         "exec_per_s": int(stats.get("average_exec_per_sec", 0)),
                         "new_units": int(stats.get("new_units_added", 0)),
                         "seconds": seconds, "crashes": found, "exit": proc.returncode}
        print(f"{name}: {results[name]}", flush=True)
        if proc.returncode or found:
            status = 1
            print(proc.stderr[-3000:], flush=True)
    return status, results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", type=int, default=5_000,
                    help="hypothesis examples per cheap target (store targets get 1/10)")
    ap.add_argument("--kill-trials", type=int, default=60, help="kill -9 trials per operation")
    ap.add_argument("--seconds", type=int, default=120, help="time box of each atheris harness")
    ap.add_argument("--out", type=Path, default=REPO / "out" / "fuzz")
    ap.add_argument("--no-pytest", action="store_true")
    ap.add_argument("--no-atheris", action="store_true")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, object] = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    status = 0
    if not args.no_pytest:
        rc, summary["pytest"] = run_pytest(args.examples, args.kill_trials, args.out)
        status |= rc != 0
    if not args.no_atheris:
        rc, summary["atheris"] = run_atheris(args.seconds, args.out)
        status |= rc
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"summary: {args.out / 'summary.json'}")
    return int(status)


if __name__ == "__main__":
    sys.exit(main())
