"""Daily block counts from the store's headers: a store filled with 2,634 real mainnet headers
(tests/realheaders.py: blocks 586,656 … 589,289, 23 July – 9 August 2019) gives the days they
cover whole their counts from the headers' timestamps; the rest stays bundled, and every output
says which source each range used."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import realheaders
from hashshift import history
from hashshift.cli import app
from hashshift.consensus import Header, bits_to_difficulty
from hashshift.store import Store

runner = CliRunner()
FIRST_DAY, LAST_DAY = pd.Timestamp("2019-07-24"), pd.Timestamp("2019-08-08")


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return realheaders.fill(tmp_path)


def _direct_counts() -> Counter[pd.Timestamp]:
    """Headers per UTC day of their timestamps, counted straight from the input."""
    return Counter(pd.Timestamp(t, unit="s").normalize() for t in realheaders.times())


def test_counts_equal_the_headers_timestamps_per_day(store: Store) -> None:
    got = history.store_blocks_daily(store)
    direct = _direct_counts()
    # whole days only: from the day after the first header's (2019-07-23 12:… UTC) to the
    # last day that ends before the tip's median time past (the tip is 2019-08-09 05:46)
    assert got["date"].iloc[0] == FIRST_DAY and got["date"].iloc[-1] == LAST_DAY
    assert len(got) == (LAST_DAY - FIRST_DAY).days + 1 == 16
    assert got["blocks"].tolist() == [direct[d] for d in got["date"]]
    assert min(direct) < FIRST_DAY and max(direct) > LAST_DAY  # partial days left out
    # the work of a day is the sum of its blocks' difficulties (a retarget on 2019-08-05)
    raw = realheaders.headers()
    hdrs = [Header.parse(raw[i:i + 80]) for i in range(0, len(raw), 80)]
    day = pd.Timestamp("2019-08-05")
    work = sum(bits_to_difficulty(h.bits) for h in hdrs
               if pd.Timestamp(h.time, unit="s").normalize() == day)
    assert len({h.bits for h in hdrs if pd.Timestamp(h.time, unit="s").normalize() == day}) == 2
    assert got.set_index("date").loc[day, "work"] == pytest.approx(work, rel=1e-12)


def test_the_daily_estimate_takes_the_store_days(store: Store) -> None:
    bundled = history.hashrate_daily().set_index("date")
    mixed = history.hashrate_daily(store=store).set_index("date")
    assert mixed.index.equals(bundled.index)
    inside = (mixed.index >= FIRST_DAY) & (mixed.index <= LAST_DAY)
    assert set(mixed.loc[inside, "blocks_source"]) == {"store"}
    assert set(mixed.loc[~inside, "blocks_source"]) == {"bundled"}
    direct = _direct_counts()
    assert mixed.loc[inside, "blocks"].tolist() == [direct[d] for d in mixed.index[inside]]
    # the real counts agree with Coin Metrics' BlkCnt on every one of these days
    assert mixed.loc[inside, "blocks"].tolist() == bundled.loc[inside, "blocks"].tolist()
    pd.testing.assert_frame_equal(mixed.loc[~inside], bundled.loc[~inside])
    # on the retarget day the difficulty is the blocks' mean, not the epoch's at midnight
    d = pd.Timestamp("2019-08-05")
    assert mixed.loc[d, "difficulty"] > bundled.loc[d, "difficulty"]
    expect = mixed.loc[d, "blocks"] * mixed.loc[d, "difficulty"] * 2**32 / 86400 / 1e18
    assert mixed.loc[d, "hashrate_ehs"] == pytest.approx(expect)
    ranges = history.count_sources(history.hashrate_daily(store=store))
    assert [(r["source"], r["first"], r["last"]) for r in ranges] == [
        ("bundled", pd.Timestamp("2009-01-09"), pd.Timestamp("2019-07-23")),
        ("store", FIRST_DAY, LAST_DAY),
        ("bundled", pd.Timestamp("2019-08-09"), bundled.index[-1])]


def test_weekly_windows_and_as_of(store: Store) -> None:
    week = history.hashrate_daily(window_days=7, store=store).set_index("date")
    src = week.loc["2019-07-20":"2019-08-16", "blocks_source"]
    assert src.loc["2019-07-23"] == "bundled" and src.loc["2019-07-24"] == "bundled+store"
    assert src.loc["2019-07-29"] == "bundled+store" and src.loc["2019-07-30"] == "store"
    assert src.loc["2019-08-08"] == "store" and src.loc["2019-08-14"] == "bundled+store"
    assert src.loc["2019-08-15"] == "bundled"
    direct = _direct_counts()
    days = pd.date_range("2019-08-02", "2019-08-08")
    assert week.loc["2019-08-08", "blocks"] == sum(direct[d] for d in days)
    # as known on 1 August 2019: a day's count is public the day after
    known = history.hashrate_daily(store=store, as_of="2019-08-01").set_index("date")
    assert known.index[-1] == pd.Timestamp("2019-07-31")
    assert set(known.loc["2019-07-24":, "blocks_source"]) == {"store"}


def test_history_daily_command_says_which_source(store: Store, monkeypatch: pytest.MonkeyPatch
                                                 ) -> None:
    monkeypatch.setenv("HASHSHIFT_HOME", str(store.path.parent))
    args = ["history", "--daily", "--since", "2019-07-22", "--until", "2019-08-10"]
    r = runner.invoke(app, [*args, "--json", "--rows", "20"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert [(b["source"], b["first"], b["last"], b["days"]) for b in out["block_counts"]] == [
        ("bundled", "2019-07-22", "2019-07-23", 2), ("store", "2019-07-24", "2019-08-08", 16),
        ("bundled", "2019-08-09", "2019-08-10", 2)]
    rows = {x["date"]: x for x in out["rows"]}
    assert rows["2019-07-24"]["blocks_source"] == "store" and rows["2019-07-24"]["blocks"] == 139
    assert rows["2019-07-24"]["blocks_7d_source"] == "bundled+store"
    r = runner.invoke(app, [*args, "--rows", "20"])
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert ("2019-07-24 to 2019-08-08: block headers in the local store (headers per UTC day "
            "of their timestamps)") in text
    assert "2019-07-22 to 2019-07-23: bundled daily block counts" in text
    assert np.isfinite(out["rows"][-1]["hashrate_ehs"])


def test_a_store_newer_than_the_bundled_counts(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Headers after the bundled counts end (mined here on regtest rules, dated November 2026)
    extend the daily series; the days between have no count and are left out, and a 7-day
    window that reaches them has no figure."""
    from hashshift.consensus import ChainState
    from hashshift.store import DB_NAME
    from hashshift.testing import REGTEST_STRICT, build_chain, mine_header

    params = REGTEST_STRICT
    start = int(pd.Timestamp("2026-11-01T07:00:00Z").timestamp())
    anchor = mine_header(bytes(32), bytes(32), start, params.pow_limit_bits)
    raw, _ = build_chain(1440, params, tip=ChainState.checkpoint(anchor, params.interval, params))
    store = Store(tmp_path / DB_NAME, params=params)
    store.import_headers([anchor + raw], start_height=params.interval, location="mined")
    hdr_days = Counter(pd.Timestamp(Header.parse(raw[i:i + 80]).time, unit="s").normalize()
                       for i in range(0, len(raw), 80))
    one = history.hashrate_daily(store=store).set_index("date")
    bundled_end = history.hashrate_daily().date.iloc[-1]
    stored = one[one["blocks_source"] == "store"]
    assert stored.index[0] == pd.Timestamp("2026-11-02")
    assert stored.index[-1] < max(hdr_days)  # the tip's day is not whole
    assert stored["blocks"].tolist() == [hdr_days[d] for d in stored.index]
    gap = (one.index > bundled_end) & (one.index < stored.index[0])
    assert not gap.any() and len(one) == len(history.hashrate_daily()) + len(stored)
    week = history.hashrate_daily(window_days=7, store=store).set_index("date")
    assert week.loc[stored.index[:6], "hashrate_ehs"].isna().all()
    assert np.isfinite(week.loc[stored.index[6], "hashrate_ehs"])
    assert week.loc[stored.index[6], "blocks_source"] == "store"
    monkeypatch.setenv("HASHSHIFT_HOME", str(tmp_path))
    r = runner.invoke(app, ["history", "--daily", "--since", "2026-11-01", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["first"] == "2026-11-02" and out["block_counts"][0]["source"] == "store"
