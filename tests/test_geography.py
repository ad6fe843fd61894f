"""The mining map: CCAF's shares by country and Chinese province, EH/s by region."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from conftest import REPO, SHARED_DATA, shared_file
from hashshift import geography as geo
from hashshift.sources import ccaf
from hashshift.sources.bundled_geo import (
    MINING_MAP_COLUMNS,
    format_mining_map,
    parse_mining_map,
    read_mining_map,
)
from hashshift.store import Store

COUNTRIES = "mining_countries_monthly_2019-09_2022-01.csv"
PROVINCES = "mining_provinces_china_monthly_2019-09_2021-07.csv"


def _row(df: pd.DataFrame, code: str) -> pd.Series:
    rows = df[df["region_code"] == code]
    assert len(rows) == 1, code
    return rows.iloc[0]


# ---------------------------------------------------------------------------------------------
# reference values (CCAF, April 2021; shared/data/events/china_2021_timeline.md)
# ---------------------------------------------------------------------------------------------


def test_china_share_april_2021() -> None:
    df = geo.shares("2021-04")
    assert list(df.columns) == ["region_code", "region_name", "share_pct", "hashrate_ehs"]
    cn = _row(df, "CN")
    assert cn["region_name"] == "China"
    assert_allclose(cn["share_pct"], 46.04, rtol=1e-12)
    assert df["region_code"].iloc[0] == "CN" and df["region_code"].iloc[-1] == "OTHER"
    assert_allclose(_row(df, "US")["share_pct"], 16.85, rtol=1e-12)


def test_xinjiang_april_2021() -> None:
    df = geo.shares("2021-04", level="province")
    assert list(df.columns) == [
        "region_code", "region_name", "share_pct", "share_of_china_pct", "hashrate_ehs"]
    xj = _row(df, "CN-XJ")
    assert xj["region_name"] == "Xinjiang"
    assert_allclose(xj["share_of_china_pct"], 54.37, rtol=1e-12)
    assert_allclose(xj["share_pct"], 54.37 * 46.04 / 100, rtol=1e-12)
    assert_allclose(xj["share_pct"], 25.03, atol=0.005)  # 25.03 % of the global hashrate
    for code, pct in [("CN-SC", 16.35), ("CN-YN", 8.72), ("CN-NM", 3.73), ("CN-QH", 2.31)]:
        assert_allclose(_row(df, code)["share_of_china_pct"], pct, rtol=1e-12)


def test_any_day_selects_its_month() -> None:
    a = geo.shares("2021-04")
    for when in ("2021-04-30", pd.Timestamp("2021-04-15"), pd.Timestamp("2021-04-01").date(),
                 pd.Timestamp("2021-04-30T23:00", tz="UTC").to_pydatetime()):
        pd.testing.assert_frame_equal(geo.shares(when), a)
    # 1 May 2021 01:00 in UTC+8 is still 30 April in UTC
    late = pd.Timestamp("2021-05-01T01:00", tz="Asia/Shanghai").to_pydatetime()
    pd.testing.assert_frame_equal(geo.shares(late), a)


def test_attrs_carry_caveat_source_vintage() -> None:
    df = geo.shares("2020-01", level="province")
    a = df.attrs
    assert a["caveat"] == geo.CAVEAT and "VPN" in a["caveat"] and "37 %" in a["caveat"]
    assert "ccaf.io/cbeci/mining_map" in a["source"]
    assert a["vintage"] == "2022-01"
    assert a["date"] == "2020-01" and a["level"] == "province"
    assert "mining_provinces" in a["data_source"] and "mining_countries" in a["data_source"]
    assert a["network_hashrate_ehs"] > 100


# ---------------------------------------------------------------------------------------------
# sums and consistency
# ---------------------------------------------------------------------------------------------


def test_monthly_sums() -> None:
    c = geo.shares_over_time("country")
    p = geo.shares_over_time("province")
    assert c["date"].nunique() == 29 and p["date"].nunique() == 23  # to 2022-01 and 2021-07
    assert_allclose(c.groupby("date")["share_pct"].sum(), 100.0, atol=0.1)
    of_china = p.groupby("date")["share_of_china_pct"].sum()
    zero = of_china.index == pd.Timestamp("2021-07-01")  # China (and each province) at 0
    assert_allclose(of_china[~zero], 100.0, atol=0.1)
    assert (of_china[zero] == 0).all()
    china = c[c["region_code"] == "CN"].set_index("date")["share_pct"]
    prov_total = p.groupby("date")["share_pct"].sum()
    assert_allclose(prov_total, china.loc[prov_total.index] * p.groupby("date")[
        "share_of_china_pct"].sum() / 100, rtol=1e-12)
    # EH/s add up to the network's hashrate (to the shares' rounding)
    per = c.groupby("date").agg(ehs=("hashrate_ehs", "sum"), net=("network_hashrate_ehs", "first"))
    assert_allclose(per["ehs"], per["net"], rtol=1e-3)


def test_hashrate_by_region_is_share_times_network() -> None:
    s = geo.hashrate_by_region("2021-05", level="country")
    assert s.name == "hashrate_ehs" and s.index.name == "region_code"
    net = geo.network_hashrate_monthly().loc[pd.Timestamp("2021-05-01")]
    df = geo.shares("2021-05")
    assert_allclose(s.to_numpy(), df["share_pct"].to_numpy() / 100 * net, rtol=1e-12)
    assert s.attrs["caveat"] == geo.CAVEAT
    prov = geo.hashrate_by_region("2021-05", level="province")
    assert_allclose(prov.sum(), s["CN"], rtol=1e-3)


def test_network_hashrate_monthly_whole_months_only() -> None:
    net = geo.network_hashrate_monthly()
    assert net.index[0] > pd.Timestamp("2009-01-01")  # January 2009 is not covered from day 1
    idx = pd.DatetimeIndex(net.index)
    assert (idx.day == 1).all() and idx.is_monotonic_increasing
    assert 150 < net.loc[pd.Timestamp("2021-04-01")] < 165


def test_ehs_match_ccaf_absolute_column() -> None:
    """Measured: rows >= 1 EH/s agree to a median 0.45 % (p95 1.24 %, max 1.65 %); every row
    within 2 % + 0.01 EH/s (CCAF rounds to 0.01); monthly totals within 1.6 %."""
    published = ccaf.read_mining_countries(shared_file("cambridge", COUNTRIES))
    ours = geo.shares_over_time("country")
    m = ours.merge(published[["date", "region_code", "hashrate_ehs"]],
                   on=["date", "region_code"], suffixes=("", "_ccaf"))
    assert len(m) == 290
    assert_allclose(m["hashrate_ehs"], m["hashrate_ehs_ccaf"], rtol=0.02, atol=0.01)
    big = m[m["hashrate_ehs_ccaf"] >= 1.0]
    rel = (big["hashrate_ehs"] / big["hashrate_ehs_ccaf"] - 1).abs()
    assert rel.median() < 0.006 and rel.max() < 0.0175
    totals = m.groupby("date")[["hashrate_ehs", "hashrate_ehs_ccaf"]].sum()
    assert_allclose(totals["hashrate_ehs"], totals["hashrate_ehs_ccaf"], rtol=0.016)


# ---------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("level", "last", "after"), [("country", "2022-01", "2022-02"),
                                                      ("province", "2021-07", "2021-08")])
@pytest.mark.parametrize("when", ["after", "2019-08-31", "2030-01"])
def test_dates_outside_the_map_name_the_range(when: str, level: geo.Level, last: str,
                                              after: str) -> None:
    when = after if when == "after" else when
    with pytest.raises(geo.MiningMapError, match=rf"covers 2019-09 to {last}") as ei:
        geo.shares(when, level=level)
    assert isinstance(ei.value, ValueError)
    assert when[:7] in str(ei.value)


@pytest.mark.parametrize("when", ["2021/04", "April 2021", "2021-4", "", "2021-13"])
def test_bad_dates(when: str) -> None:
    with pytest.raises(ValueError, match=r"2021|YYYY-MM|date"):
        geo.shares(when)


def test_bad_level() -> None:
    with pytest.raises(ValueError, match="level must be 'country' or 'province'"):
        geo.shares("2021-04", level="state")  # type: ignore[arg-type]


def test_shares_not_summing_to_100_are_an_error() -> None:
    df = read_mining_map()
    bad = df.copy()
    i = bad.index[(bad["date"] == "2020-06-01") & (bad["region_code"] == "US")][0]
    bad.loc[i, "share_pct"] += 0.5
    with pytest.raises(geo.MiningMapError, match=r"2020-06: country shares .* sum to 100\.5"):
        geo.check_mining_map(bad)
    bad = df.copy()
    i = bad.index[(bad["date"] == "2021-01-01") & (bad["region_code"] == "CN-XJ")][0]
    bad.loc[i, "share_pct"] -= 1.0
    with pytest.raises(geo.MiningMapError, match=r"2021-01: province shares of CN"):
        geo.check_mining_map(bad)
    geo.check_mining_map(df)  # the bundled table passes


# ---------------------------------------------------------------------------------------------
# the store
# ---------------------------------------------------------------------------------------------


def _store_frame(day: str, shares: dict[str, float], level: str = "country") -> pd.DataFrame:
    return pd.DataFrame({
        "date": pd.Timestamp(day).date(), "level": level, "region_code": list(shares),
        "share_pct": list(shares.values()),
    })


def test_empty_store_uses_the_bundled_map(tmp_path: Path) -> None:
    store = Store(tmp_path / "absent.duckdb")
    pd.testing.assert_frame_equal(geo.shares("2021-04", store=store), geo.shares("2021-04"))
    assert geo.mining_map(store).attrs["store_months"] == 0


def test_store_months_extend_and_replace(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.duckdb")
    march = {"US": 30.0, "CN": 20.0, "KZ": 15.0, "OTHER": 35.0}
    april = {"CN": 50.0, "US": 50.0}
    frame = pd.concat([_store_frame("2022-03-01", march), _store_frame("2021-04-01", april)])
    store.write_frame("mining_map", frame, kind="test", location="test_geography")
    df = geo.shares("2022-03", store=store)
    assert_allclose(_row(df, "US")["share_pct"], 30.0)
    assert "hashshift store" in df.attrs["data_source"]
    apr = geo.shares("2021-04", store=store)  # the store's April replaces the bundled one
    assert list(apr["region_code"]) == ["CN", "US"]
    assert geo.months("country", store)[-1] == pd.Timestamp("2022-03-01")
    # a stored month is public from the day it was imported: not to a forecast of 2021
    assert geo.months("country", store, as_of="2023-01-01")[-1] == pd.Timestamp("2022-01-01")
    # bundled provinces of April over the store's China share of April
    xj = _row(geo.shares("2021-04", level="province", store=store), "CN-XJ")
    assert_allclose(xj["share_pct"], 54.37 * 50.0 / 100, rtol=1e-12)
    # the bundled map itself is untouched
    assert_allclose(_row(geo.shares("2021-04"), "CN")["share_pct"], 46.04)


def test_store_provinces_without_their_country_share(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.duckdb")
    march = _store_frame("2022-03-01", {"CN-XJ": 60.0, "CN-OTHER": 40.0}, level="province")
    store.write_frame("mining_map", march, kind="test", location="t")
    with pytest.raises(geo.MiningMapError, match=r"2022-03: province shares of CN need"):
        geo.shares("2022-03", level="province", store=store)


def test_store_zero_china_month(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.duckdb")
    july = _store_frame("2021-07-01", {"US": 50.0, "CN": 0.0, "OTHER": 50.0})
    provinces = _store_frame("2021-07-01", {"CN-XJ": 0.0, "CN-SC": 0.0}, level="province")
    store.write_frame("mining_map", pd.concat([july, provinces]), kind="test", location="t")
    df = geo.shares("2021-07", level="province", store=store)
    assert (df["share_pct"] == 0).all() and (df["hashrate_ehs"] == 0).all()


def test_store_with_bad_sums_is_an_error(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.duckdb")
    store.write_frame("mining_map", _store_frame("2021-06-01", {"US": 60.0, "CN": 20.0}),
                      kind="test", location="t")
    with pytest.raises(geo.MiningMapError, match=r"2021-06: .* sum to 80"):
        geo.shares("2021-06", store=store)


# ---------------------------------------------------------------------------------------------
# the bundled file: reader, writer, and the script that builds it
# ---------------------------------------------------------------------------------------------


def test_bundled_file_reads_and_round_trips() -> None:
    df = read_mining_map()
    assert list(df.columns) == [*MINING_MAP_COLUMNS, "published"]
    assert df.attrs["vintage"] == "2022-01"
    assert len(df) == 290 + 207 and set(df["level"]) == {"country", "province"}
    assert set(df.loc[df["level"] == "country", "basis"]) == {"global"}
    assert set(df.loc[df["level"] == "province", "basis"]) == {"CN"}
    text = format_mining_map(df)
    back = parse_mining_map(text)
    pd.testing.assert_frame_equal(back, df, check_like=False)
    path = REPO / "src" / "hashshift" / "data" / "mining_map_ccaf_2022-01.csv"
    assert path.read_text(encoding="utf-8") == text


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("2021-04-02,country,CN,46.04,global,x", "first day of a month"),
        ("2021-04-01,planet,CN,46.04,global,x", "level 'planet'"),
        ("2021-04-01,country,CN-XJ,46.04,global,x", "is not a country"),
        ("2021-04-01,province,CN,46.04,CN,x", "is not a subdivision"),
        ("2021-04-01,province,CN-XJ,54.37,global,x", "basis 'global' should be 'CN'"),
        ("2021-04-01,country,ZZ,46.04,global,x", "unknown region code 'ZZ'"),
        ("2021-04-01,country,CN,146,global,x", "outside"),
        ("2021-04-01,country,CN,abc,global,x", "not a number"),
        ("2021-04-01,country,CN,46.04,global,", "source is empty"),
    ],
)
def test_parse_mining_map_errors_name_the_line(line: str, message: str) -> None:
    text = ",".join(MINING_MAP_COLUMNS) + "\n2021-04-01,country,US,16.85,global,x\n" + line + "\n"
    with pytest.raises(ValueError, match=rf"f\.csv: line 3: .*{message}"):
        parse_mining_map(text, name="f.csv")


def test_parse_mining_map_rejects_missing_columns_and_repeats() -> None:
    with pytest.raises(ValueError, match="missing column"):
        parse_mining_map("date,level,region_code\n2021-04-01,country,CN\n")
    row = "2021-04-01,country,CN,46.04,global,x\n"
    with pytest.raises(ValueError, match="line 3: CN appears twice"):
        parse_mining_map(",".join(MINING_MAP_COLUMNS) + "\n" + row + row)


def _script() -> ModuleType:
    path = REPO / "scripts" / "build_mining_map.py"
    spec = importlib.util.spec_from_file_location("build_mining_map", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_bundled_file_equals_the_scripts_output(tmp_path: Path) -> None:
    shared_file("cambridge", COUNTRIES)
    shared_file("cambridge", PROVINCES)
    out = _script().main(["--shared-dir", str(SHARED_DATA), "--out", str(tmp_path)])
    data = REPO / "src" / "hashshift" / "data"
    assert out.name == "mining_map_ccaf_2022-01.csv"
    assert out.read_bytes() == (data / out.name).read_bytes()
    begin, end = "<!-- BEGIN mining_map_ccaf", "<!-- END mining_map_ccaf -->"

    def section(text: str) -> str:
        return text[text.index(begin):text.index(end)]

    built = section((tmp_path / "SOURCES.md").read_text(encoding="utf-8"))
    assert built == section((data / "SOURCES.md").read_text(encoding="utf-8"))
    assert "v1.1.1" in built and "vintage 2022-01" in built


def test_builder_matches_the_ccaf_parsers() -> None:
    countries = ccaf.read_mining_countries(shared_file("cambridge", COUNTRIES))
    provinces = ccaf.read_mining_provinces(shared_file("cambridge", PROVINCES))
    df = geo.mining_map_from_ccaf(countries, provinces, countries_source="a",
                                  provinces_source="b")
    bundled = read_mining_map()
    assert_allclose(df["share_pct"].to_numpy(), bundled["share_pct"].to_numpy(), rtol=0)
    assert (df["region_code"].to_numpy() == bundled["region_code"].to_numpy()).all()
    assert np.array_equal(df["date"].to_numpy(), bundled["date"].to_numpy())
