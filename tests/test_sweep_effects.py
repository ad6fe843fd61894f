"""Effects against a counterfactual (issue 15 §1): common random numbers pair the paths of
tasks that differ only in policy; every ban of ban_top15 costs hashrate, ranked by the
regions' starting shares."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from typer.testing import CliRunner

from hashshift import sweep as sw
from hashshift.cli import app
from hashshift.sim import engine
from hashshift.sim.examples import example_text, load_example
from hashshift.sim.outcomes import EFFECTS, SERIES_PREFIX, paired_effects
from hashshift.sweep.results import collect_paths

# A ban on the US announced on day 28, in force on day 42: before day 28 the two tasks must be
# the same world, path by path.
PAIRED = """
[sweep]
name = "t_paired"
base = "china_2021"
paths = 24
seed = 7

[set]
scenario.horizon_days = 84

[ban]
announced_day = 28
effective_day = 42
others = "drop"

[[axis]]
path = "ban_region"
values = ["none", "US"]
"""


@pytest.fixture(scope="module")
def paired(tmp_path_factory: pytest.TempPathFactory) -> tuple[sw.Sweep, sw.SweepResult, Path]:
    plan = sw.parse_sweep(PAIRED, "paired.toml")
    work = tmp_path_factory.mktemp("paired")
    return plan, sw.run_sweep(plan, scheduler="local", work_dir=work,
                              ingest_results=False), work


def test_tasks_differing_only_in_policy_share_every_draw(
        paired: tuple[sw.Sweep, sw.SweepResult, Path]) -> None:
    plan, res, work = paired
    assert plan.tasks[0].seed == plan.tasks[1].seed
    assert plan.counterfactuals() == {1: 0}
    p = collect_paths(work, plan)
    none = p[p["task"] == 0].sort_values("path")
    us = p[p["task"] == 1].sort_values("path")
    for day in (0, 7, 14, 21):  # before the announcement: the same world, path by path
        col = f"{SERIES_PREFIX}{day}"
        assert_allclose(us[col].to_numpy(), none[col].to_numpy(), rtol=1e-12)
    # a week into the ban every path has lost hashrate; five weeks in, most of the displaced
    # machines run again elsewhere (the scenario's migration pace: a median of 17.5 days), so
    # the loss is the mean's, not every path's
    week = f"{SERIES_PREFIX}49"
    assert (us[week].to_numpy() < none[week].to_numpy()).all()
    late = f"{SERIES_PREFIX}77"
    assert us[late].mean() < none[late].mean()
    # paired: the spread of the differences is far below the spread across paths
    diff = us[late].to_numpy() - none[late].to_numpy()
    assert diff.std() < 0.5 * none[late].to_numpy().std()


def test_without_pairing_the_same_comparison_is_noisier(
        paired: tuple[sw.Sweep, sw.SweepResult, Path], tmp_path: Path) -> None:
    plan, res, _ = paired
    own = sw.parse_sweep(PAIRED.replace("seed = 7", "seed = 7\ncommon_random_numbers = false"),
                         "own.toml")
    assert own.tasks[0].seed != own.tasks[1].seed
    res_own = sw.run_sweep(own, scheduler="local", work_dir=tmp_path, ingest_results=False)

    def width(r: sw.SweepResult) -> float:
        row = r.effects[r.effects["effect"] == "mean_hashrate_pct"].iloc[0]
        return float(row["q95"] - row["q05"])

    print(f"90 % width of the mean-hashrate effect: paired {width(res):.2f} pp, "
          f"unpaired {width(res_own):.2f} pp")
    assert width(res) < 0.5 * width(res_own)


def test_paired_effects_reference_values() -> None:
    """Hand-computed: two paths, weekly series; the low point is the largest shortfall."""
    cols = {"trough_hashrate_ehs": [90.0, 100.0], "final_hashrate_ehs": [110.0, 120.0],
            "mean_hashrate_ehs": [100.0, 110.0], "largest_cut_pct": [-10.0, np.nan],
            "days_to_recover": [30.0, np.nan], "emissions_mean_mt_yr": [40.0, 50.0]}
    cf = pd.DataFrame({**cols, f"{SERIES_PREFIX}0": [100.0, 100.0],
                       f"{SERIES_PREFIX}7": [110.0, 100.0]})
    task = cf.copy()
    task[f"{SERIES_PREFIX}7"] = [88.0, 101.0]  # path 0 falls short by 22 (20 %), path 1 never
    task["mean_hashrate_ehs"] = [95.0, 110.0]
    task["largest_cut_pct"] = [-25.0, -5.0]
    task["emissions_mean_mt_yr"] = [38.0, 50.0]
    e = paired_effects(task, cf)
    assert set(e) == set(EFFECTS)
    assert_allclose([e["low_point_ehs"]["mean"], e["low_point_pct"]["mean"]], [-11.0, -10.0])
    assert_allclose(e["low_point_ehs"]["q05"], -22.0 + 0.05 * 22.0, rtol=1e-12)
    assert_allclose(e["mean_hashrate_pct"]["mean"], -2.5)
    assert_allclose(e["retarget_cut_pp"]["mean"], (-15.0 - 5.0) / 2)  # NaN counts as 0 %
    assert e["days_to_recover_diff"]["n"] == 1
    assert_allclose(e["emissions_change_mt_yr"]["q50"], -1.0)
    with pytest.raises(ValueError, match="same paths"):
        paired_effects(task.iloc[:1], cf)


def test_counterfactual_named_in_the_spec_and_checked() -> None:
    text = PAIRED.replace("seed = 7", 'seed = 7\ncounterfactual = {ban_region = "US"}')
    plan = sw.parse_sweep(text, "cf.toml")
    assert plan.counterfactuals() == {0: 1}
    bad_axis = PAIRED.replace("seed = 7", 'seed = 7\ncounterfactual = {region = "none"}')
    with pytest.raises(sw.SweepError, match="'region', which is not an axis; axes: ban_region"):
        sw.parse_sweep(bad_axis, "bad.toml")
    bad_value = PAIRED.replace("seed = 7", 'seed = 7\ncounterfactual = {ban_region = "XX"}')
    with pytest.raises(sw.SweepError, match="ban_region = 'XX' is not a value.*values: US, none"):
        sw.parse_sweep(bad_value, "bad.toml")


def test_cli_says_how_effects_are_paired(paired: tuple[sw.Sweep, sw.SweepResult, Path],
                                         tmp_path: Path) -> None:
    spec = tmp_path / "paired.toml"
    spec.write_text(PAIRED, encoding="utf-8")
    r = CliRunner().invoke(app, ["sweep", str(spec), "--dry-run"])
    assert r.exit_code == 0, r.output
    assert "common random numbers" in r.output and "ban_region = none" in r.output
    r = CliRunner().invoke(app, ["sweep", str(spec), "--work", str(tmp_path / "w"), "--out",
                                 str(tmp_path / "o"), "--no-store", "--scheduler", "local"])
    assert r.exit_code == 0, r.output
    assert "Effects against ban_region = none" in r.output
    assert "United States (US)" in r.output and "common random numbers" in r.output
    assert (tmp_path / "o" / "effects.html").exists()


def test_ban_top15_every_ban_costs_hashrate_ranked_by_starting_share(tmp_path: Path) -> None:
    """The shipped ban_top15 with fewer paths (60 instead of 200)."""
    from scipy.stats import spearmanr

    text = example_text("ban_top15", kind="sweep")
    assert "paths = 200" in text
    plan = sw.parse_sweep(text.replace("paths = 200", "paths = 60"), "ban_top15.toml")
    res = sw.run_sweep(plan, scheduler="local", work_dir=tmp_path, ingest_results=False)
    assert not res.failures
    low = res.effects[res.effects["effect"] == "low_point_ehs"].set_index("ban_region")
    assert len(low) == 15
    # every ban leaves less hashrate at its low point, beyond Monte Carlo error
    worst_upper = float((low["mean"] + 3 * low["mc_se"]).max())
    print(f"largest mean + 3 s.e. of the low-point effect: {worst_upper:.3f} EH/s")
    assert worst_upper < 0
    # the ranking follows the starting shares (the no-ban run's first day)
    base = load_example("china_2021")
    base = base.model_copy(update={"event": [], "scenario": base.scenario.model_copy(
        update={"horizon_days": 1, "paths": 60})})
    d = engine.run(base).daily
    start = d[(d["metric"] == "share_pct") & (d["date"] == d["date"].min())]
    share = start.set_index("region")["mean"].reindex(low.index)
    rho = float(spearmanr(-low["mean"], share).statistic)
    print(f"Spearman rank correlation, loss vs starting share: {rho:.3f}")
    assert rho >= 0.95
    # the largest region, Xinjiang, costs the most
    assert low["mean"].idxmin() == share.idxmax() == "CN-XJ"
