"""The headline outcomes of a scenario run: one definition each, used by the command line, the
web dashboard, the report and the sweeps.

Every figure is a statistic over the Monte Carlo paths of :class:`~hashshift.sim.engine.Result`:

- **world metrics** at the start and the end: the daily median and 90 % band (q05–q95);
- **largest cut**: the most negative *median* retarget among the epochs that *every* path
  completed (an epoch that only the fastest paths reached would describe those paths, not the
  run), with its 90 % band, its height and the median date of that retarget;
- **trough**: the lowest day of the world hashrate's daily median, its drop from the first day
  [%], and **days to recover**: days from the trough until the median is back at the first
  day's level (NaN when not within the horizon);
- **share shifts**: each region's mean share of world hashrate over paths (its expected share;
  means, unlike medians, still sum to 100 %), last minus first day [pp], with the 90 % band of
  the last day's share.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from ..consensus import MAINNET

if TYPE_CHECKING:
    import pandas as pd

    from .engine import Result

__all__ = [
    "EFFECTS",
    "HEADLINE_METRICS",
    "METRIC_INFO",
    "PATH_METRICS",
    "WORLD_METRICS",
    "band",
    "largest_cut",
    "metric_label",
    "outcome_metrics",
    "paired_effects",
    "path_outcomes",
    "share_shifts",
    "summarise",
    "trough",
    "world_bands",
]

#: World metrics summarised at the start and the end of a run, in display order.
WORLD_METRICS = ("hashrate_ehs", "difficulty", "power_gw", "emissions_mt_yr",
                 "hashprice_usd_ph_day", "exited_ehs", "in_transit_ehs")

#: The metrics of :func:`outcome_metrics` that a sweep summarises and charts, in display order
#: (the per-region ``share_shift_pp:<region>`` stay in its table without a summary).
HEADLINE_METRICS = (
    "trough_drop_pct", "trough_hashrate_ehs", "largest_cut_pct", "days_to_recover",
    "final_hashrate_ehs", "emissions_change_pct", "exited_ehs", "max_share_gain_pp",
)

#: Title, unit and meaning of each headline metric (one value per task: the median over its
#: paths), for tables and charts.
METRIC_INFO: dict[str, tuple[str, str, str]] = {
    "trough_drop_pct": ("drop to the trough", "%",
                        "lowest daily world hashrate vs the first day"),
    "trough_hashrate_ehs": ("hashrate at the trough", "EH/s", "lowest daily world hashrate"),
    "largest_cut_pct": ("largest retarget cut", "%",
                        "most negative retarget among the epochs every path completed "
                        "(undefined when no retarget is negative)"),
    "days_to_recover": ("days to recover", "days",
                        "from the trough back to the first day's hashrate (undefined when not "
                        "within the horizon)"),
    "final_hashrate_ehs": ("hashrate on the last day", "EH/s", "world hashrate on the last day"),
    "emissions_change_pct": ("emissions change", "%", "world emissions, last vs first day"),
    "exited_ehs": ("hashrate that left", "EH/s", "machines that left the network by the last day"),
    "max_share_gain_pp": ("largest share gain", "pp",
                          "largest gain of one region's share of world hashrate"),
}


def metric_label(name: str) -> str:
    """``"drop to the trough [%]"`` for a metric of :data:`METRIC_INFO` or :data:`EFFECTS`;
    other names as they are."""
    if name in METRIC_INFO:
        title, unit, _ = METRIC_INFO[name]
    elif name in EFFECTS:
        title, unit = EFFECTS[name]
    else:
        return name
    return f"{title} [{unit}]"


def band(row: Any) -> dict[str, float]:
    """The median and 90 % band of one quantile row: ``{"q05", "q50", "q95"}``."""
    return {k: float(row[k]) for k in ("q05", "q50", "q95")}


def _as_of(result: Result) -> date:
    return date.fromisoformat(str(result.config["scenario"]["scenario"]["as_of"]))


def world_bands(result: Result, metrics: tuple[str, ...] = WORLD_METRICS
                ) -> dict[str, dict[str, dict[str, float]]]:
    """``{metric: {"start": band, "end": band}}`` of the world's daily values."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for metric in metrics:
        w = result.world(metric)
        if not w.empty:
            out[metric] = {"start": band(w.iloc[0]), "end": band(w.iloc[-1])}
    return out


def largest_cut(result: Result) -> dict[str, Any] | None:
    """The most negative median retarget among the epochs every path completed, or None when
    no such retarget is negative.

    Returns ``epoch`` (whose end it is), ``height`` [block] of the first block at the new
    difficulty, ``change_pct`` (band [%]), ``mean_pct`` [%], ``paths``, ``day`` [days after
    ``as_of``, median] and ``date`` (``as_of`` + ``day``, or None when unknown).
    """
    ep = result.epochs
    if not len(ep):
        return None
    changes = ep[ep["metric"] == "change_pct"]
    total = int(ep.attrs.get("total_paths", changes["paths"].max() if len(changes) else 0))
    full = changes[changes["paths"] >= total]
    if not len(full) or float(full["q50"].min()) >= 0:
        return None
    row = full.iloc[int(full["q50"].to_numpy().argmin())]
    epoch = int(row["epoch"])
    starts = ep[(ep["metric"] == "start_days") & (ep["epoch"] == epoch + 1)]
    day = float(starts["q50"].iloc[0]) if len(starts) else None
    when = None if day is None else str(_as_of(result) + timedelta(days=int(day)))
    return {"epoch": epoch, "height": (epoch + 1) * MAINNET.interval,
            "change_pct": band(row), "mean_pct": float(row["mean"]), "paths": int(row["paths"]),
            "day": day, "date": when}


def _world_median(result: Result, metric: str) -> np.ndarray:
    return result.world(metric)["q50"].to_numpy(dtype=float)


def trough(result: Result) -> dict[str, Any]:
    """The lowest day of the world hashrate's daily median: ``day`` [days after ``as_of``],
    ``date``, ``hashrate_ehs`` (band [EH/s] that day), ``start_ehs`` [EH/s],
    ``drop_pct`` [%] from the first day and ``days_to_recover`` [days] (NaN if not within the
    horizon)."""
    w = result.world("hashrate_ehs")
    hr = w["q50"].to_numpy(dtype=float)
    ti = int(np.argmin(hr))
    start = float(hr[0])
    back = np.flatnonzero(hr[ti:] >= start)
    return {"day": ti, "date": str(_as_of(result) + timedelta(days=ti)),
            "hashrate_ehs": band(w.iloc[ti]), "start_ehs": start,
            "drop_pct": (float(hr[ti]) / start - 1.0) * 100.0,
            "days_to_recover": float(back[0]) if back.size else float("nan")}


def share_shifts(result: Result) -> pd.DataFrame:
    """Per region: ``start_pct``, ``end_pct`` (mean shares [%] on the first and last day),
    ``end_q05_pct``, ``end_q95_pct`` and ``change_pp`` [pp], largest regions first."""
    import pandas as pd

    d = result.daily
    share = d[(d["metric"] == "share_pct") & (d["region"] != "WORLD")]
    cols = ["region", "start_pct", "end_pct", "end_q05_pct", "end_q95_pct", "change_pp"]
    if not len(share):
        return pd.DataFrame(columns=cols)
    a = share[share["date"] == share["date"].min()].set_index("region")
    b = share[share["date"] == share["date"].max()].set_index("region").reindex(a.index)
    out = pd.DataFrame({"region": a.index.astype(str), "start_pct": a["mean"].to_numpy(float),
                        "end_pct": b["mean"].to_numpy(float),
                        "end_q05_pct": b["q05"].to_numpy(float),
                        "end_q95_pct": b["q95"].to_numpy(float)})
    out["change_pp"] = out["end_pct"] - out["start_pct"]
    biggest = np.maximum(out["start_pct"].to_numpy(float), out["end_pct"].to_numpy(float))
    order = np.lexsort((out["region"].to_numpy(), -biggest))
    return out.iloc[order].reset_index(drop=True)[cols]


def summarise(result: Result, top: int = 8) -> dict[str, Any]:
    """The headline figures of a run: world metrics at the start and the end (median and 90 %
    band), the largest cut, the trough and the ``top`` regions by share."""
    sc = result.config["scenario"]["scenario"]
    as_of = _as_of(result)
    regions = share_shifts(result).head(top)
    return {"name": sc["name"], "as_of": str(as_of),
            "end": str(as_of + timedelta(days=int(sc["horizon_days"]) - 1)),
            "horizon_days": int(sc["horizon_days"]),
            "paths": int(result.config.get("paths", sc["paths"])), "seed": int(sc["seed"]),
            "world": world_bands(result), "largest_cut": largest_cut(result),
            "trough": trough(result),
            "regions": [{k: (str(v) if k == "region" else float(v)) for k, v in r.items()}
                        for r in regions.to_dict("records")]}


def outcome_metrics(result: Result) -> dict[str, float]:
    """The outcomes of one run as flat numbers (a sweep's result table): medians over paths.

    ``hashrate_start_ehs``, ``final_hashrate_ehs``, ``trough_hashrate_ehs``, ``trough_day``,
    ``trough_drop_pct``, ``days_to_recover`` (see :func:`trough`); ``largest_cut_pct`` and
    ``largest_cut_q05_pct`` (see :func:`largest_cut`; NaN without a negative retarget),
    ``retargets`` (epochs every path completed); ``emissions_change_mt_yr`` and
    ``emissions_change_pct`` (last vs first day); ``exited_ehs`` (last day);
    ``share_shift_pp:<region>`` and ``max_share_gain_pp`` (see :func:`share_shifts`).
    """
    hr = _world_median(result, "hashrate_ehs")
    tr = trough(result)
    out: dict[str, float] = {
        "hashrate_start_ehs": float(hr[0]), "final_hashrate_ehs": float(hr[-1]),
        "trough_hashrate_ehs": tr["hashrate_ehs"]["q50"], "trough_day": float(tr["day"]),
        "trough_drop_pct": tr["drop_pct"], "days_to_recover": tr["days_to_recover"],
    }
    cut = largest_cut(result)
    out["largest_cut_pct"] = cut["change_pct"]["q50"] if cut else float("nan")
    out["largest_cut_q05_pct"] = cut["change_pct"]["q05"] if cut else float("nan")
    ep = result.epochs
    if len(ep):
        ch = ep[ep["metric"] == "change_pct"]
        total = int(ep.attrs.get("total_paths", ch["paths"].max()))
        out["retargets"] = float((ch["paths"] >= total).sum())
    else:
        out["retargets"] = 0.0
    em = _world_median(result, "emissions_mt_yr")
    out["emissions_change_mt_yr"] = float(em[-1] - em[0])
    out["emissions_change_pct"] = (float(em[-1] / em[0]) - 1.0) * 100.0 if em[0] > 0 \
        else float("nan")
    ex = _world_median(result, "exited_ehs")
    out["exited_ehs"] = float(ex[-1]) if ex.size else float("nan")
    shifts = share_shifts(result)
    if len(shifts):
        for region, change in sorted(zip(shifts["region"], shifts["change_pp"], strict=True)):
            out[f"share_shift_pp:{region}"] = float(change)
        out["max_share_gain_pp"] = float(shifts["change_pp"].max())
    return out


# ---------------------------------------------------------------------------------------------
# per path, and effects against a counterfactual
# ---------------------------------------------------------------------------------------------
#: Per-path outcomes (:func:`path_outcomes`) and their units; besides these, the path's world
#: hashrate every :data:`SERIES_STEP_DAYS` days as ``hashrate_ehs@d<day>`` [EH/s].
PATH_METRICS: dict[str, str] = {
    "trough_hashrate_ehs": "EH/s", "final_hashrate_ehs": "EH/s", "mean_hashrate_ehs": "EH/s",
    "largest_cut_pct": "%", "days_to_recover": "days", "emissions_mean_mt_yr": "MtCO2e/yr",
}
#: Spacing of the per-path hashrate series kept for effects [days].
SERIES_STEP_DAYS = 7
SERIES_PREFIX = "hashrate_ehs@d"

#: Effects of a policy against its counterfactual (:func:`paired_effects`): name -> (title,
#: unit), in display order. Negative = the policy leaves less (hashrate, emissions) or cuts more.
EFFECTS: dict[str, tuple[str, str]] = {
    "low_point_ehs": ("hashrate lost at the low point", "EH/s"),
    "low_point_pct": ("hashrate lost at the low point", "%"),
    "mean_hashrate_pct": ("hashrate change, mean over the horizon", "%"),
    "final_hashrate_pct": ("hashrate change on the last day", "%"),
    "retarget_cut_pp": ("change of the largest retarget cut", "pp"),
    "days_to_recover_diff": ("change of the days to recover", "days"),
    "emissions_change_mt_yr": ("emissions change, mean over the horizon", "MtCO2e/yr"),
}


def path_outcomes(result: Result) -> pd.DataFrame:
    """One row per path (a run made with ``keep_paths=True``): ``trough_hashrate_ehs`` (the path's
    lowest daily world hashrate [EH/s]), ``final_hashrate_ehs`` and ``mean_hashrate_ehs``
    [EH/s], ``largest_cut_pct`` (its most negative retarget [%], NaN without one),
    ``days_to_recover`` (from its trough back to its first day's level [days]; NaN if not within
    the horizon), ``emissions_mean_mt_yr`` (its mean world emissions [MtCO2e/yr]) and its world
    hashrate every :data:`SERIES_STEP_DAYS` days (``hashrate_ehs@d0``, ``@d7``, … [EH/s])."""
    import pandas as pd

    from .network import bits_to_difficulty

    p = result.paths
    if "hashrate_ehs" not in p:
        raise ValueError("path outcomes need a run made with keep_paths=True")
    h = np.asarray(p["hashrate_ehs"], dtype=float)  # days × paths
    n = h.shape[1]
    ti = h.argmin(axis=0)
    trough = h[ti, np.arange(n)]
    back = np.full(n, np.nan)
    for j in range(n):
        hit = np.flatnonzero(h[ti[j]:, j] >= h[0, j])
        if hit.size:
            back[j] = float(hit[0])
    cut = np.full(n, np.nan)
    if p.get("epoch_path") is not None and np.asarray(p["epoch_path"]).size:
        ch = (bits_to_difficulty(p["epoch_next_bits"]) / bits_to_difficulty(p["epoch_bits"])
              - 1.0) * 100.0
        path_idx = np.asarray(p["epoch_path"], dtype=int)
        neg = np.where(ch < 0, ch, np.inf)
        best = np.full(n, np.inf)
        np.minimum.at(best, path_idx, neg)
        cut = np.where(np.isfinite(best), best, np.nan)
    em = np.asarray(p["emissions_mt_yr"], dtype=float).mean(axis=0)
    cols = {"trough_hashrate_ehs": trough, "final_hashrate_ehs": h[-1],
            "mean_hashrate_ehs": h.mean(axis=0), "largest_cut_pct": cut,
            "days_to_recover": back, "emissions_mean_mt_yr": em}
    for d in range(0, h.shape[0], SERIES_STEP_DAYS):
        cols[f"{SERIES_PREFIX}{d}"] = h[d]
    return pd.DataFrame(cols, index=pd.RangeIndex(n, name="path"))


def paired_effects(task: pd.DataFrame, counterfactual: pd.DataFrame,
                   level: float = 0.90) -> dict[str, dict[str, float]]:
    """Effects of a policy, path by path against its counterfactual (both from runs with the
    same seed, so each path's random draws are shared: common random numbers): per effect of
    :data:`EFFECTS`, the median, the ``level`` interval of the paired differences and their mean,
    and the count of paths where it is defined.

    The low point is the largest shortfall of the path's weekly world hashrate against the same
    path without the policy (0 if it never falls short). A retarget cut the counterfactual does
    not have counts as 0 % there."""
    a, b = task.reset_index(drop=True), counterfactual.reset_index(drop=True)
    if len(a) != len(b):
        raise ValueError(f"paired effects need the same paths: {len(a)} vs {len(b)}")
    weeks = [c for c in a.columns if c.startswith(SERIES_PREFIX) and c in b.columns]
    if not weeks:
        raise ValueError("paired effects need the weekly hashrate series of path_outcomes")
    ha, hb = a[weeks].to_numpy(dtype=float), b[weeks].to_numpy(dtype=float)
    gap = ha - hb
    worst = np.nanargmin(np.where(np.isfinite(gap), gap, np.inf), axis=1)
    rows = np.arange(len(a))
    low_ehs = np.minimum(gap[rows, worst], 0.0)
    low_pct = np.minimum(np.nanmin(ha / hb - 1.0, axis=1), 0.0) * 100.0

    def pct(x: str) -> pd.Series:
        return (a[x] / b[x] - 1.0) * 100.0

    diffs = {
        "low_point_ehs": low_ehs,
        "low_point_pct": low_pct,
        "mean_hashrate_pct": pct("mean_hashrate_ehs").to_numpy(dtype=float),
        "final_hashrate_pct": pct("final_hashrate_ehs").to_numpy(dtype=float),
        "retarget_cut_pp": (a["largest_cut_pct"].fillna(0.0)
                            - b["largest_cut_pct"].fillna(0.0)).to_numpy(dtype=float),
        "days_to_recover_diff": (a["days_to_recover"] - b["days_to_recover"]).to_numpy(
            dtype=float),
        "emissions_change_mt_yr": (a["emissions_mean_mt_yr"]
                                   - b["emissions_mean_mt_yr"]).to_numpy(dtype=float),
    }
    lo, hi = (1 - level) / 2, (1 + level) / 2
    out = {}
    for name, d in diffs.items():
        x = np.asarray(d, dtype=float)
        x = x[np.isfinite(x)]
        out[name] = ({"q05": float(np.quantile(x, lo)), "q50": float(np.median(x)),
                      "q95": float(np.quantile(x, hi)), "mean": float(x.mean()),
                      "mc_se": float(x.std(ddof=1) / np.sqrt(x.size)) if x.size > 1 else np.nan,
                      "n": len(x)}
                     if x.size else {"q05": np.nan, "q50": np.nan, "q95": np.nan,
                                     "mean": np.nan, "mc_se": np.nan, "n": 0})
    return out
