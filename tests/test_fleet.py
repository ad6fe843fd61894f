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


# ---------------------------------------------------------------------------------------------
# one grid-intensity rule for the engine and the observed layer
# ---------------------------------------------------------------------------------------------


def test_subdivisions_share_what_their_country_leaves() -> None:
    """China, May (CCAF CO2_Coef_China 529.8 g/kWh): Sichuan 123 and Yunnan 139 keep their own
    figures; the rest of China takes (529.8 − 0.16·123 − 0.08·139) / 0.76 = 656.58 g/kWh, so the
    share-weighted mean is China's figure again."""
    from hashshift.energy import balance_subdivision_intensity

    shares = np.array([0.16, 0.08, 0.50, 0.26])
    own = np.array([123.0, 139.0, np.nan, np.nan])
    got, note = balance_subdivision_intensity(529.8, shares, own)
    assert_allclose(got, [123.0, 139.0, 656.578947, 656.578947], rtol=1e-6)
    assert_allclose(shares @ got, 529.8, rtol=1e-12)
    assert note == ""
    # no subdivision with its own figure: all take the country's
    assert_allclose(balance_subdivision_intensity(450.0, shares, np.full(4, np.nan))[0], 450.0)
    # own figures above the country's: the rest is held at 0 and the note says so
    got, note = balance_subdivision_intensity(100.0, [0.5, 0.5], [300.0, np.nan])
    assert_allclose(got, [300.0, 0.0]) and "held at 0" in note
    got, note = balance_subdivision_intensity(100.0, [0.5, 0.5], [300.0, 80.0])
    assert_allclose(got, [300.0, 80.0]) and "not imposed" in note
    with pytest.raises(ValueError, match=r"country_g_kwh = nan .*allowed: a finite number"):
        balance_subdivision_intensity(float("nan"), shares, own)
    with pytest.raises(ValueError, match=r"shares = \[-1.0, 2.0\]"):
        balance_subdivision_intensity(500.0, [-1.0, 2.0], [np.nan, np.nan])


@pytest.mark.parametrize("override", [None, 700.0])
def test_engine_keeps_every_countrys_grid_figure(override: float | None) -> None:
    """The engine's first day (31 May 2021) weighted by its starting shares gives each country
    the figure the observed layer uses for it (energy.intensity_lookup on the grid rows public
    that day); Sichuan and Yunnan keep their own May rows, and a scenario's own figure for a
    province (Xinjiang at 700) stands while the rest of China makes room for it."""
    from hashshift import regions
    from hashshift.energy import intensity_lookup
    from hashshift.sim.engine import resolve
    from hashshift.sources.bundled_observed import read_grid_intensity

    text = SCENARIO.format(as_of="2021-05-31", mix="cbeci")
    if override is not None:
        text += f'\n[[region]]\ncode = "CN-XJ"\nintensity_g_kwh = {override}\n'
    inp = resolve(parse_scenario(text))
    grid = read_grid_intensity(as_of=date(2021, 5, 31))
    day0 = dict(zip(inp.regions, inp.intensity_g_kwh[0], strict=True))
    share = dict(zip(inp.regions, inp.shares, strict=True))
    assert day0["CN-SC"] == intensity_lookup(grid, "CN-SC", 5)[0] == 123.0
    assert day0["CN-YN"] == intensity_lookup(grid, "CN-YN", 5)[0] == 139.0
    if override is not None:
        assert day0["CN-XJ"] == override
    countries = {regions.parent_code(c) for c in inp.regions}
    for country in countries:
        parts = [c for c in inp.regions if regions.parent_code(c) == country]
        mean = sum(share[c] * day0[c] for c in parts) / sum(share[c] for c in parts)
        assert_allclose(mean, intensity_lookup(grid, country, 5)[0], rtol=1e-9, err_msg=country)
    assert "share what CN's figure leaves" in inp.notes["intensity CN"]
