"""Bundled tables of the observed layer, and CCAF's hardware list (a validation input).

Bundled files (``hashshift/data``, sources in ``hashshift/data/SOURCES.md``):

- ``asic_catalogue_<date>.csv`` — ASIC models: ``model, maker, release_date, hashrate_ths
  [TH/s], power_w [W], efficiency_j_th [J/TH], cooling, ccaf_name, source``;
- ``market_monthly_<date>.csv`` — monthly means of Coin Metrics' daily series (written by
  ``scripts/build_market.py``): ``date`` (first of the month), ``price_usd [USD/BTC]``,
  ``hashrate_ehs [EH/s]``, ``blocks_day [blocks/day]``, ``subsidy_btc_day [BTC/day]``,
  ``fees_btc_day [BTC/day]``, ``revenue_usd_day [USD/day]``, ``days`` (days averaged);
- ``grid_intensity_<date>.csv`` — electricity price and grid carbon intensity by region, in the
  layout of :mod:`hashshift.sources.gridtable`.

``read_*`` reads the newest bundled file of a kind; ``parse_*`` validates text and names the file,
line and field of any problem (:class:`~hashshift.sources._tabular.TableFormatError`).
:func:`read_ccaf_miners` reads CCAF's own hardware list (``[name, release_unix_s, J/GH]`` JSON,
from ``CambridgeAltFin/ccaf_cbeci_api``), used to validate the CBECI method; it is not bundled.
"""

from __future__ import annotations

import functools
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import _tabular as tab
from ._tabular import TableFormatError
from .bundled_files import newest_bundled
from .errors import OutOfRangeError
from .gridtable import parse_grid_table
from .pit import filter_public

__all__ = [
    "CATALOGUE_COLUMNS",
    "COOLING",
    "MARKET_COLUMNS",
    "bundled_name",
    "format_market_monthly",
    "parse_asic_catalogue",
    "parse_ccaf_miners",
    "parse_market_monthly",
    "read_asic_catalogue",
    "read_ccaf_miners",
    "read_grid_intensity",
    "read_market_month",
    "read_market_monthly",
]

#: Columns of the ASIC catalogue, in order.
CATALOGUE_COLUMNS = [
    "model", "maker", "release_date", "hashrate_ths", "power_w", "efficiency_j_th", "cooling",
    "ccaf_name", "source",
]
#: Allowed values of ``cooling``.
COOLING = ("air", "hydro", "immersion")
#: Columns of the monthly market table, in order.
MARKET_COLUMNS = [
    "date", "price_usd", "hashrate_ehs", "blocks_day", "subsidy_btc_day", "fees_btc_day",
    "revenue_usd_day", "days",
]
_KINDS = ("asic_catalogue", "market_monthly", "grid_intensity")
_COMMENT = re.compile(r"^[ \t]*#.*$", re.MULTILINE)
#: Relative tolerance between ``efficiency_j_th`` and ``power_w / hashrate_ths``.
_EFF_RTOL = 0.01


def _text(data: str | bytes) -> str:
    return data.decode("utf-8-sig") if isinstance(data, bytes) else data


def _bundled(kind: str) -> tuple[str, str]:
    """(file name, text) of the newest bundled file of ``kind``."""
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}")
    f = newest_bundled(kind)
    return f.name, f.read_text()


def bundled_name(kind: str) -> str:
    """File name of the newest bundled ``asic_catalogue``, ``market_monthly`` or
    ``grid_intensity`` table."""
    return _bundled(kind)[0]


# --------------------------------------------------------------------------------------------
# ASIC catalogue
# --------------------------------------------------------------------------------------------


def parse_asic_catalogue(text: str | bytes, *, name: str = "<asic catalogue>") -> pd.DataFrame:
    """Parse and check an ASIC catalogue (columns :data:`CATALOGUE_COLUMNS`; ``#`` comments).

    Checks: all columns present; ``model`` non-empty and unique (case-insensitive); ISO
    ``release_date``; ``hashrate_ths`` [TH/s] and ``power_w`` [W] positive;
    ``efficiency_j_th`` [J/TH] within 1 % of ``power_w / hashrate_ths``; ``cooling`` in
    :data:`COOLING`; ``source`` non-empty. Returns the rows sorted by release date then model,
    ``release_date`` as datetime64 (midnight, UTC day).
    """
    s = _COMMENT.sub("", _text(text))
    df = tab.load_csv(s, name)
    tab.require_columns(df, CATALOGUE_COLUMNS, name)
    lines = tab.lines(df)
    for col in ("model", "maker", "source"):
        empty = (df[col] == "").to_numpy()
        if empty.any():
            i = int(np.argmax(empty))
            raise TableFormatError(name, col, "", f"missing {col}", line=int(lines[i]))
    out = pd.DataFrame({
        "model": df["model"].to_numpy(dtype=object),
        "maker": df["maker"].to_numpy(dtype=object),
        "release_date": tab.dates(df, "release_date", name).to_numpy(),
    })
    for col in ("hashrate_ths", "power_w", "efficiency_j_th"):
        vals = tab.numbers(df, col, name, min_value=0.0)
        zero = vals <= 0
        if zero.any():
            i = int(np.argmax(zero))
            raise TableFormatError(name, col, df[col].iloc[i], "must be positive",
                                   line=int(lines[i]))
        out[col] = vals
    ratio = out["power_w"] / out["hashrate_ths"]
    off = (np.abs(out["efficiency_j_th"] / ratio - 1.0) > _EFF_RTOL).to_numpy()
    if off.any():
        i = int(np.argmax(off))
        raise TableFormatError(
            name, "efficiency_j_th", df["efficiency_j_th"].iloc[i],
            f"{out['model'].iloc[i]}: power_w / hashrate_ths = {ratio.iloc[i]:.4g} J/TH "
            f"(allowed: within {_EFF_RTOL:.0%})", line=int(lines[i]),
        )
    bad = ~df["cooling"].isin(COOLING).to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise TableFormatError(name, "cooling", df["cooling"].iloc[i],
                               f"allowed: {', '.join(COOLING)}", line=int(lines[i]))
    out["cooling"] = df["cooling"].to_numpy(dtype=object)
    out["ccaf_name"] = df["ccaf_name"].to_numpy(dtype=object)
    out["source"] = df["source"].to_numpy(dtype=object)
    key = pd.DataFrame({"model": out["model"].str.casefold()})
    tab.check_unique(key, ("model",), lines, name, "model")
    out = out.sort_values(["release_date", "model"], kind="stable").reset_index(drop=True)
    out.attrs.update(layout="asic_catalogue", source=name)
    return out


def read_asic_catalogue(path: str | Path | None = None, *, as_of: Any = None) -> pd.DataFrame:
    """The bundled ASIC catalogue (newest file), or the catalogue file at ``path``; with
    ``as_of``, only machines shipping by then (a machine is public from its ``release_date``)."""
    df = parse_asic_catalogue(tab.read_text(path), name=str(path)) if path is not None \
        else _bundled_catalogue()
    return filter_public(df, "release_date", as_of, dataset="asic_catalogue",
                         source=df.attrs.get("source", "")).copy()


@functools.cache
def _bundled_catalogue() -> pd.DataFrame:
    fname, text = _bundled("asic_catalogue")
    return parse_asic_catalogue(text, name=f"hashshift/data/{fname}")


# --------------------------------------------------------------------------------------------
# monthly market facts
# --------------------------------------------------------------------------------------------


def format_market_monthly(df: pd.DataFrame) -> str:
    """CSV text of a monthly market table (columns :data:`MARKET_COLUMNS`); deterministic."""
    lines = [",".join(MARKET_COLUMNS)]
    records: list[dict[str, Any]] = df[MARKET_COLUMNS].to_dict("records")  # type: ignore[assignment]
    for r in records:
        lines.append(",".join([
            pd.Timestamp(r["date"]).strftime("%Y-%m-%d"),
            *(f"{float(r[c]):.6g}" for c in MARKET_COLUMNS[1:-1]),
            str(int(r["days"])),
        ]))
    return "\n".join(lines) + "\n"


def parse_market_monthly(text: str | bytes, *, name: str = "<market monthly>") -> pd.DataFrame:
    """Parse the monthly market table (columns :data:`MARKET_COLUMNS`, units in the module
    docstring). Checks: columns, dates on the first of a month, ascending and unique, numbers
    non-negative, ``days`` 1-31."""
    df = tab.load_csv(_text(text), name)
    tab.require_columns(df, MARKET_COLUMNS, name)
    lines = tab.lines(df)
    out = pd.DataFrame({"date": tab.dates(df, "date", name)})
    not_first = (out["date"].dt.day != 1).to_numpy()
    if not_first.any():
        i = int(np.argmax(not_first))
        raise TableFormatError(name, "date", df["date"].iloc[i],
                               "monthly rows must be dated on the first of the month",
                               line=int(lines[i]))
    for col in MARKET_COLUMNS[1:-1]:
        out[col] = tab.numbers(df, col, name, min_value=0.0)
    out["days"] = tab.numbers(df, "days", name, min_value=1, max_value=31).astype(int)
    tab.check_unique(out, ("date",), lines, name, "date")
    tab.check_ascending(out, lines, name, "date")
    out.attrs.update(layout="market_monthly", source=name)
    return out


def read_market_monthly(path: str | Path | None = None, *, as_of: Any = None) -> pd.DataFrame:
    """The bundled monthly market table (newest file), or the file at ``path``; with ``as_of``,
    only the months whose mean was public by then (market data are public the day after, so a
    month's mean on the first day of the next month)."""
    df = parse_market_monthly(tab.read_text(path), name=str(path)) if path is not None \
        else _bundled_market()
    public = pd.DatetimeIndex(df["date"]) + pd.offsets.MonthBegin(1)
    return filter_public(df, pd.Series(public, index=df.index), as_of,
                         dataset="market_monthly", source=df.attrs.get("source", "")).copy()


def read_market_month(month: pd.Timestamp | None = None) -> pd.Series:
    """The bundled monthly market row of the month of ``month`` (default: the newest month).

    Raises :class:`~hashshift.sources.errors.OutOfRangeError` naming the months covered when
    ``month`` is outside them.
    """
    m = _bundled_market()
    if month is None:
        return m.iloc[-1].copy()
    row = m[m["date"] == pd.Timestamp(month).to_period("M").to_timestamp()]
    if row.empty:
        lo, hi = m["date"].iloc[0], m["date"].iloc[-1]
        raise OutOfRangeError(f"outside the bundled market data, which cover {lo:%Y-%m} .. "
                              f"{hi:%Y-%m}")
    return row.iloc[0].copy()


@functools.cache
def _bundled_market() -> pd.DataFrame:
    fname, text = _bundled("market_monthly")
    return parse_market_monthly(text, name=f"hashshift/data/{fname}")


# --------------------------------------------------------------------------------------------
# grid intensity
# --------------------------------------------------------------------------------------------


def read_grid_intensity(path: str | Path | None = None, *, as_of: Any = None) -> pd.DataFrame:
    """The bundled price / grid-intensity table (newest file), or the table at ``path``;
    parsed by :func:`hashshift.sources.gridtable.parse_grid_table`. With ``as_of``, only rows
    published by then (column ``published``)."""
    df = parse_grid_table(tab.read_text(path), name=str(path)) if path is not None \
        else _bundled_grid()
    return filter_public(df, "published", as_of, dataset="grid_intensity",
                         source=df.attrs.get("source", "")).copy()


@functools.cache
def _bundled_grid() -> pd.DataFrame:
    fname, text = _bundled("grid_intensity")
    return parse_grid_table(text, name=f"hashshift/data/{fname}")


# --------------------------------------------------------------------------------------------
# CCAF hardware list (validation input, not bundled)
# --------------------------------------------------------------------------------------------


def parse_ccaf_miners(text: str | bytes, *, name: str = "<ccaf miners>") -> pd.DataFrame:
    """Parse CCAF's hardware list: a JSON array of ``[name, release_unix_s, efficiency_J_per_GH]``.

    Returns ``model`` (name, whitespace normalised), ``release_date`` (UTC day, datetime64) and
    ``efficiency_j_th`` [J/TH] (= J/GH × 1000), in the file's order.
    """
    try:
        data = json.loads(_text(text))
    except json.JSONDecodeError as exc:
        raise TableFormatError(name, "(file)", None, f"not JSON: {exc.msg}",
                               line=exc.lineno) from None
    if not isinstance(data, list) or not data:
        raise TableFormatError(name, "(file)", type(data).__name__,
                               "expected a non-empty JSON array of [name, release, J/GH]")
    names: list[str] = []
    release: list[float] = []
    eff: list[float] = []
    for i, row in enumerate(data):
        where = f"[{i}]"
        if not (isinstance(row, list) and len(row) == 3 and isinstance(row[0], str)):
            raise TableFormatError(name, where, row, "expected [name, release_unix_s, J/GH]")
        t, e = row[1], row[2]
        ok_t = isinstance(t, int | float) and math.isfinite(t) and t > 0
        ok_e = isinstance(e, int | float) and math.isfinite(e) and e > 0
        if not ok_t:
            raise TableFormatError(name, f"{where}[1]", t, "release must be unix seconds > 0")
        if not ok_e:
            raise TableFormatError(name, f"{where}[2]", e, "efficiency must be J/GH > 0")
        names.append(" ".join(row[0].split()))  # CCAF writes some names with U+00A0
        release.append(float(t))
        eff.append(float(e) * 1000.0)
    out = pd.DataFrame({
        "model": pd.Series(names, dtype=object),
        "release_date": pd.to_datetime(np.array(release), unit="s").normalize(),
        "efficiency_j_th": np.array(eff),
    })
    out.attrs.update(layout="ccaf_miners", source=name)
    return out


def read_ccaf_miners(path: str | Path) -> pd.DataFrame:
    """Read CCAF's hardware list file (see :func:`parse_ccaf_miners`)."""
    return parse_ccaf_miners(tab.read_text(path), name=str(path))
