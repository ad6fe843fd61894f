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

import json
import os
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


def _month_to(page: Any, months: list[str], month: str) -> None:
    """Move the month slider to ``month`` as a drag would: set the value, fire ``input``."""
    page.evaluate("""(i) => {
        const s = document.getElementById('month');
        s.value = String(i);
        s.dispatchEvent(new Event('input', {bubbles: true}));
    }""", months.index(month))
    until(page, f"document.body.dataset.mapMonth === '{month}'")


_TRACE = "document.getElementById('map').data.filter(t => t.showscale !== false)[0]"
_NOTE = "document.getElementById('map').layout.annotations[0].text"


def test_map_observed_and_nowcast_months(visit: Visit, server: BackgroundServer) -> None:
    import httpx

    listing = httpx.get(server.url + "/api/nowcast/months", timeout=120).json()
    months = listing["levels"]["country"]
    newest = months[-1]["month"]
    assert months[-1]["kind"] == "nowcast"
    p = visit.page
    p.goto(visit.base + "/map")
    # opens on the newest month: the nowcast, labelled and outlined as such
    until(p, f"document.body.dataset.mapMonth === '{newest}'", 120)
    assert p.evaluate("document.body.dataset.mapKind") == "nowcast"
    until(p, "document.querySelectorAll('#map .layer.land path').length > 0")
    until(p, "document.querySelectorAll('#map path.choroplethlocation').length > 5")
    assert p.locator("#month-label").inner_text().endswith("· nowcast")
    assert p.locator("#kind-note .badge.nowcast").inner_text().lower() == "nowcast"
    assert "nowcast, not observed" in p.locator("#kind-note").inner_text()
    assert p.evaluate(_NOTE).startswith("NOWCAST")
    assert p.evaluate("document.getElementById('map-busy').hidden") is True
    now_line = p.evaluate(f"{_TRACE}.marker.line.color")
    now_zmax = p.evaluate(f"{_TRACE}.zmax")
    # intervals in the hover and the table
    hover = p.evaluate(f"{_TRACE}.hovertemplate")
    assert "nowcast" in hover and "90 %" in hover
    lo, hi = p.evaluate(f"{_TRACE}.customdata[0].slice(0, 2)")
    z = p.evaluate(f"{_TRACE}.z[0]")
    assert lo <= z <= hi and lo < hi
    first_row = p.locator("#shares tbody tr").first.inner_text()
    assert first_row.startswith("United States") and "–" in first_row  # 90 % interval
    assert "of which Texas (US-TX)" in p.locator("#shares tbody").inner_text()
    # the shares over time: observed, then the nowcast with its band, the boundary marked
    until(p, "document.body.dataset.seriesDrawn === 'true'", 60)
    shapes = p.evaluate("document.getElementById('over-time').layout.shapes.map(s => s.x0)")
    assert "2022-01" in shapes
    assert _plot_traces(p, "over-time") >= 10
    visit.shot("map-nowcast")
    # CCAF's last month, observed: exact, white outlines, the same colour scale
    _month_to(p, [m["month"] for m in months], "2022-01")
    assert p.evaluate("document.body.dataset.mapKind") == "observed"
    assert p.locator("#month-label").inner_text() == "January 2022 · observed"
    first_row = p.locator("#shares tbody tr").first.inner_text()
    assert first_row.startswith("United States") and "37.84" in first_row and "exact" in first_row
    assert p.evaluate(_NOTE).startswith("OBSERVED")
    obs_line = p.evaluate(f"{_TRACE}.marker.line.color")
    assert obs_line != now_line  # observed and nowcast months look different
    assert p.evaluate(f"{_TRACE}.zmax") == now_zmax == 80  # one colour scale
    visit.shot("map-countries")
    # the keyboard, as a person would: Home = the first month
    p.locator("#month").focus()
    p.keyboard.press("Home")
    until(p, "document.body.dataset.mapMonth === '2019-09'")
    assert p.locator("#month-label").inner_text() == "September 2019 · observed"
    assert "75.53" in p.locator("#shares tbody tr").first.inner_text()  # China, Sept 2019
    assert p.evaluate(f"{_TRACE}.zmax") == 80
    p.keyboard.press("ArrowRight")
    until(p, "document.body.dataset.mapMonth === '2019-10'")
    p.click("text=China's provinces")
    until(p, "document.body.dataset.mapLevel === 'province'")
    until(p, "document.querySelectorAll('#map path.choroplethlocation').length >= 31")
    names = p.locator("#shares tbody").inner_text()
    assert "Xinjiang" in names and "Sichuan" in names
    assert p.locator("#caveat").inner_text().startswith("Source: CCAF")
    # the provinces end in July 2021: the end of the slider is CCAF's last province month
    p.locator("#month").focus()
    p.keyboard.press("End")
    until(p, "document.body.dataset.mapMonth === '2021-07'")
    visit.shot("map-provinces")
    visit.check_clean()


def test_evidence_page(visit: Visit, server: BackgroundServer) -> None:
    import httpx

    events = httpx.get(server.url + "/api/events").json()["events"]
    p = visit.page
    p.goto(visit.base + "/events")
    until(p, f"document.body.dataset.studies === '{len(events)}'", 120)
    assert p.locator("#event-list tbody tr").count() == len(events)
    for ev in events:
        box = p.locator(f"#study-{ev['event']}")
        assert box.get_attribute("data-drawn") == "true"
        # hashrate points and the two windows' means, the windows shaded
        assert _plot_traces(p, f"plot-{ev['event']}") == 3
        shapes = p.evaluate(f"document.getElementById('plot-{ev['event']}').layout.shapes.length")
        assert shapes == 2
        assert "Implied share of" in box.inner_text() and "Sources:" in box.inner_text()
    study = httpx.get(server.url + "/api/events/china_2021").json()
    row = p.locator('#event-list tr[data-event="china_2021"]').inner_text()
    assert f"{study['drop_pct']['drop_pct']:.1f} %" in row
    visit.shot("evidence")
    visit.check_clean()


_RANGES = ["1 m", "6 m", "1 y", "3 y", "all"]


def _range_labels(page: Any, div: str) -> list[str]:
    return list(page.evaluate(f"document.getElementById('{div}').layout.xaxis.rangeselector"
                              ".buttons.map(b => b.label)"))


def test_network_daily_hashrate_and_retarget(visit: Visit, server: BackgroundServer) -> None:
    import httpx

    hist = httpx.get(server.url + "/api/history", timeout=60).json()
    p = visit.page
    p.goto(visit.base + "/network")
    # no estimate without real inputs: the card says what it needs instead of a number
    until(p, "document.body.dataset.retargetSource === 'none'")
    assert p.locator("#rt-change").inner_text() == "No estimate"
    assert "hashshift data update" in p.locator("#rt-note").inner_text()
    assert p.input_value("#rt-blocks") == "" and p.input_value("#rt-hours") == ""
    facts = p.locator("#rt-facts").inner_text()
    assert "Rule check, epoch" in facts and "real" in facts
    until(p, "document.body.dataset.historyDrawn === 'true'")
    # the daily chart: 1-day points, the 7-day line with its band, the per-epoch estimate
    names = p.evaluate("document.getElementById('hashrate').data.map(t => t.name)")
    assert "1 day (blocks that day)" in names and "7 days" in names
    assert "7-day 90 % interval" in names and any(str(n).startswith("per epoch") for n in names)
    # the band is the 7-day interval of the blocks mined (issue 15 §4), not the epoch's
    # interval repeated over its days, and no label claims a 95 % interval
    band = p.evaluate("document.getElementById('hashrate').data"
                      ".find(t => t.name === '7-day 90 % interval').y")
    assert band == hist["blocks_daily"]["hashrate_7d_hi_ehs"]
    assert band != hist["daily"]["hashrate_hi_ehs"][-len(band):]
    assert not any("95" in str(n) for n in names), names
    one = p.evaluate("document.getElementById('hashrate').data"
                     ".find(t => (t.name || '').startsWith('1 day')).x.slice(-1)[0]")
    assert one == hist["blocks_daily"]["date"][-1]
    # range buttons on the hashrate and difficulty charts, a linear axis by default
    for div in ("hashrate", "difficulty", "changes"):
        assert _range_labels(p, div) == _RANGES, div
    assert p.evaluate("document.getElementById('hashrate').layout.yaxis.type") == "linear"
    x0 = p.evaluate("document.getElementById('hashrate').layout.xaxis.range[0]")
    top = p.evaluate("document.getElementById('hashrate').layout.yaxis.range[1]")
    p.locator("#hashrate .rangeselector .button").filter(has_text="all").click()
    until(p, f"document.getElementById('hashrate').layout.xaxis.range[0] < '{x0}'")
    until(p, f"document.getElementById('hashrate').layout.yaxis.range[1] >= {top}")
    # an empty store: the pool panel says what would fill it, and shows no chart or table
    until(p, "document.body.dataset.poolsDrawn === 'true'")
    assert p.evaluate("document.body.dataset.pools") == "none"
    assert "no pool data in the store: run `hashshift data update --pools` with network " \
        "access" in p.locator("#pools-note").inner_text()
    assert not p.locator("#pools-chart").is_visible() and not p.locator("#pools-table").is_visible()
    assert p.evaluate("document.getElementById('estimator').dataset.sources") == "bundled"
    # real inputs: the whole epoch's 2015 intervals in exactly two weeks: no change
    p.fill("#rt-blocks", "2016")
    p.fill("#rt-hours", "336")
    p.click("#rt-form button[type=submit]")
    until(p, "document.getElementById('rt-change').textContent === '0.00 %'")
    assert p.evaluate("document.body.dataset.retargetSource") == "input"
    # 2016 blocks 600 s apart (2015 × 600 s): +0.05 %, Core's off-by-one
    p.fill("#rt-hours", "335.83")
    p.click("#rt-form button[type=submit]")
    until(p, "document.getElementById('rt-change').textContent === '+0.05 %'")
    # a whole epoch in a day: clamped at ×4
    p.fill("#rt-hours", "24")
    p.click("#rt-form button[type=submit]")
    until(p, "document.getElementById('rt-change').textContent.startsWith('+300.0')")
    assert "clamped" in p.locator("#rt-sub").inner_text()
    p.check("#log")
    until(p, "document.getElementById('hashrate').layout.yaxis.type === 'log'")
    visit.shot("network")
    p.click("#rt-reset")
    until(p, "document.body.dataset.retargetSource === 'none'")
    visit.check_clean()


def test_network_pools_and_daily_counts_from_the_store(visit: Visit) -> None:

    import realheaders
    from hashshift.sources.mempool import parse_pools

    store = realheaders.fill(Path(os.environ["HASHSHIFT_HOME"]))  # this test's store
    payload = json.loads((Path(__file__).parent / "data" / "mempool_pools_1w.json").read_text())
    for period, when in (("1w", "2026-12-01T12:00:00Z"), ("1m", "2026-12-01T12:00:00Z")):
        store.write_frame("pool_shares", parse_pools(payload, period, when), kind="mempool",
                          location=f"http://127.0.0.1/api/v1/mining/pools/{period}")
    p = visit.page
    p.goto(visit.base + "/network")
    until(p, "document.body.dataset.poolsDrawn === 'true'")
    assert p.evaluate("document.body.dataset.pools") == "shown"
    rows = p.locator("#pools-table tbody tr")
    assert rows.count() == 15
    assert rows.nth(0).inner_text().split("\t")[:4] == ["1", "Foundry USA", "300", "29.8"]
    bars = p.evaluate("document.getElementById('pools-chart').data[0].y")
    assert len(bars) == 11  # the top 10 and the rest summed, the largest on top
    assert bars[-1] == "Foundry USA" and bars[0] == "other pools (5)"
    note = p.locator("#pools-note").inner_text()
    assert "The last 1w to 2026-12-01 12:00 UTC: 1,008 blocks" in note
    assert "hashshift data update --pools" in note
    # the period picker: both stored periods, and switching redraws from /api/pools
    assert p.locator("#pools-period option").all_inner_texts() == ["1w", "1m"]
    p.evaluate("document.body.dataset.poolsDrawn = ''")
    p.select_option("#pools-period", "1m")
    until(p, "document.body.dataset.poolsDrawn === 'true'")
    assert "The last 1m to" in p.locator("#pools-note").inner_text()
    # the daily chart's note names the store's range of block counts
    until(p, "document.body.dataset.historyDrawn === 'true'")
    assert p.evaluate("document.getElementById('estimator').dataset.sources") == \
        "bundled,store,bundled"
    assert "2019-07-24 to 2019-08-08: block headers in the local store" in \
        p.locator("#estimator").inner_text()
    visit.shot("network-pools")
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


def test_energy_emissions_chart(visit: Visit, server: BackgroundServer) -> None:
    import httpx

    p = visit.page
    p.goto(visit.base + "/energy")
    until(p, "document.body.dataset.emissionsPrice === '0.05'", 60)
    api = httpx.get(server.url + "/api/energy/emissions", params={"price": 0.05},
                    timeout=60).json()
    s = api["series"]
    assert p.locator("#emissions").locator("xpath=..").locator("h2").inner_text() == \
        "Network emissions by month [MtCO2e/yr]"
    assert _plot_traces(p, "emissions") == 4  # band (2), observed guess, nowcast guess
    names = p.evaluate("document.getElementById('emissions').data.map(t => t.name || '')")
    assert "lower–upper: CBECI's power bounds × grid intensity" in names
    assert "best guess, observed map (CCAF)" in names
    lo = p.evaluate("document.getElementById('emissions').data[0].y")
    hi = p.evaluate("document.getElementById('emissions').data[1].y")
    assert lo == s["emissions_lower_mt_yr"] and hi == s["emissions_upper_mt_yr"]
    assert p.evaluate("document.getElementById('emissions').data[0].x.length") == \
        len(s["month"]) > 28
    note = p.locator("#emissions-note").inner_text()
    i = s["month"].index(api["last_published"])
    assert f"In {api['last_published']}: {s['emissions_guess_mt_yr'][i]:.1f} MtCO2e/yr" in note
    assert "CBECI's power bounds" in note and "nowcast" in note and "world average" in note
    # the price slider redraws the emissions too
    p.locator("#price").focus()
    for _ in range(10):
        p.keyboard.press("ArrowRight")
    until(p, "document.body.dataset.emissionsPrice === '0.1'", 60)
    assert "at 0.1 USD/kWh" in p.locator("#emissions-note").inner_text()
    visit.shot("energy-emissions")
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
    # hashprice per day, with range buttons and a linear axis fitted to the range shown
    until(p, "document.body.dataset.hashpriceDrawn === 'true'")
    hp = httpx.get(server.url + "/api/hashprice").json()
    assert _range_labels(p, "hashprice") == _RANGES
    layout = "document.getElementById('hashprice').layout"
    assert p.evaluate(f"{layout}.yaxis.type") == "linear"
    daily = p.evaluate("document.getElementById('hashprice').data[0].x.length")
    assert daily == len(hp["daily"]["date"]) > 5000
    recent = max(v for d, v in zip(hp["daily"]["date"], hp["daily"]["hashprice_usd_ph_day"],
                                   strict=True) if d >= p.evaluate(f"{layout}.xaxis.range[0]"))
    assert p.evaluate(f"{layout}.yaxis.range[1]") == pytest.approx(recent * 1.06, rel=1e-3)
    assert "month's means" in p.locator("#hashprice-note").inner_text()
    visit.shot("economics")
    visit.check_clean()


def test_lab_run_compare_and_download(visit: Visit, tmp_path: Path) -> None:
    p = visit.page
    p.goto(visit.base + "/lab")
    until(p, "document.querySelectorAll('#events .ev').length >= 5")
    assert "Xinjiang (CN-XJ)" in p.locator("#events").inner_text()
    p.fill("#paths", "40")
    p.fill("#horizon", "90")
    # switch Sichuan's ban off and move Xinjiang's by a week
    p.uncheck('.ev[data-kind="ban"][data-region="CN-SC"] input[type=checkbox]')
    assert "off" in (p.locator('.ev[data-region="CN-SC"]').get_attribute("class") or "")
    xj = p.locator('.ev[data-kind="ban"][data-region="CN-XJ"] input[data-field="effective"]')
    xj.fill("2021-06-16")
    xj.dispatch_event("change")
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
    until(p, "document.querySelectorAll('#events .ev').length >= 5")
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


def test_lab_runs_its_example_with_the_baseline_drawing_bands_as_it_goes(visit: Visit) -> None:
    """The lab's example as it loads, 1 000 paths × 365 days with its baseline: the bands of the
    days simulated so far are drawn while it computes (read from the workers), then the results
    of both runs. (How long each step takes is measured by benchmarks/bench_lab.py.)"""
    p = visit.page
    p.goto(visit.base + "/lab")
    until(p, "document.querySelectorAll('#events .ev').length >= 5")
    assert p.input_value("#paths") == "1000" and p.input_value("#horizon") == "365"
    assert p.is_checked("#baseline")
    p.fill("#seed", "16")  # not a run the cache already holds
    p.click("#run")
    until(p, "document.querySelector('.lab').dataset.partialDays", 300)
    assert _plot_traces(p, "lab-hashrate") >= 5  # scenario bands (and the baseline's)
    until(p, "document.querySelector('.lab').dataset.doneMs", 300)
    timing = p.evaluate("() => Object.assign({}, document.querySelector('.lab').dataset)")
    assert 0 < int(timing["partialDays"]) <= 365
    assert float(timing["firstPartialMs"]) < float(timing["doneMs"])
    assert p.locator("#status").inner_text().startswith("Done")
    summary = p.locator("#summary").inner_text()
    assert "1,000 paths" in summary and "baseline" in summary
    assert _plot_traces(p, "lab-hashrate") == 10 and _plot_traces(p, "lab-power") == 10
    visit.shot("lab-1000")


def test_lab_adds_a_us_tx_event_and_its_link_reproduces_the_run(visit: Visit,
                                                               browser: Any) -> None:
    p = visit.page
    p.goto(visit.base + "/lab")
    until(p, "document.querySelectorAll('#events .ev').length >= 5")
    p.select_option("#example", "russia_ban_2026")
    until(p, "document.getElementById('as-of-input').value === '2026-06-20'")
    # a start after the daily chain data: the page says what is extrapolated
    until(p, "!document.getElementById('extrapolated').hidden")
    assert "daily block counts end" in p.locator("#extrapolated").inner_text()
    p.fill("#paths", "30")
    p.fill("#horizon", "60")
    before = p.locator("#events .ev").count()
    # a curtailment of Texas, from the region tree
    p.select_option("#new-kind", "curtailment")
    p.click("#add-event")
    assert p.locator("#events .ev").count() == before + 1
    ev = p.locator("#events .ev").last
    assert ev.get_attribute("data-kind") == "curtailment"
    texas = ev.locator('select[data-field="region"] optgroup[label="United States"] '
                       'option[value="US-TX"]')
    assert texas.inner_text() == "Texas (US-TX)"
    ev.locator('select[data-field="region"]').select_option("US-TX")
    share = ev.locator('input[data-field="share"]')
    share.fill("0.8")
    share.dispatch_event("change")
    assert ev.locator("b").inner_text() == "curtailment — Texas (US-TX)"
    # add a tax and remove it again; add a region setting
    p.select_option("#new-kind", "tax")
    p.click("#add-event")
    assert p.locator('#events .ev[data-kind="tax"]').count() == 1
    p.locator('#events .ev[data-kind="tax"] button.remove').click()
    assert p.locator('#events .ev[data-kind="tax"]').count() == 0
    p.select_option("#new-region", "US-TX")
    p.click("#add-region")
    tariff = p.locator('#regions .region-spec[data-code="US-TX"] input[data-field="price_usd_kwh"]')
    tariff.fill("0.045")
    tariff.dispatch_event("change")
    p.click("#run")
    until(p, "document.body.dataset.runHash", 120)
    run_hash = p.evaluate("document.body.dataset.runHash")
    assert "Texas" in p.evaluate("Object.values(document.getElementById('lab-shares').data)"
                                 ".map(t => t.name).join(' ')")
    url = p.evaluate("location.href")
    assert "#s=" in url and p.get_attribute("#share-link", "href") == url
    # a reload and a fresh page with the link run the same scenario: the same run
    ctx = browser.new_context(viewport={"width": 1200, "height": 900})
    other = ctx.new_page()
    try:
        other.goto(url)
        until(other, "document.body.dataset.runHash", 120)
        assert other.evaluate("document.body.dataset.runHash") == run_hash
        assert "from the cache" in other.locator("#status").inner_text()
        ev2 = other.locator('#events .ev[data-kind="curtailment"][data-region="US-TX"]')
        assert ev2.locator('input[data-field="share"]').input_value() == "0.8"
        assert other.locator('#regions .region-spec[data-code="US-TX"] '
                             'input[data-field="price_usd_kwh"]').input_value() == "0.045"
        assert other.input_value("#paths") == "30" and other.input_value("#horizon") == "60"
    finally:
        ctx.close()
    p.reload()
    until(p, f"document.body.dataset.runHash === '{run_hash}'", 120)
    visit.shot("lab-texas")
    visit.check_clean()


def test_lab_load_toml_validates_fully(visit: Visit, tmp_path: Path) -> None:
    from hashshift.sim.examples import example_text

    p = visit.page
    p.goto(visit.base + "/lab")
    until(p, "document.querySelectorAll('#events .ev').length >= 5")
    good = example_text("baseline_2021")
    # well-formed, but a region the run cannot resolve: refused, named, nothing loaded
    bad = tmp_path / "bad.toml"
    bad.write_text(good + '\n[[event]]\nkind = "ban"\nregion = "XX"\nannounced = 2021-07-01\n'
                   'effective = 2021-07-01\nenforcement = 0.5\n', encoding="utf-8")
    p.set_input_files("#toml-file", str(bad))
    until(p, "document.querySelectorAll('#problems li').length > 0")
    assert "not a valid scenario; nothing was loaded" in p.locator("#status").inner_text()
    assert "XX" in p.locator("#problems").inner_text()
    assert p.input_value("#example") == "china_2021"
    assert p.locator("#events .ev").count() >= 5  # the form still holds china_2021
    ok = tmp_path / "good.toml"
    ok.write_text(good, encoding="utf-8")
    p.set_input_files("#toml-file", str(ok))
    until(p, "document.getElementById('status').textContent.startsWith('Loaded good.toml')")
    assert p.locator("#problems li").count() == 0
    visit.errors[:] = [e for e in visit.errors if "status of 422" not in e]
    visit.check_clean()


@pytest.mark.parametrize("slug", ["", "map", "events", "network", "energy", "economics", "lab"])
def test_pages_at_phone_width(browser: Any, server: BackgroundServer, slug: str) -> None:
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                              has_touch=True, device_scale_factor=2)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"{server.url}/{slug}")
        # every link of the navigation is on screen (wrapped, not scrolled out of sight)
        links = page.evaluate("[...document.querySelectorAll('header nav a')]"
                              ".map(a => a.getBoundingClientRect().right)")
        assert len(links) == 6 and max(links) <= 390, links
        if slug:
            until(page, "[...document.querySelectorAll('.plot')].some(d => d.dataset.drawn) "
                        "|| document.querySelectorAll('.plot').length === 0 "
                        "|| document.body.dataset.labReady", 120)
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= 390, f"/{slug} is {wide} px wide at a 390 px screen"
        plots = page.evaluate("[...document.querySelectorAll('.plot')].filter(d => d.dataset"
                              ".drawn).map(d => d.getBoundingClientRect().right)")
        assert all(r <= 390 for r in plots), plots
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"web-phone-{slug or 'home'}.png"), full_page=True)
        assert not errors, errors
    finally:
        ctx.close()


def test_spinners_and_freshness(visit: Visit) -> None:
    p = visit.page
    p.goto(visit.base + "/energy")
    # a plot with nothing drawn shows a spinner; a drawn plot does not
    spin = p.evaluate("""() => {
        const d = document.createElement('div');
        d.className = 'plot';
        document.querySelector('main').append(d);
        const s = getComputedStyle(d, '::before');
        const out = [s.content, s.animationName];
        d.remove();
        return out;
    }""")
    assert spin[0] != "none" and spin[1] == "spin"
    until(p, "document.getElementById('power').dataset.drawn === 'true'")
    drawn = p.evaluate("getComputedStyle(document.getElementById('power'), '::before').content")
    assert drawn == "none"
    footer = p.locator("#freshness").inner_text()
    assert "daily blocks to" in footer and "days old" in footer and "nowcast to" in footer
    visit.check_clean()
