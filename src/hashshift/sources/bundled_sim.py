"""Bundled engine defaults (``hashshift/data/sim_regions_*.csv``)."""

from __future__ import annotations

import functools
import io
from typing import Any

import pandas as pd

from .bundled_files import newest_bundled
from .errors import SourceFormatError
from .pit import filter_public

__all__ = ["parse_sim_regions", "read_sim_regions"]

_COLUMNS = ("region_code", "price_usd_kwh", "risk", "source", "published")


def parse_sim_regions(text: str, name: str = "sim_regions") -> pd.DataFrame:
    """Region defaults: ``region_code``, ``price_usd_kwh`` [USD/kWh], ``risk`` [0..1],
    ``source``, ``published`` (the day the judgement could first have been made: the newest of
    the facts it rests on); lines starting with ``#`` are comments. A region may have rows of
    several vintages."""
    df = pd.read_csv(io.StringIO(text), comment="#", dtype={"region_code": str})
    missing = [c for c in _COLUMNS if c not in df.columns]
    if missing:
        raise SourceFormatError(name, missing[0], None,
                                f"missing column(s) {missing}; found {list(df.columns)}")
    for col in ("price_usd_kwh", "risk"):
        bad = df[~(pd.to_numeric(df[col], errors="coerce") >= 0)]
        if len(bad):
            raise SourceFormatError(name, col, bad[col].iloc[0],
                                    f"row {int(bad.index[0]) + 1}: must be a number >= 0")
    if (df["risk"] > 1).any():
        raise SourceFormatError(name, "risk", float(df["risk"].max()), "must be in [0, 1]")
    published = pd.to_datetime(df["published"], format="%Y-%m-%d", errors="coerce")
    if published.isna().any():
        i = int(published.isna().to_numpy().argmax())
        raise SourceFormatError(name, "published", df["published"].iloc[i],
                                f"row {i + 1}: must be a date YYYY-MM-DD")
    df["published"] = published
    if df[["region_code", "published"]].duplicated().any():
        code = df.loc[df[["region_code", "published"]].duplicated(), "region_code"].iloc[0]
        raise SourceFormatError(name, "region_code", code, "duplicate region and vintage")
    df.attrs["source"] = name
    return df


@functools.cache
def _bundled() -> pd.DataFrame:
    f = newest_bundled("sim_regions")
    return parse_sim_regions(f.read_text(), f.label)


def read_sim_regions(as_of: Any = None) -> pd.DataFrame:
    """The bundled engine defaults per region, one row per region: the newest vintage published
    on or before ``as_of`` (without ``as_of``: the newest)."""
    df = _bundled()
    known = filter_public(df, "published", as_of, dataset="sim_regions",
                          source=df.attrs.get("source", ""))
    newest = known.sort_values("published", kind="stable").groupby("region_code").tail(1)
    return newest.sort_values("region_code").reset_index(drop=True)
