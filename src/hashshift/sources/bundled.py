"""The epoch table bundled in the package (``hashshift/data/epochs_mainnet_<date>.csv``).

The file is written by ``scripts/build_history.py`` (sources: ``hashshift/data/SOURCES.md``);
:func:`format_epochs` and :func:`parse_epochs` are its writer and its validating reader.
Targets are 64 hex digits, bits 8 hex digits, times ISO-8601 UTC (``…Z``), ``duration_s`` whole
seconds; ``difficulty`` = ``0xffff·2**208 / target`` (Bitcoin Core ``GetDifficulty``).
"""

from __future__ import annotations

import csv
import math
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..consensus import DIFF1_TARGET, compact_to_target
from .bundled_files import newest_bundled

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DURATION_SOURCES",
    "EPOCH_COLUMNS",
    "TIME_SOURCES",
    "bundled_epochs_name",
    "format_epochs",
    "parse_epoch_columns",
    "parse_epochs",
    "read_epoch_columns",
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
    import pandas as pd

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

    def __init__(self, raw: dict[str, list[str]], name: str):
        self.raw, self.name = raw, name

    def fail(self, i: int, msg: str) -> ValueError:
        ep = self.raw["epoch"][i]
        return ValueError(f"{self.name}: line {i + 2} (row {i + 1}, epoch {ep}): {msg}")

    def col(self, c: str, conv: Any, rule: str, optional: bool = False) -> list[Any]:
        out: list[Any] = []
        for i, v in enumerate(self.raw[c]):
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


def _csv_columns(text: str, name: str) -> dict[str, list[str]]:
    """The CSV's columns as lists of strings; every row must have the header's fields."""
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise ValueError(f"{name}: not a readable CSV table (no header line)")
    try:
        rows = list(csv.reader(lines))
    except csv.Error as exc:
        raise ValueError(f"{name}: not a readable CSV table ({exc})") from None
    header, body = rows[0], [r for r in rows[1:] if r]
    for k, r in enumerate(body):
        if len(r) != len(header):
            raise ValueError(f"{name}: not a readable CSV table (line {k + 2} has {len(r)} "
                             f"fields, the header {len(header)})")
    return {c: [r[j] for r in body] for j, c in enumerate(header)}


def parse_epoch_columns(text: str, name: str = "epochs") -> dict[str, list[Any]]:
    """Parse and validate epoch-table CSV text into plain columns (no pandas); ``name`` labels
    error messages.

    Rules (a breach raises ``ValueError`` naming the line, epoch and rule): all
    :data:`EPOCH_COLUMNS` present; epochs contiguous (no gap, no repeat);
    ``first_height = 2016·epoch``, ``last_height = first_height + 2015``; ``target`` equals the
    decoded ``bits``; ``difficulty = 0xffff·2**208 / target``; ``first_time`` present and
    increasing; ``duration_s`` empty exactly when ``duration_source`` is ``none``.

    Returns one list per column of :data:`EPOCH_COLUMNS`: ints (heights, ``bits``, ``target``),
    timezone-aware UTC datetimes (``None`` where ``last_time`` is empty), floats (NaN where
    empty), strings.
    """
    raw = _csv_columns(text, name)
    missing = [c for c in EPOCH_COLUMNS if c not in raw]
    if missing:
        raise ValueError(f"{name}: missing column(s) {', '.join(missing)} (rule: an epochs file "
                         f"has the columns {', '.join(EPOCH_COLUMNS)})")
    if not raw["epoch"]:
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
    dsrc = raw["duration_source"]
    tsrc = raw["time_source"]
    hashes = rows.col("last_hash", lambda v: v if _HEX64.fullmatch(v) else int("x"),
                      "64 lowercase hex digits or empty", optional=True)

    for i in range(len(ep)):
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

    nan = float("nan")
    out = {
        "epoch": ep, "first_height": first_h, "last_height": last_h, "bits": bits,
        "target": target, "difficulty": diff,
        **{c: [nan if v is None else v for v in floats[c]] for c in _FLOATS},
        "first_time": first_t, "last_time": last_t,
        "duration_s": [nan if v is None else v for v in dur],
        "duration_source": dsrc, "time_source": tsrc, "last_hash": [h or "" for h in hashes],
    }
    return {c: out[c] for c in EPOCH_COLUMNS}


def parse_epochs(text: str, name: str = "epochs") -> pd.DataFrame:
    """:func:`parse_epoch_columns` as a DataFrame: int64 heights and bits, ``target`` as Python
    ints (object column), ``datetime64[s, UTC]`` times, float64 numbers (NaN where empty)."""
    import numpy as np
    import pandas as pd

    cols = parse_epoch_columns(text, name)

    def times(vals: list[datetime | None]) -> pd.Series:
        s = pd.to_datetime(pd.Series(vals, dtype=object), utc=True)
        return s.astype("datetime64[s, UTC]")

    return pd.DataFrame({
        "epoch": np.array(cols["epoch"], dtype=np.int64),
        "first_height": np.array(cols["first_height"], dtype=np.int64),
        "last_height": np.array(cols["last_height"], dtype=np.int64),
        "bits": np.array(cols["bits"], dtype=np.int64),
        "target": pd.Series(cols["target"], dtype=object),
        "difficulty": np.array(cols["difficulty"], dtype=float),
        "change_pct": np.array(cols["change_pct"], dtype=float),
        "first_time": times(cols["first_time"]),
        "last_time": times(cols["last_time"]),
        "duration_s": np.array(cols["duration_s"], dtype=float),
        "hashrate_ehs": np.array(cols["hashrate_ehs"], dtype=float),
        "hashrate_lo_ehs": np.array(cols["hashrate_lo_ehs"], dtype=float),
        "hashrate_hi_ehs": np.array(cols["hashrate_hi_ehs"], dtype=float),
        "duration_source": pd.Series(cols["duration_source"], dtype=object),
        "time_source": pd.Series(cols["time_source"], dtype=object),
        "last_hash": pd.Series(cols["last_hash"], dtype=object),
    })


def read_epoch_columns(path: str | Path | None = None) -> tuple[dict[str, list[Any]], str]:
    """Read and validate an epoch table as plain columns (:func:`parse_epoch_columns`; default:
    the newest one bundled in the package), with the file's label."""
    if path is not None:
        p = Path(path)
        return parse_epoch_columns(p.read_text(encoding="utf-8"), name=str(p)), str(p)
    f = newest_bundled("epochs_mainnet")
    return parse_epoch_columns(f.read_text(), name=f.label), f.label


def read_epochs(path: str | Path | None = None) -> pd.DataFrame:
    """Read and validate an epoch table (default: the newest one bundled in the package)."""
    if path is not None:
        p = Path(path)
        return parse_epochs(p.read_text(encoding="utf-8"), name=str(p))
    f = newest_bundled("epochs_mainnet")
    df = parse_epochs(f.read_text(), name=f.label)
    df.attrs["source"] = f.label
    return df
