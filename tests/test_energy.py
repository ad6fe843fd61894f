"""CBECI method, regional power and emissions, and the validation against CCAF's own series.

References (``shared/data/cambridge``, see its SOURCES.md; tests skip when ../shared is absent):
- CCAF's API files ``ccaf_api_cbeci_daily_*`` (vintage Aug 2022): power [GW] vs annualised
  energy [TWh/yr] (× 8.766), and emissions = energy × intensity / 1000;
- CCAF's hardware list + Coin Metrics daily data reproduce CCAF's daily bounds (the validation
  the project owes: median |error| ≤ 5 % best guess, ≤ 10 % bounds, 2015-2020).
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
    # 2021: CBECI's best guess was of the order of 100 TWh/yr
    assert 40 < out["energy_guess_twh_yr"].mean() < 250
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
    hist, _ = _api_files(str(shared.root)) if (shared.root / "cambridge").exists() else (None, None)
    if hist is None:
        pytest.skip("reference data not available")
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
# ---------------------------------------------------------------------------------------------


@functools.cache
def _validation(root: str) -> pd.DataFrame:
    return cb.cbeci_validation_table(Path(root))


def _table(shared: type) -> pd.DataFrame:
    for parts in (("cambridge", "ccaf_cbeci_miners_2021-02.json"),
                  ("market", "coinmetrics_btc_2026-03.csv"),
                  ("cambridge", "cbeci_daily_annualised_TWh_vintage-2022-01_2014-07_2020-12.csv")):
        shared.file(*parts)
    df = _validation(str(shared.root))
    with pd.option_context("display.width", 200):
        print("\n" + df.round(3).to_string())
    return df.set_index(["hardware", "vintage", "series"])


def test_cbeci_reproduced_from_ccaf_list_api_vintage(shared: type) -> None:
    t = _table(shared)
    for b, goal in en.VALIDATION_GOALS_PCT.items():
        row = t.loc[("ccaf-2021-02", "api-2022-08", b)]
        assert row["days"] == 2192
        assert row["median_abs_err_pct"] <= goal, (b, row["median_abs_err_pct"])
    # measured: bounds to rounding, best guess 3.7 % (CCAF's API list differs, see next test)
    assert t.loc[("ccaf-2021-02", "api-2022-08", "lower"), "median_abs_err_pct"] < 0.01
    assert t.loc[("ccaf-2021-02", "api-2022-08", "upper"), "median_abs_err_pct"] < 0.01
    assert t.loc[("ccaf-2021-02", "api-2022-08", "guess"), "median_abs_err_pct"] < 4.0


def test_cbeci_reproduced_exactly_with_the_api_vintage_list(shared: type) -> None:
    t = _table(shared)
    for b in en.BOUNDS:
        row = t.loc[("api-recon", "api-2022-08", b)]
        assert row["median_abs_err_pct"] < 0.01
        assert row["max_abs_err_pct"] < 1.0  # guess: ≤ 0.84 % in December 2020


def test_cbeci_2022_01_vintage_reported(shared: type) -> None:
    t = _table(shared)
    rows = t.sort_index().loc[("ccaf-2021-02", "download-2022-01")]
    # bounds meet the goal; the best guess does not (CCAF re-weighted S7/S9-class machines from
    # v1.1.0 with Coin Metrics' unpublished shares): measured 12.1 %
    assert rows.loc["lower", "median_abs_err_pct"] <= 10
    assert rows.loc["upper", "median_abs_err_pct"] <= 10
    assert 5 < rows.loc["guess", "median_abs_err_pct"] < 15


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
