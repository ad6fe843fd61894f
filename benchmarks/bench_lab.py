"""The dashboard's scenario lab in headless Chromium, as a person waits for it (issue 16).

``hashshift serve`` (its defaults: two worker processes) in a subprocess on a free loopback
port with a throw-away ``HASHSHIFT_HOME``; Debian's Chromium driven by Playwright
(``HASHSHIFT_CHROMIUM``, default /usr/bin/chromium; never ``playwright install``). The lab
page is opened (which starts and prepares the workers), one small run waits for them, then the
shipped China 2021 example as the lab loads it (1 000 paths, 365 days, with its baseline) runs
``REPEATS`` times with a new seed each time (nothing from the run cache). Times are the page's
own, from the click: the first partial bands drawn, and the results drawn.

Goals (on an idle machine: the load average is printed beside them): the first partial result
on screen ≤ 0.3 s, the whole run with its baseline ≤ 1.5 s (best of the repeats; the median is
printed too).
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _goals import goal, skip

REPEATS = 5
CHROMIUM = os.environ.get("HASHSHIFT_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _until(page: object, js: str, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(f"() => Boolean({js})"):  # type: ignore[attr-defined]
        if time.monotonic() > deadline:
            raise TimeoutError(f"waiting for {js}")
        page.wait_for_timeout(20)  # type: ignore[attr-defined]


def main() -> bool:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip("lab run in Chromium", "playwright is not installed")
        return True
    if not shutil.which(CHROMIUM):
        skip("lab run in Chromium", f"no Chromium at {CHROMIUM}")
        return True
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, HASHSHIFT_HOME=home)
        log = Path(home) / "serve.log"
        proc = subprocess.Popen([sys.executable, "-m", "hashshift", "serve", "--port", str(port)],
                                env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(base + "/api/limits", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"the server did not start:\n{log.read_text()[-2000:]}")
                time.sleep(0.1)
            first, done = _measure(sync_playwright, base)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    load = os.getloadavg()[0]
    print(f"  load average (1 min) {load:.2f} on {os.cpu_count()} CPUs; "
          f"first partial {', '.join(f'{x:.0f}' for x in first)} ms; "
          f"done {', '.join(f'{x:.0f}' for x in done)} ms")
    ok = goal("lab, first partial bands on screen (1 000 paths + baseline)",
              f"best {min(first):.0f} ms, median {statistics.median(first):.0f} ms",
              min(first) / 300.0, "≤ 1 (≤ 0.3 s)", min(first) <= 300.0)
    ok &= goal("lab, run with its baseline end to end (1 000 paths × 365 days)",
               f"best {min(done):.0f} ms, median {statistics.median(done):.0f} ms",
               min(done) / 1500.0, "≤ 1 (≤ 1.5 s)", min(done) <= 1500.0)
    return ok


def _measure(sync_playwright: object, base: str) -> tuple[list[float], list[float]]:
    first: list[float] = []
    done: list[float] = []
    with sync_playwright() as p:  # type: ignore[operator]
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1360, "height": 900})
        page.goto(base + "/lab")  # opening the lab starts and prepares the workers
        _until(page, "document.querySelectorAll('#events .ev').length >= 5")
        page.fill("#paths", "10")
        page.fill("#horizon", "30")
        page.click("#run")  # waits for the workers to be ready
        _until(page, "document.querySelector('.lab').dataset.doneMs")
        for k in range(REPEATS):
            page.goto(base + "/lab")
            _until(page, "document.querySelectorAll('#events .ev').length >= 5")
            page.fill("#seed", str(100 + k))  # a new run each time, not the cache's
            page.click("#run")
            _until(page, "document.querySelector('.lab').dataset.doneMs")
            data = page.evaluate("() => Object.assign({}, document.querySelector('.lab')"
                                 ".dataset)")
            if "firstPartialMs" in data:
                first.append(float(data["firstPartialMs"]))
            done.append(float(data["doneMs"]))
        browser.close()
    if not first:
        first = [float("inf")]
    return first, done


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
