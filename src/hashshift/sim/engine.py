"""The scenario engine: a daily loop over regions × machine classes × Monte Carlo paths.

Each day, for every path at once (numpy; no Python loop over paths or blocks):

1. **policy** — bans stop a growing share of their regions' machines (ramp, enforcement, an
   underground share keeps running); curtailment, seasonal tariffs, price shocks and levies apply;
2. **migration** — stopped machines exit (when their margin cannot repay shipping: old classes
   first) or relocate by a multinomial logit over open destinations, arriving after a lognormal
   logistics delay and only as far as the destination's capacity [MW] allows; new deliveries are
   placed by the same choice;
3. **economics** — each class runs where its break-even tariff beats the site tariffs (spread
   lognormally within a region) with hysteresis and a start-up lag;
4. **network** — blocks and retargets with Bitcoin's exact rules (:mod:`hashshift.sim.network`).

Results are per-day quantiles over paths (world and by region) and per-epoch quantiles, carried
with the resolved scenario, the package version and the seed.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from ..consensus import MAINNET, block_subsidy, issued_btc
from ..units import (
    COIN,
    HASHES_PER_DIFFICULTY,
    KWH_PER_THS_DAY_PER_J_TH,
    MT_PER_TWH_G_KWH,
    SECONDS_PER_DAY,
    TH,
    TWH_YR_PER_GW,
)
from .fleet import ClassSet, calibrate_mix, class_set
from .migration import DelayPipeline, logit_shares
from .network import EpochLog, advance_day, bits_to_difficulty, start_network
from .policy import Timeline, build_timeline
from .scenario import LIMITS, RegionSpec, Scenario

__all__ = ["Inputs", "Result", "resolve", "resolved_summary", "run"]

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
Q_NAMES = ("q05", "q25", "q50", "q75", "q95")
#: spawn_key of the streams of the parameter priors (policy events use 3: policy.POLICY_STREAM)
PRIOR_STREAM = 4
REGIONAL_PATHS = 500  # regional quantiles come from the first paths (i.i.d.; enough for bands)
CAPACITY_HEADROOM = 0.20  # spare capacity at as_of, share of installed MW (judgement)


class EngineError(ValueError):
    """A scenario the engine cannot run (e.g. an as_of outside the data); message says why."""


def _check_hashrate(h_world: np.ndarray, day: int) -> None:
    """The block process needs a positive, finite world hashrate on every path."""
    ok = np.isfinite(h_world) & (h_world > 0)
    if not ok.all():
        what = "not finite" if not np.isfinite(h_world).all() else "zero"
        raise EngineError(
            f"on day {day} the world hashrate is {what} on {int((~ok).sum())} of {ok.size} "
            "paths: the scenario switches every miner off or its parameters are too extreme "
            "for the model (check the events' enforcement, the shares and the migration "
            "weights)")


@dataclass
class Inputs:
    """Everything the engine uses, resolved from the scenario and the data before ``as_of``."""

    scenario: Scenario
    start: date
    horizon: int
    regions: list[str]
    shares: np.ndarray  # (regions) initial share of running hashrate
    hashrate_ehs: float  # initial network hashrate (point estimate)
    hashrate_intervals: int  # block intervals behind the estimate (0: exact, from the scenario)
    height: int
    bits: int
    epoch_first_time_s: float  # relative to start (≤ 0)
    classes: ClassSet
    price_usd_kwh: np.ndarray  # (regions)
    risk: np.ndarray  # (regions)
    intensity_g_kwh: np.ndarray  # (days × regions)
    capacity_mw: np.ndarray  # (regions) at start
    growth_mw_month: np.ndarray  # (regions)
    distance_km: np.ndarray  # (regions × regions)
    deliveries_ehs_month: float
    hashprice_before: np.ndarray  # [lag] USD/(PH/s)/day on the lag_days before as_of
    hashprice_ref: float  # mean hashprice of the year before as_of [USD/(PH/s)/day]
    btc_usd: np.ndarray  # (days) (historical or fixed; GBM starts from btc_usd[0])
    fee_btc_block: np.ndarray  # (days)
    notes: dict[str, str] = field(default_factory=dict)
    specs: dict[str, RegionSpec] = field(default_factory=dict)  # the override of each region
    vintages: list[dict[str, Any]] = field(default_factory=list)  # data read, newest public
    share_samples: np.ndarray | None = field(default=None, repr=False)  # nowcast draws × regions


# ---------------------------------------------------------------------------------------------
# Resolving inputs from the observed layer (only data before as_of)
# ---------------------------------------------------------------------------------------------
def resolve(scenario: Scenario) -> Inputs:
    """Resolve the scenario against the bundled data, using only what was public on as_of
    (except a ``historical`` price or fee path, which the notes name as conditioning). The
    datasets read and their newest publication dates are in ``Inputs.vintages``."""
    from ..sources.pit import record_access, vintages_used

    with record_access() as log:
        inp = _resolve(scenario)
    inp.vintages = vintages_used(log)
    return inp


def check(scenario: Scenario) -> tuple[Inputs | None, list[tuple[str, str]]]:
    """Validate a scenario fully, as a run would: region codes (every offending field), then
    resolution against the data known on as_of. Returns the resolved inputs (None when there
    are problems) and ``(field, message)`` problems, for interfaces that list them."""
    from .scenario import region_problems

    problems = region_problems(scenario)
    if problems:
        return None, problems
    try:
        return resolve(scenario), []
    except (EngineError, LookupError, ValueError) as exc:
        return None, [("scenario", str(exc))]


def _resolve(scenario: Scenario) -> Inputs:
    from .. import history, regions
    from ..sources.bundled_geo import read_subdivision_shares
    from ..sources.bundled_observed import read_grid_intensity, read_market_monthly
    from ..sources.bundled_sim import read_sim_regions
    from .regiontree import RegionError, leaf_specs, split_regions

    meta = scenario.scenario
    start = meta.as_of
    t0 = pd.Timestamp(start, tz="UTC")
    notes: dict[str, str] = {}
    ep = history.epochs(as_of=start)
    known = ep[ep["first_time"] < t0]
    complete = known[known["last_time"].notna() & (known["last_time"] < t0)]
    if complete.empty:
        every = history.epochs()
        raise EngineError(
            f"scenario.as_of {start} is outside the data: the bundled history covers "
            f"{every['first_time'].iloc[0]:%Y-%m-%d} to {every['first_time'].iloc[-1]:%Y-%m-%d}")
    cur = known.iloc[-1]
    last = complete.iloc[-1]
    if t0 - cur["first_time"] > pd.Timedelta(days=28):
        raise EngineError(
            f"scenario.as_of {start} is after the data: the newest bundled epoch started "
            f"{cur['first_time']:%Y-%m-%d}, so the chain's state at {start} is unknown; choose "
            f"an as_of up to 4 weeks after it")
    h0 = scenario.initial.hashrate_ehs or float(last["hashrate_ehs"])
    intervals = 0 if scenario.initial.hashrate_ehs else MAINNET.interval - 1
    notes["hashrate"] = (f"{h0:.1f} EH/s: epoch {int(last['epoch'])} mean (ended "
                         f"{last['last_time']:%Y-%m-%d})" if scenario.initial.hashrate_ehs is None
                         else f"{h0:.1f} EH/s from the scenario")
    first_time_s = (cur["first_time"] - t0).total_seconds()
    if cur["epoch"] == last["epoch"]:  # as_of falls right after an epoch ended
        raise EngineError(f"scenario.as_of {start} falls between epochs; move it by a day")
    difficulty = float(cur["difficulty"])
    elapsed_blocks = int(-first_time_s * h0 * 1e18 / (difficulty * HASHES_PER_DIFFICULTY))
    height = int(cur["first_height"]) + min(max(elapsed_blocks, 0), MAINNET.interval - 2)
    bits = int(str(cur["bits"]), 16) if isinstance(cur["bits"], str) else int(cur["bits"])

    share_map, nowcast_samples = _starting_map(scenario, start, notes)
    share_map_before = dict(share_map)
    for code in share_map:
        if code not in ("OTHER", "CN-OTHER"):
            regions.check_region_code(code)
    try:
        share_map, splits, origin = split_regions(share_map, scenario, start,
                                                  read_subdivision_shares(as_of=start))
    except RegionError as exc:
        raise EngineError(str(exc)) from None
    for code, text in splits.items():
        notes[f"split {code}"] = text
    names = sorted(share_map, key=lambda c: (-share_map[c], c))
    shares = np.array([share_map[c] for c in names])
    shares = shares / shares.sum()
    specs = leaf_specs(scenario.region, names, dict(zip(names, shares.tolist(), strict=True)))
    share_samples = None
    if nowcast_samples is not None:  # each path's own starting map, split like the mean
        cols, draws = nowcast_samples
        total = {c: share_map_before[c] for c in cols}
        share_samples = np.column_stack([
            draws[:, cols.index(origin[c])] * (share_map[c] / total[origin[c]])
            if total[origin[c]] > 0 else np.zeros(draws.shape[0]) for c in names])
        share_samples /= share_samples.sum(axis=1, keepdims=True)

    classes = class_set(scenario.machine_class, start)
    market = read_market_monthly(as_of=start)
    if market.empty:
        raise EngineError(f"no market data were public on {start}")
    if scenario.machine_class is None:
        classes, calibration = calibrate_mix(classes, scenario.initial.fleet_mix, market, start,
                                             scenario.miners.pue, scenario.miners.uptime)
        notes["fleet"] = calibration.note()
    defaults = read_sim_regions(as_of=start).set_index("region_code")
    if defaults.empty or "OTHER" not in defaults.index:
        raise EngineError(f"no regional tariff and risk defaults were public on {start} (the "
                          "bundled judgements start 2021-05-31); give price_usd_kwh and "
                          "policy_risk for every region in [[region]]")
    grid = read_grid_intensity(as_of=start)
    horizon = meta.horizon_days
    days = [start + timedelta(days=i) for i in range(horizon)]

    table = {col: defaults[col].astype(float).to_dict() for col in ("price_usd_kwh", "risk")}
    vintage = defaults["published"].to_dict()

    def default(code: str, col: str) -> float:
        """The region's own judgement, else its country's, else OTHER's; a country's newer
        judgement replaces an older one of its subdivision (CN in 2025 over CN-XJ in 2021)."""
        chain = [c for c in dict.fromkeys((code, regions.parent_code(code), "OTHER"))
                 if c in table[col]]
        if not chain:
            return float(table[col]["OTHER"])
        best = chain[0]
        for c in chain[1:]:
            if c != "OTHER" and vintage[c] > vintage[best]:
                best = c
        return float(table[col][best])

    price = np.array([specs[c].price_usd_kwh if c in specs and specs[c].price_usd_kwh is not None
                      else default(c, "price_usd_kwh") for c in names])
    risk = np.array([specs[c].policy_risk if c in specs and specs[c].policy_risk is not None
                     else default(c, "risk") for c in names])
    intensity = _intensities(grid, names, shares, specs, days, notes)
    # Capacity: what is installed at as_of plus headroom; growth: the pace the region's mining
    # grew over the 12 months before as_of (CCAF map), in MW of the newest machines.
    eff_mix = float(np.dot(classes.initial_share, classes.efficiency_j_th))
    pue = scenario.miners.pue
    installed_mw = shares * h0 * eff_mix * pue
    growth_ehs = _trailing_growth_ehs_month(names, shares, start)
    newest = float(classes.efficiency_j_th[classes.released_by(start)].min())
    cap = np.empty(len(names))
    grow = np.empty(len(names))
    for j, c in enumerate(names):
        s = specs.get(c)
        cap[j] = (s.capacity_mw if s is not None and s.capacity_mw is not None
                  else installed_mw[j] * (1 + CAPACITY_HEADROOM))
        grow[j] = (s.growth_mw_month if s is not None and s.growth_mw_month is not None
                   else max(growth_ehs.get(c, 0.0), 0.0) * newest * pue)
    dist = np.zeros((len(names), len(names)))
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            if i < j:
                try:
                    d = regions.distance_km(a, b)
                except LookupError:
                    d = 6000.0  # aggregates ("OTHER") have no location: a typical distance
                dist[i, j] = dist[j, i] = d

    # New machines per month: the network's hashrate trend over the year before as_of (a whole
    # year, so that the hydro season's swing between provinces does not bias it).
    if scenario.supply.deliveries_ehs_month is not None:
        deliveries = scenario.supply.deliveries_ehs_month
        notes["supply"] = "from the scenario"
    else:
        before = complete[complete["last_time"] < t0 - pd.Timedelta(days=365)]
        h_then = float(before.iloc[-1]["hashrate_ehs"]) if len(before) else h0
        deliveries = max((h0 - h_then) / 12.0, 0.0)
        notes["supply"] = (f"{deliveries:.2f} EH/s per month: hashrate trend of the year "
                           "before as_of")

    btc, fees = _market_paths(scenario, market, days, t0, notes)
    hp_before, hp_ref = _hashprice_before(market, start, scenario.supply.lag_days)
    notes["supply_response"] = (
        f"deliveries × (hashprice {scenario.supply.lag_days} days earlier / "
        f"{hp_ref:.0f} USD/(PH/s)/day, the mean of the year before as_of) ** "
        f"{scenario.supply.elasticity:g}")
    return Inputs(scenario, start, horizon, names, shares, h0, intervals, height, bits,
                  first_time_s,
                  classes, price, risk, intensity, cap, grow, dist, deliveries, hp_before,
                  hp_ref, btc, fees, notes, specs, share_samples=share_samples)


def _month_before(start: date) -> pd.Timestamp:
    """The last calendar month that ended before ``start``."""
    month = pd.Timestamp(start).to_period("M").to_timestamp() - pd.offsets.MonthBegin(1)
    return month


def _published_map(month: pd.Timestamp, as_of: date | None, notes: dict[str, str]
                   ) -> tuple[dict[str, float], dict[str, Any]]:
    """Shares (fractions) of a published month: countries, China by province where published."""
    from .. import geography

    try:
        countries = geography.shares(month, "country", as_of=as_of)
    except ValueError as exc:
        raise EngineError(f"initial shares for {month:%Y-%m}: {exc}; set "
                          "initial.shares_pct or initial.shares_month") from None
    share_map: dict[str, float] = {}
    china = 0.0
    codes = countries["region_code"].astype(str).tolist()
    for code, pct in zip(codes, countries["share_pct"].to_numpy(float).tolist(), strict=True):
        if code == "CN":
            china = pct / 100.0
        else:
            share_map[code] = pct / 100.0
    if china > 0:
        try:
            prov = geography.shares(month, "province", as_of=as_of)
        except geography.MiningMapError:  # CCAF's provinces stop in 2021-07
            share_map["CN"] = china
            notes["provinces"] = (f"no province split of China for {month:%Y-%m} was "
                                  "published: China runs as one region")
        else:
            for code, pct in zip(prov["region_code"].astype(str).tolist(),
                                 prov["share_pct"].to_numpy(float).tolist(), strict=True):
                share_map[code] = pct / 100.0
    return share_map, {str(k): v for k, v in countries.attrs.items()}


@functools.lru_cache(maxsize=16)
def _nowcast_cached_run(start: date, month: pd.Timestamp) -> Any:
    from ..nowcast import nowcast

    return nowcast(start, through=month)


def _nowcast_cached(start: date, month: pd.Timestamp) -> Any:
    """The nowcast a run starts from (seeded, so the same for every run as of the same day);
    kept in memory, and its reads noted again on every use."""
    from ..sources.pit import note_access

    nc = _nowcast_cached_run(start, month)
    for v in nc.vintages:
        note_access(v["dataset"], v["source"], start, v["newest_public"], 0)
    return nc


def _starting_map(scenario: Scenario, start: date, notes: dict[str, str]
                  ) -> tuple[dict[str, float], tuple[list[str], np.ndarray] | None]:
    """The regional shares at as_of (fractions) and, for a nowcast start, its particles."""
    from .. import geography

    init = scenario.initial
    if init.shares_pct is not None:
        notes["shares"] = "from the scenario"
        return {k: v / 100.0 for k, v in init.shares_pct.items()}, None
    month = _month_before(start)
    if init.shares_month:  # read as published, even after as_of (the notes then say so)
        month = pd.Timestamp(init.shares_month + "-01")
        share_map, attrs = _published_map(month, None, notes)
        published = attrs.get("published")
        late = ("; published after as_of: the run uses hindsight"
                if published and published > str(start) else "")
        notes["shares"] = (f"CCAF Bitcoin Mining Map, {month:%Y-%m} as published by "
                           f"{published} ({attrs['source']})" + late)
        return share_map, None
    have = [m for m in geography.months("country", as_of=start) if m <= month]
    if not have:
        raise EngineError(f"no mining-map month was public on {start} (CCAF's first release "
                          "was on 2020-05-06); set initial.shares_pct")
    if init.start == "published" or (init.start == "auto" and have[-1] == month):
        share_map, attrs = _published_map(have[-1], start, notes)
        carried = "" if have[-1] == month else (
            f"; the newest month public on {start}, carried forward ({month:%Y-%m} was not "
            "yet published)")
        notes["shares"] = (f"CCAF Bitcoin Mining Map, {have[-1]:%Y-%m} as published by "
                           f"{attrs.get('published')} ({attrs['source']})" + carried)
        return share_map, None
    nc = _nowcast_cached(start, month)
    if month <= nc.last_published:  # asked for a nowcast of a published month: it is exact
        share_map, attrs = _published_map(month, start, notes)
        notes["shares"] = f"CCAF Bitcoin Mining Map, {month:%Y-%m} (published by {start})"
        return share_map, None
    draws = nc.samples[month].astype(float)
    mean = draws.mean(axis=0)
    ev = nc.evidence
    used = ", ".join(ev["event"]) if len(ev) else "none"
    notes["shares"] = (f"nowcast of {month:%Y-%m} as known on {start} (hashshift.nowcast): "
                       f"from CCAF's {nc.last_published:%Y-%m} map, the newest then published, "
                       f"moved by the map's own dynamics and the chain's natural experiments "
                       f"({used}); each path draws its map from the nowcast's "
                       f"{draws.shape[0]:,} particles")
    return dict(zip(nc.regions, mean.tolist(), strict=True)), (list(nc.regions), draws)


def _hashprice_before(market: pd.DataFrame, start: date, lag: int) -> tuple[np.ndarray, float]:
    """Daily hashprice [USD/(PH/s)/day] over the ``lag`` days before ``start`` and its mean
    over the year before (monthly means of revenue / hashrate, months ending before start)."""
    m = market.copy()
    m["date"] = pd.to_datetime(m["date"])
    m = m.set_index("date").sort_index()
    hp = (m["revenue_usd_day"] / m["hashrate_ehs"] / 1e3).rename("hp")  # USD per PH/s per day
    t0 = pd.Timestamp(start)
    done = hp[pd.DatetimeIndex(hp.index) + pd.offsets.MonthBegin(1) <= t0]
    year = done[done.index >= t0 - pd.DateOffset(months=12)]
    if year.empty:
        raise EngineError(f"no hashprice data in the year before {start}")
    days = pd.DatetimeIndex([t0 - pd.Timedelta(days=lag - i) for i in range(lag)])
    series = done.copy()
    before = _daily_from_monthly(series, days) if lag else np.empty(0)
    return before, float(year.mean())


def _intensities(grid: pd.DataFrame, names: list[str], shares: np.ndarray, specs: dict[str, Any],
                 days: list[date], notes: dict[str, str]) -> np.ndarray:
    """Grid intensity [gCO2/kWh] per day × region. A region's own figure (the scenario's, else its
    own grid row) stands; subdivisions without one share what their country's figure leaves
    (:func:`hashshift.energy.balance_subdivision_intensity`, weights: the starting shares), so
    the engine's first day agrees with the observed layer's country figures."""
    from .. import regions
    from ..energy import balance_subdivision_intensity, intensity_holder

    out = np.empty((len(days), len(names)))
    for j, c in enumerate(names):
        spec = specs.get(c)
        if spec is not None and spec.intensity_g_kwh is not None:
            out[:, j] = spec.intensity_g_kwh
        else:
            out[:, j] = _intensity_profile(grid, c, days)
    month = np.array([d.month for d in days])
    countries: dict[str, list[int]] = {}
    for j, c in enumerate(names):
        if "-" in c:
            countries.setdefault(regions.parent_code(c), []).append(j)
    for country, cols in sorted(countries.items()):
        own = [bool(specs.get(names[j]) is not None and specs[names[j]].intensity_g_kwh
                    is not None) for j in cols]
        if all(own) or sum(shares[j] for j in cols) <= 0:
            continue
        country_i = _intensity_profile(grid, country, days)
        balanced = False
        for m in sorted(set(month.tolist())):
            rows = month == m
            mine = np.array([np.nan if not (o or intensity_holder(grid, names[j], int(m))
                                            == names[j]) else out[rows, j][0]
                             for j, o in zip(cols, own, strict=True)])
            if np.isnan(mine).all():
                continue  # no subdivision has its own figure: all take the country's
            value, why = balance_subdivision_intensity(float(country_i[rows][0]),
                                                       shares[cols], mine)
            out[np.ix_(rows, cols)] = value
            balanced = True
            if why:
                notes[f"intensity {country}"] = why
        if balanced and f"intensity {country}" not in notes:
            notes[f"intensity {country}"] = (
                f"{country}'s subdivisions without their own grid figure share what {country}'s "
                "figure leaves after those with one (weights: starting shares), so the "
                "country's intensity is kept")
    return out


def _intensity_profile(grid: pd.DataFrame, code: str, days: list[date]) -> np.ndarray:
    """Grid intensity [gCO2/kWh] per day for a region (:func:`hashshift.energy.intensity_lookup`:
    its own rows, else its country's, else OTHER's; month rows override the whole-year row)."""
    from ..energy import intensity_lookup

    try:
        by_month = {m: intensity_lookup(grid, code, m)[0] for m in range(1, 13)}
    except LookupError as exc:
        raise EngineError(f"no grid intensity for region {code} in the data known at as_of "
                          f"({exc})") from None
    return np.array([by_month[d.month] for d in days])


def _trailing_growth_ehs_month(names: list[str], shares: np.ndarray, start: date
                               ) -> dict[str, float]:
    """Per region, EH/s gained per month over the 12 months of the mining map ending before
    ``start`` (as known on ``start``): each country's growth, shared out over the regions of the
    run inside it (its provinces, its split-off subdivisions and rest) by their starting shares.
    """
    from .. import geography
    from ..regions import parent_code

    out: dict[str, float] = {}
    try:
        countries = geography.shares_over_time("country", as_of=start)
    except ValueError:
        return out
    countries = countries[countries["date"] < pd.Timestamp(start)]
    if countries.empty:
        return out
    last = countries["date"].max()
    first = last - pd.DateOffset(months=12)
    share = dict(zip(names, shares.tolist(), strict=True))
    for country in {parent_code(c) for c in names}:
        rows = countries[countries["region_code"] == country].set_index("date")["hashrate_ehs"]
        if last not in rows.index or first not in rows.index:
            continue
        growth = float(rows[last] - rows[first]) / 12.0
        inside = [c for c in names if parent_code(c) == country]
        total = sum(share[c] for c in inside)
        for c in inside:
            out[c] = growth * (share[c] / total if total > 0 else 1.0 / len(inside))
    return out


def resolved_summary(inputs: Inputs) -> dict[str, Any]:
    """What a scenario resolved to, before it runs (``hashshift scenario validate``).

    Returns the scenario's ``name, description, as_of, end`` (last simulated day),
    ``horizon_days, paths, seed``; ``initial``: ``hashrate_ehs`` [EH/s], ``height`` and
    ``shares_pct`` [%] by region, largest first; ``machine_classes``: name -> efficiency
    [J/TH]; ``events`` (:func:`~hashshift.sim.scenario.describe_event` of each) and
    ``provenance``: where each input came from.
    """
    from .scenario import describe_event

    sc, m = inputs.scenario, inputs.scenario.scenario
    order = sorted(range(len(inputs.regions)), key=lambda j: -float(inputs.shares[j]))
    return {
        "name": m.name, "description": m.description, "as_of": str(m.as_of),
        "end": str(m.as_of + timedelta(days=m.horizon_days - 1)),
        "horizon_days": m.horizon_days, "paths": m.paths, "seed": m.seed,
        "initial": {"hashrate_ehs": round(float(inputs.hashrate_ehs), 3),
                    "height": inputs.height,
                    "shares_pct": {inputs.regions[j]: round(float(inputs.shares[j]) * 100, 3)
                                   for j in order}},
        "machine_classes": {n: float(e) for n, e in zip(inputs.classes.names,
                                                        inputs.classes.efficiency_j_th.tolist(),
                                                        strict=True)},
        "events": [describe_event(ev) for ev in sc.event],
        "provenance": dict(inputs.notes),
    }


def _market_paths(scenario: Scenario, known: pd.DataFrame, days: list[date],
                  t0: pd.Timestamp, notes: dict[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """Daily bitcoin price [USD/BTC] and fees [BTC/block] over the horizon. ``known``: the
    monthly market table as public on as_of. ``historical`` asks for the realised path after
    as_of, data published later: the run is then a forecast *conditional* on that path, and
    its notes say so."""
    from ..sources.bundled_observed import read_market_monthly

    wants_realised = scenario.price.kind == "historical" or scenario.fees.kind == "historical"
    m = (read_market_monthly() if wants_realised else known).copy()
    m["date"] = pd.to_datetime(m["date"])
    m = m.set_index("date").sort_index()
    idx = pd.DatetimeIndex([pd.Timestamp(d) for d in days])
    month_ends = pd.DatetimeIndex(m.index) + pd.offsets.MonthBegin(1)
    before = m[month_ends <= t0.tz_localize(None)]
    if before.empty:
        raise EngineError("no market data before as_of for the price and fee defaults")
    price_cfg = scenario.price
    if price_cfg.kind == "historical":
        if idx[-1] > m.index[-1] + pd.offsets.MonthEnd(1):
            raise EngineError(
                f"price.kind = 'historical' needs prices to {idx[-1]:%Y-%m-%d}; the bundled "
                f"monthly prices end {m.index[-1]:%Y-%m}; use price.kind = 'fixed' or 'gbm'")
        btc = _daily_from_monthly(m["price_usd"], idx)
        notes["price"] = ("historical monthly means (Coin Metrics), interpolated daily: the "
                          "realised path, published after as_of (a conditional forecast)")
    else:
        level = price_cfg.usd or float(before["price_usd"].iloc[-1])
        btc = np.full(len(days), level)
        notes["price"] = (f"{price_cfg.kind} from {level:,.0f} USD/BTC"
                          + ("" if price_cfg.usd else " (last monthly mean before as_of)"))
    fee_block = (m["fees_btc_day"] / m["blocks_day"]).rename("fee")
    if scenario.fees.kind == "historical" and idx[-1] <= m.index[-1] + pd.offsets.MonthEnd(1):
        fees = _daily_from_monthly(fee_block, idx)
        notes["fees"] = ("historical monthly means per block (Coin Metrics): the realised "
                         "path, published after as_of (a conditional forecast)")
    else:
        level = (scenario.fees.btc_per_block if scenario.fees.btc_per_block is not None
                 else float(fee_block[before.index].iloc[-3:].mean()))
        fees = np.full(len(days), level)
        notes["fees"] = f"{level:.3f} BTC per block"
    return btc, fees


def _daily_from_monthly(series: pd.Series, idx: pd.DatetimeIndex) -> np.ndarray:
    """Monthly means placed mid-month and interpolated linearly per day."""
    mid = pd.DatetimeIndex(series.index) + pd.Timedelta(days=14)
    epoch = pd.Timestamp("1970-01-01")
    x = np.asarray((mid - epoch) / pd.Timedelta(seconds=1), dtype=float)
    xi = np.asarray((pd.DatetimeIndex(idx) - epoch) / pd.Timedelta(seconds=1), dtype=float)
    return np.interp(xi, x, series.to_numpy(dtype=float))


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------
@dataclass
class Result:
    """Tidy results. ``daily``: one row per day × region × metric with mean and quantiles;
    ``epochs``: one row per epoch with quantiles of the retarget, duration and hashrate;
    ``config``: the resolved scenario, package version, seed and the inputs' provenance."""

    daily: pd.DataFrame
    epochs: pd.DataFrame
    config: dict[str, Any]
    paths: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def to_csv(self, folder: str | Path) -> list[Path]:
        """Write ``daily.csv``, ``epochs.csv`` and ``config.json`` into ``folder``."""
        import json

        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        files = [out / "daily.csv", out / "epochs.csv", out / "config.json"]
        self.daily.to_csv(files[0], index=False)
        self.epochs.to_csv(files[1], index=False)
        files[2].write_text(json.dumps(self.config, indent=2, default=str))
        return files

    def to_parquet(self, folder: str | Path) -> list[Path]:
        """Write ``daily.parquet`` and ``epochs.parquet`` (config in the file metadata)."""
        import json

        import pyarrow as pa
        import pyarrow.parquet as pq

        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        files = []
        for name, df in (("daily", self.daily), ("epochs", self.epochs)):
            table = pa.Table.from_pandas(df, preserve_index=False)
            meta = dict(table.schema.metadata or {})
            meta[b"hashshift"] = json.dumps(self.config, default=str).encode()
            pq.write_table(table.replace_schema_metadata(meta), out / f"{name}.parquet")
            files.append(out / f"{name}.parquet")
        return files

    def world(self, metric: str) -> pd.DataFrame:
        """Daily quantiles of one world metric (e.g. ``hashrate_ehs``)."""
        d = self.daily
        return d[(d["region"] == "WORLD") & (d["metric"] == metric)].reset_index(drop=True)


def run(
    scenario: Scenario,
    *,
    inputs: Inputs | None = None,
    paths: int | None = None,
    keep_paths: bool = False,
    progress: Any = None,
    partial: Callable[[int, dict[str, np.ndarray]], None] | None = None,
) -> Result:
    """Run a scenario (``paths`` overrides the file's count, e.g. for quick previews).

    ``progress(done, total)`` is called after every day; ``partial(days, world)`` after every
    block of :data:`CHUNK_DAYS` days with the world quantiles so far (metric -> array of the
    five quantiles × days), for interfaces that draw the bands as they grow.

    Raises :class:`EngineError` for a scenario the engine cannot run, including numbers so
    extreme that its arithmetic overflows."""
    try:
        return _run(scenario, inputs, paths, keep_paths, progress, partial)
    except ArithmeticError as exc:  # OverflowError, ZeroDivisionError, FloatingPointError
        raise EngineError(f"the scenario's numbers are too extreme for the model "
                          f"({type(exc).__name__}: {exc}); check the values far from the "
                          "defaults") from exc


def _run(scenario: Scenario, inputs: Inputs | None, paths: int | None, keep_paths: bool,
         progress: Any, partial: Callable[[int, dict[str, np.ndarray]], None] | None
         ) -> Result:
    inp = inputs if inputs is not None else resolve(scenario)
    meta = scenario.scenario
    p = paths if paths is not None else meta.paths
    if not 1 <= p <= LIMITS["paths"]:
        raise EngineError(f"paths = {p} is outside the allowed 1..{LIMITS['paths']}")
    ss = np.random.SeedSequence(meta.seed)
    rng_net, rng_par, rng_price = (np.random.default_rng(s) for s in ss.spawn(3))
    sim = _Simulation(inp, p, rng_par, rng_price)
    epochs = _EpochStats(p, keep=keep_paths)
    net = start_network(p, inp.height, inp.bits, inp.epoch_first_time_s, rng_net, log=epochs)
    sim.calibrate(net.difficulty, net.height)
    rec = _Recorder(inp, p, keep_paths)
    T = inp.horizon
    for t in range(T):
        h_world = sim.step(t, net.difficulty, net.height)
        _check_hashrate(h_world, t)
        height_before = net.height.copy()
        blocks = advance_day(net, t * 86400.0, h_world, rng_net)
        sim.record(t, h_world, blocks, height_before, net.difficulty, rec)
        if progress is not None:
            progress(t + 1, T)
        if partial is not None and rec.done == t + 1:
            partial(t + 1, rec.world_so_far())
    return sim.result(epochs, rec)


#: World metrics (one value per path and day), in the order of ``Result.daily``.
WORLD_METRICS = ("hashrate_ehs", "difficulty", "btc_usd", "hashprice_usd_ph_day",
                 "revenue_usd", "blocks", "power_gw", "emissions_mt_yr", "exited_ehs",
                 "in_transit_ehs")
#: Regional metrics (per path, day and region; from the first REGIONAL_PATHS paths).
REGIONAL_METRICS = ("hashrate_ehs", "share_pct", "power_gw", "emissions_mt_yr")
CHUNK_DAYS = 16  # days of per-path values kept before they are reduced to quantiles


class _Recorder:
    """Per-path daily values, reduced to means and quantiles over paths every
    :data:`CHUNK_DAYS` days, so memory is paths × chunk, not paths × horizon (``keep_paths``
    also keeps every path's world values)."""

    def __init__(self, inp: Inputs, paths: int, keep_paths: bool):
        T, R = inp.horizon, len(inp.regions)
        self.horizon = T
        self.chunk = min(CHUNK_DAYS, T)
        self.ps = min(paths, REGIONAL_PATHS)
        f32 = np.float32
        # MtCO2e/yr per GW (days × regions)
        self.emission_factor = (inp.intensity_g_kwh * (TWH_YR_PER_GW * MT_PER_TWH_G_KWH)
                                ).astype(f32)
        nw, nr = len(WORLD_METRICS), len(REGIONAL_METRICS)
        self.world = np.empty((nw, self.chunk, paths), dtype=f32)  # paths last: sorted fast
        self.regional = np.empty((nr, self.chunk, R, self.ps), dtype=f32)
        self.q_world = np.empty((nw, len(QUANTILES), T))
        self.mean_world = np.empty((nw, T), dtype=f32)
        self.q_regional = np.empty((nr, len(QUANTILES), T, R))
        self.mean_regional = np.empty((nr, T, R), dtype=f32)
        self.kept = ({m: np.empty((T, paths), dtype=f32) for m in WORLD_METRICS}
                     if keep_paths else {})
        self.done = 0  # days reduced so far

    def day(self, t: int, world: tuple[np.ndarray, ...], running_ehs: np.ndarray,
            power_gw: np.ndarray) -> None:
        """Day ``t``: world values (paths each, in :data:`WORLD_METRICS` order), running
        hashrate and power (regions × paths)."""
        k = t - self.done
        for i, v in enumerate(world):
            self.world[i, k] = v
        for m, v in self.kept.items():
            v[t] = world[WORLD_METRICS.index(m)]
        self.regional[0, k] = running_ehs[:, : self.ps]  # REGIONAL_METRICS' order
        self.regional[2, k] = power_gw[:, : self.ps]
        if k + 1 == self.chunk or t + 1 == self.horizon:
            self._reduce(t + 1)

    def _reduce(self, end: int) -> None:
        a, n = self.done, end - self.done
        w = self.world[:, :n]
        self.q_world[:, :, a:end] = _sorted_quantiles(np.sort(w, axis=-1)).transpose(1, 0, 2)
        self.mean_world[:, a:end] = w.mean(axis=-1)
        reg = self.regional[:, :n]
        hr = reg[0]
        total = hr.sum(axis=1, keepdims=True)
        np.multiply(hr, np.divide(100.0, total, out=np.zeros_like(total), where=total > 0),
                    out=reg[1])  # share of the world [%]
        np.multiply(reg[2], self.emission_factor[a:end, :, None], out=reg[3])
        self.q_regional[:, :, a:end] = _sorted_quantiles(np.sort(reg, axis=-1)).transpose(
            1, 0, 2, 3)
        self.mean_regional[:, a:end] = reg.mean(axis=-1)
        self.done = end

    def world_so_far(self) -> dict[str, np.ndarray]:
        """Per world metric, its quantiles (5 × days reduced so far)."""
        return {m: self.q_world[i, :, : self.done] for i, m in enumerate(WORLD_METRICS)}


class _Simulation:
    """Mutable state of a run. Arrays are regions × classes × paths, or regions × paths, with
    the paths last: every daily operation then runs over contiguous rows of paths, and sums
    over classes or regions add whole rows (no BLAS call and no reduction along a short
    axis in the daily loop)."""

    def __init__(self, inp: Inputs, paths: int, rng: np.random.Generator,
                 rng_price: np.random.Generator):
        sc = inp.scenario
        self.inp, self.sc, self.p = inp, sc, paths
        r, c = len(inp.regions), len(inp.classes.names)
        self.r, self.c = r, c
        self.eff = inp.classes.efficiency_j_th  # (classes)
        mix = inp.classes.initial_share
        miners = sc.miners
        # Installed = running at as_of (economics in spring 2021 kept nearly every machine on).
        # Each path draws its starting hashrate from the estimate's exact interval (the true
        # rate given the observed epoch is (n−1)/Gamma(n) × estimate, see hashshift.history) and
        # its regional shares from a Dirichlet around the mining map (CCAF's map is a sample).
        n = inp.hashrate_intervals
        h0 = np.full(paths, inp.hashrate_ehs)
        if n and sc.initial.hashrate_uncertainty:
            h0 = inp.hashrate_ehs * rng.gamma(n, 1.0, size=paths) / (n - 1)
        conc = sc.initial.share_concentration
        if inp.share_samples is not None:  # the nowcast's own uncertainty: one draw per path
            shares = inp.share_samples[rng.integers(0, inp.share_samples.shape[0], paths)]
        elif conc > 0:
            shares = rng.dirichlet(np.maximum(inp.shares * conc, 1e-3), size=paths)
        else:
            shares = np.broadcast_to(inp.shares, (paths, r))
        base = h0 / miners.uptime
        f32 = np.float32
        self.M = (shares.T[:, None, :] * mix[None, :, None] * base[None, None, :]).astype(f32)
        self.eff_f32 = self.eff.astype(f32)
        self._used = _by_region(self.M, self.eff_f32) * f32(miners.pue)  # MW in use
        self.S = np.ones((r, c, paths), dtype=f32)
        self._hi = np.empty((r, c, paths), dtype=f32)  # scratch of the daily decision
        self._lo = np.empty((r, c, paths), dtype=f32)
        self.queue = np.zeros((r, c, paths), dtype=f32)
        self._queue_total = np.zeros(paths)
        self.built_mw = np.zeros((r, paths), dtype=f32)  # capacity built for queued machines
        self._queued = False
        median = sc.migration.delay_median_days * np.exp(
            sc.migration.delay_uncertainty * rng.standard_normal(paths))
        self.pipe = DelayPipeline(paths, r, c, median, sc.migration.delay_sigma)
        sd = sc.supply.uncertainty
        self.supply_scale = np.exp(sd * rng.standard_normal(paths) - 0.5 * sd * sd)
        # Priors added later draw from their own streams, so the draws above stay as they were.
        rng_build = np.random.default_rng(
            np.random.SeedSequence(sc.scenario.seed, spawn_key=(PRIOR_STREAM, 0)))
        self.build_days = sc.migration.build_days * np.exp(
            sc.migration.build_days_uncertainty * rng_build.standard_normal(paths))
        self._build_rate = (7.0 / self.build_days).astype(f32)  # a week's share, per path
        self.tl: Timeline = build_timeline(sc, inp.regions, inp.specs,
                                           inp.start, inp.horizon, paths, sc.scenario.seed)
        # the regions a ban covers, and the share of their machines stopped so far
        self._banned = np.flatnonzero(np.any([b.mask > 0 for b in self.tl.bans], axis=0)) \
            if self.tl.bans else np.empty(0, dtype=np.intp)
        self.prev_displaced = np.zeros((self._banned.size, paths))
        self._rng_price = rng_price
        self._log_price = np.zeros(paths)  # GBM: log of price / its base, per path
        self._price_day = -1
        lag = sc.supply.lag_days
        self._hashprice_ring = np.zeros((lag, paths), dtype=f32) if lag else None
        self.ps = min(paths, REGIONAL_PATHS)
        self.exited = np.zeros(paths)
        self._run_now = np.zeros((r, paths), dtype=f32)  # running EH/s (regions × paths)
        self._power = np.zeros((r, paths), dtype=f32)  # GW

    def _price(self, t: int) -> np.ndarray:
        """Bitcoin price [USD/BTC] of each path on day ``t``: the base path (historical or
        fixed, times price shocks), or a geometric Brownian motion from it, drawn day by day
        (the same draws, in the same order, as a whole days × paths array)."""
        base = float(self.inp.btc_usd[t] * self.tl.btc_mult[t])
        cfg = self.sc.price
        if cfg.kind != "gbm":
            return np.full(self.p, base)
        while self._price_day < t:
            self._price_day += 1
            z = self._rng_price.standard_normal(self.p)
            if self._price_day > 0:  # day 0 is the start: its draw is not used
                mu, sig = cfg.drift_pct_yr / 100.0, cfg.volatility_pct_yr / 100.0
                dt = 1.0 / 365.25
                self._log_price += (mu - 0.5 * sig**2) * dt + sig * math.sqrt(dt) * z
        return base * np.exp(self._log_price)

    # -- one day --------------------------------------------------------------------------
    def step(self, t: int, difficulty: np.ndarray, height: np.ndarray) -> np.ndarray:
        inp, sc, tl = self.inp, self.sc, self.tl
        rev_th_day = self._revenue(t, difficulty, height)  # (paths) USD per (TH/s) per day
        tariff = inp.price_usd_kwh * tl.price_mult[t]  # (regions)
        open_mask = ~tl.closed[t]
        self._cap_now = self._capacity(t).astype(np.float32)
        if tl.bans and tl.ramping(t):
            self._displace(t, rev_th_day, tariff, open_mask)
        if t % 7 == 0:  # machines arrive, are delivered and are installed week by week
            self._arrivals_and_supply(t, rev_th_day, tariff, open_mask)
        self._decide_running(t, rev_th_day, tariff)
        ms = np.multiply(self.M, self.S, out=self._hi)  # running EH/s before curtailment
        f32 = np.float32
        self._run_now = _by_region(ms)  # EH/s (regions × paths, float32)
        self._run_now *= f32(sc.miners.uptime)
        self._power = _by_region(ms, self.eff_f32)
        self._power *= f32(sc.miners.pue / 1000.0)  # GW
        if tl.curtailed[t].any():
            keep = (1.0 - tl.curtailed[t]).astype(f32)[:, None]
            self._run_now *= keep
            self._power *= keep
        self._rev_th_day = rev_th_day
        return np.maximum(self._run_now.sum(axis=0, dtype=float), 1e-6)

    def _displace(self, t: int, rev: np.ndarray, tariff: np.ndarray, open_mask: np.ndarray
                  ) -> None:
        d = self.tl.displaced_share(t, self.p, self._banned)  # (banned regions × paths)
        newly = np.clip((d - self.prev_displaced) / np.maximum(1.0 - self.prev_displaced, 1e-12),
                        0.0, 1.0)
        self.prev_displaced = np.maximum(d, self.prev_displaced)
        rows = np.flatnonzero((newly > 0).any(axis=1))
        hit = self._banned[rows]  # regions a ban stops more of today
        if hit.size == 0:
            return
        f32 = np.float32
        installed = self.M[hit]
        moved = installed * newly[rows][:, None, :].astype(f32)  # (hit regions × classes × paths)
        self.M[hit] = installed - moved
        self._used[hit] -= _by_region(moved, self.eff_f32) * f32(self.sc.miners.pue)
        mig = self.sc.migration
        # Relocate only machines whose margin at a typical open destination repays shipping.
        if open_mask.any():
            dest_tariff = float(np.median(tariff[open_mask]))
            margin = rev[None, :] - self.eff[:, None] * KWH_PER_THS_DAY_PER_J_TH * dest_tariff
            keep = (margin * mig.exit_payback_days >= mig.shipping_usd_th).astype(f32)
        else:
            keep = np.zeros((self.c, self.p), dtype=f32)
        relocating = moved * keep[None, :, :]
        self.exited += moved.sum(axis=(0, 1), dtype=float) - relocating.sum(axis=(0, 1),
                                                                            dtype=float)
        moving = relocating.sum(axis=(1, 2)) > 0
        if not moving.any():
            return
        if not moving.all():
            hit, relocating = hit[moving], relocating[moving]
        # The logit over destinations of each source (see .migration), factored: the share
        # from source s to region r is E[r] · D[s, r] / Σ_r' E[r'] · D[s, r'], with
        # E = exp(utility − its largest value over open regions) (regions × paths, one exp
        # for all sources) and D = exp(β_distance · distance − its largest value) over the
        # regions open to s (sources × regions, no paths), so that the flows are
        # E · Σ_s D[s] · relocating[s] / denominator[s] without a sources × regions × paths array.
        u = np.where(open_mask[:, None], self._utility(tariff, self._free_mw()), -np.inf)
        E = np.exp(u - u.max(axis=0))  # 0 where closed (there is an open region here)
        allowed = open_mask[None, :] & (np.arange(self.r)[None, :] != hit[:, None])
        dist = np.where(allowed, (mig.beta_distance / 1000.0) * self.inp.distance_km[hit],
                        -np.inf)
        top = dist.max(axis=1, keepdims=True)
        D = np.exp(dist - np.where(np.isfinite(top), top, 0.0)).astype(f32)  # sources × regions
        den = np.einsum("sr,rp->sp", D, E)  # sources × paths
        reached = den > 1e-30  # a path with no destination within float32's range keeps none
        share = np.divide(1.0, den, out=np.zeros_like(den), where=reached).astype(f32)
        weighted = relocating * share[:, None, :]  # sources × classes × paths
        # regions × classes × paths (closed regions get nothing: E and D are 0 there)
        flows = np.einsum("sr,scp->rcp", D, weighted, out=self._lo)
        flows *= E[:, None, :]
        self.pipe.depart(t, flows, np.einsum("scp,sp->p", relocating, reached.astype(f32),
                                             dtype=float))

    def _utility(self, tariff: np.ndarray, free_mw: np.ndarray) -> np.ndarray:
        """Logit utility (regions × paths, float32) of each destination without the distance
        term: tariff, policy risk, presence (its share [%] of the running hashrate) and
        ln(free capacity [MW]) (see :mod:`.migration`)."""
        mig = self.sc.migration
        f32 = np.float32
        tot = self._run_now.sum(axis=0)
        if np.any(tot > 0):
            presence = (self._run_now * (100.0 / np.maximum(tot, 1e-12))).astype(f32)
        else:
            presence = np.broadcast_to((self.inp.shares * 100.0).astype(f32)[:, None],
                                       (self.r, self.p))
        u = np.log1p(presence)
        u *= f32(mig.beta_presence)
        u += (mig.beta_price * tariff + mig.beta_risk * self.inp.risk).astype(f32)[:, None]
        u += np.log(np.maximum(free_mw, 1.0).astype(f32))
        return u

    def _capacity(self, t: int) -> np.ndarray:
        months = t / 30.4375
        return (self.inp.capacity_mw + self.inp.growth_mw_month * months) \
            * self.tl.capacity_mult[t]

    def _free_mw(self) -> np.ndarray:
        free = self._cap_now[:, None] + self.built_mw
        free -= self._used
        return np.maximum(free, np.float32(0.0), out=free)

    def _arrivals_and_supply(self, t: int, rev: np.ndarray, tariff: np.ndarray,
                             open_mask: np.ndarray) -> None:
        arrived = self.pipe.arrive(t, out=self._hi)
        if arrived is not None:
            self.queue += arrived
            self._queued = True
        day = self.inp.start + timedelta(days=t)
        released = self.inp.classes.released_by(day)
        sup = self.sc.supply
        lag = sup.lag_days
        if self._hashprice_ring is None:  # no lag: today's hashprice
            hp_then = rev * 1000.0
        elif t >= lag:
            hp_then = self._hashprice_ring[t % lag].astype(float)
        else:
            hp_then = np.full(self.p, self.inp.hashprice_before[t])
        response = (np.maximum(hp_then, 0.0) / self.inp.hashprice_ref) ** sup.elasticity
        per_week = self.inp.deliveries_ehs_month / 30.4375 * 7.0 * self.supply_scale * response
        free = self._free_mw()
        where_open = open_mask[:, None]
        choice: list[np.ndarray] = []  # the logit shares of open destinations, when needed

        def shares() -> np.ndarray:
            if not choice:
                choice.append(logit_shares(self._utility(tariff, free), where_open, axis=0))
            return choice[0]

        if self.inp.deliveries_ehs_month > 0 and open_mask.any():
            mix = _supply_mix(self.sc, self.inp.classes, released)
            placed = per_week.astype(np.float32)[None, :] * shares()  # EH/s
            for k in np.flatnonzero(mix).tolist():
                self.queue[:, k] += placed * np.float32(mix[k])
            self._queued = True
        if not self._queued:
            return
        closed = ~open_mask
        if closed.any() and open_mask.any():
            stuck = self.queue[closed].sum(axis=0)  # (classes × paths)
            if stuck.any():
                # machines waiting for a region that has since announced a ban go elsewhere
                self.queue[closed] = 0.0
                self.queue += np.multiply(shares()[:, None, :], stuck[None, :, :],
                                          out=self._lo)
        # Admit queued machines as far as capacity allows (MW = EH/s × J/TH × PUE).
        f32 = np.float32
        need = _by_region(self.queue, self.eff_f32)  # MW (regions × paths)
        need *= f32(self.sc.miners.pue)
        frac = np.divide(free, need, out=np.ones_like(need), where=need > 0)
        np.minimum(frac, f32(1.0), out=frac)  # free and need are never negative
        frac *= open_mask[:, None]
        if frac.min() >= 1.0:  # room for everything everywhere: all of it is installed
            self.M += self.queue
            self.queue.fill(0.0)
        else:
            admitted = np.multiply(self.queue, frac[:, None, :], out=self._lo)
            self.M += admitted
            self.queue -= admitted
        self._queue_total = self.queue.sum(axis=(0, 1), dtype=float)
        admitted_mw = need * frac
        self._used += admitted_mw
        # Hosts build for machines that wait: a new site takes `build_days` to energise, so the
        # queue's power is added at 1/build_days per day (not where a ban was announced).
        need -= admitted_mw  # waiting
        need *= open_mask[:, None]
        need *= self._build_rate  # each path's 7 / build_days (paths, float32)
        self.built_mw += need

    def _decide_running(self, t: int, rev: np.ndarray, tariff: np.ndarray) -> None:
        """Share of each class running in each region, with hysteresis and a start-up lag.

        Site tariffs within a region are log-logistic around the region's tariff (scale
        ``site_price_sigma``·√3/π, so their log has that standard deviation): the share of sites
        where a class breaks even is ``1 / (1 + (p · k / rev)**(1/s))`` with ``k`` the class's
        kWh per TH·day. The running share moves only when it leaves the band between the shares
        at break-even tariffs ``1 ± hysteresis`` (a play operator), and rises by at most
        ``1/startup_lag_days`` per day.
        """
        m = self.sc.miners
        scale = m.site_price_sigma * math.sqrt(3.0) / math.pi
        band = math.log1p(m.hysteresis_pct / 100.0)
        f32 = np.float32
        S, hi, lo = self.S, self._hi, self._lo
        a, b = self._odds(t, rev, tariff)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            # the shares at the break-even tariffs (1 ± hysteresis): 1 / (1 + odds · e^∓band/s)
            if a is None:
                np.multiply(b, f32(math.exp(-band / scale)), out=hi)
            else:
                np.multiply((b * math.exp(-band / scale)).astype(f32)[:, :, None], a, out=hi)
            hi += f32(1.0)
            np.reciprocal(hi, out=hi)
            if m.startup_lag_days > 0:
                np.add(S, f32(1.0 / m.startup_lag_days), out=lo)
                np.minimum(hi, lo, out=hi)
            if a is None:
                np.multiply(b, f32(math.exp(band / scale)), out=lo)
            else:
                np.multiply((b * math.exp(band / scale)).astype(f32)[:, :, None], a, out=lo)
            lo += f32(1.0)
            np.reciprocal(lo, out=lo)
        np.maximum(S, lo, out=S)
        np.minimum(S, hi, out=S)

    def _odds(self, t: int, rev: np.ndarray, tariff: np.ndarray
              ) -> tuple[np.ndarray | None, np.ndarray]:
        """``(p · k / rev) ** (1/s)``, the odds of a site not breaking even (the running share at
        the break-even tariff itself is ``1 / (1 + odds)``), as factors ``(a, b)``: ``a``
        (paths, float32) times ``b`` (regions × classes, float64); with a levy, ``(None,
        odds)`` with the odds themselves (regions × classes × paths, float32)."""
        m = self.sc.miners
        tl = self.tl
        scale = m.site_price_sigma * math.sqrt(3.0) / math.pi
        kwh = self.eff * KWH_PER_THS_DAY_PER_J_TH  # (classes)
        tax_th, tax_kwh = tl.tax_usd_th_day[t], tl.tax_usd_kwh[t]
        with np.errstate(over="ignore", divide="ignore"):
            if tax_th.any() or tax_kwh.any():
                net = np.maximum(rev[None, :] - tax_th[:, None], 0.0)  # (regions × paths)
                cost = (tariff + tax_kwh)[:, None] * kwh[None, :]  # (regions × classes)
                return None, ((cost[:, :, None] / net[:, None, :]) ** (1.0 / scale)).astype(
                    np.float32)
            a = (rev ** (-1.0 / scale)).astype(np.float32)
            return a, (tariff[:, None] * kwh[None, :]) ** (1.0 / scale)

    def calibrate(self, difficulty: np.ndarray, height: np.ndarray) -> None:
        """Make the start consistent with the economics of day 0: the observed hashrate is what
        runs, so each class's installed fleet is its running hashrate divided by the share that
        breaks even on day 0 (at most 10× as much idle as running)."""
        rev = self._revenue(0, difficulty, height)
        tariff = self.inp.price_usd_kwh * self.tl.price_mult[0]
        a, b = self._odds(0, rev, tariff)
        s0 = 1.0 / (1.0 + (b if a is None else b.astype(np.float32)[:, :, None] * a))
        self.S = s0.astype(np.float32)
        self.M = (self.M / np.clip(s0, 0.1, 1.0)).astype(np.float32)
        self._used = _by_region(self.M, self.eff_f32) * np.float32(self.sc.miners.pue)

    def _revenue(self, t: int, difficulty: np.ndarray, height: np.ndarray) -> np.ndarray:
        """Revenue [USD per (TH/s) per day] of each path on day ``t``."""
        price_btc = self._price(t)
        reward = block_subsidy(height) / COIN + self.inp.fee_btc_block[t]
        self._price_btc = price_btc
        return SECONDS_PER_DAY * TH / (difficulty * HASHES_PER_DIFFICULTY) * reward * price_btc

    def record(self, t: int, h: np.ndarray, blocks: np.ndarray, height_before: np.ndarray,
               difficulty: np.ndarray, rec: _Recorder) -> None:
        reward = self.inp.fee_btc_block[t] * blocks + issued_btc(height_before, blocks)
        hashprice = self._rev_th_day * 1000.0
        if self._hashprice_ring is not None:
            self._hashprice_ring[t % len(self._hashprice_ring)] = hashprice
        power = self._power  # (regions × paths) GW
        emissions = np.einsum("r,rp->p", self.inp.intensity_g_kwh[t], power) * (
            TWH_YR_PER_GW * MT_PER_TWH_G_KWH)
        rec.day(t, (h, difficulty, self._price_btc, hashprice, reward * self._price_btc,
                    blocks, power.sum(axis=0), emissions, self.exited,
                    self.pipe.in_transit_total + self._queue_total), self._run_now, power)

    # -- results ----------------------------------------------------------------------------
    def result(self, epoch_stats: _EpochStats, rec: _Recorder) -> Result:
        inp = self.inp
        dates = pd.to_datetime([inp.start + timedelta(days=i) for i in range(inp.horizon)])
        daily = _daily_frame(dates, inp.regions, rec)
        epochs = epoch_stats.table(inp.start)
        config = {
            "scenario": self.sc.model_dump(mode="json"),
            "package": "hashshift", "version": __version__, "seed": self.sc.scenario.seed,
            "paths": self.p, "regions": inp.regions,
            "classes": dict(zip(inp.classes.names, inp.classes.efficiency_j_th.tolist(),
                                strict=True)),
            "initial": {"hashrate_ehs": inp.hashrate_ehs, "height": inp.height,
                        "bits": f"{inp.bits:08x}",
                        "shares_pct": dict(zip(inp.regions, (inp.shares * 100).round(3).tolist(),
                                               strict=True)),
                        "class_mix_pct": dict(zip(inp.classes.names,
                                                  (inp.classes.initial_share * 100).round(2)
                                                  .tolist(), strict=True))},
            "region_inputs": {c: {"price_usd_kwh": float(inp.price_usd_kwh[j]),
                                  "risk": float(inp.risk[j]),
                                  "capacity_mw": round(float(inp.capacity_mw[j]), 1),
                                  "growth_mw_month": round(float(inp.growth_mw_month[j]), 1)}
                              for j, c in enumerate(inp.regions)},
            "deliveries_ehs_month": inp.deliveries_ehs_month,
            "provenance": inp.notes,
            "as_of": str(inp.start),
            "vintages": inp.vintages,
            "created": datetime.now().astimezone().isoformat(timespec="seconds"),
        }
        paths = dict(rec.kept)
        if rec.kept:
            paths.update({f"epoch_{k}": v for k, v in epoch_stats.frame().items()})
        return Result(daily, epochs, config, paths)


def _by_region(x: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Sum over classes of ``x`` (regions × classes × paths), each class times its weight."""
    if weights is None:
        return np.einsum("rcp->rp", x)
    return np.einsum("rcp,c->rp", x, weights)


def _supply_mix(sc: Scenario, classes: ClassSet, released: np.ndarray) -> np.ndarray:
    if sc.supply.mix_pct:
        w = np.array([sc.supply.mix_pct.get(n, 0.0) for n in classes.names]) * released
        if w.sum() > 0:
            return w / w.sum()
    order = np.argsort(classes.efficiency_j_th)
    avail = [i for i in order if released[i]]
    w = np.zeros(len(classes.names))
    if avail:
        w[avail[0]] = 0.6
        if len(avail) > 1:
            w[avail[1]] = 0.4
        else:
            w[avail[0]] = 1.0
    return w


def _sorted_quantiles(s: np.ndarray) -> np.ndarray:
    """:data:`QUANTILES` of each row of ``s``, sorted along its last axis: numpy's default
    ("linear") quantiles, the same numbers as ``np.quantile(s, QUANTILES, axis=-1)``, read
    straight from the sorted rows (numpy would partition them again). Shape: quantiles first,
    then ``s.shape[:-1]``."""
    n = s.shape[-1]
    q = np.asarray(QUANTILES)
    virtual = (n - 1) * q
    below = np.floor(virtual)
    gamma = virtual - below  # numpy's interpolation weight
    lo = below.astype(np.intp)
    hi = lo + 1
    top = virtual >= n - 1
    lo[top] = hi[top] = n - 1
    gamma[top] = virtual[top] + 1.0  # as numpy: the weight from index −1 (it meets a == b)
    a = np.moveaxis(s[..., lo], -1, 0)
    b = np.moveaxis(s[..., hi], -1, 0)
    t = gamma.reshape((-1,) + (1,) * (s.ndim - 1))
    diff = b - a
    out = np.add(a, diff * t)
    np.subtract(b, diff * (1 - t), out=out, where=t >= 0.5, casting="unsafe")
    nan = np.isnan(s[..., -1]) if s.dtype.kind == "f" else None
    if nan is not None and nan.any():  # NaN sorts last; numpy's quantile is NaN then
        out[:, nan] = np.nan
    return out


def _path_quantiles(a: np.ndarray) -> np.ndarray:
    """``np.quantile(a, QUANTILES, axis=1)``, the same numbers, from one sort along a
    contiguous axis."""
    return _sorted_quantiles(np.sort(np.moveaxis(np.asarray(a), 1, -1), axis=-1))


def _daily_frame(dates: pd.DatetimeIndex, regions: list[str], rec: _Recorder) -> pd.DataFrame:
    """One row per day × region × metric: the world metrics (region ``WORLD``), then the
    regional ones (rows day by day, regions within a day)."""
    T, R = len(dates), len(regions)
    nw, nr = len(WORLD_METRICS), len(REGIONAL_METRICS)
    d = dates.to_numpy()
    cols: dict[str, Any] = {
        "date": np.concatenate([np.tile(d, nw), np.tile(np.repeat(d, R), nr)]),
        "region": np.concatenate([np.full(nw * T, "WORLD", dtype=object),
                                  np.tile(np.asarray(regions, dtype=object), nr * T)]),
        "metric": np.concatenate([np.repeat(np.asarray(WORLD_METRICS, dtype=object), T),
                                  np.repeat(np.asarray(REGIONAL_METRICS, dtype=object), T * R)]),
        "mean": np.concatenate([rec.mean_world.ravel(), rec.mean_regional.ravel()]),
    }
    for i, name in enumerate(Q_NAMES):
        cols[name] = np.concatenate([rec.q_world[:, i].ravel(), rec.q_regional[:, i].ravel()])
    df = pd.DataFrame(cols)
    df["region"] = df["region"].astype("str")
    df["metric"] = df["metric"].astype("str")
    return df


EPOCH_METRICS = ("change_pct", "duration_days", "hashrate_ehs", "start_days")


class _EpochStats(EpochLog):
    """The per-epoch table, built as the paths complete each epoch: an epoch's quantiles are
    taken once every path has completed it (or at the end of the run, over the paths that
    did), so only the few epochs under way are held, not every path's epochs (``keep``: also
    keep them, as an :class:`~hashshift.sim.network.EpochLog`)."""

    def __init__(self, paths: int, keep: bool = False):
        super().__init__()
        self.paths, self.keep = paths, keep
        self.completed = np.zeros(paths, dtype=np.int64)  # epochs completed by each path
        self.first_epoch: int | None = None
        self.pending: dict[int, list[np.ndarray]] = {}  # epoch -> values (metrics × paths)
        self.rows: list[dict[str, Any]] = []

    def add(self, path: np.ndarray, epoch: np.ndarray, first_time_s: np.ndarray,
            duration_s: np.ndarray, bits: np.ndarray, next_bits: np.ndarray) -> None:
        if self.keep:
            super().add(path, epoch, first_time_s, duration_s, bits, next_bits)
        d_old = bits_to_difficulty(bits)
        dur = np.asarray(duration_s, dtype=float)
        values = np.stack([
            (bits_to_difficulty(next_bits) / d_old - 1.0) * 100.0,  # retarget at the END
            dur / 86400.0,
            (MAINNET.interval - 2) * d_old * HASHES_PER_DIFFICULTY / dur / 1e18,
            np.asarray(first_time_s, dtype=float) / 86400.0,
        ])
        for e in np.unique(epoch).tolist():
            self.pending.setdefault(e, []).append(values[:, epoch == e])
        if self.first_epoch is None:  # every path starts in the same epoch
            self.first_epoch = int(epoch.min())
        self.completed[path] += 1
        done = self.first_epoch + int(self.completed.min())  # every path is past these
        for e in sorted(k for k in self.pending if k < done):
            self._close(e)

    def _close(self, epoch: int) -> None:
        v = np.concatenate(self.pending.pop(epoch), axis=1)  # metrics × paths
        q = np.quantile(v, QUANTILES, axis=1)  # quantiles × metrics
        for j, metric in enumerate(EPOCH_METRICS):
            self.rows.append({"epoch": epoch, "first_height": epoch * MAINNET.interval,
                              "paths": v.shape[1], "metric": metric, "mean": float(v[j].mean()),
                              **dict(zip(Q_NAMES, q[:, j].tolist(), strict=True))})

    def table(self, start: date) -> pd.DataFrame:
        """One row per epoch × metric (epochs in order), with the paths that completed it."""
        for e in sorted(self.pending):
            self._close(e)
        if not self.rows:
            return pd.DataFrame(columns=["epoch", "first_height", "paths", "metric", "mean",
                                         *Q_NAMES])
        out = pd.DataFrame(self.rows)
        out.attrs["start"] = str(start)
        out.attrs["total_paths"] = self.paths
        return out
