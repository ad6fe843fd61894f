"""The dashboard's API for the daily figures, the next retarget from real inputs only, the lab's
region tree and schema, and what a late start extrapolates: over real HTTP to a uvicorn server
on a free loopback port, each answer checked against the model function behind it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("fastapi", reason="the web extra (fastapi) is not installed")
pytest.importorskip("uvicorn", reason="the web extra (uvicorn) is not installed")

import realheaders  # noqa: E402
from hashshift import history  # noqa: E402
from hashshift.pools import NO_POOL_DATA, pool_shares  # noqa: E402
from hashshift.sim.scenario import scenario_schema  # noqa: E402
from hashshift.sources.mempool import parse_pools  # noqa: E402
from hashshift.store import Store  # noqa: E402
from hashshift.web import Settings, create_app  # noqa: E402
from hashshift.web.server import BackgroundServer  # noqa: E402


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with BackgroundServer(create_app(Settings())) as srv, \
            httpx.Client(base_url=srv.url, timeout=120.0) as c:
        yield c


def _strict(r: httpx.Response) -> Any:
    assert r.status_code == 200, r.text
    found: list[str] = []
    out = json.loads(r.text, parse_constant=found.append)
    assert not found, f"{r.url}: {found} in JSON"
    return out


def test_history_has_the_daily_figures(client: httpx.Client) -> None:
    h = _strict(client.get("/api/history"))
    b = h["blocks_daily"]
    one = history.hashrate_daily(window_days=1)
    week = history.hashrate_daily(window_days=7)
    assert b["date"][-1] == f"{one['date'].iloc[-1]:%Y-%m-%d}" and b["level"] == 0.90
    assert len(b["date"]) == len(one) == len(b["hashrate_7d_ehs"])
    assert b["hashrate_ehs"][-1] == pytest.approx(one["hashrate_ehs"].iloc[-1], rel=1e-3)
    assert b["hashrate_7d_ehs"][-1] == pytest.approx(week["hashrate_ehs"].iloc[-1], rel=1e-3)
    assert b["hashrate_7d_ehs"][:6] == [None] * 6  # no 7-day figure before the 7th day
    assert b["hashrate_lo_ehs"][-1] < b["hashrate_ehs"][-1] < b["hashrate_hi_ehs"][-1]
    assert b["sources"] == [{"source": "bundled", "first": b["date"][0], "last": b["date"][-1],
                             "days": len(b["date"]),
                             "what": history.BLOCK_COUNT_SOURCES["bundled"]}]
    assert set(b["blocks_source"]) == {"bundled"} and b["store_note"] is None


def test_history_takes_the_store_days_and_its_cache_follows_the_store(
        client: httpx.Client, tmp_path: Path) -> None:
    before = _strict(client.get("/api/history"))["blocks_daily"]
    assert _strict(client.get("/api/history"))["blocks_daily"] == before  # cached
    store = realheaders.fill(Path(os.environ["HASHSHIFT_HOME"]))  # this test's store
    after = _strict(client.get("/api/history"))["blocks_daily"]
    assert [(r["source"], r["first"], r["last"]) for r in after["sources"]] == [
        ("bundled", "2009-01-09", "2019-07-23"), ("store", "2019-07-24", "2019-08-08"),
        ("bundled", "2019-08-09", before["date"][-1])]
    one = history.hashrate_daily(store=store)
    i = after["date"].index("2019-08-05")
    assert after["blocks_source"][i] == "store"
    assert after["blocks"][i] == int(one.set_index("date").loc["2019-08-05", "blocks"])
    assert after["hashrate_ehs"][i] == pytest.approx(
        one.set_index("date").loc["2019-08-05", "hashrate_ehs"], rel=1e-3)
    assert after["hashrate_ehs"][i] != before["hashrate_ehs"][i]  # the blocks' own difficulty


def test_pools_without_data(client: httpx.Client) -> None:
    p = _strict(client.get("/api/pools"))
    assert p["available"] is False and p["note"] == NO_POOL_DATA and p["pools"] == []
    r = client.get("/api/pools", params={"period": "5y"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "period"


def test_pools_from_the_store(client: httpx.Client) -> None:
    payload = json.loads((Path(__file__).parent / "data" / "mempool_pools_1w.json").read_text())
    store = Store()  # this test's store (HASHSHIFT_HOME)
    store.write_frame("pool_shares", parse_pools(payload, "1w", "2026-12-01T12:00:00Z"),
                      kind="mempool", location="http://127.0.0.1/api/v1/mining/pools/1w")
    p = _strict(client.get("/api/pools"))
    model = pool_shares(store)
    assert p["available"] is True and p["period"] == "1w" and p["periods"] == ["1w"]
    assert p["as_of"] == "2026-12-01T12:00:00Z" and p["period_blocks"] == 1008
    assert [x["pool_slug"] for x in p["pools"]] == model["pool_slug"].tolist()
    assert [x["share_pct"] for x in p["pools"]] == pytest.approx(model["share_pct"].tolist(),
                                                                rel=1e-4)
    assert len(p["top"]) == 11 and p["top"][-1]["rank"] is None
    assert p["top"][-1]["blocks"] == int(model["blocks"].iloc[10:].sum())
    q = _strict(client.get("/api/pools", params={"period": "1m"}))
    assert q["available"] is False and "no pool shares for the period '1m'" in q["note"]


def test_hashprice_per_day(client: httpx.Client) -> None:
    hp = _strict(client.get("/api/hashprice"))
    d = history.hashprice_daily()
    assert hp["first"] == f"{d['date'].iloc[0]:%Y-%m-%d}"
    assert hp["last"] == f"{d['date'].iloc[-1]:%Y-%m-%d}"
    i = hp["daily"]["date"].index("2024-04-20")  # the halving day
    row = d.set_index("date").loc["2024-04-20"]
    assert hp["daily"]["hashprice_usd_ph_day"][i] == pytest.approx(
        row["hashprice_usd_ph_day"], rel=1e-4)
    assert "month's means" in hp["basis"] and len(hp["monthly"]["date"]) > 150


def test_retarget_only_from_real_inputs(client: httpx.Client) -> None:
    none = _strict(client.get("/api/retarget"))
    assert none["source"] == "none" and none["check"]["new_bits"] == none["check"]["actual_bits"]
    given = _strict(client.get("/api/retarget", params={"blocks": 1000, "elapsed_hours": 160}))
    assert given["source"] == "input" and given["tip_height"] == given["first_height"] + 999


def test_region_tree_and_schema(client: httpx.Client) -> None:
    t = _strict(client.get("/api/regions"))
    us = next(c for c in t["mining"] if c["code"] == "US")
    assert {"code": "US-TX", "name": "Texas"} in us["children"]
    cn = next(c for c in t["mining"] if c["code"] == "CN")
    assert {"CN-XJ", "CN-SC", "CN-NM"} <= {c["code"] for c in cn["children"]}
    assert any(c["code"] == "ET" for c in t["other"])  # any country can be picked
    assert _strict(client.get("/api/scenario/schema")) == json.loads(
        json.dumps(scenario_schema()))


def test_what_a_start_extrapolates(client: httpx.Client) -> None:
    f = _strict(client.get("/api/freshness", params={"as_of": "2026-06-20"}))
    assert f["as_of"] == "2026-06-20"
    assert {x["dataset"] for x in f["extrapolated"]} == {"chain_epochs", "chain_daily", "market"}
    assert _strict(client.get("/api/freshness", params={"as_of": "2021-05-31"}))[
        "extrapolated"] == []
    r = client.get("/api/freshness", params={"as_of": "2021-13-01"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "as_of"
