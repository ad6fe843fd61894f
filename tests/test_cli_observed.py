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
