"""Electricity price and grid carbon intensity per region: a hand-kept CSV table.

Columns (header names exact; other columns are ignored, lines starting with ``#`` are comments)::

    region_code,price_usd_kwh,intensity_g_kwh,month,source
    CN-SC,0.030,100,,"CCAF 2020 survey, annual mean"
    CN-SC,0.020,90,7,"wet-season hydro tariff (example)"

- ``region_code``: an ISO 3166 code known to :mod:`hashshift.regions` (``CN``, ``CN-XJ``,
  ``US-TX`` …, or ``OTHER`` / ``CN-OTHER``);
- ``price_usd_kwh`` [USD/kWh] and ``intensity_g_kwh`` [gCO2/kWh]: required, non-negative;
- ``month`` (optional column): 1-12 for a seasonal row, empty for the whole year; a seasonal row
  overrides the region's whole-year row in its month;
- ``source``: required, non-empty: where the figures come from;
- ``published`` (optional column): the day the figure became public (``YYYY-MM-DD``; a year's
  last day where only the year is known). A region may have rows of several vintages: a reader
  as of a day uses the newest published by then. Undated rows (your own judgement) count as
  public at any date (``1970-01-01``).

:func:`parse_grid_table` returns ``region_code, region_name, price_usd_kwh, intensity_g_kwh,
month (Int64, <NA> = all year), source, published`` sorted by region, month (whole-year row
first) and publication day.
Errors name the file, line and field.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..regions import UnknownRegionError, check_region_code, region_name
from . import _tabular as tab
from ._tabular import TableFormatError

__all__ = ["VARIABLE_MAP", "parse_grid_table", "read_grid_table"]

#: Source column -> project column (the table is written in the project's own names).
VARIABLE_MAP: dict[str, str] = {
    "region_code": "region_code",
    "price_usd_kwh": "price_usd_kwh",
    "intensity_g_kwh": "intensity_g_kwh",
    "month": "month",
    "source": "source",
}

_REQUIRED = ("region_code", "price_usd_kwh", "intensity_g_kwh", "source")
_COMMENT = re.compile(r"^[ \t]*#.*$", re.MULTILINE)


def parse_grid_table(text: str | bytes, *, name: str = "<grid table>") -> pd.DataFrame:
    """Parse an electricity-price / grid-intensity table (see the module docstring).

    Checks: required columns; known region codes (an unknown one raises
    :class:`~hashshift.regions.UnknownRegionError` naming the line and suggesting codes);
    prices and intensities present, numeric and non-negative; month empty or an integer 1-12;
    source non-empty; no two rows for the same region and month.
    """
    s = tab.decode(text, name)
    s = _COMMENT.sub("", s)  # blank the comment lines, keeping the line numbers
    df = tab.load_csv(s, name)
    tab.require_columns(df, _REQUIRED, name)
    lines = tab.lines(df)

    codes = df["region_code"].to_numpy(dtype=object)
    names: list[str] = []
    for i, code in enumerate(codes):
        if code == "":
            raise TableFormatError(name, "region_code", code, "missing region code",
                                   line=int(lines[i]))
        try:
            names.append(region_name(check_region_code(code)))
        except UnknownRegionError as e:
            raise e.located(f"{name}: line {lines[i]}, field 'region_code'") from None

    frame = pd.DataFrame({"region_code": pd.Series(codes, dtype="str"), "region_name": names})
    frame["price_usd_kwh"] = tab.numbers(df, "price_usd_kwh", name, min_value=0.0)
    frame["intensity_g_kwh"] = tab.numbers(df, "intensity_g_kwh", name, min_value=0.0)
    if "month" in df.columns:
        m = tab.numbers(df, "month", name, allow_missing=True, min_value=1, max_value=12)
        frac = ~np.isnan(m) & (m != np.round(m))
        if frac.any():
            i = int(np.argmax(frac))
            raise TableFormatError(name, "month", df["month"].iloc[i], "month must be 1-12",
                                   line=int(lines[i]))
        frame["month"] = pd.array(
            [pd.NA if np.isnan(v) else int(v) for v in m], dtype="Int64"
        )
    else:
        frame["month"] = pd.array([pd.NA] * len(df), dtype="Int64")
    src = df["source"].astype(str)
    empty = (src == "").to_numpy()
    if empty.any():
        i = int(np.argmax(empty))
        raise TableFormatError(name, "source", "", "missing source (say where the figures "
                               "come from)", line=int(lines[i]))
    frame["source"] = src.to_numpy()
    if "published" in df.columns and (df["published"].astype(str) != "").any():
        frame["published"] = tab.dates(df, "published", name)
    else:
        frame["published"] = pd.Timestamp("1970-01-01")

    month_label = frame["month"].astype("string").fillna("all year")
    key = pd.DataFrame({"region_code": frame["region_code"], "month": month_label,
                        "published": frame["published"]})
    tab.check_unique(key, ("region_code", "month", "published"), lines, name, "region_code")
    frame = frame.sort_values(
        ["region_code", "month", "published"], na_position="first", kind="stable"
    ).reset_index(drop=True)
    frame.attrs.update(layout="grid_table", source=name)
    return frame


def read_grid_table(path: str | Path) -> pd.DataFrame:
    """Read an electricity-price / grid-intensity table file (see :func:`parse_grid_table`)."""
    return parse_grid_table(tab.read_text(path), name=str(path))
