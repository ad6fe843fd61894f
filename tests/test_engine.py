"""The scenario engine: determinism, mechanisms, bounds, examples, results."""

from __future__ import annotations

import json
from datetime import date
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from hashshift import __version__
from hashshift.sim import engine
from hashshift.sim.engine import EngineError, resolve, run
from hashshift.sim.examples import load_example
from hashshift.sim.migration import DelayPipeline, logit_shares
from hashshift.sim.policy import covers
from hashshift.sim.scenario import Scenario, parse_scenario

BASE = """
[scenario]
name = "test"
as_of = 2021-05-31
horizon_days = {horizon}
paths = {paths}
seed = 7

[price]
kind = "fixed"
usd = 40000

[fees]
kind = "fixed"
btc_per_block = 0.3
"""


def scenario(extra: str = "", horizon: int = 90, paths: int = 60) -> Scenario:
    return parse_scenario(BASE.format(horizon=horizon, paths=paths) + extra)


@pytest.fixture(scope="module")
def baseline() -> engine.Result:
    return run(scenario(), keep_paths=True)


def test_same_seed_same_result_and_seed_matters() -> None:
    a = run(scenario(horizon=40, paths=30))
    b = run(scenario(horizon=40, paths=30))
    pd.testing.assert_frame_equal(a.daily, b.daily)
    pd.testing.assert_frame_equal(a.epochs, b.epochs)
    other = scenario(horizon=40, paths=30).model_copy(
        update={"scenario": scenario().scenario.model_copy(update={"seed": 8,
                                                                    "horizon_days": 40})})
    c = run(other)
    assert not np.allclose(a.world("hashrate_ehs")["q50"], c.world("hashrate_ehs")["q50"])


def test_result_carries_config_version_and_seed(baseline: engine.Result, tmp_path: Path) -> None:
    cfg = baseline.config
    assert cfg["version"] == __version__ and cfg["seed"] == 7 and cfg["paths"] == 60
    assert cfg["scenario"]["scenario"]["name"] == "test"
    assert abs(sum(cfg["initial"]["shares_pct"].values()) - 100) < 0.01
    files = baseline.to_csv(tmp_path / "csv")
    assert json.loads(files[2].read_text())["seed"] == 7
    daily = pd.read_csv(files[0])
    assert set(daily.columns) == {"date", "region", "metric", "mean", "q05", "q25", "q50",
                                  "q75", "q95"}
    import pyarrow.parquet as pq

    pfiles = baseline.to_parquet(tmp_path / "pq")
    meta = json.loads(pq.read_schema(pfiles[0]).metadata[b"hashshift"])
    assert meta["version"] == __version__
    # quantiles are ordered and shares of regions sum to 100 on the median path set
    d = baseline.daily
    assert (d["q05"] <= d["q50"] + 1e-6).all() and (d["q50"] <= d["q95"] + 1e-6).all()
    share = d[(d["metric"] == "share_pct") & (d["region"] != "WORLD")]
    assert_allclose(share.groupby("date")["mean"].sum(), 100.0, rtol=1e-3)


def test_starting_state_matches_the_observed_layer(baseline: engine.Result) -> None:
    """Day 0 runs the observed hashrate (epoch 339's estimate, with its interval) and the mining
    map as published on as_of (the newest release then: the months to April 2020, carried
    forward)."""
    h0 = baseline.world("hashrate_ehs").iloc[0]
    assert_allclose(h0["mean"], baseline.config["initial"]["hashrate_ehs"], rtol=0.03)
    assert h0["q05"] < h0["q50"] < h0["q95"]  # the estimate's uncertainty is carried
    china = sum(v for k, v in baseline.config["initial"]["shares_pct"].items()
                if k.startswith("CN"))
    # the nowcast of April 2021 from what was public then (its mean); April 2020's map said 65 %
    assert "nowcast of 2021-04" in baseline.config["provenance"]["shares"]
    assert 55 < china < 70  # not April 2021's 46 %, published only in July 2021


def test_ban_removes_the_region_and_network_retargets_down(baseline: engine.Result) -> None:
    ban = """
[[event]]
kind = "ban"
region = "CN"
announced = 2021-06-05
effective = 2021-06-05
enforcement = 1.0
ramp_down_days = 1
"""
    res = run(scenario(ban))
    d = res.daily
    cn = d[(d["metric"] == "hashrate_ehs") & d["region"].str.startswith("CN")]
    after = cn[pd.to_datetime(cn["date"]) > pd.Timestamp("2021-06-06")]
    assert after["q95"].max() < 1e-6  # nothing runs in China after a full ban
    drop = 1 - res.world("hashrate_ehs").iloc[10]["q50"] / baseline.world(
        "hashrate_ehs").iloc[10]["q50"]
    china = sum(v for k, v in baseline.config["initial"]["shares_pct"].items()
                if k.startswith("CN")) / 100.0
    assert 0.8 * china < drop < china + 0.03  # a few machines were already moving
    change = res.epochs[res.epochs["metric"] == "change_pct"]
    assert change["q50"].min() < -20  # the next retarget cuts difficulty hard
    # displaced machines are in transit, then arrive elsewhere (US gains share)
    transit = res.world("in_transit_ehs")
    assert transit["q50"].max() > 20
    us = d[(d["metric"] == "share_pct") & (d["region"] == "US")]["q50"].to_numpy()
    assert us[-1] > us[0] * 1.5


def test_underground_share_keeps_running() -> None:
    ban = """
[[event]]
kind = "ban"
region = "CN-XJ"
announced = 2021-06-01
effective = 2021-06-01
enforcement = 1.0
underground = 0.3
ramp_down_days = 1
"""
    res = run(scenario(ban, horizon=30))
    d = res.daily
    xj = d[(d["metric"] == "hashrate_ehs") & (d["region"] == "CN-XJ")]["mean"].to_numpy()
    assert_allclose(xj[-1] / xj[0], 0.3, rtol=0.15)


def test_curtailment_and_tax(baseline: engine.Result) -> None:
    extra = """
[[event]]
kind = "curtailment"
region = "US"
start = 2021-06-10
end = 2021-06-20
share = 0.5
"""
    res = run(scenario(extra, horizon=30))
    d = res.daily
    us = d[(d["metric"] == "hashrate_ehs") & (d["region"] == "US")].set_index("date")["mean"]
    assert_allclose(us[pd.Timestamp("2021-06-15")] / us[pd.Timestamp("2021-06-05")], 0.5,
                    rtol=0.05)
    assert us[pd.Timestamp("2021-06-25")] > 0.9 * us[pd.Timestamp("2021-06-05")]
    # a prohibitive levy switches machines off
    tax = run(scenario("""
[[event]]
kind = "tax"
region = "US"
start = 2021-06-01
usd_kwh = 1.0
""", horizon=30))
    t = tax.daily
    us_t = t[(t["metric"] == "hashrate_ehs") & (t["region"] == "US")]["mean"].to_numpy()
    assert us_t[-1] < 0.05 * us_t[0]


def test_price_crash_switches_off_inefficient_machines() -> None:
    crash = run(scenario("""
[[event]]
kind = "price_shock"
target = "btc"
start = 2021-06-10
multiplier = 0.2
""", horizon=30))
    h = crash.world("hashrate_ehs")["q50"].to_numpy()
    assert h[-1] < 0.8 * h[0]
    assert crash.world("btc_usd")["q50"].iloc[-1] == pytest.approx(8000, rel=1e-3)


def test_capacity_limits_arrivals() -> None:
    """With no spare capacity anywhere and no building, displaced machines wait in the queue."""
    regions = "".join(f"""
[[region]]
code = "{c}"
capacity_mw = 0
growth_mw_month = 0
""" for c in ("US", "KZ", "RU", "CA", "MY", "IR", "DE", "IE", "OTHER"))
    tight = run(scenario(regions + """
[migration]
build_days = 1000

[[event]]
kind = "ban"
region = "CN"
announced = 2021-06-01
effective = 2021-06-01
enforcement = 1.0
ramp_down_days = 1
""", horizon=120))
    d = tight.daily
    us = d[(d["metric"] == "hashrate_ehs") & (d["region"] == "US")]["q50"].to_numpy()
    assert us[-1] <= us[0] * 1.15  # hardly any room: arrivals mostly wait
    assert tight.world("in_transit_ehs")["q50"].iloc[-1] > 30


def test_reference_engine_same_start_inputs() -> None:
    """resolve() uses only data before as_of and names the sources it used."""
    inp = resolve(scenario())
    assert inp.start == date(2021, 5, 31)
    assert inp.height // 2016 == 340 and inp.bits == 0x170D5F7B  # epoch 340 (bundled history)
    assert "epoch 339" in inp.notes["hashrate"]
    # April 2021 came out later: the nowcast built on the newest release (April 2020)
    assert "2020-04" in inp.notes["shares"] and "nowcast of 2021-04" in inp.notes["shares"]
    assert inp.epoch_first_time_s < 0


@pytest.mark.parametrize("text, message", [
    ("[scenario]\nname='x'\nas_of=2005-01-01\nhorizon_days=10\npaths=5\nseed=1\n"
     "[price]\nkind='fixed'\nusd=1\n[fees]\nkind='fixed'\nbtc_per_block=0\n", "outside the data"),
    ("[scenario]\nname='x'\nas_of=2040-01-01\nhorizon_days=10\npaths=5\nseed=1\n"
     "[price]\nkind='fixed'\nusd=1\n[fees]\nkind='fixed'\nbtc_per_block=0\n",
     "2040-01-01 is after the data"),
])
def test_as_of_outside_the_data(text: str, message: str) -> None:
    with pytest.raises((EngineError, ValueError), match=message):
        resolve(parse_scenario(text))


def test_unknown_region_in_a_ban_is_refused_before_running() -> None:
    bad = scenario("""
[[event]]
kind = "ban"
region = "XX-NOPE"
announced = 2021-06-01
effective = 2021-06-01
enforcement = 1.0
""")
    with pytest.raises((LookupError, EngineError), match="XX-NOPE"):
        resolve(bad)


def test_every_shipped_example_runs() -> None:
    folder = resources.files("hashshift").joinpath("examples")
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".toml"))
    assert {"china_2021.toml", "baseline_2021.toml"} <= set(names)
    for name in names:
        sc = load_example(name)
        sc = sc.model_copy(update={"scenario": sc.scenario.model_copy(
            update={"horizon_days": 30})})
        res = run(sc, paths=20)
        h = res.world("hashrate_ehs")
        assert len(h) == 30 and (h["q50"] > 0).all(), name


def test_helpers() -> None:
    assert covers("CN", "CN-XJ") and covers("CN-XJ", "CN-XJ") and not covers("CN", "CA")
    sh = logit_shares(np.array([[0.0, np.log(3.0), 5.0]]), np.array([[True, True, False]]))
    assert_allclose(sh, [[0.25, 0.75, 0.0]])
    pipe = DelayPipeline(2, 1, 1, np.array([17.0, 73.0]), 0.01, max_weeks=20)
    pipe.depart(0, np.ones((1, 1, 2)))  # regions × classes × paths
    arrived = [pipe.arrive(7 * w) for w in range(20)]
    weeks = [[w for w, a in enumerate(arrived) if a is not None and a[..., p].sum() > 0.5]
             for p in range(2)]
    assert weeks == [[2], [10]]  # a 17-day and a 73-day median delay
    assert_allclose(pipe.in_transit_total, 0.0, atol=1e-6)


def test_a_hashrate_that_is_not_finite_is_an_engine_error() -> None:
    """The block process needs a positive, finite world hashrate: anything else is refused with
    the day and the number of paths (web: HTTP 422, CLI: exit 2), not a bare ValueError."""
    engine._check_hashrate(np.array([1.0, 2e-6]), 3)
    with pytest.raises(EngineError, match=r"day 5 .* not finite on 1 of 3 paths"):
        engine._check_hashrate(np.array([1.0, np.nan, 2.0]), 5)
    with pytest.raises(EngineError, match=r"day 0 .* zero on 2 of 2 paths"):
        engine._check_hashrate(np.zeros(2), 0)


def test_path_quantiles_are_numpys_quantiles() -> None:
    """The engine's quantiles over paths (sort, then numpy's quantile) give exactly the numbers
    of ``np.quantile(a, QUANTILES, axis=1)`` (the reference), ties and float32 included."""
    rng = np.random.default_rng(3)
    for shape in [(5, 1), (7, 2, 3), (30, 1000), (4, 999, 18)]:
        for a in (rng.random(shape), rng.integers(0, 4, shape).astype(np.float32),
                  rng.lognormal(0, 3, shape).astype(np.float32)):
            np.testing.assert_array_equal(engine._path_quantiles(a),
                                          np.quantile(a, engine.QUANTILES, axis=1))


def test_delay_pipeline_is_the_sum_over_departure_weeks() -> None:
    """The pipeline's arrivals equal the plain definition, departure by departure: each day's
    flows times each path's probability of arriving k weeks after its week, added into the
    bucket of that arrival week (what leaves after a week's arrivals were collected and is due
    within that week comes with the next week's); departures spread over several weeks, some
    weeks with two departure days, and cohorts dropped after their last week (nothing is
    lost)."""
    rng = np.random.default_rng(16)
    paths, regions, classes, weeks = 5, 3, 2, 8
    median = rng.uniform(5.0, 40.0, paths)
    pipe = DelayPipeline(paths, regions, classes, median, 0.6, max_weeks=weeks)
    pdf = pipe.week_pdf[:weeks]  # weeks × paths
    due = np.zeros((40, regions, classes, paths))
    departed = 0.0
    for day in range(0, 180):
        if day in (0, 3, 7, 9, 20, 22, 49, 50, 51, 100):
            flows = rng.uniform(0, 1, (regions, classes, paths)).astype(np.float32)
            if day in (3, 50):  # only some destinations
                flows[1] = 0.0
            departed += flows.sum()
            for k in range(weeks):  # leaving after day 0 of a week: its week's share later
                due[day // 7 + max(k, day % 7 > 0)] += flows * pdf[k]
            pipe.depart(day, flows)
        if day % 7 == 0:
            got = pipe.arrive(day)
            want = due[day // 7]
            if got is None:
                assert not want.any()
            else:
                assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert_allclose(due.sum(), departed, rtol=1e-5)
    assert pipe.arrive(182) is None and not pipe._left_week  # every cohort has arrived
    assert_allclose(pipe.in_transit_total, 0.0, atol=1e-4)


def test_deliveries_without_a_lag_follow_todays_hashprice() -> None:
    """``supply.lag_days = 0``: deliveries scale with today's hashprice (they once read a day not
    yet simulated, a zero, and delivered nothing)."""
    def world_at_end(per_month: float) -> float:
        supply = f"\n[supply]\nlag_days = 0\ndeliveries_ehs_month = {per_month}\nuncertainty = 0\n"
        return float(run(scenario(supply, horizon=60, paths=40)).world("hashrate_ehs")
                     ["q50"].iloc[-1])

    none, some = world_at_end(0.0), world_at_end(10.0)
    assert some > none + 5.0  # about 20 EH/s delivered over two months


def test_build_time_prior_is_drawn_per_path_from_its_own_stream() -> None:
    """Each path's build time is lognormal around ``build_days``, drawn from the prior stream
    (``SeedSequence(seed, spawn_key=(PRIOR_STREAM, 0))``): turning the prior off leaves every
    other draw of the run as it was, and the waiting machines' capacity is built at each
    path's own pace."""
    sc = scenario(horizon=20, paths=40)
    sim = engine._Simulation(resolve(sc), 40, np.random.default_rng(1), np.random.default_rng(2))
    z = np.random.default_rng(np.random.SeedSequence(
        7, spawn_key=(engine.PRIOR_STREAM, 0))).standard_normal(40)
    mig = sc.migration
    assert mig.build_days_uncertainty > 0
    assert_allclose(sim.build_days, mig.build_days * np.exp(mig.build_days_uncertainty * z))
    ban = """
[[region]]
code = "US"
capacity_mw = 0

[migration]
build_days = 60
{prior}

[[event]]
kind = "ban"
region = "CN"
announced = 2021-06-01
effective = 2021-06-01
enforcement = 1.0
ramp_down_days = 1
"""
    with_prior = run(scenario(ban.format(prior=""), horizon=120))
    without = run(scenario(ban.format(prior="build_days_uncertainty = 0"), horizon=120))
    w, wo = with_prior.world("hashrate_ehs"), without.world("hashrate_ehs")
    assert w["q50"].iloc[0] == wo["q50"].iloc[0]  # the same start: no draw moved
    us = [r.daily[(r.daily["metric"] == "hashrate_ehs") & (r.daily["region"] == "US")]
          for r in (with_prior, without)]
    assert not np.allclose(us[0]["q95"].to_numpy() - us[0]["q05"].to_numpy(),
                           us[1]["q95"].to_numpy() - us[1]["q05"].to_numpy())
