"""The bundled catalogue of natural experiments (``hashshift/data/natural_experiments_*.csv``,
built by ``scripts/build_events.py``): its format, its parser and its point-in-time reader."""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from .bundled_files import newest_bundled
from .pit import filter_public

__all__ = ["EVENT_COLUMNS", "format_events", "parse_events", "read_events"]

EVENT_COLUMNS = ["event", "name", "region", "kind", "public", "before_start", "before_end",
                 "during_start", "during_end", "stopped_lo", "stopped_hi", "stopped_basis",
                 "window", "nowcast", "sources"]
_TIMES = ("before_start", "before_end", "during_start", "during_end")


def format_events(rows: Iterable[Mapping[str, Any]]) -> str:
    """CSV text of catalogue rows (columns :data:`EVENT_COLUMNS`); deterministic."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(EVENT_COLUMNS)
    for r in rows:
        w.writerow([r[c] for c in EVENT_COLUMNS])
    return buf.getvalue()


def parse_events(text: str, name: str = "<events>") -> pd.DataFrame:
    """Parse and check the catalogue: columns, known region codes, windows in order, fractions
    in (0, 1] with lo <= hi."""
    from ..regions import check_region_code

    df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    missing = [c for c in EVENT_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{name}: missing column(s) {missing}")
    for i, r in df.iterrows():
        where = f"{name}: event {r['event']!r} (row {int(i) + 1})"  # type: ignore[call-overload]
        check_region_code(r["region"])
        t = [pd.Timestamp(r[c]) for c in _TIMES]
        if not (t[0] < t[1] <= t[2] < t[3]):
            raise ValueError(f"{where}: windows must satisfy before_start < before_end <= "
                             "during_start < during_end")
        lo, hi = float(r["stopped_lo"]), float(r["stopped_hi"])
        if not 0 < lo <= hi <= 1:
            raise ValueError(f"{where}: stopped_lo {lo} and stopped_hi {hi} must satisfy "
                             "0 < lo <= hi <= 1")
    out = df.copy()
    for c in _TIMES:
        out[c] = pd.to_datetime(out[c], utc=True)
    out["public"] = pd.to_datetime(out["public"])
    out[["stopped_lo", "stopped_hi"]] = out[["stopped_lo", "stopped_hi"]].astype(float)
    bad = ~out["nowcast"].isin(["yes", "no"])
    if bad.any():
        raise ValueError(f"{name}: nowcast must be 'yes' or 'no', not "
                         f"{out['nowcast'][bad].iloc[0]!r}")
    out["nowcast"] = out["nowcast"] == "yes"
    out.attrs["source"] = name
    return out


@functools.cache
def _bundled() -> pd.DataFrame:
    f = newest_bundled("natural_experiments")
    return parse_events(f.read_text(), f.label)


def read_events(*, as_of: Any = None) -> pd.DataFrame:
    """The natural experiments known on ``as_of``: reported by then and with their ``during``
    window over (a block's time is public the day after)."""
    df = _bundled()
    ended = df["during_end"].dt.tz_localize(None).dt.ceil("D") + pd.Timedelta(days=1)
    public = np.maximum(df["public"], ended)
    return filter_public(df, pd.Series(public, index=df.index), as_of, dataset="events",
                         source=df.attrs["source"]).reset_index(drop=True)
