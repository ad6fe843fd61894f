"""Daily network figures (hashrate per day, hashprice per day) and how far the bundled data reach:
the model functions, against independent figures from the same bundled data."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from hashshift import economics, freshness, history
from hashshift.sources.bundled_chain import read_blocks_daily
from hashshift.sources.bundled_observed import read_market_monthly


@pytest.fixture(scope="module")
def daily() -> pd.DataFrame:
    return history.hashprice_daily()


def test_hashprice_per_day_agrees_with_the_monthly_revenue(daily: pd.DataFrame) -> None:
    # each month's mean of the daily figure (difficulty-based) against Coin Metrics' monthly
    # revenue / hashrate: independent inputs for the network side, the same price and fees
    d = daily.assign(month=daily["date"].dt.to_period("M").dt.to_timestamp())
    mine = d.groupby("month")["hashprice_usd_ph_day"].mean()
    mk = read_market_monthly().set_index("date")
    theirs = pd.Series(np.asarray(economics.hashprice_from_revenue_usd_ph_day(
        mk["revenue_usd_day"].to_numpy(float), mk["hashrate_ehs"].to_numpy(float))),
        index=mk.index)
    ratio = (mine / theirs.reindex(mine.index) - 1.0)["2015":]
    assert len(ratio) > 120
    assert ratio.abs().max() < 0.05 and abs(ratio.median()) < 0.005


def test_hashprice_per_day_follows_difficulty_and_halvings(daily: pd.DataFrame) -> None:
    d = daily.set_index("date")
    # the 2024 halving (block 840,000 on 20 April 2024, 00:09 UTC): half the subsidy from then
    assert d.loc["2024-04-19", "subsidy_btc"] == 6.25
    assert d.loc["2024-04-20", "subsidy_btc"] == 3.125
    hp = d.loc["2024-04-19":"2024-04-20", "hashprice_usd_ph_day"].to_numpy()
    assert hp[1] < 0.6 * hp[0]  # price and fees are the month's: the subsidy makes the step
    # the −27.94 % retarget of 3 July 2021: the day of it mixes both difficulties by time
    before, day, after = (float(d.loc[k, "difficulty"]) for k in
                          ("2021-07-02", "2021-07-03", "2021-07-04"))
    assert after < day < before and after / before == pytest.approx(1 - 0.2794, abs=0.002)
    # within a month, price and fees are constant (the monthly means), so the hashprice moves
    # only with the difficulty: hashprice × difficulty is constant between halvings
    june = d.loc["2021-06-01":"2021-06-30"]
    prod = june["hashprice_usd_ph_day"] * june["difficulty"]
    assert prod.std() / prod.mean() < 1e-9
    assert set(daily["price_basis"]) == {"monthly mean (price and fees)"}


def test_hashprice_per_day_as_known_on_a_day() -> None:
    d = history.hashprice_daily(as_of="2021-06-15")
    assert d["date"].max() == pd.Timestamp("2021-05-31")  # May's mean was public on 1 June
    assert d["date"].min() == pd.Timestamp("2010-08-01")


def test_hashrate_per_day_intervals_cover_the_counts() -> None:
    one = history.hashrate_daily(window_days=1)
    week = history.hashrate_daily(window_days=7)
    assert one["date"].iloc[-1] == read_blocks_daily()["date"].iloc[-1]
    assert (one["hashrate_lo_ehs"] <= one["hashrate_ehs"]).all()
    assert (one["hashrate_ehs"] <= one["hashrate_hi_ehs"]).all()
    recent = one[one["date"] >= "2025-01-01"]
    width = (recent["hashrate_hi_ehs"] / recent["hashrate_lo_ehs"]).median()
    recent7 = week[week["date"] >= "2025-01-01"]
    width7 = (recent7["hashrate_hi_ehs"] / recent7["hashrate_lo_ehs"]).median()
    assert 1.25 < width < 1.35 and 1.09 < width7 < 1.14  # ±15 % a day, ±6 % a week


def test_freshness_table() -> None:
    f = freshness.freshness(today="2026-12-03")
    rows = f.set_index("dataset")
    assert list(rows.index) == ["chain_epochs", "chain_daily", "market", "map", "nowcast",
                                "events"]
    assert rows.loc["chain_daily", "last"] == read_blocks_daily()["date"].max().date()
    assert rows.loc["map", "last"] == date(2022, 1, 31)
    assert rows.loc["map", "public"] == date(2022, 5, 17)  # CCAF's last release
    market_last = pd.Timestamp(read_market_monthly()["date"].max()) + pd.offsets.MonthEnd(0)
    assert rows.loc["market", "last"] == market_last.date()
    assert rows.loc["nowcast", "last"] == rows.loc["chain_daily", "last"]
    assert rows.loc["chain_daily", "age_days"] == (date(2026, 12, 3)
                                                   - rows.loc["chain_daily", "last"]).days
    assert freshness.newest_day() == max(rows["public"])
    assert f.attrs["newest_day"] == str(freshness.newest_day())
    assert freshness.nowcast_reach() == pd.Timestamp(rows.loc["chain_daily", "last"]
                                                     ).to_period("M").to_timestamp()


def test_what_a_late_start_extrapolates() -> None:
    assert freshness.extrapolated("2021-05-31") == []
    notes = {x["dataset"]: x["note"] for x in freshness.extrapolated("2026-07-10")}
    assert set(notes) == {"chain_epochs", "chain_daily", "market"}
    assert "2026-04 … 2026-06" in notes["chain_daily"]  # nowcast months without chain data
    assert "epoch began 2026-06-14" in notes["chain_epochs"]
    with pytest.raises(ValueError, match="as_of"):
        freshness.extrapolated(None)
