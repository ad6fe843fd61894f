"""JSON views of the observed layer for the dashboard (pure functions of the bundled data).

Every function returns plain JSON-ready Python (lists, dicts, floats with NaN/inf as ``None``,
dates as ``YYYY-MM-DD`` strings) and is cached where its inputs are few. Errors the user can fix
(an unknown month or machine) raise :class:`NotFound` or :class:`BadInput` with a message that
names the parameter.
"""

from __future__ import annotations

import functools
import math
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from ..report.style import PROVINCE_SCALE, SHARE_SCALE

__all__ = [
    "BadInput",
    "NotFound",
    "economics_view",
    "emissions_view",
    "energy_view",
    "event_view",
    "events_view",
    "examples",
    "freshness_view",
    "hashprice_view",
    "history_view",
    "machines_view",
    "map_view",
    "nowcast_months",
    "nowcast_series",
    "nowcast_view",
    "overview",
    "pools_view",
    "retarget_projection",
    "regions_view",
    "retarget_view",
    "scenario_schema",
    "today",
]


class NotFound(LookupError):
    """An ID (month, machine, example …) that is not in the data; the message lists what is."""


class BadInput(ValueError):
    """A parameter value the data cannot answer for; ``field`` names the parameter."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def num(x: Any, digits: int = 7) -> float | None:
    """A float rounded to ``digits`` significant digits, ``None`` for NaN/inf/None."""
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(v):
        return None
    if v == 0.0:
        return 0.0
    return float(f"{v:.{digits}g}")


def nums(values: Any, digits: int = 7) -> list[float | None]:
    return [num(v, digits) for v in np.asarray(values, dtype=float).tolist()]


def days(values: Any) -> list[str]:
    """``YYYY-MM-DD`` strings of date-like values (UTC dates of aware times)."""
    idx = pd.DatetimeIndex(values)
    if idx.tz is not None:
        idx = idx.tz_convert("UTC").tz_localize(None)
    return [str(s) for s in idx.strftime("%Y-%m-%d")]


def _month_key(value: str) -> pd.Timestamp:
    try:
        if len(value) != 7 or value[4] != "-":
            raise ValueError
        return pd.Timestamp(f"{value}-01")
    except ValueError:
        raise BadInput("month", f"month {value!r}: use YYYY-MM, e.g. 2021-04") from None


# ---------------------------------------------------------------------------------------------
# history and the next retarget
# ---------------------------------------------------------------------------------------------
def history_key() -> str:
    """What :func:`history_view` depends on beyond the bundled data: the local store's
    fingerprint (it changes whenever the store is written)."""
    from ..store import Store

    return Store().fingerprint()


def history_view() -> dict[str, Any]:
    """Daily hashrate [EH/s] from block counts (bundled, or the local store's headers where they
    cover whole days) and from the epochs, and per-epoch difficulty and retargets."""
    return _history_view(history_key())


@functools.lru_cache(maxsize=2)
def _history_view(key: str) -> dict[str, Any]:
    return {"blocks_daily": _blocks_daily_view(key), **_history_fixed()}


def _blocks_daily_view(key: str) -> dict[str, Any]:
    from .. import history
    from ..store import Store, StoreError

    store = None if key == "absent" else Store(lock_timeout_s=1.0)
    note = None
    try:
        one = history.hashrate_daily(window_days=1, store=store)
        week = history.hashrate_daily(window_days=7, store=store)
    except StoreError as exc:  # busy or damaged: the bundled counts, and say why
        note = f"the local store could not be read ({exc}); bundled block counts only"
        one = history.hashrate_daily(window_days=1)
        week = history.hashrate_daily(window_days=7)
    week = week.set_index("date").reindex(one["date"])
    return {
        "date": days(one["date"]),
        "blocks": [int(x) for x in one["blocks"]],
        "hashrate_ehs": nums(one["hashrate_ehs"], 4),
        "hashrate_lo_ehs": nums(one["hashrate_lo_ehs"], 4),
        "hashrate_hi_ehs": nums(one["hashrate_hi_ehs"], 4),
        "hashrate_7d_ehs": nums(week["hashrate_ehs"], 4),
        "hashrate_7d_lo_ehs": nums(week["hashrate_lo_ehs"], 4),
        "hashrate_7d_hi_ehs": nums(week["hashrate_hi_ehs"], 4),
        "blocks_source": [str(x) for x in one["blocks_source"]],
        "sources": [{**r, "first": f"{r['first']:%Y-%m-%d}", "last": f"{r['last']:%Y-%m-%d}"}
                    for r in history.count_sources(one)],
        "store_note": note,
        "level": 0.90,
        "estimator": "blocks mined that UTC day (or the 7 days to it) × difficulty × 2^32 / "
                     "seconds; 90 % interval of the Poisson block count (Garwood)",
    }


@functools.cache
def _history_fixed() -> dict[str, Any]:
    from .. import history

    d = history.hashrate(freq="D")
    e = history.epochs()
    halvings = history.halvings()
    return {
        "daily": {
            "what": "the epoch estimate on each UTC day of its epoch (time-weighted where two "
                    "epochs meet in a day): one value per epoch, repeated; hashrate_lo_ehs / "
                    "hashrate_hi_ehs are the epoch's 95 % interval, not a daily interval "
                    "(blocks_daily has the daily estimates and their 90 % intervals)",
            "level": 0.95,
            "date": days(d["date"]),
            "hashrate_ehs": nums(d["hashrate_ehs"], 5),
            "hashrate_lo_ehs": nums(d["hashrate_lo_ehs"], 5),
            "hashrate_hi_ehs": nums(d["hashrate_hi_ehs"], 5),
        },
        "epochs": {
            "epoch": [int(x) for x in e["epoch"]],
            "first_height": [int(x) for x in e["first_height"]],
            "first_time": [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in e["first_time"]],
            "difficulty": nums(e["difficulty"]),
            "change_pct": nums(e["change_pct"], 5),
            "duration_days": nums(e["duration_s"].to_numpy(dtype=float) / 86400.0, 5),
            "hashrate_ehs": nums(e["hashrate_ehs"], 5),
        },
        "halvings": [{"halving": int(h), "height": int(n), "date": f"{pd.Timestamp(t):%Y-%m-%d}"}
                     for h, n, t in zip(halvings["halving"].tolist(),
                                        halvings["height"].tolist(), halvings["time"].tolist(),
                                        strict=True)],
        "source": "bundled epoch history (hashshift.history; Electrum checkpoints and block "
                  "headers, see hashshift/data/SOURCES.md)",
        "estimator": "per epoch: (n−1)·D·2^32 / T over the n = 2015 block intervals; 95 % "
                     "interval for the epoch from Gamma(n, 1); 'daily' repeats each epoch's "
                     "estimate and interval over its days (time-weighted where epochs meet)",
    }


@functools.cache
def hashprice_view() -> dict[str, Any]:
    """Hashprice and hashvalue per UTC day at the difficulty in force (price and fees: the
    month's means), and the monthly means from miners' revenue."""
    from .. import economics as ec
    from .. import history

    d = history.hashprice_daily()
    mk = _market()
    return {
        "daily": {"date": days(d["date"]),
                  "hashprice_usd_ph_day": nums(d["hashprice_usd_ph_day"], 5),
                  "hashvalue_btc_ph_day": nums(d["hashvalue_btc_ph_day"], 5),
                  "difficulty": nums(d["difficulty"], 6)},
        "monthly": {"date": days(mk["date"]),
                    "hashprice_usd_ph_day": nums(ec.hashprice_from_revenue_usd_ph_day(
                        mk["revenue_usd_day"].to_numpy(float),
                        mk["hashrate_ehs"].to_numpy(float)), 5)},
        "first": f"{d['date'].iloc[0]:%Y-%m-%d}", "last": f"{d['date'].iloc[-1]:%Y-%m-%d}",
        "basis": "daily: the difficulty in force (exact, time-weighted over the day) and the "
                 "subsidy (exact); the BTC price and fees per block are the month's means (the "
                 "bundled market table is monthly), so daily price moves are not in it. "
                 "Monthly: miners' revenue / hashrate (Coin Metrics).",
    }


def pools_view(period: str | None = None) -> dict[str, Any]:
    """The newest pool shares in the local store (:func:`hashshift.pools.pool_shares`): every
    pool, and the top 10 with the rest summed for the chart; without any, ``available`` false
    and ``note`` says what would give them."""
    from ..pools import pool_shares, top_pools
    from ..store import Store, StoreError

    try:
        df = pool_shares(Store(lock_timeout_s=1.0), period)
    except ValueError as exc:
        raise BadInput("period", str(exc)) from None
    except StoreError as exc:  # busy or damaged: say so, do not guess
        return {"available": False, "period": period, "periods": [], "pools": [], "top": [],
                "note": f"the local store could not be read ({exc})"}
    out: dict[str, Any] = {"available": not df.empty, "period": df.attrs["period"],
                           "periods": df.attrs["periods"], "note": df.attrs["note"] or None}
    if df.empty:
        return {**out, "pools": [], "top": []}

    def rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
        return [{"rank": None if pd.isna(r["rank"]) else int(r["rank"]),
                 "pool_name": str(r["pool_name"]), "pool_slug": str(r["pool_slug"]),
                 "blocks": int(r["blocks"]), "empty_blocks": int(r["empty_blocks"]),
                 "share_pct": num(r["share_pct"], 5)} for r in frame.to_dict("records")]

    first = df.iloc[0]
    return {**out,
            "as_of": pd.Timestamp(first["as_of"]).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "fetched_at": pd.Timestamp(first["fetched_at"]).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "period_blocks": int(first["period_blocks"]), "source": str(first["source"]),
            "pools": rows(df), "top": rows(top_pools(df, 10)),
            "basis": "share of the blocks found in the period, as mempool.space attributes "
                     "them (coinbase tags and payout addresses); it estimates the share of "
                     "hashrate, ±√(p(1−p)/n) over n blocks"}


def retarget_projection(bits: int, first_time_s: int, blocks: int, elapsed_s: float
                        ) -> dict[str, Any]:
    """:func:`hashshift.history.project_retarget` as JSON (bad input: :class:`BadInput`)."""
    from ..history import project_retarget

    try:
        p = project_retarget(bits, first_time_s, blocks, elapsed_s)
    except ValueError as exc:
        raise BadInput("blocks" if "blocks" in str(exc) else "elapsed_hours", str(exc)) from None
    out: dict[str, Any] = {k: (num(v, 15 if "difficulty" in k else 9 if "timespan" in k else 6)
                               if isinstance(v, float) else v) for k, v in p.items()}
    out["elapsed_s"] = float(elapsed_s)
    out["bits"] = f"{bits:08x}"
    out["new_bits"] = f"{p['new_bits']:08x}"
    out["retarget_eta"] = datetime.fromtimestamp(p["retarget_eta_s"], UTC).strftime(
        "%Y-%m-%dT%H:%MZ")
    del out["retarget_eta_s"]
    return out


def _store_tip() -> dict[str, Any] | None:
    """The local store's tip (height, bits, time, epoch start) when it has one."""
    try:
        from ..store import Store

        tip = Store(lock_timeout_s=1.0).tip()
    except Exception:  # no store, a locked or unreadable store: fall back to the bundled data
        return None
    if tip is None or tip.epoch_start_time is None:
        return None
    return {"height": int(tip.height), "bits": int(tip.bits), "time": int(tip.times[-1]),
            "epoch_start_time": int(tip.epoch_start_time)}


def _utc_s(t: Any) -> int:
    return int(pd.Timestamp(t).timestamp())


def retarget_view(blocks: int | None = None, elapsed_hours: float | None = None
                  ) -> dict[str, Any]:
    """The projected next retarget of the current epoch, from real inputs only: the
    ``blocks``/``elapsed_hours`` given, else the local store's tip. Without either, no estimate
    (``source`` = ``none``): ``needs`` says what would give one. ``check`` applies the same rule
    to the last completed epoch and shows the real retarget beside it."""
    from .. import history
    from ..consensus import MAINNET

    interval = MAINNET.interval
    e = history.epochs()
    cur = e.iloc[-1]
    done = e[e["last_time"].notna() & e["hashrate_ehs"].notna()]
    last = done.iloc[-1]
    epoch = int(cur["epoch"])
    bits = int(cur["bits"])
    first_s = _utc_s(cur["first_time"])
    first_height = int(cur["first_height"])
    # The rule on the last completed epoch, beside the real retarget that followed it.
    nxt = e[e["epoch"] == int(last["epoch"]) + 1]
    check = None
    if len(nxt):
        c = retarget_projection(int(last["bits"]), _utc_s(last["first_time"]), interval,
                                float(last["duration_s"]))
        check = {"epoch": int(last["epoch"]), "duration_days": num(last["duration_s"] / 86400, 6),
                 "projected_change_pct": c["change_pct"],
                 "actual_change_pct": num(nxt["change_pct"].iloc[0], 6),
                 "new_bits": c["new_bits"], "actual_bits": f"{int(nxt['bits'].iloc[0]):08x}"}
    rule = ("timespan = elapsed × 2015 / (blocks − 1), clamped to [302400, 4838400] s; new "
            "target = old target × timespan / 1209600 (Bitcoin Core CalculateNextWorkRequired)")
    tip = _store_tip()
    if blocks is not None or elapsed_hours is not None:
        if blocks is None or elapsed_hours is None:
            raise BadInput("blocks" if blocks is None else "elapsed_hours",
                           "give both blocks and elapsed_hours (or neither)")
        source = "input"
        note = "from the values entered"
        n, elapsed = int(blocks), float(elapsed_hours) * 3600.0
    elif tip is not None and tip["height"] // interval >= epoch:
        source = "store"
        epoch = tip["height"] // interval
        first_height = epoch * interval
        bits = tip["bits"]
        first_s = tip["epoch_start_time"]
        n = tip["height"] - first_height + 1
        elapsed = float(tip["time"] - first_s)
        note = (f"the local store's tip, block {tip['height']:,} at "
                f"{datetime.fromtimestamp(tip['time'], UTC):%Y-%m-%d %H:%M} UTC")
    else:
        began = datetime.fromtimestamp(first_s, UTC)
        return {
            "epoch": epoch, "first_height": first_height,
            "retarget_height": first_height + interval,
            "first_time": began.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "bits": f"{bits:08x}", "difficulty": num(cur["difficulty"], 15),
            "source": "none",
            "needs": (f"how many blocks of epoch {epoch} have been mined and the hours since its "
                      f"first block (block {first_height:,}, "
                      f"{began:%Y-%m-%d %H:%M} UTC): enter them here, or fill the local store "
                      "with `hashshift data update` (the bundled history ends at that block)"),
            "note": "No estimate: the bundled data hold no block of the current epoch beyond "
                    "its first, and nothing here invents one",
            "rule": rule, "check": check,
        }
    if not 2 <= n <= interval:
        raise BadInput("blocks", f"blocks must be 2 to {interval} (blocks of the epoch mined)")
    proj = retarget_projection(bits, first_s, n, elapsed)
    return {
        "epoch": epoch,
        "first_height": first_height,
        "retarget_height": first_height + interval,
        "tip_height": first_height + n - 1,
        "first_time": datetime.fromtimestamp(first_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "source": source,
        "note": note,
        "rule": rule,
        **proj,
        "check": check,
    }


# ---------------------------------------------------------------------------------------------
# the mining map
# ---------------------------------------------------------------------------------------------
@functools.cache
def _iso3(code: str) -> str | None:
    import pycountry

    if len(code) != 2:
        return None
    c = pycountry.countries.get(alpha_2=code)
    return None if c is None else str(c.alpha_3)


@functools.cache
def map_months() -> list[str]:
    from .. import geography

    return [f"{m:%Y-%m}" for m in geography.months("country")]


@functools.cache
def map_view(month: str | None, level: str) -> dict[str, Any]:
    """Shares of the global hashrate by country, or by Chinese province, in one month."""
    from .. import geography

    if level not in geography.LEVELS:
        raise BadInput("level", f"level {level!r}: use one of {', '.join(geography.LEVELS)}")
    months = [f"{m:%Y-%m}" for m in geography.months(level)]
    if month is None:
        month = months[-1]
    _month_key(month)
    if month not in months:
        raise NotFound(f"no mining-map data for month {month}; the map covers "
                       f"{months[0]} … {months[-1]}")
    df = geography.shares(month, level)
    rows = []
    for r in df.to_dict("records"):
        code = str(r["region_code"])
        row = {"code": code, "name": str(r["region_name"]), "share_pct": num(r["share_pct"], 5),
               "hashrate_ehs": num(r["hashrate_ehs"], 5),
               "mapped": not code.endswith("OTHER")}
        if level == "country":
            row["iso3"] = _iso3(code)
            row["mapped"] = row["iso3"] is not None
        else:
            row["share_of_china_pct"] = num(r["share_of_china_pct"], 5)
        rows.append(row)
    return {
        "month": month,
        "level": level,
        "months": months,
        "rows": rows,
        "network_hashrate_ehs": num(df.attrs.get("network_hashrate_ehs"), 6),
        # one colour scale for every month (the report uses the same top and colours)
        "zmax_pct": geography.share_scale_max_pct(level),
        "colorscale": PROVINCE_SCALE if level == "province" else SHARE_SCALE,
        "caveat": df.attrs.get("caveat", geography.CAVEAT),
        "source": df.attrs.get("source", geography.SOURCE),
    }


# ---------------------------------------------------------------------------------------------
# the map observed and nowcast (hashshift.atlas), natural experiments (hashshift.events)
# ---------------------------------------------------------------------------------------------
@functools.cache
def nowcast_months() -> dict[str, Any]:
    """Every month of the map per level, observed or nowcast (as known on the newest bundled
    day; the first call computes the nowcast, a few seconds)."""
    from .. import atlas

    nc = atlas.known_nowcast()
    return {"as_of": str(nc.as_of), "last_published": f"{nc.last_published:%Y-%m}",
            "label": atlas.NOWCAST_LABEL,
            "levels": {lv: atlas.map_months(lv) for lv in ("country", "province")}}


@functools.lru_cache(maxsize=256)
def nowcast_view(month: str | None, level: str) -> dict[str, Any]:
    """One month's map by country or Chinese province: observed (CCAF, exact) or nowcast
    (median and 90 % interval), on the one colour scale of every month."""
    from .. import atlas, geography

    if level not in geography.LEVELS:
        raise BadInput("level", f"level {level!r}: use one of {', '.join(geography.LEVELS)}")
    listing = nowcast_months()
    months = listing["levels"][level]
    names = [m["month"] for m in months]
    if month is None:
        month = names[-1]
    _month_key(month)
    if month not in names:
        raise NotFound(f"no {level}-level map for month {month}; observed and nowcast months "
                       f"cover {names[0]} … {names[-1]}")
    df = atlas.map_month(month, level)
    a = df.attrs
    nowcast = a["kind"] == "nowcast"
    rows = []
    for r in df.to_dict("records"):
        code = str(r["region_code"])
        mid = r["share_pct_q50"] if nowcast else r["share_pct"]
        row: dict[str, Any] = {
            "code": code, "name": str(r["region_name"]), "share_pct": num(mid, 5),
            "share_lo_pct": num(r["share_pct_q05"] if nowcast else mid, 5),
            "share_hi_pct": num(r["share_pct_q95"] if nowcast else mid, 5),
            "hashrate_ehs": num(r["hashrate_ehs_q50"] if nowcast else r["hashrate_ehs"], 5),
            "hashrate_lo_ehs": num(r["hashrate_ehs_q05"] if nowcast else r["hashrate_ehs"], 5),
            "hashrate_hi_ehs": num(r["hashrate_ehs_q95"] if nowcast else r["hashrate_ehs"], 5),
            "mapped": not code.endswith("OTHER")}
        if level == "country":
            row["iso3"] = _iso3(code)
            row["mapped"] = row["iso3"] is not None
        elif not nowcast:
            row["share_of_china_pct"] = num(r["share_of_china_pct"], 5)
        rows.append(row)
    subs = [{"code": x["region_code"], "name": x["region_name"], "parent": x["parent_code"],
             "share_pct": num(x["share_pct_q50"], 5), "share_lo_pct": num(x["share_pct_q05"], 5),
             "share_hi_pct": num(x["share_pct_q95"], 5)} for x in a.get("subdivisions", [])]
    return {
        "month": month, "level": level, "kind": a["kind"], "label": a["label"],
        "as_of": a.get("as_of") or listing["as_of"], "last_published": listing["last_published"],
        "rows": rows, "subdivisions": subs,
        "evidence": a.get("evidence", []),
        "network_hashrate_ehs": num(a.get("network_hashrate_ehs"), 6),
        # one colour scale for every month, observed or nowcast (the report uses the same)
        "zmax_pct": geography.share_scale_max_pct(level),
        "colorscale": PROVINCE_SCALE if level == "province" else SHARE_SCALE,
        "share_basis": ("% of China's hashrate" if level == "province" and not nowcast
                        else "% of the world's hashrate"),
        "caveat": a.get("caveat", geography.CAVEAT),
        "source": a.get("source", geography.SOURCE),
    }


@functools.lru_cache(maxsize=4)
def nowcast_series(level: str) -> dict[str, Any]:
    """Each region's share of the world's hashrate month by month, CCAF's first month to the
    nowcast's last: exact where observed, median and 90 % interval where nowcast."""
    from .. import atlas, geography

    if level not in geography.LEVELS:
        raise BadInput("level", f"level {level!r}: use one of {', '.join(geography.LEVELS)}")
    d = atlas.shares_over_time(level)
    months = sorted(d["month"].unique())
    kinds = d.groupby("month")["observed"].all().reindex(months)
    latest = d[d["month"] == months[-1]].set_index("region_code")["share_pct_q50"]
    peak = d.groupby("region_code")["share_pct_q50"].max()
    order = sorted(peak.index, key=lambda c: (str(c).endswith("OTHER"),
                                              -float(latest.get(c, 0.0)), -float(peak[c])))
    regions = []
    for code in order:
        g = d[d["region_code"] == code].set_index("month").reindex(months)
        regions.append({"code": str(code), "name": str(g["region_name"].dropna().iloc[0]),
                        "q05": nums(g["share_pct_q05"], 4), "q50": nums(g["share_pct_q50"], 4),
                        "q95": nums(g["share_pct_q95"], 4)})
    return {"level": level, "as_of": d.attrs["as_of"],
            "last_published": d.attrs["last_published"],
            "months": [f"{pd.Timestamp(m):%Y-%m}" for m in months],
            "observed": [bool(x) for x in kinds], "regions": regions,
            "label": atlas.NOWCAST_LABEL}


def _iso(t: Any) -> str:
    ts = pd.Timestamp(t)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC")
    return ts.strftime("%Y-%m-%dT%H:%MZ")


@functools.cache
def events_view() -> dict[str, Any]:
    """The natural experiments: regions whose miners stopped on known dates."""
    from ..events import catalogue
    from ..regions import region_name

    cat = catalogue()
    out = []
    for r in cat.to_dict("records"):
        out.append({"event": str(r["event"]), "name": str(r["name"]),
                    "region": str(r["region"]), "region_name": region_name(str(r["region"])),
                    "kind": str(r["kind"]), "public": f"{pd.Timestamp(r['public']):%Y-%m-%d}",
                    **{k: _iso(r[k]) for k in ("before_start", "before_end", "during_start",
                                               "during_end")},
                    "stopped_lo": num(r["stopped_lo"], 4), "stopped_hi": num(r["stopped_hi"], 4),
                    "stopped_basis": str(r["stopped_basis"]), "sources": str(r["sources"]),
                    "in_nowcast": bool(r["nowcast"])})
    return {"events": out, "source": str(cat.attrs.get("source", ""))}


@functools.lru_cache(maxsize=64)
def event_view(name: str) -> dict[str, Any]:
    """One natural experiment measured from the chain: before/during, the drop with its
    intervals, the implied share, and the hashrate per hour or day."""
    from ..events import event_study

    known = [e["event"] for e in events_view()["events"]]
    if name not in known:  # a whitelist: nothing else reaches the model
        raise NotFound(f"no natural experiment {name!r}; events: {', '.join(known)}")
    es = event_study(name)
    ev = next(e for e in events_view()["events"] if e["event"] == name)
    windows = [{"window": str(r["window"]), "start": _iso(r["start"]), "end": _iso(r["end"]),
                "hours": num(r["seconds"] / 3600.0, 6), "blocks": num(r["blocks"], 9),
                "hashrate_ehs": num(r["hashrate_ehs"], 6)} for r in es.table.to_dict("records")]
    s = es.series
    return {"event": ev, "resolution": es.resolution, "windows": windows,
            "drop_pct": {k: num(v, 6) for k, v in es.drop_pct.items()},
            "share_pct": {k: num(v, 6) for k, v in es.share_pct.items()},
            "series": {"start": [_iso(t) for t in s["start"]],
                       "blocks": nums(s["blocks"], 6),
                       "hashrate_ehs": nums(s["hashrate_ehs"], 5)},
            "method": "hashrate of a window = Σ blocks × difficulty × 2^32 / its seconds; drop "
                      "interval: exact (Clopper-Pearson) for the ratio of two Poisson rates, "
                      "widened by the spread of the same ratio between ordinary windows of the "
                      "year before; implied share = drop ÷ the fraction that stopped"}


@functools.lru_cache(maxsize=64)
def freshness_view(today: str, as_of: str | None = None) -> dict[str, Any]:
    """How far each bundled dataset reaches and how old it is on ``today`` (YYYY-MM-DD); with
    ``as_of``, what a run starting that day extrapolates."""
    from ..freshness import extrapolated, freshness

    df = freshness(today)
    beyond = None
    if as_of is not None:
        try:
            beyond = extrapolated(as_of)
        except ValueError as exc:
            raise BadInput("as_of", str(exc)) from None
    return {"today": df.attrs["today"], "newest_day": df.attrs["newest_day"],
            "as_of": as_of, "extrapolated": beyond,
            "datasets": [{"dataset": str(r["dataset"]), "what": str(r["what"]),
                          "resolution": str(r["resolution"]), "first": str(r["first"]),
                          "last": str(r["last"]), "public": str(r["public"]),
                          "age_days": int(r["age_days"]), "source": str(r["source"])}
                         for r in df.to_dict("records")]}


def today() -> str:
    """Today's date (UTC) as YYYY-MM-DD."""
    return datetime.now(UTC).strftime("%Y-%m-%d")


# ---------------------------------------------------------------------------------------------
# energy and economics
# ---------------------------------------------------------------------------------------------
@functools.cache
def _market() -> pd.DataFrame:
    from ..sources.bundled_observed import read_market_monthly

    return read_market_monthly()


@functools.lru_cache(maxsize=128)
def energy_view(price_usd_kwh: float) -> dict[str, Any]:
    """CBECI power [GW] and annualised energy [TWh/yr] bounds at one electricity price."""
    from ..cbeci import run_cbeci
    from ..energy import PUE

    out = run_cbeci(_market(), price_usd_kwh=price_usd_kwh)
    out = out.dropna(subset=["power_guess_gw"]).reset_index(drop=True)
    cols = ["hashrate_ehs", "threshold_j_th", "lower_j_th", "guess_j_th", "upper_j_th",
            "power_lower_gw", "power_guess_gw", "power_upper_gw", "energy_lower_twh_yr",
            "energy_guess_twh_yr", "energy_upper_twh_yr"]
    series: dict[str, Any] = {"date": days(out["date"])}
    for c in cols:
        series[c] = nums(out[c], 6)
    series["n_profitable"] = [int(x) for x in out["n_profitable"]]
    last = out.iloc[-1]
    latest = {"date": f"{pd.Timestamp(last['date']):%Y-%m}",
              **{c: num(last[c], 6) for c in cols}, "n_profitable": int(last["n_profitable"])}
    return {
        "price_usd_kwh": price_usd_kwh,
        "resolution": out.attrs.get("resolution", "monthly"),
        "series": series,
        "latest": latest,
        "pue": PUE,
        "method": "CCAF CBECI: machines released and below the profitability threshold θ count; "
                  "lower = best machine × PUE 1.01, guess = equal-weight mean × PUE 1.10, "
                  "upper = worst profitable × PUE 1.20; energy = power × 8.766",
        "inputs": "bundled monthly market table (revenue, hashrate) and ASIC catalogue",
    }


_EM_COLS = ("share_lower_pct", "share_pct", "share_upper_pct", "intensity_g_kwh",
            "power_lower_gw", "power_guess_gw", "power_upper_gw", "emissions_lower_mt_yr",
            "emissions_guess_mt_yr", "emissions_upper_mt_yr")


@functools.lru_cache(maxsize=64)
def emissions_view(price_usd_kwh: float, month: str | None = None) -> dict[str, Any]:
    """Network emissions [MtCO2e/yr] by month with CBECI's bounds, and by country for one month
    (:func:`hashshift.emissions.monthly_emissions`)."""
    from .. import emissions as em

    frame = em.monthly_emissions(price_usd_kwh=price_usd_kwh)
    a = frame.attrs
    world = frame[frame["region_code"] == em.WORLD]
    series: dict[str, Any] = {"month": [f"{m:%Y-%m}" for m in world["month"]],
                              "kind": [str(k) for k in world["kind"]]}
    for c in ("intensity_g_kwh", "power_lower_gw", "power_guess_gw", "power_upper_gw",
              "emissions_lower_mt_yr", "emissions_guess_mt_yr", "emissions_upper_mt_yr"):
        series[c] = nums(world[c], 6)
    if month is None:
        month = a["last_published"] or series["month"][-1]
    _month_key(month)
    try:
        rows = em.country_emissions(month, price_usd_kwh=price_usd_kwh)
    except em.EmissionsMonthError as exc:
        raise NotFound(str(exc)) from None
    countries = [{"region_code": str(r["region_code"]), "region_name": str(r["region_name"]),
                  **{c: num(r[c], 6) for c in _EM_COLS},
                  "intensity_region": str(r["intensity_region"]),
                  "intensity_source": str(r["intensity_source"])}
                 for r in rows.to_dict("records")]
    return {
        "price_usd_kwh": price_usd_kwh,
        "last_published": a["last_published"],
        "nowcast_label": a["nowcast_label"],
        "series": series,
        "month": rows.attrs["month"],
        "month_kind": rows.attrs["kind"],
        "countries": countries,
        "method": "emissions = CCAF map share × CBECI power × the country's grid intensity "
                  "[gCO2e/kWh] × 8.766 / 1000; the world = the sum over countries",
        "bounds": a["bounds"],
        "fallback": a["fallback"],
        "fallback_month": rows.attrs["fallback"],
        "source": a["source"],
    }


@functools.cache
def _catalogue() -> pd.DataFrame:
    from ..hardware import catalogue

    return catalogue().sort_values(["release_date", "model"], kind="stable").reset_index(
        drop=True)


@functools.cache
def machines_view() -> list[dict[str, Any]]:
    """The ASIC catalogue (newest first)."""
    cat = _catalogue()
    out = []
    for r in cat.iloc[::-1].to_dict("records"):
        out.append({"model": str(r["model"]), "maker": str(r["maker"]),
                    "release_date": f"{pd.Timestamp(r['release_date']):%Y-%m-%d}",
                    "hashrate_ths": num(r["hashrate_ths"], 6), "power_w": num(r["power_w"], 6),
                    "efficiency_j_th": num(r["efficiency_j_th"], 6)})
    return out


def economics_view(machine: str, price_usd_kwh: float, month: str | None = None
                   ) -> dict[str, Any]:
    """Hashprice, hashvalue, CCAF's threshold and one machine's break-even price and margin."""
    from .. import economics as ec

    cat = _catalogue()
    hit = cat[cat["model"] == machine]
    if hit.empty:
        raise NotFound(f"no machine {machine!r} in the catalogue (GET /api/machines lists them)")
    m = hit.iloc[0]
    mk = _market()
    months = [f"{d:%Y-%m}" for d in pd.DatetimeIndex(mk["date"])]
    if month is None:
        month = months[-1]
    _month_key(month)
    if month not in months:
        raise NotFound(f"no market data for month {month}; they cover {months[0]} … "
                       f"{months[-1]}")
    row = mk.iloc[months.index(month)]
    h_ehs = float(row["hashrate_ehs"])
    fig = ec.market_figures(float(row["revenue_usd_day"]),
                            float(row["subsidy_btc_day"] + row["fees_btc_day"]), h_ehs,
                            price_usd_kwh)
    hashprice, hashvalue, theta = (fig["hashprice_usd_ph_day"], fig["hashvalue_btc_ph_day"],
                                   fig["threshold_j_th"])
    e = float(m["efficiency_j_th"])
    mt = ec.machine_table(hit.head(1), hashprice, price_usd_kwh, theta).iloc[0]
    hp_hist = np.asarray(ec.hashprice_from_revenue_usd_ph_day(
        mk["revenue_usd_day"].to_numpy(float), mk["hashrate_ehs"].to_numpy(float)))
    released = pd.Timestamp(m["release_date"])
    return {
        "month": month,
        "months": months,
        "price_usd_kwh": price_usd_kwh,
        "btc_price_usd": num(row["price_usd"], 7),
        "hashrate_ehs": num(h_ehs, 6),
        "hashprice_usd_ph_day": num(hashprice, 6),
        "hashvalue_btc_ph_day": num(hashvalue, 6),
        "threshold_j_th": num(theta, 6),
        "machine": {
            "model": str(m["model"]), "maker": str(m["maker"]),
            "release_date": f"{released:%Y-%m-%d}",
            "released_by_month": bool(released <= pd.Timestamp(f"{month}-01")
                                      + pd.offsets.MonthEnd(0)),
            "hashrate_ths": num(mt["hashrate_ths"], 6), "power_w": num(m["power_w"], 6),
            "efficiency_j_th": num(e, 6), "source": str(m["source"]),
            **{k: num(mt[k], 6) for k in ("break_even_usd_kwh", "revenue_usd_day",
                                          "power_cost_usd_day", "margin_usd_day")},
            "profitable": bool(mt["profitable"]),
        },
        "history": {
            "date": days(mk["date"]),
            "hashprice_usd_ph_day": nums(hp_hist, 6),
            "break_even_usd_kwh": nums(np.asarray(ec.break_even_price_usd_kwh(hp_hist, e)), 6),
            "btc_price_usd": nums(mk["price_usd"], 7),
        },
        "formulae": {
            "hashprice": "revenue [USD/day] / hashrate [PH/s]",
            "break_even": "hashprice / (J/TH × 24)",
            "threshold": "revenue per TH / price per joule (CCAF)",
        },
    }


# ---------------------------------------------------------------------------------------------
# shipped example scenarios and the overview
# ---------------------------------------------------------------------------------------------
@functools.cache
def examples() -> dict[str, str]:
    """Shipped example scenarios: name -> TOML text (the only scenario files the web reads)."""
    from ..sim.examples import example_names, example_text

    return {name: example_text(name) for name in example_names()}


@functools.cache
def regions_view() -> dict[str, Any]:
    """The region tree for pickers: the mining countries of :mod:`hashshift.regions` first, each
    with its first-level subdivisions (ISO 3166-2), then every other country. An event on a
    country acts on all hashrate under it."""
    import pycountry

    from ..regions import REGIONS, region_name

    def name(code: str) -> str:
        try:
            return region_name(code)
        except LookupError:
            return code

    mining = [r.code for r in REGIONS.values() if r.level == "country"]
    tree = []
    for code in mining:
        if code == "OTHER":
            continue
        subs = sorted((str(x.code) for x in pycountry.subdivisions.get(country_code=code) or []
                       if x.parent_code is None), key=name)
        tree.append({"code": code, "name": name(code),
                     "children": [{"code": c, "name": name(c)} for c in subs]})
    rest = sorted((str(c.alpha_2) for c in pycountry.countries if c.alpha_2 not in mining),
                  key=name)
    return {"mining": tree, "other": [{"code": c, "name": name(c)} for c in rest],
            "aggregates": [{"code": "OTHER", "name": name("OTHER")}]}


@functools.cache
def scenario_schema() -> dict[str, Any]:
    """The scenario format's JSON Schema (the lab builds its event and region forms from it)."""
    from ..sim.scenario import scenario_schema as schema

    return schema()


@functools.cache
def overview() -> dict[str, Any]:
    """Headline numbers for the home page."""
    from .. import history

    last = history.latest()
    e = history.epochs()
    cur = e.iloc[-1]
    en = energy_view(0.05)["latest"]
    mk = _market().iloc[-1]
    from .. import economics as ec

    hp = float(ec.hashprice_from_revenue_usd_ph_day(mk["revenue_usd_day"], mk["hashrate_ehs"]))
    return {
        "hashrate_ehs": float(last["hashrate_ehs"]),
        "hashrate_epoch": int(last["epoch"]),
        "hashrate_end": f"{pd.Timestamp(last['last_time']):%Y-%m-%d}",
        "difficulty": float(cur["difficulty"]),
        "difficulty_epoch": int(cur["epoch"]),
        "difficulty_change_pct": float(cur["change_pct"]),
        "difficulty_since": f"{pd.Timestamp(cur['first_time']):%Y-%m-%d}",
        "power_guess_gw": en["power_guess_gw"],
        "power_lower_gw": en["power_lower_gw"],
        "power_upper_gw": en["power_upper_gw"],
        "energy_month": en["date"],
        "hashprice_usd_ph_day": hp,
        "market_month": f"{pd.Timestamp(mk['date']):%Y-%m}",
        "map_months": map_months(),
        "examples": list(examples()),
    }
