"""The China 2021 forecast against what really happened (numbers computed, printed, asserted).

Three runs of the same scenario (hashshift.sim.backtest.VARIANTS): the forecast as of 31 May
2021 from what was public then (its starting map: the nowcast), the naive start (the newest
published map, April 2020, carried forward) and, for comparison only, hindsight (April 2021's map
and the realised price and fees, all published later). Levels asserted are those measured when
this file was written (docs/validation.md); the goals of docs/engine.md are printed beside them.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from hashshift.sim.backtest import GOALS, backtest


@pytest.fixture(scope="module")
def runs():  # type: ignore[no-untyped-def]
    return {v: backtest("china-2021", variant_kind=v) for v in ("forecast", "naive", "hindsight")}


def _print(name: str, s: dict) -> None:  # type: ignore[type-arg]
    print(f"\n{name}: retarget at 689,472 real {s['retarget_real_pct']:+.2f} %, simulated median "
          f"{s['retarget_sim_pct']:+.2f} % ({s['retarget_diff_pp']:+.2f} pp; goal "
          f"±{GOALS['retarget_pp']:g}); epoch hashrate MAPE {s['hashrate_mape_pct']:.1f} % "
          f"(goal ≤ {GOALS['hashrate_mape_pct']:g}), real inside the 90 % band "
          f"{s['hashrate_coverage_pct']:.0f} % of {s['hashrate_epochs']} epochs (goal ≥ "
          f"{GOALS['coverage_pct']:g}; above it {s['hashrate_above_band']}, below "
          f"{s['hashrate_below_band']}), weighted interval score {s['hashrate_wis_ehs']:.2f} "
          f"EH/s; data published after as_of: {s['data_after_as_of']}")


def test_the_forecasts_use_only_what_was_public(runs) -> None:  # type: ignore[no-untyped-def]
    for v in ("forecast", "naive"):
        _print(v, runs[v].summary)
        assert runs[v].summary["data_after_as_of"] == []
    assert "nowcast of 2021-04 as known on 2021-05-31" in runs["forecast"].summary["start"]
    assert "carried forward" in runs["naive"].summary["start"]


def test_retarget_at_689472(runs) -> None:  # type: ignore[no-untyped-def]
    f, nv = runs["forecast"].summary, runs["naive"].summary
    assert f["retarget_real_pct"] == pytest.approx(-27.94, abs=0.005)
    # Measured with the migration pace of the 2019-20 Sichuan move (examples/china_2021.toml):
    # forecast -31.4 % (-3.45 pp, band -40.5 to -18.0: it holds the real cut), the ±5 pp goal
    # met; naive -36.4 % (-8.5 pp). With the engine's default pace (75 days, as first written):
    # -41.0 % (-13.0 pp).
    assert abs(f["retarget_diff_pp"]) <= GOALS["retarget_pp"]
    assert f["retarget_sim_q05"] <= f["retarget_real_pct"] <= f["retarget_sim_q95"]
    assert abs(f["retarget_diff_pp"]) < abs(nv["retarget_diff_pp"])


def test_epoch_hashrate_june_2021_to_january_2022(runs) -> None:  # type: ignore[no-untyped-def]
    f, nv = runs["forecast"].summary, runs["naive"].summary
    assert f["hashrate_epochs"] >= 16  # June 2021 .. January 2022
    # Measured: MAPE 11.4 % (naive 14.0 %), 90 % coverage 88 % (naive 71 %): both goals
    # (≤ 12 %, ≥ 80 %) met; as first written (75 days): 20.2 % and 24 %.
    assert f["hashrate_mape_pct"] <= GOALS["hashrate_mape_pct"]
    assert f["hashrate_mape_pct"] < nv["hashrate_mape_pct"]
    assert f["hashrate_coverage_pct"] >= GOALS["coverage_pct"] > nv["hashrate_coverage_pct"]


def test_proper_score_of_the_epoch_hashrate(runs) -> None:  # type: ignore[no-untyped-def]
    """The weighted interval score (50 % and 90 % bands and the median, ≈ CRPS [EH/s]): lower
    is better and a wider band is not better by itself. Measured: forecast 10.3, naive 12.3,
    hindsight 8.8 EH/s (as first written, with the engine's 75-day migration pace: 19.4, 25.9,
    10.8); the real hashrate was above the forecast's band in 2 of 17 epochs and below it in
    none."""
    from hashshift.scoring import weighted_interval_score

    f, nv, h = (runs[v].summary for v in ("forecast", "naive", "hindsight"))
    t = runs["forecast"].table
    hr = t[(t["metric"] == "hashrate_ehs") & (t["start"].astype(str) >= "2021-06-01")]
    by_hand = [weighted_interval_score(r.sim_q50, {0.5: (r.sim_q25, r.sim_q75),
                                                   0.1: (r.sim_q05, r.sim_q95)}, r.real)
               for r in hr.itertuples()]
    assert f["hashrate_wis_ehs"] == pytest.approx(sum(by_hand) / len(by_hand))
    assert h["hashrate_wis_ehs"] < f["hashrate_wis_ehs"] < nv["hashrate_wis_ehs"]
    assert f["hashrate_wis_ehs"] <= 11.0 and h["hashrate_wis_ehs"] <= 9.5
    assert f["hashrate_above_band"] + f["hashrate_below_band"] == round(
        f["hashrate_epochs"] * (1 - f["hashrate_coverage_pct"] / 100))


def test_hindsight_explains_the_rest(runs) -> None:  # type: ignore[no-untyped-def]
    h, f = runs["hindsight"].summary, runs["forecast"].summary
    _print("hindsight", h)
    assert {"mining_map", "market_monthly"} <= set(h["data_after_as_of"])
    assert "hindsight" in h["start"]
    # the same engine, given April 2021's map and the real price path: measured -21.55 %
    # (+6.4 pp: with the faster pace and the real price, more of the fleet comes back sooner);
    # MAPE 9.7 %, within its goal of 12 %, and the best score of the three
    assert abs(h["retarget_diff_pp"]) <= 7.0
    assert h["hashrate_mape_pct"] <= GOALS["hashrate_mape_pct"]
    assert h["hashrate_wis_ehs"] < f["hashrate_wis_ehs"]


def test_monthly_country_shares_beside_the_published_ones(runs, tmp_path) -> None:  # type: ignore[no-untyped-def]
    shares = runs["forecast"].shares
    months = sorted(set(shares["month"].dt.strftime("%Y-%m")))
    assert {"2021-06", "2021-09", "2022-01"} <= set(months)
    jan = shares[shares["month"] == "2022-01-01"].set_index("region_code")
    assert jan["share_pct_sim"].sum() == pytest.approx(100, abs=0.5)
    assert jan.loc["US", "share_pct_published"] == pytest.approx(37.84)
    assert jan.loc["CN", "share_pct_published"] == pytest.approx(21.11)
    # what the model does not foresee, shown not hidden: China back at 21 % in January 2022
    assert jan.loc["CN", "share_pct_sim"] < jan.loc["CN", "share_pct_published"] - 10
    assert shares.loc[shares["month"] > "2022-01-01", "share_pct_published"].isna().all()
    out = tmp_path / "shares.csv"
    shares.to_csv(out, index=False)
    assert out.stat().st_size > 500


def test_backtest_cli(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from typer.testing import CliRunner

    from hashshift.cli import app

    runner = CliRunner()
    out = tmp_path / "bt.csv"
    r = runner.invoke(app, ["backtest", "china-2021", "--paths", "100", "--variant", "naive",
                            "--csv", str(out)])
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())  # rich wraps lines at the terminal's width
    assert "weighted interval score" in text and "inside the 50 % band" in text
    assert out.exists() and (tmp_path / "bt_shares.csv").exists()
    r = runner.invoke(app, ["backtest", "--paths", "100", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["summary"]["variant"] == "forecast" and doc["summary"]["hashrate_wis_ehs"] > 0
    assert {"sim_q25", "sim_q75", "wis", "inside_50"} <= set(doc["epochs"][0])
    r = runner.invoke(app, ["backtest", "--variant", "oracle"])
    assert r.exit_code == 2, r.output
    assert ("--variant 'oracle' is not known; use one of forecast, naive, hindsight"
            in " ".join(r.output.split()))


def test_track_record_in_plain_words(runs) -> None:  # type: ignore[no-untyped-def]
    """What the report's narrative says about the forecast: coverage, the side it missed on,
    when the recovery came (real: the epoch from 4 October 2021), the daily low of 27 June 2021
    beside the lowest epoch mean."""
    from hashshift.report.narrative import scenario_narrative
    from hashshift.sim.backtest import track_record

    result = runs["forecast"].result
    t = track_record(result)
    assert t is not None
    print(t)
    assert t["inside"] + t["above"] + t["below"] == t["epochs"] >= 20
    assert t["real_back"] == "2021-10-04"
    assert t["sim_back"] is None or t["sim_back"] > t["real_back"]  # measured: 2022-01-08
    assert t["daily_low_date"] == "2021-06-27" and t["daily_low_ehs"] < 0.7 * t["epoch_low_ehs"]
    text = " ".join(scenario_narrative(result).paragraphs)
    assert f"inside the simulated 90 % band in {t['inside']} ({t['coverage_pct']:.0f} %" in text
    assert "back at its pre-ban level" in text and "4 Oct 2021" in text
    assert "27 Jun 2021" in text


@pytest.fixture(scope="module")
def sensitivity():  # type: ignore[no-untyped-def]
    from hashshift.sim.backtest import prior_sensitivity

    return prior_sensitivity("china-2021")


def test_prior_sensitivity_shows_where_the_band_lacked_room(runs, sensitivity) -> None:  # type: ignore[no-untyped-def]
    """Hindsight, one prior at a time with the forecast's seed: the stated row is the forecast
    itself; with the engine's default migration pace (75 days, the scenario as first written)
    the band held the truth in a quarter of the epochs; more underground mining in June
    overshoots (the real hashrate falls below the band); a wider deliveries spread raises
    coverage but scores worse, so the score, not coverage alone, says what helps."""
    df = sensitivity.set_index(["knob", "value"], drop=False)
    print("\n" + sensitivity.drop(columns="what").to_string())
    stated = sensitivity.iloc[0]
    fc = runs["forecast"].summary
    assert stated["knob"] == "stated"
    assert stated["coverage_90_pct"] == fc["hashrate_coverage_pct"]
    assert stated["wis_ehs"] == fc["hashrate_wis_ehs"]
    first = df.loc[("delay_median_days", 75.0)]
    assert first["coverage_90_pct"] <= 30.0 and first["wis_ehs"] > 1.5 * stated["wis_ehs"]
    assert first["above"] >= 10
    under = sensitivity[sensitivity["knob"] == "provincial_underground"].sort_values("value")
    assert under["coverage_90_pct"].is_monotonic_decreasing
    assert under["below"].iloc[-1] >= 3 and (under["retarget_sim_pct"]
                                             > stated["retarget_sim_pct"]).all()
    wide = df.loc[("supply_uncertainty", 1.5)]
    assert wide["coverage_90_pct"] >= stated["coverage_90_pct"]
    assert wide["wis_ehs"] > stated["wis_ehs"]


def test_the_migration_pace_comes_from_evidence_public_before_as_of() -> None:
    """CCAF's months to April 2020 (released 6 May 2020): Sichuan's share of China 43.04 %
    (October 2019), 32.00 (November), 18.03 (December), 16.67 / 15.39 / 14.65 (January to
    March); the progress (0.402, 0.910) is matched by a lognormal delay of median 17.5 days
    (log sd 0.5), the value the China 2021 example states."""
    from hashshift.sim.backtest import seasonal_delay
    from hashshift.sim.examples import load_example
    from hashshift.sim.migration import fit_delay_median_days, lognormal_cdf

    ex = load_example("china_2021")
    got = seasonal_delay(ex.scenario.as_of, sigma=ex.migration.delay_sigma)
    assert got["season"] == "2019-20" and got["published"] == "2020-05-06"
    assert got["published"] < str(ex.scenario.as_of)
    np.testing.assert_allclose([got["before_pct"], got["november_pct"], got["december_pct"],
                                got["after_pct"]], [43.04, 32.00, 18.03, 15.57], atol=0.01)
    np.testing.assert_allclose(got["done"], [0.4019, 0.9104], atol=1e-4)
    assert got["median_days"] == 17.5 == ex.migration.delay_median_days
    # the fit recovers a known median from month means it generated itself
    days = np.arange(61) + 0.5
    cdf = lognormal_cdf(days, 0.5, np.array(25.0))
    assert fit_delay_median_days([cdf[:30].mean(), cdf[30:].mean()], 0.5, [30, 31]) == 25.0
    with pytest.raises(ValueError, match="must be 1-d, alike"):
        fit_delay_median_days([0.5], 0.5, [30, 31])
    with pytest.raises(LookupError, match="no whole dry season of CN-SC"):
        seasonal_delay(date(2020, 1, 1))


def test_prior_sensitivity_rejects_what_it_cannot_set() -> None:
    from hashshift.sim.backtest import prior_sensitivity

    with pytest.raises(ValueError, match=r"knob 'weather' is not known; use one of "
                                         r"provincial_underground"):
        prior_sensitivity(rows=(("weather", 1.0),), paths=10)
    with pytest.raises(ValueError, match=r"knob 'build_days' = -5.0 is not allowed"):
        prior_sensitivity(rows=(("build_days", -5.0),), paths=10)
    with pytest.raises(LookupError, match="unknown backtest 'mars'"):
        prior_sensitivity("mars")


def test_backtest_sensitivity_cli(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from typer.testing import CliRunner

    from hashshift.cli import app
    from hashshift.sim.backtest import SENSITIVITY_ROWS

    runner = CliRunner()
    out = tmp_path / "sens.csv"
    r = runner.invoke(app, ["backtest", "--sensitivity", "--paths", "60", "--json",
                            "--csv", str(out)])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["what"].startswith("hindsight") and len(doc["runs"]) == len(SENSITIVITY_ROWS) + 1
    assert doc["runs"][0]["knob"] == "stated" and out.exists()
    r = runner.invoke(app, ["backtest", "--sensitivity", "--paths", "60"])
    assert r.exit_code == 0, r.output
    assert "none of them is a forecast" in " ".join(r.output.split())
    r = runner.invoke(app, ["backtest", "--sensitivity", "--variant", "naive"])
    assert r.exit_code == 2, r.output
    assert "--variant 'naive' is not allowed with it (allowed: forecast)" in " ".join(
        r.output.split())
