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
median from a lognormal around it). Machines in transit are kept in weekly buckets, so memory
stays ``paths × regions × classes × weeks``, and arrive at the start of their week; they then
wait in a queue until the destination has room (its capacity grows every month, and hosts build
for machines that wait).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["DelayPipeline", "logit_shares"]


def logit_shares(utility: np.ndarray, open_mask: np.ndarray) -> np.ndarray:
    """Choice shares from utilities [..., D] over the open destinations (others get 0).

    Rows with no open destination get all zeros.
    """
    u = np.where(open_mask, utility, -np.inf)
    top = np.max(u, axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    w = np.where(open_mask, np.exp(u - top), 0.0)
    tot = w.sum(axis=-1, keepdims=True)
    return np.divide(w, tot, out=np.zeros_like(w), where=tot > 0)


class DelayPipeline:
    """Machines in transit, by arrival week: ``buckets[W, P, R, C]`` [EH/s]."""

    def __init__(self, paths: int, regions: int, classes: int, median_days: np.ndarray,
                 sigma: float, max_weeks: int = 52):
        self.weeks = max_weeks
        self.buckets = np.zeros((max_weeks, paths, regions, classes), dtype=np.float32)
        # Probability that a machine leaving on a given day arrives in week k after it (k ≥ 0),
        # for each path's median; the tail beyond the last week arrives in the last week.
        edges = np.arange(max_weeks + 1) * 7.0
        cdf = stats.lognorm.cdf(edges[None, :], s=sigma, scale=median_days[:, None])
        cdf[:, -1] = 1.0
        self.week_pdf = np.diff(cdf, axis=1).astype(np.float32)  # (paths × weeks)
        self._used_weeks = np.flatnonzero(self.week_pdf.max(axis=0) > 1e-6)
        self._full = np.zeros(max_weeks, dtype=bool)  # slots that hold machines
        self.total = np.zeros(paths)  # (paths) EH/s in transit

    def depart(self, day: int, flows: np.ndarray) -> None:
        """Machines (paths × regions × classes) leave on ``day``; they arrive in the weeks that
        follow."""
        if not np.any(flows):
            return
        base = day // 7
        self.total += flows.sum(axis=(1, 2))
        f32 = flows.astype(np.float32)
        for k in self._used_weeks.tolist():
            slot = (base + k) % self.weeks
            self.buckets[slot] += f32 * self.week_pdf[:, k, None, None]
            self._full[slot] = True

    def arrive(self, day: int) -> np.ndarray | None:
        """Machines (paths × regions × classes) due in the week that starts on ``day`` (a
        multiple of 7), or
        ``None`` when nothing is due. Call it once a week."""
        slot = (day // 7) % self.weeks
        if not self._full[slot]:
            return None
        arrived = self.buckets[slot].astype(float)
        self.buckets[slot] = 0.0
        self._full[slot] = False
        self.total = np.maximum(self.total - arrived.sum(axis=(1, 2)), 0.0)
        return arrived

    @property
    def in_transit(self) -> np.ndarray:
        """Machines (paths × regions × classes) still travelling."""
        return self.buckets.sum(axis=0, dtype=float)

    @property
    def in_transit_total(self) -> np.ndarray:
        """Machines (paths) still travelling, all destinations and classes [EH/s]."""
        return self.total
