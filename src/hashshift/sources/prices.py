"""Daily Bitcoin price and network files: Coin Metrics' community ``btc.csv`` and plain price CSVs.

Layouts (detected from the header line by :func:`parse_price_csv`):

``coinmetrics`` — Coin Metrics community data (``coinmetrics/data`` ``csv/btc.csv``; CC BY-NC 4.0,
  attribute "Coin Metrics"): ``time, PriceUSD, HashRate, BlkCnt, FeeTotNtv, IssTotNtv`` and,
  in older files, ``DiffMean`` (other columns ignored) ->
  ``date, price_usd [USD/BTC], hashrate_ehs [EH/s] (HashRate is TH/s), blocks [count],
  fees_btc [BTC], subsidy_btc [BTC], revenue_usd [USD/day] = (subsidy + fees) × price,
  difficulty [dimensionless; NaN without DiffMean]``. Empty cells (early days, the last partial
  day) are kept as NaN. PriceUSD is the close at 00:00 UTC of the next day.

``close`` — a plain ``date,close`` file, or Yahoo Finance's ``Date,open,high,low,close,volume,…``
  (also ``Close``, ``price``, ``price_usd`` or ``PriceUSD`` for the price, ``time`` for the
  date; names compared case-insensitively) ->
  ``date, price_usd [USD/BTC]``.

Dates: a ``date`` column of datetime64[ns] at midnight, meaning the UTC day. Checks: required
columns, ISO dates, numbers parseable and non-negative, one row per day, days ascending; errors
are :class:`~hashshift.sources._tabular.TableFormatError` naming the file, line and field.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import _tabular as tab
from ._tabular import ParsedTable, TableFormatError

__all__ = [
    "UNIT_SCALE",
    "VARIABLE_MAP",
    "ParsedTable",
    "parse_coinmetrics",
    "parse_price_close",
    "parse_price_csv",
    "read_coinmetrics",
    "read_price_close",
    "read_price_csv",
]

#: Source column -> project column, per layout. In ``close`` the first column present of each
#: project name is used (names compared case-insensitively).
VARIABLE_MAP: dict[str, dict[str, str]] = {
    "coinmetrics": {
        "time": "date",
        "PriceUSD": "price_usd",
        "HashRate": "hashrate_ehs",
        "BlkCnt": "blocks",
        "FeeTotNtv": "fees_btc",
        "IssTotNtv": "subsidy_btc",
        "DiffMean": "difficulty",
    },
    "close": {
        "date": "date",
        "time": "date",
        "close": "price_usd",
        "price_usd": "price_usd",
        "price": "price_usd",
        "PriceUSD": "price_usd",
    },
}

#: Multipliers from a source column's unit to the project's: HashRate [TH/s] -> [EH/s].
UNIT_SCALE: dict[str, float] = {"HashRate": 1e-6}

_CM_REQUIRED = ("time", "PriceUSD", "HashRate", "BlkCnt", "FeeTotNtv", "IssTotNtv")
_CM_OPTIONAL = ("DiffMean",)
_CM_COLUMNS = (
    "date", "price_usd", "hashrate_ehs", "blocks", "fees_btc", "subsidy_btc", "revenue_usd",
    "difficulty",
)


def _text(data: str | bytes, name: str) -> str:
    return tab.decode(data, name)


def _daily_checks(frame: pd.DataFrame, lines: np.ndarray, name: str, date_col: str) -> None:
    tab.check_unique(frame, ("date",), lines, name, date_col)
    tab.check_ascending(frame, lines, name, date_col)


def _coinmetrics(df: pd.DataFrame, name: str) -> pd.DataFrame:
    tab.require_columns(df, _CM_REQUIRED, name)
    vmap = VARIABLE_MAP["coinmetrics"]
    lines = tab.lines(df)
    frame = pd.DataFrame({"date": tab.dates(df, "time", name)})
    for src in _CM_REQUIRED[1:] + _CM_OPTIONAL:
        out = vmap[src]
        if src in df.columns:
            vals = tab.numbers(df, src, name, allow_missing=True, min_value=0.0)
            frame[out] = vals * UNIT_SCALE.get(src, 1.0)
        else:
            frame[out] = np.nan
    frame["revenue_usd"] = (frame["subsidy_btc"] + frame["fees_btc"]) * frame["price_usd"]
    _daily_checks(frame, lines, name, "time")
    frame = frame[list(_CM_COLUMNS)]
    frame.attrs.update(layout="coinmetrics", source=name)
    return frame


def _close(df: pd.DataFrame, name: str) -> pd.DataFrame:
    vmap = VARIABLE_MAP["close"]
    cols = tab.columns_of(df)
    found: dict[str, str] = {}
    for out in ("date", "price_usd"):
        col = tab.find_column(cols, *[k for k, v in vmap.items() if v == out])
        if col is None:
            wanted = " or ".join(repr(k) for k, v in vmap.items() if v == out)
            raise TableFormatError(
                name, out, None,
                f"missing column: expected {wanted} (columns found: "
                + ", ".join(map(repr, cols)) + ")",
            )
        found[out] = col
    lines = tab.lines(df)
    frame = pd.DataFrame({"date": tab.dates(df, found["date"], name)})
    frame["price_usd"] = tab.numbers(
        df, found["price_usd"], name, allow_missing=True, min_value=0.0
    )
    _daily_checks(frame, lines, name, found["date"])
    frame.attrs.update(layout="close", source=name)
    return frame


def _is_coinmetrics(columns: list[str]) -> bool:
    have = set(columns)
    return "time" in have and "PriceUSD" in have and bool(have & set(_CM_REQUIRED[2:]))


def parse_coinmetrics(text: str | bytes, *, name: str = "<coinmetrics>") -> pd.DataFrame:
    """Parse Coin Metrics' community ``btc.csv``.

    Returns ``date, price_usd, hashrate_ehs, blocks, fees_btc, subsidy_btc, revenue_usd,
    difficulty`` (float64, NaN where the file has no value; see the module docstring for units).
    """
    return _coinmetrics(tab.load_csv(_text(text, name), name), name)


def parse_price_close(text: str | bytes, *, name: str = "<prices>") -> pd.DataFrame:
    """Parse a plain daily price file (``date,close`` or Yahoo's layout) -> ``date, price_usd``."""
    return _close(tab.load_csv(_text(text, name), name), name)


def parse_price_csv(text: str | bytes, *, name: str = "<prices>") -> ParsedTable:
    """Detect the layout (``coinmetrics`` or ``close``) from the header and parse.

    ``coinmetrics`` is chosen when the header has ``time``, ``PriceUSD`` and at least one of
    ``HashRate, BlkCnt, FeeTotNtv, IssTotNtv`` (the others are then required); anything else is
    read as the ``close`` layout.
    """
    s = _text(text, name)
    df = tab.load_csv(s, name)
    if _is_coinmetrics(tab.columns_of(df)):
        return ParsedTable("coinmetrics", _coinmetrics(df, name))
    return ParsedTable("close", _close(df, name))


def read_coinmetrics(path: str | Path) -> pd.DataFrame:
    """Read a Coin Metrics ``btc.csv`` file (see :func:`parse_coinmetrics`)."""
    return parse_coinmetrics(tab.read_text(path), name=str(path))


def read_price_close(path: str | Path) -> pd.DataFrame:
    """Read a plain daily price file (see :func:`parse_price_close`)."""
    return parse_price_close(tab.read_text(path), name=str(path))


def read_price_csv(path: str | Path) -> ParsedTable:
    """Read a price file of either layout (see :func:`parse_price_csv`)."""
    return parse_price_csv(tab.read_text(path), name=str(path))
