"""ASIC catalogue, machine lookup and fleet efficiency.

Reference: CCAF's CBECI hardware list (``shared/data/cambridge/ccaf_cbeci_miners_2021-02.json``,
from ``CambridgeAltFin/ccaf_cbeci_api``): the catalogue's efficiencies for the models in both
lists must agree; skipped when ../shared is absent.
"""

from __future__ import annotations

import pandas as pd
import pytest
from numpy.testing import assert_allclose

from hashshift import hardware as hw
from hashshift.sources._tabular import TableFormatError
from hashshift.sources.bundled_observed import (
    CATALOGUE_COLUMNS,
    bundled_name,
    parse_asic_catalogue,
    read_ccaf_miners,
)

REQUIRED_MODELS = [
    "Avalon 1", "Antminer S9", "Antminer S17", "Antminer S19", "Antminer S19 Pro",
    "Antminer S19j Pro", "Antminer S19 XP", "Antminer S21", "Antminer S21 Pro",
    "Antminer S21 XP", "Antminer S21+", "WhatsMiner M20S", "WhatsMiner M30S",
    "WhatsMiner M30S++", "WhatsMiner M50", "WhatsMiner M50S", "WhatsMiner M60",
    "WhatsMiner M60S", "WhatsMiner M66S", "AvalonMiner 1246", "Avalon A1366", "Avalon A1466",
    "Avalon A1566",
]


def test_catalogue_shape_and_coverage() -> None:
    cat = hw.catalogue()
    assert list(cat.columns) == CATALOGUE_COLUMNS
    assert len(cat) >= 60
    assert bundled_name("asic_catalogue").startswith("asic_catalogue_")
    assert cat["release_date"].is_monotonic_increasing
    first = cat.iloc[0]
    assert first["model"] == "Avalon 1" and first["release_date"].year == 2013
    assert_allclose(cat["efficiency_j_th"], cat["power_w"] / cat["hashrate_ths"], rtol=0.01)
    missing = [m for m in REQUIRED_MODELS if m not in set(cat["model"])]
    assert not missing, missing
    assert (cat["source"].str.len() > 10).all()
    # efficiency improves by orders of magnitude from 2013 to today
    assert cat["efficiency_j_th"].iloc[0] > 1000 > 20 > cat["efficiency_j_th"].iloc[-1]


def test_catalogue_agrees_with_ccaf_list(shared: type) -> None:
    ccaf = read_ccaf_miners(shared.file("cambridge", "ccaf_cbeci_miners_2021-02.json"))
    assert len(ccaf) == 93 and ccaf["release_date"].min() == pd.Timestamp("2014-07-01")
    cat = hw.catalogue()
    both = cat[cat["ccaf_name"] != ""].merge(
        ccaf, left_on="ccaf_name", right_on="model", suffixes=("", "_ccaf"), how="left"
    )
    assert both["efficiency_j_th_ccaf"].notna().all(), "a ccaf_name is not in CCAF's list"
    assert len(both) >= 35
    print(f"\n{len(both)} models in both lists; largest efficiency difference "
          f"{(both['efficiency_j_th'] / both['efficiency_j_th_ccaf'] - 1).abs().max():.2%}")
    assert_allclose(both["efficiency_j_th"], both["efficiency_j_th_ccaf"], rtol=0.01)


def test_machine_lookup() -> None:
    m = hw.machine("Antminer S19 XP")
    assert (m.maker, m.hashrate_ths, m.power_w, m.efficiency_j_th) == ("Bitmain", 140.0,
                                                                       3010.0, 21.5)
    assert m.name == "Bitmain Antminer S19 XP"
    assert hw.machine("bitmain antminer s19xp") == m
    assert hw.machine("S19 XP") == m
    assert hw.machine("M30S++").efficiency_j_th == 31.0
    assert hw.machine("Whatsminer M30S+").efficiency_j_th == 34.0  # '+' is significant


def test_unknown_machine_suggests_nearest() -> None:
    with pytest.raises(hw.UnknownMachineError) as info:
        hw.machine("Antminer S91 XP")
    assert "Antminer S19 XP" in info.value.suggestions
    assert "unknown machine 'Antminer S91 XP'" in str(info.value)
    assert isinstance(info.value, LookupError)


def test_fleet_efficiency_methods_order() -> None:
    vals = {m: hw.fleet_efficiency("2021-05-15", m) for m in hw.FLEET_METHODS}
    assert vals["best_profitable"] <= vals["equal_weight_profitable"] <= vals["worst_profitable"]
    assert vals["equal_weight_released"] > vals["equal_weight_profitable"]
    assert vals["best_profitable"] == 29.5  # S19 Pro / S19j Pro were the best in May 2021


def test_fleet_efficiency_with_explicit_threshold() -> None:
    machines = pd.DataFrame({
        "release_date": pd.to_datetime(["2019-01-01", "2020-01-01", "2020-06-01", "2021-01-01"]),
        "efficiency_j_th": [80.0, 40.0, 30.0, 20.0],
    })
    # on 2020-07-01 with θ = 50 J/TH: 40 and 30 count (80 too inefficient, 20 not released)
    kw = {"threshold_j_th": 50.0, "machines": machines}
    assert hw.fleet_efficiency("2020-07-01", **kw) == 35.0  # type: ignore[arg-type]
    assert hw.fleet_efficiency("2020-07-01", "best_profitable", **kw) == 30.0  # type: ignore[arg-type]
    assert hw.fleet_efficiency("2020-07-01", "worst_profitable", **kw) == 40.0  # type: ignore[arg-type]
    # a 1-year lifetime retires the 2019 and early-2020 machines by 2021-03
    assert hw.fleet_efficiency("2021-03-01", "equal_weight_released", machines=machines,
                               max_age_years=1.0) == 25.0
    assert pd.isna(hw.fleet_efficiency("2018-01-01", threshold_j_th=50.0, machines=machines))


def test_fleet_efficiency_errors() -> None:
    with pytest.raises(ValueError, match=r"outside the bundled market data \(2010-08"):
        hw.fleet_efficiency("2035-01-01")
    with pytest.raises(ValueError, match="did you mean 'best_profitable'"):
        hw.fleet_efficiency("2021-01-01", "best_profitabel")
    with pytest.raises(ValueError, match="price_usd_kwh = -0.05"):
        hw.fleet_efficiency("2021-01-01", price_usd_kwh=-0.05)
    with pytest.raises(ValueError, match="not a date"):
        hw.fleet_efficiency("2021-13-45")


def test_fleet_efficiency_series() -> None:
    s = hw.fleet_efficiency_series("2020-01-01", "2022-12-31")
    assert len(s) == 36
    assert (s["n_machines"] > 0).all()
    # the fleet gets more efficient over three years
    assert s["efficiency_j_th"].iloc[-1] < s["efficiency_j_th"].iloc[0]
    with pytest.raises(ValueError, match="cover 2010-08"):
        hw.fleet_efficiency_series("2040-01-01")


def test_released() -> None:
    r = hw.released("2016-07-01")
    assert "Antminer S9" in set(r["model"]) and "Antminer S19" not in set(r["model"])


_HEADER = ",".join(CATALOGUE_COLUMNS)


@pytest.mark.parametrize(
    ("row", "field", "text"),
    [
        ("X,Acme,2020-01-01,100,3000,20,air,,spec", "efficiency_j_th", "within 1%"),
        ("X,Acme,2020-01-01,100,3000,30,oil,,spec", "cooling", "allowed: air"),
        ("X,Acme,2020-13-01,100,3000,30,air,,spec", "release_date", "ISO 8601"),
        ("X,Acme,2020-01-01,0,3000,30,air,,spec", "hashrate_ths", "positive"),
        ("X,Acme,2020-01-01,100,3000,30,air,,", "source", "missing source"),
    ],
)
def test_catalogue_parser_errors(row: str, field: str, text: str) -> None:
    with pytest.raises(TableFormatError) as info:
        parse_asic_catalogue(f"# comment\n{_HEADER}\n{row}\n", name="cat.csv")
    msg = str(info.value)
    assert "cat.csv" in msg and field in msg and text in msg and "line 3" in msg


def test_catalogue_parser_rejects_duplicate_models() -> None:
    rows = "X,Acme,2020-01-01,100,3000,30,air,,spec\nx,Acme,2021-01-01,100,3000,30,air,,spec\n"
    with pytest.raises(TableFormatError, match="duplicate"):
        parse_asic_catalogue(f"{_HEADER}\n{rows}")
