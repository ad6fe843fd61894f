"""Where the hashrate is: CCAF's Bitcoin Mining Map, by country and by Chinese province.

Source: Cambridge Centre for Alternative Finance (CCAF), *Cambridge Bitcoin Electricity
Consumption Index — Bitcoin Mining Map* (https://ccaf.io/cbeci/mining_map) and its methodology
(https://ccaf.io/cbeci/mining_map/methodology). CCAF publishes, per month (the month's mean):

- each country's share of the global hashrate [%] (``level="country"``; countries CCAF does not
  list are summed in ``OTHER``);
- each Chinese province's share of CHINA's hashrate [%] (``level="province"``; the rest of China
  in ``CN-OTHER``). Its share of the global hashrate is that × China's country share / 100.

The bundled copy (``hashshift/data/mining_map_ccaf_<vintage>.csv``, built by
``scripts/build_mining_map.py``; provenance in ``hashshift/data/SOURCES.md``) holds the months
2019-09 … 2021-05 exactly as published. A local :class:`~hashshift.store.Store` may hold other
or newer months in its ``mining_map`` table (same convention: at ``province`` level
``share_pct`` is the share of the province's country); pass it as ``store=`` and its months
replace the bundled ones of the same month and level.

Hashrate by region [EH/s] = share × the network's hashrate averaged over the month, from the
bundled chain history (:func:`hashshift.history.hashrate` with ``freq="D"``: the difficulty-based
estimate; the mean of the daily values of the whole month). CCAF computed its own
``monthly_absolute_hashrate_EH/S`` the same way from its own hashrate series; over 2019-09 …
2021-05 the two agree to a median 0.45 % and at most 1.65 % for regions of at least 1 EH/s, and
every row to within 2 % + 0.01 EH/s (the published two-decimal rounding).

Coverage caveat (:data:`CAVEAT`, carried in every result's ``attrs["caveat"]``): the map is
built from the IP addresses of the hashers of a few partner pools (BTC.com, Poolin, ViaBTC, later
Foundry; about 37 % of the network's hashrate in the first sample), not of the whole network;
hashers behind VPNs or proxies appear in the wrong place (CCAF spread Zhejiang's VPN-inflated
share over the other Chinese provinces); the shares are estimates, not a census.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
import pandas as pd

from .regions import check_region_code, parent_code, region_name
from .sources.bundled_geo import GLOBAL_BASIS, MINING_MAP_COLUMNS, read_mining_map
from .sources.pit import as_of_day, filter_public, note_access

if TYPE_CHECKING:
    from .store import Store

__all__ = [
    "CAVEAT",
    "LEVELS",
    "SHARE_TOLERANCE_PCT",
    "SOURCE",
    "Level",
    "MiningMapError",
    "check_mining_map",
    "hashrate_by_region",
    "mining_map",
    "mining_map_from_ccaf",
    "months",
    "network_hashrate_monthly",
    "share_scale_max_pct",
    "shares",
    "shares_over_time",
]

Level = Literal["country", "province"]
LEVELS: tuple[Level, ...] = ("country", "province")

#: Allowed distance [percentage points] of a month's shares from 100 (CCAF rounds each share to
#: two decimals; the bundled months sum to 100 within 0.03).
SHARE_TOLERANCE_PCT = 0.1

SOURCE = (
    "CCAF Bitcoin Mining Map (Cambridge Centre for Alternative Finance, "
    "https://ccaf.io/cbeci/mining_map; methodology https://ccaf.io/cbeci/mining_map/methodology)"
)

CAVEAT = (
    "CCAF's mining map locates the hashers of a few partner pools (BTC.com, Poolin, ViaBTC, "
    "later Foundry; about 37 % of the network's hashrate in the first sample) by IP address: "
    "it samples the network rather than covering it, hashers behind VPNs or proxies appear in "
    "the wrong place (CCAF redistributed Zhejiang's VPN-inflated share over the other Chinese "
    "provinces), and the shares are monthly estimates, not a census."
)

#: Column order of the results.
_COUNTRY_COLUMNS = ["region_code", "region_name", "share_pct", "hashrate_ehs"]
_PROVINCE_COLUMNS = [
    "region_code", "region_name", "share_pct", "share_of_china_pct", "hashrate_ehs"
]
_STORE_COLUMNS = ("date", "level", "region_code", "share_pct")


class MiningMapError(ValueError):
    """Mining-map data that are missing for a date or inconsistent (shares not summing to 100)."""


# --------------------------------------------------------------------------------------------
# building and checking the table (pure)
# --------------------------------------------------------------------------------------------


def mining_map_from_ccaf(
    countries: pd.DataFrame,
    provinces: pd.DataFrame,
    *,
    countries_source: str,
    provinces_source: str,
) -> pd.DataFrame:
    """The bundled mining-map table from CCAF's two exports, as published (CCAF Bitcoin Mining
    Map, https://ccaf.io/cbeci/mining_map).

    ``countries``: a frame of :func:`hashshift.sources.ccaf.read_mining_countries` (``date``,
    ``region_code``, ``share_pct`` [% of global]); ``provinces``: one of
    :func:`~hashshift.sources.ccaf.read_mining_provinces` (``share_of_china_pct`` [% of
    China]). Returns the columns :data:`~hashshift.sources.bundled_geo.MINING_MAP_COLUMNS`
    (``basis`` ``global`` for countries, ``CN`` for provinces), checked by
    :func:`check_mining_map`.
    """
    c = pd.DataFrame({
        "date": countries["date"], "level": "country", "region_code": countries["region_code"],
        "share_pct": countries["share_pct"].astype(float), "basis": GLOBAL_BASIS,
        "source": countries_source,
    })
    p = pd.DataFrame({
        "date": provinces["date"], "level": "province",
        "region_code": provinces["region_code"],
        "share_pct": provinces["share_of_china_pct"].astype(float),
        "basis": [parent_code(str(x)) for x in provinces["region_code"]],
        "source": provinces_source,
    })
    out = pd.concat([c, p], ignore_index=True)[MINING_MAP_COLUMNS]
    out["date"] = pd.to_datetime(out["date"]).astype("datetime64[ns]")
    out = _sorted(out)
    check_mining_map(out)
    return out


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    lvl = df["level"].map({lv: i for i, lv in enumerate(LEVELS)})
    order = np.lexsort((df["region_code"].to_numpy(dtype=str), lvl.to_numpy(),
                        df["date"].to_numpy()))
    return df.iloc[order].reset_index(drop=True)


def check_mining_map(df: pd.DataFrame, tolerance_pct: float = SHARE_TOLERANCE_PCT) -> None:
    """Raise :class:`MiningMapError` unless every month's shares sum to 100 ± ``tolerance_pct``.

    Sums are taken per (date, level, basis): countries over the globe, provinces over their
    country. One exception, as CCAF publishes it: a country whose own share that month is 0
    (China from July 2021) may have all its provinces at 0.
    """
    if df.empty:
        return
    sums = df.groupby(["date", "level", "basis"], sort=True)["share_pct"].sum()
    country = df[df["level"] == "country"].set_index(["date", "region_code"])["share_pct"]
    for key, total in sums.items():
        day, level, basis = cast(tuple[Any, str, str], key)
        if abs(total - 100.0) <= tolerance_pct + 1e-9:
            continue
        if level == "province" and total == 0.0 and country.get((day, basis)) == 0.0:
            continue
        what = "country shares of the global hashrate" if level == "country" else (
            f"province shares of {basis}'s hashrate")
        raise MiningMapError(
            f"mining map {pd.Timestamp(day):%Y-%m}: {what} sum to {total:.4g} %, expected "
            f"100 ± {tolerance_pct:g}"
        )


# --------------------------------------------------------------------------------------------
# loading (bundled file, optionally the store)
# --------------------------------------------------------------------------------------------


@functools.cache
def _bundled() -> pd.DataFrame:
    df = read_mining_map()
    check_mining_map(df)
    return df


def _store_rows(store: Store) -> pd.DataFrame:
    raw = store.read_table("mining_map")
    fetched: dict[Any, Any] = {}
    if not raw.empty and "source_id" in raw.columns:
        src = store.read_table("sources")
        if not src.empty:
            fetched = dict(zip(src["source_id"], pd.to_datetime(src["fetched_at"], utc=True),
                               strict=True))
    if raw.empty:
        return raw
    missing = [c for c in _STORE_COLUMNS if c not in raw.columns]
    if missing:
        raise MiningMapError(f"the store's mining_map table lacks column(s) {missing}")
    day = pd.to_datetime(raw["date"])
    if getattr(day.dt, "tz", None) is not None:
        day = day.dt.tz_convert(UTC).dt.tz_localize(None)
    day = day.dt.normalize().astype("datetime64[ns]")
    bad = day.dt.day != 1
    if bad.any():
        raise MiningMapError(f"the store's mining_map has a row dated {day[bad].iloc[0]:%Y-%m-%d}"
                             "; monthly rows must be dated on the first of the month")
    levels = raw["level"].astype(str)
    odd = sorted(set(levels) - set(LEVELS))
    if odd:
        raise MiningMapError(f"the store's mining_map has level(s) {odd}; expected {LEVELS}")
    codes = raw["region_code"].astype(str)
    for code in codes.unique():
        check_region_code(code)
    sid = raw["source_id"] if "source_id" in raw.columns else pd.Series([""] * len(raw))
    out = pd.DataFrame({
        "date": day,
        "level": levels,
        "region_code": codes,
        "share_pct": raw["share_pct"].astype(float),
        "basis": [GLOBAL_BASIS if lv == "country" else parent_code(c)
                  for lv, c in zip(levels, codes, strict=True)],
        "source": [f"hashshift store (source_id {s})" for s in sid],
        # a stored month is public to this tool from the day it was imported
        "published": [fetched[s].tz_localize(None).normalize() if s in fetched else pd.NaT
                      for s in sid],
    })
    if out["share_pct"].isna().any():
        raise MiningMapError("the store's mining_map has rows without share_pct")
    return out


def mining_map(store: Store | None = None, *, as_of: Any = None) -> pd.DataFrame:
    """The mining-map table: columns ``date``, ``level``, ``region_code``, ``share_pct`` [% of
    ``basis``], ``basis``, ``source``, ``published`` (see :mod:`hashshift.sources.bundled_geo`);
    with ``as_of``, only the rows public by then (a month as CCAF had released it).

    The bundled CCAF months (CCAF Bitcoin Mining Map), with the months of ``store``'s
    ``mining_map`` table replacing those of the same month and level when a store is given and
    holds any. Checked by :func:`check_mining_map`. ``attrs``: ``vintage`` (bundled file),
    ``store_months`` (number of (month, level) pairs taken from the store), ``caveat``,
    ``source``.
    """
    df = _bundled().copy()
    n_store = 0
    if store is not None:
        extra = _store_rows(store)
        if not extra.empty:
            keys = pd.MultiIndex.from_frame(extra[["date", "level"]]).unique()
            n_store = len(keys)
            mine = pd.MultiIndex.from_frame(df[["date", "level"]])
            df = pd.concat([df[~mine.isin(keys)], extra], ignore_index=True)
            df = _sorted(df)
            check_mining_map(df)
    df = filter_public(df, "published", as_of, dataset="mining_map",
                       source=_bundled().attrs.get("file", "")).reset_index(drop=True)
    df.attrs = {"vintage": _bundled().attrs.get("vintage", ""), "store_months": n_store,
                "caveat": CAVEAT, "source": SOURCE}
    return df


def months(level: Level = "country", store: Store | None = None, *, as_of: Any = None
           ) -> list[pd.Timestamp]:
    """The months (first days, ascending) for which the map has ``level`` shares (as known on
    ``as_of``)."""
    _check_level(level)
    df = mining_map(store, as_of=as_of)
    return sorted(pd.Timestamp(d) for d in df.loc[df["level"] == level, "date"].unique())


# --------------------------------------------------------------------------------------------
# the network's hashrate per month
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _monthly_network_cached(as_of: date | None) -> pd.Series:
    from . import history

    d = history.hashrate(freq="D", as_of=as_of)
    day = d["date"].dt.tz_convert(UTC).dt.tz_localize(None)
    month = day.dt.to_period("M").dt.to_timestamp().astype("datetime64[ns]")
    grouped = d["hashrate_ehs"].groupby(month.to_numpy())
    mean, n = grouped.mean(), grouped.size()
    full = n.to_numpy() == pd.DatetimeIndex(n.index).days_in_month.to_numpy()
    out = mean[full]
    out.index = pd.DatetimeIndex(out.index, name="date")
    out.name = "network_hashrate_ehs"
    return out


def _monthly_network(as_of: Any = None) -> pd.Series:
    day = as_of_day(as_of)
    out = _monthly_network_cached(day)
    # the cache hides the chain read from the access log: note it again
    note_access("epochs", "hashshift.history.hashrate(freq='D') monthly means", day,
                None if out.empty else out.index[-1] + pd.offsets.MonthBegin(1), len(out))
    return out


def network_hashrate_monthly(as_of: Any = None) -> pd.Series:
    """The network's mean hashrate [EH/s] per calendar month (index: first day of the month).

    The mean of :func:`hashshift.history.hashrate` ``(freq="D")`` over the month's days (the
    difficulty-based estimate of the bundled chain history, time-weighted over epochs); only
    months the history covers completely. CCAF's ``monthly_absolute_hashrate_EH/S`` is a share
    times such a monthly mean (CCAF Bitcoin Mining Map methodology). ``as_of``: only months
    whose days were all public then.
    """
    return _monthly_network(as_of).copy()


# --------------------------------------------------------------------------------------------
# shares and hashrate by region
# --------------------------------------------------------------------------------------------


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise ValueError(f"level must be 'country' or 'province', not {level!r}")


_MONTH = re.compile(r"(\d{4})-(\d{2})(?:-(\d{2}))?")


def _month(when: date | datetime | str | pd.Timestamp) -> pd.Timestamp:
    """First day of the month of ``when`` (naive, meaning UTC). Strings: YYYY-MM or YYYY-MM-DD."""
    if isinstance(when, str):
        m = _MONTH.fullmatch(when.strip())
        if m is None:
            raise ValueError(f"date {when!r} is not a month; use YYYY-MM (e.g. 2021-04) or "
                             "YYYY-MM-DD")
        try:
            ts = pd.Timestamp(int(m.group(1)), int(m.group(2)), int(m.group(3) or 1))
        except ValueError as exc:
            raise ValueError(f"date {when!r} is not a valid date ({exc})") from None
    elif isinstance(when, datetime | pd.Timestamp):
        ts = pd.Timestamp(when)
        if ts.tzinfo is not None:
            ts = ts.tz_convert(UTC).tz_localize(None)
    elif isinstance(when, date):
        ts = pd.Timestamp(when.isoformat())
    else:
        raise TypeError(f"date must be a date, datetime or 'YYYY-MM' string, not {when!r}")
    return pd.Timestamp(ts.year, ts.month, 1)


def _span(days: list[pd.Timestamp]) -> str:
    if not days:
        return "no months"
    text = f"{days[0]:%Y-%m} to {days[-1]:%Y-%m}"
    expected = pd.date_range(days[0], days[-1], freq="MS")
    gaps = [d for d in expected if d not in set(days)]
    if gaps:
        text += " (missing: " + ", ".join(f"{d:%Y-%m}" for d in gaps[:6])
        text += ", …)" if len(gaps) > 6 else ")"
    return text


def _rank(df: pd.DataFrame) -> pd.DataFrame:
    """Largest share first; the aggregates (OTHER, CN-OTHER) after the named regions."""
    agg = df["region_code"].str.endswith("OTHER").to_numpy()
    order = np.lexsort((df["region_code"].to_numpy(dtype=str),
                        -df["share_pct"].to_numpy(dtype=float), agg,
                        df["date"].to_numpy()))
    return df.iloc[order].reset_index(drop=True)


def _long(level: Level, store: Store | None, as_of: Any = None
          ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """All months of ``level`` with global shares, names and EH/s (not yet ranked)."""
    _check_level(level)
    table = mining_map(store, as_of=as_of)
    rows = table[table["level"] == level].copy()
    if level == "province":
        country = table[table["level"] == "country"].set_index(["date", "region_code"])
        key = pd.MultiIndex.from_arrays([rows["date"], rows["basis"]])
        parent = country["share_pct"].reindex(key).to_numpy()
        lacking = np.isnan(parent)
        if lacking.any():
            i = int(np.argmax(lacking))
            raise MiningMapError(
                f"mining map {rows['date'].iloc[i]:%Y-%m}: province shares of "
                f"{rows['basis'].iloc[i]} need that country's share of the global hashrate, "
                "which the map lacks for that month"
            )
        rows["share_of_china_pct"] = rows["share_pct"].to_numpy()
        rows["share_pct"] = rows["share_of_china_pct"].to_numpy() * parent / 100.0
        # the global shares rest on the country rows too: name both sources
        parent_src = country["source"].reindex(key).to_numpy()
        rows["source"] = [f"{a}; {b}" if a != b else a
                          for a, b in zip(rows["source"], parent_src, strict=True)]
    net = _monthly_network(as_of).reindex(pd.DatetimeIndex(rows["date"])).to_numpy()
    rows["hashrate_ehs"] = rows["share_pct"].to_numpy() / 100.0 * net
    rows["network_hashrate_ehs"] = net
    rows["region_name"] = [region_name(c) for c in rows["region_code"]]
    known = table["published"].dropna()
    meta = {"caveat": CAVEAT, "source": SOURCE, "vintage": table.attrs.get("vintage", ""),
            "level": level, "store_months": table.attrs.get("store_months", 0),
            "as_of": None if as_of is None else str(as_of_day(as_of)),
            "published": None if known.empty else f"{known.max():%Y-%m-%d}"}
    return rows, meta


def _data_sources(rows: pd.DataFrame) -> str:
    return "; ".join(sorted({part for s in rows["source"] for part in str(s).split("; ")}))


def shares_over_time(level: Level = "country", store: Store | None = None, *,
                     as_of: Any = None) -> pd.DataFrame:
    """Every month of the mining map at ``level`` (CCAF Bitcoin Mining Map; see :func:`shares`).

    Columns: ``date`` (first of the month), then those of :func:`shares` and
    ``network_hashrate_ehs`` [EH/s]; sorted by date, largest share first within a month.
    ``attrs``: ``caveat``, ``source``, ``data_source``, ``vintage``, ``level``, ``as_of``,
    ``published`` (the newest release among the rows). ``as_of``: as known that day.
    """
    rows, meta = _long(level, store, as_of)
    cols = _PROVINCE_COLUMNS if level == "province" else _COUNTRY_COLUMNS
    out = _rank(rows)[["date", *cols, "network_hashrate_ehs"]]
    out.attrs.clear()
    out.attrs.update(meta, data_source=_data_sources(rows))
    return out


def shares(
    date: date | datetime | str | pd.Timestamp,
    level: Level = "country",
    store: Store | None = None,
    *,
    as_of: Any = None,
) -> pd.DataFrame:
    """Shares of the global hashrate by region in the month of ``date``, and EH/s, as published
    (by ``as_of``: as known that day).

    Method (CCAF Bitcoin Mining Map, https://ccaf.io/cbeci/mining_map/methodology): CCAF's
    monthly share of each country in the global hashrate; for provinces, CCAF's share of each
    province in China's hashrate times China's share that month. Hashrate = share × the
    network's mean hashrate over the month (:func:`network_hashrate_monthly`).

    Parameters
    ----------
    date : a date, datetime or ``YYYY-MM`` / ``YYYY-MM-DD`` string; [month] — any day selects
        its calendar month (the map holds monthly means)
    level : ``country`` or ``province`` (China's provinces)
    store : a :class:`~hashshift.store.Store` whose ``mining_map`` months replace the bundled
        ones (optional)
    as_of : a date (optional): use only the months public by then (CCAF released its map in
        batches; ``hashshift/data/SOURCES.md``)

    Returns
    -------
    DataFrame with ``region_code``, ``region_name``, ``share_pct`` [% of global hashrate],
    ``share_of_china_pct`` [% of China's hashrate; provinces only], ``hashrate_ehs`` [EH/s; NaN
    when the bundled history does not cover the whole month]; largest share first, the
    aggregates ``OTHER``/``CN-OTHER`` last. ``attrs``: ``caveat`` (CCAF's coverage caveat),
    ``source``, ``data_source`` (the rows' CCAF exports), ``vintage``, ``date`` (``YYYY-MM``),
    ``level``, ``network_hashrate_ehs`` [EH/s].

    Raises
    ------
    MiningMapError (a ValueError) when the map has no data for that month (the message names the
    months it covers) or a month's shares do not sum to 100 ± 0.1.
    """
    month = _month(date)
    rows, meta = _long(level, store, as_of)
    sel = rows[rows["date"] == month]
    if sel.empty:
        have = sorted(pd.Timestamp(d) for d in rows["date"].unique())
        known = "" if as_of is None else f" as known on {as_of_day(as_of)}"
        raise MiningMapError(
            f"no {level}-level mining-map data for {month:%Y-%m}{known}; the map covers "
            f"{_span(have)}"
        )
    cols = _PROVINCE_COLUMNS if level == "province" else _COUNTRY_COLUMNS
    out = _rank(sel)[cols]
    out.attrs.clear()
    out.attrs.update(meta, data_source=_data_sources(sel), date=f"{month:%Y-%m}",
                     network_hashrate_ehs=float(sel["network_hashrate_ehs"].iloc[0]))
    return out


def hashrate_by_region(
    date: date | datetime | str | pd.Timestamp,
    level: Level = "country",
    store: Store | None = None,
    *,
    as_of: Any = None,
) -> pd.Series:
    """Hashrate [EH/s] by region code in the month of ``date`` (CCAF Bitcoin Mining Map shares ×
    the network's monthly mean hashrate; see :func:`shares`). A Series named ``hashrate_ehs``
    indexed by ``region_code``, largest first, with the same ``attrs`` as :func:`shares`."""
    df = shares(date, level, store, as_of=as_of)
    out = pd.Series(df["hashrate_ehs"].to_numpy(), index=pd.Index(df["region_code"],
                    name="region_code"), name="hashrate_ehs")
    out.attrs = dict(df.attrs)
    return out


def share_scale_max_pct(level: Level = "country", store: Store | None = None,
                        rows: pd.DataFrame | None = None) -> float:
    """The top of one colour scale for every month of the map [%]: the largest named region's
    share over all months (of the world at country level, of China at province level), rounded
    up to 10. Every map of every month uses it, so a colour means the same share throughout.
    ``rows``: a table of :func:`shares_over_time` to use instead of the map."""
    if rows is None:
        rows, _ = _long(level, store)
    named = rows[~rows["region_code"].str.endswith("OTHER")]
    col = "share_of_china_pct" if level == "province" else "share_pct"
    top = float(named[col].max()) if len(named) else 100.0
    return float(np.ceil(top / 10.0) * 10.0)
