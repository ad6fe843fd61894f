"""`hashshift energy`, `hashshift economics` and `hashshift validate cbeci`."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from numpy.testing import assert_allclose
from typer.testing import CliRunner

from hashshift.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def _empty_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the user's store out of these tests: an empty HASHSHIFT_HOME."""
    monkeypatch.setenv("HASHSHIFT_HOME", str(tmp_path / "home"))


def test_energy_bundled_monthly_table_and_csv(tmp_path: Path) -> None:
    out = tmp_path / "cbeci.csv"
    result = runner.invoke(app, ["energy", "--since", "2021-01-01", "--until", "2021-12-31",
                                 "--csv", str(out), "--rows", "3"])
    assert result.exit_code == 0, result.output
    assert "CBECI at 0.05 USD/kWh" in result.output and "monthly means" in result.output
    assert "2021-12" in result.output
    df = pd.read_csv(out)
    assert len(df) == 12 and {"power_guess_gw", "energy_guess_twh_yr"} <= set(df.columns)


def test_energy_json_and_price() -> None:
    cheap = runner.invoke(app, ["energy", "--since", "2022-01-01", "--until", "2022-03-31",
                                "--json"])
    dear = runner.invoke(app, ["energy", "--since", "2022-01-01", "--until", "2022-03-31",
                               "--price", "0.10", "--json"])
    assert cheap.exit_code == 0, cheap.output
    assert dear.exit_code == 0, dear.output
    a, b = json.loads(cheap.output), json.loads(dear.output)
    assert a["resolution"] == "monthly" and b["price_usd_kwh"] == 0.10
    # a dearer price halves the threshold: fewer, better machines, less power
    assert_allclose(b["rows"][0]["threshold_j_th"], a["rows"][0]["threshold_j_th"] / 2)
    assert b["rows"][0]["power_guess_gw"] < a["rows"][0]["power_guess_gw"]


def test_energy_daily_from_a_coin_metrics_file(shared: type) -> None:
    path = shared.file("market", "coinmetrics_btc_2026-03.csv")
    result = runner.invoke(app, ["energy", "--market", str(path), "--since", "2020-12-25",
                                 "--until", "2020-12-31"])
    assert result.exit_code == 0, result.output
    assert "2020-12-31" in result.output and "(daily)" in result.output


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["energy", "--price", "-1"], "must be > 0 USD/kWh"),
        (["energy", "--since", "2040-01-01"], "cover 2010-08"),
        (["energy", "--since", "2022-01-01", "--until", "2021-01-01"], "after --until"),
        (["energy", "--since", "01/02/2021"], "YYYY-MM-DD"),
        (["economics", "--machine", "Antminer S91 XP"], "did you mean 'Antminer S21 XP'"),
        (["economics", "--date", "2001-01"], "cover 2010-08"),
        (["economics", "--capex", "3000"], "--capex needs one --machine"),
        (["economics", "--price", "0"], "must be > 0 USD/kWh"),
    ],
)
def test_bad_input_is_one_clear_line(args: list[str], text: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert text in result.output and "Traceback" not in result.output


def test_economics_machine_break_even() -> None:
    result = runner.invoke(app, ["economics", "--machine", "Antminer S19 XP", "--machine",
                                 "m30s++", "--date", "2022-11", "--price", "0.07", "--json"])
    assert result.exit_code == 0, result.output
    p = json.loads(result.output)
    assert p["month"] == "2022-11"
    xp, m30 = p["machines"]
    assert xp["model"] == "Antminer S19 XP" and m30["model"] == "WhatsMiner M30S++"
    assert_allclose(xp["break_even_usd_kwh"], p["hashprice_usd_ph_day"] / (21.5 * 24))
    assert_allclose(p["threshold_j_th"], p["hashprice_usd_ph_day"] / (0.07 * 24))
    assert xp["profitable"] and xp["break_even_usd_kwh"] > m30["break_even_usd_kwh"]


def test_economics_table_with_payback(tmp_path: Path) -> None:
    out = tmp_path / "e.csv"
    result = runner.invoke(app, ["economics", "--machine", "Antminer S21 XP", "--capex",
                                 "5000", "--csv", str(out)])
    assert result.exit_code == 0, result.output
    assert "hashprice" in result.output and "Antminer S21 XP" in result.output
    df = pd.read_csv(out)
    assert "payback_days" in df.columns and df["payback_days"].iloc[0] > 0


def test_economics_lists_released_machines() -> None:
    result = runner.invoke(app, ["economics", "--date", "2016-06", "--rows", "50", "--json"])
    assert result.exit_code == 0, result.output
    models = {m["model"] for m in json.loads(result.output)["machines"]}
    assert "Antminer S9" in models and "Antminer S19" not in models


def test_quiet_prints_nothing(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--quiet", "economics", "--csv", str(tmp_path / "x.csv")])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == ""
    assert (tmp_path / "x.csv").exists()


def test_validate_cbeci(shared: type, tmp_path: Path) -> None:
    shared.file("cambridge", "ccaf_cbeci_miners_2021-02.json")
    out = tmp_path / "v.csv"
    result = runner.invoke(app, ["validate", "cbeci", "--data-dir", str(shared.root),
                                 "--csv", str(out)])
    assert result.exit_code == 0, result.output
    assert "api-2022-08" in result.output and "download-2022-01" in result.output
    df = pd.read_csv(out)
    assert len(df) == 6 and set(df["hardware"]) == {"ccaf-2021-02"}  # the validation only
    row = df[(df["hardware"] == "ccaf-2021-02") & (df["vintage"] == "api-2022-08")]
    assert row["meets_goal"].all()


def test_validate_cbeci_missing_files(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", "cbeci", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert "missing reference file" in result.output and "--data-dir" in result.output


def test_energy_emissions_by_month(tmp_path: Path) -> None:
    from hashshift.emissions import monthly_emissions

    out = tmp_path / "em.csv"
    result = runner.invoke(app, ["energy", "--emissions", "--since", "2021-01-01", "--until",
                                 "2021-12-31", "--csv", str(out)])
    assert result.exit_code == 0, result.output
    assert "The world's power and emissions by month at 0.05 USD/kWh" in result.output
    assert "MtCO2e/yr" in result.output and "lower–upper" in result.output
    # 2021-05: 12.34 GW best guess, 53.7 MtCO2e/yr, bounds 20.9–140.3 (tests/test_emissions.py)
    assert "2021-05" in result.output and "53.7" in result.output
    assert "20.9–140.3" in result.output
    assert "CBECI's power bounds" in " ".join(result.output.split())
    assert "Grid intensity: 'Other countries' take the OTHER row" in \
        " ".join(result.output.split())
    df = pd.read_csv(out)
    assert list(df["month"].str[:7]) == [f"2021-{m:02d}" for m in range(1, 13)]
    assert (df["region_code"] == "WORLD").all() and (df["kind"] == "observed").all()
    ref = monthly_emissions(nowcast=False)
    ref = ref[(ref["region_code"] == "WORLD") & (ref["month"].dt.year == 2021)]
    assert_allclose(df["emissions_guess_mt_yr"], ref["emissions_guess_mt_yr"], rtol=1e-9)
    row = df[df["month"].str.startswith("2021-05")].iloc[0]
    assert_allclose([row["emissions_lower_mt_yr"], row["emissions_guess_mt_yr"],
                     row["emissions_upper_mt_yr"]], [20.90, 53.70, 140.34], atol=0.01)


def test_energy_emissions_by_country_json() -> None:
    result = runner.invoke(app, ["energy", "--month", "2021-05", "--observed-only", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["what"] == "by country" and doc["month"] == "2021-05"
    codes = [r["region_code"] for r in doc["rows"]]
    assert codes[:2] == ["CN", "US"] and codes[-2:] == ["OTHER", "WORLD"]
    cn = doc["rows"][0]
    assert cn["intensity_g_kwh"] == 529.8 and cn["intensity_region"] == "CN"
    assert_allclose(cn["emissions_guess_mt_yr"], 25.21, atol=0.005)
    world = doc["rows"][-1]
    assert_allclose(world["emissions_guess_mt_yr"],
                    sum(r["emissions_guess_mt_yr"] for r in doc["rows"][:-1]), rtol=1e-12)
    assert "every named country has a grid row of its own" in doc["fallback"]
    # the table: fallbacks marked and named (as known on 1 June 2021 no country row was public)
    table = runner.invoke(app, ["energy", "--month", "2021-05", "--as-of", "2021-06-01"])
    assert table.exit_code == 0, table.output
    flat = " ".join(table.output.split())
    assert "NOWCAST, not observed" in flat and "450*" in flat
    assert "fallback to the world average (OTHER, 450 gCO2e/kWh)" in flat


@pytest.mark.parametrize(("args", "message"), [
    (["energy", "--month", "2030-01", "--observed-only"],
     "--month: month = 2030-01: no emissions figures; months with figures: observed 2019-09 "
     "to 2022-01"),
    (["energy", "--month", "2021-5"], "--month: month = '2021-5' is not a month; use YYYY-MM"),
    (["energy", "--emissions", "--market", "x.csv"], "--market and --max-age-years apply to "
                                                     "the CBECI table only"),
    (["energy", "--as-of", "2021-06-01"], "--as-of and --observed-only apply to --emissions"),
    (["energy", "--month", "2021-05", "--since", "2021-01-01"],
     "--month 2021-05 shows one month by country; --since and --until apply to --emissions"),
    (["energy", "--emissions", "--since", "2030-01-01"], "no month with emissions figures"),
])
def test_energy_emissions_errors(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code != 0
    assert message in " ".join(result.output.split()), result.output
