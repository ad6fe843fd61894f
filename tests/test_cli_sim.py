"""`hashshift scenario new|list|validate|schema` and `hashshift run`, through typer's CliRunner.

Engine runs use few paths and short horizons (--paths / --horizon-days) to stay fast."""

from __future__ import annotations

import json
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from hashshift.cli import app
from hashshift.sim.scenario import LIMITS, load_scenario, parse_scenario

runner = CliRunner()
EXAMPLES = resources.files("hashshift").joinpath("examples")
EXAMPLE_NAMES = sorted(p.name.removesuffix(".toml") for p in EXAMPLES.iterdir()
                       if p.name.endswith(".toml"))
QUICK = ["--paths", "20", "--horizon-days", "90"]

SMALL = """\
[scenario]
name = "small test"
as_of = 2021-05-31
horizon_days = 60
paths = 12
seed = 7

[[event]]
kind = "ban"
region = "CN-XJ"
announced = 2021-06-01
effective = 2021-06-03
enforcement = 0.9
ramp_down_days = 3
source = "test"
"""


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args))


@pytest.fixture
def small(tmp_path: Path) -> Path:
    f = tmp_path / "small.toml"
    f.write_text(SMALL, encoding="utf-8")
    return f


# -------------------------------------------------------------------------------------------
# scenario new
# -------------------------------------------------------------------------------------------
def test_new_writes_a_valid_minimal_template(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "my.toml"
    result = invoke("scenario", "new", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and "my.toml" in result.output
    sc = load_scenario(out)
    assert sc.scenario.as_of.isoformat() == "2021-05-31"
    assert [e.kind for e in sc.event] == ["ban"]
    assert "#" in out.read_text()  # commented for the user


def test_new_from_a_shipped_example_copies_it(tmp_path: Path) -> None:
    out = tmp_path / "china.toml"
    result = invoke("scenario", "new", "--example", "china_2021", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_text() == EXAMPLES.joinpath("china_2021.toml").read_text()


def test_new_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    out = tmp_path / "s.toml"
    out.write_text("keep me")
    result = invoke("scenario", "new", "--out", str(out))
    assert result.exit_code == 2
    assert "exists" in result.output and "--force" in result.output
    assert out.read_text() == "keep me"
    result = invoke("scenario", "new", "--out", str(out), "--force")
    assert result.exit_code == 0, result.output
    assert load_scenario(out).scenario.name == "My scenario"


def test_new_unknown_example_lists_the_available_ones(tmp_path: Path) -> None:
    result = invoke("scenario", "new", "--example", "mars_2030", "--out",
                    str(tmp_path / "x.toml"))
    assert result.exit_code == 2
    assert "mars_2030" in result.output
    for name in EXAMPLE_NAMES:
        assert name in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "x.toml").exists()


def test_new_to_stdout_and_into_a_folder(tmp_path: Path) -> None:
    result = invoke("scenario", "new", "--example", "china_2021", "--out", "-")
    assert result.exit_code == 0, result.output
    assert parse_scenario(result.stdout).scenario.name == "China 2021 crackdown"
    result = invoke("scenario", "new", "--out", str(tmp_path), "--force")
    assert result.exit_code == 2 and "folder" in result.output


# -------------------------------------------------------------------------------------------
# scenario list
# -------------------------------------------------------------------------------------------
def test_list_shows_every_example() -> None:
    result = invoke("scenario", "list")
    assert result.exit_code == 0, result.output
    for name in EXAMPLE_NAMES:
        assert name in result.output
    result = invoke("scenario", "list", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["example"] for r in rows] == EXAMPLE_NAMES
    china = next(r for r in rows if r["example"] == "china_2021")
    assert china["as_of"] == "2021-05-31" and china["events"] >= 5


# -------------------------------------------------------------------------------------------
# scenario validate
# -------------------------------------------------------------------------------------------
def test_validate_prints_the_resolved_summary(small: Path) -> None:
    result = invoke("scenario", "validate", str(small))
    assert result.exit_code == 0, result.output
    out = result.output
    for text in ("small test", "2021-05-31", "60 days", "12", "EH/s", "Events (1)", "CN-XJ",
                 "announced 2021-06-01", "valid"):
        assert text in out, (text, out)


def test_validate_a_shipped_example_by_name() -> None:
    result = invoke("scenario", "validate", "china_2021")
    assert result.exit_code == 0, result.output
    assert "China 2021 crackdown" in result.output
    assert "CN-SC" in result.output and "2021-09-24" in result.output


def test_validate_json(small: Path) -> None:
    result = invoke("scenario", "validate", str(small), "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["valid"] is True
    assert payload["name"] == "small test" and payload["paths"] == 12
    assert payload["horizon_days"] == 60 and payload["end"] == "2021-07-29"
    assert payload["events"][0]["kind"] == "ban" and payload["events"][0]["region"] == "CN-XJ"
    assert payload["initial"]["hashrate_ehs"] > 100
    assert abs(sum(payload["initial"]["shares_pct"].values()) - 100) < 0.01


BAD = """\
[scenario]
name = "bad"
as_of = 2021-05-31
horizon_days = 99999
paths = 10
seed = 1
speed = 3

[[event]]
kind = "ban"
region = "CN-XJ"
announced = 2021-06-10
effective = 2021-06-12
enforcement = 1.5
"""


def test_validate_lists_every_problem_and_exits_2(tmp_path: Path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(BAD)
    result = invoke("scenario", "validate", str(f))
    assert result.exit_code == 2
    out = result.output
    assert "3 problems" in out
    assert "scenario.horizon_days" in out and "99999" in out and "3650" in out
    assert "scenario.speed" in out and "unknown field" in out
    assert "event[0].enforcement" in out and "1.5" in out
    result = invoke("scenario", "validate", str(f), "--json")
    assert result.exit_code == 2
    payload = json.loads(result.stdout)
    assert payload["valid"] is False and len(payload["problems"]) == 3


def test_validate_names_unknown_region_codes(tmp_path: Path) -> None:
    f = tmp_path / "regions.toml"
    f.write_text(SMALL.replace('region = "CN-XJ"', 'region = "XX-QQ"')
                 + "\n[[region]]\ncode = \"Atlantis\"\n")
    result = invoke("scenario", "validate", str(f))
    assert result.exit_code == 2
    assert "event[0].region" in result.output and "'XX-QQ'" in result.output
    assert "region[0].code" in result.output and "'Atlantis'" in result.output


def test_validate_reports_data_the_run_cannot_have(tmp_path: Path) -> None:
    f = tmp_path / "early.toml"
    f.write_text(SMALL.replace("as_of = 2021-05-31", "as_of = 2008-01-01")
                 .replace("2021-06", "2008-01"))
    result = invoke("scenario", "validate", str(f))
    assert result.exit_code == 2
    assert "as_of" in result.output and "2008-01-01" in result.output


def test_validate_missing_file(tmp_path: Path) -> None:
    result = invoke("scenario", "validate", str(tmp_path / "nope.toml"))
    assert result.exit_code == 2
    assert "nope.toml" in result.output and "no such file" in result.output


def test_validate_not_toml(tmp_path: Path) -> None:
    f = tmp_path / "x.toml"
    f.write_text("[scenario\nname = ")
    result = invoke("scenario", "validate", str(f))
    assert result.exit_code == 2
    assert "not valid TOML" in result.output


# -------------------------------------------------------------------------------------------
# scenario schema
# -------------------------------------------------------------------------------------------
def test_schema_to_stdout_and_file(tmp_path: Path) -> None:
    result = invoke("scenario", "schema")
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    assert {"scenario", "event", "price"} <= set(schema["properties"])
    out = tmp_path / "s.json"
    result = invoke("scenario", "schema", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text()) == schema


def test_schema_markdown() -> None:
    result = invoke("scenario", "schema", "--markdown")
    assert result.exit_code == 0, result.output
    assert "### `[scenario]`" in result.stdout
    assert '### `[[event]]` kind = "ban"' in result.stdout
    assert "| `horizon_days` |" in result.stdout


# -------------------------------------------------------------------------------------------
# run
# -------------------------------------------------------------------------------------------
def test_run_a_shipped_example_prints_the_summary() -> None:
    result = invoke("run", "china_2021", *QUICK)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "China 2021 crackdown" in out and "20 paths" in out
    assert "World (median and 90 % band over paths)" in out
    for label in ("hashrate", "power", "emissions", "EH/s", "GW", "MtCO2e/yr"):
        assert label in out
    assert "largest negative retarget (median)" in out and "689,472" in out
    assert "Largest regions" in out and "CN-XJ" in out and "US" in out


def test_run_json_and_reproducible(small: Path) -> None:
    result = invoke("run", str(small), "--json")
    assert result.exit_code == 0, result.output
    a = json.loads(result.stdout)
    assert a["name"] == "small test" and a["paths"] == 12 and a["horizon_days"] == 60
    hr = a["world"]["hashrate_ehs"]
    assert hr["start"]["q05"] <= hr["start"]["q50"] <= hr["start"]["q95"]
    assert hr["end"]["q50"] < hr["start"]["q50"]  # Xinjiang's ban takes hashrate off
    assert a["world"]["power_gw"]["end"]["q50"] > 0
    assert a["world"]["emissions_mt_yr"]["end"]["q50"] > 0
    cut = a["largest_cut"]
    assert cut is not None and cut["change_pct"]["q50"] < 0 and cut["height"] % 2016 == 0
    xj = next(r for r in a["regions"] if r["region"] == "CN-XJ")
    assert xj["change_pp"] < -10
    assert a["files"] == []
    again = json.loads(invoke("run", str(small), "--json").stdout)
    a.pop("seconds"), again.pop("seconds")
    assert again == a
    other = json.loads(invoke("run", str(small), "--json", "--seed", "8").stdout)
    assert other["seed"] == 8 and other["world"] != a["world"]


def test_run_writes_csv_results(small: Path, tmp_path: Path) -> None:
    out = tmp_path / "res"
    result = invoke("run", str(small), "--out", str(out), "--paths", "5")
    assert result.exit_code == 0, result.output
    assert "results written to" in result.output
    daily = pd.read_csv(out / "daily.csv")
    assert {"date", "region", "metric", "mean", "q05", "q50", "q95"} <= set(daily.columns)
    assert daily["date"].nunique() == 60
    assert {"hashrate_ehs", "power_gw", "share_pct"} <= set(daily["metric"])
    assert (out / "epochs.csv").exists()
    config = json.loads((out / "config.json").read_text())
    assert config["paths"] == 5 and config["seed"] == 7
    ran = load_scenario(out / "scenario.toml")
    assert ran.scenario.paths == 5 and ran.scenario.name == "small test"


def test_run_writes_parquet_results(small: Path, tmp_path: Path) -> None:
    out = tmp_path / "pq"
    result = invoke("run", str(small), "--out", str(out), "--format", "parquet", "--json",
                    "--horizon-days", "30")
    assert result.exit_code == 0, result.output
    files = json.loads(result.stdout)["files"]
    assert {Path(f).name for f in files} == {"daily.parquet", "epochs.parquet", "scenario.toml"}
    daily = pd.read_parquet(out / "daily.parquet")
    assert daily["date"].nunique() == 30


def test_run_quiet_prints_nothing(small: Path, tmp_path: Path) -> None:
    for args in (["run", str(small), "--quiet"], ["--quiet", "run", str(small)]):
        out = tmp_path / args[0]
        result = invoke(*args, "--out", str(out), "--horizon-days", "20")
        assert result.exit_code == 0, result.output
        assert result.output.strip() == ""
        assert (out / "daily.csv").exists()


def test_run_reports_progress(small: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hashshift.sim import engine

    seen: list[tuple[int, int]] = []
    real = engine.run

    def spy(*args: Any, progress: Any = None, **kwargs: Any) -> Any:
        def record(done: int, total: int) -> None:
            seen.append((done, total))
            progress(done, total)

        return real(*args, progress=record, **kwargs)

    monkeypatch.setattr(engine, "run", spy)
    result = invoke("run", str(small), "--horizon-days", "15")
    assert result.exit_code == 0, result.output
    assert seen[0] == (1, 15) and seen[-1] == (15, 15)


@pytest.mark.parametrize(("args", "expected"), [
    (["run", "mars_2030"], ["mars_2030", *EXAMPLE_NAMES]),
    (["run", "missing/dir/s.toml"], ["no such file", "china_2021"]),
    (["run", "china_2021", "--paths", str(LIMITS["paths"] + 1)],
     ["--paths", f"{LIMITS['paths'] + 1:,}", f"{LIMITS['paths']:,}"]),
    (["run", "china_2021", "--horizon-days", str(LIMITS["horizon_days"] + 1)],
     ["--horizon-days", f"{LIMITS['horizon_days']:,}"]),
    (["run", "china_2021", "--format", "xlsx"], ["--format", "xlsx", "csv", "parquet"]),
])
def test_run_bad_input_is_one_clear_line(args: list[str], expected: list[str]) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1, result.output
    for text in expected:
        assert text in result.output, (text, result.output)


def test_run_invalid_scenario_is_one_line_naming_the_problems(tmp_path: Path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(BAD)
    result = invoke("run", str(f))
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
    assert "scenario.horizon_days" in result.output and "event[0].enforcement" in result.output
    assert "hashshift scenario validate" in result.output


def test_run_unknown_region_and_missing_data(tmp_path: Path) -> None:
    f = tmp_path / "r.toml"
    f.write_text(SMALL.replace('region = "CN-XJ"', 'region = "ZZ"'))
    result = invoke("run", str(f))
    assert result.exit_code == 2
    assert "event[0].region" in result.output and "'ZZ'" in result.output
    f.write_text(SMALL.replace("as_of = 2021-05-31", "as_of = 2008-01-01")
                 .replace("2021-06", "2008-01"))
    result = invoke("run", str(f))
    assert result.exit_code == 2
    assert "2008-01-01" in result.output


def test_run_out_must_be_a_folder(small: Path, tmp_path: Path) -> None:
    f = tmp_path / "file.txt"
    f.write_text("x")
    result = invoke("run", str(small), "--out", str(f), "--horizon-days", "5")
    assert result.exit_code == 2
    assert "folder" in result.output


def test_examples_are_runnable_by_name() -> None:
    for name in EXAMPLE_NAMES:
        result = invoke("run", name, "--paths", "4", "--horizon-days", "30", "--json")
        assert result.exit_code == 0, (name, result.output)
        payload = json.loads(result.stdout)
        assert payload["source"] == f"example {name}"
        scenario = tomllib.loads(EXAMPLES.joinpath(f"{name}.toml").read_text())
        assert payload["name"] == scenario["scenario"]["name"]


def test_a_shorter_horizon_leaves_out_later_events_and_says_so(small: Path) -> None:
    result = invoke("run", str(small), "--horizon-days", "1", "--paths", "4")
    assert result.exit_code == 0, result.output
    assert "left out event[0] (ban CN-XJ from 2021-06-01)" in result.output
