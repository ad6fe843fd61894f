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
from .network import advance_day, start_network
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
    intensity = np.empty((horizon, len(names)))
    for j, c in enumerate(names):
        if c in specs and specs[c].intensity_g_kwh is not None:
            intensity[:, j] = specs[c].intensity_g_kwh
        else:
            intensity[:, j] = _intensity_profile(grid, c, days)
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
) -> Result:
    """Run a scenario (``paths`` overrides the file's count, e.g. for quick previews).

    Raises :class:`EngineError` for a scenario the engine cannot run, including numbers so
    extreme that its arithmetic overflows."""
    try:
        return _run(scenario, inputs, paths, keep_paths, progress)
    except ArithmeticError as exc:  # OverflowError, ZeroDivisionError, FloatingPointError
        raise EngineError(f"the scenario's numbers are too extreme for the model "
                          f"({type(exc).__name__}: {exc}); check the values far from the "
                          "defaults") from exc


def _run(scenario: Scenario, inputs: Inputs | None, paths: int | None, keep_paths: bool,
         progress: Any) -> Result:
    inp = inputs if inputs is not None else resolve(scenario)
    meta = scenario.scenario
    p = paths if paths is not None else meta.paths
    if not 1 <= p <= LIMITS["paths"]:
        raise EngineError(f"paths = {p} is outside the allowed 1..{LIMITS['paths']}")
    ss = np.random.SeedSequence(meta.seed)
    rng_net, rng_par, rng_price = (np.random.default_rng(s) for s in ss.spawn(3))
    sim = _Simulation(inp, p, rng_par, rng_price)
    net = start_network(p, inp.height, inp.bits, inp.epoch_first_time_s, rng_net)
    sim.calibrate(net.difficulty, net.height)
    T = inp.horizon
    for t in range(T):
        h_world = sim.step(t, net.difficulty, net.height)
        _check_hashrate(h_world, t)
        height_before = net.height.copy()
        blocks = advance_day(net, t * 86400.0, h_world, rng_net)
        sim.record(t, h_world, blocks, height_before, net.difficulty)
        if progress is not None:
            progress(t + 1, T)
    return sim.result(net.log.frame(), keep_paths)


class _Simulation:
    """Mutable state of a run; arrays are (paths × regions × classes) unless noted."""

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
        self.M = (shares[:, :, None] * mix[None, None, :] * base[:, None, None]).astype(np.float32)
        self.eff_f32 = self.eff.astype(np.float32)
        # MW installed, paths × regions
        self._used = (self.M @ self.eff_f32).astype(float) * miners.pue
        self.S = np.ones((paths, r, c), dtype=np.float32)
        self.queue = np.zeros((paths, r, c))
        self.built_mw = np.zeros((paths, r))  # capacity built for queued machines
        self._queued = False
        self.prev_displaced = np.zeros((paths, r))
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
        self.tl: Timeline = build_timeline(sc, inp.regions, inp.specs,
                                           inp.start, inp.horizon, paths, sc.scenario.seed)
        self.btc = self._price_paths(rng_price)  # (days × paths) or (days × 1)
        T = inp.horizon
        ps = min(paths, REGIONAL_PATHS)
        self.ps = ps
        f32 = np.float32
        self.rec: dict[str, np.ndarray] = {
            k: np.zeros((T, paths), dtype=f32) for k in (
                "hashrate_ehs", "difficulty", "btc_usd", "hashprice_usd_ph_day", "revenue_usd",
                "blocks", "power_gw", "emissions_mt_yr", "exited_ehs", "in_transit_ehs")}
        self.rec_r = {k: np.zeros((T, ps, r), dtype=f32) for k in ("hashrate_ehs", "power_gw")}
        self.exited = np.zeros(paths)
        self._run_now = np.zeros((paths, r))

    def _price_paths(self, rng: np.random.Generator) -> np.ndarray:
        base = self.inp.btc_usd * self.tl.btc_mult
        cfg = self.sc.price
        if cfg.kind != "gbm":
            return base[:, None]
        T = self.inp.horizon
        mu, sig = cfg.drift_pct_yr / 100.0, cfg.volatility_pct_yr / 100.0
        dt = 1.0 / 365.25
        z = rng.standard_normal((T, self.p))
        steps = (mu - 0.5 * sig**2) * dt + sig * math.sqrt(dt) * z
        steps[0] = 0.0
        return base[:, None] * np.exp(np.cumsum(steps, axis=0))

    # -- one day --------------------------------------------------------------------------
    def step(self, t: int, difficulty: np.ndarray, height: np.ndarray) -> np.ndarray:
        inp, sc, tl = self.inp, self.sc, self.tl
        rev_th_day = self._revenue(t, difficulty, height)  # (paths) USD per (TH/s) per day
        tariff = inp.price_usd_kwh * tl.price_mult[t]  # (regions)
        open_mask = ~tl.closed[t]
        self._cap_now = self._capacity(t)
        self._displace(t, rev_th_day, tariff, open_mask)
        if t % 7 == 0:  # machines arrive, are delivered and are installed week by week
            self._arrivals_and_supply(t, rev_th_day, tariff, open_mask)
        self._decide_running(t, rev_th_day, tariff)
        keep = (1.0 - tl.curtailed[t])[None, :]
        ms = self.M * self.S  # (paths × regions × classes) running EH/s before curtailment
        self._run_now = ms.sum(axis=2) * keep * sc.miners.uptime
        self._power = (ms @ self.eff_f32) * keep * (sc.miners.pue / 1000.0)  # (paths × regions) GW
        self._rev_th_day = rev_th_day
        h = self._run_now.sum(axis=1)
        return np.maximum(h, 1e-6)

    def _displace(self, t: int, rev: np.ndarray, tariff: np.ndarray, open_mask: np.ndarray
                  ) -> None:
        if not self.tl.bans or not self.tl.ramping(t):
            return
        d = self.tl.displaced_share(t, self.p)  # (paths × regions)
        newly = np.clip((d - self.prev_displaced) / np.maximum(1.0 - self.prev_displaced, 1e-12),
                        0.0, 1.0)
        self.prev_displaced = np.maximum(d, self.prev_displaced)
        if not np.any(newly > 0):
            return
        moved = self.M * newly[:, :, None].astype(np.float32)  # (paths × regions × classes)
        self.M -= moved
        self._used -= (moved @ self.eff_f32) * self.sc.miners.pue
        mig = self.sc.migration
        # Relocate only machines whose margin at a typical open destination repays shipping.
        if open_mask.any():
            dest_tariff = float(np.median(tariff[open_mask]))
            margin = rev[:, None] - self.eff[None, :] * KWH_PER_THS_DAY_PER_J_TH * dest_tariff
            keep = (margin * mig.exit_payback_days >= mig.shipping_usd_th).astype(float)
        else:
            keep = np.zeros((self.p, self.c))
        relocating = moved * keep[:, None, :]
        self.exited += (moved - relocating).sum(axis=(1, 2))
        presence = self._presence()
        base = self._utility(tariff, presence, None) + np.log(np.maximum(self._free_mw(), 1.0))
        sources = np.flatnonzero(relocating.sum(axis=(0, 2)) > 0)
        if sources.size == 0:
            return
        beta_d = self.sc.migration.beta_distance
        # utilities (paths × sources × regions) for every source at once: the base plus each
        # source's distances
        u = base[:, None, :] + beta_d * self.inp.distance_km[sources][None, :, :] / 1000.0
        allowed = open_mask[None, :] & (np.arange(self.r)[None, :] != sources[:, None])
        sh = logit_shares(u, allowed[None, :, :])  # (paths × sources × regions)
        # paths × regions × classes
        flows = np.matmul(sh.transpose(0, 2, 1), relocating[:, sources, :])
        self.pipe.depart(t, flows)

    def _presence(self) -> np.ndarray:
        tot = self._run_now.sum(axis=1, keepdims=True)
        if not np.any(tot > 0):
            return np.broadcast_to(self.inp.shares[None, :] * 100.0, (self.p, self.r))
        return self._run_now / np.maximum(tot, 1e-12) * 100.0

    def _utility(self, tariff: np.ndarray, presence: np.ndarray, dist_km: np.ndarray | None
                 ) -> np.ndarray:
        """Logit utility (paths × regions) without the capacity term (see :mod:`.migration`)."""
        mig = self.sc.migration
        u = (mig.beta_price * tariff + mig.beta_risk * self.inp.risk)[None, :] \
            + mig.beta_presence * np.log1p(presence)
        if dist_km is not None:
            u = u + mig.beta_distance * dist_km[None, :] / 1000.0
        return u

    def _capacity(self, t: int) -> np.ndarray:
        months = t / 30.4375
        return (self.inp.capacity_mw + self.inp.growth_mw_month * months) \
            * self.tl.capacity_mult[t]

    def _free_mw(self) -> np.ndarray:
        return np.maximum(self._cap_now[None, :] + self.built_mw - self._used, 0.0)

    def _arrivals_and_supply(self, t: int, rev: np.ndarray, tariff: np.ndarray,
                             open_mask: np.ndarray) -> None:
        arrived = self.pipe.arrive(t)
        if arrived is not None:
            self.queue += arrived
        day = self.inp.start + timedelta(days=t)
        released = self.inp.classes.released_by(day)
        sup = self.sc.supply
        lag = sup.lag_days
        if t >= lag:
            hp_then = self.rec["hashprice_usd_ph_day"][t - lag].astype(float)
        else:
            hp_then = np.full(self.p, self.inp.hashprice_before[t])
        response = (np.maximum(hp_then, 0.0) / self.inp.hashprice_ref) ** sup.elasticity
        per_week = self.inp.deliveries_ehs_month / 30.4375 * 7.0 * self.supply_scale * response
        free = self._free_mw()
        if self.inp.deliveries_ehs_month > 0 and open_mask.any():
            mix = _supply_mix(self.sc, self.inp.classes, released)
            u = self._utility(tariff, self._presence(), None) + np.log(np.maximum(free, 1.0))
            sh = logit_shares(u, np.broadcast_to(open_mask, (self.p, self.r)))
            self.queue += (per_week[:, None] * sh)[:, :, None] * mix[None, None, :]
            self._queued = True
        if not self._queued:
            return
        closed = ~open_mask
        if closed.any() and open_mask.any() and self.queue[:, closed].any():
            # machines waiting for a region that has since announced a ban go elsewhere
            stuck = self.queue[:, closed, :].sum(axis=1)  # (paths × classes)
            self.queue[:, closed, :] = 0.0
            u = self._utility(tariff, self._presence(), None) + np.log(np.maximum(free, 1.0))
            sh = logit_shares(u, np.broadcast_to(open_mask, (self.p, self.r)))
            self.queue += sh[:, :, None] * stuck[:, None, :]
        # Admit queued machines as far as capacity allows (MW = EH/s × J/TH × PUE).
        pue = self.sc.miners.pue
        need = (self.queue @ self.eff) * pue
        frac = np.clip(np.divide(free, need, out=np.ones_like(need), where=need > 0), 0.0, 1.0)
        frac *= open_mask[None, :]
        admitted = self.queue * frac[:, :, None]
        self.M += admitted.astype(np.float32)
        self.queue -= admitted
        self._used += need * frac
        # Hosts build for machines that wait: a new site takes `build_days` to energise, so the
        # queue's power is added at 1/build_days per day (not where a ban was announced).
        waiting = need * (1.0 - frac)
        self.built_mw += waiting * (7.0 / self.build_days)[:, None] * open_mask[None, :]

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
        u = self._odds(t, rev, tariff)
        with np.errstate(over="ignore", divide="ignore"):
            S = self.S
            hi = np.multiply(u, f32(math.exp(-band / scale)))
            hi += f32(1.0)
            np.reciprocal(hi, out=hi)
            if m.startup_lag_days > 0:
                np.minimum(hi, S + f32(1.0 / m.startup_lag_days), out=hi)
            lo = np.multiply(u, f32(math.exp(band / scale)), out=u)
            lo += f32(1.0)
            np.reciprocal(lo, out=lo)
        np.maximum(S, lo, out=S)
        np.minimum(S, hi, out=S)

    def _odds(self, t: int, rev: np.ndarray, tariff: np.ndarray) -> np.ndarray:
        """``(p · k / rev) ** (1/s)`` (paths × regions × classes, float32): the running share at
        the break-even tariff itself is ``1 / (1 + odds)``."""
        m = self.sc.miners
        tl = self.tl
        scale = m.site_price_sigma * math.sqrt(3.0) / math.pi
        kwh = self.eff * KWH_PER_THS_DAY_PER_J_TH  # (classes)
        tax_th, tax_kwh = tl.tax_usd_th_day[t], tl.tax_usd_kwh[t]
        f32 = np.float32
        with np.errstate(over="ignore", divide="ignore"):
            if tax_th.any() or tax_kwh.any():
                net = np.maximum(rev[:, None] - tax_th[None, :], 0.0)  # (paths × regions)
                cost = (tariff + tax_kwh)[:, None] * kwh[None, :]  # (regions × classes)
                return ((cost[None, :, :] / net[:, :, None]) ** (1.0 / scale)).astype(f32)
            a = (rev ** (-1.0 / scale)).astype(f32)  # (paths)
            # regions × classes
            b = ((tariff[:, None] * kwh[None, :]) ** (1.0 / scale)).astype(f32)
            return a[:, None, None] * b[None, :, :]

    def calibrate(self, difficulty: np.ndarray, height: np.ndarray) -> None:
        """Make the start consistent with the economics of day 0: the observed hashrate is what
        runs, so each class's installed fleet is its running hashrate divided by the share that
        breaks even on day 0 (at most 10× as much idle as running)."""
        rev = self._revenue(0, difficulty, height)
        tariff = self.inp.price_usd_kwh * self.tl.price_mult[0]
        s0 = 1.0 / (1.0 + self._odds(0, rev, tariff))
        self.S = s0.astype(np.float32)
        self.M = (self.M / np.clip(s0, 0.1, 1.0)).astype(np.float32)
        self._used = (self.M @ self.eff_f32).astype(float) * self.sc.miners.pue

    def _revenue(self, t: int, difficulty: np.ndarray, height: np.ndarray) -> np.ndarray:
        """Revenue [USD per (TH/s) per day] of each path on day ``t``."""
        price_btc = self.btc[t] if self.btc.shape[1] > 1 else np.full(self.p, self.btc[t, 0])
        reward = block_subsidy(height) / COIN + self.inp.fee_btc_block[t]
        self._price_btc = price_btc
        return SECONDS_PER_DAY * TH / (difficulty * HASHES_PER_DIFFICULTY) * reward * price_btc

    def record(self, t: int, h: np.ndarray, blocks: np.ndarray, height_before: np.ndarray,
               difficulty: np.ndarray) -> None:
        rec = self.rec
        reward = self.inp.fee_btc_block[t] * blocks + issued_btc(height_before, blocks)
        rec["hashrate_ehs"][t] = h
        rec["difficulty"][t] = difficulty
        rec["btc_usd"][t] = self._price_btc
        rec["hashprice_usd_ph_day"][t] = self._rev_th_day * 1000.0
        rec["revenue_usd"][t] = reward * self._price_btc
        rec["blocks"][t] = blocks
        power = self._power  # (paths × regions) GW
        rec["power_gw"][t] = power.sum(axis=1)
        rec["emissions_mt_yr"][t] = (power * self.inp.intensity_g_kwh[t][None, :]).sum(
            axis=1) * TWH_YR_PER_GW * MT_PER_TWH_G_KWH
        rec["exited_ehs"][t] = self.exited
        rec["in_transit_ehs"][t] = self.pipe.in_transit_total + self.queue.sum(axis=(1, 2))
        ps = self.ps
        self.rec_r["hashrate_ehs"][t] = self._run_now[:ps]
        self.rec_r["power_gw"][t] = power[:ps]

    # -- results ----------------------------------------------------------------------------
    def result(self, log: dict[str, np.ndarray], keep_paths: bool) -> Result:
        inp = self.inp
        dates = pd.to_datetime([inp.start + timedelta(days=i) for i in range(inp.horizon)])
        frames = []
        for metric, arr in self.rec.items():
            frames.append(_quantile_frame(dates, "WORLD", metric, arr))
        hr = self.rec_r["hashrate_ehs"]
        world = hr.sum(axis=2, keepdims=True)
        share = np.divide(hr, world, out=np.zeros_like(hr), where=world > 0) * 100.0
        em = (self.rec_r["power_gw"] * inp.intensity_g_kwh[:, None, :].astype(np.float32)
              * (TWH_YR_PER_GW * MT_PER_TWH_G_KWH))
        for metric, arr in (("hashrate_ehs", hr), ("share_pct", share),
                            ("power_gw", self.rec_r["power_gw"]), ("emissions_mt_yr", em)):
            frames.append(_regional_frame(dates, inp.regions, metric, arr))
        daily = pd.concat(frames, ignore_index=True)
        epochs = _epoch_table(log, inp.start, self.p)
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
        paths = {k: v for k, v in self.rec.items()} if keep_paths else {}
        if keep_paths:
            paths.update({f"epoch_{k}": v for k, v in log.items()})
        return Result(daily, epochs, config, paths)


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


def _path_quantiles(a: np.ndarray) -> np.ndarray:
    """``np.quantile(a, QUANTILES, axis=1)``, the same numbers, about twice as fast on the
    engine's [T, P, ...] arrays: numpy selects each quantile's neighbours with a partition, which
    is slow along a strided axis of a large array and quick on a sorted one."""
    return np.quantile(np.sort(a, axis=1), QUANTILES, axis=1)


def _quantile_frame(dates: pd.DatetimeIndex, region: str, metric: str, arr: np.ndarray
                    ) -> pd.DataFrame:
    a = np.asarray(arr)
    q = _path_quantiles(a)
    df = pd.DataFrame({"date": dates, "region": region, "metric": metric,
                       "mean": a.mean(axis=1)})
    for name, row in zip(Q_NAMES, q, strict=True):
        df[name] = row
    return df


def _regional_frame(dates: pd.DatetimeIndex, regions: list[str], metric: str, arr: np.ndarray
                    ) -> pd.DataFrame:
    """Quantiles over paths of a (days × paths × regions) array, one row per day × region."""
    a = np.asarray(arr)
    q = _path_quantiles(a)  # (quantiles × days × regions)
    t, r = a.shape[0], a.shape[2]
    df = pd.DataFrame({"date": np.repeat(dates.to_numpy(), r), "region": np.tile(regions, t),
                       "metric": metric, "mean": a.mean(axis=1).ravel()})
    for name, qa in zip(Q_NAMES, q, strict=True):
        df[name] = qa.ravel()
    return df


def _epoch_table(log: dict[str, np.ndarray], start: date, paths: int) -> pd.DataFrame:
    from .network import bits_to_difficulty

    if log["epoch"].size == 0:
        return pd.DataFrame(columns=["epoch", "first_height", "paths", "metric", "mean",
                                     *Q_NAMES])
    d_old = bits_to_difficulty(log["bits"])
    d_new = bits_to_difficulty(log["next_bits"])
    dur = log["duration_s"].astype(float)
    df = pd.DataFrame({
        "epoch": log["epoch"],
        "change_pct": (d_new / d_old - 1.0) * 100.0,  # retarget at the END of this epoch
        "duration_days": dur / 86400.0,
        "hashrate_ehs": (MAINNET.interval - 2) * d_old * HASHES_PER_DIFFICULTY / dur / 1e18,
        "start_days": log["first_time_s"] / 86400.0,
    })
    rows = []
    for ep in np.unique(df["epoch"].to_numpy()).tolist():
        g = df[df["epoch"] == ep]
        for metric in ("change_pct", "duration_days", "hashrate_ehs", "start_days"):
            v = g[metric].to_numpy()
            q = np.quantile(v, QUANTILES)
            rows.append({"epoch": int(ep), "first_height": int(ep) * MAINNET.interval,
                         "paths": len(v), "metric": metric, "mean": float(v.mean()),
                         **dict(zip(Q_NAMES, q.tolist(), strict=True))})
    out = pd.DataFrame(rows)
    out.attrs["start"] = str(start)
    out.attrs["total_paths"] = paths
    return out
