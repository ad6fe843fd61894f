"""Mining pools: the share of blocks each pool found, from mempool.space through the store.

hashshift bundles no pool data. ``hashshift data update --pools`` fetches mempool.space's
``GET /api/v1/mining/pools/:period`` (:func:`hashshift.sources.mempool.parse_pools`) for a few
periods and stores each answer as one snapshot (``pool_shares``: period, the time it was fetched,
one row per pool). This module reads the newest snapshot of a period; without one it says what
would give one (:data:`NO_POOL_DATA`) instead of showing anything.

A pool's share of blocks estimates its share of the hashrate: over ``n`` blocks the share ``k/n``
has a binomial error of about ``sqrt(p (1 − p) / n)`` (a pool with 30 % of 144 blocks in a day:
±3.8 points); mempool attributes blocks to pools from coinbase tags and payout addresses, and
blocks it cannot attribute are listed as ``unknown``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .sources.mempool import PERIODS, POOL_COLUMNS
from .sources.pit import as_of_day

if TYPE_CHECKING:
    from .store import Store

__all__ = ["DEFAULT_PERIODS", "NO_POOL_DATA", "PERIODS", "pool_periods", "pool_shares",
           "top_pools"]

#: What to run when the store holds no pool shares.
NO_POOL_DATA = ("no pool data in the store: run `hashshift data update --pools` with network "
                "access (it fetches mempool.space's pool shares into the local store)")

#: Periods ``hashshift data update --pools`` fetches unless told otherwise.
DEFAULT_PERIODS = ("24h", "1w", "1m", "1y")

_COLUMNS = [*POOL_COLUMNS, "source", "fetched_at"]


def _check_period(period: str) -> str:
    if period not in PERIODS:
        raise ValueError(f"period {period!r} is not one of mempool's periods "
                         f"({', '.join(PERIODS)})")
    return period


def _snapshots(store: Store, period: str | None, as_of: Any) -> pd.DataFrame:
    """The newest snapshot per period fetched by the end of the day ``as_of`` (a snapshot is
    known from the day it was fetched; all snapshots without ``as_of``)."""
    day = as_of_day(as_of)
    before = None if day is None else pd.Timestamp(day, tz="UTC") + pd.Timedelta(days=1)
    df = store.pool_shares(period, before=before)
    if df.empty:
        return pd.DataFrame(columns=_COLUMNS)
    df = df.rename(columns={"location": "source"})
    df["as_of"] = pd.to_datetime(df["as_of"], utc=True)
    df["fetched_at"] = pd.to_datetime(df["fetched_at"], utc=True)
    return df[_COLUMNS].reset_index(drop=True)


def pool_periods(store: Store, *, as_of: Any = None) -> list[str]:
    """Periods with a stored snapshot, in mempool's order (24h … all)."""
    have = set(_snapshots(store, None, as_of)["period"])
    return [p for p in PERIODS if p in have]


def pool_shares(store: Store, period: str | None = None, *, as_of: Any = None
                ) -> pd.DataFrame:
    """The newest stored pool shares of ``period`` (default: ``1w`` when stored, else the
    shortest stored period): one row per pool, most blocks first.

    Columns: ``period``, ``as_of`` [UTC] (the end of the period: when mempool was asked),
    ``rank``, ``pool_slug``, ``pool_name``, ``blocks`` [blocks], ``empty_blocks`` [blocks],
    ``share_pct`` [% of the period's blocks], ``period_blocks`` [blocks], ``source`` (the URL
    fetched), ``fetched_at`` [UTC]. An empty frame when the store holds none: its
    ``attrs["note"]`` is :data:`NO_POOL_DATA`; ``attrs["periods"]`` lists the stored periods.
    """
    if period is not None:
        _check_period(period)
    periods = pool_periods(store, as_of=as_of)
    if period is None:
        period = "1w" if "1w" in periods else (periods[0] if periods else None)
    df = pd.DataFrame(columns=_COLUMNS) if period is None else _snapshots(store, period, as_of)
    note = ""
    if df.empty:
        note = NO_POOL_DATA if not periods else (
            f"no pool shares for the period {period!r} in the store (stored: "
            f"{', '.join(periods)}); run `hashshift data update --pools --pool-periods "
            f"{period}` with network access")
    df.attrs = {"period": period, "periods": periods, "note": note}
    return df


def top_pools(shares: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """The ``n`` pools with the most blocks and one row ``other pools (k)`` with the ``k``
    others (``rank`` missing, ``pool_slug`` ``"other"``, ``blocks``, ``empty_blocks`` and
    ``share_pct`` summed; left out when there are no others): columns ``rank``,
    ``pool_name``, ``pool_slug``, ``blocks``, ``empty_blocks``, ``share_pct``."""
    if n < 1:
        raise ValueError(f"n = {n} is not allowed (allowed: >= 1)")
    cols = ["rank", "pool_name", "pool_slug", "blocks", "empty_blocks", "share_pct"]
    df = shares.sort_values("rank", kind="stable")[cols].reset_index(drop=True)
    df["rank"] = df["rank"].astype("Int64")
    if len(df) <= n:
        return df
    rest = df.iloc[n:]
    other = pd.DataFrame({"rank": pd.array([pd.NA], dtype="Int64"),
                          "pool_name": [f"other pools ({len(rest)})"], "pool_slug": ["other"],
                          "blocks": [int(rest["blocks"].sum())],
                          "empty_blocks": [int(rest["empty_blocks"].sum())],
                          "share_pct": [float(np.sum(rest["share_pct"].to_numpy(float)))]})
    return pd.concat([df.iloc[:n], other], ignore_index=True)
