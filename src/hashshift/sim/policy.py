"""Events turned into day-by-region timelines: who may run, at what price, under which levy.

A region code in an event covers itself and its subdivisions: a ban on ``CN`` applies to
``CN-XJ``, ``CN-SC`` … as China's September 2021 nationwide ban did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from ..regions import covers as regions_covers
from .scenario import Ban, Curtailment, PriceShock, RegionSpec, Scenario, Seasonal, Tax

__all__ = ["BanSchedule", "Timeline", "build_timeline", "covers"]


def covers(event_region: str, code: str) -> bool:
    """Does an event on ``event_region`` apply to region ``code``? (the region tree,
    :func:`hashshift.regions.covers`; an event without a region applies everywhere)"""
    return not event_region or regions_covers(event_region, code)


@dataclass(frozen=True)
class BanSchedule:
    """One ban: the regions it covers (one flag per region), each path's enforcement (one
    value per path: displaced share, net of the underground share) and the ramp from 0 to 1
    over the days (one value per day)."""

    mask: np.ndarray
    displaced: np.ndarray
    ramp: np.ndarray
    announced_day: int


@dataclass
class Timeline:
    """Daily arrays over the horizon ``T`` and the regions ``R``."""

    days: list[date]
    price_mult: np.ndarray  # (days × regions) electricity price multiplier
    capacity_mult: np.ndarray  # (days × regions)
    curtailed: np.ndarray  # (days × regions) share of running machines switched off
    tax_usd_kwh: np.ndarray  # (days × regions)
    tax_usd_th_day: np.ndarray  # (days × regions)
    closed: np.ndarray  # (days × regions) bool: a ban was announced, no new machines may arrive
    btc_mult: np.ndarray  # (days)
    bans: list[BanSchedule] = field(default_factory=list)

    def ramping(self, t: int) -> bool:
        """Does any ban's displaced share change on day ``t``?"""
        return any(b.ramp[t] != (b.ramp[t - 1] if t else 0.0) for b in self.bans)

    def displaced_share(self, t: int, paths: int, regions: np.ndarray | None = None
                        ) -> np.ndarray:
        """Share (regions × paths) of each region's machines a ban has stopped by day ``t``
        (``regions``: only these, by index)."""
        idx = np.arange(self.price_mult.shape[1]) if regions is None else regions
        keep = np.ones((len(idx), paths))
        for b in self.bans:
            if b.ramp[t] > 0:
                keep[b.mask[idx] > 0] *= 1.0 - b.displaced * b.ramp[t]
        return 1.0 - keep


def _day_index(d: date, start: date) -> int:
    return (d - start).days


#: The spawn key of the policy's random streams (0-2: network, parameters, price).
POLICY_STREAM = 3


def build_timeline(
    scenario: Scenario, regions: list[str], specs: dict[str, RegionSpec], start: date,
    horizon: int, paths: int, seed: int,
) -> Timeline:
    """Turn the scenario's events and regional profiles into daily arrays. Each event draws
    its path-to-path uncertainty from its own random stream (``SeedSequence(seed,
    spawn_key=(POLICY_STREAM, event index))``), so that adding or removing an event leaves every
    other draw of the run unchanged: runs that differ only in policy are paired path by path
    (common random numbers)."""
    days = [start + timedelta(days=i) for i in range(horizon)]
    months = np.array([d.month for d in days])
    r = len(regions)
    price = np.ones((horizon, r))
    cap = np.ones((horizon, r))
    for j, code in enumerate(regions):
        spec = specs.get(code)
        if spec is not None and spec.seasonal_price is not None:
            price[:, j] = np.asarray(spec.seasonal_price)[months - 1]
    tl = Timeline(days, price, cap, np.zeros((horizon, r)), np.zeros((horizon, r)),
                  np.zeros((horizon, r)), np.zeros((horizon, r), dtype=bool), np.ones(horizon))
    t_idx = np.arange(horizon)
    for i, ev in enumerate(scenario.event):
        mask = np.array([covers(getattr(ev, "region", None) or "", c) for c in regions])
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(POLICY_STREAM, i)))
        if isinstance(ev, Ban):
            eff = _day_index(ev.effective, start)
            ramp = np.clip((t_idx - eff + 1) / max(ev.ramp_down_days, 1), 0.0, 1.0)
            enforce = np.clip(ev.enforcement + ev.enforcement_uncertainty
                              * rng.uniform(-1.0, 1.0, size=paths), 0.0, 1.0)
            under = np.clip(ev.underground + ev.underground_uncertainty
                            * rng.uniform(-1.0, 1.0, size=paths), 0.0, 1.0)
            tl.bans.append(BanSchedule(mask.astype(float), enforce * (1.0 - under),
                                       ramp, _day_index(ev.announced, start)))
            ann = max(_day_index(ev.announced, start), 0)
            if ann < horizon:
                tl.closed[ann:, mask] = True
        elif isinstance(ev, Curtailment):
            active = _window(days, ev.start, ev.end, ev.recurring == "yearly")
            tl.curtailed[np.ix_(active, mask)] = np.maximum(
                tl.curtailed[np.ix_(active, mask)], ev.share)
        elif isinstance(ev, Seasonal):
            sel = np.isin(months, ev.months)
            tl.price_mult[np.ix_(sel, mask)] *= ev.price_multiplier
            tl.capacity_mult[np.ix_(sel, mask)] *= ev.capacity_multiplier
        elif isinstance(ev, PriceShock):
            end = ev.end or days[-1]
            active = _window(days, ev.start, end, False)
            if ev.target == "btc":
                tl.btc_mult[active] *= ev.multiplier
            else:
                m = mask if ev.region else np.ones(r, dtype=bool)
                tl.price_mult[np.ix_(active, m)] *= ev.multiplier
        elif isinstance(ev, Tax):
            active = t_idx >= _day_index(ev.start, start)
            tl.tax_usd_kwh[np.ix_(active, mask)] += ev.usd_kwh
            tl.tax_usd_th_day[np.ix_(active, mask)] += ev.usd_th_day
    return tl


def _window(days: list[date], start: date, end: date, yearly: bool) -> np.ndarray:
    if not yearly:
        return np.array([start <= d <= end for d in days])
    # the same calendar window every year (a window may wrap over the new year)
    s, e = (start.month, start.day), (end.month, end.day)
    md = [(d.month, d.day) for d in days]
    started = np.array([d >= start for d in days])
    if s <= e:
        return started & np.array([s <= x <= e for x in md])
    return started & np.array([x >= s or x <= e for x in md])
