"""Backtests: a scenario run as a forecast, compared epoch by epoch with what really happened.

``china-2021`` runs ``examples/china_2021.toml`` (as of 2021-05-31) and compares, for every epoch
that started between May 2021 and January 2022, the simulated median and 90 % band with the real
values from the bundled history: the retarget at the end of the epoch [%], the epoch-mean
hashrate [EH/s] and the epoch duration [days]. The same estimator (``(n−1)·D·2**32 / T``) gives
the hashrate of real and simulated epochs, so the comparison is like for like. Besides the
error of the median and the coverage of the 90 % band, each epoch is scored with the weighted
interval score of the 50 % and 90 % intervals and the median (:mod:`hashshift.scoring`, an
approximation of the CRPS [EH/s]), so that a wider band is not automatically better.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from ..scoring import weighted_interval_score
from .engine import Result, run
from .examples import load_example
from .scenario import Scenario

__all__ = ["BACKTESTS", "VARIANTS", "Backtest", "backtest", "compare", "hindsight",
           "monthly_shares", "prior_sensitivity", "seasonal_delay", "track_record", "variant"]

#: name -> (example file, first and last epoch start compared, the headline retarget height)
BACKTESTS: dict[str, tuple[str, date, date, int]] = {
    "china-2021": ("china_2021", date(2021, 5, 1), date(2022, 1, 31), 689_472),
}
GOALS = {"retarget_pp": 5.0, "hashrate_mape_pct": 12.0, "coverage_pct": 80.0}


@dataclass
class Backtest:
    """``table``: one row per epoch × metric with the simulated quantiles and the real value;
    ``summary``: the headline figures and whether each goal is met; ``shares``: monthly
    simulated country shares [%] (median) for comparison with the mining map."""

    name: str
    table: pd.DataFrame
    summary: dict[str, Any]
    shares: pd.DataFrame
    result: Result


def compare(result: Result, start: date, end: date, headline_height: int) -> Backtest:
    """Compare a result with the bundled history for epochs starting in [start, end]."""
    from .. import history

    real = history.epochs().set_index("epoch")
    sim = result.epochs
    t_lo = pd.Timestamp(start, tz="UTC")
    t_hi = pd.Timestamp(end, tz="UTC") + pd.Timedelta(days=1)
    rows = []
    for ep in sorted(set(sim["epoch"].tolist())):
        if ep not in real.index or ep + 1 not in real.index:
            continue
        r = real.loc[ep]
        if not (t_lo <= r["first_time"] < t_hi):
            continue
        truth = {
            "change_pct": float(real.loc[ep + 1, "change_pct"]),
            "hashrate_ehs": float(r["hashrate_ehs"]),
            "duration_days": float(r["duration_s"]) / 86400.0,
        }
        for metric, value in truth.items():
            s = sim[(sim["epoch"] == ep) & (sim["metric"] == metric)]
            if s.empty:
                continue
            q = s.iloc[0]
            qs = {k: float(q[k]) for k in ("q05", "q25", "q50", "q75", "q95")}
            rows.append({
                "epoch": int(ep), "first_height": int(r["first_height"]),
                "start": r["first_time"].date(), "metric": metric, "paths": int(q["paths"]),
                **{f"sim_{k}": v for k, v in qs.items()}, "real": value,
                "inside_90": bool(qs["q05"] <= value <= qs["q95"]),
                "inside_50": bool(qs["q25"] <= value <= qs["q75"]),
                "wis": weighted_interval_score(
                    qs["q50"], {0.5: (qs["q25"], qs["q75"]), 0.1: (qs["q05"], qs["q95"])}, value),
            })
    table = pd.DataFrame(rows)
    summary: dict[str, Any] = {}
    head = table[(table["metric"] == "change_pct")
                 & (table["first_height"] + 2016 == headline_height)]
    if len(head):
        h = head.iloc[0]
        diff = h["sim_q50"] - h["real"]
        summary.update(retarget_height=headline_height, retarget_real_pct=h["real"],
                       retarget_sim_pct=h["sim_q50"], retarget_sim_q05=h["sim_q05"],
                       retarget_sim_q95=h["sim_q95"], retarget_diff_pp=diff,
                       retarget_ok=abs(diff) <= GOALS["retarget_pp"])
    hr = table[(table["metric"] == "hashrate_ehs")
               & (pd.to_datetime(table["start"]) >= pd.Timestamp(2021, 6, 1))]
    if len(hr):
        ape = np.abs(hr["sim_q50"] / hr["real"] - 1.0) * 100.0
        cover = float(hr["inside_90"].mean() * 100.0)
        above = int((hr["real"] > hr["sim_q95"]).sum())
        below = int((hr["real"] < hr["sim_q05"]).sum())
        summary.update(hashrate_epochs=len(hr), hashrate_mape_pct=float(ape.mean()),
                       hashrate_median_ape_pct=float(np.median(ape)),
                       hashrate_coverage_pct=cover,
                       hashrate_coverage_50_pct=float(hr["inside_50"].mean() * 100.0),
                       hashrate_above_band=above, hashrate_below_band=below,
                       hashrate_wis_ehs=float(hr["wis"].mean()),
                       hashrate_mape_ok=float(ape.mean()) <= GOALS["hashrate_mape_pct"],
                       hashrate_coverage_ok=cover >= GOALS["coverage_pct"])
    return Backtest("", table, summary, monthly_shares(result), result)


def track_record(result: Result) -> dict[str, Any] | None:
    """How a run's epoch hashrate compares with the real one where the history overlaps, in the
    terms a reader needs: ``epochs`` compared (from the run's second epoch: the first is mostly
    observed), ``inside``/``above``/``below`` the 90 % band, ``coverage_pct``, ``wis_ehs`` (mean
    weighted interval score [EH/s]), ``start_ehs`` (the real epoch-mean hashrate of the epoch
    holding as_of [EH/s]), ``real_back``/``sim_back`` (first day of the first later epoch whose
    real mean / simulated median is back at ``start_ehs``; None if not within the overlap) and
    the real daily low (``daily_low_date``, ``daily_low_ehs`` [EH/s], from the day's blocks,
    :func:`hashshift.history.hashrate_daily`) beside the lowest real epoch mean
    (``epoch_low_start``, ``epoch_low_ehs``). None when fewer than two epochs overlap."""
    from datetime import timedelta

    from .. import history

    as_of = date.fromisoformat(str(result.config["scenario"]["scenario"]["as_of"]))
    days = int(result.config["scenario"]["scenario"]["horizon_days"])
    end = min(as_of + timedelta(days=days - 1), history.epochs()["first_time"].max().date())
    bt = compare(result, as_of - timedelta(days=14), end, 0)
    hr = bt.table[bt.table["metric"] == "hashrate_ehs"].sort_values("epoch")
    if len(hr) < 3:
        return None
    first, rest = hr.iloc[0], hr.iloc[1:]
    start = float(first["real"])
    low = rest.iloc[int(np.argmin(rest["real"].to_numpy(dtype=float)))]
    after = rest[rest["epoch"] > low["epoch"]]
    real_back = after[after["real"] >= start]
    sim_back = after[after["sim_q50"] >= start]
    daily = history.hashrate_daily()
    dd = pd.to_datetime(daily["date"]).dt.date
    window = daily[(dd >= as_of) & (dd <= end)]
    dl = (window.iloc[int(np.nanargmin(window["hashrate_ehs"].to_numpy(dtype=float)))]
          if len(window) else None)
    return {
        "epochs": len(rest), "inside": int(rest["inside_90"].sum()),
        "above": int((rest["real"] > rest["sim_q95"]).sum()),
        "below": int((rest["real"] < rest["sim_q05"]).sum()),
        "coverage_pct": float(rest["inside_90"].mean() * 100.0),
        "wis_ehs": float(rest["wis"].mean()), "start_ehs": start,
        "first_epoch_start": str(rest["start"].iloc[0]),
        "last_epoch_start": str(rest["start"].iloc[-1]),
        "real_back": str(real_back["start"].iloc[0]) if len(real_back) else None,
        "sim_back": str(sim_back["start"].iloc[0]) if len(sim_back) else None,
        "epoch_low_start": str(low["start"]), "epoch_low_ehs": float(low["real"]),
        "daily_low_date": str(pd.Timestamp(dl["date"]).date()) if dl is not None else None,
        "daily_low_ehs": float(dl["hashrate_ehs"]) if dl is not None else float("nan"),
    }


def monthly_shares(result: Result) -> pd.DataFrame:
    """Per calendar month and country (Chinese provinces and split-off subdivisions summed into
    their country, as CCAF's country map does): the simulated share of world hashrate [%]
    (``share_pct_sim``: mean over paths, whose country sums stay exact) and CCAF's published
    share (``share_pct_published``; NaN for months CCAF did not publish). The published months
    are read for the comparison only, after the run."""
    from .. import geography
    from ..regions import parent_code

    d = result.daily
    s = d[(d["metric"] == "share_pct") & (d["region"] != "WORLD")].copy()
    s["country"] = [parent_code(str(c)) for c in s["region"]]
    s["month"] = pd.to_datetime(s["date"]).dt.to_period("M").dt.to_timestamp()
    by_day = s.groupby(["date", "month", "country"], as_index=False)["mean"].sum()
    out = by_day.groupby(["month", "country"], as_index=False)["mean"].mean()
    out = out.rename(columns={"mean": "share_pct_sim", "country": "region_code"})
    pub = geography.shares_over_time("country")[["date", "region_code", "share_pct"]]
    pub = pub.rename(columns={"date": "month", "share_pct": "share_pct_published"})
    pub["month"] = pd.to_datetime(pub["month"])
    out = out.merge(pub, on=["month", "region_code"], how="left")
    return out


#: How a backtest's starting map is made: ``forecast`` (the default: only what was public on
#: as_of, so the nowcast when the month before was not yet published), ``naive`` (the newest
#: published month carried forward), ``hindsight`` (the month before as_of as later published,
#: and the realised price and fees: not a forecast, a measure of what the forecaster lacked).
VARIANTS = ("forecast", "naive", "hindsight")


def hindsight(scenario: Scenario) -> Scenario:
    """The same scenario given what was published *after* its as_of: the mining map of the
    month before as_of (as later published) and the realised price and fees. Not a forecast: it
    shows how much of a backtest's error comes from what the forecaster could not know."""
    from datetime import timedelta

    month = (scenario.scenario.as_of.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    data = scenario.model_dump(mode="json")
    data["initial"]["shares_month"] = month
    data["price"] = {"kind": "historical"}
    data["fees"] = {"kind": "historical"}
    return Scenario.model_validate(data)


def variant(scenario: Scenario, kind: str) -> Scenario:
    """The scenario as run by a backtest variant (:data:`VARIANTS`)."""
    if kind == "hindsight":
        return hindsight(scenario)
    if kind not in VARIANTS:
        raise ValueError(f"variant {kind!r} is not known; use one of {', '.join(VARIANTS)}")
    data = scenario.model_dump(mode="json")
    data["initial"]["start"] = "published" if kind == "naive" else "auto"
    return Scenario.model_validate(data)


def backtest(name: str = "china-2021", *, paths: int | None = None,
             progress: Any = None, variant_kind: str = "forecast") -> Backtest:
    """Run a named backtest (see :data:`BACKTESTS`) in one of the :data:`VARIANTS`."""
    if name not in BACKTESTS:
        raise LookupError(f"unknown backtest {name!r}; available: {', '.join(BACKTESTS)}")
    example, start, end, height = BACKTESTS[name]
    scenario = variant(load_example(example), variant_kind)
    result = run(scenario, paths=paths, progress=progress)
    bt = compare(result, start, end, height)
    bt.name = name if variant_kind == "forecast" else f"{name} ({variant_kind})"
    bt.summary["variant"] = variant_kind
    bt.summary["as_of"] = str(scenario.scenario.as_of)
    late = [v for v in result.config.get("vintages", [])
            if v.get("newest_public") and v["newest_public"] > bt.summary["as_of"]]
    bt.summary["data_after_as_of"] = sorted({v["dataset"] for v in late})
    bt.summary["start"] = result.config.get("provenance", {}).get("shares", "")
    return bt


#: The priors :func:`prior_sensitivity` widens or moves, one at a time: key -> what it sets.
#: Provincial bans are those on a subdivision (China's June 2021 orders), national bans those on
#: a country; their underground share is set to the value with a path-to-path spread of ± the
#: value (at most to 1).
SENSITIVITY_KNOBS = {
    "provincial_underground": "provincial bans: underground share (± the same) [share]",
    "national_underground": "national bans: underground share (± the same) [share]",
    "delay_median_days": "migration: median delay [days]",
    "delay_uncertainty": "migration: spread of the median delay [log]",
    "build_days": "migration: days to energise new capacity [days]",
    "supply_uncertainty": "supply: spread of new deliveries [log]",
}
#: The rows of :func:`prior_sensitivity` by default: (knob, value).
SENSITIVITY_ROWS: tuple[tuple[str, float], ...] = (
    ("provincial_underground", 0.15), ("provincial_underground", 0.25),
    ("provincial_underground", 0.5), ("national_underground", 0.4),
    ("delay_median_days", 75.0), ("delay_median_days", 45.0), ("delay_uncertainty", 0.75),
    ("build_days", 60.0), ("supply_uncertainty", 0.8), ("supply_uncertainty", 1.5),
)


def _set_prior(data: dict[str, Any], knob: str, value: float) -> None:
    """Set one prior of a scenario's data (``model_dump`` form); raises naming the knob."""
    if knob not in SENSITIVITY_KNOBS:
        raise ValueError(f"knob {knob!r} is not known; use one of {', '.join(SENSITIVITY_KNOBS)}")
    if knob in ("provincial_underground", "national_underground"):
        hits = [e for e in data["event"] if e.get("kind") == "ban"
                and ("-" in e["region"]) == (knob == "provincial_underground")]
        if not hits:
            raise ValueError(f"knob {knob!r}: the scenario has no such ban")
        for e in hits:
            e["underground"] = value
            e["underground_uncertainty"] = min(value, 1.0 - value)
    elif knob == "supply_uncertainty":
        data["supply"]["uncertainty"] = value
    else:
        data["migration"][knob] = value


def seasonal_delay(as_of: date, *, region: str = "CN-SC", sigma: float = 0.5) -> dict[str, Any]:
    """How fast miners moved in the newest dry-season move out of a hydro province public on
    ``as_of``: evidence a forecaster had before the bans.

    From CCAF's monthly map (the province's share of China [%], CCAF Bitcoin Mining Map): the
    last wet month (October), the first two dry months (November, December) and the settled dry
    level (the mean of January to March). The progress of the move in November's and December's
    means is matched by the median delay [days] of a lognormal with log standard deviation
    ``sigma`` [1] (:func:`hashshift.sim.migration.fit_delay_median_days`), the tariff switching
    on 1 November (the wet season of May to October, as ``examples/china_2021.toml`` states it).
    The move was inside China, between hosts that expected it every year: a lower bound on the
    time a move abroad takes.

    Returns ``median_days``, ``region``, ``season`` (``"YYYY-YY"``), ``before_pct``,
    ``after_pct``, ``november_pct``, ``december_pct`` [% of China], ``done`` (the two months'
    progress [0-1]) and ``published`` (the newest release among the months used). Raises
    ``LookupError`` when no whole season was public on ``as_of``.
    """
    from .. import geography
    from .migration import fit_delay_median_days

    sh = geography.shares_over_time("province", as_of=as_of)
    rows = sh[sh["region_code"] == region]
    s = {pd.Timestamp(d): float(v) for d, v in zip(rows["date"], rows["share_of_china_pct"],
                                                     strict=True)}
    published = geography.mining_map(as_of=as_of)
    for year in sorted({d.year for d in s}, reverse=True):
        need = [pd.Timestamp(year, m, 1) for m in (10, 11, 12)] + [
            pd.Timestamp(year + 1, m, 1) for m in (1, 2, 3)]
        if not all(d in s for d in need):
            continue
        before, nov, dec = (s[d] for d in need[:3])
        after = float(np.mean([s[d] for d in need[3:]]))
        if before - after <= 0:
            continue  # no move out that season
        done = [(before - nov) / (before - after), (before - dec) / (before - after)]
        used = published[(published["region_code"] == region)
                         & pd.to_datetime(published["date"]).isin(need)]
        return {"median_days": fit_delay_median_days(done, sigma, [30, 31]), "region": region,
                "season": f"{year}-{(year + 1) % 100:02d}", "before_pct": before,
                "after_pct": after, "november_pct": nov, "december_pct": dec, "done": done,
                "published": str(pd.to_datetime(used["published"]).max().date())
                if "published" in used.columns and len(used) else None}
    raise LookupError(f"no whole dry season of {region} (October to March) in the mining map "
                      f"as known on {as_of}")


def prior_sensitivity(name: str = "china-2021",
                      rows: tuple[tuple[str, float], ...] = SENSITIVITY_ROWS, *,
                      paths: int | None = None) -> pd.DataFrame:
    """A hindsight sensitivity, not a forecast: the forecast backtest run again with one prior
    moved or widened at a time (:data:`SENSITIVITY_KNOBS`), every other input as stated and the
    same seed (common random numbers, so rows differ by the prior alone). It says which missing
    uncertainty would have let the band hold the truth. The values are chosen after seeing the
    outcome, so no row is a forecast and none replaces the stated priors.

    Parameters
    ----------
    rows : tuple of (knob, value) — each a run; value in the knob's unit (shares [0-1], [days],
        [log])
    paths : int — paths per run (default: the example's)

    Returns one row per run, the stated scenario first: ``knob`` ("stated" first), ``what``,
    ``value``, ``coverage_90_pct``, ``coverage_50_pct`` [%], ``above``, ``below`` (hashrate
    epochs outside the 90 % band), ``wis_ehs`` [EH/s], ``mape_pct`` [%] and
    ``retarget_sim_pct`` [%] (the headline retarget's median).
    """
    if name not in BACKTESTS:
        raise LookupError(f"unknown backtest {name!r}; available: {', '.join(BACKTESTS)}")
    example, start, end, height = BACKTESTS[name]
    base = variant(load_example(example), "forecast")
    runs: list[tuple[str, str, float, Scenario]] = [("stated", "the example as stated",
                                                     float("nan"), base)]
    for knob, value in rows:
        data = base.model_dump(mode="json")
        _set_prior(data, knob, float(value))
        try:
            scenario = Scenario.model_validate(data)
        except ValueError as exc:
            raise ValueError(f"knob {knob!r} = {value!r} is not allowed: {exc}") from None
        runs.append((knob, SENSITIVITY_KNOBS[knob], float(value), scenario))
    out = []
    for knob, what, value, scenario in runs:
        sm = compare(run(scenario, paths=paths), start, end, height).summary
        out.append({
            "knob": knob, "what": what, "value": value,
            "coverage_90_pct": sm["hashrate_coverage_pct"],
            "coverage_50_pct": sm["hashrate_coverage_50_pct"],
            "above": sm["hashrate_above_band"], "below": sm["hashrate_below_band"],
            "wis_ehs": sm["hashrate_wis_ehs"], "mape_pct": sm["hashrate_mape_pct"],
            "retarget_sim_pct": sm.get("retarget_sim_pct", float("nan")),
        })
    return pd.DataFrame(out)
