"""Machine classes and the fleet's starting mix.

The engine groups machines into efficiency classes [J/TH]. The defaults are the generations that
dominated deliveries, each named after the machines whose efficiency it stands for (figures from
the makers' spec sheets, as in :mod:`hashshift.hardware`):

=================  =========  ===============  =======================================
class              J/TH       dated by         stands for
=================  =========  ===============  =======================================
S9 class           98         Antminer S9      Antminer S9 (13.5 TH/s, 1 323 W)
S11/T17 class      62         Antminer S11     Antminer S11, T17; WhatsMiner M10
S17/M20 class      45         Antminer S17     Antminer S17, S17 Pro; WhatsMiner M20S
S19/M30 class      34         Antminer S19     Antminer S19, S19 Pro, S19j Pro; WhatsMiner M30S
S19 XP/M50 class   22         Antminer S19 XP  Antminer S19 XP; WhatsMiner M50S
S21/M60 class      17.5       Antminer S21     Antminer S21; WhatsMiner M60S
S21 XP class       13.5       Antminer S21 XP  Antminer S21 XP; S21 Pro (15 J/TH)
=================  =========  ===============  =======================================

A class's first deliveries are the first shipments of the machine that dates it, as the bundled
ASIC catalogue gives them (:mod:`hashshift.hardware`, one source of truth for hardware dates). A
run as of a day knows only the classes whose dating machine shipped by then: a forecast made in
May 2021 cannot deliver S19 XP-class machines (first shipped July 2022).

Starting mix (when the scenario gives none): the classes released before ``as_of`` share the
fleet with weights ``exp(−age / 2 years)``, age counted from each class's first sales. Reasoning:
deliveries grow over time and machines retire within a few years (CCAF's CBECI v1.2 caps a
machine's life at five years), so newer classes dominate the hashrate; the 2-year scale puts about
half of the mid-2021 fleet in the S19 class, in line with the "mostly S19-class" fleet descriptions
of that time, while the scale is a judgement, not a fit to later data.

Calibration to the observed layer (``initial.fleet_mix``, default ``cbeci``): the age mix alone
puts the fleet of May 2021 at about 48 J/TH, while CCAF's CBECI best guess (the equal-weight mean
of the machines profitable at 0.05 USD/kWh, :func:`hashshift.energy.cbeci`) puts it near 70 J/TH,
so a run would start a third below the power `hashshift energy` reports for the same month. The
engine therefore tilts the age mix to the CBECI figure of the last month public before ``as_of``:
of all mixes with that mean efficiency it takes the one closest to the age mix in relative entropy
(an exponential tilt, ``share ∝ age weight × exp(λ × efficiency)``; Csiszár 1975,
doi:10.1214/aop/1176996454). ``cbeci_lower`` and ``cbeci_upper`` target CBECI's bounds instead
(with their PUE), ``age`` keeps the untilted mix. A target outside the classes' range is clamped to
the nearest class and the run's notes say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from .scenario import MachineClass

__all__ = ["DEFAULT_CLASSES", "FLEET_MIXES", "ClassSet", "Calibration", "calibrate_mix",
           "cbeci_target_j_th", "class_set", "tilt_to_mean"]

#: ``initial.fleet_mix`` values: the CBECI series a run's starting fleet reproduces, or ``age``.
FLEET_MIXES: dict[str, str | None] = {"cbeci": "guess", "cbeci_lower": "lower",
                                      "cbeci_upper": "upper", "age": None}

#: (class name, efficiency [J/TH], the catalogue machine whose first shipments date it)
DEFAULT_CLASSES: tuple[tuple[str, float, str], ...] = (
    ("S9 class", 98.0, "Antminer S9"),
    ("S11/T17 class", 62.0, "Antminer S11"),
    ("S17/M20 class", 45.0, "Antminer S17"),
    ("S19/M30 class", 34.0, "Antminer S19"),
    ("S19 XP/M50 class", 22.0, "Antminer S19 XP"),
    ("S21/M60 class", 17.5, "Antminer S21"),
    ("S21 XP class", 13.5, "Antminer S21 XP"),
)
AGE_SCALE_YEARS = 2.0


@dataclass(frozen=True)
class ClassSet:
    """Efficiency classes with their release dates and initial fleet shares."""

    names: tuple[str, ...]
    efficiency_j_th: np.ndarray  # (classes)
    release: tuple[date | None, ...]
    initial_share: np.ndarray  # (classes), sums to 1

    def released_by(self, day: date) -> np.ndarray:
        """Boolean (classes): classes on sale by ``day``."""
        return np.array([r is None or r <= day for r in self.release])


def class_set(classes: list[MachineClass] | None, as_of: date) -> ClassSet:
    """The scenario's classes, or the default classes known on ``as_of`` (their dating machine
    shipped by then) with the age-weighted starting mix."""
    if classes is not None:
        shares = np.array([c.share_pct for c in classes], dtype=float)
        return ClassSet(
            tuple(c.name for c in classes),
            np.array([c.efficiency_j_th for c in classes], dtype=float),
            tuple(c.release for c in classes),
            shares / shares.sum(),
        )
    from ..hardware import catalogue

    shipped = catalogue(as_of=as_of).set_index("model")["release_date"]
    known = [(n, e, pd.Timestamp(shipped[m]).date()) for n, e, m in DEFAULT_CLASSES
             if m in shipped.index]
    if not known:
        raise ValueError(f"no default machine class was on sale by {as_of}")
    names = tuple(n for n, _, _ in known)
    eff = np.array([e for _, e, _ in known])
    rel = tuple(r for _, _, r in known)
    age_years = np.array([(as_of - r).days / 365.25 for r in rel])
    w = np.where(age_years >= 0, np.exp(-np.clip(age_years, 0, None) / AGE_SCALE_YEARS), 0.0)
    if w.sum() == 0:
        raise ValueError(f"no default machine class was on sale by {as_of}")
    return ClassSet(names, eff, rel, w / w.sum())


def tilt_to_mean(prior: np.ndarray, values: np.ndarray, target: float) -> np.ndarray:
    """Shares closest to ``prior`` in relative entropy whose mean of ``values`` is ``target``.

    The minimum-divergence solution is the exponential tilt ``prior × exp(λ × values)``
    (Csiszár 1975, doi:10.1214/aop/1176996454); λ is found by bisection, since the tilted mean
    rises monotonically with λ. A target outside the range of ``values`` (over the classes with
    prior weight) gives all weight to the nearest extreme.

    Parameters
    ----------
    prior : array — [share] prior weights (n), ≥ 0, not all zero
    values : array — [J/TH] class efficiencies (n)
    target : float — [J/TH] wanted share-weighted mean
    """
    w = np.asarray(prior, dtype=float)
    x = np.asarray(values, dtype=float)
    if w.shape != x.shape or w.ndim != 1:
        raise ValueError(f"prior {w.shape} and values {x.shape} must be 1-d of one length")
    if np.any(w < 0) or w.sum() <= 0:
        raise ValueError("prior weights must be >= 0 and not all zero")
    if not np.isfinite(target):
        raise ValueError(f"target = {target!r} is not a finite number")
    on = w > 0
    lo, hi = float(x[on].min()), float(x[on].max())
    if target <= lo or target >= hi:
        edge = lo if target <= lo else hi
        out = np.where(on & (x == edge), w, 0.0)
        return out / out.sum()
    z = (x - x[on].mean()) / (hi - lo)  # scaled so that λ stays in a modest range

    def mean_at(lam: float) -> float:
        a = lam * z[on]
        p = w[on] * np.exp(a - a.max())
        return float(np.dot(p, x[on]) / p.sum())

    a_lo, a_hi = -1.0, 1.0
    while mean_at(a_lo) > target:
        a_lo *= 2.0
    while mean_at(a_hi) < target:
        a_hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (a_lo + a_hi)
        if mean_at(mid) < target:
            a_lo = mid
        else:
            a_hi = mid
        if a_hi - a_lo < 1e-12:
            break
    lam = 0.5 * (a_lo + a_hi)
    a = np.where(on, lam * z, -np.inf)
    p = np.where(on, w * np.exp(a - a[on].max()), 0.0)
    return p / p.sum()


def cbeci_target_j_th(market: pd.DataFrame, as_of: date, bound: str, pue: float,
                      uptime: float = 1.0) -> tuple[float, dict[str, Any]]:
    """Machine-level efficiency [J/TH] at which a fleet with PUE ``pue`` draws CBECI's power of
    the last month public before ``as_of`` (``bound``: lower, guess or upper).

    CBECI power = e_bound × H × PUE_bound (CCAF methodology, :func:`hashshift.energy.cbeci`).
    The engine's running machines draw e × PUE each and hash ``uptime`` of the time, so per
    unit of observed hashing they draw e × PUE / uptime; equal to CBECI's when
    e = e_bound × PUE_bound × uptime / pue.

    Parameters
    ----------
    market : DataFrame — the monthly market table as known on ``as_of``
    as_of : date — the run's start
    bound : str — lower, guess or upper
    pue : float — [ratio] the engine's power usage effectiveness
    uptime : float — [share] of running machines hashing
    """
    from ..cbeci import run_cbeci
    from ..energy import PUE
    from ..hardware import catalogue

    if market.empty:
        raise ValueError(f"no monthly market data were public on {as_of}")
    table = run_cbeci(market=market, machines=catalogue(as_of=as_of))
    row = table.iloc[-1]
    power = float(row[f"power_{bound}_gw"])
    h = float(row["hashrate_ehs"])
    target = power * 1e9 / (h * 1e6) * uptime / pue
    info = {"month": f"{pd.Timestamp(row['date']):%Y-%m}", "bound": bound,
            "cbeci_power_gw": power, "cbeci_hashrate_ehs": h,
            "cbeci_efficiency_j_th": float(row[f"{bound}_j_th"]), "cbeci_pue": PUE[bound],
            "target_j_th": target}
    return target, info


@dataclass(frozen=True)
class Calibration:
    """How a run's starting mix was set: the target, what the classes reached, the source."""

    mix: str
    target_j_th: float | None
    reached_j_th: float
    info: dict[str, Any]

    def note(self) -> str:
        """One sentence for the run's notes."""
        if self.target_j_th is None:
            return f"starting mix by age (exp(-age / {AGE_SCALE_YEARS:g} years)): " \
                   f"{self.reached_j_th:.1f} J/TH"
        i = self.info
        text = (f"starting mix tilted to CBECI's {i['bound']} for {i['month']} "
                f"({i['cbeci_power_gw']:.2f} GW at {i['cbeci_hashrate_ehs']:.1f} EH/s, "
                f"{i['cbeci_efficiency_j_th']:.1f} J/TH at PUE {i['cbeci_pue']:.2f}): "
                f"target {self.target_j_th:.1f} J/TH at the run's PUE and uptime, reached "
                f"{self.reached_j_th:.1f} J/TH")
        if abs(self.reached_j_th - self.target_j_th) > 1e-6 * self.target_j_th:
            text += " (the target lies outside the classes' range: clamped)"
        return text


def calibrate_mix(classes: ClassSet, mix: str, market: pd.DataFrame, as_of: date, pue: float,
                  uptime: float = 1.0) -> tuple[ClassSet, Calibration]:
    """The default classes' starting shares calibrated as ``mix`` says (module docstring).

    Parameters
    ----------
    classes : ClassSet — the default classes with their age mix
    mix : str — one of :data:`FLEET_MIXES`
    market : DataFrame — the monthly market table as known on ``as_of``
    as_of : date — the run's start
    pue : float — [ratio] the engine's power usage effectiveness
    uptime : float — [share] of running machines hashing
    """
    if mix not in FLEET_MIXES:
        raise ValueError(f"initial.fleet_mix = {mix!r} is not known (allowed: "
                         f"{', '.join(FLEET_MIXES)})")
    bound = FLEET_MIXES[mix]
    if bound is None:
        reached = float(np.dot(classes.initial_share, classes.efficiency_j_th))
        return classes, Calibration(mix, None, reached, {})
    target, info = cbeci_target_j_th(market, as_of, bound, pue, uptime)
    share = tilt_to_mean(classes.initial_share, classes.efficiency_j_th, target)
    reached = float(np.dot(share, classes.efficiency_j_th))
    out = ClassSet(classes.names, classes.efficiency_j_th, classes.release, share)
    return out, Calibration(mix, target, reached, info)
