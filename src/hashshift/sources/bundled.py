"""The epoch table bundled in the package (``hashshift/data/epochs_mainnet_<date>.csv``).

The file is written by ``scripts/build_history.py`` (sources: ``hashshift/data/SOURCES.md``);
:func:`format_epochs` and :func:`parse_epochs` are its writer and its validating reader.
Targets are 64 hex digits, bits 8 hex digits, times ISO-8601 UTC (``…Z``), ``duration_s`` whole
seconds; ``difficulty`` = ``0xffff·2**208 / target`` (Bitcoin Core ``GetDifficulty``).
"""

from __future__ import annotations

import io
import math
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..consensus import DIFF1_TARGET, compact_to_target
from .bundled_files import newest_bundled

__all__ = [
    "DURATION_SOURCES",
    "EPOCH_COLUMNS",
    "TIME_SOURCES",
    "bundled_epochs_name",
    "format_epochs",
    "parse_epochs",
    "read_epochs",
]

#: Columns of the epoch table, in order.
EPOCH_COLUMNS = [
    "epoch", "first_height", "last_height", "bits", "target", "difficulty", "change_pct",
    "first_time", "last_time", "duration_s", "hashrate_ehs", "hashrate_lo_ehs",
    "hashrate_hi_ehs", "duration_source", "time_source", "last_hash",
]
DURATION_SOURCES = ("headers", "retarget", "none")
TIME_SOURCES = ("headers", "header+retarget", "retarget")
INTERVAL = 2016
_HEX8 = re.compile(r"[0-9a-f]{8}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_TIME_FMT = "%Y-%m-%dT%H:%M:%SZ"
_FLOATS = ("change_pct", "hashrate_ehs", "hashrate_lo_ehs", "hashrate_hi_ehs")


def bundled_epochs_name(vintage: str) -> str:
    """File name of the bundled table for a ``YYYY-MM-DD`` vintage."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", vintage):
        raise ValueError(f"vintage must be YYYY-MM-DD, got {vintage!r}")
    return f"epochs_mainnet_{vintage}.csv"


def _fmt_float(x: Any, spec: str) -> str:
    x = float(x)
    return "" if x != x else format(x, spec)


def _fmt_time(t: Any) -> str:
    return "" if pd.isna(t) else pd.Timestamp(t).tz_convert(UTC).strftime(_TIME_FMT)


def format_epochs(df: pd.DataFrame) -> str:
    """CSV text of an epoch table (columns :data:`EPOCH_COLUMNS`); deterministic bytes."""
    lines = [",".join(EPOCH_COLUMNS)]
    records: list[dict[str, Any]] = df[EPOCH_COLUMNS].to_dict("records")  # type: ignore[assignment]
    for r in records:
        dur = float(r["duration_s"])
        lines.append(",".join([
            str(int(r["epoch"])), str(int(r["first_height"])), str(int(r["last_height"])),
            f"{int(r['bits']):08x}", f"{int(r['target']):064x}", repr(float(r["difficulty"])),
            _fmt_float(r["change_pct"], ".10g"), _fmt_time(r["first_time"]),
            _fmt_time(r["last_time"]), "" if dur != dur else str(int(dur)),
            _fmt_float(r["hashrate_ehs"], ".10g"), _fmt_float(r["hashrate_lo_ehs"], ".10g"),
            _fmt_float(r["hashrate_hi_ehs"], ".10g"),
            str(r["duration_source"]), str(r["time_source"]), str(r["last_hash"]),
        ]))
    return "\n".join(lines) + "\n"


class _Rows:
    """Row-by-row conversion whose errors name the file line, epoch, column and rule."""

    def __init__(self, raw: pd.DataFrame, name: str):
        self.raw, self.name = raw, name

    def fail(self, i: int, msg: str) -> ValueError:
        ep = self.raw["epoch"].iloc[i]
        return ValueError(f"{self.name}: line {i + 2} (row {i + 1}, epoch {ep}): {msg}")

    def col(self, c: str, conv: Any, rule: str, optional: bool = False) -> list[Any]:
        out: list[Any] = []
        for i, v in enumerate(self.raw[c].tolist()):
            if v == "" and optional:
                out.append(None)
                continue
            try:
                out.append(conv(v))
            except (ValueError, TypeError):
                raise self.fail(i, f"{c}={v!r} is not {rule}") from None
        return out


def _hex(pattern: re.Pattern[str]) -> Any:
    def conv(v: str) -> int:
        if not pattern.fullmatch(v):
            raise ValueError(v)
        return int(v, 16)

    return conv


def _time(v: str) -> datetime:
    return datetime.strptime(v, _TIME_FMT).replace(tzinfo=UTC)


def _float(v: str) -> float:
    x = float(v)
    if not math.isfinite(x):
        raise ValueError(v)
    return x


def parse_epochs(text: str, name: str = "epochs") -> pd.DataFrame:
    """Parse and validate epoch-table CSV text; ``name`` labels error messages.

    Rules (a breach raises ``ValueError`` naming the line, epoch and rule): all
    :data:`EPOCH_COLUMNS` present; epochs contiguous (no gap, no repeat);
    ``first_height = 2016·epoch``, ``last_height = first_height + 2015``; ``target`` equals the
    decoded ``bits``; ``difficulty = 0xffff·2**208 / target``; ``first_time`` present and
    increasing; ``duration_s`` empty exactly when ``duration_source`` is ``none``.

    Returns int64 heights and bits, ``target`` as Python ints (object column),
    ``datetime64[s, UTC]`` times, float64 numbers (NaN where empty).
    """
    try:
        raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValueError(f"{name}: not a readable CSV table ({exc})") from None
    missing = [c for c in EPOCH_COLUMNS if c not in raw.columns]
    if missing:
        raise ValueError(f"{name}: missing column(s) {', '.join(missing)} (rule: an epochs file "
                         f"has the columns {', '.join(EPOCH_COLUMNS)})")
    if raw.empty:
        raise ValueError(f"{name}: no rows (rule: at least one epoch)")
    rows = _Rows(raw, name)
    ep = rows.col("epoch", int, "an integer epoch")
    first_h = rows.col("first_height", int, "an integer height")
    last_h = rows.col("last_height", int, "an integer height")
    bits = rows.col("bits", _hex(_HEX8), "8 lowercase hex digits")
    target = rows.col("target", _hex(_HEX64), "64 lowercase hex digits")
    diff = rows.col("difficulty", _float, "a finite number")
    first_t = rows.col("first_time", _time, "an ISO-8601 UTC time YYYY-MM-DDTHH:MM:SSZ")
    last_t = rows.col("last_time", _time, "an ISO-8601 UTC time or empty", optional=True)
    dur = rows.col("duration_s", _float, "a number of seconds or empty", optional=True)
    floats = {c: rows.col(c, _float, "a finite number or empty", optional=True) for c in _FLOATS}
    dsrc = raw["duration_source"].tolist()
    tsrc = raw["time_source"].tolist()
    hashes = rows.col("last_hash", lambda v: v if _HEX64.fullmatch(v) else int("x"),
                      "64 lowercase hex digits or empty", optional=True)

    for i in range(len(raw)):
        e = ep[i]
        if i and e != ep[i - 1] + 1:
            if e > ep[i - 1] + 1:
                miss = f" {ep[i - 1] + 1}" if e == ep[i - 1] + 2 else f"s {ep[i - 1] + 1}..{e - 1}"
                gap = f"gap: epoch{miss} missing after epoch {ep[i - 1]}"
            else:
                gap = f"epoch {e} follows epoch {ep[i - 1]}"
            raise rows.fail(i, f"{gap} (rule: epochs are contiguous, one row each, ascending)")
        if first_h[i] != INTERVAL * e:
            raise rows.fail(i, f"first_height {first_h[i]} != 2016·epoch = {INTERVAL * e} "
                            "(rule: first_height = 2016·epoch)")
        if last_h[i] != first_h[i] + INTERVAL - 1:
            raise rows.fail(i, f"last_height {last_h[i]} != first_height + 2015 "
                            "(rule: an epoch is 2016 blocks)")
        decoded, neg, ovf = compact_to_target(bits[i])
        if neg or ovf or decoded != target[i]:
            raise rows.fail(i, f"target does not equal the target of bits 0x{bits[i]:08x} "
                            "(rule: target = decoded bits)")
        expect = DIFF1_TARGET / target[i]
        if not math.isclose(diff[i], expect, rel_tol=1e-12):
            raise rows.fail(i, f"difficulty {diff[i]!r} != 0xffff·2**208/target = {expect!r} "
                            "(rule: difficulty from target)")
        if i and first_t[i] <= first_t[i - 1]:
            raise rows.fail(i, f"first_time {first_t[i]:%Y-%m-%dT%H:%M:%SZ} is not after the "
                            "previous epoch's (rule: first_time increases)")
        if dsrc[i] not in DURATION_SOURCES:
            raise rows.fail(i, f"duration_source={dsrc[i]!r} is not one of {DURATION_SOURCES}")
        if tsrc[i] not in TIME_SOURCES:
            raise rows.fail(i, f"time_source={tsrc[i]!r} is not one of {TIME_SOURCES}")
        if (dur[i] is None) != (dsrc[i] == "none"):
            raise rows.fail(i, "duration_s must be empty exactly when duration_source is 'none' "
                            "(rule: every duration names its source)")
        if dur[i] is not None and dur[i] <= 0:
            raise rows.fail(i, f"duration_s={dur[i]} is not positive (rule: duration > 0)")

    def times(vals: list[datetime | None]) -> pd.Series:
        s = pd.to_datetime(pd.Series(vals, dtype=object), utc=True)
        return s.astype("datetime64[s, UTC]")

    def nums(vals: list[float | None]) -> np.ndarray:
        return np.array([np.nan if v is None else v for v in vals], dtype=float)

    df = pd.DataFrame({
        "epoch": np.array(ep, dtype=np.int64),
        "first_height": np.array(first_h, dtype=np.int64),
        "last_height": np.array(last_h, dtype=np.int64),
        "bits": np.array(bits, dtype=np.int64),
        "target": pd.Series(target, dtype=object),
        "difficulty": np.array(diff, dtype=float),
        "change_pct": nums(floats["change_pct"]),
        "first_time": times(list(first_t)),
        "last_time": times(last_t),
        "duration_s": nums(dur),
        "hashrate_ehs": nums(floats["hashrate_ehs"]),
        "hashrate_lo_ehs": nums(floats["hashrate_lo_ehs"]),
        "hashrate_hi_ehs": nums(floats["hashrate_hi_ehs"]),
        "duration_source": pd.Series(dsrc, dtype=object),
        "time_source": pd.Series(tsrc, dtype=object),
        "last_hash": pd.Series([h or "" for h in hashes], dtype=object),
    })
    return df


def read_epochs(path: str | Path | None = None) -> pd.DataFrame:
    """Read and validate an epoch table (default: the newest one bundled in the package)."""
    if path is not None:
        p = Path(path)
        return parse_epochs(p.read_text(encoding="utf-8"), name=str(p))
    f = newest_bundled("epochs_mainnet")
    df = parse_epochs(f.read_text(), name=f.label)
    df.attrs["source"] = f.label
    return df
