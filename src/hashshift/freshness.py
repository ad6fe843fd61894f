"""How far each bundled dataset reaches, and how old that is today.

One row per dataset a user meets (the chain's epochs and daily block counts, the monthly market
table, CCAF's published map, the nowcast of the map after it, the natural experiments): the
first and last day it covers, the day its newest fact became public, and its age today in days.
The README, ``hashshift data status``, the dashboard's footer and the report all print this
table; nothing else computes these dates.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pandas as pd

__all__ = ["FRESHNESS_COLUMNS", "extrapolated", "freshness", "newest_day", "nowcast_reach"]

FRESHNESS_COLUMNS = ["dataset", "what", "resolution", "first", "last", "public", "age_days",
                     "source"]


def _day(x: Any) -> date:
    ts = pd.Timestamp(x)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.date()


def _rows() -> list[dict[str, Any]]:
    """The bundled datasets' reach (without ages)."""
    from . import events, geography, history
    from .sources.bundled_chain import read_blocks_daily
    from .sources.bundled_observed import read_market_monthly

    out: list[dict[str, Any]] = []
    ep = history.epochs()
    newest = ep.iloc[-1]
    last_block = max(t for t in (newest["first_time"], newest["last_time"]) if pd.notna(t))
    out.append({"dataset": "chain_epochs",
                "what": "difficulty and retargets per 2016-block epoch (to epoch "
                        f"{int(newest['epoch'])}, block {int(newest['first_height']):,}+)",
                "resolution": "epoch", "first": _day(ep["first_time"].iloc[0]),
                "last": _day(last_block),
                "public": _day(last_block) + pd.Timedelta(days=1),
                "source": str(ep.attrs.get("source", "bundled epochs"))})
    blocks = read_blocks_daily()
    b_last = _day(blocks["date"].max())
    out.append({"dataset": "chain_daily", "what": "blocks mined per UTC day",
                "resolution": "day", "first": _day(blocks["date"].min()), "last": b_last,
                "public": b_last + pd.Timedelta(days=1),
                "source": str(blocks.attrs.get("source", "bundled daily block counts"))})
    mk = read_market_monthly()
    m_last = pd.Timestamp(mk["date"].max())
    out.append({"dataset": "market", "what": "BTC price, fees and miners' revenue (monthly "
                "means)", "resolution": "month", "first": _day(mk["date"].min()),
                "last": _day(m_last + pd.offsets.MonthEnd(0)),
                "public": _day(m_last + pd.offsets.MonthBegin(1)),
                "source": str(mk.attrs.get("source", "bundled market table"))})
    mm = geography.mining_map()
    c_last = pd.Timestamp(mm.loc[mm["level"] == "country", "date"].max())
    out.append({"dataset": "map", "what": "CCAF mining map, observed (countries; China's "
                "provinces to 2021-07)", "resolution": "month", "first": _day(mm["date"].min()),
                "last": _day(c_last + pd.offsets.MonthEnd(0)),
                "public": _day(mm["published"].max()), "source": geography.SOURCE})
    cat = events.catalogue()
    out.append({"dataset": "events", "what": f"natural experiments ({len(cat)} events: "
                "regions whose miners stopped on known dates)", "resolution": "event",
                "first": _day(cat["during_start"].min()), "last": _day(cat["during_end"].max()),
                "public": _day(max(cat["public"].max(),
                                   cat["during_end"].max().tz_localize(None).ceil("D")
                                   + pd.Timedelta(days=1))),
                "source": str(cat.attrs.get("source", "bundled events"))})
    return out


def newest_day() -> date:
    """The day on which every bundled dataset was public: the newest publication day among
    them. "As known on the newest bundled day" means as of this day."""
    return max(r["public"] for r in _rows())


def nowcast_reach(as_of: Any = None) -> pd.Timestamp:
    """The last month the nowcast as known on ``as_of`` covers (default: :func:`newest_day`):
    the month of the newest daily block count public then."""
    from .sources.bundled_chain import read_blocks_daily
    from .sources.pit import as_of_day

    day = as_of_day(as_of) or newest_day()
    d = read_blocks_daily(as_of=day)
    if d.empty:
        raise ValueError(f"no chain data were public on {day}")
    return pd.Timestamp(d["date"].max()).to_period("M").to_timestamp()


def freshness(today: Any = None) -> pd.DataFrame:
    """One row per bundled dataset (columns :data:`FRESHNESS_COLUMNS`): ``first`` and ``last``
    day covered, ``public`` (the day its newest fact became public), ``age_days`` [days] from
    ``last`` to ``today`` (default: today, UTC). The ``nowcast`` row is the map nowcast as
    known on :func:`newest_day`: months to that of the newest daily block count, its evidence
    to that day."""
    now = _day(today) if today is not None else datetime.now(UTC).date()
    rows = _rows()
    day = max(r["public"] for r in rows)
    reach = nowcast_reach(day)
    chain_last = next(r for r in rows if r["dataset"] == "chain_daily")["last"]
    map_last = next(r for r in rows if r["dataset"] == "map")["last"]
    rows.insert(4, {"dataset": "nowcast",
                    "what": f"mining map nowcast with 90 % intervals, months to {reach:%Y-%m}, "
                            f"as known on {day}",
                    "resolution": "month",
                    "first": map_last + pd.Timedelta(days=1),
                    "last": min(chain_last, _day(reach + pd.offsets.MonthEnd(0))),
                    "public": day,
                    "source": "hashshift.nowcast (CCAF's last map, its dynamics and the chain's "
                              "natural experiments)"})
    df = pd.DataFrame(rows)
    for c in ("first", "last", "public"):
        df[c] = [_day(x) for x in df[c]]
    df["age_days"] = [(now - d).days for d in df["last"]]
    df.attrs["today"] = str(now)
    df.attrs["newest_day"] = str(day)
    return df[FRESHNESS_COLUMNS]


def extrapolated(as_of: Any) -> list[dict[str, str]]:
    """What a run starting on ``as_of`` extrapolates because a bundled dataset ends before that
    day: one ``{"dataset", "note"}`` per dataset that does (empty when all reach it)."""
    from .sources.pit import as_of_day

    day = as_of_day(as_of)
    if day is None:
        raise ValueError("as_of is required")
    rows = {r["dataset"]: r for r in _rows()}
    out: list[dict[str, str]] = []

    def gap(key: str) -> int:
        return (day - rows[key]["last"]).days

    ep = rows["chain_epochs"]
    if gap("chain_epochs") > 1:
        out.append({"dataset": "chain_epochs", "note": (
            f"the newest bundled epoch began {ep['last']} ({gap('chain_epochs')} days before "
            f"{day}): the run's starting height and difficulty are those of that epoch, "
            "advanced at the last completed epoch's mean hashrate")})
    if gap("chain_daily") > 1:
        first = (pd.Timestamp(rows["chain_daily"]["last"]) + pd.offsets.MonthBegin(1))
        last = pd.Timestamp(day).to_period("M").to_timestamp() - pd.DateOffset(months=1)
        months = (f": the nowcast's months {first:%Y-%m} … {last:%Y-%m} rest on the map's own "
                  "dynamics, without chain evidence") if first <= last else ""
        out.append({"dataset": "chain_daily", "note": (
            f"the daily block counts end {rows['chain_daily']['last']} "
            f"({gap('chain_daily')} days before {day}){months}")})
    if gap("market") > 31:
        out.append({"dataset": "market", "note": (
            f"the market table ends {rows['market']['last']:%Y-%m} ({gap('market')} days before "
            f"{day}): the price, fees and hashprice the run starts from are those of its last "
            "months")})
    return out
