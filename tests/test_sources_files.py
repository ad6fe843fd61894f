"""File sources: CCAF mining map and CBECI, Coin Metrics / plain prices, grid tables, regions.

Reference files under ../shared/data are read in place (the tests skip when they are absent);
the small files under tests/data are hand-made in the same layouts, and every broken variant is
written to tmp_path so that error messages carry a real file name.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pycountry
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from conftest import shared_file
from hashshift.regions import (
    COUNTRY_NAMES,
    PROVINCE_NAMES,
    REGIONS,
    UnknownRegionError,
    check_region_code,
    is_known_code,
    region_code,
    region_name,
)
from hashshift.sources import ccaf, gridtable, prices
from hashshift.sources._tabular import ParsedTable, TableFormatError
from hashshift.sources.errors import SourceFormatError

DATA = Path(__file__).parent / "data"
CAMBRIDGE = "cambridge"
MARKET = "market"


def _row(frame: pd.DataFrame, day: str, code: str | None = None) -> pd.Series:
    sel = frame["date"] == pd.Timestamp(day)
    if code is not None:
        sel &= frame["region_code"] == code
    rows = frame.loc[sel]
    assert len(rows) == 1, (day, code, len(rows))
    return rows.iloc[0]


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def _expect_date_column(frame: pd.DataFrame) -> None:
    assert frame["date"].dtype == np.dtype("datetime64[ns]")
    assert (frame["date"] == frame["date"].dt.normalize()).all()


# ============================================================================================
# regions
# ============================================================================================


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Mainland China", "CN"), ("China", "CN"), ("United States", "US"),
        ("Kazakhstan", "KZ"), ("Russian Federation", "RU"), ("Canada", "CA"),
        ("Malaysia", "MY"), ("Iran, Islamic Rep.", "IR"), ("Germany *", "DE"),
        ("Ireland *", "IE"), ("Germany", "DE"), ("Ireland", "IE"), ("Other", "OTHER"),
        ("  mainland   CHINA ", "CN"), ("Norway", "NO"),
    ],
)
def test_region_code_countries(name: str, code: str) -> None:
    assert region_code(name) == code
    assert region_code(name, level="country") == code


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Xinjiang", "CN-XJ"), ("Sichuan", "CN-SC"), ("Nei Mongol", "CN-NM"),
        ("Inner Mongolia", "CN-NM"), ("Yunnan", "CN-YN"), ("Beijing", "CN-BJ"),
        ("Gansu", "CN-GS"), ("Shanxi", "CN-SX"), ("Qinghai", "CN-QH"), ("Other", "CN-OTHER"),
        ("Zhejiang", "CN-ZJ"), ("Xinjiang Uygur Zizhiqu", "CN-XJ"),
    ],
)
def test_region_code_provinces(name: str, code: str) -> None:
    assert region_code(name, level="province") == code


def test_region_table_is_iso() -> None:
    for code, r in REGIONS.items():
        assert r.code == code
        if code.endswith("OTHER"):
            continue
        if r.level == "country":
            assert pycountry.countries.get(alpha_2=code) is not None, code
        else:
            assert pycountry.subdivisions.get(code=code) is not None, code
            assert r.parent == code.split("-")[0]
    assert set(COUNTRY_NAMES.values()) <= set(REGIONS)
    assert set(PROVINCE_NAMES.values()) <= set(REGIONS)
    assert REGIONS["CN-NM"].name == "Inner Mongolia" and REGIONS["CN-NM"].level == "province"


def test_unknown_region_suggests_nearest() -> None:
    with pytest.raises(UnknownRegionError, match=r"'Kazakstan'.*did you mean 'Kazakhstan'") as ei:
        region_code("Kazakstan")
    assert isinstance(ei.value, LookupError)
    assert ei.value.value == "Kazakstan" and ei.value.level == "country"
    assert ei.value.suggestions[0] == "Kazakhstan"
    with pytest.raises(UnknownRegionError, match=r"province name 'Xinjang'.*'Xinjiang'"):
        region_code("Xinjang", level="province")
    with pytest.raises(ValueError, match="level"):
        region_code("China", level="planet")  # type: ignore[arg-type]


def test_region_codes_and_names() -> None:
    assert region_name("CN-NM") == "Inner Mongolia"
    assert region_name("US-TX") == "Texas"
    assert region_name("IR") == "Iran"
    assert is_known_code("US-TX") and is_known_code("OTHER") and is_known_code("CN-OTHER")
    assert not is_known_code("ZZ") and not is_known_code("cn-xj")
    assert check_region_code("CN-XJ") == "CN-XJ"
    with pytest.raises(UnknownRegionError, match=r"'cn-xj'; did you mean 'CN-XJ'"):
        check_region_code("cn-xj")
    with pytest.raises(UnknownRegionError, match=r"'US-TZ'.*'US-TX'"):
        region_name("US-TZ")


# ============================================================================================
# CCAF mining map: reference files
# ============================================================================================


def test_reference_countries() -> None:
    path = shared_file(CAMBRIDGE, "mining_countries_monthly_2019-09_2021-05.csv")
    df = ccaf.read_mining_countries(path)
    assert list(df.columns) == ["date", "region_code", "region_name", "share_pct", "hashrate_ehs"]
    _expect_date_column(df)
    assert len(df) == 210 and df["date"].nunique() == 21
    assert set(df["region_code"]) == {"CN", "US", "KZ", "RU", "CA", "MY", "IR", "DE", "IE", "OTHER"}
    cn = _row(df, "2019-09-01", "CN")
    assert cn["region_name"] == "China"
    assert_allclose([cn["share_pct"], cn["hashrate_ehs"]], [75.53, 66.76], rtol=1e-12)
    assert_allclose(_row(df, "2021-04-01", "CN")["share_pct"], 46.04, rtol=1e-12)
    assert_allclose(_row(df, "2021-05-01", "DE")["share_pct"], 2.79, rtol=1e-12)
    sums = df.groupby("date")["share_pct"].sum()
    assert_allclose(sums, 100.0, atol=0.1)
    # absolute hashrate = share x that month's network hashrate: the entities add up to it
    total = df.groupby("date")["hashrate_ehs"].sum()
    china = df[df["region_code"] == "CN"].set_index("date")
    assert_allclose(total, china["hashrate_ehs"] / china["share_pct"] * 100, rtol=0.01)


def test_reference_countries_v110_matches_v111() -> None:
    old = ccaf.read_mining_countries(
        shared_file(CAMBRIDGE, "mining_countries_v1.1.0_vintage-2021-08_2019-09_2021-04.csv")
    )
    new = ccaf.read_mining_countries(
        shared_file(CAMBRIDGE, "mining_countries_monthly_2019-09_2021-05.csv")
    )
    assert len(old) == 200 and old["hashrate_ehs"].isna().all()
    merged = old.merge(new, on=["date", "region_code"], suffixes=("_old", "_new"))
    assert len(merged) == 200
    assert_allclose(merged["share_pct_old"], merged["share_pct_new"], rtol=1e-12)
    assert (merged["region_name_old"] == merged["region_name_new"]).all()


def test_reference_provinces() -> None:
    path = shared_file(CAMBRIDGE, "mining_provinces_china_monthly_2019-09_2021-05.csv")
    df = ccaf.read_mining_provinces(path)
    assert list(df.columns) == ["date", "region_code", "region_name", "share_of_china_pct"]
    _expect_date_column(df)
    assert len(df) == 189
    assert df["region_code"].str.startswith("CN-").all()
    april = {c: _row(df, "2021-04-01", c)["share_of_china_pct"] for c in
             ("CN-XJ", "CN-SC", "CN-YN", "CN-NM", "CN-QH")}
    assert_allclose(list(april.values()), [54.37, 16.35, 8.72, 3.73, 2.31], rtol=1e-12)
    assert_allclose(_row(df, "2019-09-01", "CN-SC")["share_of_china_pct"], 49.52, rtol=1e-12)
    assert_allclose(df.groupby("date")["share_of_china_pct"].sum(), 100.0, atol=0.011)


# ============================================================================================
# CBECI: reference files
# ============================================================================================


def test_reference_cbeci_vintage() -> None:
    path = shared_file(CAMBRIDGE, "cbeci_daily_annualised_TWh_vintage-2022-01_2014-07_2020-12.csv")
    df = ccaf.read_cbeci(path)
    assert list(df.columns) == [
        "date", "energy_upper_twh_yr", "energy_lower_twh_yr", "energy_guess_twh_yr"
    ]
    _expect_date_column(df)
    assert len(df) == 2376
    first = _row(df, "2014-07-01")
    assert_allclose(
        first[["energy_guess_twh_yr", "energy_upper_twh_yr", "energy_lower_twh_yr"]].astype(float),
        [10.72208907, 11.69682444, 9.844827237], rtol=1e-12,
    )
    assert_allclose(_row(df, "2020-12-31")["energy_guess_twh_yr"], 89.4221151020986, rtol=1e-12)


def test_reference_cbeci_api_historical() -> None:
    df = ccaf.read_cbeci(shared_file(CAMBRIDGE, "ccaf_api_cbeci_daily_2010-07_2019-08.csv"))
    assert df.attrs["layout"] == "cbeci_api_historical"
    assert len(df) == 3332
    assert list(df.columns) == [
        "date", "power_upper_gw", "power_lower_gw", "power_guess_gw",
        "energy_upper_twh_yr", "energy_lower_twh_yr", "energy_guess_twh_yr",
        "intensity_g_kwh", "intensity_world_g_kwh", "intensity_china_g_kwh", "china_share_pct",
        "emissions_upper_mtco2e_yr", "emissions_lower_mtco2e_yr", "emissions_guess_mtco2e_yr",
    ]
    first = _row(df, "2010-07-18")
    assert_allclose(first["power_guess_gw"], 2.44399700061e-05, rtol=1e-10)
    assert_allclose(first["china_share_pct"], 66.8590531, rtol=1e-12)
    # annualised energy [TWh/yr] = power [GW] x 8.766 (hashshift.units.TWH_YR_PER_GW; CCAF)
    for b in ("upper", "lower", "guess"):
        assert_allclose(df[f"energy_{b}_twh_yr"], df[f"power_{b}_gw"] * 8.766, rtol=1e-9)
    # emissions [Mt/yr] = energy [TWh/yr] x intensity [g/kWh] / 1000
    assert_allclose(
        df["emissions_guess_mtco2e_yr"], df["energy_guess_twh_yr"] * df["intensity_g_kwh"] / 1e3,
        rtol=1e-9,
    )


def test_reference_cbeci_api_prov_and_by_price() -> None:
    df = ccaf.read_cbeci(shared_file(CAMBRIDGE, "ccaf_api_cbeci_daily_2019-09_2020-12.csv"))
    assert df.attrs["layout"] == "cbeci_api_prov" and len(df) == 488
    assert "power_guess_gw" not in df.columns
    assert_allclose(_row(df, "2019-09-01")["energy_guess_twh_yr"], 67.53314061103629, rtol=1e-12)
    assert_allclose(_row(df, "2019-09-01")["intensity_g_kwh"], 388.73704380087264, rtol=1e-12)

    bp = ccaf.read_cbeci_by_price(
        shared_file(CAMBRIDGE, "cbeci_v1.2.0_guess_TWh_by_price_2010-07_2020-12.csv")
    )
    assert list(bp.columns) == ["date", "price_usd_kwh", "energy_guess_twh_yr"]
    assert len(bp) == 3820 * 19
    sel = bp[(bp["date"] == pd.Timestamp("2020-12-31")) & np.isclose(bp["price_usd_kwh"], 0.05)]
    assert_allclose(sel["energy_guess_twh_yr"], [86.1716908782574], rtol=1e-12)


def test_reference_dispatcher_kinds() -> None:
    expected = {
        "mining_countries_monthly_2019-09_2021-05.csv": ("mining_countries", 210),
        "mining_countries_v1.1.0_vintage-2021-08_2019-09_2021-04.csv": ("mining_countries", 200),
        "mining_provinces_china_monthly_2019-09_2021-05.csv": ("mining_provinces", 189),
        "cbeci_daily_annualised_TWh_vintage-2022-01_2014-07_2020-12.csv": ("cbeci_daily", 2376),
        "ccaf_api_cbeci_daily_2010-07_2019-08.csv": ("cbeci_daily", 3332),
        "ccaf_api_cbeci_daily_2019-09_2020-12.csv": ("cbeci_daily", 488),
        "cbeci_v1.2.0_guess_TWh_by_price_2010-07_2020-12.csv": ("cbeci_guess_by_price", 72580),
    }
    for fname, (kind, n) in expected.items():
        got = ccaf.read_ccaf(shared_file(CAMBRIDGE, fname))
        assert isinstance(got, ParsedTable)
        assert (got.kind, len(got.frame)) == (kind, n), fname


# ============================================================================================
# prices: reference files
# ============================================================================================


def _raw_row(path: Path, day: str) -> dict[str, str]:
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            if row["time"] == day:
                return row
    raise AssertionError(day)


def test_reference_coinmetrics() -> None:
    path = shared_file(MARKET, "coinmetrics_btc_2026-03.csv")
    kind, df = prices.read_price_csv(path)
    assert kind == "coinmetrics"
    assert list(df.columns) == [
        "date", "price_usd", "hashrate_ehs", "blocks", "fees_btc", "subsidy_btc", "revenue_usd",
        "difficulty",
    ]
    _expect_date_column(df)
    assert len(df) == 6289
    assert df["difficulty"].isna().all()  # the slimmed 2026 file has no DiffMean
    assert df.iloc[-1][["price_usd", "hashrate_ehs"]].isna().all()  # last row: reference rates
    day = _row(df, "2021-07-03")
    raw = _raw_row(path, "2021-07-03")
    assert_allclose(day["hashrate_ehs"], 97.321703034328668, rtol=1e-12)  # TH/s x 1e-6
    assert_allclose(day["hashrate_ehs"], float(raw["HashRate"]) / 1e6, rtol=1e-12)
    assert_allclose(day["blocks"], 127)
    assert_allclose(
        day["revenue_usd"], (793.75 + 57.69736962) * 34588.2242916423, rtol=1e-12
    )
    # independent check: subsidy x price equals Coin Metrics' own IssTotUSD
    assert_allclose(day["subsidy_btc"] * day["price_usd"], float(raw["IssTotUSD"]), rtol=1e-9)
    assert_allclose(_row(df, "2017-12-17")["price_usd"], 19250.467650789, rtol=1e-12)


def test_reference_coinmetrics_sciecon_difficulty_and_agreement() -> None:
    old = prices.read_coinmetrics(shared_file(MARKET, "coinmetrics_btc_2020-07_sciecon.csv"))
    new = prices.read_coinmetrics(shared_file(MARKET, "coinmetrics_btc_2026-03.csv"))
    assert len(old) == 4224
    assert_allclose(_row(old, "2020-05-11")["difficulty"], 16104807485529.445, rtol=1e-12)
    assert_allclose(_row(old, "2020-07-27")["hashrate_ehs"], 128.08209807778554, rtol=1e-12)
    both = old.merge(new, on="date", suffixes=("_old", "_new")).dropna(
        subset=["price_usd_old", "price_usd_new"]
    )
    assert len(both) == 3663
    assert_allclose(both["price_usd_old"], both["price_usd_new"], rtol=1e-12)


def test_reference_yahoo_vs_coinmetrics() -> None:
    kind, yf = prices.read_price_csv(shared_file(MARKET, "yahoo_BTC-USD_2014-09-18_2025-11-29.csv"))
    assert kind == "close" and list(yf.columns) == ["date", "price_usd"]
    assert len(yf) == 4091
    assert_allclose(_row(yf, "2014-09-18")["price_usd"], 424.44000244140625, rtol=1e-12)
    cm = prices.read_coinmetrics(shared_file(MARKET, "coinmetrics_btc_2026-03.csv"))
    both = yf.merge(cm[["date", "price_usd"]], on="date", suffixes=("_yf", "_cm"))
    rel = (both["price_usd_yf"] / both["price_usd_cm"] - 1).abs()
    assert rel.median() < 0.005 and rel.max() < 0.06  # SOURCES.md: median 0.16 %, max 4.8 %


# ============================================================================================
# hand-made files in the source layouts
# ============================================================================================


def test_sample_countries_both_layouts() -> None:
    df = ccaf.read_mining_countries(DATA / "ccaf_mining_countries_sample.csv")
    assert len(df) == 8
    assert list(df["region_code"][:4]) == ["CN", "DE", "OTHER", "US"]  # sorted by date, code
    assert_allclose(_row(df, "2020-02-01", "CN")["share_pct"], 55.25)
    assert pd.isna(_row(df, "2020-02-01", "US")["hashrate_ehs"])  # empty cell kept as NaN
    assert _row(df, "2020-01-01", "DE")["region_name"] == "Germany"

    old = ccaf.read_mining_countries(DATA / "ccaf_mining_countries_v110_sample.csv")
    assert _row(old, "2020-02-01", "IR")["share_pct"] == pytest.approx(10.96)
    assert old["hashrate_ehs"].isna().all()
    kind, same = ccaf.parse_ccaf((DATA / "ccaf_mining_countries_v110_sample.csv").read_bytes())
    assert kind == "mining_countries"
    pd.testing.assert_frame_equal(same, old)


def test_sample_provinces() -> None:
    df = ccaf.read_mining_provinces(DATA / "ccaf_mining_provinces_sample.csv")
    assert set(df["region_code"]) == {"CN-XJ", "CN-SC", "CN-NM", "CN-OTHER"}
    assert _row(df, "2020-02-01", "CN-NM")["region_name"] == "Inner Mongolia"
    assert_allclose(_row(df, "2020-02-01", "CN-XJ")["share_of_china_pct"], 35.5)


def test_sample_cbeci_layouts() -> None:
    daily = ccaf.read_cbeci(DATA / "cbeci_daily_sample.csv")
    assert_allclose(daily["energy_guess_twh_yr"], [80.0, 80.5, 81.25])
    hist = ccaf.read_cbeci(DATA / "cbeci_api_historical_sample.csv")
    assert_allclose(hist["power_guess_gw"], [5.0, 6.0])
    assert_allclose(hist["china_share_pct"], [60.0, 60.0])
    assert_allclose(hist["emissions_guess_mtco2e_yr"], hist["energy_guess_twh_yr"] * 0.44)
    prov = ccaf.read_cbeci(DATA / "cbeci_api_prov_sample.csv")
    assert list(prov.columns) == [
        "date", "energy_upper_twh_yr", "energy_lower_twh_yr", "energy_guess_twh_yr",
        "intensity_g_kwh", "emissions_upper_mtco2e_yr", "emissions_lower_mtco2e_yr",
        "emissions_guess_mtco2e_yr",
    ]
    by_price = "date,0.03,0.05\n2020-01-01,90.5,80.25\n2020-01-02,91,81\n"
    kind, bp = ccaf.parse_ccaf(by_price)
    assert kind == "cbeci_guess_by_price"
    assert_allclose(bp["price_usd_kwh"], [0.03, 0.05, 0.03, 0.05])
    assert_allclose(bp["energy_guess_twh_yr"], [90.5, 80.25, 91, 81])


def test_sample_coinmetrics() -> None:
    kind, df = prices.read_price_csv(DATA / "coinmetrics_btc_sample.csv")
    assert kind == "coinmetrics"
    assert_allclose(df["hashrate_ehs"][:2], [100.0, 95.0000005])
    assert_allclose(df["revenue_usd"][:2], [(1875 + 20.5) * 7200, (1800 + 25) * 6985.5])
    assert_allclose(df["difficulty"][:2], 13000000000000.5)
    assert df.loc[2, "price_usd"] == 7344.25 and df["revenue_usd"].isna()[2]
    assert df.iloc[3].drop("date").isna().all()


def test_sample_close_layouts() -> None:
    plain = prices.read_price_close(DATA / "prices_close_sample.csv")
    kind, yahoo = prices.read_price_csv(DATA / "prices_yahoo_sample.csv")
    assert kind == "close"
    pd.testing.assert_frame_equal(plain, yahoo, check_like=True)
    assert_allclose(plain["price_usd"], [7200.17, 6985.47, 7344.88])
    kind, cm_subset = prices.parse_price_csv("time,PriceUSD\n2020-01-01,7200\n")
    assert kind == "close" and cm_subset["price_usd"].tolist() == [7200.0]
    _, upper = prices.parse_price_csv("Date,Open,Close\n2020-01-01T00:00:00Z,1,2\n")
    assert upper["price_usd"].tolist() == [2.0]
    _expect_date_column(upper)


def test_sample_grid_table() -> None:
    df = gridtable.read_grid_table(DATA / "grid_table_sample.csv")
    assert list(df.columns) == [
        "region_code", "region_name", "price_usd_kwh", "intensity_g_kwh", "month", "source",
        "published",
    ]
    assert (df["published"] == pd.Timestamp("1970-01-01")).all()  # undated: usable at any date
    assert df["month"].dtype == "Int64"
    assert list(df["region_code"]) == ["CN-SC", "CN-SC", "OTHER", "US-TX"]
    assert df["month"].isna().tolist() == [True, False, True, True]
    assert df.loc[1, "month"] == 7 and df.loc[1, "price_usd_kwh"] == 0.02
    assert df.loc[3, "region_name"] == "Texas"
    assert df.loc[1, "source"] == "test fixture: wet-season row, July"
    no_month = gridtable.parse_grid_table(
        "region_code,price_usd_kwh,intensity_g_kwh,source\nKZ,0.03,600,x\n"
    )
    assert no_month["month"].isna().all()


# ============================================================================================
# bad input: every rule names the file, the line and the field
# ============================================================================================

COUNTRIES_HEADER = "date,country,monthly_hashrate_%,monthly_absolute_hashrate_EH/S\n"
GOOD_MONTH = (
    "2020-01-01,Mainland China,60%,60\n"
    "2020-01-01,United States,25%,25\n"
    "2020-01-01,Other,15%,15\n"
)


def _raises(exc: type[Exception], path: Path, parse: object, *fragments: str) -> Exception:
    assert callable(parse)
    with pytest.raises(exc) as ei:
        parse(path)
    msg = str(ei.value)
    assert str(path) in msg, msg
    for f in fragments:
        assert f in msg, (f, msg)
    return ei.value


def test_bad_missing_column(tmp_path: Path) -> None:
    p = _write(tmp_path, "countries.csv", "country,monthly_hashrate_%\nOther,100%\n")
    err = _raises(SourceFormatError, p, ccaf.read_mining_countries,
                  "field 'date'", "missing column", "'country'", "'monthly_hashrate_%'")
    assert isinstance(err, ValueError) and err.field == "date"  # type: ignore[attr-defined]

    p = _write(tmp_path, "cbeci.csv", ",timestamp,max,guess,date\n1,1577836800,2,1,2020-01-01\n")
    _raises(TableFormatError, p, ccaf.read_cbeci, "field 'min'", "missing column", "'guess'")

    p = _write(tmp_path, "cm.csv", "time,PriceUSD,HashRate,BlkCnt,FeeTotNtv\n2020-01-01,1,1,1,1\n")
    _raises(TableFormatError, p, prices.read_coinmetrics, "field 'IssTotNtv'", "missing column")

    p = _write(tmp_path, "px.csv", "day,close\n2020-01-01,1\n")
    _raises(TableFormatError, p, prices.read_price_csv, "field 'date'", "'day'")

    p = _write(tmp_path, "grid.csv", "region_code,price_usd_kwh,intensity_g_kwh\nCN,0.03,500\n")
    _raises(TableFormatError, p, gridtable.read_grid_table, "field 'source'", "missing column")


def test_bad_layout_and_malformed(tmp_path: Path) -> None:
    p = _write(tmp_path, "what.csv", "a,b\n1,2\n")
    _raises(TableFormatError, p, ccaf.read_ccaf,
            "unrecognised layout", "line 1", "mining_countries")
    p = _write(tmp_path, "empty.csv", "")
    _raises(TableFormatError, p, ccaf.read_mining_countries, "empty file")
    p = _write(tmp_path, "ragged.csv", COUNTRIES_HEADER + GOOD_MONTH + "2020-02-01,Other,1%,1,9\n")
    _raises(TableFormatError, p, ccaf.read_mining_countries, "line 5", "malformed CSV")


def test_bad_numbers(tmp_path: Path) -> None:
    text = COUNTRIES_HEADER + GOOD_MONTH.replace("25%,25", "25x%,25")
    p = _write(tmp_path, "countries.csv", text)
    err = _raises(TableFormatError, p, ccaf.read_mining_countries,
                  "line 3", "field 'monthly_hashrate_%'", "not a number", "25x%")
    assert err.line == 3  # type: ignore[attr-defined]

    p = _write(tmp_path, "countries2.csv", COUNTRIES_HEADER + GOOD_MONTH.replace("60%,60", ",60"))
    _raises(TableFormatError, p, ccaf.read_mining_countries, "line 2", "missing value")

    text = COUNTRIES_HEADER + GOOD_MONTH.replace("60%,60", "160%,60")
    p = _write(tmp_path, "countries3.csv", text)
    _raises(TableFormatError, p, ccaf.read_mining_countries, "line 2", "above the allowed 100")

    p = _write(tmp_path, "cbeci.csv", (DATA / "cbeci_daily_sample.csv").read_text().replace(
        "151.0", "1.5.1"))
    _raises(TableFormatError, p, ccaf.read_cbeci, "line 3", "field 'max'", "not a number")

    p = _write(tmp_path, "cm.csv", (DATA / "coinmetrics_btc_sample.csv").read_text().replace(
        "25.0,", "-25.0,"))
    _raises(TableFormatError, p, prices.read_coinmetrics, "line 3", "field 'FeeTotNtv'", "below")

    p = _write(tmp_path, "px.csv", "date,close\n2020-01-01,7200\n2020-01-02,-1\n")
    _raises(TableFormatError, p, prices.read_price_close, "line 3", "field 'close'", "below")
    p = _write(tmp_path, "px2.csv", "date,close\n2020-01-01,7200\n2020-01-02,abc\n")
    _raises(TableFormatError, p, prices.read_price_close, "line 3", "field 'close'")


def test_bad_dates(tmp_path: Path) -> None:
    p = _write(tmp_path, "px.csv", "date,close\n2020-01-01,7200\n01/02/2020,7000\n")
    _raises(TableFormatError, p, prices.read_price_close, "line 3", "field 'date'", "ISO 8601")
    p = _write(tmp_path, "px2.csv", "date,close\n2020-13-01,7200\n")
    _raises(TableFormatError, p, prices.read_price_close, "line 2", "field 'date'")
    p = _write(tmp_path, "px3.csv", "date,close\n2020-01-01T12:00:00,7200\n")
    _raises(TableFormatError, p, prices.read_price_close, "line 2", "midnight UTC")
    p = _write(tmp_path, "countries.csv", COUNTRIES_HEADER + GOOD_MONTH.replace(
        "2020-01-01,Other", "2020-01-15,Other"))
    _raises(TableFormatError, p, ccaf.read_mining_countries, "line 4", "first day of the month")
    p = _write(tmp_path, "cbeci.csv", (DATA / "cbeci_daily_sample.csv").read_text().replace(
        "1577923200", "1578009600"))
    _raises(TableFormatError, p, ccaf.read_cbeci,
            "line 3", "field 'timestamp'", "unix time is 2020-01-03", "date 2020-01-02")


def test_bad_duplicate_rows(tmp_path: Path) -> None:
    text = COUNTRIES_HEADER + GOOD_MONTH + "2020-01-01,United States,0%,0\n"
    p = _write(tmp_path, "countries.csv", text.replace("60%", "35%").replace("25%", "50%"))
    _raises(TableFormatError, p, ccaf.read_mining_countries,
            "line 5", "duplicate row", "as line 3", "field 'country'", "US")
    # two spellings of one country in a month are the same region
    text = COUNTRIES_HEADER + "2020-01-01,Germany *,50%,1\n2020-01-01,Germany,50%,1\n"
    p = _write(tmp_path, "countries2.csv", text)
    _raises(TableFormatError, p, ccaf.read_mining_countries, "line 3", "duplicate", "DE")

    p = _write(tmp_path, "cbeci.csv", (DATA / "cbeci_daily_sample.csv").read_text() +
               "4,1578009600,2020-01-03T00:00:00,152.25,41.0,81.25,2020-01-03\n")
    _raises(TableFormatError, p, ccaf.read_cbeci, "line 5", "duplicate row", "as line 4")

    p = _write(tmp_path, "px.csv", "date,close\n2020-01-01,1\n2020-01-01,2\n")
    _raises(TableFormatError, p, prices.read_price_csv, "line 3", "duplicate row")

    grid = "region_code,price_usd_kwh,intensity_g_kwh,month,source\n"
    p = _write(tmp_path, "grid.csv", grid + "CN-SC,0.03,100,7,a\nCN-SC,0.02,90,7,b\n")
    _raises(TableFormatError, p, gridtable.read_grid_table, "line 3", "duplicate row", "as line 2")
    p = _write(tmp_path, "grid2.csv", grid + "CN-SC,0.03,100,,a\nCN-SC,0.02,90,,b\n")
    _raises(TableFormatError, p, gridtable.read_grid_table, "line 3", "all year")


def test_bad_order(tmp_path: Path) -> None:
    feb = GOOD_MONTH.replace("2020-01-01", "2020-02-01")
    p = _write(tmp_path, "countries.csv", COUNTRIES_HEADER + feb + GOOD_MONTH)
    _raises(TableFormatError, p, ccaf.read_mining_countries,
            "line 5", "out of order", "2020-01-01 after 2020-02-01", "CN")
    rows = (DATA / "cbeci_daily_sample.csv").read_text().splitlines()
    p = _write(tmp_path, "cbeci.csv", "\n".join([rows[0], rows[2], rows[1], rows[3]]) + "\n")
    _raises(TableFormatError, p, ccaf.read_cbeci, "line 3", "out of order")
    p = _write(tmp_path, "cm.csv", "time,PriceUSD,HashRate,BlkCnt,FeeTotNtv,IssTotNtv\n"
               "2020-01-02,1,1,1,1,1\n2020-01-01,1,1,1,1,1\n")
    _raises(TableFormatError, p, prices.read_price_csv, "line 3", "field 'time'", "out of order")


def test_bad_unknown_region(tmp_path: Path) -> None:
    p = _write(tmp_path, "countries.csv", COUNTRIES_HEADER + GOOD_MONTH.replace(
        "United States", "Kazakstan"))
    err = _raises(UnknownRegionError, p, ccaf.read_mining_countries,
                  "line 3", "field 'country'", "'Kazakstan'", "did you mean 'Kazakhstan'")
    assert isinstance(err, LookupError)
    p = _write(tmp_path, "prov.csv", "Date,Province,Share of Chinese hashrate\n"
               "2020-01-01,Xinjang,100\n")
    _raises(UnknownRegionError, p, ccaf.read_mining_provinces,
            "line 2", "field 'Province'", "'Xinjiang'")
    grid = "region_code,price_usd_kwh,intensity_g_kwh,source\n"
    p = _write(tmp_path, "grid.csv", grid + "CN,0.03,500,x\nCN-XX,0.03,500,x\n")
    _raises(UnknownRegionError, p, gridtable.read_grid_table, "line 3", "'CN-XX'", "did you mean")
    p = _write(tmp_path, "grid2.csv", grid + "us-tx,0.03,500,x\n")
    _raises(UnknownRegionError, p, gridtable.read_grid_table, "line 2", "'US-TX'")


def test_bad_share_sums(tmp_path: Path) -> None:
    text = COUNTRIES_HEADER + GOOD_MONTH + GOOD_MONTH.replace("2020-01-01", "2020-02-01").replace(
        "15%", "15.2%")
    p = _write(tmp_path, "countries.csv", text)
    err = _raises(TableFormatError, p, ccaf.read_mining_countries,
                  "2020-02-01", "sum to 100.2", "100 ± 0.1", "lines 5-7", "monthly_hashrate_%")
    assert err.value == pytest.approx(100.2)  # type: ignore[attr-defined]
    # within the tolerance, or with a wider one, it parses
    ok = text.replace("15.2%", "15.05%")
    assert len(ccaf.parse_mining_countries(ok)) == 6
    assert len(ccaf.parse_mining_countries(text, share_tolerance_pct=0.5)) == 6
    p = _write(tmp_path, "prov.csv", "Date,Province,Share of Chinese hashrate\n"
               "2020-01-01,Xinjiang,60\n2020-01-01,Other,30\n")
    _raises(TableFormatError, p, ccaf.read_mining_provinces, "sum to 90", "2020-01-01")


def test_bad_bounds_and_grid_values(tmp_path: Path) -> None:
    p = _write(tmp_path, "cbeci.csv", (DATA / "cbeci_daily_sample.csv").read_text().replace(
        "151.0,40.5,80.5", "151.0,90.5,80.5"))
    _raises(TableFormatError, p, ccaf.read_cbeci, "line 3", "bounds out of order", "2020-01-02")

    grid = "region_code,price_usd_kwh,intensity_g_kwh,month,source\n"
    cases = {
        "CN,-0.01,500,,x\n": ("line 2", "field 'price_usd_kwh'", "below"),
        "CN,0.03,-5,,x\n": ("line 2", "field 'intensity_g_kwh'", "below"),
        "CN,0.03,500,13,x\n": ("line 2", "field 'month'", "above the allowed 12"),
        "CN,0.03,500,2.5,x\n": ("line 2", "field 'month'", "1-12"),
        "CN,0.03,500,0,x\n": ("line 2", "field 'month'", "below"),
        "CN,0.03,500,,\n": ("line 2", "field 'source'", "missing source"),
        "CN,,500,,x\n": ("line 2", "field 'price_usd_kwh'", "missing value"),
        ",0.03,500,,x\n": ("line 2", "field 'region_code'", "missing region code"),
    }
    p = _write(tmp_path, "grid_comments.csv",
               "# a comment\n\n" + grid + "# another\nCN,0.03,500,,x\nCN,0.03,-1,,x\n")
    _raises(TableFormatError, p, gridtable.read_grid_table, "line 6", "field 'intensity_g_kwh'")
    for i, (row, fragments) in enumerate(cases.items()):
        p = _write(tmp_path, f"grid{i}.csv", grid + row)
        _raises(TableFormatError, p, gridtable.read_grid_table, *fragments)


# ============================================================================================
# properties
# ============================================================================================


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(0, 1e6, allow_nan=False), st.floats(0, 1e9, allow_nan=False),
            st.integers(0, 300),
        ),
        min_size=1, max_size=20,
    ),
    st.dates(min_value=pd.Timestamp("2009-01-03").date(),
             max_value=pd.Timestamp("2030-01-01").date()),
)
def test_coinmetrics_roundtrip(rows: list[tuple[float, float, int]], start: object) -> None:
    days = pd.date_range(pd.Timestamp(str(start)), periods=len(rows), freq="D")
    src = pd.DataFrame({
        "time": days.strftime("%Y-%m-%d"),
        "PriceUSD": [r[0] for r in rows], "HashRate": [r[1] for r in rows],
        "BlkCnt": [r[2] for r in rows], "FeeTotNtv": 0.5, "IssTotNtv": 6.25,
    })
    kind, df = prices.parse_price_csv(src.to_csv(index=False))
    assert kind == "coinmetrics"
    assert (df["date"].to_numpy() == days.to_numpy()).all()
    assert_allclose(df["price_usd"], src["PriceUSD"], rtol=1e-15)
    assert_allclose(df["hashrate_ehs"], src["HashRate"] / 1e6, rtol=1e-15)
    assert_allclose(df["revenue_usd"], 6.75 * src["PriceUSD"], rtol=1e-15)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(1, 10_000), min_size=2, max_size=6),
    st.integers(1, 4),
    st.randoms(use_true_random=False),
)
def test_countries_roundtrip_any_row_order(
    weights: list[int], months: int, rnd: object
) -> None:
    codes = ["CN", "US", "KZ", "RU", "CA", "MY"][: len(weights)]
    names = {"CN": "Mainland China", "US": "United States", "KZ": "Kazakhstan",
             "RU": "Russian Federation", "CA": "Canada", "MY": "Malaysia"}
    total = sum(weights)
    shares = [round(100 * w / total, 2) for w in weights]
    shares[0] = round(shares[0] + 100 - sum(shares), 2)  # make the month add to 100 exactly
    if shares[0] < 0:
        return
    rows = []
    for m in range(months):
        day = f"2020-{m + 1:02d}-01"
        month_rows = [f"{day},{names[c]},{s}%,{s / 2}" for c, s in zip(codes, shares, strict=True)]
        rnd.shuffle(month_rows)  # type: ignore[attr-defined]
        rows += month_rows
    df = ccaf.parse_mining_countries(COUNTRIES_HEADER + "\n".join(rows) + "\n")
    assert len(df) == months * len(codes)
    assert_allclose(df.groupby("date")["share_pct"].sum(), 100.0, atol=1e-9)
    got = df[df["date"] == pd.Timestamp("2020-01-01")].set_index("region_code")["share_pct"]
    assert_allclose(got[codes], shares, rtol=1e-12)


def test_grid_table_vintages_newest_public_wins() -> None:
    """Rows of several vintages: a read as of a day keeps those published by then, and the
    lookup takes the newest of them."""
    from hashshift.energy import intensity_lookup
    from hashshift.sources.pit import filter_public, record_access

    text = ("region_code,price_usd_kwh,intensity_g_kwh,month,source,published\n"
            "US,0.05,400,,old,2019-06-30\nUS,0.05,370,,new,2024-12-31\n")
    grid = gridtable.parse_grid_table(text)
    assert intensity_lookup(grid, "US-TX", 7) == (370.0, "new")
    with record_access() as log:
        then = filter_public(grid, "published", "2021-05-31", dataset="grid", source="t")
    assert intensity_lookup(then, "US-TX", 7) == (400.0, "old")
    assert log[0].newest_public is not None and str(log[0].newest_public) == "2019-06-30"
