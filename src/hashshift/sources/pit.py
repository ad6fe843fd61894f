"""Point in time: what was public when.

Every bundled or stored fact carries the day it became public (its *vintage*; column
``public_date`` or a rule per dataset, docs/data.md "Vintages"). A reader called with
``as_of=D`` returns only the facts public on or before ``D``; without ``as_of`` it returns all
of them. Every such read is noted here, so that a run can list the vintages it used and a test
can prove that a forecast "as of D" read nothing published after D:

>>> with record_access() as log:           # doctest: +SKIP
...     run(scenario)
>>> [a for a in log if a.newest_public > scenario.scenario.as_of]   # must be empty

The log is a context variable: reads in other threads or processes are not recorded.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pandas as pd

__all__ = ["Access", "as_of_day", "filter_public", "note_access", "record_access",
           "vintages_used"]


@dataclass(frozen=True)
class Access:
    """One read of a dataset: what, from where, as of when, and the newest publication date among
    the facts it returned (None: nothing returned)."""

    dataset: str
    source: str
    as_of: date | None
    newest_public: date | None
    rows: int

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "source": self.source,
                "as_of": None if self.as_of is None else str(self.as_of),
                "newest_public": None if self.newest_public is None else str(self.newest_public),
                "rows": self.rows}


_LOG: ContextVar[list[Access] | None] = ContextVar("hashshift_access_log", default=None)


@contextlib.contextmanager
def record_access() -> Iterator[list[Access]]:
    """Record every point-in-time read made inside the block (nested blocks each see theirs)."""
    outer = _LOG.get()
    log: list[Access] = []
    token = _LOG.set(log)
    try:
        yield log
    finally:
        _LOG.reset(token)
        if outer is not None:
            outer.extend(log)


def note_access(dataset: str, source: str, as_of: date | None, newest_public: Any,
                rows: int) -> None:
    """Note one read in the current log (a no-op when nothing records)."""
    log = _LOG.get()
    if log is None:
        return
    newest = None if newest_public is None or pd.isna(newest_public) else \
        pd.Timestamp(newest_public).date()
    log.append(Access(dataset, source, as_of, newest, int(rows)))


def as_of_day(as_of: date | datetime | str | pd.Timestamp | None) -> date | None:
    """``as_of`` as a calendar day (UTC), or None."""
    if as_of is None:
        return None
    if isinstance(as_of, str):
        try:
            return date.fromisoformat(as_of.strip()[:10])
        except ValueError:
            raise ValueError(f"as_of {as_of!r} is not a date; use YYYY-MM-DD") from None
    ts = pd.Timestamp(as_of)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC")
    return ts.date()


def filter_public(df: pd.DataFrame, public: pd.Series | Any, as_of: Any, *, dataset: str,
                  source: str, note: bool = True) -> pd.DataFrame:
    """The rows of ``df`` public on or before ``as_of`` (all rows when ``as_of`` is None),
    noted as one read unless ``note`` is False (the caller then notes what it returns).
    ``public``: each row's publication day (a Series aligned with ``df``, or a column name)."""
    day = as_of_day(as_of)
    pub = pd.to_datetime(df[public] if isinstance(public, str) else public)
    if getattr(pub.dt, "tz", None) is not None:
        pub = pub.dt.tz_convert("UTC").dt.tz_localize(None)
    keep = pub.dt.normalize() <= pd.Timestamp(day) if day is not None else \
        pd.Series(True, index=df.index)
    out = df[keep.to_numpy()]
    if note:
        note_access(dataset, source, day, pub[keep.to_numpy()].max() if len(out) else None,
                    len(out))
    return out


def vintages_used(log: list[Access]) -> list[dict[str, Any]]:
    """One entry per dataset and source read: the newest publication date used and the rows,
    for a run's ``config.json``."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for a in log:
        key = (a.dataset, a.source)
        cur = merged.setdefault(key, {"dataset": a.dataset, "source": a.source,
                                      "as_of": None if a.as_of is None else str(a.as_of),
                                      "newest_public": None, "reads": 0})
        cur["reads"] += 1
        if a.newest_public is not None and (cur["newest_public"] is None
                                            or str(a.newest_public) > cur["newest_public"]):
            cur["newest_public"] = str(a.newest_public)
    return sorted(merged.values(), key=lambda r: (r["dataset"], r["source"]))
