"""Proper scoring rules for forecasts: one place for the scores the nowcast and the backtests
report next to their coverage, so that a wider band is not automatically better.

- :func:`crps_samples`: the continuous ranked probability score of a Monte Carlo sample
  (Gneiting & Raftery 2007, "Strictly proper scoring rules, prediction, and estimation",
  JASA 102(477), doi:10.1198/016214506000001437): ``E|X − y| − ½ E|X − X'|``.
- :func:`interval_score` and :func:`weighted_interval_score`: the score of central prediction
  intervals and its weighted sum over several intervals plus the median (Bracher, Ray, Gneiting
  & Reich 2021, "Evaluating epidemic forecasts in an interval format", PLoS Comput Biol 17(2):
  e1008618, doi:10.1371/journal.pcbi.1008618, eqs. 1-2). The WIS approximates the CRPS when a
  forecast is given as quantiles only (the engine's epochs: 5, 25, 50, 75 and 95 %).

All scores are in the unit of the forecast quantity and negatively oriented (lower is better).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["crps_samples", "interval_score", "weighted_interval_score"]


def crps_samples(samples: np.ndarray, y: float) -> float:
    """CRPS of the empirical distribution of ``samples`` for the outcome ``y``.

    Parameters
    ----------
    samples : array — draws of the forecast quantity [its unit]
    y : float — what happened [same unit]

    Returns
    -------
    float — the score [same unit]; for a point forecast it is the absolute error.
    """
    x = np.sort(np.asarray(samples, dtype=float).ravel())
    n = x.size
    if n == 0:
        raise ValueError("crps_samples needs at least one sample")
    e1 = float(np.mean(np.abs(x - y)))
    # E|X − X'| from the sorted sample in O(n)
    e2 = float(2.0 * np.sum((2 * np.arange(1, n + 1) - n - 1) * x) / (n * n))
    return e1 - 0.5 * e2


def interval_score(lower: float, upper: float, y: float, alpha: float) -> float:
    """Score of the central (1 − ``alpha``) prediction interval [``lower``, ``upper``]:
    its width plus ``2/alpha`` times the distance by which ``y`` falls outside.

    Parameters
    ----------
    lower, upper : float — the interval's ends [unit of the forecast]
    y : float — what happened [same unit]
    alpha : float — [share] 1 − the interval's level, e.g. 0.1 for a 90 % interval
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if upper < lower:
        raise ValueError(f"interval upper end {upper} is below its lower end {lower}")
    below = max(lower - y, 0.0)
    above = max(y - upper, 0.0)
    return (upper - lower) + 2.0 / alpha * (below + above)


def weighted_interval_score(median: float, intervals: Mapping[float, tuple[float, float]],
                            y: float) -> float:
    """Weighted interval score of a forecast given as its median and central intervals.

    Parameters
    ----------
    median : float — the forecast's median [unit of the forecast]
    intervals : mapping — ``alpha`` [share] -> (lower, upper) [unit], e.g.
        ``{0.5: (q25, q75), 0.1: (q05, q95)}``
    y : float — what happened [same unit]

    Returns
    -------
    float — ``(½|y − m| + Σ_k (α_k/2)·IS_α_k) / (K + ½)`` [same unit] (Bracher et al. 2021, eq. 2)
    """
    total = 0.5 * abs(y - median)
    for alpha, (lo, hi) in intervals.items():
        total += alpha / 2.0 * interval_score(lo, hi, y, alpha)
    return total / (len(intervals) + 0.5)
