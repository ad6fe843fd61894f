"""The mining map bundled in the package (``hashshift/data/mining_map_ccaf_<vintage>.csv``).

The file is written by ``scripts/build_mining_map.py`` from CCAF's Bitcoin Mining Map exports
(sources and vintage: ``hashshift/data/SOURCES.md``); :func:`format_mining_map` is its writer and
:func:`parse_mining_map` its validating reader. One row per month × level × region:

- ``date`` — first day of the month (ISO ``YYYY-MM-DD``); the row holds that month's mean;
- ``level`` — ``country`` or ``province``;
- ``region_code`` — ISO 3166-1 alpha-2 (``CN`` …) or ``OTHER`` at country level; ISO 3166-2
  (``CN-XJ`` …) or ``CN-OTHER`` at province level (:mod:`hashshift.regions`);
- ``share_pct`` [%] — the share as CCAF publishes it, of the whole named by ``basis``;
- ``basis`` — what the share is a share of: ``global`` (the network's hashrate; country rows) or
  a country code (``CN``: China's hashrate; province rows);
- ``source`` — the CCAF export the row comes from;
- ``published`` — the day the row first became public (the CCAF release that first carried
  the month; ``hashshift/data/SOURCES.md`` cites each release). Optional when reading a map of
  your own: rows without it count as of unknown date (kept without ``as_of``, left out with it).
"""

from __future__ import annotations

import io
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..regions import check_region_code, parent_code
from .bundled_files import newest_bundled

__all__ = [
    "MINING_MAP_COLUMNS",
    "MINING_MAP_LEVELS",
    "bundled_mining_map_name",
    "format_mining_map",
    "parse_mining_map",
    "read_mining_map",
]

#: Columns of the bundled mining map, in order.
MINING_MAP_COLUMNS = ["date", "level", "region_code", "share_pct", "basis", "source"]
MINING_MAP_LEVELS = ("country", "province")
GLOBAL_BASIS = "global"
_NAME = re.compile(r"mining_map_ccaf_(\d{4}-\d{2})\.csv")
_DATE = re.compile(r"\d{4}-\d{2}-01")


def bundled_mining_map_name(vintage: str) -> str:
    """File name of the bundled mining map for a ``YYYY-MM`` vintage."""
    if not re.fullmatch(r"\d{4}-\d{2}", vintage):
        raise ValueError(f"vintage must be YYYY-MM, got {vintage!r}")
    return f"mining_map_ccaf_{vintage}.csv"


def format_mining_map(df: pd.DataFrame) -> str:
    """CSV text of a mining map (columns :data:`MINING_MAP_COLUMNS`); deterministic bytes.

    Rows are written sorted by date, level (``country`` first) and region code; shares with
    up to 10 significant digits (CCAF publishes two decimals).
    """
    missing = [c for c in MINING_MAP_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"mining map lacks column(s) {', '.join(missing)}")
    cols = MINING_MAP_COLUMNS + (["published"] if "published" in df.columns else [])
    frame = df[cols].copy()
    frame["_lvl"] = frame["level"].map({lvl: i for i, lvl in enumerate(MINING_MAP_LEVELS)})
    frame = frame.sort_values(["date", "_lvl", "region_code"], kind="stable")
    lines = [",".join(cols)]
    records: list[dict[str, Any]] = frame.to_dict("records")  # type: ignore[assignment]
    for r in records:
        share = float(r["share_pct"])
        if not math.isfinite(share):
            raise ValueError(f"share_pct of {r['region_code']} on {r['date']} is not finite")
        source = str(r["source"])
        if "," in source or '"' in source:
            raise ValueError(f"source {source!r} must not contain commas or quotes")
        lines.append(",".join([
            pd.Timestamp(r["date"]).strftime("%Y-%m-%d"), str(r["level"]), str(r["region_code"]),
            format(share, ".10g"), str(r["basis"]), source,
            *([] if "published" not in r else
              ["" if pd.isna(r["published"]) else pd.Timestamp(r["published"]).strftime(
                  "%Y-%m-%d")]),
        ]))
    return "\n".join(lines) + "\n"


def _fail(name: str, i: int, msg: str) -> ValueError:
    return ValueError(f"{name}: line {i + 2}: {msg}")


def parse_mining_map(text: str, name: str = "mining_map") -> pd.DataFrame:
    """Parse and validate mining-map CSV text; ``name`` labels error messages.

    Rules (a breach raises ``ValueError`` naming the line and rule): the columns
    :data:`MINING_MAP_COLUMNS`; ``date`` the first of a month (``YYYY-MM-01``); ``level`` one of
    :data:`MINING_MAP_LEVELS`; ``region_code`` a known code (:mod:`hashshift.regions`), a country
    at country level and a subdivision at province level; ``basis`` ``global`` for countries and
    the parent country's code for provinces; ``share_pct`` a number in [0, 100]; ``source``
    not empty; one row per (date, level, region_code).

    Returns ``date`` (datetime64[ns], midnight: the UTC day), ``level``, ``region_code``,
    ``share_pct`` (float64), ``basis``, ``source``. Month sums are checked by
    :mod:`hashshift.geography`, which also accepts rows from the store.
    """
    try:
        raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValueError(f"{name}: not a readable CSV table ({exc})") from None
    missing = [c for c in MINING_MAP_COLUMNS if c not in raw.columns]
    if missing:
        raise ValueError(f"{name}: missing column(s) {', '.join(missing)} (rule: a mining map "
                         f"has the columns {', '.join(MINING_MAP_COLUMNS)})")
    if raw.empty:
        raise ValueError(f"{name}: no rows (rule: at least one month)")
    shares = np.empty(len(raw))
    seen: set[tuple[str, str, str]] = set()
    for i, r in enumerate(raw[MINING_MAP_COLUMNS].itertuples(index=False)):
        day, level, code, share, basis, source = (str(v) for v in r)
        if not _DATE.fullmatch(day):
            raise _fail(name, i, f"date {day!r} is not the first day of a month (YYYY-MM-01)")
        if level not in MINING_MAP_LEVELS:
            raise _fail(name, i, f"level {level!r} is not one of {', '.join(MINING_MAP_LEVELS)}")
        try:
            check_region_code(code)
        except LookupError as exc:
            raise _fail(name, i, str(exc)) from None
        is_sub = "-" in code  # ISO 3166-2 codes (and CN-OTHER) have a hyphen
        if (level == "province") != is_sub:
            what = "a subdivision (XX-YY)" if level == "province" else "a country"
            raise _fail(name, i, f"region_code {code!r} is not {what} (rule: level {level})")
        want = parent_code(code) if level == "province" else GLOBAL_BASIS
        if basis != want:
            raise _fail(name, i, f"basis {basis!r} should be {want!r} for a {level} row "
                        "(rule: countries are shares of the global hashrate, provinces of "
                        "their country's)")
        try:
            x = float(share)
        except ValueError:
            raise _fail(name, i, f"share_pct {share!r} is not a number") from None
        if not 0.0 <= x <= 100.0:
            raise _fail(name, i, f"share_pct {share!r} is outside [0, 100]")
        shares[i] = x
        if not source.strip():
            raise _fail(name, i, "source is empty (rule: every row names its source)")
        key = (day, level, code)
        if key in seen:
            raise _fail(name, i, f"{code} appears twice for {day} at level {level}")
        seen.add(key)
    if "published" in raw.columns:
        published = pd.to_datetime(raw["published"].replace("", None), format="%Y-%m-%d",
                                   errors="coerce")
        bad = published.isna() & (raw["published"] != "")
        if bad.any():
            raise _fail(name, int(bad.to_numpy().argmax()),
                        f"published {raw['published'][bad].iloc[0]!r} is not a date YYYY-MM-DD")
    else:
        published = pd.Series(pd.NaT, index=raw.index)
    return pd.DataFrame({
        "date": pd.to_datetime(raw["date"], format="%Y-%m-%d").astype("datetime64[ns]"),
        "level": raw["level"].astype(object),
        "region_code": raw["region_code"].astype(object),
        "share_pct": shares,
        "basis": raw["basis"].astype(object),
        "source": raw["source"].astype(object),
        "published": published.astype("datetime64[ns]").to_numpy(),
    })


def read_mining_map(path: str | Path | None = None) -> pd.DataFrame:
    """Read and validate a mining map (default: the newest one bundled in the package).

    ``attrs["vintage"]`` holds the ``YYYY-MM`` of the file name (``""`` if it has none) and
    ``attrs["file"]`` the file read.
    """
    if path is not None:
        p = Path(path)
        df = parse_mining_map(p.read_text(encoding="utf-8"), name=str(p))
        m = _NAME.fullmatch(p.name)
        df.attrs.update(vintage=m.group(1) if m else "", file=str(p))
        return df
    f = newest_bundled("mining_map_ccaf")
    df = parse_mining_map(f.read_text(), name=f.label)
    df.attrs.update(vintage=f.date, file=f.label)
    return df


#: Columns of the bundled subdivision shares.
SUBDIVISION_COLUMNS = ["region_code", "parent", "share_of_parent_pct", "period", "source",
                       "published"]


def parse_subdivision_shares(text: str, *, name: str = "<subdivision shares>") -> pd.DataFrame:
    """Published shares of a subdivision (or of a country the map lumps into ``OTHER``) in the
    map region that holds it: ``region_code``, ``parent`` (its country, or ``OTHER``),
    ``share_of_parent_pct`` [%], ``period`` (what the figure describes, e.g. ``2021-12``),
    ``source``, ``published`` (day public). Lines starting with ``#`` are comments."""
    df = pd.read_csv(io.StringIO(text), comment="#", dtype=str, keep_default_na=False)
    missing = [c for c in SUBDIVISION_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{name}: missing column(s) {missing}")
    for code in df["region_code"]:
        check_region_code(code)
    share = pd.to_numeric(df["share_of_parent_pct"], errors="coerce")
    bad = ~((share > 0) & (share < 100))
    if bad.any():
        i = int(bad.to_numpy().argmax())
        raise ValueError(f"{name}: row {i + 1}: share_of_parent_pct "
                         f"{df['share_of_parent_pct'].iloc[i]!r} must be a number in (0, 100)")
    out = df[SUBDIVISION_COLUMNS].copy()
    out["share_of_parent_pct"] = share
    out["published"] = pd.to_datetime(df["published"], format="%Y-%m-%d")
    out.attrs["source"] = name
    return out


def read_subdivision_shares(*, as_of: Any = None) -> pd.DataFrame:
    """The bundled published subdivision shares public on ``as_of`` (all without it; an empty
    table when none is bundled)."""
    from .pit import filter_public

    try:
        f = newest_bundled("subdivision_shares")
    except FileNotFoundError:
        return pd.DataFrame(columns=SUBDIVISION_COLUMNS)
    df = parse_subdivision_shares(f.read_text(), name=f.label)
    return filter_public(df, "published", as_of, dataset="subdivision_shares", source=f.label)
