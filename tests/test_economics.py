"""Mining economics: hashprice, hashvalue, break-even price, CCAF's threshold, payback.

Reference values:
- Hashrate Index (Luxor) hashprice: USD 0.071 per TH/s per day on 1 June 2023 (quoted by
  Cointelegraph, 1 June 2023, on CleanSpark's S19 XP purchase) and "35 cents per day" per TH/s in
  November 2021 (Luxor estimate quoted with the S19 XP announcement);
- the block subsidy schedule of Bitcoin Core (``GetBlockSubsidy``);
- the unit identities of docs/economics.md / CCAF's CBECI methodology (e J/TH uses e·24 kWh per
  (PH/s)·day; θ = revenue per hash ÷ price per joule).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from hashshift import economics as ec
from hashshift.sources.bundled_observed import read_market_month, read_market_monthly


def test_hashprice_formula_by_hand() -> None:
    # 144 blocks × (6.25 + 0.25) BTC × 50 000 USD / (100 EH/s = 100 000 PH/s) = 468 USD/PH/day
    hp = ec.hashprice_usd_ph_day(100.0, 50_000.0, 6.25, 0.25)
    assert_allclose(hp, 468.0, rtol=1e-12)
    hv = ec.hashvalue_btc_ph_day(100.0, 6.25, 0.25)
    assert_allclose(hv, 144 * 6.5 / 100_000, rtol=1e-12)
    assert_allclose(hp, hv * 50_000.0, rtol=1e-12)
    # the same from a daily revenue total
    assert_allclose(ec.hashprice_from_revenue_usd_ph_day(144 * 6.5 * 50_000, 100.0), 468.0,
                    rtol=1e-12)


def test_hashprice_matches_hashrate_index_on_bundled_monthly_data() -> None:
    m = read_market_monthly().set_index("date")
    for month, ref_usd_th_day in (("2023-06-01", 0.071), ("2021-11-01", 0.35)):
        r = m.loc[month]
        hp = ec.hashprice_from_revenue_usd_ph_day(r["revenue_usd_day"], r["hashrate_ehs"])
        # [USD/(PH/s)/day] = 1000 × [USD/(TH/s)/day]; monthly mean vs a quoted day: 10 %
        assert_allclose(hp, ref_usd_th_day * 1000, rtol=0.10)


def test_hashprice_matches_hashrate_index_on_the_day(shared: type) -> None:
    from hashshift.sources.prices import read_coinmetrics

    cm = read_coinmetrics(shared.file("market", "coinmetrics_btc_2026-03.csv")).set_index("date")
    r = cm.loc["2023-06-01"]
    hp = ec.hashprice_usd_ph_day(r["hashrate_ehs"], r["price_usd"], r["subsidy_btc"] / r["blocks"],
                                 r["fees_btc"] / r["blocks"], r["blocks"])
    assert_allclose(hp, 71.0, rtol=0.02)  # Hashrate Index: 0.071 USD/TH/day


def test_revenue_per_block_follows_the_subsidy_schedule() -> None:
    assert ec.revenue_per_block_btc(0) == 50.0
    assert ec.revenue_per_block_btc(209_999, 0.5) == 50.5
    assert ec.revenue_per_block_btc(210_000) == 25.0
    assert ec.revenue_per_block_btc(630_000) == 6.25
    assert ec.revenue_per_block_btc(840_000, 0.1) == pytest.approx(3.225)
    assert ec.revenue_per_block_btc(6_930_000) == 0.0
    with pytest.raises(ValueError, match="height = -1"):
        ec.revenue_per_block_btc(-1)
    with pytest.raises(ValueError, match="fees_btc"):
        ec.revenue_per_block_btc(1, -0.1)


def test_break_even_units() -> None:
    # 100 TH/s at 30 J/TH draws 3 kW -> 72 kWh/day; at 50 USD/PH/day it earns 5 USD/day.
    be = ec.break_even_price_usd_kwh(50.0, 30.0)
    assert_allclose(be, 5.0 / 72.0, rtol=1e-12)
    assert_allclose(be, 50.0 / (30.0 * 0.024 * 1000), rtol=1e-12)
    assert_allclose(ec.machine_revenue_usd_day(100.0, 50.0), 5.0, rtol=1e-12)
    assert_allclose(ec.machine_cost_usd_day(100.0, 30.0, be), 5.0, rtol=1e-12)
    assert_allclose(ec.machine_profit_usd_day(100.0, 30.0, 50.0, be), 0.0, atol=1e-12)


def test_profitability_threshold_ccaf_definition() -> None:
    # 20 M USD/day over 100 EH/s: 2.3148e-6 USD/TH; 0.05 USD/kWh = 1.3889e-8 USD/J -> 166.67 J/TH
    theta = ec.profitability_threshold_j_th(20e6, 100.0, 0.05)
    assert_allclose(theta, (20e6 / (1e8 * 86_400)) / (0.05 / 3.6e6), rtol=1e-12)
    assert_allclose(theta, 500.0 / 3.0, rtol=1e-12)
    # θ is the break-even efficiency: at θ the break-even price is the assumed price
    hp = ec.hashprice_from_revenue_usd_ph_day(20e6, 100.0)
    assert_allclose(ec.break_even_price_usd_kwh(hp, theta), 0.05, rtol=1e-12)


@given(
    rev=st.floats(1e3, 1e9), h=st.floats(1e-3, 1e4), price=st.floats(1e-3, 1.0),
)
def test_threshold_and_break_even_are_inverse(rev: float, h: float, price: float) -> None:
    theta = ec.profitability_threshold_j_th(rev, h, price)
    hp = ec.hashprice_from_revenue_usd_ph_day(rev, h)
    assert math.isclose(float(ec.break_even_price_usd_kwh(hp, theta)), price, rel_tol=1e-9)


def test_payback_days() -> None:
    # S21 XP-like: 270 TH/s at 13.5 J/TH; 50 USD/PH/day -> 13.5 USD/day; power 3.645 kW ×
    # 24 h × 0.05 = 4.374 USD/day; margin 9.126 USD/day; 5000 USD -> 547.89 days
    d = ec.payback_days(5000.0, 270.0, 13.5, 50.0, 0.05)
    assert_allclose(d, 5000.0 / (13.5 - 4.374), rtol=1e-12)
    assert ec.payback_days(5000.0, 100.0, 100.0, 10.0, 0.10) == math.inf
    arr = ec.payback_days(1000.0, np.array([100.0, 100.0]), np.array([20.0, 200.0]), 40.0, 0.05)
    assert isinstance(arr, np.ndarray) and math.isfinite(arr[0]) and arr[1] == math.inf


def test_arrays_broadcast() -> None:
    be = ec.break_even_price_usd_kwh(np.array([24.0, 48.0]), 10.0)
    assert_allclose(be, [0.1, 0.2], rtol=1e-12)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: ec.profitability_threshold_j_th(1e6, 100.0, -0.01), "price_usd_kwh = -0.01"),
        (lambda: ec.profitability_threshold_j_th(1e6, 0.0, 0.05), "hashrate_ehs = 0.0"),
        (lambda: ec.hashprice_usd_ph_day(100.0, -5.0, 6.25), "price_usd = -5.0"),
        (lambda: ec.break_even_price_usd_kwh(50.0, 0.0), "efficiency_j_th = 0.0"),
        (lambda: ec.payback_days(-1.0, 100.0, 20.0, 50.0, 0.05), "capex_usd = -1.0"),
        (lambda: ec.machine_cost_usd_day(100.0, 20.0, float("nan")), "price_usd_kwh = nan"),
    ],
)
def test_bad_input_names_field_value_and_rule(call: object, field: str) -> None:
    with pytest.raises(ValueError) as info:
        call()  # type: ignore[operator]
    assert field in str(info.value) and "allowed" in str(info.value)


def test_market_month_is_a_bundled_row_and_outside_names_the_span() -> None:
    import pandas as pd

    from hashshift.sources.errors import OutOfRangeError

    m = read_market_monthly()
    assert read_market_month()["date"] == m["date"].iloc[-1]
    row = read_market_month(pd.Timestamp("2021-06-17"))
    assert row["date"] == pd.Timestamp("2021-06-01")
    assert row["hashrate_ehs"] == m.set_index("date").loc["2021-06-01", "hashrate_ehs"]
    with pytest.raises(OutOfRangeError, match=f"cover {m['date'].iloc[0]:%Y-%m} .. "):
        read_market_month(pd.Timestamp("1999-01-01"))
