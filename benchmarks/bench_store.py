"""Import headers from a raw headers file into the store with full validation.

Goal (issue 3): >= 100 000 headers/s; peak memory flat in the file size (streaming), < 200 MB.
Each import runs in a fresh subprocess, so its peak RSS is its own: ``VmHWM`` of
``/proc/self/status`` (``ru_maxrss`` would not do: after fork and exec Linux carries the parent's
high-water mark over, and the parent here holds the 400 000-header test chain). The baseline in
the same subprocess is streaming the same file through `validate_headers` alone (no store).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _goals import goal

from hashshift.testing import REGTEST_STRICT, build_chain

CHILD = r"""
import json, resource, sys, time
def rss_mb():
    return int(open('/proc/self/statm').read().split()[1]) * 4096 / 2**20
from hashshift.consensus import validate_headers
from hashshift.sources.rawheaders import iter_headers_file
from hashshift.store import Store
from hashshift.testing import REGTEST_STRICT
path, db = sys.argv[1], sys.argv[2]
base_rss = rss_mb()
t0 = time.perf_counter(); state = None
for chunk in iter_headers_file(path):
    state = validate_headers(chunk, state, REGTEST_STRICT)
t_val = time.perf_counter() - t0
st = Store(db, params=REGTEST_STRICT)
t0 = time.perf_counter()
res = st.import_headers(iter_headers_file(path, 5000), location=path)
t_imp = time.perf_counter() - t0
peak = int(next(ln for ln in open('/proc/self/status') if ln.startswith('VmHWM')).split()[1]) / 1024
print(json.dumps({"n": res.added, "t_val": t_val, "t_imp": t_imp, "base_rss": base_rss,
                  "peak_rss": peak}))
"""


def _run(path: Path, db: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), str(db)], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout)


def main() -> bool:
    tmp = Path(tempfile.mkdtemp(prefix="hashshift-bench-"))
    raw, _ = build_chain(400_000, REGTEST_STRICT, seed=7)
    ok = True
    rows = []
    for n in (100_000, 200_000, 400_000):
        f = tmp / f"headers_{n}.bin"
        f.write_bytes(REGTEST_STRICT.genesis_header + raw[: (n - 1) * 80])
        r = _run(f, tmp / f"store_{n}.duckdb")
        rows.append((n, r))
        print(f"{n:>7,} headers: import {r['n'] / r['t_imp']:>9,.0f} headers/s "
              f"(validation alone {r['n'] / r['t_val']:>9,.0f}/s, ratio "
              f"{r['t_imp'] / r['t_val']:.2f}x); peak RSS {r['peak_rss']:.0f} MB "
              f"(interpreter + libraries before import {r['base_rss']:.0f} MB)")
    r200 = dict(rows)[200_000]
    rate = r200["n"] / r200["t_imp"]
    growth = rows[-1][1]["peak_rss"] - rows[0][1]["peak_rss"]
    ok = goal("store import rate, 200 000 headers", f"{rate:,.0f} headers/s", rate / 100_000,
              ">= 1 (>= 100,000 headers/s)", rate >= 100_000)
    ok &= goal("store import peak memory, 200 000 headers", f"{r200['peak_rss']:.0f} MB",
               r200["peak_rss"] / 200, "< 1 (< 200 MB)", r200["peak_rss"] < 200)
    ok &= goal("store import memory growth, 100 000 -> 400 000 headers", f"{growth:+.0f} MB",
               abs(growth) / 25, "< 1 (flat: < 25 MB)", abs(growth) < 25)
    return ok


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
