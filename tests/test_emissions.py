"""Observed power and emissions by month and country (hashshift.emissions).

Reference values are computed by hand from the bundled inputs: CCAF's mining-map share
(mining_map_ccaf_2022-01.csv: US 35.40 % in 2021-08, CN 43.98 % in 2021-05), CBECI's monthly
power bounds at 0.05 USD/kWh (run_cbeci on the bundled market table; 12.34 GW best guess in
2021-05, the figure issue 15 quotes) and the bundled grid table (US 369 gCO2e/kWh, Ember 2023;
CN in May 529.8, CCAF's CO2_Coef_China).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from hashshift import cbeci, geography
from hashshift import emissions as em
from hashshift.energy import BOUNDS

COLS = [f"{what}_{b}_{u}" for what, u in (("power", "gw"), ("emissions", "mt_yr"))
        for b in BOUNDS]


@pytest.fixture(scope="module")
def observed() -> pd.DataFrame:
    return em.monthly_emissions(nowcast=False)


def _row(frame: pd.DataFrame, month: str, code: str) -> pd.Series:
    hit = frame[(frame["month"] == pd.Timestamp(month + "-01")) & (frame["region_code"] == code)]
    assert len(hit) == 1, (month, code)
    return hit.iloc[0]


def test_reference_values_by_hand(observed: pd.DataFrame) -> None:
    cb = cbeci.run_cbeci(since="2021-05-01", until="2021-08-31").set_index("date")
    assert_allclose(cb.loc["2021-05-01", "power_guess_gw"], 12.34, atol=0.005)
    us = _row(observed, "2021-08", "US")
    p_guess = 9.799143  # CBECI's best guess for 2021-08 [GW]
    assert_allclose(cb.loc["2021-08-01", "power_guess_gw"], p_guess, rtol=1e-6)
    assert us["share_pct"] == 35.40 and us["intensity_g_kwh"] == 369.0
    assert_allclose(us["power_guess_gw"], 0.3540 * p_guess, rtol=1e-6)
    # 0.354 × 9.799143 GW × 8.766 h/yr·1000 × 369 g/kWh / 1000 = 11.2207 MtCO2e/yr
    assert_allclose(us["emissions_guess_mt_yr"], 0.3540 * p_guess * 8.766 * 369 / 1000,
                    rtol=1e-6)
    assert_allclose(us["emissions_guess_mt_yr"], 11.2207, rtol=1e-4)
    for b in ("lower", "upper"):
        p_b = float(cb.loc["2021-08-01", f"power_{b}_gw"])
        assert_allclose(us[f"emissions_{b}_mt_yr"], 0.3540 * p_b * 8.766 * 369 / 1000,
                        rtol=1e-9)
    # China in May: the seasonal row of CCAF's coefficient (529.8), not the annual 492.9
    cn = _row(observed, "2021-05", "CN")
    assert cn["intensity_g_kwh"] == 529.8
    assert_allclose(cn["emissions_guess_mt_yr"],
                    0.4398 * float(cb.loc["2021-05-01", "power_guess_gw"]) * 8.766 * 529.8
                    / 1000, rtol=1e-9)


def test_world_is_the_sum_of_the_countries(observed: pd.DataFrame) -> None:
    countries = observed[observed["region_code"] != em.WORLD].groupby("month")[COLS].sum()
    world = observed[observed["region_code"] == em.WORLD].set_index("month")[COLS]
    assert_allclose(world.to_numpy(), countries.loc[world.index].to_numpy(), rtol=1e-12)
    # every CCAF month, and its world power is CBECI's (shares sum to 100 ± 0.1)
    assert list(world.index) == geography.months()
    cb = cbeci.run_cbeci().set_index("date").loc[world.index]
    for b in BOUNDS:
        assert_allclose(world[f"power_{b}_gw"], cb[f"power_{b}_gw"], rtol=1e-3)


def test_bounds_are_ordered_everywhere() -> None:
    frame = em.monthly_emissions()
    assert {"observed", "nowcast"} == set(frame["kind"])
    for what, u in (("power", "gw"), ("emissions", "mt_yr"), ("share", "pct")):
        lo = frame[f"{what}_lower_{u}" if what != "share" else "share_lower_pct"]
        mid = frame[f"{what}_guess_{u}" if what != "share" else "share_pct"]
        hi = frame[f"{what}_upper_{u}" if what != "share" else "share_upper_pct"]
        assert (lo <= mid + 1e-12).all() and (mid <= hi + 1e-12).all(), what
    world = frame[frame["region_code"] == em.WORLD]
    assert (world["emissions_lower_mt_yr"] < world["emissions_upper_mt_yr"]).all()


def test_nowcast_months_are_labelled_and_widened() -> None:
    frame = em.monthly_emissions()
    assert frame.attrs["last_published"] == "2022-01"
    nc = frame[frame["kind"] == "nowcast"]
    assert nc["month"].min() == pd.Timestamp("2022-02-01")
    countries = nc[nc["region_code"] != em.WORLD]
    # the share interval widens the countries' bounds beyond CBECI's
    assert (countries["share_lower_pct"] < countries["share_upper_pct"]).any()
    world = nc[nc["region_code"] == em.WORLD].set_index("month")
    # the guess is the sum of the countries' guesses (mean shares), the power CBECI's
    summed = countries.groupby("month")["emissions_guess_mt_yr"].sum()
    assert_allclose(world["emissions_guess_mt_yr"], summed.loc[world.index], rtol=1e-6)
    cb = cbeci.run_cbeci().set_index("date").loc[world.index]
    for b in BOUNDS:
        assert_allclose(world[f"power_{b}_gw"], cb[f"power_{b}_gw"], rtol=1e-6)
    # the world's bounds are narrower than the sum of the countries' extremes
    lo_sum = countries.groupby("month")["emissions_lower_mt_yr"].sum().loc[world.index]
    assert (world["emissions_lower_mt_yr"] >= lo_sum - 1e-9).all()


def test_as_of_hides_what_was_not_public() -> None:
    frame = em.monthly_emissions("2021-06-01")
    obs = frame[frame["kind"] == "observed"]
    # CCAF had published to April 2020 (released 2020-05-06); May 2020 came on 2021-07-15
    assert obs["month"].max() == pd.Timestamp("2020-04-01")
    assert frame.attrs["last_published"] == "2020-04" and frame.attrs["as_of"] == "2021-06-01"
    # the nowcast runs to the last market month public then (May 2021, public on 1 June)
    assert frame.loc[frame["kind"] == "nowcast", "month"].max() == pd.Timestamp("2021-05-01")
    # no grid figure of a named country was public then: the 2019 world average for all
    assert set(frame["intensity_g_kwh"].round(6)) == {450.0}
    with pytest.raises(em.EmissionsMonthError, match="as known on 2021-06-01"):
        em.country_emissions("2021-08", "2021-06-01", nowcast=False)


def test_country_table_and_errors() -> None:
    t = em.country_emissions("2021-05", nowcast=False)
    assert t.attrs["month"] == "2021-05" and t.attrs["kind"] == "observed"
    assert list(t["region_code"][:2]) == ["CN", "US"]
    assert list(t["region_code"][-2:]) == ["OTHER", em.WORLD]
    assert np.all(np.diff(t["emissions_guess_mt_yr"].to_numpy()[:-2]) <= 0)
    with pytest.raises(em.EmissionsMonthError,
                       match=r"month = 2030-01: no emissions figures; months with figures: "
                             r"observed 2019-09 to 2022-01"):
        em.country_emissions("2030-01", nowcast=False)
    with pytest.raises(em.EmissionsMonthError, match=r"month = '2021-5' is not a month; use "
                                                     r"YYYY-MM"):
        em.country_emissions("2021-5", nowcast=False)
    with pytest.raises(em.EmissionsMonthError, match=r"month = '2021-13' is not a month"):
        em.country_emissions("2021-13", nowcast=False)
    with pytest.raises(ValueError, match=r"price_usd_kwh = 0 is not allowed"):
        em.monthly_emissions(price_usd_kwh=0)


def test_intensity_fallback_is_named() -> None:
    from hashshift.energy import intensity_holder
    from hashshift.sources.bundled_observed import read_grid_intensity

    grid = read_grid_intensity()
    assert intensity_holder(grid, "US", 5) == "US"
    assert intensity_holder(grid, "CN-XJ", 5) == "CN"  # no row for Xinjiang: China's
    assert intensity_holder(grid, "BR", 5) == "OTHER"  # no row for Brazil: the world average
    full = em.monthly_emissions(nowcast=False)
    named = full[~full["region_code"].isin([em.WORLD, "OTHER"])]
    assert (named["intensity_region"] == named["region_code"]).all()
    assert full.attrs["fallback"] == (
        "Grid intensity: 'Other countries' take the OTHER row (world average, 512.8 gCO2e/kWh); "
        "every named country has a grid row of its own.")
    # as known on 1 June 2021 no named country's row was public: each falls back to OTHER
    then = em.country_emissions("2021-05", "2021-06-01")
    named = then[~then["region_code"].isin([em.WORLD, "OTHER"])]
    assert len(named) >= 9 and (named["intensity_region"] == "OTHER").all()
    assert "no grid row of their own for CA, CN, DE, IE, IR, KZ, MY, RU, US: fallback to the " \
           "world average (OTHER, 450 gCO2e/kWh)" in then.attrs["fallback"]
