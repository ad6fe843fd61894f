"""Observed power and emissions by month: the network's and each country's, with bounds.

For a month *m*, country *c* and bound *b* ∈ {lower, guess, upper}
(:data:`hashshift.energy.BOUNDS`):

    power_b [GW]          = share_c,b [%] / 100 × P_b(m)
    emissions_b [MtCO2e/yr] = power_b × 8.766 × I_c(m) / 1000

- P_b(m): CCAF's CBECI power bound of the month at ``price_usd_kwh`` (:func:`hashshift.cbeci.
  run_cbeci` on the bundled monthly market table and ASIC catalogue: lower = the best profitable
  machine × PUE 1.01, guess = their equal-weight mean × PUE 1.10, upper = the worst × PUE 1.20;
  CBECI methodology, https://ccaf.io/cbeci/index/methodology);
- share_c: CCAF's mining-map share of the month (CCAF Bitcoin Mining Map, observed months,
  :func:`hashshift.geography.shares_over_time`), the same value for every bound; after CCAF's
  last month, the nowcast (:func:`hashshift.atlas.known_nowcast`): lower = its 5th percentile,
  guess = its mean, upper = its 95th percentile over the particles;
- I_c(m): the country's grid intensity [gCO2e/kWh] for the month's calendar month (seasonal rows
  where the bundled grid table has them, :func:`hashshift.energy.intensity_lookup`). It is a
  point value: the grid table carries no range, so the bounds are CBECI's power bounds (and, in
  nowcast months, the share interval), never an intensity range.

The world is the sum over the countries in observed months. In nowcast months its guess is the
sum of the countries' guesses (the mean of the particles' sums) and its lower and upper bounds
are P_lower and P_upper times the 5th and 95th percentiles over particles of the
share-weighted intensity Σ_c share_c × I_c (so the world's bounds are narrower than the sum of
the countries' bounds, which cannot all be at their extremes at once).
"""

from __future__ import annotations

import functools
import re
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from . import atlas, geography
from .cbeci import run_cbeci
from .energy import (
    BOUNDS,
    PUE,
    emissions_by_region,
    emissions_mt_yr,
    energy_twh_yr,
    power_by_region,
)
from .hardware import catalogue
from .regions import region_name
from .sources.bundled_observed import read_grid_intensity, read_market_monthly
from .sources.pit import as_of_day

__all__ = ["BOUNDS_NOTE", "WORLD", "EmissionsMonthError", "country_emissions",
           "emission_months", "fallback_note", "monthly_emissions"]

WORLD = "WORLD"
#: What the bounds are, in one sentence for every interface.
BOUNDS_NOTE = (
    "lower / upper: CBECI's power bounds (best / worst profitable machine × PUE 1.01 / 1.20) "
    "at the electricity price; best guess: CBECI's equal-weight mean × PUE 1.10. The grid "
    "intensity is one value per country and calendar month (no range). Nowcast months also "
    "take the nowcast's 90 % share interval (5th / 95th percentile)."
)
_SHARE_Q = {"lower": 0.05, "upper": 0.95}
_MONTH = re.compile(r"\d{4}-\d{2}")


def _name(code: str) -> str:
    return "World" if code == WORLD else region_name(code)


class EmissionsMonthError(ValueError):
    """A month for which there are no emissions figures (as known on a day); the message names
    the months there are."""


def _monthly_cbeci(day: date | None, price_usd_kwh: float) -> pd.DataFrame:
    """CBECI's monthly power bounds [GW] indexed by month, from the market months and machines
    public on ``day``."""
    cb = run_cbeci(read_market_monthly(as_of=day), catalogue(as_of=day),
                   price_usd_kwh=price_usd_kwh)
    cb = cb.dropna(subset=[f"power_{b}_gw" for b in BOUNDS])
    return cb.set_index("date")


def _observed_samples(day: date | None) -> dict[pd.Timestamp, tuple[list[str], np.ndarray]]:
    """Month -> (countries, 1 × countries shares as fractions) of CCAF's published months."""
    s = geography.shares_over_time("country", as_of=day)
    out = {}
    for m, g in s.groupby("date", sort=True):
        out[pd.Timestamp(str(m))] = (g["region_code"].astype(str).tolist(),
                                g["share_pct"].to_numpy(dtype=float)[None, :] / 100.0)
    return out


def _nowcast_samples(day: date | None, seed: int, after: list[pd.Timestamp]
                     ) -> dict[pd.Timestamp, tuple[list[str], np.ndarray]]:
    """Month -> (countries, particles × countries) of the nowcast's months not in ``after``."""
    nc = atlas.known_nowcast(day, seed=seed)
    return {pd.Timestamp(m): nc.country_samples(m) for m in sorted(nc.samples)
            if pd.Timestamp(m) not in after}


def _shares(months: dict[pd.Timestamp, tuple[list[str], np.ndarray]],
            kinds: dict[pd.Timestamp, str]) -> pd.DataFrame:
    """One row per month × country: the share bounds [%] (observed: the share three times)."""
    parts = []
    for m, (codes, x) in months.items():
        share = {"share_pct": x.mean(axis=0) * 100.0}
        for b, q in _SHARE_Q.items():
            share[f"share_{b}_pct"] = (np.quantile(x, q, axis=0) * 100.0 if len(x) > 1
                                       else share["share_pct"])
        parts.append(pd.DataFrame({"month": m, "kind": kinds[m], "region_code": codes,
                                   **share}))
    return pd.concat(parts, ignore_index=True)


def _countries(shares: pd.DataFrame, cb: pd.DataFrame, grid: pd.DataFrame) -> pd.DataFrame:
    """Power and emissions bounds of every month × country: share × CBECI power bound ×
    intensity, through :func:`power_by_region` and :func:`emissions_by_region`."""
    out = shares.copy()
    share_col = {"lower": "share_lower_pct", "guess": "share_pct", "upper": "share_upper_pct"}
    h_ehs = cb["hashrate_ehs"].reindex(out["month"]).to_numpy(dtype=float)
    stacked = []
    for b in BOUNDS:
        # share × CBECI power = power_by_region(share × CBECI's hashrate, bound's J/TH, PUE)
        frame = pd.DataFrame({"date": out["month"], "region_code": out["region_code"],
                              "hashrate_ehs": out[share_col[b]].to_numpy() / 100.0 * h_ehs})
        eff = pd.DataFrame({"date": cb.index, "efficiency_j_th": cb[f"{b}_j_th"].to_numpy()})
        stacked.append(power_by_region(frame, eff, pue=PUE[b]))
    e = emissions_by_region(pd.concat(stacked, ignore_index=True), grid)
    n = len(out)
    out["intensity_g_kwh"] = e["intensity_g_kwh"].to_numpy()[:n]
    out["intensity_source"] = e["intensity_source"].to_numpy()[:n]
    out["intensity_region"] = e["intensity_region"].to_numpy()[:n]
    for i, b in enumerate(BOUNDS):
        out[f"power_{b}_gw"] = e["power_gw"].to_numpy()[i * n:(i + 1) * n]
        out[f"emissions_{b}_mt_yr"] = e["emissions_mt_yr"].to_numpy()[i * n:(i + 1) * n]
    return out


def _world(month: pd.Timestamp, kind: str, rows: pd.DataFrame, x: np.ndarray,
           cb: pd.DataFrame) -> dict[str, Any]:
    """The world's row of a month (module docstring): the sum over the countries when observed,
    quantiles over the nowcast's particles otherwise."""
    world: dict[str, Any] = {"month": month, "kind": kind, "region_code": WORLD,
                             "share_lower_pct": 100.0, "share_pct": 100.0,
                             "share_upper_pct": 100.0}
    if len(x) == 1:
        for b in BOUNDS:
            for col in (f"power_{b}_gw", f"emissions_{b}_mt_yr"):
                world[col] = float(rows[col].sum())
    else:
        per = {"power": x.sum(axis=1),
               "emissions": x @ rows["intensity_g_kwh"].to_numpy(dtype=float)}
        for b in BOUNDS:
            p_b = float(cb[f"power_{b}_gw"].to_numpy(dtype=float)[cb.index.get_loc(month)])
            pick = {k: (float(v.mean()) if b == "guess" else float(np.quantile(v, _SHARE_Q[b])))
                    for k, v in per.items()}
            world[f"power_{b}_gw"] = p_b * pick["power"]
            world[f"emissions_{b}_mt_yr"] = emissions_mt_yr(energy_twh_yr(p_b),
                                                            pick["emissions"])
    pw = world["power_guess_gw"]
    world["intensity_g_kwh"] = (world["emissions_guess_mt_yr"] / energy_twh_yr(pw) * 1000.0
                                if pw > 0 else np.nan)
    world["intensity_source"] = "share-weighted mean of the countries' intensities"
    world["intensity_region"] = WORLD
    return world


def fallback_note(frame: pd.DataFrame) -> str:
    """One sentence on the grid-intensity fallbacks in a :func:`monthly_emissions` frame: which
    countries had no grid row of their own (as known then) and whose row they took instead."""
    rows = frame[(frame["region_code"] != WORLD)]
    other = rows[rows["region_code"].str.endswith("OTHER")]
    fell = rows[(rows["intensity_region"] != rows["region_code"])
                & ~rows["region_code"].str.endswith("OTHER")]
    parts = []
    if not other.empty:
        parts.append("'Other countries' take the OTHER row (world average, "
                     + _values(other) + ")")
    if fell.empty:
        parts.append("every named country has a grid row of its own")
    else:
        for holder, g in fell.groupby("intensity_region", sort=True):
            codes = ", ".join(sorted(g["region_code"].unique()))
            what = "the world average" if holder == "OTHER" else f"its parent {holder}"
            parts.append(f"no grid row of their own for {codes}: fallback to {what} "
                         f"({holder}, {_values(g)})")
    return "Grid intensity: " + "; ".join(parts) + "."


def _values(rows: pd.DataFrame) -> str:
    v = sorted({round(float(x), 1) for x in rows["intensity_g_kwh"]})
    return (f"{v[0]:g} gCO2e/kWh" if len(v) == 1
            else f"{v[0]:g} to {v[-1]:g} gCO2e/kWh")


@functools.lru_cache(maxsize=16)
def _monthly(day: date | None, price_usd_kwh: float, nowcast: bool, seed: int
             ) -> pd.DataFrame:
    cb = _monthly_cbeci(day, price_usd_kwh)
    grid = read_grid_intensity(as_of=day)
    months = _observed_samples(day)
    kinds = dict.fromkeys(months, "observed")
    last_published = max(months) if months else None
    if nowcast:
        later = _nowcast_samples(day, seed, list(months))
        months.update(later)
        kinds.update(dict.fromkeys(later, "nowcast"))
    months = {m: months[m] for m in sorted(months) if m in cb.index}
    if not months:
        raise EmissionsMonthError(f"no month has both a mining map and CBECI inputs as known on "
                                  f"{day}")
    countries = _countries(_shares(months, kinds), cb, grid)
    worlds = []
    for key, g in countries.groupby("month", sort=True):
        m = pd.Timestamp(str(key))
        worlds.append(_world(m, kinds[m], g, months[m][1], cb))
    world = pd.DataFrame(worlds)
    out = pd.concat([countries, world], ignore_index=True)
    # by month, the world after its countries (lexsort is stable)
    out = out.iloc[np.lexsort(((out["region_code"] == WORLD).to_numpy(),
                               out["month"].to_numpy()))].reset_index(drop=True)
    out.insert(3, "region_name", [_name(c) for c in out["region_code"]])
    out = out[["month", "kind", "region_code", "region_name", "share_lower_pct", "share_pct",
               "share_upper_pct", "intensity_g_kwh", "intensity_source", "intensity_region",
               *(f"power_{b}_gw" for b in BOUNDS), *(f"emissions_{b}_mt_yr" for b in BOUNDS)]]
    out.attrs = {
        "as_of": None if day is None else str(day), "price_usd_kwh": price_usd_kwh,
        "last_published": None if last_published is None else f"{last_published:%Y-%m}",
        "nowcast_label": atlas.NOWCAST_LABEL, "seed": seed, "bounds": BOUNDS_NOTE,
        "fallback": fallback_note(out),
        "source": ("CCAF Bitcoin Mining Map (shares); CCAF CBECI method on the bundled monthly "
                   "market table and ASIC catalogue (power bounds); bundled grid-intensity "
                   "table (gCO2e/kWh, sources per row)"
                   + ("; hashshift nowcast after CCAF's last month" if nowcast else "")),
    }
    return out


def monthly_emissions(as_of: Any = None, *, price_usd_kwh: float = 0.05, nowcast: bool = True,
                      seed: int = atlas.SEED) -> pd.DataFrame:
    """Power [GW] and emissions [MtCO2e/yr] by month for each country and the world (``WORLD``),
    with lower / guess / upper bounds (module docstring), as known on ``as_of``.

    Parameters
    ----------
    as_of : date or None — only map months, market months, machines and grid rows public then
        (None: everything bundled; the nowcast as known on the newest bundled day)
    price_usd_kwh : float — electricity price of CBECI's bounds [USD/kWh] (CCAF's 0.05)
    nowcast : bool — add the nowcast's months after CCAF's last published one
    seed : int — the nowcast's seed (:data:`hashshift.atlas.SEED`, the one every view shows)

    Returns one row per month × region: ``month`` (first day), ``kind`` (``observed`` or
    ``nowcast``), ``region_code``, ``region_name``, ``share_lower_pct``, ``share_pct``,
    ``share_upper_pct`` [%], ``intensity_g_kwh`` [gCO2e/kWh], ``intensity_source`` and
    ``intensity_region`` (whose grid row: the country's own, else its fallback; ``OTHER`` = the
    world average),
    ``power_{lower,guess,upper}_gw`` [GW], ``emissions_{lower,guess,upper}_mt_yr``
    [MtCO2e/yr]; months with both a map and CBECI inputs only. ``attrs``: ``as_of``,
    ``price_usd_kwh``, ``last_published``, ``bounds``, ``fallback`` (:func:`fallback_note`),
    ``source``, ``seed``.
    """
    p = float(price_usd_kwh)
    if not np.isfinite(p) or p <= 0:
        raise ValueError(f"price_usd_kwh = {price_usd_kwh!r} is not allowed "
                         "(allowed: a finite number > 0)")
    out = _monthly(as_of_day(as_of), p, bool(nowcast), int(seed))
    copy = out.copy()
    copy.attrs = dict(out.attrs)
    return copy


def emission_months(frame: pd.DataFrame) -> list[dict[str, str]]:
    """The months of a :func:`monthly_emissions` frame: ``{"month": "YYYY-MM", "kind": …}``."""
    w = frame[frame["region_code"] == WORLD]
    return [{"month": f"{m:%Y-%m}", "kind": str(k)} for m, k in zip(w["month"], w["kind"],
                                                                    strict=True)]


def _span(months: list[dict[str, str]]) -> str:
    obs = [m["month"] for m in months if m["kind"] == "observed"]
    nc = [m["month"] for m in months if m["kind"] == "nowcast"]
    parts = [f"observed {obs[0]} to {obs[-1]}"] if obs else []
    parts += [f"nowcast {nc[0]} to {nc[-1]}"] if nc else []
    return ", ".join(parts) or "no month"


def country_emissions(month: Any, as_of: Any = None, **kwargs: Any) -> pd.DataFrame:
    """The rows of :func:`monthly_emissions` (same arguments) for one ``month`` (``YYYY-MM`` or a
    date), countries by guess descending, then ``OTHER``, then ``WORLD``. Raises
    :class:`EmissionsMonthError` naming the months there are when ``month`` is not one."""
    if isinstance(month, str):
        if not _MONTH.fullmatch(month.strip()) or not 1 <= int(month.strip()[5:]) <= 12:
            raise EmissionsMonthError(f"month = {month!r} is not a month; use YYYY-MM with a "
                                      "month 01 to 12 (e.g. 2021-05)")
        ts = pd.Timestamp(month.strip() + "-01")
    else:
        ts = pd.Timestamp(month).to_period("M").to_timestamp()
    frame = monthly_emissions(as_of, **kwargs)
    rows = frame[frame["month"] == ts]
    if rows.empty:
        known = "" if as_of is None else f" as known on {as_of_day(as_of)}"
        raise EmissionsMonthError(
            f"month = {ts:%Y-%m}: no emissions figures{known}; months with figures: "
            f"{_span(emission_months(frame))}")
    rank = np.where(rows["region_code"] == WORLD, 2,
                    np.where(rows["region_code"].str.endswith("OTHER"), 1, 0))
    order = np.lexsort((-rows["emissions_guess_mt_yr"].to_numpy(dtype=float), rank))
    out = rows.iloc[order].reset_index(drop=True)
    out.attrs.update(frame.attrs)
    out.attrs.update(month=f"{ts:%Y-%m}", kind=str(out["kind"].iloc[0]),
                     fallback=fallback_note(out))
    return out
