"""CBECI method, regional power and emissions, and the validation against CCAF's own series.

References (``shared/data/cambridge``, see its SOURCES.md; tests skip when ../shared is absent):
- CCAF's API files ``ccaf_api_cbeci_daily_*`` (vintage Aug 2022): power [GW] vs annualised
  energy [TWh/yr] (× 8.766), and emissions = energy × intensity / 1000;
- CCAF's hardware list + Coin Metrics daily data reproduce CCAF's daily bounds (the validation
  the project owes: median |error| ≤ 5 % best guess, ≤ 10 % bounds, 2015-2020); the default
  path (bundled catalogue, monthly market means) against CCAF's monthly means; the measured
  levels are asserted, so that a regression fails.
- A hardware list reconstructed from the API series is checked as such, not as a validation.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from hashshift import cbeci as cb
from hashshift import economics as ec
from hashshift import energy as en
from hashshift.sources.bundled_observed import read_grid_intensity
from hashshift.sources.ccaf import read_cbeci
from hashshift.sources.gridtable import parse_grid_table

# ---------------------------------------------------------------------------------------------
# pure functions
# ---------------------------------------------------------------------------------------------


def test_power_energy_emissions_by_hand() -> None:
    # 40 J/TH × 100 EH/s (1e8 TH/s) = 4 GW; × PUE 1.10 = 4.4 GW; × 8.766 = 38.5704 TWh/yr
    p = en.power_gw(40.0, 1e8, 1.10)
    assert_allclose(p, 4.4, rtol=1e-12)
    assert_allclose(en.energy_twh_yr(p), 38.5704, rtol=1e-12)
    # 38.5704 TWh/yr at 500 gCO2/kWh = 19.2852 MtCO2e/yr
    assert_allclose(en.emissions_mt_yr(38.5704, 500.0), 19.2852, rtol=1e-12)
    with pytest.raises(ValueError, match="pue = 0.9"):
        en.power_gw(40.0, 1e8, 0.9)
    with pytest.raises(ValueError, match="intensity_g_kwh = -1.0"):
        en.emissions_mt_yr(1.0, -1.0)


@functools.cache
def _api_files(root: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    cam = Path(root) / "cambridge"
    return (read_cbeci(cam / "ccaf_api_cbeci_daily_2010-07_2019-08.csv"),
            read_cbeci(cam / "ccaf_api_cbeci_daily_2019-09_2020-12.csv"))


def test_units_match_ccaf_api_files(shared: type) -> None:
    shared.file("cambridge", "ccaf_api_cbeci_daily_2019-09_2020-12.csv")
    hist, prov = _api_files(str(shared.root))
    for b in en.BOUNDS:
        assert_allclose(en.energy_twh_yr(hist[f"power_{b}_gw"].to_numpy()),
                        hist[f"energy_{b}_twh_yr"].to_numpy(), rtol=1e-9)
    # best-guess emissions = best-guess energy × the mix intensity (CCAF's bounds use other
    # intensity scenarios, so only the guess is an identity)
    for frame in (hist, prov):
        assert_allclose(en.emissions_mt_yr(frame["energy_guess_twh_yr"].to_numpy(),
                                           frame["intensity_g_kwh"].to_numpy()),
                        frame["emissions_guess_mtco2e_yr"].to_numpy(), rtol=1e-9)


def test_moving_average_is_trailing() -> None:
    ma = en.moving_average([1.0, 2.0, 3.0, 4.0, 5.0], 3)
    assert np.isnan(ma[:2]).all()
    assert_allclose(ma[2:], [2.0, 3.0, 4.0])
    assert_allclose(en.moving_average([1.0, 2.0], 1), [1.0, 2.0])
    with pytest.raises(ValueError, match="window = 0"):
        en.moving_average([1.0], 0)


def test_profitable_mask_and_bounds() -> None:
    days = pd.to_datetime(["2020-01-01", "2020-02-01", "2020-03-01"])
    rel = pd.to_datetime(["2019-01-01", "2020-02-01", "2020-02-15"])
    eff = np.array([100.0, 40.0, 30.0])
    theta = np.array([150.0, 100.0, np.nan])
    mask = ec.profitable_mask(days, theta, rel, eff)
    # released on the day counts; θ strictly above the efficiency; NaN θ counts nothing
    assert mask.tolist() == [[True, False, False], [False, True, False], [False, False, False]]
    b = en.efficiency_bounds(days, theta, rel, eff)
    assert b["n_profitable"].tolist() == [1, 1, 0]
    assert b["lower_j_th"].iloc[0] == b["guess_j_th"].iloc[0] == b["upper_j_th"].iloc[0] == 100.0
    assert b[["lower_j_th", "guess_j_th", "upper_j_th"]].iloc[2].isna().all()
    aged = ec.profitable_mask(days, [1e9] * 3, rel, eff, max_age_days=365)
    assert not aged[2, 0] and aged[2, 1]


def test_cbeci_constant_inputs() -> None:
    n = 30
    days = pd.date_range("2021-01-01", periods=n)
    h_ehs = np.full(n, 100.0)
    theta = 60.0  # J/TH: choose revenue so that θ = 60 at 0.05 USD/kWh
    rev = theta * 0.05 / 3.6e6 * 1e8 * 86_400
    out = en.cbeci(days, np.full(n, rev), h_ehs, pd.to_datetime(["2020-01-01"] * 3),
                   [50.0, 30.0, 70.0])
    last = out.iloc[-1]
    assert_allclose(last["threshold_j_th"], theta, rtol=1e-12)
    assert last["n_profitable"] == 2  # 70 J/TH is not below θ = 60
    assert_allclose(last["power_lower_gw"], 30.0 * 1e8 * 1.01 / 1e9, rtol=1e-12)
    assert_allclose(last["power_guess_gw"], 40.0 * 1e8 * 1.10 / 1e9, rtol=1e-12)
    assert_allclose(last["power_upper_gw"], 50.0 * 1e8 * 1.20 / 1e9, rtol=1e-12)
    assert_allclose(last["energy_guess_twh_yr"], last["power_guess_gw"] * 8.766, rtol=1e-12)
    # 14-day θ average, then 7-day power average: first full value on day 14 + 6
    assert out["power_guess_gw"].isna().sum() == 13 + 6
    with pytest.raises(ValueError, match="price_usd_kwh = 0"):
        en.cbeci(days, np.full(n, rev), h_ehs, ["2020-01-01"], [50.0], price_usd_kwh=0)


def test_run_cbeci_on_bundled_monthly_data() -> None:
    out = cb.run_cbeci(since="2021-01-01", until="2021-12-31")
    assert out.attrs["resolution"] == "monthly" and len(out) == 12
    assert (out["power_lower_gw"] <= out["power_guess_gw"]).all()
    assert (out["power_guess_gw"] <= out["power_upper_gw"]).all()
    # its accuracy against CCAF's series: test_default_energy_path_against_ccaf_monthly_means
    with pytest.raises(ValueError, match=r"cover 2010-08 \.\. 20"):
        cb.run_cbeci(since="2040-01-01")


# ---------------------------------------------------------------------------------------------
# regions and emissions
# ---------------------------------------------------------------------------------------------


_GRID = """region_code,price_usd_kwh,intensity_g_kwh,month,source
CN-SC,0.04,120,,test: all-year row
CN-SC,0.02,80,7,test: July row
CN,0.05,500,,test
US,0.05,400,,test
"""


def test_grid_table_lookup() -> None:
    grid = parse_grid_table(_GRID)
    assert en.intensity_lookup(grid, "CN-SC", 7)[0] == 80.0  # seasonal row
    assert en.intensity_lookup(grid, "CN-SC", 1)[0] == 120.0  # whole-year row
    assert en.intensity_lookup(grid, "CN-XJ", 7) == (500.0, "test")  # falls back to CN
    with pytest.raises(LookupError, match="'DE'"):
        en.intensity_lookup(grid, "DE", 1)  # no DE and no OTHER in this table
    with pytest.raises(ValueError, match="month = 13"):
        en.intensity_lookup(grid, "CN-SC", 13)


def test_bundled_grid_table(shared: type) -> None:
    grid = read_grid_intensity()
    assert grid["source"].str.len().gt(10).all()
    wet, dry = (en.intensity_lookup(grid, "CN-SC", m)[0] for m in (8, 2))
    assert wet < dry  # Sichuan's hydro season
    assert en.intensity_lookup(grid, "BR", 5)[0] == en.intensity_lookup(grid, "OTHER", 5)[0]
    assert en.intensity_lookup(grid, "CN-XJ", 5) == en.intensity_lookup(grid, "CN", 5)
    # CN and OTHER are CCAF's own coefficients (api/historical.csv, 2019)
    shared.file("cambridge", "ccaf_api_cbeci_daily_2010-07_2019-08.csv")
    hist, _ = _api_files(str(shared.root))
    y2019 = hist[hist["date"].dt.year == 2019]
    assert_allclose(en.intensity_lookup(grid, "OTHER", 1)[0],
                    y2019["intensity_world_g_kwh"].iloc[0], atol=0.05)
    for month in range(1, 9):
        ccaf = y2019[y2019["date"].dt.month == month]["intensity_china_g_kwh"].iloc[0]
        assert_allclose(en.intensity_lookup(grid, "CN", month)[0], ccaf, atol=0.05)


def test_power_and_emissions_by_region() -> None:
    frame = pd.DataFrame({"date": pd.Timestamp("2020-07-01"), "region_code": ["CN-SC", "US"],
                          "hashrate_ehs": [30.0, 10.0]})
    grid = parse_grid_table(_GRID)
    p = en.power_by_region(frame, 50.0, pue=1.0)
    assert_allclose(p["power_gw"], [1.5, 0.5])
    e = en.emissions_by_region(p, grid)
    assert e["intensity_g_kwh"].tolist() == [80.0, 400.0]  # July row for Sichuan
    assert_allclose(e["emissions_mt_yr"], e["energy_twh_yr"] * e["intensity_g_kwh"] / 1000)
    with pytest.raises(ValueError, match="hashrate_ehs"):
        en.power_by_region(frame.drop(columns="hashrate_ehs"), 50.0)


def test_energy_by_region_from_the_mining_map() -> None:
    country = cb.energy_by_region("2020-06-15", "country")
    assert {"CN", "US", "OTHER"} <= set(country["region_code"])
    assert country["emissions_mt_yr"].gt(0).all()
    assert country["efficiency_j_th"].nunique() == 1  # one global fleet efficiency
    prov = cb.energy_by_region("2020-06-15", "province", efficiency_j_th=60.0)
    sc = prov.set_index("region_code").loc["CN-SC"]
    assert_allclose(sc["power_gw"], 60.0 * sc["hashrate_ehs"] * 1e6 * 1.10 / 1e9)


# ---------------------------------------------------------------------------------------------
# validation against CCAF (the project's promise)
#
# Thresholds follow the measured values (printed by each test), so that a regression fails;
# docs/energy.md explains the gaps.
# ---------------------------------------------------------------------------------------------
_REFERENCE_FILES = (("cambridge", "ccaf_cbeci_miners_2021-02.json"),
                    ("market", "coinmetrics_btc_2026-03.csv"),
                    ("cambridge", "ccaf_api_cbeci_daily_2010-07_2019-08.csv"),
                    ("cambridge", "ccaf_api_cbeci_daily_2019-09_2020-12.csv"),
                    ("cambridge",
                     "cbeci_daily_annualised_TWh_vintage-2022-01_2014-07_2020-12.csv"))


def _root(shared: type) -> str:
    for parts in _REFERENCE_FILES:
        shared.file(*parts)
    return str(shared.root)


def _show(df: pd.DataFrame) -> None:
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print("\n" + df.round(3).to_string())


@functools.cache
def _validation(root: str) -> pd.DataFrame:
    return cb.cbeci_validation_table(Path(root))


def _table(shared: type) -> pd.DataFrame:
    df = _validation(_root(shared))
    _show(df)
    return df.set_index(["hardware", "vintage", "series"])


@functools.cache
def _error_sources(root: str) -> pd.DataFrame:
    return cb.cbeci_error_sources(Path(root)).set_index(["hardware", "market", "series"])


def test_cbeci_reproduced_from_ccaf_list_api_vintage(shared: type) -> None:
    t = _table(shared)
    assert set(t.index.get_level_values("hardware")) == {"ccaf-2021-02"}  # nothing fitted
    for b, goal in en.VALIDATION_GOALS_PCT.items():
        row = t.loc[("ccaf-2021-02", "api-2022-08", b)]
        assert row["days"] == 2192
        assert row["median_abs_err_pct"] <= goal, (b, row["median_abs_err_pct"])
    # measured: bounds to rounding on most days, best guess 3.68 %; the 90th percentiles are
    # 2015 (a 2000 J/TH machine CCAF's series counted is not in its published list) and 2018's
    # lower bound (makers the series left out): 29.29 / 41.56 / 61.72 %
    med = {b: t.loc[("ccaf-2021-02", "api-2022-08", b), "median_abs_err_pct"] for b in en.BOUNDS}
    p90 = {b: t.loc[("ccaf-2021-02", "api-2022-08", b), "p90_abs_err_pct"] for b in en.BOUNDS}
    assert med["lower"] < 0.01 and med["upper"] < 0.01 and med["guess"] < 3.8, med
    assert p90["lower"] < 30 and p90["guess"] < 42 and p90["upper"] < 62, p90


def test_cbeci_2022_01_vintage_reported(shared: type) -> None:
    t = _table(shared)
    rows = t.sort_index().loc[("ccaf-2021-02", "download-2022-01")]
    # bounds meet the goal; the best guess does not (CCAF re-weighted S7/S9-class machines from
    # v1.1.0 with Coin Metrics' unpublished shares): measured 0.00 / 12.07 / 6.47 %
    assert rows.loc["lower", "median_abs_err_pct"] < 0.01
    assert rows.loc["upper", "median_abs_err_pct"] < 6.6
    assert 11.5 < rows.loc["guess", "median_abs_err_pct"] < 12.5


def test_api_list_reconstruction_is_complete_but_no_validation(shared: type) -> None:
    """The reconstructed list was fitted to the API series: agreeing with it only shows that
    the reconstruction accounts for every day (it is no evidence for the method)."""
    df = cb.cbeci_reconstruction_table(Path(_root(shared)))
    _show(df)
    t = df.set_index(["hardware", "vintage", "series"])
    for b in en.BOUNDS:
        row = t.loc[("api-reconstruction", "api-2022-08", b)]
        assert row["median_abs_err_pct"] < 0.01 and row["p90_abs_err_pct"] < 0.01
        assert row["max_abs_err_pct"] < 1.0  # guess: 0.84 % in December 2020


def test_default_energy_path_against_ccaf_monthly_means(shared: type) -> None:
    """What `hashshift energy` shows by default (bundled monthly market means, bundled
    catalogue) against the monthly means of CCAF's API series, 2015-2020."""
    df = cb.cbeci_default_path_table(Path(_root(shared)))
    _show(df)
    t = df.set_index("series")
    assert (t["months"] == 72).all()
    # measured: median 1.35 / 8.01 / 5.66 %, best guess p90 51.5 % (2017, see the next test)
    assert t.loc["lower", "median_abs_err_pct"] < 1.5
    assert t.loc["guess", "median_abs_err_pct"] < 8.5
    assert t.loc["upper", "median_abs_err_pct"] < 6.0
    assert t.loc["guess", "p90_abs_err_pct"] < 52
    # the goals of the daily reproduction hold for the bounds, not for the best guess
    assert t.loc["lower", "median_abs_err_pct"] <= en.VALIDATION_GOALS_PCT["lower"]
    assert t.loc["upper", "median_abs_err_pct"] <= en.VALIDATION_GOALS_PCT["upper"]
    assert t.loc["guess", "median_abs_err_pct"] > en.VALIDATION_GOALS_PCT["guess"]


def test_where_the_gaps_come_from(shared: type) -> None:
    """docs/energy.md's explanation, measured: the median |error| per year of each hardware
    list on each market input, against the monthly means of CCAF's API series."""
    e = _error_sources(_root(shared))
    _show(e.reset_index())
    # 2015 with CCAF's published list: 40 % (best guess) and 60 % (upper bound) too low on
    # either market input; the 2000 J/TH Antminer S1 alone closes it
    for market in ("monthly", "daily"):
        assert 39 < e.loc[("ccaf-2021-02", market, "guess"), "2015"] < 42
        assert 59 < e.loc[("ccaf-2021-02", market, "upper"), "2015"] < 62
        for b in en.BOUNDS:
            assert e.loc[("ccaf-2021-02+S1", market, b), "2015"] < 1.5
    # the default path's 2017 best guess (68 % too high) comes from the bundled catalogue,
    # not from the monthly inputs: the same with daily inputs, and CCAF's list on the same
    # monthly inputs is within 3 %
    assert 66 < e.loc[("catalogue", "monthly", "guess"), "2017"] < 70
    assert 66 < e.loc[("catalogue", "daily", "guess"), "2017"] < 69
    assert e.loc[("ccaf-2021-02", "monthly", "guess"), "2017"] < 3
    # monthly instead of daily inputs: at most 7.6 % per year on the reconstructed list
    rec = e.sort_index().loc[("api-reconstruction", "monthly")]
    assert rec.to_numpy().max() < 7.7
    assert e.sort_index().loc[("api-reconstruction", "daily")].to_numpy().max() < 0.01


def test_cbeci_validation_names_every_missing_reference_file(tmp_path: Path) -> None:
    from hashshift.sources.errors import MissingFilesError
    from hashshift.sources.reference import CBECI_FILES

    with pytest.raises(MissingFilesError) as info:
        cb.cbeci_validation_table(tmp_path)
    assert info.value.missing == [tmp_path / p for p in CBECI_FILES.values()]


def test_cbeci_market_reads_the_file_else_the_bundled_table() -> None:
    data = Path(__file__).parent / "data"
    frame, label = cb.cbeci_market(data / "coinmetrics_btc_sample.csv")
    assert label.endswith("coinmetrics_btc_sample.csv (daily)")
    assert {"date", "revenue_usd", "hashrate_ehs"} <= set(frame.columns)
    frame, label = cb.cbeci_market()  # the test's store is empty
    assert label.startswith("bundled market_monthly_") and label.endswith("(monthly means)")
    assert {"date", "revenue_usd_day", "hashrate_ehs"} <= set(frame.columns)
    with pytest.raises(cb.MarketInputError, match="plain price series"):
        cb.cbeci_market(data / "prices_close_sample.csv")
    with pytest.raises(cb.MarketInputError, match="no such file"):
        cb.cbeci_market(data / "missing.csv")
