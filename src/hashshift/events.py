"""Natural experiments: when a region's miners stop on known dates, the block rate drops by about
that region's share of the hashrate times the fraction that stopped.

The catalogue (``hashshift/data/natural_experiments_*.csv``, built by ``scripts/build_events.py``
with its sources) gives each event's region, a quiet ``before`` window and the ``during`` window,
and bounds on the fraction of the region's hashrate that stopped. :func:`event_study` measures
the network's hashrate in both windows from the chain itself — blocks counted per hour (or day)
and the difficulty in force (Bitcoin Core: expected hashes per block = D · 2**32) — with exact
intervals from the block process, and turns the drop into a share:

- hashrate of a window = Σ blocks · D · 2**32 / its seconds; the count is Poisson, so given the
  blocks of both windows the count in ``during`` is binomial, and the Clopper-Pearson interval of
  its proportion gives an exact interval for the ratio of the two rates (Garwood 1936,
  Biometrika 28:437, doi:10.1093/biomet/28.3-4.437; the conditional test of two Poisson rates,
  Przyborowski & Wilenski 1940);
- the hashrate also moves for reasons other than the event (miners switching, retargets, hydro
  seasons): the "background" spread of the same ratio between ordinary windows of the same
  lengths, measured on the daily counts of the year before, widens the interval;
- share of the region ≈ drop / fraction stopped: with the fraction known to lie in
  ``[stopped_lo, stopped_hi]`` the share lies in ``[drop / stopped_hi, drop / stopped_lo]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .sources.bundled_events import read_events
from .sources.pit import as_of_day
from .units import HASHES_PER_DIFFICULTY

__all__ = ["EventStudy", "background_sd", "catalogue", "event_study", "rate_ratio_interval"]


def catalogue(*, as_of: Any = None) -> pd.DataFrame:
    """The natural experiments known on ``as_of``: reported by then and with their ``during``
    window over (:func:`hashshift.sources.bundled_events.read_events`)."""
    return read_events(as_of=as_of)


# ---------------------------------------------------------------------------------------------
# the study
# ---------------------------------------------------------------------------------------------
def rate_ratio_interval(n1: float, t1: float, n2: float, t2: float, level: float = 0.90
                        ) -> tuple[float, float, float]:
    """Ratio of two Poisson rates, ``(n2/t2) / (n1/t1)``, with its exact conditional interval
    (Clopper-Pearson on ``n2 / (n1 + n2)``). Counts [blocks] may be work-weighted (blocks × a
    difficulty ratio): the interval then holds for the work rate.

    Parameters
    ----------
    n1, n2 : float — [blocks] in the reference and the compared window
    t1, t2 : float — [s] their lengths
    level : float — [1] interval level
    """
    from scipy.special import betaincinv  # beta quantiles, as scipy.stats.beta.ppf

    n = n1 + n2
    a = (1.0 - level) / 2.0
    p_lo = 0.0 if n2 <= 0 else float(betaincinv(n2, n1 + 1, a))
    p_hi = 1.0 if n1 <= 0 else float(betaincinv(n2 + 1, n1, 1 - a))

    def ratio(p: float) -> float:
        return np.inf if p >= 1 else p / (1 - p) * t1 / t2

    return (n2 / t2) / (n1 / t1) if n1 > 0 else np.inf, ratio(p_lo), ratio(p_hi) if n > 0 \
        else np.inf


@dataclass
class EventStudy:
    """One event measured: ``table`` (before and during: seconds, blocks, hashrate [EH/s]),
    ``drop_pct`` (point, Poisson interval and interval with the background spread, [%]),
    ``share_pct`` (the region's implied share of the network [%], low and high) and the
    catalogue row."""

    event: dict[str, Any]
    table: pd.DataFrame
    drop_pct: dict[str, float]
    share_pct: dict[str, float]
    resolution: str
    series: pd.DataFrame


def _difficulty(times: pd.Series, as_of: Any = None) -> np.ndarray:
    from . import history

    ep = history.epochs(as_of=as_of)
    starts = ep["first_time"].to_numpy()
    idx = np.searchsorted(starts, times.to_numpy(), side="right") - 1
    return ep["difficulty"].to_numpy(dtype=float)[np.clip(idx, 0, len(ep) - 1)]


def _counts(ev: Mapping[str, Any], as_of: Any) -> tuple[pd.DataFrame, str]:
    """Per hour (the event's hourly window) or per day: ``start``, ``seconds``, ``blocks``,
    ``difficulty``, over the span from ``before_start`` to a week after ``during_end``."""
    from .sources.bundled_chain import read_blocks_daily, read_blocks_hourly

    lo, hi = ev["before_start"], ev["during_end"] + pd.Timedelta(days=7)
    if ev["window"]:
        h = read_blocks_hourly(as_of=as_of)
        h = h[(h["window"] == ev["window"]) & (h["hour"] >= lo) & (h["hour"] < hi)]
        out = pd.DataFrame({"start": h["hour"].to_numpy(), "seconds": 3600.0,
                            "blocks": h["blocks"].to_numpy(dtype=float)})
        res = "hour"
    else:
        d = read_blocks_daily(as_of=as_of)
        day = pd.to_datetime(d["date"]).dt.tz_localize("UTC")
        sel = (day >= lo.floor("D")) & (day < hi)
        out = pd.DataFrame({"start": day[sel].to_numpy(), "seconds": 86400.0,
                            "blocks": d.loc[sel, "blocks"].to_numpy(dtype=float)})
        res = "day"
    out["start"] = pd.to_datetime(out["start"], utc=True)
    out["difficulty"] = _difficulty(out["start"], as_of)
    out["hashrate_ehs"] = (out["blocks"] * out["difficulty"] * HASHES_PER_DIFFICULTY
                           / out["seconds"] / 1e18)
    return out.reset_index(drop=True), res


def _window(c: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> dict[str, float]:
    sel = (c["start"] >= start) & (c["start"] + pd.to_timedelta(c["seconds"], unit="s") <= end)
    w = c[sel]
    work = float((w["blocks"] * w["difficulty"]).sum()) * HASHES_PER_DIFFICULTY
    secs = float(w["seconds"].sum())
    return {"seconds": secs, "blocks": float(w["blocks"].sum()),
            "hashrate_ehs": work / secs / 1e18 if secs else np.nan,
            "mean_difficulty": float(w["difficulty"].mean()) if len(w) else np.nan}


def background_sd(before_days: float, during_days: float, end: pd.Timestamp,
                  as_of: Any = None, span_days: int = 365) -> float:
    """Spread [1, standard deviation of the log ratio] of the network's hashrate between two
    adjacent ordinary windows of these lengths, beyond the block process's own: measured on the
    daily counts of the ``span_days`` before ``end`` (difficulty-weighted), minus the Poisson
    variance. A floor of 0 when the Poisson part explains it all."""
    from .sources.bundled_chain import read_blocks_daily

    d = read_blocks_daily(as_of=as_of)
    d = d[(d["date"] < end.tz_localize(None)) &
          (d["date"] >= end.tz_localize(None) - pd.Timedelta(days=span_days))]
    day = pd.to_datetime(d["date"]).dt.tz_localize("UTC")
    work = d["blocks"].to_numpy(float) * _difficulty(day, as_of)
    blocks = d["blocks"].to_numpy(float)
    b, w = max(int(round(before_days)), 1), max(int(round(during_days)), 1)
    logs, poisson = [], []
    for i in range(b, len(work) - w + 1, w):
        wb, ww = work[i - b:i].sum() / b, work[i:i + w].sum() / w
        if wb > 0 and ww > 0:
            logs.append(np.log(ww / wb))
            poisson.append(1.0 / blocks[i - b:i].sum() + 1.0 / blocks[i:i + w].sum())
    if len(logs) < 8:
        return 0.0
    x = np.asarray(logs)
    mad = 1.4826 * np.median(np.abs(x - np.median(x)))  # robust to other events in the year
    return float(np.sqrt(max(mad**2 - float(np.mean(poisson)), 0.0)))


def event_study(event: str, *, as_of: Any = None, level: float = 0.90) -> EventStudy:
    """Measure one catalogued event (see the module docstring). ``as_of``: use only what was
    public then (the event must be known by then)."""
    cat = catalogue(as_of=as_of)
    hit = cat[cat["event"] == event]
    if hit.empty:
        known = ", ".join(catalogue()["event"])
        when = "" if as_of is None else f" as known on {as_of_day(as_of)}"
        raise LookupError(f"no natural experiment {event!r}{when}; catalogue: {known}")
    ev = {str(k): v for k, v in hit.iloc[0].to_dict().items()}
    counts, res = _counts(ev, as_of)
    before = _window(counts, ev["before_start"], ev["before_end"])
    during = _window(counts, ev["during_start"], ev["during_end"])
    # work-weighted counts: blocks × the window's mean difficulty over the before window's
    n1 = before["blocks"]
    n2 = during["blocks"] * during["mean_difficulty"] / before["mean_difficulty"]
    r, r_lo, r_hi = rate_ratio_interval(n1, before["seconds"], n2, during["seconds"], level)
    from scipy.special import ndtri  # the normal quantile, as scipy.stats.norm.ppf

    bg = background_sd(before["seconds"] / 86400, during["seconds"] / 86400,
                       ev["before_start"], as_of)
    z = float(ndtri(0.5 + level / 2))
    # widen each exact endpoint on the log scale by the background spread, in quadrature
    hw_lo = np.log(r) - np.log(r_lo) if r_lo > 0 else np.inf
    hw_hi = np.log(r_hi) - np.log(r)
    lo_r = r * np.exp(-np.hypot(hw_lo, z * bg))
    hi_r = r * np.exp(np.hypot(hw_hi, z * bg))
    se = float((np.log(hi_r) - np.log(lo_r)) / (2 * z)) if lo_r > 0 else np.inf
    drop = {"drop_pct": (1 - r) * 100, "poisson_lo_pct": (1 - r_hi) * 100,
            "poisson_hi_pct": (1 - r_lo) * 100, "lo_pct": (1 - hi_r) * 100,
            "hi_pct": (1 - lo_r) * 100, "background_sd": bg, "log_ratio_se": se}
    lo_f, hi_f = ev["stopped_lo"], ev["stopped_hi"]
    share = {"low_pct": float(np.clip(max(drop["lo_pct"], 0.0) / hi_f, 0, 100)),
             "point_low_pct": float(np.clip(drop["drop_pct"] / hi_f, 0, 100)),
             "point_high_pct": float(np.clip(drop["drop_pct"] / lo_f, 0, 100)),
             "high_pct": float(np.clip(max(drop["hi_pct"], 0.0) / lo_f, 0, 100))}
    table = pd.DataFrame([{"window": "before", "start": ev["before_start"],
                           "end": ev["before_end"], **before},
                          {"window": "during", "start": ev["during_start"],
                           "end": ev["during_end"], **during}])
    return EventStudy(ev, table, drop, share, res, counts)
