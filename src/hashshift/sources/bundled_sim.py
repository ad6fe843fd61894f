"""Bundled engine defaults (``hashshift/data/sim_regions_*.csv``)."""

from __future__ import annotations

import functools
import io

import pandas as pd

from .bundled_files import newest_bundled
from .errors import SourceFormatError

__all__ = ["parse_sim_regions", "read_sim_regions"]

_COLUMNS = ("region_code", "price_usd_kwh", "risk", "source")


def parse_sim_regions(text: str, name: str = "sim_regions") -> pd.DataFrame:
    """Region defaults: ``region_code``, ``price_usd_kwh`` [USD/kWh], ``risk`` [0..1],
    ``source``; lines starting with ``#`` are comments."""
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
    if df["region_code"].duplicated().any():
        code = df.loc[df["region_code"].duplicated(), "region_code"].iloc[0]
        raise SourceFormatError(name, "region_code", code, "duplicate region")
    return df


@functools.cache
def _bundled() -> pd.DataFrame:
    f = newest_bundled("sim_regions")
    return parse_sim_regions(f.read_text(), f.label)


def read_sim_regions() -> pd.DataFrame:
    """The newest bundled engine defaults per region."""
    return _bundled().copy()
