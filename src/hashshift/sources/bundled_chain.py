"""Bundled block counts (``hashshift/data/blocks_daily_*.csv``, ``blocks_hourly_*.csv``, built by
``scripts/build_chain_blocks.py``; sources in ``hashshift/data/SOURCES.md``).

- daily: ``date`` (UTC day), ``blocks`` [blocks] whose header time falls in the day;
- hourly: ``window`` (a natural experiment's name), ``hour`` (UTC, start of the hour),
  ``blocks`` [blocks], ``basis`` (``header_time`` or ``arrival_time``).

A count is public the day after its day (chain data); readers take ``as_of=``.
"""

from __future__ import annotations

import functools
import io
from typing import Any

import pandas as pd

from .bundled_files import newest_bundled
from .pit import filter_public

__all__ = ["format_blocks_daily", "format_blocks_hourly", "parse_blocks_daily",
           "parse_blocks_hourly", "read_blocks_daily", "read_blocks_hourly"]


def format_blocks_daily(df: pd.DataFrame) -> str:
    """CSV text of daily counts (``date, blocks``), sorted; deterministic."""
    d = df.sort_values("date")
    lines = ["date,blocks"] + [f"{pd.Timestamp(t):%Y-%m-%d},{int(b)}"
                               for t, b in zip(d["date"], d["blocks"], strict=True)]
    return "\n".join(lines) + "\n"


def format_blocks_hourly(df: pd.DataFrame) -> str:
    """CSV text of hourly counts (``window, hour, blocks, basis``); deterministic."""
    d = df.sort_values(["window", "hour"])
    lines = ["window,hour,blocks,basis"] + [
        f"{w},{pd.Timestamp(h):%Y-%m-%dT%H:00Z},{int(b)},{s}"
        for w, h, b, s in zip(d["window"], d["hour"], d["blocks"], d["basis"], strict=True)]
    return "\n".join(lines) + "\n"


def _check(df: pd.DataFrame, name: str, cols: tuple[str, ...]) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"{name}: missing column(s) {missing}")
    if (df["blocks"] < 0).any():
        i = int((df["blocks"] < 0).to_numpy().argmax())
        raise ValueError(f"{name}: row {i + 1}: blocks {df['blocks'].iloc[i]} must be >= 0")


def parse_blocks_daily(text: str, name: str = "<blocks daily>") -> pd.DataFrame:
    """Daily counts: ``date`` (datetime64, UTC day), ``blocks`` (int); checked unique dates."""
    df = pd.read_csv(io.StringIO(text))
    _check(df, name, ("date", "blocks"))
    df["date"] = pd.to_datetime(df["date"], format="%Y-%m-%d")
    if df["date"].duplicated().any():
        raise ValueError(f"{name}: date {df['date'][df['date'].duplicated()].iloc[0]} twice")
    df.attrs["source"] = name
    return df


def parse_blocks_hourly(text: str, name: str = "<blocks hourly>") -> pd.DataFrame:
    """Hourly counts: ``window``, ``hour`` (UTC), ``blocks`` (int), ``basis``."""
    df = pd.read_csv(io.StringIO(text))
    _check(df, name, ("window", "hour", "blocks", "basis"))
    df["hour"] = pd.to_datetime(df["hour"], utc=True)
    df.attrs["source"] = name
    return df


@functools.cache
def _daily() -> pd.DataFrame:
    f = newest_bundled("blocks_daily")
    return parse_blocks_daily(f.read_text(), f.label)


@functools.cache
def _hourly() -> pd.DataFrame:
    f = newest_bundled("blocks_hourly")
    return parse_blocks_hourly(f.read_text(), f.label)


def read_blocks_daily(*, as_of: Any = None) -> pd.DataFrame:
    """Blocks per UTC day, as public on ``as_of`` (a day's count from the next day)."""
    df = _daily()
    return filter_public(df, df["date"] + pd.Timedelta(days=1), as_of, dataset="blocks_daily",
                         source=df.attrs["source"]).reset_index(drop=True)


def read_blocks_hourly(*, as_of: Any = None) -> pd.DataFrame:
    """Blocks per UTC hour around natural experiments, as public on ``as_of``."""
    df = _hourly()
    public = df["hour"].dt.tz_localize(None).dt.normalize() + pd.Timedelta(days=1)
    return filter_public(df, public, as_of, dataset="blocks_hourly",
                         source=df.attrs["source"]).reset_index(drop=True)
