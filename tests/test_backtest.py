"""The China 2021 forecast against what really happened (numbers computed, printed, asserted).

Two runs of the same scenario: the forecast as of 31 May 2021 from what was public then (the
backtest), and the same run with hindsight (April 2021's map and the realised price and fees,
all published later). Levels asserted are those measured when this file was written
(docs/validation.md); the goals of docs/engine.md are printed beside them.
"""

from __future__ import annotations

import pytest

from hashshift.sim.backtest import GOALS, backtest


@pytest.fixture(scope="module")
def bt():  # type: ignore[no-untyped-def]
    return backtest("china-2021")  # the scenario's own 1 000 paths


@pytest.fixture(scope="module")
def bt_hindsight():  # type: ignore[no-untyped-def]
    return backtest("china-2021", with_hindsight=True)


def _print(name: str, s: dict) -> None:  # type: ignore[type-arg]
    print(f"\n{name}: retarget at 689,472 real {s['retarget_real_pct']:+.2f} %, simulated median "
          f"{s['retarget_sim_pct']:+.2f} % ({s['retarget_diff_pp']:+.2f} pp; goal "
          f"±{GOALS['retarget_pp']:g}); epoch hashrate MAPE {s['hashrate_mape_pct']:.1f} % "
          f"(goal ≤ {GOALS['hashrate_mape_pct']:g}), real inside the 90 % band "
          f"{s['hashrate_coverage_pct']:.0f} % of {s['hashrate_epochs']} epochs (goal ≥ "
          f"{GOALS['coverage_pct']:g}); data published after as_of: {s['data_after_as_of']}")


def test_the_backtest_uses_only_what_was_public(bt) -> None:  # type: ignore[no-untyped-def]
    _print("as of 2021-05-31", bt.summary)
    assert bt.summary["data_after_as_of"] == []
    assert "carried forward" in bt.result.config["provenance"]["shares"]


def test_retarget_at_689472(bt) -> None:  # type: ignore[no-untyped-def]
    s = bt.summary
    assert s["retarget_real_pct"] == pytest.approx(-27.94, abs=0.005)
    # Measured -43.1 % (-15.2 pp): the newest map public on 31 May 2021 was April 2020's, with
    # China at 65 % (46 % by April 2021, published in July). The goal (±5 pp) is missed; the
    # nowcast of the starting map is the way to close the gap (issue 14).
    assert s["retarget_sim_pct"] < s["retarget_real_pct"]
    assert abs(s["retarget_diff_pp"]) <= 16.5


def test_epoch_hashrate_june_2021_to_january_2022(bt) -> None:  # type: ignore[no-untyped-def]
    s = bt.summary
    assert s["hashrate_epochs"] >= 16  # June 2021 .. January 2022
    # Measured: MAPE 24.7 %, coverage 0 % (the forecast sees China's two thirds leave and
    # under-predicts every epoch). Goals (≤ 12 %, ≥ 80 %) missed.
    assert s["hashrate_mape_pct"] <= 27.0


def test_hindsight_explains_the_gap(bt, bt_hindsight) -> None:  # type: ignore[no-untyped-def]
    h = bt_hindsight.summary
    _print("with hindsight", h)
    assert {"mining_map", "market_monthly"} <= set(h["data_after_as_of"])
    assert "hindsight" in bt_hindsight.result.config["provenance"]["shares"]
    # the same engine, given April 2021's map and the real price path: measured -27.2 %
    assert abs(h["retarget_diff_pp"]) <= GOALS["retarget_pp"]
    assert abs(h["retarget_diff_pp"]) < abs(bt.summary["retarget_diff_pp"]) - 10
    assert h["hashrate_mape_pct"] < bt.summary["hashrate_mape_pct"]


def test_monthly_country_shares_beside_the_published_ones(bt, tmp_path) -> None:  # type: ignore[no-untyped-def]
    shares = bt.shares
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
