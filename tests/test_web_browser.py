"""The dashboard in a real browser: Debian's Chromium driven by Playwright (Python).

Each page is loaded from a uvicorn server started here on a free loopback port, used as a person
would (sliders moved, a scenario run, a CSV downloaded) and checked for what it shows. Every
request that is not to this server is blocked and recorded, and the test fails if any was
attempted: the dashboard works offline. Console errors fail the test too. Screenshots go to
tests/artifacts/ (git-ignored).

Needs ``pip install playwright`` (never ``playwright install``: the browser is Debian's,
``apt-get install chromium``); skipped with the reason when either is missing, failed instead under
``HASHSHIFT_REQUIRE_BROWSER=1`` (the ``browser`` fixture of conftest.py).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the web extra (fastapi) is not installed")
pytest.importorskip("uvicorn", reason="the web extra (uvicorn) is not installed")

from hashshift.web import Settings, create_app  # noqa: E402
from hashshift.web.server import BackgroundServer  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
#: How long a page may take to reach a state before the test fails (a hang guard, not a speed
#: promise: a loaded two-core machine can be slow).
STATE_TIMEOUT_S = 90.0


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    with BackgroundServer(create_app(Settings())) as srv:
        yield srv


@dataclass
class Visit:
    page: Any
    base: str
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.evaluate("() => window.scrollTo(0, 0)")  # the sticky header stays on top
        self.page.screenshot(path=str(ARTIFACTS / f"web-{name}.png"), full_page=True)

    def check_clean(self) -> None:
        assert not self.blocked, f"requests beyond this machine were attempted: {self.blocked}"
        assert not self.errors, f"console errors: {self.errors}"


@pytest.fixture
def visit(browser: Any, server: BackgroundServer) -> Iterator[Visit]:
    ctx = browser.new_context(viewport={"width": 1360, "height": 900}, accept_downloads=True,
                              service_workers="block")
    page = ctx.new_page()
    v = Visit(page, server.url)
    local = re.compile(r"^(https?://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?/|data:|blob:)")

    def route(r: Any) -> None:
        if local.match(r.request.url):
            r.continue_()
        else:
            v.blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("console", lambda m: v.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: v.errors.append(f"page error: {e}"))
    page.set_default_timeout(STATE_TIMEOUT_S * 1000)
    yield v
    ctx.close()


def until(page: Any, js: str, timeout_s: float = STATE_TIMEOUT_S) -> None:
    """Wait until the JavaScript expression ``js`` is true in the page. (Playwright's
    ``wait_for_function`` compiles its predicate with eval, which the dashboard's CSP forbids;
    ``evaluate`` runs through the DevTools protocol instead.)"""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(f"() => Boolean({js})"):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for: {js}")
        page.wait_for_timeout(50)


def _plot_traces(page: Any, div: str) -> int:
    return int(page.evaluate(f"() => (document.getElementById('{div}').data || []).length"))


def test_home(visit: Visit) -> None:
    p = visit.page
    p.goto(visit.base + "/")
    cards = p.locator("#overview .card")
    assert cards.count() == 6
    assert "EH/s" in cards.nth(0).inner_text()
    assert p.evaluate("() => document.querySelector('.brand img').naturalWidth") > 0  # favicon
    visit.shot("home")
    p.click("text=Scenario lab")
    p.wait_for_url("**/lab")
    visit.check_clean()


def test_map_slider_and_provinces(visit: Visit) -> None:
    p = visit.page
    p.goto(visit.base + "/map")
    until(p, "document.body.dataset.mapMonth === '2022-01'")  # CCAF's last month
    # the base map comes from /static/topojson/world_110m.json: land and countries are drawn
    until(p, "document.querySelectorAll('#map .layer.land path').length > 0")
    until(p, "document.querySelectorAll('#map path.choroplethlocation').length > 5")
    assert p.locator("#month-label").inner_text() == "January 2022"
    first = p.locator("#shares tbody tr").first.inner_text()
    assert first.startswith("United States") and "37.84" in first
    zmax = "document.getElementById('map').data.filter(t => t.showscale !== false)[0].zmax"
    top_jan = p.evaluate(zmax)
    # move the slider with the keyboard, as a person would: Home = the first month
    p.locator("#month").focus()
    p.keyboard.press("Home")
    until(p, "document.body.dataset.mapMonth === '2019-09'")
    assert p.locator("#month-label").inner_text() == "September 2019"
    assert "75.53" in p.locator("#shares tbody tr").first.inner_text()  # China, Sept 2019
    until(p, "document.getElementById('map').data[0].z.length > 0")
    assert p.evaluate(zmax) == top_jan == 80  # one colour scale for every month
    p.keyboard.press("ArrowRight")
    until(p, "document.body.dataset.mapMonth === '2019-10'")
    visit.shot("map-countries")
    p.click("text=China's provinces")
    until(p, "document.body.dataset.mapLevel === 'province'")
    until(p, "document.querySelectorAll('#map path.choroplethlocation').length >= 31")
    names = p.locator("#shares tbody").inner_text()
    assert "Xinjiang" in names and "Sichuan" in names
    assert p.locator("#caveat").inner_text().startswith("Source: CCAF")
    visit.shot("map-provinces")
    visit.check_clean()


def test_network_retarget(visit: Visit) -> None:
    p = visit.page
    p.goto(visit.base + "/network")
    until(p, "document.body.dataset.retargetSource === 'assumed'")
    until(p, "(document.getElementById('difficulty').data || []).length > 0")
    assert _plot_traces(p, "hashrate") == 3  # the 95 % band (2 traces) and the estimate
    facts = p.locator("#rt-facts").inner_text()
    assert "Rule check, epoch" in facts and "real" in facts
    # the whole epoch's 2015 intervals in exactly two weeks: no change
    p.fill("#rt-blocks", "2016")
    p.fill("#rt-hours", "336")
    p.click("#rt-form button[type=submit]")
    until(p, "document.getElementById('rt-change').textContent === '0.00 %'")
    # 2016 blocks 600 s apart (2015 × 600 s): +0.05 %, Core's off-by-one
    p.fill("#rt-hours", "335.83")
    p.click("#rt-form button[type=submit]")
    until(p, "document.getElementById('rt-change').textContent === '+0.05 %'")
    # a whole epoch in a day: clamped at ×4
    p.fill("#rt-hours", "24")
    p.click("#rt-form button[type=submit]")
    until(p, "document.getElementById('rt-change').textContent.startsWith('+300.0')")
    assert "clamped" in p.locator("#rt-sub").inner_text()
    p.uncheck("#log")
    until(p, "document.getElementById('hashrate').layout.yaxis.type === 'linear'")
    visit.shot("network")
    p.click("#rt-reset")
    until(p, "document.body.dataset.retargetSource === 'assumed'")
    visit.check_clean()


def _card(page: Any, index: int) -> str:
    return str(page.locator(".cards .card .big").nth(index).inner_text())


def test_energy_price_slider(visit: Visit) -> None:
    p = visit.page
    p.goto(visit.base + "/energy")
    until(p, "document.body.dataset.energyPrice === '0.05'")
    before = _card(p, 2)  # the profitability threshold [J/TH]
    assert before.endswith("J/TH")
    p.locator("#price").focus()
    for _ in range(10):
        p.keyboard.press("ArrowRight")  # +0.005 each
    until(p, "document.body.dataset.energyPrice === '0.1'")
    assert p.locator("#price-label").inner_text() == "0.100 USD/kWh"
    after = _card(p, 2)
    assert float(after.split()[0]) < float(before.split()[0])  # dearer power, lower θ
    assert _plot_traces(p, "power") == 5
    visit.shot("energy")
    visit.check_clean()


def test_economics_machine_picker(visit: Visit, server: BackgroundServer) -> None:
    import httpx

    p = visit.page
    p.goto(visit.base + "/economics")
    until(p, "document.body.dataset.breakEven !== undefined")
    p.select_option("#machine", "Antminer S9")
    until(p, "document.querySelector('.cards').textContent.includes('Antminer S9:')")
    api = httpx.get(server.url + "/api/economics",
                    params={"machine": "Antminer S9", "price": 0.05}, timeout=300).json()
    be = api["machine"]["break_even_usd_kwh"]
    assert _card(p, 2) == f"{be:.3f} USD/kWh"
    assert float(p.evaluate("() => document.body.dataset.breakEven")) == pytest.approx(be)
    p.select_option("#month", "2021-06")
    until(p, "document.querySelector('.cards').textContent.includes('2021-06')")
    visit.shot("economics")
    visit.check_clean()


def test_lab_run_compare_and_download(visit: Visit, tmp_path: Path) -> None:
    p = visit.page
    p.goto(visit.base + "/lab")
    until(p, "document.querySelectorAll('#bans .ban').length >= 5")
    assert "Xinjiang (CN-XJ)" in p.locator("#bans").inner_text()
    p.fill("#paths", "40")
    p.fill("#horizon", "90")
    # switch Sichuan's ban off and move Xinjiang's by a week
    p.uncheck('.ban[data-region="CN-SC"] input[type=checkbox]')
    assert "off" in (p.locator('.ban[data-region="CN-SC"]').get_attribute("class") or "")
    xj = p.locator('.ban[data-region="CN-XJ"] input[type=date]')
    xj.nth(1).fill("2021-06-16")
    p.click("#run")
    p.wait_for_selector("#downloads:not([hidden])")
    assert p.locator("#status").inner_text().startswith("Done")
    summary = p.locator("#summary").inner_text()
    assert "EH/s" in summary and "baseline" in summary and "40 paths" in summary
    # scenario and baseline, each a median and two bands (5 traces)
    assert _plot_traces(p, "lab-hashrate") == 10
    assert _plot_traces(p, "lab-retargets") == 2
    assert _plot_traces(p, "lab-shares") >= 8
    run_hash = p.evaluate("() => document.body.dataset.runHash")
    assert re.fullmatch(r"[0-9a-f]{16}", run_hash)
    visit.shot("lab")
    # the CSV download
    with p.expect_download() as info:
        p.locator('#downloads div').first.locator('a[data-file="daily.csv"]').click()
    dl = info.value
    assert dl.suggested_filename == f"hashshift-{run_hash}-daily.csv"
    path = tmp_path / "daily.csv"
    dl.save_as(path)
    lines = path.read_text().splitlines()
    assert lines[0] == "date,region,metric,mean,q05,q25,q50,q75,q95"
    assert lines[1].startswith("2021-05-31,WORLD,hashrate_ehs,")
    with p.expect_download() as info:
        p.locator('#downloads div').first.locator('a[data-file="scenario.toml"]').click()
    toml = Path(info.value.path()).read_text()
    assert "CN-SC" not in toml.split("[[event]]", 1)[-1] or 'region = "CN-SC"' not in toml
    assert "effective = 2021-06-16" in toml
    # the same run again comes from the cache
    p.click("#run")
    until(p, "document.getElementById('status').textContent.includes('cache')")
    visit.check_clean()


def test_lab_shows_validation_problems(visit: Visit) -> None:
    p = visit.page
    p.goto(visit.base + "/lab")
    until(p, "document.querySelectorAll('#bans .ban').length >= 5")
    p.fill("#paths", "5000")  # above the web limit
    p.click("#run")
    p.wait_for_selector("#problems li")
    assert "scenario.paths" in p.locator("#problems").inner_text()
    assert "HTTP 422" in p.locator("#status").inner_text()
    visit.shot("lab-invalid")
    # the page logs the failed request itself (a 422 is an answer, not a page error); only
    # the browser's own "Failed to load resource" line may appear
    visit.errors[:] = [e for e in visit.errors if "status of 422" not in e]
    visit.check_clean()
