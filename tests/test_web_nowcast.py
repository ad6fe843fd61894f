"""The dashboard's API for the map after CCAF (the nowcast), the natural experiments and the data's
freshness: over real HTTP (httpx) to a uvicorn server on a free loopback port, each answer
checked against the model function that makes its numbers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

pytest.importorskip("fastapi", reason="the web extra (fastapi) is not installed")
pytest.importorskip("uvicorn", reason="the web extra (uvicorn) is not installed")

from hashshift import atlas, events, freshness  # noqa: E402
from hashshift.web import Settings, create_app  # noqa: E402
from hashshift.web.server import BackgroundServer  # noqa: E402


@pytest.fixture(scope="module")
def app() -> Any:
    return create_app(Settings())


@pytest.fixture(scope="module")
def client(app: Any) -> Iterator[httpx.Client]:
    with BackgroundServer(app) as srv, httpx.Client(base_url=srv.url, timeout=120.0) as c:
        yield c


def _strict(r: httpx.Response) -> Any:
    assert r.status_code == 200, r.text
    found: list[str] = []
    out = json.loads(r.text, parse_constant=found.append)
    assert not found, f"{r.url}: {found} in JSON"
    return out


def test_months_observed_then_nowcast(client: httpx.Client) -> None:
    m = _strict(client.get("/api/nowcast/months"))
    assert m["as_of"] == str(freshness.newest_day()) and m["last_published"] == "2022-01"
    country = m["levels"]["country"]
    assert country[0] == {"month": "2019-09", "kind": "observed"}
    kinds = [x["kind"] for x in country]
    first_nowcast = kinds.index("nowcast")
    assert country[first_nowcast - 1]["month"] == "2022-01" and country[first_nowcast]["month"] \
        == "2022-02"
    assert set(kinds[first_nowcast:]) == {"nowcast"}  # no observed month after the nowcast's
    assert country[-1]["month"] == f"{freshness.nowcast_reach():%Y-%m}"
    province = m["levels"]["province"]
    assert province[-1] == {"month": "2021-07", "kind": "observed"}  # CCAF's provinces end


def test_a_nowcast_month_has_intervals_and_the_fixed_scale(client: httpx.Client) -> None:
    v = _strict(client.get("/api/nowcast", params={"month": "2024-06"}))
    assert v["kind"] == "nowcast" and v["label"] == "nowcast, not observed"
    model = atlas.map_month("2024-06").set_index("region_code")
    for r in v["rows"]:
        assert r["share_lo_pct"] <= r["share_pct"] <= r["share_hi_pct"]
        assert r["share_pct"] == pytest.approx(model.loc[r["code"], "share_pct_q50"], rel=1e-4)
    us = next(r for r in v["rows"] if r["code"] == "US")
    assert us["share_hi_pct"] > us["share_lo_pct"] and us["iso3"] == "USA"
    assert any(s["code"] == "US-TX" for s in v["subdivisions"])  # Texas, split off the US
    obs = _strict(client.get("/api/nowcast", params={"month": "2022-01"}))
    assert obs["kind"] == "observed"
    cn = next(r for r in obs["rows"] if r["code"] == "CN")
    assert cn["share_pct"] == cn["share_lo_pct"] == cn["share_hi_pct"] == 21.11
    first = _strict(client.get("/api/nowcast", params={"month": "2019-09"}))
    # one colour scale for every month, observed or nowcast
    assert v["zmax_pct"] == obs["zmax_pct"] == first["zmax_pct"] == 80
    assert v["colorscale"] == obs["colorscale"]
    newest = _strict(client.get("/api/nowcast"))
    assert newest["month"] == f"{freshness.nowcast_reach():%Y-%m}"


def test_nowcast_errors(client: httpx.Client) -> None:
    r = client.get("/api/nowcast", params={"month": "2030-01"})
    assert r.status_code == 404 and "2019-09 … " in r.json()["detail"]
    r = client.get("/api/nowcast", params={"month": "2024-01", "level": "province"})
    assert r.status_code == 404 and "province" in r.json()["detail"]
    for params, field in (({"level": "state"}, "level"), ({"month": "2024"}, "month")):
        r = client.get("/api/nowcast", params=params)
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == field


def test_shares_over_time(client: httpx.Client) -> None:
    s = _strict(client.get("/api/nowcast/series"))
    frame = atlas.shares_over_time("country")
    assert s["months"][0] == "2019-09" and len(s["months"]) == frame["month"].nunique()
    assert s["observed"][s["months"].index("2022-01")] is True
    assert s["observed"][s["months"].index("2022-02")] is False
    us = next(r for r in s["regions"] if r["code"] == "US")
    i = s["months"].index("2022-01")
    assert us["q05"][i] == us["q50"][i] == us["q95"][i] == 37.84  # observed: exact
    j = len(s["months"]) - 1
    assert us["q05"][j] < us["q50"][j] < us["q95"][j]  # nowcast: an interval


def test_events_and_one_study(client: httpx.Client) -> None:
    e = _strict(client.get("/api/events"))
    assert [x["event"] for x in e["events"]] == list(events.catalogue()["event"])
    kz = next(x for x in e["events"] if x["event"] == "kazakhstan_2022")
    assert kz["during_start"] == "2022-01-05T14:00Z" and kz["region_name"] == "Kazakhstan"
    st = _strict(client.get("/api/events/elliott_2022"))
    es = events.event_study("elliott_2022")
    assert st["resolution"] == "hour" and len(st["series"]["start"]) == len(es.series)
    assert st["drop_pct"]["drop_pct"] == pytest.approx(es.drop_pct["drop_pct"], rel=1e-5)
    assert [w["window"] for w in st["windows"]] == ["before", "during"]
    r = client.get("/api/events/no_such_event")
    assert r.status_code == 404 and "elliott_2022" in r.json()["detail"]
    assert client.get("/api/events/..%2Fetc").status_code in (404, 422)


def test_repeated_reads_come_from_the_response_cache(app: Any, client: httpx.Client) -> None:
    cache = app.state.response_cache
    for url in ("/api/nowcast?month=2023-03", "/api/nowcast/series", "/api/events/fern_2026",
                "/api/events"):
        a = client.get(url)
        hits = cache.hits
        b = client.get(url)
        assert a.status_code == b.status_code == 200 and a.content == b.content
        assert cache.hits == hits + 1, url
    hits = cache.hits
    client.get("/api/freshness")
    client.get("/api/freshness")  # its ages change with the day: never cached whole
    assert cache.hits == hits


def test_freshness(client: httpx.Client) -> None:
    f = _strict(client.get("/api/freshness"))
    rows = {d["dataset"]: d for d in f["datasets"]}
    assert set(rows) == {"chain_epochs", "chain_daily", "market", "map", "nowcast", "events"}
    assert rows["map"]["last"] == "2022-01-31" and rows["map"]["public"] == "2022-05-17"
    assert f["newest_day"] == str(freshness.newest_day())
    for d in f["datasets"]:
        assert d["age_days"] >= 0 and d["first"] <= d["last"]
