"""Shared machinery of the CSV file sources: loading, layout detection, typed columns, checks.

Every check raises :class:`TableFormatError` (a
:class:`~hashshift.sources.errors.SourceFormatError`) whose message names the file, the field and,
for a value in a row, the 1-based line of the file (line 1 is the header), so a user can open the
file at that line.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from .errors import SourceFormatError

__all__ = [
    "MISSING",
    "ParsedTable",
    "TableFormatError",
]

#: Cell values read as a missing number where missing values are allowed.
MISSING = frozenset({"", "NA", "NaN", "nan", "N/A", "null"})

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_DATE = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?"
)
#: pandas' row index -> line of the file (header on line 1)
_LINE = "__line__"
#: the days a datetime64[ns] column can hold
_FIRST_DAY = pd.Timestamp("1677-09-22", tz="UTC")
_LAST_DAY = pd.Timestamp("2262-04-11", tz="UTC")


class ParsedTable(NamedTuple):
    """A parsed file: its detected layout (``kind``) and the tidy frame."""

    kind: str
    frame: pd.DataFrame


class TableFormatError(SourceFormatError):
    """A CSV file of the wrong shape; ``line`` is the 1-based line of the file (header = 1)."""

    def __init__(
        self,
        source: str,
        field: str,
        value: object = None,
        message: str | None = None,
        *,
        line: int | None = None,
    ) -> None:
        self.line = line
        detail = message or "unexpected value"
        if line is not None:
            detail = f"line {line}: {detail}"
        super().__init__(source, field, value, detail)


def read_text(path: str | Path) -> str:
    """A file's text (UTF-8, a leading byte-order mark dropped)."""
    text = decode(Path(path).read_bytes(), str(path))
    return text.replace("\r\n", "\n").replace("\r", "\n")  # universal newlines


def decode(data: str | bytes, name: str) -> str:
    """Text of ``data`` (bytes are UTF-8, a leading byte-order mark dropped); bytes that are
    not UTF-8 raise :class:`TableFormatError` naming the line and byte offset."""
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise TableFormatError(
            name, "(file)", data[e.start : e.start + 8],
            f"not UTF-8 text (byte offset {e.start}: {e.reason}); save the file as UTF-8",
            line=line,
        ) from None


def header_of(text: str) -> list[str]:
    """The column names on the first non-blank line of a CSV text."""
    for line in text.lstrip("\ufeff").splitlines():
        if line.strip():
            return [c.strip() for c in next(csv.reader([line]))]
    return []


def load_csv(text: str, name: str) -> pd.DataFrame:
    """Every cell as a stripped string, blank rows dropped, ``__line__`` = the line in the file.

    The header is the first non-blank line.
    """
    text = text.lstrip("\ufeff")
    skipped = 0
    while True:
        first, nl, rest = text.partition("\n")
        if first.strip() or not nl:
            break
        text, skipped = rest, skipped + 1
    try:
        df = pd.read_csv(
            io.StringIO(text),
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
        )
    except pd.errors.EmptyDataError as e:
        raise TableFormatError(name, "(file)", "", "empty file: no header line") from e
    except pd.errors.ParserError as e:
        m = re.search(r"line (\d+)", str(e))
        raise TableFormatError(
            name, "(row)", None, "malformed CSV: " + re.sub(r" in line \d+", "", str(e)).strip(),
            line=int(m.group(1)) + skipped if m else None,
        ) from e
    df.columns = [str(c).strip() for c in df.columns]
    seen: dict[str, int] = {}
    for k, c in enumerate(df.columns, start=1):
        if c in seen:  # e.g. "date" and " date": pandas keeps both, stripped they are one
            raise TableFormatError(name, c, c, f"column {c!r} appears twice in the header "
                                   f"(columns {seen[c]} and {k})", line=1 + skipped)
        seen[c] = k
    df = df.apply(lambda s: s.astype(str).str.strip())
    df[_LINE] = np.arange(len(df)) + 2 + skipped
    blank = (df.drop(columns=_LINE) == "").all(axis=1)
    return df.loc[~blank].reset_index(drop=True)


def lines(df: pd.DataFrame) -> np.ndarray:
    """Line numbers (in the file) of the rows of a frame from :func:`load_csv`."""
    return df[_LINE].to_numpy()


def columns_of(df: pd.DataFrame) -> list[str]:
    """The file's column names (without the line-number column)."""
    return [str(c) for c in df.columns if c != _LINE]


def require_columns(df: pd.DataFrame, required: Iterable[str], name: str) -> None:
    """Raise naming the first missing column and listing the columns found."""
    found = columns_of(df)
    for col in required:
        if col not in df.columns:
            listed = ", ".join(map(repr, found))
            raise TableFormatError(name, col, None, f"missing column (columns found: {listed})")


def find_column(columns: Sequence[str], *names: str) -> str | None:
    """The first of ``names`` present in ``columns``, compared case-insensitively."""
    by_fold = {str(c).casefold(): str(c) for c in columns}
    for n in names:
        if n.casefold() in by_fold:
            return by_fold[n.casefold()]
    return None


def numbers(
    df: pd.DataFrame,
    col: str,
    name: str,
    *,
    allow_missing: bool = False,
    percent: bool = False,
    min_value: float | None = None,
    max_value: float | None = None,
) -> np.ndarray:
    """Column ``col`` as float64 (missing -> NaN where allowed), each cell checked.

    ``percent`` accepts a trailing ``%`` (``"75.53%"`` -> 75.53). Raises naming the line and field
    of the first empty (when not allowed), unparseable or out-of-range value.
    """
    raw = df[col].astype(str)
    text = raw.str.removesuffix("%").str.strip() if percent else raw
    missing = text.isin(MISSING).to_numpy()
    ok = text.str.fullmatch(_NUMBER.pattern).to_numpy(dtype=bool)
    bad = ~ok & (~missing if allow_missing else np.ones(len(df), dtype=bool))
    if bad.any():
        i = int(np.argmax(bad))
        what = "missing value" if missing[i] else "not a number"
        raise TableFormatError(name, col, raw.iloc[i], what, line=int(lines(df)[i]))
    out = np.full(len(df), np.nan)
    out[ok] = text[ok].astype(float).to_numpy()
    for limit, cmp, word in ((min_value, np.less, "below"), (max_value, np.greater, "above")):
        if limit is None:
            continue
        with np.errstate(invalid="ignore"):
            over = cmp(out, limit) & ~np.isnan(out)
        if over.any():
            i = int(np.argmax(over))
            raise TableFormatError(
                name, col, raw.iloc[i], f"value {word} the allowed {limit:g}",
                line=int(lines(df)[i]),
            )
    return out


def dates(df: pd.DataFrame, col: str, name: str) -> pd.Series:
    """Column ``col`` as UTC days: datetime64[ns], tz-naive, at midnight.

    Accepts ISO 8601 dates or date-times (``2019-09-01``, ``2014-07-01T00:00:00``, with an optional
    ``Z`` or offset, converted to UTC). Raises naming the line of an empty or unparseable value, or
    of a time of day other than midnight UTC.
    """
    raw = df[col].astype(str)
    ok = raw.str.fullmatch(_DATE.pattern).to_numpy(dtype=bool)
    parsed = pd.to_datetime(raw.where(ok, None), format="ISO8601", utc=True, errors="coerce")
    bad = parsed.isna().to_numpy()
    # datetime64[ns] holds the days 1677-09-22 .. 2262-04-11: others cannot be stored
    outside = ~bad & ~parsed.between(_FIRST_DAY, _LAST_DAY).to_numpy(dtype=bool)
    if bad.any() or outside.any():
        i = int(np.argmax(bad | outside))
        what = ("missing date" if raw.iloc[i] == "" else "not an ISO 8601 date" if bad[i]
                else f"date out of range ({_FIRST_DAY:%Y-%m-%d} to {_LAST_DAY:%Y-%m-%d})")
        raise TableFormatError(name, col, raw.iloc[i], what, line=int(lines(df)[i]))
    naive = parsed.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[ns]")
    off = (naive != naive.dt.normalize()).to_numpy()
    if off.any():
        i = int(np.argmax(off))
        raise TableFormatError(
            name, col, raw.iloc[i], "not midnight UTC (daily data expected)", line=int(lines(df)[i])
        )
    return naive.reset_index(drop=True).rename("date")


def check_unique(
    frame: pd.DataFrame, keys: Sequence[str], line: np.ndarray, name: str, field: str
) -> None:
    """Raise naming both lines of the first repeated ``keys`` combination."""
    dup = frame.duplicated(subset=list(keys), keep="first").to_numpy()
    if not dup.any():
        return
    i = int(np.argmax(dup))
    row = frame.iloc[i]
    same = (frame[list(keys)] == row[list(keys)]).all(axis=1).to_numpy()
    first = int(line[int(np.argmax(same))])
    value = ", ".join(_fmt(row[k]) for k in keys)
    raise TableFormatError(
        name, field, value, f"duplicate row (same {' and '.join(keys)} as line {first})",
        line=int(line[i]),
    )


def check_ascending(
    frame: pd.DataFrame,
    line: np.ndarray,
    name: str,
    field: str,
    by: Sequence[str] = (),
    *,
    strict: bool = True,
) -> None:
    """Raise naming the first row whose ``date`` is not after the previous one (per ``by``)."""
    d = frame["date"]
    prev = frame.groupby(list(by), sort=False)["date"].shift() if by else d.shift()
    bad = (d <= prev) if strict else (d < prev)
    bad_arr = bad.fillna(False).to_numpy(dtype=bool)
    if not bad_arr.any():
        return
    i = int(np.argmax(bad_arr))
    group = " for " + ", ".join(f"{k} {_fmt(frame[k].iloc[i])}" for k in by) if by else ""
    raise TableFormatError(
        name, field, _fmt(d.iloc[i]),
        f"dates out of order{group}: {_fmt(d.iloc[i])} after {_fmt(prev.iloc[i])} "
        "(dates must ascend)",
        line=int(line[i]),
    )


def check_bounds_order(
    frame: pd.DataFrame, lower: str, mid: str, upper: str, line: np.ndarray, name: str
) -> None:
    """Raise naming the first row where not ``lower <= mid <= upper`` (relative slack 1e-9)."""
    lo, md, up = (frame[c].to_numpy(dtype=float) for c in (lower, mid, upper))
    with np.errstate(invalid="ignore"):
        slack = 1e-9 * np.abs(up)
        bad = (lo > md + slack) | (md > up + slack)
    if bad.any():
        i = int(np.argmax(bad))
        raise TableFormatError(
            name, mid, md[i],
            f"bounds out of order on {_fmt(frame['date'].iloc[i])}: expected {lower} <= {mid} <= "
            f"{upper}, got {lo[i]:g}, {md[i]:g}, {up[i]:g}",
            line=int(line[i]),
        )


def detect(
    columns: Sequence[str], signatures: Mapping[str, Iterable[str]], name: str
) -> str:
    """The first layout whose signature columns are all in ``columns``, else raise."""
    columns = [str(c) for c in columns if c != _LINE]
    have = set(columns)
    for kind, sig in signatures.items():
        if set(sig) <= have:
            return kind
    expected = "; ".join(f"{k} ({', '.join(s)})" for k, s in signatures.items())
    raise TableFormatError(
        name, "(header)", ",".join(columns),
        f"unrecognised layout; expected one of: {expected}",
        line=1,
    )


def _fmt(v: object) -> str:
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%d")
    return str(v)
