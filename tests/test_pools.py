"""Pool shares: mempool's ``/api/v1/mining/pools/:period`` parsed from a hand-written payload in
the API's shape (tests/data/mempool_pools_1w.json: the fields of the backend's
``$getPoolsStats``, made-up counts), fetched from a real HTTP server on 127.0.0.1, written to a
real DuckDB store by ``hashshift data update --pools`` and shown by ``hashshift pools``."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from hashshift.cli import app
from hashshift.pools import NO_POOL_DATA, pool_periods, pool_shares, top_pools
from hashshift.sources.errors import SourceFormatError
from hashshift.sources.http import RetryPolicy
from hashshift.sources.mempool import POOL_COLUMNS, MempoolClient, parse_pools
from hashshift.store import DB_NAME, Store, StoreError
from loopback import Chain, LoopbackServer

runner = CliRunner()
PAYLOAD = Path(__file__).parent / "data" / "mempool_pools_1w.json"
AS_OF = pd.Timestamp("2026-12-01T12:00:00Z")


@pytest.fixture
def payload() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(PAYLOAD.read_text())
    return data


@pytest.fixture(scope="module")
def chain() -> Chain:
    return Chain.build(20)


@pytest.fixture
def server(chain: Chain, payload: dict[str, Any]) -> Iterator[LoopbackServer]:
    with LoopbackServer(chain) as srv:
        srv.override("/api/v1/mining/pools/1w", payload)
        month = copy.deepcopy(payload)  # a second period: four times the blocks
        for p in month["pools"]:
            p["blockCount"] *= 4
        month["blockCount"] *= 4
        srv.override("/api/v1/mining/pools/1m", month)
        yield srv


# ---------------------------------------------------------------------------------------------
# the parser
# ---------------------------------------------------------------------------------------------
def test_parse_pools(payload: dict[str, Any]) -> None:
    df = parse_pools(payload, "1w", AS_OF)
    assert list(df.columns) == list(POOL_COLUMNS)
    assert len(df) == len(payload["pools"]) == 15
    assert df["period_blocks"].unique().tolist() == [payload["blockCount"]] == [1008]
    assert df["blocks"].sum() == 1008 and df["share_pct"].sum() == pytest.approx(100.0)
    first = df.iloc[0]
    assert (first["pool_slug"], first["pool_name"], first["blocks"]) == \
        ("foundryusa", "Foundry USA", 300)
    assert first["share_pct"] == pytest.approx(300 / 1008 * 100)
    assert df["rank"].tolist() == list(range(1, 16))
    assert df["blocks"].is_monotonic_decreasing
    assert (df["as_of"] == AS_OF).all() and (df["period"] == "1w").all()
    unknown = df.set_index("pool_slug").loc["unknown"]
    assert (unknown["blocks"], unknown["empty_blocks"]) == (15, 2)


def _without(d: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k != key}


BAD: list[tuple[str, Any, str, str]] = [
    # (what, how to break the payload, field named, words in the message)
    ("root", lambda p: [p], "(root)", "expected a JSON object"),
    ("no pools", lambda p: _without(p, "pools"), "pools", "missing"),
    ("pools not a list", lambda p: {**p, "pools": {"a": 1}}, "pools", "expected a JSON array"),
    ("no total", lambda p: _without(p, "blockCount"), "blockCount", "missing"),
    ("empty", lambda p: {**p, "pools": [], "blockCount": 0}, "pools", "no pool mined"),
    ("item", lambda p: {**p, "pools": [*p["pools"][:3], "x", *p["pools"][4:]]}, "pools[3]",
     "expected an object"),
    ("count text", lambda p: _set(p, 2, "blockCount", "110"), "pools[2].blockCount",
     "expected a number"),
    ("count negative", lambda p: _set(p, 2, "blockCount", -1), "pools[2].blockCount",
     "must not be negative"),
    ("count fraction", lambda p: _set(p, 2, "blockCount", 1.5), "pools[2].blockCount",
     "expected an integer"),
    ("slug missing", lambda p: _set(p, 4, "slug", None, drop=True), "pools[4].slug", "missing"),
    ("slug odd", lambda p: _set(p, 4, "slug", "spider pool<script>"), "pools[4].slug",
     "letters, digits"),
    ("slug twice", lambda p: _set(p, 5, "slug", "antpool"), "pools[5].slug", "listed twice"),
    ("name empty", lambda p: _set(p, 1, "name", " "), "pools[1].name", "non-empty string"),
    ("name markup", lambda p: _set(p, 1, "name", "<a href='x'>AntPool</a>"), "pools[1].name",
     "without '<', '>'"),
    ("empty blocks", lambda p: _set(p, 14, "emptyBlocks", 6), "pools[14].emptyBlocks",
     "more empty blocks than blocks"),
    ("total", lambda p: {**p, "blockCount": 1009}, "blockCount", "add up to 1008"),
]


def _set(p: dict[str, Any], i: int, key: str, value: Any, *, drop: bool = False
         ) -> dict[str, Any]:
    out = copy.deepcopy(p)
    if drop:
        del out["pools"][i][key]
    else:
        out["pools"][i][key] = value
    return out


@pytest.mark.parametrize(("what", "breaks", "field", "words"), BAD, ids=[b[0] for b in BAD])
def test_parse_pools_names_the_bad_field(payload: dict[str, Any], what: str, breaks: Any,
                                         field: str, words: str) -> None:
    with pytest.raises(SourceFormatError) as info:
        parse_pools(breaks(payload), "1w", AS_OF)
    assert info.value.field == field, str(info.value)
    assert words in str(info.value) and f"'{field}'" in str(info.value)


def test_parse_pools_period_checked(payload: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"period must be one of 24h, .*all; got '5y'"):
        parse_pools(payload, "5y", AS_OF)


# ---------------------------------------------------------------------------------------------
# over HTTP, into the store
# ---------------------------------------------------------------------------------------------
def test_get_pools_over_loopback_http(server: LoopbackServer, payload: dict[str, Any]) -> None:
    server.inject("status", status=503, times=1, path="/api/v1/mining/pools/1w")
    with MempoolClient(server.mempool_url, min_interval_s=0, sleep=lambda s: None,
                       retry=RetryPolicy(attempts=3, backoff_s=0.01, max_backoff_s=0.05)) as c:
        got = c.get_pools("1w", as_of=AS_OF)
        with pytest.raises(ValueError, match="period must be one of"):
            c.get_pools("5y")
    pd.testing.assert_frame_equal(got, parse_pools(payload, "1w", AS_OF))
    assert server.count("/api/v1/mining/pools/1w") == 2  # the 503, then the answer
    assert [s.status for s in server.requests] == [503, 200]


def _update(home: Path, srv: LoopbackServer, *extra: str) -> Any:
    return runner.invoke(app, ["data", "update", "--source", "mempool", "--url",
                               srv.mempool_url, "--network", "regtest", "--max-headers", "3",
                               "--home", str(home), *extra])


def _snapshot(store: Store) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return (store.read_table("pool_shares"), store.read_table("sources"),
            store.read_table("headers"))


def test_update_stores_pools_and_a_bad_payload_changes_nothing(
        tmp_path: Path, server: LoopbackServer, payload: dict[str, Any]) -> None:
    r = _update(tmp_path, server, "--pools", "--pool-periods", "1w,1m", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["pool_shares"] == {"1w": 15, "1m": 15} and out["headers_added"] == 3
    store = Store(tmp_path / DB_NAME)
    table, sources, _ = _snapshot(store)
    assert len(table) == 30 and table["source_id"].nunique() == 1  # one provenance row
    src = sources.set_index("source_id").loc[int(table["source_id"].iloc[0])]
    assert src["table_name"] == "pool_shares" and src["rows"] == 30 and src["kind"] == "mempool"
    assert "/v1/mining/pools/" in src["location"]
    month = pool_shares(store, "1m")
    assert month["blocks"].sum() == 4032 and month["share_pct"].sum() == pytest.approx(100)
    assert pool_periods(store) == ["1w", "1m"]

    # a later update whose 1m answer is broken: nothing at all is written (pools are fetched
    # and checked before the headers, and every period before any is stored)
    before = _snapshot(store)
    server.set_chain(Chain.build(25))  # new headers to pull, were anything written
    broken = copy.deepcopy(payload)
    broken["pools"][7]["blockCount"] = "35"
    server.override("/api/v1/mining/pools/1m", broken)
    r = _update(tmp_path, server, "--pools", "--pool-periods", "1w,1m")
    assert r.exit_code == 2, r.output
    assert "pools[7].blockCount" in r.output and "expected a number" in r.output
    for was, now in zip(before, _snapshot(store), strict=True):
        pd.testing.assert_frame_equal(was, now)


def test_store_write_is_one_transaction(tmp_path: Path, payload: dict[str, Any]) -> None:
    store = Store(tmp_path / DB_NAME)
    good = parse_pools(payload, "1w", AS_OF)
    store.write_frame("pool_shares", good, kind="mempool", location="loopback")
    before = _snapshot(store)
    later = parse_pools(payload, "1w", AS_OF + pd.Timedelta(days=1))
    later.loc[len(later) - 1, "pool_name"] = None  # the last row breaks a NOT NULL constraint
    with pytest.raises(StoreError, match="pool_name"):
        store.write_frame("pool_shares", later, kind="mempool", location="loopback")
    for was, now in zip(before, _snapshot(store), strict=True):
        pd.testing.assert_frame_equal(was, now)
    assert pool_shares(store)["as_of"].unique().tolist() == [AS_OF]


def test_update_pools_options_checked(tmp_path: Path, server: LoopbackServer) -> None:
    r = _update(tmp_path, server, "--pools", "--pool-periods", "1w,5y")
    assert r.exit_code == 2 and "--pool-periods '1w,5y': 5y is not a period" in r.output
    r = runner.invoke(app, ["data", "update", "--source", "bitcoind", "--pools", "--home",
                            str(tmp_path)])
    assert r.exit_code == 2 and "--pools: pool shares come from mempool" in r.output
    assert server.count() == 0 and not (tmp_path / DB_NAME).exists()


# ---------------------------------------------------------------------------------------------
# the reader and the command
# ---------------------------------------------------------------------------------------------
def test_newest_snapshot_as_known_on_a_day(tmp_path: Path, payload: dict[str, Any]) -> None:
    store = Store(tmp_path / DB_NAME)
    store.write_frame("pool_shares", parse_pools(payload, "1w", AS_OF), kind="mempool",
                      location="first")
    later = copy.deepcopy(payload)
    later["pools"][0]["blockCount"] += 10
    later["blockCount"] += 10
    store.write_frame("pool_shares", parse_pools(later, "1w", AS_OF + pd.Timedelta(days=3)),
                      kind="mempool", location="second")
    assert pool_shares(store)["blocks"].iloc[0] == 310
    assert pool_shares(store, as_of="2026-12-02")["blocks"].iloc[0] == 300
    none = pool_shares(store, as_of="2026-11-30")
    assert none.empty and none.attrs["note"] == NO_POOL_DATA
    other = pool_shares(store, "1m")
    assert other.empty and "no pool shares for the period '1m'" in other.attrs["note"]
    top = top_pools(pool_shares(store), 10)
    assert len(top) == 11 and top["pool_name"].iloc[-1] == "other pools (5)"
    assert top["blocks"].sum() == 1018 and top["share_pct"].sum() == pytest.approx(100)


def test_pools_command_without_data(tmp_path: Path) -> None:
    r = runner.invoke(app, ["pools", "--home", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "no pool data in the store: run `hashshift data update --pools` with network" in \
        " ".join(r.output.split())
    r = runner.invoke(app, ["pools", "--home", str(tmp_path), "--json"])
    assert r.exit_code == 0
    out = json.loads(r.output)
    assert out["available"] is False and out["pools"] == [] and out["note"] == NO_POOL_DATA
    r = runner.invoke(app, ["pools", "--home", str(tmp_path), "--csv", str(tmp_path / "p.csv")])
    assert r.exit_code == 0 and "nothing written" in r.output
    assert not (tmp_path / "p.csv").exists() and not (tmp_path / DB_NAME).exists()


def test_pools_command_with_data(tmp_path: Path, payload: dict[str, Any]) -> None:
    store = Store(tmp_path / DB_NAME)
    store.write_frame("pool_shares", parse_pools(payload, "1w", AS_OF), kind="mempool",
                      location="http://127.0.0.1/api/v1/mining/pools/1w")
    r = runner.invoke(app, ["pools", "--home", str(tmp_path), "--rows", "5", "--csv",
                            str(tmp_path / "p.csv")])
    assert r.exit_code == 0, r.output
    text = r.output
    assert "last 1w to 2026-12-01 12:00 UTC: 1,008 blocks, 15 pools" in " ".join(text.split())
    assert "Foundry USA" in text and "29.8" in text and "other pools (10)" in text
    assert "Poolin" not in text  # rank 15: inside "other pools"
    csv = pd.read_csv(tmp_path / "p.csv")
    assert len(csv) == 15 and csv["blocks"].sum() == 1008
    r = runner.invoke(app, ["pools", "--home", str(tmp_path), "--json"])
    assert r.exit_code == 0
    out = json.loads(r.output)
    assert out["available"] is True and out["period"] == "1w" and out["period_blocks"] == 1008
    assert [p["pool_slug"] for p in out["pools"][:2]] == ["foundryusa", "antpool"]
    assert sum(p["share_pct"] for p in out["pools"]) == pytest.approx(100)
    r = runner.invoke(app, ["pools", "--home", str(tmp_path), "--period", "1y"])
    assert r.exit_code == 0 and "no pool shares for the period '1y'" in r.output
    r = runner.invoke(app, ["pools", "--home", str(tmp_path), "--period", "week"])
    assert r.exit_code == 2 and "period 'week' is not one of mempool's periods" in r.output
