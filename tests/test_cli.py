"""The command line, driven through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from hashshift import __version__
from hashshift.cli import app

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert __version__ in result.output


def test_history_table_csv_and_chart(tmp_path: Path) -> None:
    csv = tmp_path / "epochs.csv"
    chart = tmp_path / "history.png"
    result = runner.invoke(
        app, ["history", "--since", "2021-05-01", "--until", "2021-08-31",
              "--csv", str(csv), "--chart", str(chart)],
    )
    assert result.exit_code == 0, result.output
    assert "-27.94" in result.output  # the retarget at block 689,472 is in range
    assert "689,472" in result.output
    df = pd.read_csv(csv)
    assert 689_472 in set(df["first_height"])
    assert {"epoch", "bits", "target", "difficulty", "change_pct", "hashrate_ehs",
            "hashrate_lo_ehs", "hashrate_hi_ehs", "duration_source"} <= set(df.columns)
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert chart.stat().st_size > 10_000


def test_history_json() -> None:
    result = runner.invoke(app, ["history", "--since", "2021-06-01", "--until", "2021-07-31",
                                 "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["epochs"] >= 3
    assert payload["last_epoch"]["first_height"] % 2016 == 0


def test_history_quiet_prints_nothing(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--quiet", "history", "--csv", str(tmp_path / "e.csv")])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == ""
    assert (tmp_path / "e.csv").exists()


def test_history_bad_date_is_a_clear_error() -> None:
    result = runner.invoke(app, ["history", "--since", "31/05/2021"])
    assert result.exit_code == 2
    assert "--since" in result.output and "YYYY-MM-DD" in result.output
    assert "Traceback" not in result.output


def test_history_empty_range_names_the_covered_range() -> None:
    result = runner.invoke(app, ["history", "--since", "2001-01-01", "--until", "2002-01-01"])
    assert result.exit_code == 2
    assert "covers 2009-01-03" in result.output


def test_history_reversed_range() -> None:
    result = runner.invoke(app, ["history", "--since", "2022-01-01", "--until", "2021-01-01"])
    assert result.exit_code == 2
    assert "after --until" in result.output
