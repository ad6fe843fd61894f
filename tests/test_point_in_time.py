"""What was known when: every reader honours ``as_of``, a forecast records the vintages it read,
and the China 2021 backtest reads nothing published after 31 May 2021 (issue 13)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from hashshift import geography, hardware, history
from hashshift.sim import engine
from hashshift.sim.examples import load_example
from hashshift.sim.scenario import ScenarioError, parse_scenario
from hashshift.sources.bundled_observed import read_grid_intensity, read_market_monthly
from hashshift.sources.bundled_sim import read_sim_regions
from hashshift.sources.pit import record_access

AS_OF = date(2021, 5, 31)


def _late(log: list, as_of: date) -> list:
    return [a for a in log if a.newest_public is not None and a.newest_public > as_of]


@pytest.fixture(scope="module")
def china_run() -> tuple[engine.Result, list]:
    sc = load_example("china_2021")
    assert sc.scenario.as_of == AS_OF
    with record_access() as log:
        result = engine.run(sc, paths=40)
    return result, log


def test_china_2021_forecast_reads_nothing_published_after_as_of(china_run) -> None:
    result, log = china_run
    datasets = {a.dataset for a in log}
    # the run read every kind of input, each through the point-in-time path
    assert {"epochs", "mining_map", "market_monthly", "asic_catalogue", "grid_intensity",
            "sim_regions"} <= datasets, datasets
    late = _late(log, AS_OF)
    assert not late, "read data published after the as-of date:\n" + "\n".join(map(str, late))
    # and the run says so in its configuration
    v = result.config["vintages"]
    assert {r["dataset"] for r in v} == datasets
    assert all(r["newest_public"] is None or r["newest_public"] <= "2021-05-31" for r in v)
    assert result.config["as_of"] == "2021-05-31"


def test_the_recorder_catches_a_leak() -> None:
    """The check above can fail: a scenario conditioned on the realised price reads later data,
    and its notes call it a conditional forecast."""
    sc = load_example("china_2021")
    data = sc.model_dump(mode="json")
    data["price"] = {"kind": "historical"}
    leaky = type(sc).model_validate(data)
    with record_access() as log:
        inp = engine.resolve(leaky)
    late = _late(log, AS_OF)
    assert [a.dataset for a in late] == ["market_monthly"]
    assert "conditional forecast" in inp.notes["price"]


def test_china_start_is_built_from_what_was_public_then(china_run) -> None:
    """On 31 May 2021 CCAF's April 2021 month was not yet public: the run starts from the
    nowcast of April 2021 built on the newest map then released (April 2020), or, asked for,
    from that map carried forward; either way it says so."""
    result, _ = china_run
    note = result.config["provenance"]["shares"]
    newest = geography.months("country", as_of=AS_OF)[-1]
    assert newest == pd.Timestamp("2020-04-01")
    assert "nowcast of 2021-04 as known on 2021-05-31" in note and "2020-04" in note
    sc = load_example("china_2021")
    data = sc.model_dump(mode="json")
    data["initial"]["start"] = "published"
    naive = engine.resolve(type(sc).model_validate(data))
    assert "carried forward" in naive.notes["shares"] and "2020-04" in naive.notes["shares"]
    with pytest.raises(geography.MiningMapError, match="as known on 2021-05-31"):
        geography.shares("2021-04", as_of=AS_OF)


def test_the_whole_published_map_to_january_2022() -> None:
    jan = geography.shares("2022-01").set_index("region_code")["share_pct"]
    assert_allclose([jan["US"], jan["CN"]], [37.84, 21.11], atol=1e-9)
    jul = geography.shares("2021-07", "province")
    assert (jul["share_pct"] == 0).all()  # China at 0 in July 2021, every province too
    months = geography.months("country")
    assert months[0] == pd.Timestamp("2019-09-01") and months[-1] == pd.Timestamp("2022-01-01")
    assert geography.months("province")[-1] == pd.Timestamp("2021-07-01")
    # every month carries the day it became public, after the month ended
    table = geography.mining_map()
    assert table["published"].notna().all()
    assert (table["published"] > table["date"] + pd.offsets.MonthEnd(0)).all()


def test_epochs_as_known_on_a_day() -> None:
    ep = history.epochs(as_of=AS_OF)
    last = ep.iloc[-1]
    # blocks are public the day after: the epoch that began on 30 May 2021 is known, open
    assert last["first_time"] < pd.Timestamp(AS_OF, tz="UTC")
    assert pd.isna(last["last_time"]) and np.isnan(last["hashrate_ehs"])
    assert len(history.epochs()) > len(ep)
    assert (ep["first_time"].dt.tz_convert("UTC").dt.date < AS_OF).all()


def test_readers_return_only_what_was_public() -> None:
    m = read_market_monthly(as_of=AS_OF)
    assert m["date"].max() == pd.Timestamp("2021-04-01")  # May's mean is public on 1 June
    cat = hardware.catalogue(as_of=AS_OF)
    assert "Antminer S19 XP" not in set(cat["model"])  # first shipped July 2022
    assert "Antminer S19" in set(cat["model"])
    grid = read_grid_intensity(as_of=AS_OF)
    assert (grid["published"] <= pd.Timestamp(AS_OF)).all() and len(grid)
    assert len(read_sim_regions(as_of=AS_OF)) and read_sim_regions(as_of="2021-05-30").empty


def test_no_machine_class_from_the_future() -> None:
    inp = engine.resolve(load_example("china_2021"))
    assert min(inp.classes.efficiency_j_th) >= 34.0  # no 22 J/TH class for a May 2021 forecast
    assert all(r is not None and r <= AS_OF for r in inp.classes.release)


# ---------------------------------------------------------------------------------------------
# regions that nest, and no silent no-ops
# ---------------------------------------------------------------------------------------------
BASE = """
[scenario]
name = "t"
as_of = 2021-05-31
horizon_days = 120
paths = 60
seed = 5
[price]
kind = "fixed"
usd = 35652
[fees]
kind = "recent"
[initial]
share_concentration = 0
"""


def _run(extra: str) -> tuple[engine.Inputs, engine.Result]:
    sc = parse_scenario(BASE + extra)
    inp = engine.resolve(sc)
    return inp, engine.run(sc, inputs=inp)


def test_a_curtailment_of_texas_acts_on_texas() -> None:
    """Texas is not on CCAF's map: the run splits it off the US with the given share, and a 90 %
    curtailment lowers world hashrate by about Texas's share × 0.9."""
    split = "\n[initial.split_pct]\nUS-TX = 40.0\n"
    base_inp, base = _run(split)
    assert "US-TX" in base_inp.regions and "US-OTHER" in base_inp.regions
    assert "US" not in base_inp.regions
    us = base_inp.shares[base_inp.regions.index("US-TX")] + \
        base_inp.shares[base_inp.regions.index("US-OTHER")]
    tx = base_inp.shares[base_inp.regions.index("US-TX")]
    assert_allclose(tx / us, 0.40, rtol=1e-9)
    assert "split US-TX" in base_inp.notes and "40.0 % of US" in base_inp.notes["split US-TX"]
    ev = """
[[event]]
kind = "curtailment"
region = "US-TX"
start = 2021-06-10
end = 2021-06-20
share = 0.9
"""
    _, cut = _run(split + ev)
    h0 = base.world("hashrate_ehs").set_index("date")["mean"]
    h1 = cut.world("hashrate_ehs").set_index("date")["mean"]
    during = (h1 / h0 - 1.0)["2021-06-12":"2021-06-18"].mean()
    assert_allclose(during, -0.9 * tx, rtol=0.25, atol=0.003)
    assert during < -0.01


def test_an_event_on_a_region_the_run_cannot_resolve_is_an_error() -> None:
    with pytest.raises(engine.EngineError, match=r"US-TX.*split_pct\.US-TX.*US"):
        _run('\n[[event]]\nkind = "ban"\nregion = "US-TX"\nannounced = 2021-06-01\n'
             'effective = 2021-06-05\nenforcement = 0.9\n')
    with pytest.raises(engine.EngineError, match=r"NO .*Norway.*OTHER"):
        _run('\n[[region]]\ncode = "NO"\nprice_usd_kwh = 0.03\n')
    with pytest.raises(engine.EngineError, match=r"unknown region code 'US-ZZ'.*nearest"):
        _run('\n[[event]]\nkind = "curtailment"\nregion = "US-ZZ"\nstart = 2021-06-01\n'
             'end = 2021-06-02\nshare = 0.5\n')


def test_a_country_event_covers_its_provinces() -> None:
    inp, _ = _run('\n[[region]]\ncode = "CN"\npolicy_risk = 0.9\n')
    cn = [c for c in inp.regions if c.startswith("CN-")]
    assert len(cn) >= 5 and "CN" not in inp.regions
    assert all(inp.specs[c].policy_risk == 0.9 for c in cn)
    assert all(inp.risk[inp.regions.index(c)] == 0.9 for c in cn)


def test_an_event_after_the_horizon_is_an_error() -> None:
    with pytest.raises(ScenarioError, match=r"event\[0\]\.start 2022-01-01 is after the horizon"):
        parse_scenario(BASE + '\n[[event]]\nkind = "curtailment"\nregion = "US"\n'
                       'start = 2022-01-01\nend = 2022-01-05\nshare = 0.5\n')
