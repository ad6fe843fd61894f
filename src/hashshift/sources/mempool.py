"""mempool.space REST API (and self-hosted mempool / esplora instances): difficulty, hashrate,
block hashes and raw headers.

Endpoints used (https://mempool.space/docs/api/rest; backend ``mining-routes.ts``, esplora
``rest.rs``):

- ``GET /v1/mining/difficulty-adjustments[/:period]`` — a JSON array of
  ``[time, height, difficulty, adjustment]`` rows, newest first; ``time`` [unix s],
  ``adjustment`` [ratio new/old difficulty, 0 for the genesis row];
- ``GET /v1/mining/hashrate[/:period]`` — ``{"hashrates": [{"timestamp", "avgHashrate"}],
  "difficulty": [{"time", "height", "difficulty", "adjustment"}], "currentHashrate",
  "currentDifficulty"}``, ``avgHashrate`` and ``currentHashrate`` [H/s], one hashrate per day;
- ``GET /blocks/tip/height`` — plain text; ``GET /block-height/:height`` — the block hash,
  plain text; ``GET /block/:hash/header`` — the 80-byte header, hex text;
- ``GET /blocks/:start_height`` (esplora, ``rest.rs``: ``BLOCK_LIMIT = 10``) — a JSON array of
  up to 10 blocks going DOWN from ``start_height`` (fewer only when it reaches the genesis
  block; HTTP 404 "Block not found" above the tip), each in esplora's block format
  ``{"id", "height", "version", "timestamp", "bits", "nonce", "merkle_root",
  "previousblockhash", "difficulty", "tx_count", "size", "weight", ...}``: hashes in display
  (byte-reversed) hex, ``previousblockhash`` null for the genesis block, integers otherwise;
- ``GET /v1/blocks/:height`` (mempool backend, ``blocks.$getBlocks(height, 15)``) — the same
  block objects plus mempool's ``extras``, up to 15 going down; asked above the tip it starts at
  the tip and returns ``15 - (height - tip)`` blocks;
- ``GET /v1/mining/pools/:period`` (backend ``mining.ts``, ``$getPoolsStats``) — ``{"pools":
  [{"poolId", "name", "link", "blockCount", "rank", "emptyBlocks", "slug", "avgMatchRate",
  "avgFeeDelta", "poolUniqueId"}], "blockCount", "lastEstimatedHashrate",
  "lastEstimatedHashrate3d", "lastEstimatedHashrate1w"}``: the blocks each pool mined in the
  period ending now (pools identified by mempool from coinbase tags and payout addresses), most
  blocks first; ``blockCount`` is the period's total (:func:`parse_pools`).

Periods: ``24h 3d 1w 1m 3m 6m 1y 2y 3y 4y all``.

:meth:`MempoolClient.get_headers` rebuilds the 80-byte headers from pages of ``/blocks/:height``
(about ``count / 10`` requests; :func:`parse_blocks`), or fetches them one by one
(``method="header"``, two requests per header). Either way the headers are checked against the
hashes the server reports and the heights against the ones asked for, nothing more: callers
must validate them with :func:`hashshift.consensus.validate_headers` before storing them.
"""

from __future__ import annotations

import math
import random
import re
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import httpx
import numpy as np
import pandas as pd

from ..consensus import HEADER_SIZE, double_sha256
from .errors import SourceFormatError, TruncatedBodyError
from .http import HttpClient, RetryPolicy, json_body, text_body

__all__ = [
    "ADJUSTMENT_ROW",
    "BLOCKS_PAGE",
    "DEFAULT_BASE_URL",
    "HEADER_METHODS",
    "PERIODS",
    "POOL_COLUMNS",
    "VARIABLE_MAP",
    "BlockHeaderRow",
    "MempoolClient",
    "MempoolHashrate",
    "parse_block_hash",
    "parse_blocks",
    "parse_difficulty_adjustments",
    "parse_hashrate",
    "parse_header_hex",
    "parse_pools",
    "parse_tip_height",
]

SOURCE = "mempool"
DEFAULT_BASE_URL = "https://mempool.space/api"
PERIODS = ("24h", "3d", "1w", "1m", "3m", "6m", "1y", "2y", "3y", "4y", "all")

#: The API's own field names -> the project's column names.
VARIABLE_MAP: dict[str, str] = {
    # difficulty-adjustments rows and hashrate "difficulty" items
    "time": "time",  # [unix s] -> tz-aware UTC
    "height": "height",  # [block height]
    "difficulty": "difficulty",  # [dimensionless]
    "adjustment": "change_pct",  # [ratio new/old] -> [%], (ratio - 1) * 100; NaN for genesis
    # hashrate "hashrates" items and summary
    "timestamp": "time",  # [unix s] -> tz-aware UTC
    "avgHashrate": "hashrate_ehs",  # [H/s] -> [EH/s]
    "currentHashrate": "hashrate_ehs",  # [H/s] -> [EH/s]
    "currentDifficulty": "difficulty",  # [dimensionless]
    # /blocks/:start_height and /v1/blocks/:height items (esplora block format): the header
    # fields, rebuilt into the 80-byte ``raw`` header (see parse_blocks); "height" as above,
    # "timestamp" [unix s] is the header's time field
    "id": "hash",  # block hash, display (byte-reversed) hex; the rebuilt header must hash to it
    "version": "version",  # int32 (some servers show it as uint32)
    "previousblockhash": "prev_hash",  # display hex; null for the genesis block
    "merkle_root": "merkle_root",  # display hex
    "bits": "bits",  # compact target, uint32 (a number; an 8-digit hex string is accepted)
    "nonce": "nonce",  # uint32
    # /v1/mining/pools/:period: the top level and each item of "pools" (see parse_pools)
    "blockCount": "blocks",  # [blocks] a pool's blocks in the period (top level: the total,
    #                          stored as period_blocks)
    "emptyBlocks": "empty_blocks",  # [blocks] of them, blocks with only the coinbase
    "slug": "pool_slug",  # mempool's identifier of the pool, as in its URLs
    "name": "pool_name",
    "rank": "rank",  # 1 = most blocks
}

#: Ways :meth:`MempoolClient.get_headers` can fetch headers: ``"blocks"`` (esplora
#: ``GET /blocks/:height``, 10 per request), ``"v1"`` (mempool ``GET /v1/blocks/:height``, 15 per
#: request), ``"header"`` (``GET /block-height/:h`` then ``GET /block/:hash/header``, two
#: requests per header).
HEADER_METHODS = ("blocks", "v1", "header")

#: Blocks per page of each paged method (the servers' own limits).
BLOCKS_PAGE: dict[str, int] = {"blocks": 10, "v1": 15}

_BLOCKS_PATH = {"blocks": "/blocks/{height}", "v1": "/v1/blocks/{height}"}

#: Positions of a ``/v1/mining/difficulty-adjustments`` row, by the backend's field names.
ADJUSTMENT_ROW = ("time", "height", "difficulty", "adjustment")

_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX64_ANY = re.compile(r"[0-9a-fA-F]{64}")
_HEX8 = re.compile(r"[0-9a-fA-F]{8}")
_HEADER = struct.Struct("<I32s32sIII")  # version, prev hash, merkle root, time, bits, nonce
_U32 = 2**32
_HEX = re.compile(r"[0-9a-fA-F]*")
_DIGITS = re.compile(r"[0-9]+")
_EH = 1e18  # H/s per EH/s


# ---------------------------------------------------------------------------------------------
# Parsers (pure)
# ---------------------------------------------------------------------------------------------
def _num(value: Any, field: str, *, integer: bool = False, positive: bool = False,
         max_value: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SourceFormatError(SOURCE, field, value, "expected a number")
    try:
        number = float(value)
    except OverflowError:  # an integer beyond the float range
        number = math.inf
    if integer and not (isinstance(value, int) or number.is_integer()):
        raise SourceFormatError(SOURCE, field, value, "expected an integer")
    if not math.isfinite(number):
        raise SourceFormatError(SOURCE, field, value, "expected a finite number")
    if number < 0 or (positive and number == 0):
        why = "expected a positive number" if positive else "must not be negative"
        raise SourceFormatError(SOURCE, field, value, why)
    if max_value is not None and number > max_value:
        raise SourceFormatError(SOURCE, field, value, f"out of range (above {max_value:.0f})")
    return number


#: [unix s] and [block height] bounds of time and height fields: block times are 32-bit
#: unsigned (the header's ``nTime``), heights fit Core's 32-bit signed ``nHeight``.
_MAX_FIELD = {"time": 2**32 - 1, "timestamp": 2**32 - 1, "height": 2**31 - 1}


def _list(value: Any, field: str) -> list[Any]:
    if not isinstance(value, list):
        raise SourceFormatError(SOURCE, field, value, f"expected a JSON array, got "
                                f"{type(value).__name__}")
    return value


def _utc(seconds: Sequence[float]) -> pd.DatetimeIndex:
    return pd.to_datetime(np.asarray(seconds, dtype=np.int64), unit="s", utc=True)


def _change_pct(ratios: Sequence[float]) -> np.ndarray:
    r = np.asarray(ratios, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.where(r > 0, (r - 1.0) * 100.0, np.nan)


def _adjustment_frame(times: list[float], heights: list[float], diffs: list[float],
                      ratios: list[float]) -> pd.DataFrame:
    df = pd.DataFrame({
        VARIABLE_MAP["time"]: _utc(times),
        VARIABLE_MAP["height"]: np.asarray(heights, dtype=np.int64),
        VARIABLE_MAP["difficulty"]: np.asarray(diffs, dtype=np.float64),
        VARIABLE_MAP["adjustment"]: _change_pct(ratios),
    })
    return df.sort_values("height", kind="stable").reset_index(drop=True)


def parse_difficulty_adjustments(obj: Any) -> pd.DataFrame:
    """Parse ``GET /v1/mining/difficulty-adjustments`` (decoded JSON).

    Each row is ``[time, height, difficulty, adjustment]`` (see :data:`ADJUSTMENT_ROW`).

    Returns
    -------
    DataFrame sorted by height with columns ``time`` [UTC], ``height`` [block height],
    ``difficulty`` [dimensionless], ``change_pct`` [%] (``(adjustment - 1) * 100``; NaN where the
    API gives 0, i.e. the genesis row, which has no predecessor).
    """
    rows = _list(obj, "(root)")
    cols: list[list[float]] = [[], [], [], []]
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(ADJUSTMENT_ROW):
            raise SourceFormatError(SOURCE, f"[{i}]", row,
                                    "expected a [time, height, difficulty, adjustment] array")
        for j, name in enumerate(ADJUSTMENT_ROW):
            cols[j].append(_num(row[j], f"[{i}][{j}] ({name})", integer=name in ("time", "height"),
                                positive=name == "difficulty", max_value=_MAX_FIELD.get(name)))
    return _adjustment_frame(*cols)


@dataclass(frozen=True)
class MempoolHashrate:
    """Decoded ``GET /v1/mining/hashrate/:period``.

    Attributes
    ----------
    hashrates : DataFrame — ``time`` [UTC, day], ``hashrate_ehs`` [EH/s]
    difficulty : DataFrame — ``time`` [UTC], ``height``, ``difficulty``, ``change_pct`` [%]
    current_hashrate_ehs : float — [EH/s] the node's current estimate
    current_difficulty : float — [dimensionless]
    """

    hashrates: pd.DataFrame
    difficulty: pd.DataFrame
    current_hashrate_ehs: float
    current_difficulty: float


def parse_hashrate(obj: Any) -> MempoolHashrate:
    """Parse ``GET /v1/mining/hashrate/:period`` (decoded JSON); see :class:`MempoolHashrate`."""
    if not isinstance(obj, dict):
        raise SourceFormatError(SOURCE, "(root)", obj, "expected a JSON object")
    for key in ("hashrates", "difficulty", "currentHashrate", "currentDifficulty"):
        if key not in obj:
            raise SourceFormatError(SOURCE, key, None, "missing")
    times: list[float] = []
    rates: list[float] = []
    for i, item in enumerate(_list(obj["hashrates"], "hashrates")):
        if not isinstance(item, dict):
            raise SourceFormatError(SOURCE, f"hashrates[{i}]", item, "expected an object")
        for key in ("timestamp", "avgHashrate"):
            if key not in item:
                raise SourceFormatError(SOURCE, f"hashrates[{i}].{key}", None, "missing")
        times.append(_num(item["timestamp"], f"hashrates[{i}].timestamp", integer=True,
                          max_value=_MAX_FIELD["timestamp"]))
        rates.append(_num(item["avgHashrate"], f"hashrates[{i}].avgHashrate"))
    hashrates = pd.DataFrame({
        VARIABLE_MAP["timestamp"]: _utc(times),
        VARIABLE_MAP["avgHashrate"]: np.asarray(rates, dtype=np.float64) / _EH,
    }).sort_values("time", kind="stable").reset_index(drop=True)

    cols: list[list[float]] = [[], [], [], []]
    for i, item in enumerate(_list(obj["difficulty"], "difficulty")):
        if not isinstance(item, dict):
            raise SourceFormatError(SOURCE, f"difficulty[{i}]", item, "expected an object")
        for j, key in enumerate(ADJUSTMENT_ROW):
            if key not in item:
                raise SourceFormatError(SOURCE, f"difficulty[{i}].{key}", None, "missing")
            cols[j].append(_num(item[key], f"difficulty[{i}].{key}",
                                integer=key in ("time", "height"), positive=key == "difficulty",
                                max_value=_MAX_FIELD.get(key)))
    return MempoolHashrate(
        hashrates=hashrates,
        difficulty=_adjustment_frame(*cols),
        current_hashrate_ehs=_num(obj["currentHashrate"], "currentHashrate") / _EH,
        current_difficulty=_num(obj["currentDifficulty"], "currentDifficulty"),
    )


#: Columns of :func:`parse_pools` (the store's ``pool_shares`` table without ``source_id``).
POOL_COLUMNS = ("period", "as_of", "rank", "pool_slug", "pool_name", "blocks", "empty_blocks",
                "share_pct", "period_blocks")

_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_NAME = re.compile(r"[^<>\x00-\x1f\x7f]+")  # shown in tables and chart labels: no markup


def _pool_text(item: dict[str, Any], key: str, where: str, pattern: re.Pattern[str] | None,
               limit: int) -> str:
    value = item.get(key)
    if key not in item:
        raise SourceFormatError(SOURCE, f"{where}.{key}", None, "missing")
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise SourceFormatError(SOURCE, f"{where}.{key}", value,
                                f"expected a non-empty string of at most {limit} characters")
    if pattern is _SLUG and not pattern.fullmatch(value):
        raise SourceFormatError(SOURCE, f"{where}.{key}", value,
                                "expected letters, digits, '.', '_' or '-'")
    if pattern is _NAME and not pattern.fullmatch(value):
        raise SourceFormatError(SOURCE, f"{where}.{key}", value,
                                "expected text without '<', '>' or control characters")
    return value.strip()


def _count(obj: dict[str, Any], key: str, where: str) -> int:
    if key not in obj:
        raise SourceFormatError(SOURCE, f"{where}{key}", None, "missing")
    return int(_num(obj[key], f"{where}{key}", integer=True, max_value=_MAX_FIELD["height"]))


def parse_pools(obj: Any, period: str, as_of: Any) -> pd.DataFrame:
    """Parse ``GET /v1/mining/pools/:period`` (decoded JSON): the blocks each pool mined in the
    ``period`` ending at ``as_of`` (the time it was fetched; the API gives none).

    Returns
    -------
    DataFrame with the columns :data:`POOL_COLUMNS`, most blocks first: ``period`` (as asked),
    ``as_of`` [UTC], ``rank`` (1 = most blocks), ``pool_slug``, ``pool_name``, ``blocks``
    [blocks], ``empty_blocks`` [blocks], ``share_pct`` [% of the period's blocks] (``blocks /
    blockCount · 100``; a share of blocks found, which estimates the share of hashrate),
    ``period_blocks`` [blocks] (``blockCount``).

    Raises
    ------
    SourceFormatError — a field missing or of the wrong type (the field path names the item,
        e.g. ``"pools[2].blockCount"``), a slug listed twice, a pool with more empty blocks than
        blocks, no pools, or pool counts that do not add up to ``blockCount``
    """
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}; got {period!r}")
    when = pd.Timestamp(as_of)
    when = when.tz_localize("UTC") if when.tzinfo is None else when.tz_convert("UTC")
    if not isinstance(obj, dict):
        raise SourceFormatError(SOURCE, "(root)", obj, "expected a JSON object")
    if "pools" not in obj:
        raise SourceFormatError(SOURCE, "pools", None, "missing")
    items = _list(obj["pools"], "pools")
    total = _count(obj, "blockCount", "")
    if not items or total == 0:
        raise SourceFormatError(SOURCE, "pools", obj["pools"] if not items else total,
                                f"no pool mined a block in the period {period!r}")
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        where = f"pools[{i}]"
        if not isinstance(item, dict):
            raise SourceFormatError(SOURCE, where, item, "expected an object")
        slug = _pool_text(item, "slug", where, _SLUG, 64)
        if slug in seen:
            raise SourceFormatError(SOURCE, f"{where}.slug", slug, "listed twice")
        seen.add(slug)
        blocks = _count(item, "blockCount", where + ".")
        empty = _count(item, "emptyBlocks", where + ".") if "emptyBlocks" in item else 0
        if empty > blocks:
            raise SourceFormatError(SOURCE, f"{where}.emptyBlocks", empty,
                                    f"more empty blocks than blocks ({blocks})")
        rows.append({"pool_slug": slug, "pool_name": _pool_text(item, "name", where, _NAME, 100),
                     "blocks": blocks, "empty_blocks": empty})
    got = sum(r["blocks"] for r in rows)
    if got != total:
        raise SourceFormatError(SOURCE, "blockCount", total,
                                f"the pools' blockCount values add up to {got}")
    df = pd.DataFrame(rows).sort_values(["blocks", "pool_slug"], ascending=[False, True],
                                        kind="stable").reset_index(drop=True)
    df.insert(0, "rank", np.arange(1, len(df) + 1, dtype=np.int64))
    df.insert(0, "as_of", when)
    df.insert(0, "period", period)
    df["share_pct"] = df["blocks"].to_numpy(dtype=np.float64) / total * 100.0
    df["period_blocks"] = np.int64(total)
    df["blocks"] = df["blocks"].astype(np.int64)
    df["empty_blocks"] = df["empty_blocks"].astype(np.int64)
    return df[list(POOL_COLUMNS)]


def parse_tip_height(text: str) -> int:
    """Parse ``GET /blocks/tip/height``: a decimal integer [block height] as plain text."""
    value = text.strip()
    if not _DIGITS.fullmatch(value):
        raise SourceFormatError(SOURCE, "tip height", value, "expected a decimal integer")
    return int(value)


def parse_block_hash(text: str, *, source: str = SOURCE) -> str:
    """Parse a block hash: 64 hex digits, display (byte-reversed) order; returned lowercase.

    Shorter hex is reported as :class:`TruncatedBodyError` (retried by the HTTP layer).
    """
    value = text.strip().lower()
    if _HEX64.fullmatch(value):
        return value
    if _HEX.fullmatch(value) and len(value) < 64:
        raise TruncatedBodyError(source, "block hash", value, "fewer than 64 hex digits")
    raise SourceFormatError(source, "block hash", value, "expected 64 hex digits")


def parse_header_hex(
    text: str, expected_hash: str | None = None, *, source: str = SOURCE
) -> bytes:
    """Parse an 80-byte block header given as 160 hex digits (``GET /block/:hash/header``,
    Bitcoin Core's ``getblockheader <hash> false``).

    Parameters
    ----------
    expected_hash : str — block hash (display hex) the header must hash to; a mismatch (a
        server that serves a corrupted or substituted header) raises :class:`SourceFormatError`

    Shorter hex is reported as :class:`TruncatedBodyError` (retried by the HTTP layer).
    """
    value = text.strip()
    if not _HEX.fullmatch(value):
        raise SourceFormatError(source, "header", value, "expected hex digits")
    if len(value) < 2 * HEADER_SIZE:
        raise TruncatedBodyError(source, "header", value,
                                 f"{len(value)} hex digits, a header has {2 * HEADER_SIZE}")
    if len(value) != 2 * HEADER_SIZE:
        raise SourceFormatError(source, "header", value,
                                f"{len(value)} hex digits, a header has {2 * HEADER_SIZE}")
    raw = bytes.fromhex(value)
    if expected_hash is not None:
        got = double_sha256(raw)[::-1].hex()
        if got != expected_hash.lower():
            raise SourceFormatError(source, "header", value,
                                    f"hashes to {got}, not the requested block {expected_hash}")
    return raw


class BlockHeaderRow(NamedTuple):
    """One block of a ``/blocks/:height`` page: its height, hash (display hex, lowercase) and
    the 80-byte header rebuilt from its fields."""

    height: int
    hash: str
    header: bytes


def _block_int(item: dict[str, Any], key: str, where: str, lo: int, hi: int,
               height: int | None = None) -> int:
    value = item.get(key)
    block = "" if height is None else f"block {height}: "
    if isinstance(value, bool) or not isinstance(value, int):
        if key == "bits" and isinstance(value, str) and _HEX8.fullmatch(value):
            return int(value, 16)  # Bitcoin Core shows bits as hex text
        why = "expected an integer" if key in item else "missing"
        raise SourceFormatError(SOURCE, f"{where}.{key}", value, block + why)
    if not lo <= value < hi:
        raise SourceFormatError(SOURCE, f"{where}.{key}", value,
                                f"{block}out of range [{lo}, {hi})")
    return value


def _block_hash(item: dict[str, Any], key: str, where: str, height: int) -> bytes:
    """A display-hex hash field as internal-order bytes."""
    value = item.get(key)
    if not isinstance(value, str) or not _HEX64_ANY.fullmatch(value):
        why = "missing" if key not in item else "expected 64 hex digits"
        raise SourceFormatError(SOURCE, f"{where}.{key}", value, f"block {height}: {why}")
    return bytes.fromhex(value)[::-1]


def parse_blocks(obj: Any) -> list[BlockHeaderRow]:
    """Parse a page of ``GET /blocks/:start_height`` or ``GET /v1/blocks/:height`` (decoded JSON):
    rebuild each block's 80-byte header from ``version``, ``previousblockhash``,
    ``merkle_root``, ``timestamp``, ``bits`` and ``nonce`` (see :data:`VARIABLE_MAP`) and check
    that it hashes to the block's ``id``.

    Returns
    -------
    list of :class:`BlockHeaderRow` ``(height, hash, header)`` in the order served (the servers
    go down from the height asked for; the caller checks the heights).

    Raises
    ------
    SourceFormatError — a field missing or of the wrong type or range (the field path names
        the item, e.g. ``"[3].merkle_root"``, the message the block height), or a header that
        does not hash to its ``id`` (field ``"[i].id"``): a field was altered in transit or by
        the server
    """
    rows: list[BlockHeaderRow] = []
    for i, item in enumerate(_list(obj, "(root)")):
        where = f"[{i}]"
        if not isinstance(item, dict):
            raise SourceFormatError(SOURCE, where, item, "expected a block object")
        height = _block_int(item, "height", where, 0, _U32)
        block_id = item.get("id")
        if not isinstance(block_id, str) or not _HEX64_ANY.fullmatch(block_id):
            why = "missing" if "id" not in item else "expected 64 hex digits"
            raise SourceFormatError(SOURCE, f"{where}.id", block_id, f"block {height}: {why}")
        if height == 0 and item.get("previousblockhash") is None:
            prev = bytes(32)  # the genesis block has no predecessor
        else:
            prev = _block_hash(item, "previousblockhash", where, height)
        merkle = _block_hash(item, "merkle_root", where, height)
        # version is a signed int32 in the header; esplora once served it as uint32
        version = _block_int(item, "version", where, -(2**31), _U32, height)
        time_ = _block_int(item, "timestamp", where, 0, _U32, height)
        bits = _block_int(item, "bits", where, 0, _U32, height)
        nonce = _block_int(item, "nonce", where, 0, _U32, height)
        raw = _HEADER.pack(version % _U32, prev, merkle, time_, bits, nonce)
        got = double_sha256(raw)[::-1].hex()
        want = block_id.lower()
        if got != want:
            raise SourceFormatError(
                SOURCE, f"{where}.id", block_id,
                f"block {height}: the header rebuilt from version, previousblockhash, "
                f"merkle_root, timestamp, bits and nonce hashes to {got}, not to its id",
            )
        rows.append(BlockHeaderRow(height, want, raw))
    return rows


def _check_height(height: int, name: str = "height") -> int:
    if isinstance(height, bool) or not isinstance(height, int | np.integer) or height < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {height!r}")
    return int(height)


def _check_method(method: str) -> str:
    if method not in HEADER_METHODS:
        raise ValueError(f"method must be one of {', '.join(HEADER_METHODS)}; got {method!r}")
    return method


# ---------------------------------------------------------------------------------------------
# Client
# ---------------------------------------------------------------------------------------------
class MempoolClient:
    """Client of a mempool.space-compatible REST API.

    Parameters
    ----------
    base_url : str — API root: ``https://mempool.space/api`` (mainnet),
        ``https://mempool.space/testnet/api``, or a self-hosted ``http://host:port/api``
    timeout_s : float — [s] per attempt
    retry : RetryPolicy — retry budget (default: 5 attempts, 0.5 s doubling backoff)
    min_interval_s : float — [s] between two requests; the public instance rate-limits, so the
        default is polite (0.25 s); set 0 for your own instance
    headers_method : str — how :meth:`get_headers` fetches headers by default, one of
        :data:`HEADER_METHODS`: ``"blocks"`` (esplora ``/blocks/:height`` pages of 10; served
        by mempool.space, blockstream.info and any esplora), ``"v1"`` (mempool's
        ``/v1/blocks/:height`` pages of 15; a mempool backend only), ``"header"`` (two
        requests per header, the slow fallback for servers without either)
    sleep, rng, seed, transport — see :class:`hashshift.sources.http.HttpClient`
    """

    source = SOURCE

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
        min_interval_s: float = 0.25,
        headers_method: str = "blocks",
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        seed: int | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.headers_method = _check_method(headers_method)
        self.http = HttpClient(
            base_url, source=SOURCE, timeout_s=timeout_s, retry=retry,
            min_interval_s=min_interval_s, sleep=sleep, rng=rng, seed=seed, transport=transport,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> MempoolClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def _period_path(prefix: str, period: str | None) -> str:
        if period is None:
            return prefix
        if period not in PERIODS:
            raise ValueError(f"period must be one of {', '.join(PERIODS)}; got {period!r}")
        return f"{prefix}/{period}"

    def get_difficulty_adjustments(self, period: str | None = None) -> pd.DataFrame:
        """Every difficulty adjustment (``GET /v1/mining/difficulty-adjustments[/:period]``);
        see :func:`parse_difficulty_adjustments`. ``period=None`` asks for all of them."""
        path = self._period_path("/v1/mining/difficulty-adjustments", period)
        return parse_difficulty_adjustments(self.http.get_json(path))

    def get_hashrate(self, period: str | None = "3y") -> MempoolHashrate:
        """Daily network hashrate [EH/s] and difficulty (``GET /v1/mining/hashrate/:period``);
        see :func:`parse_hashrate`."""
        path = self._period_path("/v1/mining/hashrate", period)
        return parse_hashrate(self.http.get_json(path))

    def get_pools(self, period: str = "1w", *, as_of: Any = None) -> pd.DataFrame:
        """Blocks and shares per mining pool over ``period`` (``GET /v1/mining/pools/:period``);
        see :func:`parse_pools`. ``as_of`` [UTC]: when the answer was fetched (default: now)."""
        path = self._period_path("/v1/mining/pools", period)
        when = pd.Timestamp.now(tz="UTC") if as_of is None else as_of
        return parse_pools(self.http.get_json(path), period, when)

    def get_tip_height(self) -> int:
        """Height [block height] of the best chain tip (``GET /blocks/tip/height``)."""
        return self.http.request("GET", "/blocks/tip/height",
                                 parse=lambda r: parse_tip_height(text_body(r)))

    def get_block_hash(self, height: int) -> str:
        """Hash (display hex) of the block at ``height`` (``GET /block-height/:height``)."""
        h = _check_height(height)
        return self.http.request("GET", f"/block-height/{h}",
                                 parse=lambda r: parse_block_hash(text_body(r)))

    def get_header(self, block_hash: str) -> bytes:
        """The 80-byte header of ``block_hash`` (``GET /block/:hash/header``), checked to hash to
        ``block_hash`` (:class:`SourceFormatError` otherwise)."""
        want = parse_block_hash(block_hash)
        return self.http.request("GET", f"/block/{want}/header",
                                 parse=lambda r: parse_header_hex(text_body(r), want))

    def get_blocks(self, height: int, *, endpoint: str = "blocks") -> list[BlockHeaderRow]:
        """One page of blocks going down from ``height``: ``GET /blocks/:height`` (esplora, up to
        10; ``endpoint="blocks"``) or ``GET /v1/blocks/:height`` (mempool, up to 15;
        ``endpoint="v1"``), each header rebuilt and checked against the block's ``id``; see
        :func:`parse_blocks`. The heights are as served (:meth:`get_headers` checks them)."""
        h = _check_height(height)
        if endpoint not in _BLOCKS_PATH:
            raise ValueError(f"endpoint must be one of {', '.join(_BLOCKS_PATH)}; "
                             f"got {endpoint!r}")
        return self.http.request("GET", _BLOCKS_PATH[endpoint].format(height=h),
                                 parse=lambda r: parse_blocks(json_body(r)))

    def get_headers(
        self, start_height: int, count: int, *,
        progress: Callable[[int, int], None] | None = None,
        method: str | None = None,
    ) -> bytes:
        """``count`` raw headers from ``start_height``, concatenated (80 bytes each).

        ``method`` (default: the client's ``headers_method``, ``"blocks"``) is one of
        :data:`HEADER_METHODS`. The paged methods split the heights into windows of
        :data:`BLOCKS_PAGE` blocks and ask for each window at its TOP height (the servers page
        downwards), so ``count`` headers take ``ceil(count / 10)`` requests (``/ 15`` for
        ``"v1"``); a page shorter than asked is continued from below its last block. Every
        header is rebuilt from the block's fields and checked to hash to the block's ``id``,
        and the heights must be exactly the ones asked for, one by one
        (:class:`SourceFormatError` otherwise). ``"header"`` makes two sequential requests per
        header (hash by height, then header by hash).

        ``progress(done, count)`` is called after each page (each header for ``"header"``).
        The result is NOT validated: run :func:`hashshift.consensus.validate_headers` on it
        before storing (a reorg during the download shows up there as a broken link).
        """
        start = _check_height(start_height, "start_height")
        n = _check_height(count, "count")
        how = self.headers_method if method is None else _check_method(method)
        out = bytearray()
        if how == "header":
            for i in range(n):
                out += self.get_header(self.get_block_hash(start + i))
                if progress is not None:
                    progress(i + 1, n)
            return bytes(out)
        page = BLOCKS_PAGE[how]
        stop = start + n
        lo = start
        while lo < stop:
            hi = min(lo + page, stop) - 1
            window = self._window(lo, hi, how)
            out += b"".join(window)
            lo = hi + 1
            if progress is not None:
                progress(lo - start, n)
        return bytes(out)

    def _window(self, lo: int, hi: int, endpoint: str) -> list[bytes]:
        """Headers ``lo..hi`` (ascending) from pages asked at ``hi`` and, if a page stops short,
        below it."""
        down: list[bytes] = []
        want = hi
        while want >= lo:
            url = self.http.url_for(_BLOCKS_PATH[endpoint].format(height=want))
            rows = self.get_blocks(want, endpoint=endpoint)
            if not rows:
                raise SourceFormatError(
                    SOURCE, "(root)", rows,
                    f"GET {url} returned no blocks; blocks {lo}..{want} are missing",
                )
            for i, row in enumerate(rows):
                expected = want - i
                if expected < lo:
                    break
                if row.height != expected:
                    raise SourceFormatError(
                        SOURCE, f"[{i}].height", row.height,
                        f"GET {url}: item {i} should be block {expected} (pages go down one "
                        f"height at a time from {want}), got block {row.height}"
                        + (f"; block {expected} is missing" if row.height < expected else ""),
                    )
                down.append(row.header)
            want -= len(rows)
        return down[::-1]

    def get_json(self, path: str) -> Any:
        """Raw decoded JSON of any endpoint (for exploration; prefer the typed methods)."""
        return self.http.request("GET", path, parse=json_body)
