"""The dashboard's HTTP service: pages, assets, the JSON API, limits and security defaults.

Everything goes over real HTTP (httpx) to a uvicorn server started on a free loopback port.
"""

from __future__ import annotations

import copy
import io
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pandas as pd
import pytest
from numpy.testing import assert_allclose

pytest.importorskip("fastapi", reason="the web extra (fastapi) is not installed")
pytest.importorskip("uvicorn", reason="the web extra (uvicorn) is not installed")

from hashshift.sim.engine import Result  # noqa: E402
from hashshift.sim.scenario import Scenario, parse_scenario  # noqa: E402
from hashshift.web import Settings, create_app  # noqa: E402
from hashshift.web.server import BackgroundServer  # noqa: E402

PAGES = ["/", "/map", "/events", "/network", "/energy", "/economics", "/lab"]


def shorten(sc: dict[str, Any], **run: int) -> dict[str, Any]:
    """A scenario JSON with a new run size; events after a shorter horizon are left out
    (:func:`hashshift.sim.scenario.with_overrides`)."""
    from hashshift.sim.scenario import Scenario, with_overrides

    out, _ = with_overrides(Scenario.model_validate(sc), **run)
    return out.model_dump(mode="json")


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    with BackgroundServer(create_app(Settings())) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server: BackgroundServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=300.0) as c:  # a hang guard only
        yield c


@pytest.fixture(scope="module")
def china(client: httpx.Client) -> dict[str, Any]:
    """The china_2021 example as JSON, shrunk to a quick run."""
    r = client.get("/api/examples/china_2021")
    assert r.status_code == 200
    return shorten(r.json()["scenario"], paths=24, horizon_days=60)


# ---------------------------------------------------------------------------------------------
# pages and assets
# ---------------------------------------------------------------------------------------------
def test_pages_use_only_local_assets(client: httpx.Client) -> None:
    seen: set[str] = set()
    for page in PAGES:
        r = client.get(page)
        assert r.status_code == 200, page
        assert r.headers["content-type"].startswith("text/html")
        html = r.text
        assert "<title>" in html and "hashshift" in html
        refs = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert refs, page
        for ref in refs:
            assert ref.startswith("/") and not ref.startswith("//"), f"{page}: remote {ref}"
            seen.add(ref)
        assert "<script>" not in html, "no inline script (the CSP forbids it)"
    for ref in sorted(seen):
        r = client.get(ref)
        assert r.status_code == 200, ref
    assert {"/static/vendor/plotly.min.js", "/static/css/app.css", "/static/js/common.js",
            "/static/js/lab.js", "/favicon.ico"} <= seen


def test_static_assets_are_the_vendored_files(client: httpx.Client) -> None:
    from hashshift.report.assets import vendor_dir, vendored_files

    names = vendored_files()
    for url, kind in (("/static/vendor/plotly.min.js", "plotly.js"),
                      ("/static/topojson/world_110m.json", "world_110m"),
                      ("/static/geo/china_provinces.geojson", "china_provinces")):
        r = client.get(url)
        assert r.status_code == 200
        assert r.content == vendor_dir().joinpath(names[kind]).read_bytes(), url
        assert "max-age" in r.headers["cache-control"]
    topo = client.get("/static/topojson/world_110m.json").json()
    assert topo["type"] == "Topology" and "countries" in topo["objects"]
    # the dashboard points plotly's geo maps at the local topojson, never at the CDN
    common = client.get("/static/js/common.js").text
    assert 'topojsonURL: "/static/topojson/"' in common
    for name in ("common", "map", "network", "energy", "economics", "lab"):
        js = client.get(f"/static/js/{name}.js").text
        assert "http://" not in js and "https://" not in js, name
    assert "http" not in client.get("/static/css/app.css").text
    # ETag revalidation
    r = client.get("/static/js/map.js")
    again = client.get("/static/js/map.js", headers={"if-none-match": r.headers["etag"]})
    assert again.status_code == 304


def test_favicon(client: httpx.Client) -> None:
    r = client.get("/favicon.ico")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("image/svg+xml")
    assert r.text.startswith("<svg")


def test_security_headers(client: httpx.Client) -> None:
    for url in ("/", "/lab", "/api/limits", "/static/js/lab.js", "/api/nope"):
        h = client.get(url).headers
        csp = h["content-security-policy"]
        assert "default-src 'self'" in csp
        assert "script-src 'self';" in csp, "scripts: this origin only, no inline, no eval"
        assert "unsafe-eval" not in csp
        assert "frame-ancestors 'none'" in csp
        assert "connect-src 'self'" in csp
        assert "http" not in csp and "*" not in csp, "no remote source"
        assert h["x-content-type-options"] == "nosniff"
        assert h["x-frame-options"] == "DENY"
        assert "server" not in h  # no software banner


def test_foreign_host_header_is_refused(server: BackgroundServer) -> None:
    r = httpx.get(server.url + "/", headers={"host": "evil.example"}, timeout=300)
    assert r.status_code == 400
    ok = httpx.get(server.url + "/api/limits", headers={"host": f"localhost:{server.port}"},
                   timeout=300)
    assert ok.status_code == 200


@pytest.mark.parametrize("url", [
    "/nope", "/map/extra", "/api/nope", "/api/examples/nope", "/api/examples/..%2F..%2Fpyproject",
    "/static/js/nope.js", "/static/vendor/plotly-4.1.1.min.js", "/static/js/..%2F..%2Fapp.py",
    "/api/runs/0123456789abcdef", "/api/runs/0123456789abcdef/daily.csv",
    "/api/economics?machine=Nope%209000", "/api/economics?machine=Antminer%20S9&month=1999-01",
    "/api/map?month=1999-01", "/docs", "/redoc",
])
def test_unknown_pages_and_ids_are_404(client: httpx.Client, url: str) -> None:
    r = client.get(url)
    assert r.status_code == 404, (url, r.text[:200])
    assert "detail" in r.json()


def test_unknown_page_in_a_browser_is_an_html_404(client: httpx.Client) -> None:
    r = client.get("/nowhere", headers={"accept": "text/html"})
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "Page not found" in r.text


def test_openapi_schema(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for p in ("/api/history", "/api/map", "/api/energy", "/api/economics", "/api/examples",
              "/api/examples/{name}", "/api/scenario/run", "/api/runs/{run_hash}/{name}",
              "/api/retarget"):
        assert p in paths, p
    assert "requestBody" in paths["/api/scenario/run"]["post"]
    assert "429" in paths["/api/scenario/run"]["post"]["responses"]
    index = client.get("/api").json()
    assert index["openapi"] == "/openapi.json"
    assert any(e["path"] == "/api/scenario/run" for e in index["endpoints"])


# ---------------------------------------------------------------------------------------------
# observed layer
# ---------------------------------------------------------------------------------------------
def test_history(client: httpx.Client) -> None:
    h = client.get("/api/history").json()
    d, e = h["daily"], h["epochs"]
    assert len(d["date"]) == len(d["hashrate_ehs"]) > 5000
    assert d["date"][0].startswith("2009-01")
    assert len(e["epoch"]) == len(e["difficulty"]) > 400
    i = e["first_height"].index(689_472)
    assert e["change_pct"][i] == pytest.approx(-27.94, abs=0.01)
    assert [x["halving"] for x in h["halvings"]][:4] == [1, 2, 3, 4]
    # truth in labels (issue 15 §4): 'daily' is the epoch's estimate and 95 % interval
    # repeated over its days; blocks_daily holds the daily estimates with 90 % intervals
    assert d["level"] == 0.95 and "not a daily interval" in d["what"]
    j = d["date"].index("2021-07-10")  # inside the epoch that began on 3 July 2021
    assert d["hashrate_lo_ehs"][j] == d["hashrate_lo_ehs"][j + 1]
    assert d["hashrate_hi_ehs"][j] == d["hashrate_hi_ehs"][j + 1]
    b = h["blocks_daily"]
    assert b["level"] == 0.90 and "90 % interval" in b["estimator"]
    k = b["date"].index("2021-07-10")
    assert b["hashrate_hi_ehs"][k] != b["hashrate_hi_ehs"][k + 1]  # a real daily interval
    home = client.get("/").text
    assert "95 % interval" not in home and "90 % intervals" in home


def test_retarget_projection(client: httpx.Client) -> None:
    r = client.get("/api/retarget").json()
    # the test store is empty: no estimate, and what would give one
    assert r["source"] == "none" and "change_pct" not in r and "tip_height" not in r
    assert "hashshift data update" in r["needs"] and "blocks" in r["needs"]
    assert r["retarget_height"] == r["first_height"] + 2016
    # the rule reproduces the last real retarget exactly (same compact bits)
    assert r["check"]["new_bits"] == r["check"]["actual_bits"]
    assert r["check"]["projected_change_pct"] == pytest.approx(r["check"]["actual_change_pct"],
                                                               abs=1e-3)
    # on schedule (600 s a block): Core measures 2015 intervals against 2016 × 600 s, so the
    # difficulty still rises by 1/2015 (the off-by-one of CalculateNextWorkRequired)
    def change(spacing_s: float) -> float:
        return (1_209_600 / (2015 * spacing_s) - 1) * 100

    on = client.get("/api/retarget", params={"blocks": 1008,
                                             "elapsed_hours": 1007 * 600 / 3600}).json()
    assert on["source"] == "input" and not on["clamped"]
    assert on["change_pct"] == pytest.approx(change(600), abs=2e-3)
    assert on["change_pct"] == pytest.approx(0.0496, abs=1e-3)
    fast = client.get("/api/retarget", params={"blocks": 1008,
                                               "elapsed_hours": 1007 * 300 / 3600}).json()
    assert fast["change_pct"] == pytest.approx(change(300), abs=0.01)  # compact rounding
    assert fast["mean_block_interval_s"] == pytest.approx(300)
    clamp = client.get("/api/retarget", params={"blocks": 2016, "elapsed_hours": 24}).json()
    assert clamp["clamped"] and clamp["change_pct"] == pytest.approx(300.0, abs=0.01)
    assert clamp["unclamped_change_pct"] > 1000
    slow = client.get("/api/retarget", params={"blocks": 100, "elapsed_hours": 24 * 30}).json()
    assert slow["clamped"] and slow["change_pct"] == pytest.approx(-75.0, abs=0.01)


def test_retarget_from_the_store_tip(client: httpx.Client,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from hashshift import history
    from hashshift.web import data

    cur = history.epochs().iloc[-1]
    first = int(cur["first_time"].timestamp())
    tip = {"height": int(cur["first_height"]) + 1000, "bits": int(cur["bits"]),
           "time": first + 1000 * 600, "epoch_start_time": first}
    monkeypatch.setattr(data, "_store_tip", lambda: tip)
    r = client.get("/api/retarget").json()
    assert r["source"] == "store" and "local store" in r["note"]
    assert r["blocks"] == 1001 and r["tip_height"] == tip["height"]
    assert r["change_pct"] == pytest.approx((1_209_600 / (2015 * 600) - 1) * 100, abs=2e-3)


@pytest.mark.parametrize("params,field", [
    ({"blocks": 1, "elapsed_hours": 3}, "blocks"),
    ({"blocks": 2017, "elapsed_hours": 3}, "blocks"),
    ({"blocks": 100, "elapsed_hours": 0}, "elapsed_hours"),
    ({"blocks": 100, "elapsed_hours": "nan"}, "elapsed_hours"),
    ({"blocks": 100}, "elapsed_hours"),
])
def test_retarget_bad_input_is_422(client: httpx.Client, params: dict[str, Any],
                                   field: str) -> None:
    r = client.get("/api/retarget", params=params)
    assert r.status_code == 422
    assert any(d["field"] == field for d in r.json()["detail"]), r.text


def test_map(client: httpx.Client) -> None:
    months = client.get("/api/map/months").json()["months"]
    assert months[0] == "2019-09" and "2021-04" in months
    v = client.get("/api/map", params={"month": "2021-04", "level": "country"}).json()
    assert v["month"] == "2021-04" and v["level"] == "country"
    assert sum(r["share_pct"] for r in v["rows"]) == pytest.approx(100, abs=0.1)
    cn = next(r for r in v["rows"] if r["code"] == "CN")
    assert cn["iso3"] == "CHN" and cn["mapped"]
    assert v["caveat"] and "CCAF" in v["source"]
    p = client.get("/api/map", params={"month": "2021-04", "level": "province"}).json()
    assert sum(r["share_of_china_pct"] for r in p["rows"]) == pytest.approx(100, abs=0.1)
    assert sum(r["share_pct"] for r in p["rows"]) == pytest.approx(cn["share_pct"], abs=0.1)
    assert {"CN-XJ", "CN-SC"} <= {r["code"] for r in p["rows"]}
    latest = client.get("/api/map").json()
    assert latest["month"] == months[-1]
    for params, field in (({"level": "state"}, "level"), ({"month": "April"}, "month")):
        r = client.get("/api/map", params=params)
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == field


def test_energy(client: httpx.Client) -> None:
    cheap = client.get("/api/energy", params={"price": 0.03}).json()
    dear = client.get("/api/energy", params={"price": 0.12}).json()
    s = cheap["series"]
    assert len(s["date"]) == len(s["power_guess_gw"]) > 100
    for v in (cheap, dear):
        L = v["latest"]
        assert L["power_lower_gw"] <= L["power_guess_gw"] <= L["power_upper_gw"]
        assert L["energy_guess_twh_yr"] == pytest.approx(L["power_guess_gw"] * 8.766, rel=1e-4)
    # dearer power: fewer machines profitable, lower threshold
    assert dear["latest"]["threshold_j_th"] < cheap["latest"]["threshold_j_th"]
    assert dear["latest"]["n_profitable"] <= cheap["latest"]["n_profitable"]
    for bad in ("0", "-1", "abc", "nan", "2"):
        r = client.get("/api/energy", params={"price": bad})
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == "price", bad


def test_energy_emissions(client: httpx.Client) -> None:
    r = client.get("/api/energy/emissions", params={"month": "2021-05"})
    assert r.status_code == 200, r.text
    found: list[str] = []
    v = json.loads(r.text, parse_constant=found.append)
    assert not found, f"non-strict JSON: {found}"
    s = v["series"]
    assert s["month"][0] == "2019-09" and v["last_published"] == "2022-01"
    i = s["month"].index("2021-05")
    assert s["kind"][i] == "observed" and s["kind"][-1] == "nowcast"
    # the model's numbers for 2021-05 (tests/test_emissions.py): 20.9 / 53.7 / 140.3 MtCO2e/yr
    assert_allclose([s["emissions_lower_mt_yr"][i], s["emissions_guess_mt_yr"][i],
                     s["emissions_upper_mt_yr"][i]], [20.903, 53.702, 140.343], rtol=1e-4)
    assert_allclose(s["power_guess_gw"][i], 12.34, atol=0.005)
    assert v["month"] == "2021-05" and v["month_kind"] == "observed"
    cn, world = v["countries"][0], v["countries"][-1]
    assert cn["region_code"] == "CN" and cn["intensity_g_kwh"] == 529.8
    assert world["region_code"] == "WORLD"
    assert_allclose(world["emissions_guess_mt_yr"], s["emissions_guess_mt_yr"][i], rtol=1e-5)
    assert "CBECI's power bounds" in v["bounds"] and "world average" in v["fallback"]
    # the default month is CCAF's last; a dearer price lowers the upper bound
    assert client.get("/api/energy/emissions").json()["month"] == "2022-01"
    dear = client.get("/api/energy/emissions", params={"price": 0.12}).json()["series"]
    assert dear["emissions_upper_mt_yr"][i] < s["emissions_upper_mt_yr"][i]
    bad = client.get("/api/energy/emissions", params={"month": "2030-01"})
    assert bad.status_code == 404 and "months with figures" in bad.text
    for field, value in (("month", "2021-5"), ("price", "0")):
        r = client.get("/api/energy/emissions", params={field: value})
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == field, value


def test_economics(client: httpx.Client) -> None:
    machines = client.get("/api/machines").json()["machines"]
    assert len(machines) > 50
    model = "Antminer S19 XP"
    assert any(m["model"] == model for m in machines)
    v = client.get("/api/economics", params={"machine": model, "price": 0.05}).json()
    m = v["machine"]
    assert m["break_even_usd_kwh"] == pytest.approx(
        v["hashprice_usd_ph_day"] / (m["efficiency_j_th"] * 24), rel=1e-4)
    assert m["margin_usd_day"] == pytest.approx(m["revenue_usd_day"] - m["power_cost_usd_day"],
                                                abs=1e-3)
    assert m["profitable"] == (m["efficiency_j_th"] < v["threshold_j_th"])
    old = client.get("/api/economics", params={"machine": model, "price": 0.05,
                                               "month": "2021-06"}).json()
    assert old["month"] == "2021-06" and not old["machine"]["released_by_month"]
    assert client.get("/api/economics", params={"price": 0.05}).status_code == 422


def test_examples(client: httpx.Client) -> None:
    ex = client.get("/api/examples").json()["examples"]
    names = {e["name"] for e in ex}
    assert {"china_2021", "baseline_2021"} <= names
    china = next(e for e in ex if e["name"] == "china_2021")
    assert china["bans"] >= 5
    one = client.get("/api/examples/china_2021").json()
    Scenario.model_validate(one["scenario"])
    assert parse_scenario(one["toml"]).scenario.name == one["title"]
    assert one["region_names"]["CN-XJ"] == "Xinjiang"


def test_api_urls_with_a_trailing_slash_are_not_found(client: httpx.Client) -> None:
    # no automatic redirect to the URL without the slash (it was a 307 for `%2F` as a name)
    for url in ("/api/map/", "/api/examples/", "/api/examples/%2F", "/api/runs/%2F",
                "/api/examples/china_2021/"):
        r = client.get(url, follow_redirects=False)
        assert r.status_code == 404 and r.json()["detail"], (url, r.status_code)
    # the pages keep their own redirects
    for slug in ("map", "lab"):
        r = client.get(f"/{slug}/", follow_redirects=False)
        assert r.status_code == 308 and r.headers["location"] == f"/{slug}"


# ---------------------------------------------------------------------------------------------
# scenario runs
# ---------------------------------------------------------------------------------------------
def test_run_compare_cache_and_download(client: httpx.Client, china: dict[str, Any]) -> None:
    r = client.post("/api/scenario/run", json=china)
    assert r.status_code == 200, r.text
    out = r.json()
    assert re.fullmatch(r"[0-9a-f]{16}", out["hash"])
    assert out["cached"] is False
    res, base = out["result"], out["baseline"]["result"]
    assert out["baseline"]["hash"] != out["hash"]
    assert len(res["dates"]) == 60 and res["dates"][0] == "2021-05-31"
    hr = res["world"]["hashrate_ehs"]
    assert all(hr["q05"][i] <= hr["q50"][i] <= hr["q95"][i] for i in range(60))
    # the June bans: by the end of July the scenario's hashrate is well below the baseline's
    assert hr["q50"][-1] < 0.85 * base["world"]["hashrate_ehs"]["q50"][-1]
    assert res["summary"]["largest_cut"]["change_pct"] < -15
    assert "(baseline: bans removed)" in base["name"]
    assert "CN-XJ" in res["regions"]

    # the same scenario again: from the cache, not computed again (how fast a cached answer
    # is, is measured in benchmarks/bench_web_load.py)
    runs_before = len(client.get("/api/runs").json()["runs"])
    again = client.post("/api/scenario/run", json=china)
    assert again.status_code == 200 and again.json()["cached"] is True
    assert again.json()["hash"] == out["hash"]
    assert again.json()["result"] == out["result"]
    assert len(client.get("/api/runs").json()["runs"]) == runs_before
    assert client.get(f"/api/runs/{out['hash']}").json()["hash"] == out["hash"]
    assert out["hash"] in {x["hash"] for x in client.get("/api/runs").json()["runs"]}

    # downloads: CSV, JSON and TOML of the result and the scenario
    dl = out["downloads"]
    daily = client.get(dl["daily.csv"])
    assert daily.status_code == 200 and daily.headers["content-type"].startswith("text/csv")
    assert "attachment" in daily.headers["content-disposition"]
    df = pd.read_csv(io.StringIO(daily.text))
    assert list(df.columns) == ["date", "region", "metric", "mean", "q05", "q25", "q50", "q75",
                                "q95"]
    assert df["date"].iloc[0] == "2021-05-31"
    assert {"WORLD", "CN-XJ"} <= set(df["region"])
    epochs = pd.read_csv(io.StringIO(client.get(dl["epochs.csv"]).text))
    assert 689_472 - 2016 in set(epochs["first_height"])
    config = client.get(dl["config.json"]).json()
    assert config["paths"] == 24 and config["seed"] == china["scenario"]["seed"]
    toml = client.get(dl["scenario.toml"])
    assert toml.headers["content-type"].startswith("application/toml")
    assert parse_scenario(toml.text) == Scenario.model_validate(china)
    assert client.get(dl["scenario.json"]).json() == Scenario.model_validate(china).model_dump(
        mode="json")
    assert client.get(dl["result.json"]).json()["dates"] == res["dates"]
    base_csv = client.get(out["baseline"]["downloads"]["daily.csv"])
    assert base_csv.status_code == 200


def test_run_without_baseline_and_without_bans(client: httpx.Client,
                                                china: dict[str, Any]) -> None:
    sc = copy.deepcopy(china)
    sc["scenario"]["seed"] = 7
    r = client.post("/api/scenario/run", params={"baseline": "false"}, json=sc).json()
    assert r["baseline"] is None and r["baseline_note"] == "not requested"
    sc["event"] = [e for e in sc["event"] if e["kind"] != "ban"]
    r = client.post("/api/scenario/run", json=sc).json()
    assert r["baseline"] is None and "no ban" in r["baseline_note"]


def _mutate(sc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(sc)
    node: Any = out
    parts = re.findall(r"[^.\[\]]+", path)
    for p in parts[:-1]:
        node = node[int(p)] if p.isdigit() else node[p]
    last = parts[-1]
    node[int(last) if last.isdigit() else last] = value
    return out


@pytest.mark.parametrize("path,value,field", [
    ("scenario.paths", 2_001, "scenario.paths"),
    ("scenario.horizon_days", 731, "scenario.horizon_days"),
    ("scenario.paths", 0, "scenario.paths"),
    ("scenario.as_of", "31/05/2021", "scenario.as_of"),
    ("event.0.enforcement", 1.5, "event[0].enforcement"),
    ("event.0.effective", "2021-01-01", "event[0]"),
    ("event.1.region", "XX-NOPE", "event[1].region"),
    ("event.2.kind", "meteor", "event[2]"),
    ("price.kind", "moon", "price.kind"),
    ("scenario.colour", "blue", "scenario.colour"),
])
def test_invalid_scenario_is_422_naming_the_field(client: httpx.Client, china: dict[str, Any],
                                                  path: str, value: Any, field: str) -> None:
    r = client.post("/api/scenario/run", json=_mutate(china, path, value))
    assert r.status_code == 422, r.text
    body = r.json()
    assert any(d["field"] == field for d in body["detail"]), body
    assert any(p.startswith(field) for p in body["problems"])


def test_invalid_json_and_wrong_type_are_422(client: httpx.Client) -> None:
    r = client.post("/api/scenario/run", content=b"{not json",
                    headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "body"
    r = client.post("/api/scenario/run", json={})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "scenario"
    r = client.post("/api/scenario/run", content=b'{"scenario": {}}',
                    headers={"content-type": "text/plain"})
    assert r.status_code == 422


def test_parse_toml(client: httpx.Client) -> None:
    text = (pytest.importorskip("importlib.resources").files("hashshift")
            .joinpath("examples/china_2021.toml").read_text())
    r = client.post("/api/scenario/parse", content=text.encode())
    assert r.status_code == 200 and r.json()["scenario"]["scenario"]["name"]
    bad = client.post("/api/scenario/parse", content=b"[scenario]\nname = 'x'\npaths = 0\n")
    assert bad.status_code == 422
    fields = {d["field"] for d in bad.json()["detail"]}
    assert {"scenario.paths", "scenario.as_of"} <= fields
    # validated as fully as a run: a region the run cannot resolve is refused, naming it
    nope = text.replace('region = "CN-XJ"', 'region = "CN-ZZ"', 1)
    r = client.post("/api/scenario/parse", content=nope.encode())
    assert r.status_code == 422, r.text
    assert any("CN-ZZ" in d["msg"] and d["field"].startswith("event") for d in r.json()["detail"])
    texas = text + ('\n[[event]]\nkind = "curtailment"\nregion = "US-TX"\nstart = 2021-08-01'
                    '\nend = 2021-08-05\nshare = 0.5\n')
    r = client.post("/api/scenario/parse", content=texas.encode())
    assert r.status_code == 422 and "split_pct.US-TX" in r.text


def test_oversize_body_is_413(server: BackgroundServer, client: httpx.Client) -> None:
    big = b'{"x": "' + b"a" * (300 * 1024) + b'"}'
    r = client.post("/api/scenario/run", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
        for i in range(0, len(big), 16 * 1024):
            yield big[i:i + 16 * 1024]

    r = client.post("/api/scenario/run", content=chunks(),
                    headers={"content-type": "application/json"})
    assert r.status_code == 413
    # just under the limit is read (and then judged on its content)
    ok = b'{"x": "' + b"a" * (200 * 1024) + b'"}'
    r = client.post("/api/scenario/run", content=ok, headers={"content-type": "application/json"})
    assert r.status_code == 422


def _tiny(sc: dict[str, Any], seed: int) -> dict[str, Any]:
    return shorten(copy.deepcopy(sc), paths=4, horizon_days=8, seed=seed)


def test_busy_is_429_and_the_server_stays_responsive(china: dict[str, Any]) -> None:
    from hashshift.sim.engine import run

    gate = threading.Event()
    calls: list[str] = []

    def slow_runner(scenario: Scenario, progress: Callable[[int, int], None]) -> Result:
        calls.append(scenario.scenario.name)
        progress(1, scenario.scenario.horizon_days)
        assert gate.wait(300), "the test never released the run"
        return run(scenario, progress=progress)

    app = create_app(Settings(max_concurrent_runs=1), runner=slow_runner)
    runs = app.state.runs
    with BackgroundServer(app) as srv, httpx.Client(base_url=srv.url, timeout=300) as c:
        first = _tiny(china, 1)
        results: dict[str, httpx.Response] = {}

        def post(key: str, body: dict[str, Any]) -> None:
            results[key] = c.post("/api/scenario/run", params={"baseline": "false"}, json=body)

        a = threading.Thread(target=post, args=("a", first))
        a.start()
        deadline = time.monotonic() + 120  # a hang guard: waits for a state, not a time
        while c.get("/api/runs/active").json()["active"] < 1:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        # another scenario while the only slot is busy: 429 with Retry-After
        busy = c.post("/api/scenario/run", params={"baseline": "false"}, json=_tiny(china, 2))
        assert busy.status_code == 429 and busy.headers["retry-after"]
        assert "try again" in busy.json()["detail"]
        # the same scenario joins the computation under way instead
        b = threading.Thread(target=post, args=("b", first))
        b.start()
        deadline = time.monotonic() + 120
        while runs.joined < 1:  # b has joined a's computation
            assert time.monotonic() < deadline
            time.sleep(0.02)
        # meanwhile (the run waits for the gate) the server answers other requests
        assert c.get("/api/limits").json()["max_concurrent_runs"] == 1
        assert c.get("/api/examples").status_code == 200
        active = c.get("/api/runs/active").json()
        assert active["runs"][0]["done"] == 1 and active["runs"][0]["total"] == 8
        gate.set()
        a.join()
        b.join()
        assert results["a"].status_code == 200 and results["b"].status_code == 200
        assert results["a"].json()["hash"] == results["b"].json()["hash"]
        assert len(calls) == 1, "one computation for two identical requests"
        # the slot is free again
        again = c.post("/api/scenario/run", params={"baseline": "false"}, json=_tiny(china, 2))
        assert again.status_code == 200


def test_cache_is_an_lru(china: dict[str, Any]) -> None:
    app = create_app(Settings(cache_size=2))
    with BackgroundServer(app) as srv, httpx.Client(base_url=srv.url, timeout=300) as c:
        hashes = []
        for seed in (1, 2, 3):
            r = c.post("/api/scenario/run", params={"baseline": "false"},
                       json=_tiny(china, seed))
            hashes.append(r.json()["hash"])
        assert c.get(f"/api/runs/{hashes[0]}").status_code == 404  # evicted
        assert c.get(f"/api/runs/{hashes[2]}").status_code == 200


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="max_paths"):
        Settings(max_paths=10**9)
    with pytest.raises(ValueError, match="max_concurrent_runs"):
        Settings(max_concurrent_runs=0)


# ---------------------------------------------------------------------------------------------
# the command
# ---------------------------------------------------------------------------------------------
def test_serve_command(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn
    from typer.testing import CliRunner

    from hashshift.cli import app

    calls: list[dict[str, Any]] = []

    def fake_run(asgi: Any, **kw: Any) -> None:
        calls.append({"app": asgi, **kw})

    monkeypatch.setattr(uvicorn, "run", fake_run)
    runner = CliRunner()
    r = runner.invoke(app, ["serve", "--port", "8123"])
    assert r.exit_code == 0, r.output
    assert calls[-1]["host"] == "127.0.0.1" and calls[-1]["port"] == 8123
    assert "warning" not in r.output.lower()
    assert calls[-1]["app"].state.settings.allowed_hosts == ("127.0.0.1", "localhost", "::1")
    r = runner.invoke(app, ["serve", "--host", "0.0.0.0", "--max-paths", "500"])
    assert r.exit_code == 0, r.output
    assert "warning" in r.output.lower() and "0.0.0.0" in r.output
    assert calls[-1]["host"] == "0.0.0.0"
    assert calls[-1]["app"].state.settings.max_paths == 500
    r = runner.invoke(app, ["serve", "--max-paths", "999999999"])
    assert r.exit_code == 2 and "max_paths" in r.output
    help_text = runner.invoke(app, ["serve", "--help"]).output
    assert "127.0.0.1" in help_text


def test_json_api_is_plain_json(client: httpx.Client) -> None:
    """No NaN sneaks into the JSON (strict parsers reject it)."""
    for url in ("/api/history", "/api/energy?price=0.05", "/api/energy/emissions",
                "/api/map?level=province",
                "/api/overview"):
        found: list[str] = []
        json.loads(client.get(url).text, parse_constant=found.append)
        assert not found, f"{url}: {found} in JSON"


# ---------------------------------------------------------------------------------------------
# worker processes: partial bands, inputs kept, a clean stop (issue 16)
# ---------------------------------------------------------------------------------------------
def test_partial_bands_while_a_run_computes() -> None:
    """With the engine in worker processes, the bands of the days simulated so far are
    readable while a run computes (``RunManager.running``: the ``partial`` entry), they grow
    in blocks of days, and they are the final result's bands for those days."""
    import asyncio

    import numpy as np
    from numpy.testing import assert_allclose

    from hashshift.sim.engine import CHUNK_DAYS
    from hashshift.sim.examples import load_example
    from hashshift.web.runs import RunManager

    sc = load_example("china_2021")
    sc = sc.model_copy(update={"scenario": sc.scenario.model_copy(
        update={"paths": 2_000, "horizon_days": 730})})
    seen: list[dict[str, Any]] = []

    async def run_and_watch() -> Any:
        task = asyncio.ensure_future(manager.run([sc], client="test"))
        while not task.done():
            for r in manager.running():
                if "partial" in r and r["partial"]["days"] < 730:
                    seen.append(r["partial"])
            await asyncio.sleep(0.01)
        return (await task)[0][0]

    manager = RunManager(1, processes=True, nice=0)
    try:
        rec = asyncio.run(run_and_watch())
    finally:
        manager.close()
    assert seen, "no partial bands were readable while the run computed"
    days = [p["days"] for p in seen]
    assert days == sorted(days) and all(d % CHUNK_DAYS == 0 for d in days)
    last = seen[-1]
    assert last["dates"][0] == "2021-05-31" and len(last["dates"]) == last["days"]
    world = rec.result.world("hashrate_ehs")
    for q in ("q05", "q50", "q95"):
        got = np.array(last["world"]["hashrate_ehs"][q])
        assert_allclose(got, world[q].to_numpy()[: last["days"]], rtol=1e-5)


def test_worker_inputs_are_kept_across_paths_and_seeds() -> None:
    """A worker keeps the inputs it resolved for the next run of the same scenario with other
    paths or another seed (what resolution depends on leaves both out), and they are the
    inputs resolution gives."""
    import numpy as np
    from numpy.testing import assert_array_equal

    from hashshift.sim.engine import resolve
    from hashshift.sim.examples import load_example
    from hashshift.web import runs

    sc = load_example("china_2021")
    other = sc.model_copy(update={"scenario": sc.scenario.model_copy(
        update={"paths": 7, "seed": 99})})
    runs._INPUTS.clear()
    a = runs._inputs(sc)
    b = runs._inputs(other)
    assert len(runs._INPUTS) == 1 and b.scenario is other and a.scenario is sc
    fresh = resolve(other)
    for name in ("regions", "shares", "price_usd_kwh", "intensity_g_kwh", "capacity_mw",
                 "btc_usd", "fee_btc_block", "share_samples", "height", "bits"):
        assert_array_equal(np.asarray(getattr(b, name)), np.asarray(getattr(fresh, name)))


def test_serve_stops_cleanly_on_ctrl_c(tmp_path: Any) -> None:
    """``hashshift serve`` after a run with its baseline, stopped by Ctrl+C sent to its whole
    process group as a terminal does: it exits 0, its worker processes are gone, and nothing
    is reported: no traceback, no leaked semaphore."""
    import os
    import signal
    import subprocess
    import sys

    from hashshift.web.server import free_port

    port = free_port()
    env = dict(os.environ, HASHSHIFT_HOME=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-m", "hashshift", "serve", "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/api/limits", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.05)
        sc = httpx.get(base + "/api/examples/china_2021", timeout=30).json()["scenario"]
        r = httpx.post(base + "/api/scenario/run", json=shorten(sc, paths=20, horizon_days=30),
                       timeout=300)
        assert r.status_code == 200 and r.json()["baseline"] is not None
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text
    assert "leaked" not in text, text
    deadline = time.monotonic() + 30
    while True:  # no process of the group is left (its workers, the resource tracker)
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline, "processes of the server are still running"
        time.sleep(0.05)
