"""The mining map of any month as known on a day: CCAF's published months exactly, later months
nowcast (:mod:`hashshift.nowcast`) with their 90 % intervals.

This is where the interfaces (``hashshift map``, the dashboard's map page, the report's map
slider and shares-over-time chart) get a month's map, observed or not: one function per view,
each saying which kind of figure it returns (``observed`` or ``nowcast``) and as known on which
day. Without ``as_of`` the nowcast is as known on the newest bundled day
(:func:`hashshift.freshness.newest_day`); it is computed once per process and day (a few
seconds) and kept.
"""

from __future__ import annotations

import functools
import threading
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import freshness, geography
from .regions import parent_code, region_name
from .sources.pit import as_of_day

if TYPE_CHECKING:
    from .nowcast import Nowcast
    from .store import Store

__all__ = ["NOWCAST_LABEL", "SEED", "MapMonthError", "known_nowcast", "map_month",
           "map_months", "shares_over_time"]

#: How a nowcast month is labelled wherever it is shown.
NOWCAST_LABEL = "nowcast, not observed"
#: The seed of the nowcast every interface shows (the engine's default start uses the same).
SEED = 2022

_LOCK = threading.Lock()


class MapMonthError(ValueError):
    """A month the map cannot answer for as known on a day (the message says why and what it
    covers)."""


@functools.lru_cache(maxsize=8)
def _nowcast(day: date, seed: int) -> Nowcast:
    from .nowcast import nowcast

    return nowcast(day, seed=seed)


def known_nowcast(as_of: Any = None, *, seed: int = SEED) -> Nowcast:
    """The nowcast as known on ``as_of`` (default: the newest bundled day), computed once per
    process (concurrent callers wait for the first)."""
    day = as_of_day(as_of) or freshness.newest_day()
    with _LOCK:
        return _nowcast(day, seed)


def _check_level(level: str) -> None:
    if level not in geography.LEVELS:
        raise MapMonthError(f"level must be 'country' or 'province', not {level!r}")


def _month(value: Any) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(str(value).strip()[:7] + "-01") if isinstance(value, str) \
            else pd.Timestamp(value)
    except ValueError:
        raise MapMonthError(f"month {value!r} is not a month; use YYYY-MM (e.g. 2021-04)") \
            from None
    return pd.Timestamp(ts.year, ts.month, 1)


def _published_on(month: pd.Timestamp, level: str, store: Store | None) -> str | None:
    mm = geography.mining_map(store)
    pub = mm.loc[(mm["date"] == month) & (mm["level"] == level), "published"].dropna()
    return None if pub.empty else f"{pd.Timestamp(pub.min()):%Y-%m-%d}"


def map_months(level: str = "country", *, as_of: Any = None, store: Store | None = None
               ) -> list[dict[str, Any]]:
    """Every month the map answers for as known on ``as_of``: ``{"month": "YYYY-MM",
    "kind": "observed" | "nowcast"}``, oldest first (nowcast months only at country level and,
    while the nowcast splits China, for its provinces)."""
    _check_level(level)
    day = as_of_day(as_of)
    obs = geography.months(level, store, as_of=day)  # type: ignore[arg-type]
    out = [{"month": f"{m:%Y-%m}", "kind": "observed"} for m in obs]
    nc = known_nowcast(day)
    s = nc.shares
    later = sorted(set(s.loc[~s["observed"] & (s["level"] == level), "month"]))
    seen = set(obs)
    out += [{"month": f"{m:%Y-%m}", "kind": "nowcast"} for m in later if m not in seen]
    return out


def map_month(month: Any, level: str = "country", *, as_of: Any = None,
              store: Store | None = None, nowcast: bool = False) -> pd.DataFrame:
    """The map of ``month`` as known on ``as_of`` (None: every published month; the nowcast as
    known on the newest bundled day).

    A month CCAF had published by then: :func:`hashshift.geography.shares` exactly (columns
    ``region_code``, ``region_name``, ``share_pct`` [%], ``share_of_china_pct`` for provinces,
    ``hashrate_ehs`` [EH/s]). A later month: the nowcast, one row per region with
    ``share_pct_q05``, ``share_pct_q50``, ``share_pct_q95`` [% of the world's hashrate; 90 %
    interval and median over the particles: medians need not add up to 100] and the same for
    ``hashrate_ehs``. ``attrs``: ``kind`` (``observed`` or ``nowcast``), ``label``, ``date``
    (``YYYY-MM``), ``level``, ``as_of``, ``network_hashrate_ehs``, ``source``, ``caveat``; a
    nowcast also ``last_published``, ``evidence`` (the natural experiments it weighed) and
    ``subdivisions`` (rows of the subdivisions it split off their country, e.g. Texas).

    Raises :class:`MapMonthError` for a month published only after ``as_of`` (naming the day it
    became public; with ``nowcast=True`` its nowcast as known on ``as_of`` instead), before the
    map's first month, or beyond the nowcast's reach.
    """
    _check_level(level)
    m = _month(month)
    day = as_of_day(as_of)
    known = geography.months(level, store, as_of=day)  # type: ignore[arg-type]
    if m in known:
        df = geography.shares(m, level, store, as_of=day)  # type: ignore[arg-type]
        df.attrs.update(kind="observed", label="observed (CCAF)",
                        as_of=None if day is None else str(day))
        return df
    every = geography.months(level, store)  # type: ignore[arg-type]
    when = "" if day is None else f" as known on {day}"
    if m in every and not nowcast:
        reach = f"{known[-1]:%Y-%m}" if known else "no month (CCAF's first release was 2020-05-06)"
        raise MapMonthError(
            f"{m:%Y-%m} was first published on {_published_on(m, level, store)}; as known on "
            f"{day} the {level}-level map reaches {reach} (its nowcast as known then: add "
            "--nowcast)")
    if not every or m < every[0]:
        raise MapMonthError(f"no {level}-level mining-map data for {m:%Y-%m}; the map starts "
                            f"{every[0]:%Y-%m}" if every else "the mining map is empty")
    nc = known_nowcast(day)
    s = nc.shares
    rows = s[(s["month"] == m) & (s["level"] == level) & ~s["observed"]]
    if rows.empty:
        nowcast_months = sorted(set(s.loc[~s["observed"], "month"]))
        if level == "province" and m in nowcast_months:
            raise MapMonthError(
                f"{m:%Y-%m}: China's provinces are published to {every[-1]:%Y-%m} only, and the "
                f"nowcast{when} does not split China (its last published map, "
                f"{nc.last_published:%Y-%m}, has no provinces); use level country")
        reach = f"{nowcast_months[-1]:%Y-%m}" if nowcast_months else f"{nc.last_published:%Y-%m}"
        raise MapMonthError(
            f"no map for {m:%Y-%m}{when}: CCAF published {every[0]:%Y-%m} to {every[-1]:%Y-%m} "
            f"and the nowcast reaches {reach}, the month of the newest daily block count "
            "public then")
    return _nowcast_frame(nc, rows, m, level)


def _order(df: pd.DataFrame, col: str) -> pd.DataFrame:
    agg = df["region_code"].str.endswith("OTHER").to_numpy()
    idx = np.lexsort((df["region_code"].to_numpy(dtype=str), -df[col].to_numpy(dtype=float),
                      agg))
    return df.iloc[idx].reset_index(drop=True)


_Q = ("q05", "q50", "q95")


def _nowcast_frame(nc: Nowcast, rows: pd.DataFrame, m: pd.Timestamp, level: str
                   ) -> pd.DataFrame:
    cols = [f"{v}_{q}" for v in ("share_pct", "hashrate_ehs") for q in _Q]
    out = rows[["region_code", *cols]].copy()
    out.insert(1, "region_name", [region_name(str(c)) for c in out["region_code"]])
    out = _order(out, "share_pct_q50")
    s = nc.shares
    sub = s[(s["month"] == m) & (s["level"] == "subdivision") & ~s["observed"]
            & ~s["region_code"].str.endswith("OTHER")]
    subs = [{"region_code": str(r["region_code"]),
             "region_name": region_name(str(r["region_code"])),
             "parent_code": parent_code(str(r["region_code"])),
             **{c: float(r[c]) for c in cols}} for r in sub.to_dict("records")]
    q50 = rows["share_pct_q50"].to_numpy(float)
    h50 = rows["hashrate_ehs_q50"].to_numpy(float)
    ok = q50 > 0
    net = float(np.median(h50[ok] / q50[ok] * 100.0)) if ok.any() else float("nan")
    ev = nc.evidence
    out.attrs = {
        "kind": "nowcast", "label": NOWCAST_LABEL, "date": f"{m:%Y-%m}", "level": level,
        "as_of": str(nc.as_of), "last_published": f"{nc.last_published:%Y-%m}",
        "network_hashrate_ehs": net,
        "evidence": [] if ev.empty else [str(e) for e in ev["event"]],
        "subdivisions": subs,
        "particles": int(nc.settings.particles), "seed": int(nc.seed),
        "source": (f"hashshift nowcast as known on {nc.as_of}: CCAF's {nc.last_published:%Y-%m} "
                   "map (the newest then published) moved by the map's own dynamics and "
                   "weighed by the chain's natural experiments; median and 90 % interval over "
                   f"{nc.settings.particles:,} particles"),
        "caveat": geography.CAVEAT,
        "method": "hashshift.nowcast (docs/geography.md)",
    }
    return out


def shares_over_time(level: str = "country", *, as_of: Any = None) -> pd.DataFrame:
    """Every month from CCAF's first to the nowcast's last as known on ``as_of`` (default: the
    newest bundled day): ``month``, ``region_code``, ``region_name``, ``observed``,
    ``share_pct_q05``, ``share_pct_q50``, ``share_pct_q95`` [%] (observed months: the exact
    share three times), ``hashrate_ehs_q50`` [EH/s], ``network_hashrate_ehs`` [EH/s, the
    month's mean]. ``attrs``: ``as_of``, ``last_published``, ``label``."""
    _check_level(level)
    nc = known_nowcast(as_of)
    s = nc.shares
    d = s[s["level"] == level]
    out = d[["month", "region_code", "observed", "share_pct_q05", "share_pct_q50",
             "share_pct_q95", "hashrate_ehs_q50"]].copy()
    out.insert(2, "region_name", [region_name(str(c)) for c in out["region_code"]])
    ok = out["share_pct_q50"] > 0
    ratio = (out["hashrate_ehs_q50"] / out["share_pct_q50"] * 100.0).where(ok)
    out["network_hashrate_ehs"] = ratio.groupby(out["month"]).transform("median")
    out = out.sort_values(["month", "region_code"]).reset_index(drop=True)
    out.attrs = {"as_of": str(nc.as_of), "last_published": f"{nc.last_published:%Y-%m}",
                 "label": NOWCAST_LABEL}
    return out
