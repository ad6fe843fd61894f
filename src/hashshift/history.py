"""The network's real history, one row per 2016-block difficulty epoch.

The table is bundled in the package (``hashshift/data/epochs_mainnet_<date>.csv``, built by
``scripts/build_history.py``; sources and licences in ``hashshift/data/SOURCES.md``):

- difficulty per epoch from Electrum's ``checkpoints.json`` (spesmilo/electrum, MIT);
- epoch durations from the first and last block header of each epoch
  (EthanYuan/ckb-bitcoin-spv-testdata, WTFPL), each header checked by proof of work, against
  Electrum's hash and target, and against Bitcoin Core's retarget (``src/pow.cpp``);
- after the last header at hand, durations are recovered from the next retarget: Core sets
  ``new_target = old_target · timespan / 1 209 600`` (then rounds through compact bits), so the
  integer timespans consistent with the observed ``new_target`` form a short range whose midpoint
  is used (``duration_source == "retarget"``).

Hashrate estimator (per epoch, stated once and used everywhere)
---------------------------------------------------------------
A block at difficulty ``D`` takes ``W = D · 2**32`` hashes on average (Bitcoin Core
``GetBlockProof``, ``src/chain.cpp``: ``2**256 / (target + 1)``, equal to ``D · 2**32`` to a
relative 1.5e-5). With hashrate ``H``, blocks arrive as a Poisson process of rate ``λ = H / W``,
so the sum ``T`` of the ``n = 2015`` intervals of an epoch has ``λ·T ~ Gamma(n, 1)`` (Bowden,
Keeler, Krzesinski & Taylor 2018, "Block arrivals in the Bitcoin blockchain", arXiv:1801.07447).
The point estimate is the unbiased ``Ĥ = (n − 1) · W / T`` (``E[1/T] = λ / (n − 1)``; the MLE
``n · W / T`` is larger by ``1/(n−1)`` ≈ 0.05 %), and the exact 95 % interval is
``[W · g₀.₀₂₅ / T, W · g₀.₉₇₅ / T]`` with ``g_p`` the ``p``-quantile of ``Gamma(n, 1)``.
If ``H`` varies within the epoch, ``Ĥ`` estimates its time average over the epoch. Block
timestamps are set by miners (within Core's median-time-past and 2-hour rules), which adds a few
hours of noise to ``T`` (≲ 1 % for a two-week epoch).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import pandas as pd

from .consensus import (
    DIFF1_TARGET,
    MAINNET,
    Header,
    Params,
    bits_to_difficulty,
    compact_to_target,
    permitted_difficulty_transition,
    retarget,
    target_to_compact,
)
from .epoch_table import cut_order
from .sources.bundled import EPOCH_COLUMNS, read_epochs
from .sources.electrum import Checkpoint
from .sources.pit import as_of_day, filter_public, note_access
from .units import EH, HASHES_PER_DIFFICULTY

if TYPE_CHECKING:
    from .store import Store

__all__ = [
    "BLOCK_COUNT_SOURCES",
    "EPOCH_COLUMNS",
    "build_epochs",
    "count_sources",
    "difficulty_at",
    "epochs",
    "halvings",
    "hashrate",
    "hashrate_daily",
    "hashrate_estimate",
    "hashprice_daily",
    "largest_cuts",
    "latest",
    "project_retarget",
    "store_blocks_daily",
    "time_at",
    "timespan_from_retarget",
]

INTERVAL = MAINNET.interval  # 2016 blocks per epoch
EHS = EH  # H/s per EH/s


# ---------------------------------------------------------------------------------------------
# Estimator
# ---------------------------------------------------------------------------------------------
@overload
def hashrate_estimate(
    difficulty: float, duration_s: float, intervals: int = ..., level: float = ...
) -> tuple[float, float, float]: ...


@overload
def hashrate_estimate(
    difficulty: np.ndarray, duration_s: np.ndarray | float, intervals: int = ...,
    level: float = ...,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...


def hashrate_estimate(
    difficulty: Any, duration_s: Any, intervals: int = INTERVAL - 1, level: float = 0.95
) -> tuple[Any, Any, Any]:
    """Mean hashrate of an epoch with its exact interval (Bowden et al. 2018, arXiv:1801.07447).

    ``λ·T ~ Gamma(n, 1)``; estimate ``(n − 1)·D·2**32 / T`` (unbiased), interval
    ``D·2**32·[Gamma(n).ppf((1 − level)/2), Gamma(n).ppf((1 + level)/2)] / T``.

    Parameters
    ----------
    difficulty : float or array — [dimensionless] difficulty of the epoch
    duration_s : float or array — [s] time spanned by the ``intervals`` block intervals (NaN
        propagates)
    intervals : int — [block intervals] in ``duration_s``, 2015 for a whole epoch (≥ 2)
    level : float — [probability] coverage of the interval, in (0, 1)

    Returns
    -------
    (estimate_ehs, lo_ehs, hi_ehs) : [EH/s] floats for scalar input, arrays otherwise
    """
    if intervals < 2:
        raise ValueError(f"intervals must be >= 2 for the unbiased estimator, got {intervals}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    d = np.asarray(difficulty, dtype=float)
    t = np.asarray(duration_s, dtype=float)
    if np.any(d <= 0):
        raise ValueError("difficulty must be positive")
    if np.any(t <= 0):
        raise ValueError("duration_s must be positive")
    from scipy.special import gammaincinv  # gamma quantiles (scipy.stats.gamma.ppf's)

    g_lo, g_hi = gammaincinv(intervals, [(1 - level) / 2, (1 + level) / 2])
    work_per_s = d * HASHES_PER_DIFFICULTY / t / EHS
    est, lo, hi = (intervals - 1) * work_per_s, g_lo * work_per_s, g_hi * work_per_s
    if est.ndim == 0:
        return float(est), float(lo), float(hi)
    return est, lo, hi


# ---------------------------------------------------------------------------------------------
# Building the table from checkpoints and headers (pure; the script does the I/O)
# ---------------------------------------------------------------------------------------------
def timespan_from_retarget(
    old_target: int, new_target: int, params: Params = MAINNET
) -> tuple[int, int]:
    """Range ``(lo, hi)`` [s] of integer timespans for which Core's retarget (``pow.cpp``
    ``CalculateNextWorkRequired``) turns ``old_target`` into ``new_target`` (inclusive).

    Raises ``ValueError`` when no timespan in Core's clamp range [302 400, 4 838 400] s does.
    """
    span = params.pow_target_timespan
    a_min, a_max = span // 4, span * 4
    old_bits = target_to_compact(old_target)

    def after(a: int) -> int:
        return compact_to_target(retarget(old_bits, 0, a, params))[0]

    def first_at_least(value: int) -> int:
        lo, hi = a_min, a_max + 1
        while lo < hi:
            mid = (lo + hi) // 2
            if after(mid) >= value:
                hi = mid
            else:
                lo = mid + 1
        return lo

    lo = first_at_least(new_target)
    hi = first_at_least(new_target + 1) - 1
    if lo > hi or after(lo) != new_target:
        raise ValueError(
            f"no timespan in [{a_min}, {a_max}] s retargets 0x{old_target:064x} to "
            f"0x{new_target:064x} (rule: Core's CalculateNextWorkRequired)"
        )
    return lo, hi


def build_epochs(
    checkpoints: Sequence[Checkpoint], headers: Mapping[int, Header], params: Params = MAINNET
) -> pd.DataFrame:
    """The epoch table from Electrum checkpoints and epoch-boundary headers (keyed by height).

    Checks, raising ``ValueError`` that names the epoch/height and the rule: every target is
    exact compact bits; every retarget is within Core's factor-4 bounds; every header meets its
    proof of work, carries its epoch's bits, and (last of an epoch) has Electrum's hash, (first of
    an epoch) links to the previous epoch's last hash; header-timed epochs reproduce the next
    epoch's bits through Core's retarget. Durations without both headers come from
    :func:`timespan_from_retarget`; estimated times fill the rest (see ``time_source``).
    """
    genesis = Header.parse(params.genesis_header)
    targets = [compact_to_target(genesis.bits)[0]] + [c.next_target for c in checkpoints]
    hashes = [c.hash_hex for c in checkpoints]
    for i, c in enumerate(checkpoints):
        if c.index != i:
            raise ValueError(f"checkpoint {i}: index {c.index} out of order")
    n = len(targets)
    bits = [target_to_compact(t) for t in targets]
    for e, (t, b) in enumerate(zip(targets, bits, strict=True)):
        if compact_to_target(b)[0] != t:
            raise ValueError(f"epoch {e}: target 0x{t:064x} is not exactly representable as "
                             "compact bits (rule: targets are decoded nBits)")
        if e and not permitted_difficulty_transition(e * INTERVAL, bits[e - 1], b, params):
            raise ValueError(
                f"epoch {e}: bits 0x{b:08x} after 0x{bits[e - 1]:08x} are outside Core's "
                "permitted retarget range (rule: PermittedDifficultyTransition)"
            )

    first_t: dict[int, int] = {}
    last_t: dict[int, int] = {}
    for h in sorted(headers):
        hd = headers[h]
        e, pos = divmod(h, INTERVAL)
        where = f"header at height {h} (epoch {e})"
        if pos not in (0, INTERVAL - 1):
            raise ValueError(f"{where}: not the first or last block of an epoch")
        if e >= n:
            raise ValueError(f"{where}: beyond the checkpoints (epochs 0..{n - 1})")
        if not hd.check_pow(params):
            raise ValueError(f"{where}: hash {hd.hash_hex} above its target (rule: proof of work)")
        if hd.bits != bits[e]:
            raise ValueError(f"{where}: bits 0x{hd.bits:08x}, Electrum's target gives "
                             f"0x{bits[e]:08x} (rule: header bits = checkpoint target)")
        if pos == 0:
            if h == 0 and hd.hash != genesis.hash:
                raise ValueError(f"{where}: not the {params.name} genesis block")
            if h and hd.prev_hash_hex != hashes[e - 1]:
                raise ValueError(f"{where}: prev hash {hd.prev_hash_hex} is not checkpoint "
                                 f"{e - 1}'s hash {hashes[e - 1]} (rule: chain link)")
            first_t[e] = hd.time
        else:
            if e >= len(hashes):
                raise ValueError(f"{where}: no checkpoint hash to check it against")
            if hd.hash_hex != hashes[e]:
                raise ValueError(f"{where}: hash {hd.hash_hex} is not checkpoint {e}'s hash "
                                 f"{hashes[e]} (rule: header hash = checkpoint hash)")
            last_t[e] = hd.time

    duration: list[float] = []
    dsource: list[str] = []
    for e in range(n):
        if e in first_t and e in last_t:
            if e + 1 < n:
                nxt = retarget(bits[e], first_t[e], last_t[e], params)
                if nxt != bits[e + 1]:
                    raise ValueError(
                        f"epoch {e}: header times {first_t[e]}..{last_t[e]} retarget to "
                        f"0x{nxt:08x}, the checkpoints say 0x{bits[e + 1]:08x} "
                        "(rule: Core retarget)"
                    )
            duration.append(float(last_t[e] - first_t[e]))
            dsource.append("headers")
        elif e + 1 < n:
            lo, hi = timespan_from_retarget(targets[e], targets[e + 1], params)
            duration.append(float((lo + hi) // 2))
            dsource.append("retarget")
        else:
            duration.append(float("nan"))
            dsource.append("none")

    # Times: real where a header is at hand, otherwise carried forward from the last known time:
    # first = previous last + one mean block interval of this epoch, last = first + duration.
    spacing = float(params.pow_target_spacing)
    ft: list[float] = []
    lt: list[float] = []
    tsource: list[str] = []
    for e in range(n):
        dur = duration[e]
        gap = dur / (INTERVAL - 1) if dur == dur else spacing
        f = float(first_t[e]) if e in first_t else float(round(lt[e - 1] + gap))
        if e in last_t:
            last = float(last_t[e])
        else:
            last = f + dur if dur == dur else float("nan")
        ft.append(f)
        lt.append(last)
        if e in first_t and e in last_t:
            tsource.append("headers")
        elif e in first_t:
            tsource.append("header+retarget")
        else:
            tsource.append("retarget")

    diff = np.array([DIFF1_TARGET / t for t in targets])
    change = np.full(n, np.nan)
    change[1:] = (diff[1:] / diff[:-1] - 1.0) * 100.0
    dur_arr = np.array(duration)
    est, lo_h, hi_h = hashrate_estimate(diff, dur_arr)
    epochs_ = np.arange(n, dtype=np.int64)
    df = pd.DataFrame({
        "epoch": epochs_,
        "first_height": epochs_ * INTERVAL,
        "last_height": epochs_ * INTERVAL + INTERVAL - 1,
        "bits": np.array(bits, dtype=np.int64),
        "target": pd.Series(targets, dtype=object),
        "difficulty": diff,
        "change_pct": change,
        "first_time": _to_utc(ft),
        "last_time": _to_utc(lt),
        "duration_s": dur_arr,
        "hashrate_ehs": est,
        "hashrate_lo_ehs": lo_h,
        "hashrate_hi_ehs": hi_h,
        "duration_source": dsource,
        "time_source": tsource,
        "last_hash": hashes + [""] * (n - len(hashes)),
    })
    return df[EPOCH_COLUMNS]


def _to_utc(unix_s: Sequence[float]) -> pd.Series:
    return pd.Series(pd.to_datetime(np.asarray(unix_s, dtype=float), unit="s", utc=True)).astype(
        "datetime64[s, UTC]"
    )


# ---------------------------------------------------------------------------------------------
# The bundled table and queries on it
# ---------------------------------------------------------------------------------------------
@functools.cache
def _table() -> pd.DataFrame:
    return read_epochs()


def _utc(when: datetime | date | str, name: str = "time") -> pd.Timestamp:
    """A timezone-aware UTC timestamp; dates and date strings without a zone mean UTC."""
    if isinstance(when, datetime):
        if when.tzinfo is None:
            raise ValueError(f"{name} {when!r} has no timezone; pass a timezone-aware UTC time")
        return pd.Timestamp(when).tz_convert(UTC)
    if isinstance(when, date):
        return pd.Timestamp(when.isoformat(), tz=UTC)
    ts = pd.Timestamp(when)
    return ts.tz_localize(UTC) if ts.tzinfo is None else ts.tz_convert(UTC)


def _unix(col: pd.Series) -> np.ndarray:
    """[unix s] of a UTC datetime column as floats (NaT → NaN)."""
    out = np.full(len(col), np.nan)
    ok = col.notna().to_numpy()
    out[ok] = col[ok].dt.as_unit("s").astype("int64").to_numpy().astype(float)
    return out


def _span_end(df: pd.DataFrame) -> np.ndarray:
    """[unix s] end of each epoch's span: the next epoch's first time, else its own last time."""
    first = _unix(df["first_time"])
    end = np.empty(len(df))
    end[:-1] = first[1:]
    end[-1] = _unix(df["last_time"].iloc[-1:])[0]
    return end


def _known(df: pd.DataFrame, as_of: Any) -> pd.DataFrame:
    """The epochs as known on ``as_of`` (chain data are public the day after a block): epochs
    whose first block was public; an epoch whose last block was not yet public has no last time,
    duration or hashrate. Without ``as_of``, everything. Each read is noted with the newest
    publication day it returned (:mod:`hashshift.sources.pit`)."""
    def public(col: str) -> pd.Series:
        return (df[col].dt.tz_convert(UTC).dt.tz_localize(None).dt.normalize()
                + pd.Timedelta(days=1))

    source = df.attrs.get("source", "")
    out = filter_public(df, public("first_time"), as_of, dataset="epochs", source=source,
                        note=False)
    day = as_of_day(as_of)
    if day is not None:
        last = public("last_time").reindex(out.index)
        open_ = ~(last <= pd.Timestamp(day)).to_numpy()
        if open_.any():
            out = out.copy()
            out.loc[open_, "last_time"] = pd.NaT
            for c in ("duration_s", "hashrate_ehs", "hashrate_lo_ehs", "hashrate_hi_ehs"):
                out.loc[open_, c] = np.nan
            out.loc[open_, "duration_source"] = "none"
    used = public("last_time").reindex(out.index).where(out["last_time"].notna(),
                                                         public("first_time").reindex(out.index))
    note_access("epochs", source, day, used.max() if len(out) else None, len(out))
    return out


def epochs(
    since: datetime | date | str | None = None, until: datetime | date | str | None = None,
    *, as_of: date | datetime | str | None = None,
) -> pd.DataFrame:
    """The bundled epoch table (columns :data:`EPOCH_COLUMNS`), optionally only epochs whose
    span ``[first_time, next epoch's first_time)`` overlaps ``[since, until]`` (UTC), and only
    what was public on ``as_of`` (a block is public the day after it was mined).

    Columns: ``difficulty`` [dimensionless], ``change_pct`` [%] vs the previous epoch,
    ``duration_s`` [s] over 2015 intervals, ``hashrate_*_ehs`` [EH/s] (estimate, 95 % bounds;
    see the module docstring), ``target`` (Python ``int``), ``bits`` (int), times UTC.
    """
    df = _known(_table(), as_of)
    if since is not None or until is not None:
        start = _unix(df["first_time"])
        end = _span_end(df)
        end = np.where(np.isnan(end), np.inf, end)
        keep = np.ones(len(df), dtype=bool)
        if since is not None:
            keep &= end > _utc(since, "since").timestamp()
        if until is not None:
            keep &= start <= _utc(until, "until").timestamp()
        df = df[keep]
    return df.reset_index(drop=True).copy()


def hashrate(freq: str = "epoch", *, as_of: date | datetime | str | None = None
             ) -> pd.DataFrame:
    """Hashrate history [EH/s] with 95 % bounds (estimator: module docstring).

    ``freq="epoch"``: one row per epoch with an estimate (``epoch``, ``first_time``,
    ``last_time``, ``hashrate_ehs``, ``hashrate_lo_ehs``, ``hashrate_hi_ehs``,
    ``duration_source``). ``freq="D"``: one row per UTC day (``date``), each the time-weighted
    mean of the epoch estimates (and of their bounds) over the part of the day the epochs cover,
    each epoch spanning ``[first_time, next first_time)``. ``as_of``: as known that day.
    """
    df = _known(_table(), as_of).reset_index(drop=True)
    cols = ["hashrate_ehs", "hashrate_lo_ehs", "hashrate_hi_ehs"]
    if freq == "epoch":
        ok = df["hashrate_ehs"].notna()
        keep = ["epoch", "first_time", "last_time", *cols, "duration_source"]
        return df.loc[ok, keep].reset_index(drop=True)
    if freq != "D":
        raise ValueError(f"freq must be 'epoch' or 'D', got {freq!r}")
    start = _unix(df["first_time"])
    end = _span_end(df)
    ok = ~np.isnan(df["hashrate_ehs"].to_numpy()) & ~np.isnan(end)
    start, end = start[ok], end[ok]
    t0, t1 = float(start[0]), float(end[-1])
    day = 86400.0
    d0 = np.floor(t0 / day) * day
    bounds = np.arange(d0, t1 + day, day)
    if bounds[-1] < t1:  # pragma: no cover - arange covers t1 by construction
        bounds = np.append(bounds, bounds[-1] + day)
    # Covered time and integral of each series, piecewise constant over epoch spans.
    knots = np.concatenate([start, end[-1:]])
    if np.any(np.diff(knots) <= 0):
        raise ValueError("epoch start times must increase to build a daily series")
    b = np.clip(bounds, t0, t1)
    covered = np.diff(b)
    out = pd.DataFrame({"date": pd.to_datetime(bounds[:-1], unit="s", utc=True)})
    for c in cols:
        rate = df[c].to_numpy()[ok]
        cum = np.concatenate([[0.0], np.cumsum(rate * np.diff(knots))])
        integral = np.diff(np.interp(b, knots, cum))
        out[c] = integral / covered
    out = out[covered > 0].reset_index(drop=True)
    out["date"] = out["date"].astype("datetime64[s, UTC]")
    return out


def _epoch_row(df: pd.DataFrame, height: int) -> pd.Series:
    if height < 0:
        raise ValueError(f"height must be >= 0, got {height}")
    e = height // INTERVAL
    first_e = int(df["epoch"].iloc[0])
    if not first_e <= e <= int(df["epoch"].iloc[-1]):
        raise ValueError(
            f"height {height} (epoch {e}) is outside the bundled history "
            f"(heights {first_e * INTERVAL}..{int(df['last_height'].iloc[-1])})"
        )
    return df.iloc[e - first_e]


def difficulty_at(when: int | datetime | date | str) -> float:
    """Difficulty [dimensionless] at a height [block], or in force at a UTC time.

    At a time ``t``: the difficulty of the next block mined after ``t``, i.e. epoch ``e + 1``
    from the last block time of epoch ``e`` on (genesis time for epoch 0). Times before the
    genesis block or after the newest time in the table raise ``ValueError``.
    """
    df = _known(_table(), None)
    if isinstance(when, int | np.integer):
        return float(_epoch_row(df, int(when))["difficulty"])
    t = _utc(when).timestamp()
    first = _unix(df["first_time"])
    last = _unix(df["last_time"])
    newest = np.nanmax(np.concatenate([first, last]))
    if t < first[0] or t > newest:
        lo = pd.Timestamp(first[0], unit="s", tz=UTC)
        hi = pd.Timestamp(newest, unit="s", tz=UTC)
        raise ValueError(f"{_utc(when)} is outside the bundled history ({lo} .. {hi})")
    # epoch k is in force on [last_time[k-1], last_time[k]); searchsorted over last times.
    prev_last = last[:-1]
    k = int(np.searchsorted(prev_last, t, side="right"))
    return float(df["difficulty"].iloc[k])


def time_at(height: int) -> pd.Timestamp:
    """Estimated UTC time of the block at ``height`` [block]: linear in height between its
    epoch's first and last block times. Given both ends, the 2014 blocks between arrive as
    uniform order statistics under a constant-rate Poisson process (Bowden et al. 2018,
    arXiv:1801.07447), so this is their expected time; a hashrate change within the epoch biases
    it (hours). Exact at the boundaries; ``time_source`` says whether those are header times."""
    df = _known(_table(), None)
    row = _epoch_row(df, int(height))
    first, last = row["first_time"], row["last_time"]
    if pd.isna(last):
        raise ValueError(f"height {height}: epoch {int(row['epoch'])} has no known end time")
    frac = (int(height) - int(row["first_height"])) / (INTERVAL - 1)
    return pd.Timestamp(first + (last - first) * frac).round("s")


def halvings() -> pd.DataFrame:
    """Subsidy halvings inside the bundled history: ``halving``, ``height`` [block], estimated
    ``time`` (:func:`time_at`) and the epoch's ``time_source`` (``validation.cpp``
    ``GetBlockSubsidy``: every 210 000 blocks)."""
    df = _known(_table(), None)
    n = MAINNET.subsidy_halving_interval
    rows = []
    k = 1
    while k * n <= int(df["last_height"].iloc[-1]):
        row = _epoch_row(df, k * n)
        if pd.notna(row["last_time"]):
            rows.append({"halving": k, "height": k * n, "time": time_at(k * n),
                         "time_source": row["time_source"]})
        k += 1
    return pd.DataFrame(rows, columns=["halving", "height", "time", "time_source"])


def latest() -> pd.Series:
    """The newest epoch with a hashrate estimate (a row of :func:`epochs`)."""
    df = _known(_table(), None)
    return df[df["hashrate_ehs"].notna()].iloc[-1].copy()


def project_retarget(bits: int, first_time_s: int, blocks: int, elapsed_s: float
                     ) -> dict[str, Any]:
    """Bitcoin Core's retarget applied to an epoch in progress.

    ``blocks`` [blocks] of the epoch have been mined (its first block included) and
    ``elapsed_s`` [s] passed from the first to the latest of them, i.e. over ``blocks − 1``
    intervals. At that pace the 2015 intervals Core measures take ``elapsed_s · 2015 /
    (blocks − 1)`` seconds; the timespan is clamped to [302 400, 4 838 400] s and ``new target =
    old target · timespan / 1 209 600`` (then rounded through compact bits), exactly as
    ``CalculateNextWorkRequired`` (Bitcoin Core ``src/pow.cpp``).

    Parameters
    ----------
    bits : int — [compact] of the epoch in progress
    first_time_s : int — [s, unix] time of the epoch's first block
    blocks : int — [blocks] mined so far, 2 … 2016
    elapsed_s : float — [s] from the first to the latest block

    Returns ``blocks``, ``blocks_left``, ``mean_block_interval_s``, ``implied_hashrate_ehs``
    (estimator ``(k−1)·D·2^32/T`` over k intervals; k = 1: the MLE), ``projected_timespan_s``,
    ``timespan_used_s``, ``clamped``, ``unclamped_change_pct``, ``change_pct``, ``difficulty``,
    ``new_difficulty``, ``new_bits`` and ``retarget_eta_s`` [s, unix].
    """
    span = MAINNET.pow_target_timespan
    intervals = blocks - 1
    if not 2 <= blocks <= INTERVAL:
        raise ValueError(f"blocks = {blocks} is not allowed (allowed: 2 to {INTERVAL}, the "
                         "blocks of the epoch mined, its first included)")
    if not (math.isfinite(elapsed_s) and elapsed_s > 0):
        raise ValueError(f"elapsed_s = {elapsed_s!r} is not allowed (allowed: > 0 s)")
    projected = elapsed_s * (INTERVAL - 1) / intervals
    clamped = min(max(projected, span // 4), span * 4)
    new_bits = retarget(bits, first_time_s, first_time_s + int(round(projected)))
    d_old = bits_to_difficulty(bits)
    d_new = bits_to_difficulty(new_bits)
    spacing = elapsed_s / intervals
    k_eff = intervals - 1 if intervals > 1 else 1
    return {
        "blocks": blocks, "blocks_left": INTERVAL - blocks,
        "mean_block_interval_s": spacing,
        "implied_hashrate_ehs": k_eff * d_old * HASHES_PER_DIFFICULTY / elapsed_s / EHS,
        "projected_timespan_s": projected, "timespan_used_s": float(clamped),
        "clamped": projected != clamped,
        "unclamped_change_pct": (span / projected - 1.0) * 100.0,
        "change_pct": (d_new / d_old - 1.0) * 100.0,
        "difficulty": d_old, "new_difficulty": d_new, "new_bits": new_bits,
        "retarget_eta_s": first_time_s + spacing * INTERVAL,
    }


def largest_cuts(epochs_df: pd.DataFrame | None = None, n: int = 1,
                 below_pct: float | None = None) -> pd.DataFrame:
    """The ``n`` most negative retargets [%] of an epoch table (default: the whole bundled
    history), most negative first; with ``below_pct`` only those at or below it. Each row is the
    epoch that *starts* at the new difficulty (``first_height``, ``first_time``, ``change_pct``)."""
    df = epochs() if epochs_df is None else epochs_df
    return df.iloc[cut_order(df["change_pct"].tolist(), n, below_pct)]


#: What ``blocks_source`` of :func:`hashrate_daily` means.
BLOCK_COUNT_SOURCES = {
    "bundled": "bundled daily block counts (Coin Metrics BlkCnt, the market file)",
    "store": "block headers in the local store (headers per UTC day of their timestamps)",
    "bundled+store": "a window with days of both",
}


def store_blocks_daily(store: Store, *, as_of: Any = None) -> pd.DataFrame:
    """Blocks per UTC day counted from the headers in ``store`` (the day of each header's
    timestamp), for the whole days the stored chain covers: from the day after the lowest
    stored header's day to the last day that ends at or before the tip's median time past
    (every later block has a later timestamp than that, Bitcoin Core's ``GetMedianTimePast``
    rule; an earlier block whose timestamp lies after the first stored header's day is not
    excluded by consensus but needs a clock hours fast). Days public on ``as_of`` (the day after).

    Returns ``date`` (UTC day, naive), ``blocks``, ``work`` (the sum of the blocks'
    difficulties [dimensionless], from each header's bits); empty without headers.
    ``attrs``: ``first_height``, ``tip_height``.
    """
    from .consensus import bits_to_difficulty as _difficulty

    raw = store.headers_per_day()
    cols = ["date", "blocks", "work"]
    if raw.empty:
        return pd.DataFrame(columns=cols)
    day = 86400
    first_day = raw.attrs["first_time"] // day + 1
    mtp = int(np.median(raw.attrs["tip_times"]))
    last_day = mtp // day - 1
    diff = {int(b): _difficulty(int(b)) for b in raw["bits"].unique()}
    raw = raw.assign(work=raw["blocks"].to_numpy(float) * raw["bits"].map(diff).to_numpy(float))
    per = raw.groupby("day", sort=True)[["blocks", "work"]].sum()
    per = per[(per.index >= first_day) & (per.index <= last_day)]
    out = pd.DataFrame({"date": pd.to_datetime(per.index.to_numpy(np.int64) * day, unit="s"),
                        "blocks": per["blocks"].to_numpy(np.int64),
                        "work": per["work"].to_numpy(float)})
    out = filter_public(out, out["date"] + pd.Timedelta(days=1), as_of, dataset="blocks_daily",
                        source=f"store headers {raw.attrs['path']}").reset_index(drop=True)
    out.attrs = {"first_height": raw.attrs["first_height"],
                 "tip_height": raw.attrs["tip_height"]}
    return out


def _blocks_daily(as_of: Any, store: Store | None) -> pd.DataFrame:
    """One row per calendar day from the first counted day to the last: ``blocks``, ``work``
    (NaN on days without a count), ``source`` (``bundled`` or ``store``)."""
    from .sources.bundled_chain import read_blocks_daily

    d = read_blocks_daily(as_of=as_of)
    ep = _known(_table(), as_of)
    day_start = pd.to_datetime(d["date"]).dt.tz_localize(UTC)
    starts = ep["first_time"].to_numpy()
    idx = np.clip(np.searchsorted(starts, day_start.to_numpy(), side="right") - 1, 0,
                  len(ep) - 1)
    diff = ep["difficulty"].to_numpy(dtype=float)[idx]
    bundled = pd.DataFrame({"date": pd.to_datetime(d["date"]).to_numpy(),
                            "blocks": d["blocks"].to_numpy(float),
                            "work": d["blocks"].to_numpy(float) * diff, "source": "bundled"})
    frames = [bundled]
    stored = None if store is None else store_blocks_daily(store, as_of=as_of)
    if stored is not None and not stored.empty:
        frames = [bundled[~bundled["date"].isin(stored["date"])],
                  stored.assign(blocks=stored["blocks"].astype(float), source="store")]
    both = pd.concat(frames, ignore_index=True).sort_values("date").set_index("date")
    calendar = pd.date_range(both.index[0], both.index[-1], freq="D")
    return both.reindex(calendar).rename_axis("date").reset_index()


def hashrate_daily(*, window_days: int = 1, as_of: Any = None, level: float = 0.90,
                   store: Store | None = None) -> pd.DataFrame:
    """Hashrate [EH/s] per UTC day from the blocks mined that day and the difficulty in force,
    with the exact interval of the block process; ``window_days`` > 1 gives a trailing mean
    over that many days (7: the weekly figure mining dashboards show).

    The blocks per day: the bundled counts (:mod:`hashshift.sources.bundled_chain`), with the
    difficulty of the epoch in force at the day's start; where ``store`` holds headers covering
    whole days, those days' counts come from the headers' timestamps instead and each block
    counts with the difficulty of its own bits (:func:`store_blocks_daily`).

    n blocks in T seconds at difficulty D: λ = H / (D · 2**32); given n, λT has the Gamma
    posterior of a Poisson count, so the interval is ``D · 2**32 · [Gamma(n).ppf(a),
    Gamma(n + 1).ppf(1 − a)] / T`` (Garwood 1936, doi:10.1093/biomet/28.3-4.437) and the
    estimate ``n · D · 2**32 / T``, D the mean difficulty of the n blocks. A day has only about
    144 blocks: a −12 % day is barely outside the noise; use ``window_days``.

    Returns ``date`` (UTC day), ``blocks``, ``difficulty``, ``hashrate_ehs``,
    ``hashrate_lo_ehs``, ``hashrate_hi_ehs``, ``blocks_source`` (``bundled``, ``store`` or,
    for a window with days of both, ``bundled+store``; :data:`BLOCK_COUNT_SOURCES`); days
    public on ``as_of`` (the day after). Days without a count (between the bundled counts and
    the store's) are left out; a window that reaches one has NaN figures.
    """
    if window_days < 1:
        raise ValueError(f"window_days = {window_days} is not allowed (allowed: >= 1)")
    d = _blocks_daily(as_of, store)
    has = d["blocks"].notna().to_numpy()
    n = d["blocks"].rolling(window_days).sum().to_numpy()
    work = d["work"].rolling(window_days).sum().to_numpy()
    from_store = (d["source"] == "store").astype(float).where(d["blocks"].notna())
    k = from_store.rolling(window_days).sum().to_numpy()
    source = np.where(k == window_days, "store", np.where(k == 0, "bundled", "bundled+store"))
    secs = 86400.0 * window_days
    ok = np.isfinite(n)
    nn = np.where(ok, n, 0.0)
    # no blocks in the window: the difficulty in force on its last day still applies
    d_eff = np.where(nn > 0, work / np.maximum(nn, 1), _difficulty_on(d["date"], as_of))
    a = (1 - level) / 2
    from scipy.special import gammaincinv  # gamma quantiles (scipy.stats.gamma.ppf's)

    lo = np.where(nn > 0, gammaincinv(np.maximum(nn, 1), a), 0.0)
    hi = gammaincinv(nn + 1, 1 - a)
    scale = d_eff * HASHES_PER_DIFFICULTY / secs / EHS
    nan = np.full(len(d), np.nan)
    out = pd.DataFrame({"date": d["date"], "blocks": np.where(ok, n, nan),
                        "difficulty": np.where(ok, d_eff, nan),
                        "hashrate_ehs": np.where(ok, nn * scale, nan),
                        "hashrate_lo_ehs": np.where(ok, lo * scale, nan),
                        "hashrate_hi_ehs": np.where(ok, hi * scale, nan),
                        "blocks_source": pd.Series(source).where(ok, None).to_numpy()})
    keep = has & (np.arange(len(d)) >= window_days - 1)
    return out[keep].reset_index(drop=True)


def _difficulty_on(days: pd.Series, as_of: Any) -> np.ndarray:
    """[dimensionless] the difficulty in force at the start of each UTC day (bundled epochs)."""
    ep = _known(_table(), as_of)
    t = pd.to_datetime(days).dt.tz_localize(UTC).to_numpy()
    idx = np.clip(np.searchsorted(ep["first_time"].to_numpy(), t, side="right") - 1, 0,
                  len(ep) - 1)
    return ep["difficulty"].to_numpy(dtype=float)[idx]


def count_sources(daily: pd.DataFrame) -> list[dict[str, Any]]:
    """The ranges of consecutive rows of a :func:`hashrate_daily` table with the same
    ``blocks_source``: ``source``, ``first``, ``last`` (days), ``days`` (rows), ``what``."""
    out: list[dict[str, Any]] = []
    if daily.empty:
        return out
    src = daily["blocks_source"].astype(str).to_numpy()
    cut = np.flatnonzero(src[1:] != src[:-1]) + 1
    for a, b in zip(np.r_[0, cut], np.r_[cut, len(src)], strict=True):
        out.append({"source": src[a], "first": pd.Timestamp(daily["date"].iloc[a]),
                    "last": pd.Timestamp(daily["date"].iloc[b - 1]), "days": int(b - a),
                    "what": BLOCK_COUNT_SOURCES.get(src[a], src[a])})
    return out


def hashprice_daily(*, as_of: Any = None) -> pd.DataFrame:
    """Hashprice [USD/(PH/s)/day] and hashvalue [BTC/(PH/s)/day] per UTC day: what one PH/s
    earns in expectation that day, at the difficulty in force.

    A hash finds a block with probability 1 / (D · 2**32), so one PH/s earns ``86 400 · 1e15 /
    (D · 2**32)`` blocks a day, each paying the subsidy plus fees; this is
    :func:`hashshift.economics.hashprice_usd_ph_day` at the hashrate that mines 144 blocks a day
    at difficulty D. What is daily and what is not:

    - the difficulty: exact, time-weighted over the day (1/D averaged across a retarget);
    - the subsidy: exact (Bitcoin Core ``GetBlockSubsidy``), at the day's midpoint (a halving
      day takes the subsidy in force at noon);
    - fees per block and the BTC price: the **month's means** (the bundled market table is
      monthly), so day-to-day moves of price and fees are not in it; ``price_basis`` says so.

    Days from the first month of the market table to the last day of its newest month, and
    only days the epoch table covers; ``as_of``: as known that day. Columns: ``date``,
    ``difficulty`` (the day's harmonic mean), ``subsidy_btc``, ``fees_btc`` [BTC/block],
    ``price_usd`` [USD/BTC], ``hashvalue_btc_ph_day``, ``hashprice_usd_ph_day``,
    ``price_basis``.
    """
    from .consensus import COIN, block_subsidy
    from .economics import hashprice_usd_ph_day, hashvalue_btc_ph_day
    from .sources.bundled_observed import read_market_monthly
    from .units import BLOCKS_PER_DAY

    mk = read_market_monthly(as_of=as_of)
    ep = _known(_table(), as_of).reset_index(drop=True)
    if mk.empty or ep.empty:
        return pd.DataFrame(columns=["date", "difficulty", "subsidy_btc", "fees_btc",
                                     "price_usd", "hashvalue_btc_ph_day",
                                     "hashprice_usd_ph_day", "price_basis"])
    first = _unix(ep["first_time"])
    # the difficulty's reciprocal, piecewise constant from each epoch's first block on
    inv = 1.0 / ep["difficulty"].to_numpy(dtype=float)
    end_t = float(np.nanmax(np.concatenate([first, _unix(ep["last_time"])])))
    start_day = max(pd.Timestamp(mk["date"].iloc[0]), pd.Timestamp(first[0], unit="s").ceil("D"))
    last_day = min(pd.Timestamp(mk["date"].iloc[-1]) + pd.offsets.MonthEnd(0),
                   pd.Timestamp(end_t, unit="s").floor("D") - pd.Timedelta(days=1))
    days = pd.date_range(start_day, last_day, freq="D")
    t0 = days.as_unit("s").asi8.astype(float)
    a = np.clip(np.searchsorted(first, t0, side="right") - 1, 0, len(ep) - 1)
    b = np.clip(np.searchsorted(first, t0 + 86400.0, side="left") - 1, 0, len(ep) - 1)
    inv_mean = inv[a].copy()
    for i in np.flatnonzero(b > a):  # a retarget within the day: weight by the time of each
        edges = np.concatenate([[t0[i]], first[a[i] + 1:b[i] + 1], [t0[i] + 86400.0]])
        inv_mean[i] = float(np.sum(np.diff(edges) * inv[a[i]:b[i] + 1])) / 86400.0
    difficulty = 1.0 / inv_mean
    # the subsidy at each day's noon: the height there, from the epoch in force
    noon = t0 + 43200.0
    k = np.clip(np.searchsorted(first, noon, side="right") - 1, 0, len(ep) - 1)
    heights = ep["first_height"].to_numpy()[k]
    subsidy = np.array([block_subsidy(int(h)) / COIN for h in heights])
    # heights within an epoch: the halving lands mid-epoch; take the halving times
    for h in halvings().to_dict("records"):
        t_h = pd.Timestamp(h["time"]).timestamp()
        after = noon >= t_h
        subsidy = np.where(after & (heights < h["height"]),
                           block_subsidy(int(h["height"])) / COIN, subsidy)
        subsidy = np.where(~after & (heights >= h["height"]),
                           block_subsidy(int(h["height"]) - 1) / COIN, subsidy)
    month = days.to_period("M").to_timestamp()
    m = mk.set_index(pd.DatetimeIndex(mk["date"]))
    fees = (m["fees_btc_day"] / m["blocks_day"]).reindex(month).to_numpy(dtype=float)
    price = m["price_usd"].reindex(month).to_numpy(dtype=float)
    h_expected = difficulty * HASHES_PER_DIFFICULTY * BLOCKS_PER_DAY / 86400.0 / EHS
    hv = np.asarray(hashvalue_btc_ph_day(h_expected, subsidy, fees))
    hp = np.asarray(hashprice_usd_ph_day(h_expected, price, subsidy, fees))
    return pd.DataFrame({"date": days, "difficulty": difficulty, "subsidy_btc": subsidy,
                         "fees_btc": fees, "price_usd": price, "hashvalue_btc_ph_day": hv,
                         "hashprice_usd_ph_day": hp,
                         "price_basis": "monthly mean (price and fees)"})
