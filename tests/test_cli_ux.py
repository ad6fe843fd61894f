"""What a user of the command line sees (issue 17): daily figures, strict JSON, ranges that say
what was asked, bare flags, clear import errors, the data's freshness, and a README whose
commands work as written."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from hashshift import freshness, history
from hashshift.cli import app

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()


def strict(text: str) -> object:
    """JSON that a strict parser accepts: NaN, Infinity and NaT are refused."""
    def refuse(name: str) -> None:
        raise AssertionError(f"not strict JSON: {name}")

    assert "NaT" not in text
    return json.loads(text, parse_constant=refuse)


# ---------------------------------------------------------------------------------------------
# history per day
# ---------------------------------------------------------------------------------------------
def test_history_daily(tmp_path: Path) -> None:
    one = history.hashrate_daily(window_days=1)
    week = history.hashrate_daily(window_days=7)
    last = one.iloc[-1]
    result = runner.invoke(app, ["history", "--daily", "--rows", "3"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"{last['date']:%Y-%m-%d}" in out and "EH/s (7 d)" in out and "90 %" in out
    assert f"{last['hashrate_ehs']:,.1f}" in out
    assert f"{week['hashrate_ehs'].iloc[-1]:,.1f}" in out
    csv = tmp_path / "days.csv"
    result = runner.invoke(app, ["history", "--daily", "--since", "2021-06-01", "--until",
                                 "2021-07-31", "--csv", str(csv), "--json"])
    payload = strict(result.output)
    assert payload["days"] == 61 and payload["first"] == "2021-06-01"  # type: ignore[index]
    df = pd.read_csv(csv)
    assert list(df.columns) == ["date", "blocks", "difficulty", "hashrate_ehs",
                                "hashrate_lo_ehs", "hashrate_hi_ehs", "hashrate_7d_ehs",
                                "hashrate_7d_lo_ehs", "hashrate_7d_hi_ehs", "blocks_source",
                                "blocks_7d_source"]
    assert set(df["blocks_source"]) == {"bundled"}  # an empty store: the bundled counts
    assert len(df) == 61 and df["date"].iloc[-1] == "2021-07-31"
    july = one.set_index("date").loc["2021-07-01"]
    got = df.set_index("date").loc["2021-07-01"]
    assert got["hashrate_ehs"] == pytest.approx(july["hashrate_ehs"])
    assert got["hashrate_lo_ehs"] < got["hashrate_ehs"] < got["hashrate_hi_ehs"]


@pytest.mark.parametrize(("args", "message"), [
    (["history", "--since", "2030-01-01"], "--since 2030-01-01: the bundled history ends"),
    (["history", "--daily", "--since", "2030-01-01"], "daily block counts end"),
    (["history", "--daily", "--chart", "x.png"], "--chart draws the epochs"),
    (["history", "--since", "2021-02-01", "--until", "2021-01-01"], "is after --until"),
])
def test_history_out_of_range_is_an_error(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_energy_shows_the_range_asked_for() -> None:
    result = runner.invoke(app, ["energy", "--since", "2021-01-01", "--rows", "6"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "2021-01 to " in out and "first and last of" in out
    assert "│ 2021-01 " in out and "│ 2021-03 " in out  # the start asked for is shown
    assert "months …" in out  # and what is left out between is counted
    short = runner.invoke(app, ["energy", "--since", "2021-01-01", "--until", "2021-03-31"])
    assert "2021-01 to 2021-03: all 3 months" in short.output
    assert "θ (theta) = the profitability threshold" in short.output.replace("\n", " ")


def test_flags_print_bare_in_help() -> None:
    for cmd in (["history"], ["map"], ["events"], ["data", "status"], ["run"]):
        out = runner.invoke(app, [*cmd, "--help"], terminal_width=120).output
        assert "--json" in out or "--quiet" in out, cmd
        assert "<bool>" not in out, cmd
    out = runner.invoke(app, ["history", "--help"], terminal_width=120).output
    assert "<str>" in out  # options that take a value still show its type


# ---------------------------------------------------------------------------------------------
# strict JSON everywhere
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [
    ["history", "--json", "--since", "2026-06-01"],  # the newest epoch: no end, no hashrate
    ["history", "--daily", "--json"],
    ["map", "--json", "--date", "2019-09"],
    ["map", "--json", "--date", "2024-01"],
    ["energy", "--json", "--since", "2025-01-01"],
    ["economics", "--json", "--machine", "Antminer S9"],
    ["events", "--json"],
    ["event-study", "kazakhstan_2022", "--json"],
    ["data", "status", "--json"],
    ["scenario", "validate", "russia_ban_2026", "--json"],
])
def test_json_is_strict(args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    strict(result.output)


def test_json_has_null_where_a_value_is_missing() -> None:
    payload = strict(runner.invoke(app, ["history", "--json", "--since", "2026-06-01"]).output)
    last = payload["last_epoch"]  # type: ignore[index]
    assert last["last_time"] is None and last["hashrate_ehs"] is None
    assert last["first_time"].startswith("2026-06-14")


# ---------------------------------------------------------------------------------------------
# data import and status
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("content", "name"), [
    (b"", "empty.csv"),
    (b"foo,bar\n1,2\n", "garbage.csv"),
    (b"just some words\n", "words.csv"),
    (bytes(range(256)) * 3, "binary.csv"),  # named a table, but not text
])
def test_import_of_an_unknown_file_names_the_layouts(tmp_path: Path, content: bytes,
                                                     name: str) -> None:
    f = tmp_path / name
    f.write_bytes(content)
    result = runner.invoke(app, ["data", "import", str(f), "--home", str(tmp_path / "home")])
    assert result.exit_code == 2, result.output
    out = " ".join(result.output.split())
    assert "not a CSV this command reads (expected one of:" in out
    assert "Coin Metrics btc.csv" in out and "CCAF mining map by country" in out
    assert "Traceback" not in out and not (tmp_path / "home" / "hashshift.duckdb").exists()


def test_import_row_error_names_the_row_and_field(tmp_path: Path) -> None:
    f = tmp_path / "prices.csv"
    f.write_text("date,close\n2021-01-01,29000\n2021-01-02,abc\n")
    result = runner.invoke(app, ["data", "import", str(f), "--home", str(tmp_path / "h")])
    assert result.exit_code == 2, result.output
    assert "field 'close'" in result.output and "line 3" in result.output
    assert "'abc'" in result.output


def test_data_status_says_how_far_each_dataset_reaches(tmp_path: Path) -> None:
    f = freshness.freshness()
    result = runner.invoke(app, ["data", "status", "--home", str(tmp_path)], terminal_width=160)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Bundled data: how far each dataset reaches" in out
    for r in f.to_dict("records"):
        assert r["dataset"] in out and str(r["last"]) in out
    payload = strict(runner.invoke(app, ["data", "status", "--json", "--home",
                                         str(tmp_path)]).output)
    bundled = {b["dataset"]: b for b in payload["bundled"]}  # type: ignore[index]
    assert bundled["nowcast"]["last"] == str(f.set_index("dataset").loc["nowcast", "last"])
    assert all(isinstance(b["age_days"], int) for b in bundled.values())


def test_scenario_validate_says_what_is_extrapolated() -> None:
    result = runner.invoke(app, ["scenario", "validate", "russia_ban_2026"], terminal_width=160)
    assert result.exit_code == 0, result.output
    assert "extrapolated" in result.output and "daily block counts end" in result.output
    payload = strict(runner.invoke(app, ["scenario", "validate", "russia_ban_2026",
                                         "--json"]).output)
    assert {x["dataset"] for x in payload["extrapolated"]} >= {"chain_daily"}  # type: ignore


# ---------------------------------------------------------------------------------------------
# the README works as written
# ---------------------------------------------------------------------------------------------
README = (REPO / "README.md").read_text(encoding="utf-8")


def test_readme_quickstart_runs_and_prints_hex() -> None:
    block = re.search(r"## Python quickstart\s+```python\n(.*?)```", README, re.S)
    assert block, "the README has a Python quickstart"
    done = subprocess.run([sys.executable, "-c", block.group(1)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "0x1d00d86a"
    assert "-27.94" in done.stdout


def test_readme_sweep_report_uses_the_work_folder_of_make_run() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    work = re.search(r"hashshift sweep ban_top15 --work (\S+)", makefile)
    assert work
    folder = work.group(1).replace("$(OUT)", "out")
    line = re.search(r"hashshift report --sweep ban_top15 --sweep-work (\S+)", README)
    assert line and line.group(1) == folder


def test_readme_says_how_far_the_data_reach() -> None:
    f = freshness.freshness().set_index("dataset")
    table = README[README.index("## How far the bundled data reach"):]
    table = table[:table.index("\n## ")]
    label = {"chain_epochs": "chain: epochs", "chain_daily": "chain: daily blocks",
             "market": "market", "map": "map (observed)", "nowcast": "map (nowcast)",
             "events": "events"}
    for key, name in label.items():
        row = next(ln for ln in table.splitlines() if ln.startswith(f"| {name} |"))
        assert f"| {f.loc[key, 'first']} | {f.loc[key, 'last']} |" in row, (key, row)
    assert f"public by {freshness.newest_day()}" in table


def test_readme_explains_the_reference_data_and_shows_the_screenshots() -> None:
    assert "`../shared/data/`" in README and "`hashshift validate cbeci`" in README
    assert "HASHSHIFT_SHARED_DATA" in README
    images = re.findall(r"!\[[^\]]+\]\((docs/img/[a-z-]+\.png)\)", README)
    assert len(images) == 4
    for img in images:
        data = (REPO / img).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000, img
    assert "scripts/screenshots.py" in README and (REPO / "scripts" / "screenshots.py").is_file()
