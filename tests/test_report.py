"""The offline HTML report: vendored assets, the document (with a sweep's sensitivity section),
and a real render in headless Chromium.

Offline is proven, not assumed: the browser test blocks every request that is not ``file:``,
``data:``, ``about:`` or loopback and asserts that none was even attempted, that the console
has no error, and that every figure drew (SVG present; maps with their base map and every
region). plotly.js's own source holds URL strings (tile styles of the ``map`` traces, the
``topojsonURL`` default, the cloud ``plotlyServerURL``): the static checks assert that the
report uses none of the features that would reach them (no map/mapbox traces, base maps that the
page provides, the cloud button off), and the browser test is the proof.

Needs ``pip install playwright`` (never ``playwright install``) and Debian's ``chromium``
(``apt-get install -y chromium``); the browser tests skip with that reason otherwise (fail
under ``HASHSHIFT_REQUIRE_BROWSER=1``). Screenshots go to tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.offline
import pytest

from conftest import (
    CHROMIUM_ARGS,
    REQUIRE_BROWSER,
    chromium_path,
    playwright_sync_api,
    skip_or_fail,
)
from hashshift.report import assets
from sweepspecs import small_sweep

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "tests" / "artifacts"
PAGE_TIMEOUT_MS = 120_000  # a hang guard: the page is rendered on a possibly loaded machine


# ---------------------------------------------------------------------------------------------
# fixtures: one small scenario run, the reports built from it
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_result() -> Any:
    from hashshift.sim.engine import run
    from hashshift.sim.examples import resolve_scenario

    sc, _ = resolve_scenario("china_2021")
    meta = sc.scenario.model_copy(update={"horizon_days": 200, "paths": 60})
    sc = sc.model_copy(update={"scenario": meta})
    return run(sc, paths=60)


@pytest.fixture(scope="module")
def scenario_report(small_result: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from hashshift.report import build_report

    out = tmp_path_factory.mktemp("report") / "scenario report.html"
    return build_report(out, small_result, scenario_source="hashshift/examples/china_2021.toml")


class _Doc(HTMLParser):
    """Tags with their attributes, and the text of each <script> and <style>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        if tag in ("script", "style"):
            self._in = tag
            (self.scripts if tag == "script" else self.styles).append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "script":
            self.scripts[-1] += data
        elif self._in == "style":
            self.styles[-1] += data


def _parse(path: Path) -> _Doc:
    doc = _Doc()
    doc.feed(path.read_text(encoding="utf-8"))
    return doc


def _observed_figures() -> list[str]:
    from hashshift.events import catalogue

    return (["fig-world-shares", "fig-shares-over-time", "fig-china-provinces",
             "fig-network-history", "fig-network-daily", "fig-hashprice-daily",
             "fig-observed-emissions"]
            + ["fig-event-" + str(e).replace("_", "-") for e in catalogue()["event"]])


#: The observed report's figures, in order: maps and history, then the natural experiments.
OBSERVED_FIGURES = _observed_figures()

_NET = re.compile(r"^\s*(https?:)?//", re.I)
_CSS_URL = re.compile(r"url\(\s*['\"]?\s*(https?:)?//|@import", re.I)
_URL_ATTRS = {"src", "href", "srcset", "action", "formaction", "poster", "data", "background",
              "xlink:href", "ping", "manifest", "cite", "longdesc", "codebase"}


# ---------------------------------------------------------------------------------------------
# vendored assets
# ---------------------------------------------------------------------------------------------
def test_vendored_assets_match_plotly_py() -> None:
    files = assets.vendored_files()
    version = plotly.offline.get_plotlyjs_version()
    assert files["plotly.js"] == f"plotly-{version}.min.js"
    assert files["world_110m"] == f"world_110m-plotly-{version}.json"
    vendor = Path(str(assets.vendor_dir()))
    for name in files.values():
        assert (vendor / name).is_file(), f"run scripts/vendor_assets.py: {name} missing"
    assert assets.plotly_js() == plotly.offline.get_plotlyjs()
    assert "</script" not in assets.plotly_js().lower()
    versions = (vendor / "VERSIONS.md").read_text()
    licences = (vendor / "LICENSES.md").read_text()
    for name in files.values():
        assert name in versions and name in licences
    assert "MIT" in versions and "ISC" in licences


def test_world_topojson_and_china_provinces() -> None:
    import pycountry

    topo = assets.world_topojson()
    assert topo["type"] == "Topology"
    assert {"countries", "land", "coastlines"} <= set(topo["objects"])
    china = assets.china_provinces()
    ids = [f["id"] for f in china["features"]]
    assert len(ids) == len(set(ids)) == 31
    for code in ids:
        assert pycountry.subdivisions.get(code=code) is not None, code
    names = {f["id"]: f["properties"]["name"] for f in china["features"]}
    # HASC and ISO 3166-2 differ here: the table must map by province, not by letters
    assert names["CN-HA"] == "Henan" and names["CN-HI"] == "Hainan"
    assert names["CN-HE"] == "Hebei" and names["CN-HB"] == "Hubei"
    assert names["CN-SN"] == "Shaanxi" and names["CN-SX"] == "Shanxi"
    assert names["CN-XJ"] == "Xinjiang" and names["CN-NM"] == "Inner Mongolia"
    xs = [c for f in china["features"] for c in _coords(f["geometry"]["coordinates"])]
    assert all(round(c, 3) == c for c in xs[:5000])
    lon = xs[0::2]
    assert 73 < min(lon) and max(lon) < 135.5  # China's extent


def _coords(obj: Any) -> list[float]:
    if isinstance(obj, (int, float)):
        return [float(obj)]
    out: list[float] = []
    for o in obj:
        out += _coords(o)
    return out


def test_script_safe_escapes_closing_tags() -> None:
    text = assets.script_safe('{"a":"</script><!-- x"}')
    assert "</" not in text and "<!--" not in text
    assert json.loads(text.replace("<\\!--", "<!--")) == {"a": "</script><!-- x"}
    assert "</" not in assets.geo_assets_script()[len("<script>"):-len("</script>")]


# ---------------------------------------------------------------------------------------------
# the document, statically
# ---------------------------------------------------------------------------------------------
def test_report_contains_plotly_js_once_and_geo_assets_first(scenario_report: Path) -> None:
    text = scenario_report.read_text(encoding="utf-8")
    js = assets.plotly_js()
    assert text.count(js[:400]) == 1
    assert text.count(js[-400:]) == 1
    doc = _parse(scenario_report)
    big = [i for i, s in enumerate(doc.scripts) if len(s) > 1_000_000]
    assert len(big) == 1
    geo = [i for i, s in enumerate(doc.scripts) if s.startswith("window.PlotlyGeoAssets=")]
    assert geo and geo[0] < big[0], "PlotlyGeoAssets must be defined before plotly.js loads"
    assert '"world_110m":' in doc.scripts[geo[0]]
    # China's provinces are embedded once, not once per trace and frame
    assert text.count('"CN-XJ","properties"') == 1


def test_report_has_no_network_references(scenario_report: Path) -> None:
    doc = _parse(scenario_report)
    for tag, attrs in doc.tags:
        for key, value in attrs:
            if value is None:
                continue
            if key in _URL_ATTRS:
                assert not _NET.match(value), f"<{tag} {key}={value!r}>"
                assert value.startswith(("#", "data:")), f"<{tag} {key}={value!r}>"
            if key == "style":
                assert not _CSS_URL.search(value), f"<{tag} style={value!r}>"
        if tag in ("link", "iframe", "embed", "object", "img", "video", "audio", "source"):
            src = dict(attrs).get("src") or dict(attrs).get("href") or ""
            assert src.startswith(("data:", "#")), f"<{tag}> loads {src!r}"
    for css in doc.styles:
        assert not _CSS_URL.search(css)
    js = assets.plotly_js()
    for script in doc.scripts:
        if script == js:
            continue  # plotly.js's own URL strings: see the figure checks below
        assert not re.search(r"https?://", script), script[:200]
        assert "fetch(" not in script and "XMLHttpRequest" not in script
        assert "import(" not in script


def _figures(doc: _Doc) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    out = []
    for s in doc.scripts:
        if s.startswith("hsPlot("):
            body = s[s.index(",") + 1:s.rindex(");")]
            fig_text, config_text = body.rsplit(",{", 1)
            out.append((json.loads(fig_text.replace("<\\/", "</")),
                        json.loads("{" + config_text)))
    return out


def _array(v: Any) -> np.ndarray:
    """A trace's data array as plotly writes it: a list, or base64 bytes with a dtype."""
    if isinstance(v, dict) and "bdata" in v:
        import base64

        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
    return np.asarray(v)


def test_figures_use_no_feature_that_fetches(scenario_report: Path) -> None:
    figs = _figures(_parse(scenario_report))
    assert len(figs) == 6 + len(OBSERVED_FIGURES)
    fetching_types = {"scattermap", "choroplethmap", "densitymap", "scattermapbox",
                      "choroplethmapbox", "densitymapbox"}
    for fig, config in figs:
        assert config["showSendToCloud"] is False and config["displaylogo"] is False
        assert config["plotlyServerURL"] == ""
        assert "topojsonURL" not in config and "mapboxAccessToken" not in config
        for trace in fig["data"]:
            assert trace["type"] not in fetching_types
            g = trace.get("geojson")
            assert g is None or g.startswith("hs-geo:"), g
        layout = fig["layout"]
        for key, geo in layout.items():
            if key.startswith("geo"):
                scope = geo.get("scope", "world")
                res = geo.get("resolution", 110)
                assert f"{scope}_{res}m" == "world_110m"  # the one the page provides
        assert "$" not in json.dumps(fig)  # no LaTeX -> plotly.js never asks for MathJax


def test_observed_only_report_via_cli(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from hashshift.cli import app

    out = tmp_path / "observed.html"
    res = CliRunner().invoke(app, ["report", "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    assert res.output.strip() == ""
    doc = _parse(out)
    ids = [dict(a).get("id") for t, a in doc.tags if t == "div" and "plot" in
           (dict(a).get("class") or "").split()]
    assert ids == OBSERVED_FIGURES
    text = out.read_text(encoding="utf-8")
    assert "Scenario inputs" not in text
    assert '<section id="evidence"><h2>Evidence from the chain' in text


def test_cli_errors_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from hashshift.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["report", "--format", "gif"])
    assert res.exit_code == 2 and "--format" in res.output
    res = runner.invoke(app, ["report", "--scenario", "no-such-example"])
    assert res.exit_code == 2 and "china_2021" in res.output
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-browser"))
    res = runner.invoke(app, ["report", "--format", "png", "--out", str(tmp_path / "f")])
    assert res.exit_code == 1
    assert "Chromium" in res.output and "camera icon" in res.output


def test_narrative_states_the_numbers(small_result: Any) -> None:
    from hashshift.report.narrative import observed_narrative, scenario_narrative

    n = scenario_narrative(small_result)
    text = " ".join(n.paragraphs)
    w = small_result.world("hashrate_ehs")
    trough = float(w["q50"].min())
    assert f"{trough:,.0f} EH/s" in text or f"{trough:,.1f} EH/s" in text
    ch = small_result.epochs[small_result.epochs["metric"] == "change_pct"]
    worst = float(ch["q50"].min())
    assert f"{worst:+.1f} %".replace("-", "−") in text
    assert "China's share" in text and "largest" in text
    # each headline card says what its number is: a daily or epoch value, median or mean of N
    paths = small_result.config["paths"]
    labels = {f.label for f in n.facts}
    assert {f"simulated trough (daily value, median of {paths} paths)",
            f"largest simulated retarget (median of {paths} paths)",
            f"China's share (daily value, mean of {paths} paths)"} <= labels, labels
    assert "real low (epoch mean)" in labels  # the run starts on 31 May 2021
    o = observed_narrative()
    assert any("−27.94 %" in p for p in o.paragraphs)  # block 689,472, 3 July 2021
    assert [f.label for f in o.facts] == [
        "network hashrate (epoch mean)", "largest difficulty cut (one retarget, exact)",
        "China's share (CCAF map, monthly value)",
        "network emissions (monthly value, CBECI best guess)"]
    assert "95 % interval" in o.facts[0].note and "one value for epoch" in o.facts[0].note
    # the emissions paragraph: hashshift.emissions' numbers for CCAF's last month (2022-01)
    from hashshift import emissions as em

    w = em.monthly_emissions(nowcast=False)
    last = w[w["region_code"] == em.WORLD].iloc[-1]
    assert f"{pd.Timestamp(last['month']):%B %Y}" == "January 2022"
    said = (f"were {last['emissions_guess_mt_yr']:.0f} MtCO2e/yr in January 2022 (bounds "
            f"{last['emissions_lower_mt_yr']:.0f}–{last['emissions_upper_mt_yr']:.0f})")
    assert any(said in p for p in o.paragraphs), o.paragraphs
    assert o.facts[3].value == f"{last['emissions_guess_mt_yr']:.0f} MtCO2e/yr"


# ---------------------------------------------------------------------------------------------
# the document in a real browser, offline
# ---------------------------------------------------------------------------------------------
def _render(html_path: Path, shot_prefix: str) -> dict[str, Any]:
    sync_api = playwright_sync_api()
    chromium = chromium_path()
    attempted: list[str] = []
    blocked: list[str] = []
    console: list[tuple[str, str]] = []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})

            def route(r: Any) -> None:
                url = r.request.url
                attempted.append(url)
                ok = url.startswith(("file:", "data:", "about:", "blob:")) or re.match(
                    r"^https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?/", url)
                if ok:
                    r.continue_()
                else:
                    blocked.append(url)
                    r.abort()

            page.route("**/*", route)
            page.on("console", lambda m: console.append((m.type, m.text)))
            page.on("pageerror", lambda e: console.append(("pageerror", str(e))))
            page.on("requestfailed", lambda r: console.append(("requestfailed", r.url)))
            page.goto(html_path.as_uri())
            page.wait_for_function(
                "() => { const d = [...document.querySelectorAll('.plot')];"
                " return d.length > 0 && d.every(x => x.getAttribute('data-rendered')); }",
                timeout=PAGE_TIMEOUT_MS)
            info = page.evaluate("""() => [...document.querySelectorAll('.plot')].map(gd => ({
                id: gd.id,
                rendered: gd.getAttribute('data-rendered'),
                svgs: gd.querySelectorAll('.main-svg').length,
                marks: gd.querySelectorAll('.scatterlayer path, .barlayer path,'
                                           + ' .choroplethlocation').length,
                geo: gd.querySelectorAll('.geo').length,
                regions: gd.querySelectorAll('.choroplethlocation').length,
                land: [...gd.querySelectorAll('.geo .layer.land path')]
                        .map(p => (p.getAttribute('d') || '').length),
                countries: [...gd.querySelectorAll('.geo .layer.countries path')]
                        .map(p => (p.getAttribute('d') || '').length),
                height: gd.getBoundingClientRect().height,
            }))""")
            # move the month slider of each map (animation frames) and check it redraws
            moved = page.evaluate("""async () => {
                const out = {};
                for (const id of ['fig-world-shares', 'fig-china-provinces']) {
                    const gd = document.getElementById(id);
                    if (!gd) continue;
                    const names = gd._transitionData._frames.map(f => f.name);
                    await Plotly.animate(gd, [names[0]], {frame: {duration: 0, redraw: true},
                                                        transition: {duration: 0},
                                                        mode: 'immediate'});
                    const t = gd.data[gd.data.length - 1];
                    out[id] = {frames: names.length, first: names[0],
                               z: Array.from(t.z).slice(0, 3)};
                }
                // the world map: CCAF's last month, then the newest (nowcast) month
                const gd = document.getElementById('fig-world-shares');
                if (gd) {
                    const names = gd._transitionData._frames.map(f => f.name);
                    out.kinds = {};
                    for (const name of ['2022-01', names[names.length - 1]]) {
                        await Plotly.animate(gd, [name], {frame: {duration: 0, redraw: true},
                                                          transition: {duration: 0},
                                                          mode: 'immediate'});
                        const t = gd.data[0];
                        out.kinds[name] = {line: t.marker.line.color, zmax: t.zmax,
                                           note: gd.layout.annotations[0].text,
                                           hover: t.hovertemplate,
                                           custom: Array.from(t.customdata[0] || [])};
                    }
                    out.kinds.last = names[names.length - 1];
                }
                return out;
            }""")
            page.screenshot(path=str(ARTIFACTS / f"{shot_prefix}-full.png"), full_page=True)
            for card in page.query_selector_all(".card.figure"):
                card.scroll_into_view_if_needed()
                card.screenshot(path=str(ARTIFACTS / f"{shot_prefix}-{card.get_attribute('id')}"
                                                     ".png"))
        finally:
            browser.close()
    return {"attempted": attempted, "blocked": blocked, "console": console, "figures": info,
            "moved": moved}


def _assert_rendered_offline(r: dict[str, Any]) -> None:
    assert r["blocked"] == [], f"the report tried to reach the network: {r['blocked']}"
    assert all(u.startswith(("file:", "data:", "about:", "blob:")) for u in r["attempted"])
    errors = [(t, m) for t, m in r["console"] if t in ("error", "pageerror", "requestfailed")]
    assert errors == [], errors
    assert not [m for t, m in r["console"] if "topojson" in m.lower()]
    for fig in r["figures"]:
        assert fig["rendered"] == "true", fig
        assert fig["svgs"] >= 1 and fig["height"] > 200, fig
        assert fig["marks"] > 0, fig
        if fig["geo"]:
            # the base map came from window.PlotlyGeoAssets: land and borders are drawn
            assert fig["land"] and max(fig["land"]) > 1000, fig
            assert fig["countries"] and max(fig["countries"]) > 1000, fig


def test_scenario_report_renders_offline_in_chromium(scenario_report: Path) -> None:
    r = _render(scenario_report, "report-scenario")
    _assert_rendered_offline(r)
    figs = {f["id"]: f for f in r["figures"]}
    assert list(figs) == ["fig-sim-vs-real", "fig-retargets", "fig-region-shares",
                          "fig-shares-vs-published", "fig-power-emissions", "fig-break-even",
                          *OBSERVED_FIGURES]
    assert figs["fig-world-shares"]["regions"] >= 8  # the countries CCAF names
    assert figs["fig-china-provinces"]["regions"] >= 31 + 8  # all provinces + the named ones
    moved = dict(r["moved"])
    kinds = moved.pop("kinds")
    for id_, m in moved.items():
        assert m["frames"] >= 12 and m["first"] == "2019-09", (id_, m)
        assert m["z"], (id_, m)
    # observed and nowcast months on one slider and one colour scale, visibly distinct
    from hashshift.freshness import nowcast_reach

    last = kinds.pop("last")
    assert last == f"{nowcast_reach():%Y-%m}" and moved["fig-world-shares"]["frames"] > 60
    obs, now = kinds["2022-01"], kinds[last]
    assert obs["zmax"] == now["zmax"] == 80
    assert obs["line"] != now["line"]
    assert "Observed" in obs["note"] and "NOWCAST, not observed" in now["note"]
    assert "90 % interval" in now["hover"] and "90 %" not in obs["hover"]
    hashrate, code, lo, hi = now["custom"]
    assert lo < hi and code


def test_report_text_is_shareable_and_says_what_it_shows(tmp_path: Path,
                                                        small_result: Any) -> None:
    """No local file path, no caption twice, the data's reach stated, the run's "as known on"."""
    import collections

    from hashshift.freshness import freshness
    from hashshift.report import build_report

    local = tmp_path / "deep" / "folder" / "my scenario.toml"
    path = build_report(tmp_path / "r.html", small_result, scenario_source=str(local))
    text = path.read_text(encoding="utf-8")
    body = re.sub(r"<script>.*?</script>", "", text[text.index("<body>"):], flags=re.S)
    assert str(tmp_path) not in body and "my scenario.toml" in body
    captions = re.findall(r'<p class="caption">(.*?)</p>', body)
    assert captions and [c for c, n in collections.Counter(captions).items() if n > 1] == []
    assert body.count("generated ") == 1  # the subtitle once, not again in the footer
    f = freshness()
    card = body[body.index('id="freshness"'):]
    for r in f.to_dict("records"):
        assert f"<td>{r['dataset']}</td>" in card and f"<td>{r['last']}</td>" in card
    assert "as known on that day" in body  # the run's as-of date, in the inputs card
    assert 'id="extrapolated"' not in body  # 2021-05-31: every dataset reaches it
    # every figure has a CSV link (filled in by the page once the figure is drawn)
    keys = re.findall(r'data-figure="([a-z0-9-]+)" style=', body)
    links = re.findall(r'<a class="csv" hidden data-figure="([a-z0-9-]+)"', body)
    assert keys and links == keys


def test_report_extrapolation_is_said(tmp_path: Path) -> None:
    from hashshift.report.html import _inputs_html

    class _Run:  # the config of a run as of the newest bundled day
        config = {"scenario": {"scenario": {"name": "x", "as_of": "2026-06-20"}}}

    html = _inputs_html(_Run(), None)  # type: ignore[arg-type]
    assert 'id="extrapolated"' in html and "daily block counts end 2026-03-22" in html


def test_report_csv_downloads_and_ban_labels_in_chromium(scenario_report: Path,
                                                          tmp_path: Path) -> None:
    sync_api = playwright_sync_api()
    chromium = chromium_path()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000},
                                    accept_downloads=True)
            page.goto(scenario_report.as_uri())
            page.wait_for_function(
                "() => [...document.querySelectorAll('.plot')].every("
                "x => x.getAttribute('data-rendered') === 'true')", timeout=PAGE_TIMEOUT_MS)
            assert page.locator("a.csv:not([hidden])").count() == page.locator(".plot").count()
            got = {}
            for key in ("world-shares", "network-daily", "event-china-2021", "break-even"):
                link = page.locator(f'a.csv[data-figure="{key}"]')
                link.scroll_into_view_if_needed()
                with page.expect_download() as info:
                    link.click()
                assert info.value.suggested_filename == f"hashshift-{key}.csv"
                got[key] = Path(info.value.path()).read_text(encoding="utf-8").splitlines()
            head = "frame,trace,x,y,location,z,text,customdata"
            assert all(lines[0] == head and len(lines) > 10 for lines in got.values())
            # the world map: every frame, CCAF's January 2022 exact, nowcast months with bounds
            jan = [ln for ln in got["world-shares"] if ln.startswith("2022-01,")]
            assert any(",USA,37.84," in ln for ln in jan)
            assert len({ln.split(",")[0] for ln in got["world-shares"][1:]}) > 60
            assert any(ln.startswith(("2026-", "2025-")) for ln in got["world-shares"])
            assert any(",7 days," in ln for ln in got["network-daily"])
            # ban labels sit above the plotting area: none covers a line
            boxes = page.evaluate("""() => {
                const gd = document.getElementById('fig-break-even');
                const plot = gd.querySelector('.draglayer .nsewdrag').getBoundingClientRect();
                return [...gd.querySelectorAll('.annotation')]
                    .filter(a => a.textContent.endsWith(' ban'))
                    .map(a => [a.getBoundingClientRect().bottom, plot.top]);
            }""")
            assert boxes and all(bottom <= top + 1 for bottom, top in boxes), boxes
        finally:
            browser.close()


# ---------------------------------------------------------------------------------------------
# static export for slides (kaleido + the local Chromium, offline)
# ---------------------------------------------------------------------------------------------
def test_export_png_with_kaleido(small_result: Any, tmp_path: Path) -> None:
    try:
        import kaleido  # noqa: F401
    except ImportError:
        skip_or_fail("needs kaleido (pip install kaleido) for --format png", REQUIRE_BROWSER)
    chromium_path()
    from hashshift.report import figures
    from hashshift.report.export import export_figures
    from hashshift.report.html import FigureSpec

    specs = [FigureSpec("china-provinces", "observed", figures.china_province_map(), ""),
             FigureSpec("retargets", "scenario", figures.retarget_figure(small_result), "")]
    paths = export_figures(specs, tmp_path, "png", width=1000, scale=1)
    assert [p.name for p in paths] == ["01-china-provinces.png", "02-retargets.png"]
    for p in paths:
        data = p.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(paths[0], ARTIFACTS / "export-china-provinces.png")


# ---------------------------------------------------------------------------------------------
# the sweep's sensitivity section (issue 7: a tornado chart in the report)
# ---------------------------------------------------------------------------------------------
# lhs n = 2 × 2 ban choices = 4 short tasks of 8 paths (about 0.5 s each).
SWEEP_SPEC = small_sweep("t_report", n=2, paths=8, seed=5, horizon_days=45)


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny sweep run in-process: (its spec file, its work folder)."""
    from hashshift import sweep as sw

    folder = tmp_path_factory.mktemp("sweep")
    spec = folder / "tiny sweep.toml"
    spec.write_text(SWEEP_SPEC, encoding="utf-8")
    work = folder / "work"
    sw.run_sweep(sw.load_sweep(spec), scheduler="local", work_dir=work, ingest_results=False)
    return spec, work


@pytest.fixture(scope="module")
def sweep_report(swept: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
                 ) -> tuple[Path, Any]:
    from hashshift.report import build_report
    from hashshift.sweep import load_result

    res = load_result(*swept)
    out = tmp_path_factory.mktemp("sweep-report") / "sweep.html"
    return build_report(out, sweep=res, observed=False), res


def _tornado_metrics(res: Any) -> list[str]:
    from hashshift.sweep import HEADLINE_METRICS

    return [m for m in HEADLINE_METRICS if m in set(res.sensitivity["metric"])][:4]


def _rows(doc: _Doc, table_class: str) -> dict[str, list[dict[str, str | None]]]:
    """The cells' attributes of each ``<tr data-metric>`` of one table, by metric."""
    out: dict[str, list[dict[str, str | None]]] = {}
    inside, metric = False, None
    for tag, attrs in doc.tags:
        a = dict(attrs)
        if tag == "table":
            inside = table_class in (a.get("class") or "").split()
        elif inside and tag == "tr":
            metric = a.get("data-metric")
            if metric is not None:
                out.setdefault(metric, [])
        elif inside and tag == "td" and metric is not None:
            out[metric].append(a)
    return out


def test_load_result_collects_the_finished_tasks(swept: tuple[Path, Path]) -> None:
    from hashshift import sweep as sw

    spec, work = swept
    res = sw.load_result(spec, work)
    plan = sw.load_sweep(spec)
    assert res.plan is not None and res.plan.name == "t_report"
    assert res.stats.scheduler == "none" and res.stats.computed == 0
    assert res.stats.total == res.stats.resumed == len(res.tasks) == len(plan.tasks) == 4
    assert res.failures == [] and res.work_dir == work
    # the same table as collecting the parts by hand, and the same sensitivity
    import pandas as pd

    pd.testing.assert_frame_equal(res.tidy, sw.collect(work, plan))
    pd.testing.assert_frame_equal(res.sensitivity, sw.sensitivity(plan, res.tasks))
    assert sw.load_result(plan, work).tasks.equals(res.tasks)  # a loaded Sweep works too


def test_load_result_reads_failures(swept: tuple[Path, Path], tmp_path: Path) -> None:
    from hashshift import sweep as sw

    spec, work = swept
    copy = tmp_path / "work"
    shutil.copytree(work, copy)
    (copy / "part-000001.parquet").unlink()
    (copy / "part-000001.error.json").write_text(json.dumps(
        {"task": 1, "params": {"delay": 99.0}, "error": "EngineError: boom", "traceback": "tb"}))
    (copy / "part-000002.error.json").write_text("{damaged")  # ignored
    res = sw.load_result(spec, copy)
    assert len(res.tasks) == 3 and res.stats.total == 4 and res.stats.failed == 1
    assert res.failures == [sw.TaskFailure(1, {"delay": 99.0}, "EngineError: boom", "tb")]


def test_load_result_without_finished_tasks_says_what_to_run(swept: tuple[Path, Path],
                                                             tmp_path: Path) -> None:
    from hashshift import sweep as sw

    spec, _ = swept
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(sw.SweepError) as info:
        sw.load_result(spec, empty)
    msg = str(info.value)
    assert "t_report" in msg and str(empty) in msg and f"hashshift sweep {spec}" in msg
    with pytest.raises(sw.SweepError, match="no such file"):
        sw.load_result(tmp_path / "missing.toml", empty)


def test_report_has_a_sensitivity_section(sweep_report: tuple[Path, Any]) -> None:
    import numpy as np

    from hashshift.sweep import HEADLINE_METRICS

    path, res = sweep_report
    text = path.read_text(encoding="utf-8")
    doc = _parse(path)
    assert "<title>hashshift report: sweep t_report</title>" in text
    assert '<section id="sweep"><h2>Sweep t_report: effects and sensitivity</h2>' in text
    assert '<a href="#sweep">Sweep</a>' in text
    assert "4 of 4" in text and "migration.delay_median_days" in text
    for name in ("delay", "ban_region", "uniform 30 to 180", "grid: none, US"):
        assert f">{name}<" in text, name
    # the ranked effect charts of the categorical axis (ban vs none, paired path by path),
    # then one tornado per headline metric with a sensitivity row (at most 4): numeric axes only
    from hashshift.report.sensitivity import CHART_EFFECTS
    from hashshift.sim.outcomes import metric_label

    metrics = _tornado_metrics(res)
    assert len(metrics) == 4
    ids = [dict(a).get("id") for t, a in doc.tags if t == "div" and "plot" in
           (dict(a).get("class") or "").split()]
    assert ids == (["fig-effect-" + e.replace("_", "-") for e in CHART_EFFECTS]
                   + ["fig-tornado-" + m.replace("_", "-") for m in metrics])
    figs = _figures(doc)
    us = res.effects[res.effects["ban_region"] == "US"]
    assert len(us) and set(us["counterfactual"]) <= set(
        res.tasks.loc[res.tasks["ban_region"] == "none", "task"])
    for (fig, _), e in zip(figs[:len(CHART_EFFECTS)], CHART_EFFECTS, strict=True):
        want = us[us["effect"] == e].sort_values(["q50", "mean"], kind="stable")
        assert list(fig["data"][0]["y"]) == want["label"].tolist()
        np.testing.assert_allclose(_array(fig["data"][0]["x"]), want["q50"], rtol=1e-9)
        assert "United States (US)" in want["label"].iloc[0]
    for (fig, _), m in zip(figs[len(CHART_EFFECTS):], metrics, strict=True):
        assert {str(y) for t in fig["data"] for y in t["y"]} == {"delay"}
        assert metric_label(m) in fig["layout"]["title"]["text"]
    # the effects table: the US tasks, each cell the median of its paired differences
    for r in us.itertuples():
        assert f'data-task="{r.task}"' in text
        assert f'data-effect="{r.effect}" data-value="{float(r.q50)!r}"' in text
    # the distribution table: quantiles of each metric over the finished tasks
    dist = _rows(doc, "sweep-distribution")
    assert list(dist) == [m for m in HEADLINE_METRICS if m in res.tasks.columns]
    for m, cells in dist.items():
        y = res.tasks[m].to_numpy(dtype=float)
        y = y[np.isfinite(y)]
        values = [float(c["data-value"] or "nan") for c in cells if "data-value" in c]
        want = np.quantile(y, [0.0, 0.05, 0.5, 0.95, 1.0]) if y.size else np.full(5, np.nan)
        np.testing.assert_array_equal(values, want, err_msg=m)
        for v in want[np.isfinite(want)]:
            assert f">{v:,.4g}<" in text, (m, v)
    # the sensitivity table: every axis of the shown metrics, widest swing first
    sens = _rows(doc, "sweep-sensitivity")
    assert list(sens) == metrics
    for m in metrics:
        d = res.sensitivity[res.sensitivity["metric"] == m].sort_values("swing", ascending=False)
        first = d.iloc[0]
        assert (f'data-metric="{m}" data-axis="{first["axis"]}"') in text
        assert f">{first['swing']:,.4g}<" in text
    test_report_has_no_network_references(path)


def test_report_with_a_sweep_via_cli(swept: tuple[Path, Path], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from hashshift.cli import app

    spec, work = swept
    out = tmp_path / "with sweep.html"
    res = CliRunner().invoke(app, ["report", "--sweep", str(spec), "--sweep-work", str(work),
                                   "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    text = out.read_text(encoding="utf-8")
    assert "<title>hashshift report: sweep t_report</title>" in text
    assert 'id="fig-tornado-trough-drop-pct"' in text and 'id="fig-world-shares"' in text
    assert 'id="fig-effect-low-point-pct"' in text and 'class="sweep-effects"' in text
    assert text.index('<section id="sweep">') < text.index('<section id="observed">')


def test_report_sweep_errors_via_cli(swept: tuple[Path, Path], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from hashshift.cli import app

    runner = CliRunner()
    spec, _ = swept
    empty = tmp_path / "no parts"
    res = runner.invoke(app, ["report", "--sweep", str(spec), "--sweep-work", str(empty),
                              "--out", str(tmp_path / "x.html")])
    assert res.exit_code == 2, res.output
    assert "no finished task" in res.output and str(empty) in res.output
    assert "hashshift sweep" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "x.html").exists()
    res = runner.invoke(app, ["report", "--sweep", "no_such_sweep"])
    assert res.exit_code == 2 and "no such file" in res.output and "ban_top15" in res.output
    res = runner.invoke(app, ["report", "--sweep-work", str(empty)])
    assert res.exit_code == 2 and "--sweep-work needs --sweep" in res.output


def test_sweep_report_renders_offline_in_chromium(sweep_report: tuple[Path, Any]) -> None:
    path, res = sweep_report
    r = _render(path, "report-sweep")
    _assert_rendered_offline(r)
    from hashshift.report.sensitivity import CHART_EFFECTS

    assert [f["id"] for f in r["figures"]] == (
        ["fig-effect-" + e.replace("_", "-") for e in CHART_EFFECTS]
        + ["fig-tornado-" + m.replace("_", "-") for m in _tornado_metrics(res)])
