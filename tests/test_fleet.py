"""The engine's starting fleet: the age mix, its tilt to the CBECI figure, one power figure."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from numpy.testing import assert_allclose

from hashshift.cbeci import run_cbeci
from hashshift.hardware import catalogue
from hashshift.sim.engine import run
from hashshift.sim.fleet import calibrate_mix, cbeci_target_j_th, class_set, tilt_to_mean
from hashshift.sim.scenario import parse_scenario
from hashshift.sources.bundled_observed import read_market_monthly

EFF = np.array([98.0, 62.0, 45.0, 34.0])
PRIOR = np.array([0.066, 0.22, 0.27, 0.444])


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    on = p > 0
    return float(np.sum(p[on] * np.log(p[on] / q[on])))


def test_tilt_reaches_the_target_and_is_the_closest_mix() -> None:
    out = tilt_to_mean(PRIOR, EFF, 70.0)
    assert_allclose(out @ EFF, 70.0, rtol=1e-9)
    assert_allclose(out.sum(), 1.0, rtol=1e-12)
    # the prior's own mean gives the prior back
    assert_allclose(tilt_to_mean(PRIOR, EFF, float(PRIOR / PRIOR.sum() @ EFF)),
                    PRIOR / PRIOR.sum(), rtol=1e-9)
    # any other mix with the same mean is farther from the prior (Csiszár 1975): move weight
    # along a direction that keeps the sum and the mean
    d = np.array([1.0, -2.0, 1.0, 0.0])
    d -= (d @ EFF) / (np.array([0, 0, 1.0, -1.0]) @ EFF) * np.array([0, 0, 1.0, -1.0])
    assert_allclose([d.sum(), d @ EFF], [0.0, 0.0], atol=1e-9)
    for eps in (1e-3, -1e-3, 1e-2):
        alt = out + eps * d
        assert (alt > 0).all()
        assert _kl(alt, PRIOR) > _kl(out, PRIOR)


def test_tilt_clamps_outside_the_range_and_keeps_unreleased_classes_out() -> None:
    assert_allclose(tilt_to_mean(PRIOR, EFF, 300.0), [1, 0, 0, 0])
    assert_allclose(tilt_to_mean(PRIOR, EFF, 10.0), [0, 0, 0, 1])
    prior = np.array([0.5, 0.5, 0.0, 0.0])
    out = tilt_to_mean(prior, EFF, 80.0)
    assert out[2:].sum() == 0.0 and abs(out @ EFF - 80.0) < 1e-9
    with pytest.raises(ValueError, match="not all zero"):
        tilt_to_mean(np.zeros(4), EFF, 50.0)
    with pytest.raises(ValueError, match="finite"):
        tilt_to_mean(PRIOR, EFF, float("nan"))


def test_target_is_cbecis_power_per_unit_of_hashing() -> None:
    """CCAF CBECI April 2021 (the bundled monthly reproduction): 12.96 GW at 157.2 EH/s, best
    guess 75.0 J/TH at PUE 1.10; the engine's machine-level target at PUE 1.10 and uptime
    0.97 is 75.0 × 1.10 × 0.97 / 1.10."""
    as_of = date(2021, 5, 31)
    market = read_market_monthly(as_of=as_of)
    target, info = cbeci_target_j_th(market, as_of, "guess", pue=1.10, uptime=0.97)
    assert info["month"] == "2021-04"  # May's mean was public only on 1 June
    assert_allclose(target, info["cbeci_efficiency_j_th"] * 0.97, rtol=1e-12)
    table = run_cbeci(market=market, machines=catalogue(as_of=as_of))
    row = table.iloc[-1]
    assert_allclose(info["cbeci_power_gw"] / info["cbeci_hashrate_ehs"],
                    row["power_guess_gw"] / row["hashrate_ehs"], rtol=1e-12)
    assert_allclose(info["cbeci_power_gw"], 12.96, rtol=0.005)


def test_unknown_mix_is_refused() -> None:
    classes = class_set(None, date(2021, 5, 31))
    with pytest.raises(ValueError, match=r"initial.fleet_mix = 'newest' is not known .*cbeci"):
        calibrate_mix(classes, "newest", read_market_monthly(as_of=date(2021, 5, 31)),
                      date(2021, 5, 31), 1.1)


SCENARIO = """
[scenario]
name = "fleet"
as_of = {as_of}
horizon_days = 5
paths = 40
seed = 3

[initial]
fleet_mix = "{mix}"

[price]
kind = "historical"

[fees]
kind = "historical"
"""


@pytest.mark.parametrize("as_of", ["2021-05-31", "2022-06-15"])
def test_engine_starts_at_the_observed_layers_power(as_of: str) -> None:
    """One energy model: the engine's first day draws the CBECI best guess's power per EH/s of
    the month it was calibrated to (within 3 %), where the age mix alone was a third lower."""
    day = date.fromisoformat(as_of)
    market = read_market_monthly(as_of=day)
    row = run_cbeci(market=market, machines=catalogue(as_of=day)).iloc[-1]
    cbeci_gw_per_ehs = row["power_guess_gw"] / row["hashrate_ehs"]
    got = {}
    for mix in ("cbeci", "age"):
        r = run(parse_scenario(SCENARIO.format(as_of=as_of, mix=mix)))
        p = r.world("power_gw").iloc[0]["mean"]
        h = r.world("hashrate_ehs").iloc[0]["mean"]
        got[mix] = p / h
        print(f"{as_of} {mix}: {p:.2f} GW at {h:.1f} EH/s = {p / h:.4f} GW per EH/s "
              f"(CBECI {row['date']:%Y-%m}: {cbeci_gw_per_ehs:.4f}); "
              f"{r.config['provenance']['fleet']}")
    assert_allclose(got["cbeci"], cbeci_gw_per_ehs, rtol=0.03)
    assert got["age"] < 0.85 * cbeci_gw_per_ehs


def test_after_the_2024_halving_idle_old_machines_explain_the_gap() -> None:
    """June 2024: at the real price the engine starts 5 % below CBECI's power per EH/s, because
    CBECI counts every machine profitable at 0.05 USD/kWh while the engine's oldest classes are
    idle at the regions' tariffs (at most 10× idle per running machine on day 0); at a price
    where every class runs, the two agree."""
    day = date(2024, 6, 1)
    row = run_cbeci(market=read_market_monthly(as_of=day),
                    machines=catalogue(as_of=day)).iloc[-1]
    ref = row["power_guess_gw"] / row["hashrate_ehs"]
    got = {}
    for name, price in (("real", 'kind = "historical"'), ("high", 'kind = "fixed"\nusd = 500000')):
        text = SCENARIO.format(as_of=day, mix="cbeci").replace('[price]\nkind = "historical"',
                                                                f"[price]\n{price}")
        w = run(parse_scenario(text)).world
        got[name] = w("power_gw").iloc[0]["mean"] / w("hashrate_ehs").iloc[0]["mean"]
    print(f"2024-06: CBECI {ref:.4f}, engine at the real price {got['real']:.4f}, "
          f"at 500 000 USD/BTC {got['high']:.4f} GW per EH/s")
    assert_allclose(got["high"], ref, rtol=0.01)
    assert 0.90 * ref < got["real"] < 0.97 * ref
