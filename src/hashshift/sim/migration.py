"""Where displaced and new machines go, and when they arrive.

Destination choice is a multinomial logit (McFadden 1974, "Conditional logit analysis of
qualitative choice behavior"): the share going to destination ``d`` is ``exp(U_d) / Σ exp(U)``
with

    U_d = β_price · price_d + β_risk · risk_d + β_presence · ln(1 + share_d[%])
          + β_distance · distance_km / 1000 + ln(free capacity_d [MW])

over destinations open to new machines (no announced ban). The capacity term makes the choice
proportional to the room a destination has, the other terms shift it: cheap power, low policy
risk, an existing mining community (hosting firms, know-how), and nearness (shipping, customs).
The default weights (``Migration`` in the scenario) are judgements stated in docs/engine.md, not
fits to what happened after any scenario's ``as_of``.

Logistics delays are lognormal (median and spread from the scenario; each path draws its own
median from a lognormal around it). Machines in transit are kept by the week they left in, so
memory stays ``paths × regions × classes`` per week with departures, and arrive at the start of
a week; they then
wait in a queue until the destination has room (its capacity grows every month, and hosts build
for machines that wait).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["DelayPipeline", "fit_delay_median_days", "logit_shares"]


def logit_shares(utility: np.ndarray, open_mask: np.ndarray, axis: int = -1) -> np.ndarray:
    """Choice shares from utilities over the open destinations (others get 0), the
    destinations along ``axis`` (the last by default).

    Rows with no open destination get all zeros.
    """
    u = np.where(open_mask, utility, -np.inf)
    top = np.max(u, axis=axis, keepdims=True)
    top[~np.isfinite(top)] = 0.0
    u -= top
    w = np.exp(u, out=u)  # exp(-inf) = 0 where closed
    tot = w.sum(axis=axis, keepdims=True)
    if tot.all():
        return np.divide(w, tot, out=w)
    return np.divide(w, tot, out=np.zeros_like(w), where=tot > 0)


def lognormal_cdf(x: np.ndarray, sigma: float, median: np.ndarray) -> np.ndarray:
    """P(X ≤ x) of a lognormal with log standard deviation ``sigma`` [1] and ``median``:
    ``Φ(ln(x / median) / sigma)`` (what ``scipy.stats.lognorm.cdf(x, sigma, scale=median)``
    computes, without importing scipy.stats)."""
    from scipy.special import ndtr

    with np.errstate(divide="ignore"):
        return np.asarray(ndtr(np.log(x / median) / sigma))


def fit_delay_median_days(done: Any, sigma: float, month_days: Any) -> float:
    """Median [days] of a lognormal delay with log standard deviation ``sigma`` [1] whose CDF,
    averaged over each month after a switch on day 0, best matches ``done``: the share of a move
    completed in each month's mean [0-1], as a monthly map shows it (least squares over medians
    from 1 to 365 days on a 0.5-day grid).

    Parameters
    ----------
    done : sequence of float — share of the move completed in months 1, 2, … [0-1]
    sigma : float — log standard deviation of the delay [1]
    month_days : sequence of int — the months' lengths [days], same length as ``done``
    """
    d = np.asarray(done, dtype=float)
    m = np.asarray(month_days, dtype=int)
    if d.ndim != 1 or d.shape != m.shape or not d.size:
        raise ValueError(f"done {d.shape} and month_days {m.shape} must be 1-d, alike, not empty")
    if not np.isfinite(d).all() or (m < 1).any() or not (np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"done = {d.tolist()}, month_days = {m.tolist()}, sigma = {sigma!r}: "
                         "allowed are finite shares, months of ≥ 1 day and sigma > 0")
    edges = np.concatenate(([0], np.cumsum(m)))
    grid = np.arange(1.0, 365.5, 0.5)
    days = np.arange(edges[-1]) + 0.5  # the middle of each day
    cdf = lognormal_cdf(days[None, :], sigma, grid[:, None])
    means = np.stack([cdf[:, a:b].mean(axis=1) for a, b in zip(edges[:-1], edges[1:],
                                                                   strict=True)], axis=1)
    return float(grid[np.argmin(((means - d) ** 2).sum(axis=1))])


class DelayPipeline:
    """Machines in transit [EH/s]: what left in each week (regions × classes × paths each),
    arriving over the following weeks by each path's delay distribution.

    Departures on the days of one week add into that week's cohort; the machines due in week
    ``w`` are ``Σ_d left[d] · P(arrive in week w − d)``, one contraction over the cohorts when
    they are due. Memory and work grow with the weeks in which machines leave (a ban's ramp: a
    few), not with the days; a cohort is dropped after its last week. Machines that leave
    after their week's arrivals were collected and would arrive within that week arrive with
    the next week's.
    """

    def __init__(self, paths: int, regions: int, classes: int, median_days: np.ndarray,
                 sigma: float, max_weeks: int = 52):
        self.weeks = max_weeks
        # Probability that a machine leaving in a given week arrives in week k after it (k ≥ 0),
        # for each path's median; the tail beyond the last week arrives in the last week.
        edges = np.arange(max_weeks + 1) * 7.0
        cdf = lognormal_cdf(edges[None, :], sigma, np.asarray(median_days)[:, None])
        cdf[:, -1] = 1.0
        # weeks × paths, and a row of zeros for weeks outside the window
        pdf = np.diff(cdf, axis=1).T
        self.week_pdf = np.zeros((max_weeks + 1, paths), dtype=np.float32)
        self.week_pdf[:max_weeks] = pdf
        self._shape = (regions, classes, paths)
        # cohorts in transit (at most one per week of the window): allocated when the first
        # machines leave, zero pages until used, so memory grows with the cohorts alive
        self._stack: np.ndarray | None = None
        self._left_week: list[int] = []  # the departure week of each cohort in the stack
        # what the cohort of the week last collected held then (machines that had left on
        # its first day): the rest left after its own week's arrivals were collected
        self._early: tuple[int, np.ndarray | None] = (-1, None)
        self.total = np.zeros(paths)  # (paths) EH/s in transit

    def depart(self, day: int, flows: np.ndarray, total: np.ndarray | None = None) -> None:
        """Machines (regions × classes × paths) leave on ``day``; they arrive in the weeks that
        follow. ``total``: their sum per path, when the caller has it."""
        week = day // 7
        if self._stack is None:
            self._stack = np.zeros((self.weeks + 1, *self._shape), dtype=np.float32)
        if week in self._left_week:
            self._stack[self._left_week.index(week)] += flows
        else:
            n = len(self._left_week)
            if n == len(self._stack):
                raise RuntimeError("machines left in more weeks than the delay window holds: "
                                   "call arrive() once a week")
            self._stack[n] = flows
            self._left_week.append(week)
        self.total += flows.sum(axis=(0, 1), dtype=float) if total is None else total

    def arrive(self, day: int, out: np.ndarray | None = None) -> np.ndarray | None:
        """Machines (regions × classes × paths) due in the week that starts on ``day`` (a
        multiple of 7), or ``None`` when nothing is due; ``out``: an array to put them in.
        Call it once a week, after that day's departures."""
        week = day // 7
        n = len(self._left_week)
        if n == 0 or self._stack is None:
            return None
        k = week - np.array(self._left_week)  # weeks since each cohort left
        k = np.where((k >= 0) & (k < self.weeks), k, self.weeks)  # outside: the zero row
        weights = self.week_pdf[k]  # cohorts × paths (a copy)
        early_week, early = self._early
        late = np.flatnonzero(k == 1)  # last week's cohort: what left after its collection
        if late.size:  # ... was due in that week: it comes now
            weights[late[0]] += self.week_pdf[0]
        arrived = np.einsum("drcp,dp->rcp", self._stack[:n], weights, out=out)
        if late.size and early is not None and early_week == week - 1:
            arrived -= early * self.week_pdf[0]  # (what had left by then came then)
        now = np.flatnonzero(k == 0)  # this week's cohort so far: left before this collection
        self._early = (week, self._stack[now[0]].copy() if now.size else None)
        for j in sorted(np.flatnonzero(k >= self.weeks - 1).tolist(), reverse=True):
            if week - self._left_week[j] >= self.weeks - 1:  # all of it has arrived
                last = len(self._left_week) - 1
                self._stack[j] = self._stack[last]
                self._left_week[j] = self._left_week[last]
                self._left_week.pop()
        self.total = np.maximum(self.total - arrived.sum(axis=(0, 1), dtype=float), 0.0)
        return arrived

    @property
    def in_transit_total(self) -> np.ndarray:
        """Machines (paths) still travelling, all destinations and classes [EH/s]."""
        return self.total
