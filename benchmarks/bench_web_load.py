"""Load test of the web service, on loopback only: cached reads under 50 connections, then a
flood of scenario runs while reads go on.

Goal (issue 8): 0 errors and p99 < 250 ms for cached reads (a run's ``result.json``, the
mining map) with 50 connections; a flood of run requests is answered with 429 while reads
stay fast.

- The server is ``hashshift serve`` with its defaults (1 uvicorn worker, 2 runs at once, a
  queue of 4, 1 run per client, 730 000 path-days per request) in a subprocess on a free port
  of 127.0.0.1, with a throw-away ``HASHSHIFT_HOME``.
- Warm-up: one run of the shipped ``china_2021`` example (1 000 paths, 365 days, with its
  baseline), so its result is in the run cache.
- Phases (``HASHSHIFT_LOAD_SECONDS``, default 60, is the time of the two main phases together):
  ``result.json`` of that run for half of it, ``/api/map`` (countries and provinces, two months)
  for the other half, 50 connections each, requests sending ``Accept-Encoding: gzip`` as
  browsers do; then a flood for a third of it (at least 10 s): the same reads on 50
  connections while 16 workers from 8 client addresses (127.0.0.2–9) post distinct scenario
  runs (200 paths × 180 days), each worker at most one request per 50 ms.
- Reads are driven by ``wrk`` (``apt-get install -y wrk``) when it is on PATH, else by a
  Python asyncio generator (keep-alive HTTP/1.1 on 50 connections, in a subprocess;
  ``HASHSHIFT_LOAD_TOOL=python`` forces it). The flood uses httpx. Every request goes to
  127.0.0.1.

Run: ``python benchmarks/run.py web_load`` (``HASHSHIFT_LOAD_SECONDS=12`` for a quick one).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
from _goals import goal

HOST = "127.0.0.1"
CONNECTIONS = 50
GOAL_P99_MS = 250.0
FLOOD_WORKERS = 16
FLOOD_ADDRESSES = [f"127.0.0.{i}" for i in range(2, 10)]
FLOOD_INTERVAL_S = 0.05  # per worker: at most 20 requests/s, 320/s in all
HEADERS = {"accept-encoding": "gzip"}


class Stats:
    """One phase's figures. (A plain class: benchmarks/run.py loads this file without
    registering it as a module, which dataclasses need.)"""

    def __init__(self, name: str, seconds: float, requests: int, p50_ms: float, p99_ms: float,
                 errors: int, extra: dict[str, Any] | None = None):
        self.name, self.seconds, self.requests = name, seconds, requests
        self.p50_ms, self.p99_ms = p50_ms, p99_ms
        self.errors = errors  # connection errors, timeouts and non-2xx/3xx answers
        self.extra = extra or {}

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def row(self) -> str:
        kinds = self.extra.get("error_kinds") or {}
        what = ("  (" + ", ".join(f"{k}: {v:,}" for k, v in sorted(kinds.items())) + ")"
                if kinds else "")
        return (f"{self.name:<28} {self.requests:>8,} {self.rps:>9,.0f} {self.p50_ms:>8.1f} "
                f"{self.p99_ms:>8.1f} {self.errors:>7}{what}")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------------------------
# read load: wrk, or a Python generator
# ---------------------------------------------------------------------------------------------
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if not m:
        raise ValueError(f"wrk latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(out: str, name: str) -> Stats:
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    done = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    if not done or "50" not in lat or "99" not in lat:
        raise RuntimeError(f"could not read wrk's output:\n{out}")
    seconds = _ms(done.group(2) + done.group(3)) / 1e3
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    socket_errors = sum(int(x) for x in sock.groups()) if sock else 0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    bad = int(non2xx.group(1)) if non2xx else 0
    return Stats(name, seconds, int(done.group(1)), _ms(lat["50"]), _ms(lat["99"]),
                 socket_errors + bad, {"socket_errors": socket_errors, "non_2xx": bad})


def run_wrk(base: str, paths: list[str], seconds: float, name: str) -> Stats:
    script = Path(tempfile.mkdtemp(prefix="hashshift-wrk-")) / "paths.lua"
    script.write_text("local paths = {" + ", ".join(json.dumps(p) for p in paths) + "}\n"
                      "local i = 0\n"
                      "request = function()\n"
                      "  i = i + 1\n"
                      "  return wrk.format('GET', paths[(i % #paths) + 1])\n"
                      "end\n")
    cmd = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
           "--latency", "-H", "Accept-Encoding: gzip", "-s", str(script), base + paths[0]]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=True)
    return parse_wrk(out.stdout, name)


async def _fetch(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str,
                 path: str) -> tuple[int, bool]:
    """One HTTP/1.1 GET on a kept-alive connection: (status, whether the server keeps it)."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept-Encoding: gzip\r\n\r\n"
                 .encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in
               (line.partition(":") for line in lines[1:] if line)}
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status, headers.get("connection", "").lower() != "close"


async def _generate(base: str, paths: list[str], seconds: float, conns: int) -> dict[str, Any]:
    """Keep-alive GETs on ``conns`` connections for ``seconds`` (plain asyncio streams: httpx's
    pool would be the bottleneck, not the server)."""
    host_port = base.removeprefix("http://").rstrip("/")
    host, port = host_port.rsplit(":", 1)
    lat: list[float] = []
    errors = 0
    kinds: dict[str, int] = {}
    deadline = time.perf_counter() + seconds

    async def worker(k: int) -> None:
        nonlocal errors
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        i = k
        while time.perf_counter() < deadline:
            i += 1
            t0 = time.perf_counter()
            try:
                if conn is None:
                    conn = await asyncio.open_connection(host, int(port))
                status, keep = await asyncio.wait_for(
                    _fetch(*conn, host_port, paths[i % len(paths)]), 10.0)
                if status >= 400:
                    errors += 1
                    kinds[f"HTTP {status}"] = kinds.get(f"HTTP {status}", 0) + 1
                else:
                    lat.append((time.perf_counter() - t0) * 1e3)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                    TimeoutError, ValueError) as exc:
                errors += 1
                kinds[type(exc).__name__] = kinds.get(type(exc).__name__, 0) + 1
                keep = False
            if not keep and conn is not None:
                conn[1].close()
                conn = None
        if conn is not None:
            conn[1].close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(conns)))
    elapsed = time.perf_counter() - t0
    lat.sort()

    def q(p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))] if lat else float("nan")

    return {"requests": len(lat) + errors, "seconds": elapsed, "p50": q(0.50), "p99": q(0.99),
            "errors": errors, "error_kinds": kinds}


def run_python(base: str, paths: list[str], seconds: float, name: str) -> Stats:
    cmd = [sys.executable, __file__, "--generate", base, "--seconds", str(seconds),
           "--conns", str(CONNECTIONS), *paths]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=True)
    r = json.loads(out.stdout)
    return Stats(name, r["seconds"], r["requests"], r["p50"], r["p99"], r["errors"],
                 {"error_kinds": r.get("error_kinds", {})})


def load(base: str, paths: list[str], seconds: float, name: str) -> Stats:
    if shutil.which("wrk") and os.environ.get("HASHSHIFT_LOAD_TOOL", "wrk") != "python":
        return run_wrk(base, paths, seconds, name)
    return run_python(base, paths, seconds, name)


# ---------------------------------------------------------------------------------------------
# the flood of runs
# ---------------------------------------------------------------------------------------------
def flood(base: str, scenario: dict[str, Any], seconds: float) -> dict[str, Any]:
    statuses: Counter[int | str] = Counter()
    refused_ms: list[float] = []
    lock = threading.Lock()
    started = time.monotonic()
    deadline = started + seconds
    most = int(seconds * FLOOD_WORKERS / FLOOD_INTERVAL_S)  # the pacing's ceiling: a bound
    sent = 0

    def worker(k: int) -> None:
        nonlocal sent
        addr = FLOOD_ADDRESSES[k % len(FLOOD_ADDRESSES)]
        with httpx.Client(base_url=base, timeout=180.0,
                          transport=httpx.HTTPTransport(local_address=addr)) as c:
            while time.monotonic() < deadline:
                with lock:
                    if sent >= most:
                        return
                    sent += 1
                    seed = sent
                body = json.loads(json.dumps(scenario))
                body["scenario"].update(paths=200, horizon_days=180, seed=seed)
                t0 = time.perf_counter()
                try:
                    r = c.post("/api/scenario/run", params={"baseline": "false"}, json=body)
                    status: int | str = r.status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                ms = (time.perf_counter() - t0) * 1e3
                with lock:
                    statuses[status] += 1
                    if status == 429:
                        refused_ms.append(ms)
                time.sleep(max(0.0, FLOOD_INTERVAL_S - ms / 1e3))

    threads = [threading.Thread(target=worker, args=(k,), daemon=True)
               for k in range(FLOOD_WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 240)
    refused_ms.sort()
    return {"sent": sum(statuses.values()), "statuses": dict(statuses),
            "seconds": time.monotonic() - started,
            "refused_p50_ms": refused_ms[len(refused_ms) // 2] if refused_ms else None,
            "refused_p99_ms": refused_ms[int(0.99 * len(refused_ms))] if refused_ms else None}


# ---------------------------------------------------------------------------------------------
# the benchmark
# ---------------------------------------------------------------------------------------------
def _start_server(home: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = _free_port()
    log = home / "server.log"
    env = {k: v for k, v in os.environ.items() if k != "HASHSHIFT_TOKEN"}
    env["HASHSHIFT_HOME"] = str(home)
    proc = subprocess.Popen([sys.executable, "-m", "hashshift", "serve", "--host", HOST,
                             "--port", str(port), "--log-level", "warning"],
                            env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    base = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(base + "/api/limits", timeout=2).status_code == 200:
                return proc, base, log
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"the server did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.2)


def main() -> bool:
    total = float(os.environ.get("HASHSHIFT_LOAD_SECONDS", "60"))
    half = max(2.0, total / 2)
    flood_s = max(10.0, total / 3)
    tool = ("wrk" if shutil.which("wrk") and os.environ.get("HASHSHIFT_LOAD_TOOL") != "python"
            else "a Python asyncio generator")
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} before; reads by "
          f"{tool}, {CONNECTIONS} connections; main phases {half:.0f} s each, flood "
          f"{flood_s:.0f} s", flush=True)
    home = Path(tempfile.mkdtemp(prefix="hashshift-load-"))
    proc, base, log = _start_server(home)
    ok = True
    try:
        text = resources.files("hashshift").joinpath("examples/china_2021.toml").read_text()
        from hashshift.sim.scenario import parse_scenario

        scenario = parse_scenario(text).model_dump(mode="json")
        t0 = time.perf_counter()
        r = httpx.post(base + "/api/scenario/run", json=scenario, timeout=600)
        r.raise_for_status()
        run_hash = r.json()["hash"]
        sc = scenario["scenario"]
        print(f"warm-up: china_2021 ({sc['paths']:,} paths × {sc['horizon_days']} days, with "
              f"its baseline) in {time.perf_counter() - t0:.1f} s; run {run_hash}", flush=True)
        result = f"/api/runs/{run_hash}/result.json"
        maps = ["/api/map", "/api/map?level=province&month=2021-04",
                "/api/map?month=2020-04", "/api/map?level=province"]
        for p in (result, *maps):  # every URL answers 200 before the load starts
            httpx.get(base + p, headers=HEADERS, timeout=30).raise_for_status()
        sizes = {p: len(httpx.get(base + p, headers=HEADERS).content) for p in (result, maps[0])}
        print(f"bodies (decoded): result.json {sizes[result] / 1024:,.0f} KB, /api/map "
              f"{sizes[maps[0]] / 1024:,.1f} KB", flush=True)

        rows = [load(base, [result], half, "cached result.json"),
                load(base, maps, half, "/api/map (4 variants)")]
        for s in rows:
            print(s.row(), flush=True)

        out: dict[str, Any] = {}
        flooder = threading.Thread(target=lambda: out.update(flood(base, scenario, flood_s)))
        flooder.start()
        time.sleep(0.5)  # the flood is under way
        during = load(base, [result, maps[0], result, maps[1]], flood_s - 1,
                      "reads during the flood")
        flooder.join(flood_s + 300)
        print(during.row(), flush=True)
        f = out
        st = f.get("statuses", {})
        print(f"flood: {f.get('sent', 0):,} run requests in {f.get('seconds', 0):.1f} s from "
              f"{len(FLOOD_ADDRESSES)} client addresses: {st.get(200, 0)} ran (200), "
              f"{st.get(429, 0):,} refused (429), "
              f"other {sum(v for k, v in st.items() if k not in (200, 429))} {st}; 429 answered "
              f"in p50 {f.get('refused_p50_ms') or float('nan'):.1f} ms, p99 "
              f"{f.get('refused_p99_ms') or float('nan'):.1f} ms", flush=True)
        active = httpx.get(base + "/api/runs/active", timeout=10).json()
        print(f"after the flood: {active['active']} run slot(s) busy", flush=True)

        print(f"\n{'phase':<28} {'requests':>8} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'errors':>7}")
        for s in [*rows, during]:
            print(s.row())
        for s in [*rows, during]:
            ok &= goal(f"web reads p99, {s.name}", f"{s.p99_ms:.1f} ms, {s.errors} errors",
                       s.p99_ms / GOAL_P99_MS, f"< 1 (< {GOAL_P99_MS:.0f} ms, 0 errors)",
                       s.p99_ms < GOAL_P99_MS and not s.errors)
        refused = st.get(429, 0) / max(sum(st.values()), 1)
        ok &= goal("web flood answered with 429 and nothing else", f"{st}", refused,
                   "> 0, only 200 and 429", bool(st.get(429))
                   and all(k in (200, 429) for k in st))
        print(f"load average {os.getloadavg()[0]:.1f} after")
        return ok
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(home, ignore_errors=True)


def _cli() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--generate", metavar="BASE", help="(internal) the Python load generator")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--conns", type=int, default=CONNECTIONS)
    ap.add_argument("paths", nargs="*")
    args = ap.parse_args()
    if args.generate:
        if not args.generate.startswith(f"http://{HOST}:"):
            raise SystemExit("the load generator only talks to 127.0.0.1")
        print(json.dumps(asyncio.run(_generate(args.generate, args.paths, args.seconds,
                                               args.conns))))
        return 0
    return 0 if main() else 1


if __name__ == "__main__":
    sys.exit(_cli())
