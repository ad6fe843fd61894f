"""``hashshift map``, driven through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from numpy.testing import assert_allclose
from typer.testing import CliRunner

from hashshift.cli import app
from hashshift.store import Store

runner = CliRunner()


def test_map_country_table() -> None:
    result = runner.invoke(app, ["map", "--date", "2021-04"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "April 2021" in out and "China" in out and "46.04" in out
    assert "United States" in out and "16.85" in out
    assert "EH/s" in out and "72.64" in out  # 46.04 % of 157.77 EH/s
    assert "VPN" in out  # the coverage caveat travels with the table
    assert "100.00" in out  # total row


def test_map_province_table() -> None:
    result = runner.invoke(app, ["map", "--date", "2021-04", "--level", "province"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Xinjiang" in out and "54.37" in out and "25.03" in out
    assert "Inner Mongolia" in out and "of China %" in out


def test_map_defaults_to_the_newest_month() -> None:
    result = runner.invoke(app, ["map"])
    assert result.exit_code == 0, result.output
    # CCAF's last month: the US 37.84 %, China back at 21.11 %
    assert "January 2022" in result.output
    assert "37.84" in result.output and "21.11" in result.output


def test_map_json() -> None:
    result = runner.invoke(app, ["map", "--date", "2021-04", "--level", "province", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["date"] == "2021-04" and payload["level"] == "province"
    assert payload["vintage"] == "2022-01" and "VPN" in payload["caveat"]
    assert 150 < payload["network_hashrate_ehs"] < 165
    xj = next(r for r in payload["regions"] if r["region_code"] == "CN-XJ")
    assert_allclose(xj["share_of_china_pct"], 54.37)
    assert_allclose(xj["share_pct"], 25.03, atol=0.005)
    assert xj["hashrate_ehs"] > 0


def test_map_csv(tmp_path: Path) -> None:
    csv = tmp_path / "sub" / "map.csv"
    result = runner.invoke(app, ["--quiet", "map", "--date", "2020-06", "--csv", str(csv)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == ""
    df = pd.read_csv(csv)
    assert list(df.columns) == ["date", "level", "region_code", "region_name", "share_pct",
                                "hashrate_ehs"]
    assert (df["date"] == "2020-06-01").all() and (df["level"] == "country").all()
    assert_allclose(df["share_pct"].sum(), 100.0, atol=0.1)


def test_map_reads_newer_months_from_the_store() -> None:
    # tests/conftest.py points HASHSHIFT_HOME at a fresh folder: Store() is that store
    june = pd.DataFrame({"date": pd.Timestamp("2022-03-01").date(), "level": "country",
                         "region_code": ["US", "CN", "OTHER"], "share_pct": [40.0, 20.0, 40.0]})
    Store().write_frame("mining_map", june, kind="test", location="test_cli_geo")
    result = runner.invoke(app, ["map", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["date"] == "2022-03" and "hashshift store" in payload["data_source"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--date", "2021/04"], "YYYY-MM"),
        (["--date", "April"], "YYYY-MM"),
        (["--date", "2021-13"], "--date"),
        (["--date", "2022-02"], "2019-09 to 2022-01"),
        (["--date", "2019-08", "--level", "province"], "2019-09 to 2021-07"),
        (["--level", "state"], "--level must be 'country' or 'province'"),
    ],
)
def test_map_bad_input_is_a_clear_error(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["map", *args])
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and message in result.output
    assert "Traceback" not in result.output
