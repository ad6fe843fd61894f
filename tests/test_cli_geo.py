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
    assert list(df.columns) == ["date", "level", "kind", "region_code", "region_name",
                                "share_pct", "hashrate_ehs"]
    assert (df["kind"] == "observed").all()
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
        (["--date", "2019-08"], "the map starts 2019-09"),
        (["--date", "2019-08", "--level", "province"], "the map starts 2019-09"),
        (["--date", "2030-01"], "the nowcast reaches"),
        (["--date", "2023-05", "--level", "province"], "China's provinces are published to "
                                                       "2021-07 only"),
        (["--date", "2021-04", "--as-of", "2021-05-31"], "2021-04 was first published on "
                                                         "2021-07-15"),
        (["--as-of", "2020-01-01"], "no country-level month public on 2020-01-01"),
        (["--date", "2021-04", "--nowcast"], "--nowcast needs --as-of"),
        (["--as-of", "31/05/2021"], "--as-of"),
        (["--level", "state"], "--level must be 'country' or 'province'"),
    ],
)
def test_map_bad_input_is_a_clear_error(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["map", *args])
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and message in result.output
    assert "Traceback" not in result.output


def test_map_january_2022_is_cambridges_last_month_exactly() -> None:
    result = runner.invoke(app, ["map", "--date", "2022-01", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["kind"] == "observed" and payload["label"] == "observed (CCAF)"
    shares = {r["region_code"]: r["share_pct"] for r in payload["regions"]}
    assert shares["US"] == 37.84 and shares["CN"] == 21.11  # as CCAF published them
    text = runner.invoke(app, ["map", "--date", "2022-01"]).output
    assert "United States" in text and "37.84" in text and "China" in text and "21.11" in text
    assert "nowcast" not in text.lower()


def test_map_after_the_last_published_month_is_the_nowcast(tmp_path: Path) -> None:
    from hashshift import atlas
    from hashshift.freshness import newest_day

    result = runner.invoke(app, ["map", "--date", "2025-06"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "June 2025" in out and "NOWCAST, NOT OBSERVED" in out and "90 % interval" in out
    assert f"as known on {newest_day()}" in out
    assert "Nowcast, not observed" in out and "2022-01" in out  # CCAF's last month, named
    model = atlas.map_month("2025-06")
    us = model.set_index("region_code").loc["US"]
    assert f"{us['share_pct_q05']:.2f}–{us['share_pct_q95']:.2f}" in out

    csv = tmp_path / "nowcast.csv"
    result = runner.invoke(app, ["map", "--date", "2025-06", "--csv", str(csv), "--json"])
    payload = json.loads(result.output)
    assert payload["kind"] == "nowcast" and payload["label"] == "nowcast, not observed"
    assert payload["as_of"] == str(newest_day()) and payload["last_published"] == "2022-01"
    assert payload["evidence"] and all(isinstance(e, str) for e in payload["evidence"])
    df = pd.read_csv(csv)
    assert list(df.columns) == ["date", "level", "kind", "region_code", "region_name",
                                "share_pct_q05", "share_pct_q50", "share_pct_q95",
                                "hashrate_ehs_q05", "hashrate_ehs_q50", "hashrate_ehs_q95"]
    assert (df["kind"] == "nowcast").all() and (df["date"] == "2025-06-01").all()
    assert (df["share_pct_q05"] <= df["share_pct_q50"]).all()
    assert (df["share_pct_q50"] <= df["share_pct_q95"]).all()
    assert (df["share_pct_q95"] > df["share_pct_q05"]).any()  # an interval, not a point
    assert_allclose(df["share_pct_q50"].to_numpy(), model["share_pct_q50"].to_numpy())


def test_map_as_known_on_a_day() -> None:
    # on 31 May 2021 the newest public map was the May 2020 release (months to April 2020)
    result = runner.invoke(app, ["map", "--as-of", "2021-05-31", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["date"] == "2020-04" and payload["kind"] == "observed"
    assert payload["as_of"] == "2021-05-31"
    # April 2021 was published on 15 July 2021: as known on 31 May 2021, only its nowcast
    result = runner.invoke(app, ["map", "--date", "2021-04", "--as-of", "2021-05-31",
                                 "--nowcast", "--json"])
    assert result.exit_code == 0, result.output
    nc = json.loads(result.output)
    assert nc["kind"] == "nowcast" and nc["as_of"] == "2021-05-31"
    assert nc["last_published"] == "2020-04" and "xinjiang_2021" in nc["evidence"]
    # the same month as published, without --as-of
    published = json.loads(runner.invoke(app, ["map", "--date", "2021-04", "--json"]).output)
    assert published["kind"] == "observed"
    cn = next(r for r in published["regions"] if r["region_code"] == "CN")
    assert cn["share_pct"] == 46.04


def test_map_latest_is_the_newest_month_the_chain_reaches() -> None:
    from hashshift.freshness import nowcast_reach

    result = runner.invoke(app, ["map", "--date", "latest", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["date"] == f"{nowcast_reach():%Y-%m}" and payload["kind"] == "nowcast"
    # as known on a day: the month of the newest block count public then
    result = runner.invoke(app, ["map", "--date", "latest", "--as-of", "2021-05-31", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["date"] == "2021-05"
