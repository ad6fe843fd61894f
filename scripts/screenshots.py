"""Make the README's screenshots of the dashboard and the report with headless Chromium.

Usage: .venv/bin/python scripts/screenshots.py [--out docs/img] [--chromium /usr/bin/chromium]

Starts the dashboard on a free loopback port (the same app `hashshift serve` runs), builds the
observed report into a temporary folder, opens both in Debian's Chromium through Playwright
(never `playwright install`), blocks every request that is not to this machine, and writes:

- ``dashboard-map.png``: the map page on its newest month (the nowcast) and the shares over time;
- ``dashboard-network.png``: the daily hashrate and the next-retarget card;
- ``dashboard-lab.png``: the scenario lab after a small run of the Russia 2026 example;
- ``report-map.png``: the report's world map (the nowcast month) and its shares over time.

Re-run it after a change to the pages or the report; the images are committed.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
LOCAL = re.compile(r"^(https?://(127\.0\.0\.1|localhost)(:\d+)?/|data:|blob:|file:|about:)")


def until(page: Any, js: str, timeout_s: float = 120.0) -> None:
    """Wait until the expression ``js`` is true in the page (the dashboard's CSP forbids the
    eval Playwright's wait_for_function uses)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(f"() => Boolean({js})"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for: {js}")
        page.wait_for_timeout(100)


def _guard(page: Any, blocked: list[str]) -> None:
    def route(r: Any) -> None:
        if LOCAL.match(r.request.url):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)


def _save(shot: bytes, path: Path) -> None:
    """Write a PNG with at most 256 colours (a quarter of the size, no visible loss here)."""
    import io

    from PIL import Image

    im = Image.open(io.BytesIO(shot)).convert("RGB")
    im.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    print(f"{shown}: {path.stat().st_size / 1e3:.0f} kB")


def dashboard(browser: Any, out: Path) -> list[str]:
    from hashshift.web import Settings, create_app
    from hashshift.web.server import BackgroundServer

    blocked: list[str] = []
    with BackgroundServer(create_app(Settings())) as srv:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        _guard(page, blocked)
        page.goto(srv.url + "/map")
        until(page, "document.body.dataset.seriesDrawn === 'true'")
        _save(page.screenshot(full_page=True), out / "dashboard-map.png")
        page.goto(srv.url + "/network")
        until(page, "document.body.dataset.historyDrawn === 'true'")
        _save(page.screenshot(full_page=True,
                              clip={"x": 0, "y": 0, "width": 1280, "height": 1100}),
              out / "dashboard-network.png")
        page.goto(srv.url + "/lab")
        until(page, "document.querySelectorAll('#events .ev').length > 0")
        page.select_option("#example", "russia_ban_2026")
        until(page, "document.getElementById('as-of-input').value === '2026-06-20'")
        page.fill("#paths", "200")
        page.fill("#horizon", "180")
        page.click("#run")
        until(page, "document.body.dataset.runHash", 300)
        _save(page.screenshot(full_page=True,
                              clip={"x": 0, "y": 0, "width": 1280, "height": 1400}),
              out / "dashboard-lab.png")
        page.close()
    return blocked


def report(browser: Any, out: Path) -> list[str]:
    from hashshift.report import build_report

    blocked: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        html = build_report(Path(tmp) / "report.html")
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        _guard(page, blocked)
        page.goto(html.as_uri())
        until(page, "[...document.querySelectorAll('.plot')].every("
                    "d => d.getAttribute('data-rendered') === 'true')")
        top = page.locator("#card-world-shares").bounding_box()
        end = page.locator("#card-shares-over-time").bounding_box()
        _save(page.screenshot(full_page=True, clip={
            "x": 0, "y": top["y"] - 60, "width": 1280,
            "height": end["y"] + end["height"] - top["y"] + 70}), out / "report-map.png")
        page.close()
    return blocked


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=ARGS)
        try:
            blocked = dashboard(browser, args.out) + report(browser, args.out)
        finally:
            browser.close()
    if blocked:
        print(f"requests beyond this machine were attempted: {blocked}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
