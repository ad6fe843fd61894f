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
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from .scenario import MachineClass

__all__ = ["DEFAULT_CLASSES", "ClassSet", "class_set"]

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
