"""Bitcoin's consensus arithmetic, exactly as Bitcoin Core computes it.

Pure functions, no I/O. Sources (Bitcoin Core, ``src/``):

- ``arith_uint256.cpp`` — ``SetCompact`` / ``GetCompact`` (compact "nBits" encoding);
- ``pow.cpp`` — ``GetNextWorkRequired``, ``CalculateNextWorkRequired``,
  ``PermittedDifficultyTransition``, ``CheckProofOfWork``;
- ``chain.cpp`` — ``GetBlockProof`` (work of a block), ``CBlockIndex::GetMedianTimePast``;
- ``validation.cpp`` — ``GetBlockSubsidy``, ``ContextualCheckBlockHeader`` (time-too-old,
  time-too-new, bad-diffbits);
- ``kernel/chainparams.cpp`` — mainnet, testnet3 and regtest parameters and genesis blocks;
- ``rpc/blockchain.cpp`` — ``GetDifficulty`` (difficulty 1 = target of ``0x1d00ffff``).

Integers stand in for ``arith_uint256``: every value is reduced modulo 2**256 where Core's
fixed-width arithmetic would wrap, so results agree bit for bit.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import overload

import numpy as np

from .units import COIN

__all__ = [
    "COIN",
    "DIFF1_TARGET",
    "HEADER_SIZE",
    "MAINNET",
    "REGTEST",
    "TESTNET3",
    "BadBitsError",
    "BadLinkError",
    "BadPowError",
    "BadTimeError",
    "ChainState",
    "CompactDecodeError",
    "Header",
    "HeaderFormatError",
    "HeaderValidationError",
    "Params",
    "bits_to_difficulty",
    "block_proof",
    "block_subsidy",
    "chainwork",
    "check_proof_of_work",
    "compact_to_target",
    "difficulty_to_target",
    "double_sha256",
    "issued_btc",
    "issued_supply",
    "median_time_past",
    "next_work_required",
    "permitted_difficulty_transition",
    "retarget",
    "target_from_bits",
    "target_to_compact",
    "target_to_difficulty",
    "validate_headers",
]

MASK256 = (1 << 256) - 1
HEADER_SIZE = 80
#: Target of difficulty 1: compact 0x1d00ffff = 0xffff * 2**208.
DIFF1_TARGET = 0xFFFF << 208
MEDIAN_TIME_SPAN = 11  # CBlockIndex::nMedianTimeSpan
MAX_FUTURE_BLOCK_TIME = 2 * 60 * 60  # chain.h


# ---------------------------------------------------------------------------------------------
# Compact bits <-> target <-> difficulty
# ---------------------------------------------------------------------------------------------
def compact_to_target(bits: int) -> tuple[int, bool, bool]:
    """Decode compact ``nBits`` as ``arith_uint256::SetCompact``.

    Parameters
    ----------
    bits : int — [compact, 32-bit unsigned]

    Returns
    -------
    (target, negative, overflow) : target is reduced modulo 2**256 as Core's 256-bit value is;
    ``negative`` is set when the sign bit 0x00800000 is on with a non-zero mantissa, ``overflow``
    when the value does not fit in 256 bits.
    """
    if not 0 <= bits <= 0xFFFFFFFF:
        raise ValueError(f"bits must be a 32-bit unsigned integer, got {bits!r}")
    size = bits >> 24
    word = bits & 0x007FFFFF
    if size <= 3:
        word >>= 8 * (3 - size)
        target = word
    else:
        target = (word << (8 * (size - 3))) & MASK256
    negative = word != 0 and (bits & 0x00800000) != 0
    overflow = word != 0 and (
        size > 34 or (word > 0xFF and size > 33) or (word > 0xFFFF and size > 32)
    )
    return target, negative, overflow


class CompactDecodeError(ValueError):
    """Compact bits that do not decode to a valid positive 256-bit target."""


def target_from_bits(bits: int) -> int:
    """Target [integer] for compact bits, refusing negative, zero and overflowing encodings."""
    target, negative, overflow = compact_to_target(bits)
    if negative or overflow or target == 0:
        raise CompactDecodeError(
            f"bits 0x{bits:08x} do not encode a valid target "
            f"(negative={negative}, overflow={overflow}, zero={target == 0})"
        )
    return target


def target_to_compact(target: int, negative: bool = False) -> int:
    """Encode a target as compact bits, as ``arith_uint256::GetCompact``.

    Parameters
    ----------
    target : int — [integer, 0 ≤ target < 2**256]
    negative : bool — set the sign bit (only if the mantissa is non-zero)
    """
    if not 0 <= target <= MASK256:
        raise ValueError(f"target must be in [0, 2**256), got {target!r}")
    size = (target.bit_length() + 7) // 8
    if size <= 3:
        compact = (target << (8 * (3 - size))) & 0xFFFFFFFFFFFFFFFF
    else:
        compact = (target >> (8 * (size - 3))) & 0xFFFFFFFFFFFFFFFF
    # The 0x00800000 bit denotes the sign: if it is set, divide the mantissa by 256.
    if compact & 0x00800000:
        compact >>= 8
        size += 1
    compact &= 0xFFFFFFFF
    compact |= size << 24
    if negative and (compact & 0x007FFFFF):
        compact |= 0x00800000
    return compact & 0xFFFFFFFF


def target_to_difficulty(target: int) -> float:
    """Difficulty [dimensionless] of a target: ``DIFF1_TARGET / target`` (correctly rounded).

    Parameters
    ----------
    target : int — [integer, > 0]
    """
    if target <= 0:
        raise ValueError(f"target must be positive, got {target!r}")
    return DIFF1_TARGET / target


def bits_to_difficulty(bits: int) -> float:
    """Difficulty [dimensionless] of compact bits (Core's ``GetDifficulty``, correctly rounded)."""
    return target_to_difficulty(target_from_bits(bits))


def difficulty_to_target(difficulty: float) -> int:
    """Target [integer] nearest to a difficulty [dimensionless, > 0]."""
    if not difficulty > 0:
        raise ValueError(f"difficulty must be positive, got {difficulty!r}")
    from fractions import Fraction

    return int(Fraction(DIFF1_TARGET) / Fraction(difficulty))


def block_proof(bits_or_target: int, *, is_bits: bool = True) -> int:
    """Expected hashes to find a block: ``2**256 // (target + 1)`` (``GetBlockProof``, chain.cpp).

    Returns 0 for bits that are negative, overflow or decode to zero, as Core does.
    """
    if is_bits:
        target, negative, overflow = compact_to_target(bits_or_target)
        if negative or overflow or target == 0:
            return 0
    else:
        target = bits_or_target
    return (1 << 256) // (target + 1)


def chainwork(bits: Iterable[int]) -> int:
    """Total work [expected hashes] of a chain of blocks with the given compact bits."""
    cache: dict[int, int] = {}
    total = 0
    for b in bits:
        w = cache.get(b)
        if w is None:
            w = cache[b] = block_proof(b)
        total += w
    return total


# ---------------------------------------------------------------------------------------------
# Chain parameters
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Params:
    """Consensus parameters of a chain (``kernel/chainparams.cpp``).

    Attributes
    ----------
    pow_limit : int — easiest allowed target [integer]
    pow_target_spacing : int — [s] between blocks, 600
    pow_target_timespan : int — [s] per retarget period, 1 209 600 (two weeks)
    allow_min_difficulty : bool — testnet's 20-minute rule (``fPowAllowMinDifficultyBlocks``)
    no_retargeting : bool — regtest keeps bits constant (``fPowNoRetargeting``)
    subsidy_halving_interval : int — [blocks], 210 000 (regtest: 150)
    """

    name: str
    pow_limit: int
    genesis_header: bytes
    pow_target_spacing: int = 600
    pow_target_timespan: int = 14 * 24 * 60 * 60
    allow_min_difficulty: bool = False
    no_retargeting: bool = False
    subsidy_halving_interval: int = 210_000

    @property
    def interval(self) -> int:
        """Blocks per retarget period [blocks] (``DifficultyAdjustmentInterval``): 2016."""
        return self.pow_target_timespan // self.pow_target_spacing

    @property
    def pow_limit_bits(self) -> int:
        return target_to_compact(self.pow_limit)

    @property
    def genesis_hash(self) -> bytes:
        return double_sha256(self.genesis_header)


_GENESIS_MERKLE = bytes.fromhex(
    "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"
)[::-1]


def _genesis(time: int, bits: int, nonce: int) -> bytes:
    return struct.pack("<I32s32sIII", 1, b"\0" * 32, _GENESIS_MERKLE, time, bits, nonce)


MAINNET = Params(
    name="mainnet",
    pow_limit=0x00000000FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF,
    genesis_header=_genesis(1231006505, 0x1D00FFFF, 2083236893),
)
TESTNET3 = Params(
    name="testnet3",
    pow_limit=0x00000000FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF,
    genesis_header=_genesis(1296688602, 0x1D00FFFF, 414098458),
    allow_min_difficulty=True,
)
REGTEST = Params(
    name="regtest",
    pow_limit=0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF,
    genesis_header=_genesis(1296688602, 0x207FFFFF, 2),
    allow_min_difficulty=True,
    no_retargeting=True,
    subsidy_halving_interval=150,
)


# ---------------------------------------------------------------------------------------------
# Retargeting (pow.cpp)
# ---------------------------------------------------------------------------------------------
def retarget(
    last_bits: int, first_block_time: int, last_block_time: int, params: Params = MAINNET
) -> int:
    """``CalculateNextWorkRequired``: compact bits of the next period.

    Parameters
    ----------
    last_bits : int — [compact] bits of the last block of the period
    first_block_time : int — [unix s] time of the FIRST block of the period
    last_block_time : int — [unix s] time of the LAST block of the period (2015 intervals later)
    """
    if params.no_retargeting:
        return last_bits
    timespan = params.pow_target_timespan
    actual = last_block_time - first_block_time
    actual = min(max(actual, timespan // 4), timespan * 4)
    target, _, _ = compact_to_target(last_bits)
    new = ((target * actual) & MASK256) // timespan
    if new > params.pow_limit:
        new = params.pow_limit
    return target_to_compact(new)


def next_work_required(
    last_height: int,
    last_bits: int,
    last_time: int,
    first_block_time: int | None = None,
    params: Params = MAINNET,
    *,
    new_block_time: int | None = None,
    last_normal_bits: int | None = None,
) -> int:
    """``GetNextWorkRequired``: compact bits the block at ``last_height + 1`` must carry.

    Parameters
    ----------
    last_height : int — [block height] of the previous block
    last_bits : int — [compact] bits of the previous block
    last_time : int — [unix s] time of the previous block
    first_block_time : int — [unix s] time of the first block of the period (height
        ``last_height - 2015``); needed when ``last_height + 1`` is a multiple of 2016
    new_block_time : int — [unix s] time of the new block (testnet's 20-minute rule only)
    last_normal_bits : int — [compact] bits of the last block that was not a min-difficulty
        block, walking back to the period start (testnet only; defaults to ``last_bits``)
    """
    interval = params.interval
    if (last_height + 1) % interval != 0:
        if params.allow_min_difficulty:
            if new_block_time is not None and (
                new_block_time > last_time + 2 * params.pow_target_spacing
            ):
                return params.pow_limit_bits
            return last_bits if last_normal_bits is None else last_normal_bits
        return last_bits
    if first_block_time is None:
        raise ValueError(
            f"first_block_time is required at height {last_height + 1} (a retarget height)"
        )
    return retarget(last_bits, first_block_time, last_time, params)


def permitted_difficulty_transition(
    height: int, old_bits: int, new_bits: int, params: Params = MAINNET
) -> bool:
    """``PermittedDifficultyTransition``: may bits change from ``old_bits`` to ``new_bits`` at
    ``height`` [block height]? Bounds use the clamped timespans, rounded through compact."""
    if params.allow_min_difficulty:
        return True
    if height % params.interval == 0:
        timespan = params.pow_target_timespan
        observed, _, _ = compact_to_target(new_bits)
        old, _, _ = compact_to_target(old_bits)
        largest = ((old * (timespan * 4)) & MASK256) // timespan
        largest = min(largest, params.pow_limit)
        if compact_to_target(target_to_compact(largest))[0] < observed:
            return False
        smallest = ((old * (timespan // 4)) & MASK256) // timespan
        smallest = min(smallest, params.pow_limit)
        if compact_to_target(target_to_compact(smallest))[0] > observed:
            return False
        return True
    return old_bits == new_bits


def check_proof_of_work(block_hash: bytes, bits: int, params: Params = MAINNET) -> bool:
    """``CheckProofOfWork``: hash (internal byte order) at or below the target of ``bits``."""
    target, negative, overflow = compact_to_target(bits)
    if negative or overflow or target == 0 or target > params.pow_limit:
        return False
    return int.from_bytes(block_hash, "little") <= target


# ---------------------------------------------------------------------------------------------
# Subsidy (validation.cpp GetBlockSubsidy)
# ---------------------------------------------------------------------------------------------
@overload
def block_subsidy(height: int, params: Params = ...) -> int: ...
@overload
def block_subsidy(height: np.ndarray, params: Params = ...) -> np.ndarray: ...
def block_subsidy(height: int | np.ndarray, params: Params = MAINNET) -> int | np.ndarray:
    """New coins [satoshi] in the block at ``height`` [block height]: 50 BTC halved every
    210 000 blocks (integer right shift), zero after 64 halvings (``GetBlockSubsidy``).

    ``height`` may be an int (returns an int) or an integer array (returns int64 per element).
    """
    h = np.asarray(height, dtype=np.int64)
    if (h < 0).any():
        raise ValueError(f"height must be >= 0, got {int(h.min())}")
    halvings = h // params.subsidy_halving_interval
    sat = np.where(halvings < 64, np.int64(50 * COIN) >> np.minimum(halvings, 63), 0)
    return sat if isinstance(height, np.ndarray) else int(sat)


def issued_btc(height_before: np.ndarray, blocks: np.ndarray, params: Params = MAINNET
               ) -> np.ndarray:
    """New coins [BTC] in the ``blocks`` [blocks] mined after ``height_before`` [block height]
    (blocks ``height_before + 1 … height_before + blocks``), each block's subsidy exact as
    :func:`block_subsidy`; a span may cross at most one halving (any span shorter than
    210 000 blocks)."""
    n = params.subsidy_halving_interval
    start = np.asarray(height_before, dtype=np.int64) + 1
    blocks = np.asarray(blocks, dtype=np.int64)
    boundary = (start // n + 1) * n  # first height of the next era
    in_first = np.clip(np.minimum(start + blocks, boundary) - start, 0, None)
    rest = np.clip(blocks - in_first, 0, None)
    sat = in_first * block_subsidy(start, params) + rest * block_subsidy(boundary, params)
    return np.asarray(sat / COIN, dtype=float)


def issued_supply(height: int, params: Params = MAINNET) -> int:
    """Coins [satoshi] issued by blocks 0..``height`` inclusive (the genesis block's 50 BTC,
    unspendable, is counted)."""
    if height < 0:
        raise ValueError(f"height must be >= 0, got {height}")
    n = params.subsidy_halving_interval
    total = 0
    era = 0
    while era < 64 and era * n <= height:
        blocks = min(height + 1, (era + 1) * n) - era * n
        total += blocks * block_subsidy(era * n, params)
        era += 1
    return total


# ---------------------------------------------------------------------------------------------
# Headers
# ---------------------------------------------------------------------------------------------
_HEADER = struct.Struct("<I32s32sIII")


def double_sha256(data: bytes | memoryview) -> bytes:
    """SHA-256 applied twice; internal (little-endian) byte order."""
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


class HeaderFormatError(ValueError):
    """Bytes or text that are not an 80-byte block header."""


@dataclass(frozen=True)
class Header:
    """An 80-byte block header. Hashes are stored in internal byte order; ``hash_hex`` and
    ``prev_hash_hex`` show the usual byte-reversed form."""

    version: int
    prev_hash: bytes
    merkle_root: bytes
    time: int
    bits: int
    nonce: int

    @classmethod
    def parse(cls, raw: bytes | str) -> Header:
        """Parse 80 raw bytes (or 160 hex characters)."""
        if isinstance(raw, str):
            try:
                raw = bytes.fromhex(raw.strip())
            except ValueError as exc:
                raise HeaderFormatError(f"header is not valid hex: {exc}") from None
        if len(raw) != HEADER_SIZE:
            raise HeaderFormatError(f"a header is {HEADER_SIZE} bytes, got {len(raw)}")
        return cls(*_HEADER.unpack(raw))

    def serialize(self) -> bytes:
        return _HEADER.pack(
            self.version, self.prev_hash, self.merkle_root, self.time, self.bits, self.nonce
        )

    @property
    def hash(self) -> bytes:
        return double_sha256(self.serialize())

    @property
    def hash_hex(self) -> str:
        return self.hash[::-1].hex()

    @property
    def prev_hash_hex(self) -> str:
        return self.prev_hash[::-1].hex()

    def check_pow(self, params: Params = MAINNET) -> bool:
        return check_proof_of_work(self.hash, self.bits, params)


def median_time_past(times: Sequence[int]) -> int:
    """``GetMedianTimePast``: median [unix s] of the last (up to) 11 block times."""
    last = sorted(times[-MEDIAN_TIME_SPAN:])
    if not last:
        raise ValueError("median_time_past needs at least one time")
    return last[len(last) // 2]


# ---------------------------------------------------------------------------------------------
# Chain validation
# ---------------------------------------------------------------------------------------------
class HeaderValidationError(ValueError):
    """A header broke a consensus rule. ``height`` and ``rule`` name it; ``accepted`` counts the
    headers of the batch before it that passed (nothing after it is accepted)."""

    rule = "invalid"

    def __init__(self, height: int, message: str, accepted: int = 0):
        self.height = height
        self.accepted = accepted
        super().__init__(f"header at height {height} rejected ({self.rule}): {message}")


class BadLinkError(HeaderValidationError):
    """The previous-hash field is not the hash of the header before."""

    rule = "prev-blk-not-found"


class BadPowError(HeaderValidationError):
    """The header's hash is above its target, or the target is invalid."""

    rule = "high-hash"


class BadBitsError(HeaderValidationError):
    """The bits are not what ``GetNextWorkRequired`` demands at this height."""

    rule = "bad-diffbits"


class BadTimeError(HeaderValidationError):
    """The time is not above the median of the previous 11 blocks."""

    rule = "time-too-old"


class TimeTooNewError(BadTimeError):
    """The time is more than two hours ahead of ``now``."""

    rule = "time-too-new"


@dataclass(frozen=True)
class ChainState:
    """What validating the next header needs to know about the chain tip.

    Attributes
    ----------
    height : int — [block height] of the tip
    hash : bytes — tip hash, internal byte order
    bits : int — [compact] bits of the tip
    times : tuple[int, ...] — [unix s] times of the last (up to) 11 blocks, oldest first
    epoch_start_time : int | None — [unix s] time of the first block of the tip's period
    last_normal_bits : int — [compact] testnet: bits of the last non-min-difficulty block
    chainwork : int | None — [expected hashes] total work to the tip, when known
    """

    height: int
    hash: bytes
    bits: int
    times: tuple[int, ...]
    epoch_start_time: int | None
    last_normal_bits: int
    chainwork: int | None = None
    params: Params = field(default=MAINNET, compare=False)

    @classmethod
    def genesis(cls, params: Params = MAINNET) -> ChainState:
        h = Header.parse(params.genesis_header)
        return cls(0, h.hash, h.bits, (h.time,), h.time, h.bits, block_proof(h.bits), params)

    @classmethod
    def checkpoint(
        cls,
        header: Header | bytes,
        height: int,
        params: Params = MAINNET,
        *,
        times: Sequence[int] | None = None,
        epoch_start_time: int | None = None,
        chainwork: int | None = None,
    ) -> ChainState:
        """A trusted tip to validate from (e.g. a header taken from a checkpoint list).

        Without ``times`` of the 11 blocks ending at the tip, the median-time-past rule starts
        once 11 validated headers are known; without ``epoch_start_time`` a retarget in the
        batch is checked only against ``permitted_difficulty_transition``'s bounds.
        """
        if isinstance(header, bytes):
            header = Header.parse(header)
        t = tuple(times) if times is not None else (header.time,)
        if t[-1] != header.time:
            raise ValueError("times must end with the checkpoint header's own time")
        if height % params.interval == 0:
            epoch_start_time = header.time
        return cls(
            height, header.hash, header.bits, t[-MEDIAN_TIME_SPAN:], epoch_start_time,
            header.bits, chainwork, params,
        )

    @property
    def times_complete(self) -> bool:
        return len(self.times) >= min(MEDIAN_TIME_SPAN, self.height + 1)


_HDR_DTYPE = np.dtype(
    [("version", "<u4"), ("prev", "V32"), ("merkle", "V32"), ("time", "<u4"),
     ("bits", "<u4"), ("nonce", "<u4")]
)


def _as_buffer(headers: bytes | bytearray | memoryview | Sequence[bytes]) -> bytes:
    if isinstance(headers, bytes | bytearray | memoryview):
        return bytes(headers)
    parts = list(headers)
    for i, p in enumerate(parts):
        if len(p) != HEADER_SIZE:
            raise HeaderFormatError(f"header {i} of the batch is {len(p)} bytes, not 80")
    return b"".join(parts)


def validate_headers(
    headers: bytes | bytearray | memoryview | Sequence[bytes],
    prev: ChainState | None = None,
    params: Params | None = None,
    *,
    now: int | None = None,
    hashes_out: list[bytes] | None = None,
) -> ChainState:
    """Validate consecutive headers against the chain tip ``prev`` and return the new tip.

    Rules, checked in this order for every header (the first failure raises, naming the height
    and the rule; nothing after it is accepted):

    1. link — ``prev_hash`` is the hash of the previous header;
    2. bits — the bits ``GetNextWorkRequired`` demands at this height (retargets every 2016
       blocks from the 2015-interval timespan; testnet's 20-minute rule);
    3. time — above the median of the previous 11 times (and, given ``now`` [unix s], at most
       2 h ahead of it);
    4. proof of work — hash at or below the target, target within ``pow_limit``.

    Parameters
    ----------
    headers : bytes — concatenated 80-byte headers (or a sequence of 80-byte headers)
    prev : ChainState — the tip they extend; ``None`` means the batch starts at the genesis
        block, which must be ``params``' own genesis header
    params : Params — chain rules (default: ``prev.params`` or mainnet)
    now : int — [unix s] current time for the time-too-new rule (skipped when ``None``)
    hashes_out : list — when given, the hashes (internal byte order) of the validated headers
        after the genesis are appended to it, so callers need not hash them again
    """
    buf = _as_buffer(headers)
    if len(buf) % HEADER_SIZE:
        raise HeaderFormatError(
            f"{len(buf)} bytes is not a whole number of 80-byte headers "
            f"(last header starts at byte {len(buf) // HEADER_SIZE * HEADER_SIZE})"
        )
    n = len(buf) // HEADER_SIZE
    if params is None:
        params = prev.params if prev is not None else MAINNET
    if n == 0:
        if prev is None:
            raise HeaderFormatError("no headers given and no chain state to extend")
        return prev
    if prev is None:
        if buf[:HEADER_SIZE] != params.genesis_header:
            raise BadLinkError(
                0, f"first header is not the {params.name} genesis block "
                f"{params.genesis_hash[::-1].hex()}", 0,
            )
        state = ChainState.genesis(params)
        if n == 1:
            return state
        buf = buf[HEADER_SIZE:]
        n -= 1
        offset = 1
    else:
        state = prev
        offset = 0

    arr = np.frombuffer(buf, dtype=_HDR_DTYPE)
    times = arr["time"].astype(np.int64)
    bits = arr["bits"].astype(np.int64)
    h0 = state.height + 1
    heights = np.arange(h0, h0 + n, dtype=np.int64)

    # Hash every header (the one loop that must touch each header).
    mv = memoryview(buf)
    sha = hashlib.sha256
    hashes = [sha(sha(mv[i : i + HEADER_SIZE]).digest()).digest() for i in range(0, len(buf), 80)]
    hash_block = b"".join(hashes)

    # 1. link: prev field of header i equals hash of header i-1 (state.hash for the first).
    # One contiguous copy of the prev fields, compared as a whole (a memcmp); rows only on a
    # mismatch, to find the first bad one.
    prev_block = arr["prev"].tobytes()
    own_block = state.hash + hash_block[: (n - 1) * 32]
    if prev_block == own_block:
        link_bad = np.empty(0, dtype=np.intp)
    else:
        prev_words = np.frombuffer(prev_block, dtype="<u8").reshape(n, 4)
        own = np.frombuffer(own_block, dtype="<u8").reshape(n, 4)
        link_bad = np.flatnonzero((prev_words != own).any(axis=1))
    first_bad = int(link_bad[0]) if link_bad.size else n
    failures: list[tuple[int, type[HeaderValidationError], str]] = []
    if link_bad.size:
        i = first_bad
        expected = (state.hash if i == 0 else hashes[i - 1])[::-1].hex()
        got = bytes(buf[i * 80 + 4 : i * 80 + 36])[::-1].hex()
        failures.append((i, BadLinkError,
                         f"prev hash {got} is not the previous block's hash {expected}"))

    # 2. bits
    bits_fail = _check_bits(bits, times, heights, state, params, first_bad)
    if bits_fail is not None:
        failures.append(bits_fail)
        first_bad = min(first_bad, bits_fail[0])

    # 3. time: median time past of the previous 11 blocks (vectorised over a sliding window)
    time_fail = _check_times(times, state, first_bad, now, params)
    if time_fail is not None:
        failures.append(time_fail)
        first_bad = min(first_bad, time_fail[0])

    # 4. proof of work (bits already checked; decode each distinct value once)
    above = _above_target(hash_block, bits[:first_bad], params.pow_limit)
    if above.size:
        i = int(above[0])
        failures.append((i, BadPowError, f"hash {hashes[i][::-1].hex()} is above the target "
                         f"of bits 0x{int(bits[i]):08x}"))
        first_bad = i

    if failures:
        i, cls, msg = min(failures, key=lambda f: (f[0], _RULE_ORDER[f[1]]))
        raise cls(h0 + i, msg, offset + i)

    if hashes_out is not None:
        hashes_out.extend(hashes)
    return _advance(state, hashes[-1], bits, times, heights, params)


def _above_target(hash_block: bytes, bits: np.ndarray, limit: int) -> np.ndarray:
    """Indices of the hashes (32 bytes each, little-endian integers, concatenated) above the
    target of their bits, or whose bits encode no valid target (negative, overflowing, zero or
    above ``limit``). Each hash is compared as four little-endian 64-bit words, most significant
    (the last) first: the first word that differs decides, exactly as comparing the integers.
    The most significant words decide almost every header; only ties look further."""
    n = len(bits)
    if n == 0:
        return np.empty(0, dtype=np.intp)
    words = np.frombuffer(hash_block, dtype="<u8", count=4 * n).reshape(n, 4)
    # bits change only at retargets (and on testnet's minimum-difficulty blocks): decode each
    # distinct value of each run once
    starts = np.flatnonzero(np.concatenate(([True], bits[1:] != bits[:-1])))
    uniq, run_idx = np.unique(bits[starts], return_inverse=True)
    which = np.repeat(run_idx, np.diff(np.append(starts, n)))
    tw = np.zeros((len(uniq), 4), dtype="<u8")
    valid = np.ones(len(uniq), dtype=bool)
    for k, b in enumerate(uniq.tolist()):
        t, neg, ovf = compact_to_target(b)
        if neg or ovf or t == 0 or t > limit:
            valid[k] = False
        else:
            tw[k] = np.frombuffer(t.to_bytes(32, "little"), dtype="<u8")
    top = tw[which, 3]
    above = (words[:, 3] > top) | ~valid[which]
    tie = np.flatnonzero((words[:, 3] == top) & valid[which])
    for k in (2, 1, 0):  # ties on the words above: the next word down decides
        if not tie.size:
            break
        w, t = words[tie, k], tw[which[tie], k]
        above[tie[w > t]] = True
        tie = tie[w == t]
    return np.flatnonzero(above)


_RULE_ORDER = {
    BadLinkError: 0, BadBitsError: 1, BadTimeError: 2, TimeTooNewError: 2, BadPowError: 3,
}


def _check_bits(
    bits: np.ndarray, times: np.ndarray, heights: np.ndarray, state: ChainState,
    params: Params, stop: int,
) -> tuple[int, type[HeaderValidationError], str] | None:
    n = min(len(bits), stop)
    if n == 0:
        return None
    interval = params.interval
    if params.allow_min_difficulty:
        # Testnet's rule depends on every block's time: walk block by block.
        last_bits, last_time = state.bits, state.times[-1]
        last_normal = state.last_normal_bits
        epoch_start = state.epoch_start_time
        limit_bits = params.pow_limit_bits
        bl, tl, hl = bits[:n].tolist(), times[:n].tolist(), heights[:n].tolist()
        for i in range(n):
            h = hl[i]
            if h % interval == 0:
                if epoch_start is None:
                    exp = None
                else:
                    exp = retarget(last_bits, epoch_start, last_time, params)
            else:
                exp = next_work_required(h - 1, last_bits, last_time, epoch_start, params,
                                         new_block_time=tl[i], last_normal_bits=last_normal)
            if exp is None:
                if not permitted_difficulty_transition(h, last_bits, bl[i], params):
                    return (i, BadBitsError, f"bits 0x{bl[i]:08x} outside the permitted range")
            elif bl[i] != exp:
                return (i, BadBitsError, f"bits 0x{bl[i]:08x}, required 0x{exp:08x}")
            if h % interval == 0:
                epoch_start = tl[i]
            if h % interval == 0 or bl[i] != limit_bits:
                last_normal = bl[i]
            last_bits, last_time = bl[i], tl[i]
        return None
    # Bits only change at multiples of 2016: check runs between boundaries in bulk.
    prev_bits = np.empty(n, dtype=np.int64)
    prev_bits[0] = state.bits
    prev_bits[1:] = bits[: n - 1]
    boundary = np.flatnonzero(heights[:n] % interval == 0)
    mismatch = bits[:n] != prev_bits
    mismatch[boundary] = False
    bad = np.flatnonzero(mismatch)
    first_plain = int(bad[0]) if bad.size else n
    for i in boundary.tolist():
        if i >= first_plain:
            break
        last_time = int(times[i - 1]) if i > 0 else state.times[-1]
        j = i - interval  # index of the first block of the period that ends at i - 1
        first_time = int(times[j]) if j >= 0 else state.epoch_start_time
        b_old, b_new = int(prev_bits[i]), int(bits[i])
        if first_time is None:
            if not permitted_difficulty_transition(int(heights[i]), b_old, b_new, params):
                return (i, BadBitsError, f"bits 0x{b_new:08x} outside the permitted range")
            continue
        exp = retarget(b_old, first_time, last_time, params)
        if b_new != exp:
            return (i, BadBitsError, f"bits 0x{b_new:08x}, required 0x{exp:08x} "
                    f"(retarget from 0x{b_old:08x})")
    if bad.size:
        i = first_plain
        return (i, BadBitsError, f"bits 0x{int(bits[i]):08x}, required 0x{int(prev_bits[i]):08x} "
                "(no retarget at this height)")
    return None


def _check_times(
    times: np.ndarray, state: ChainState, stop: int, now: int | None, params: Params
) -> tuple[int, type[HeaderValidationError], str] | None:
    n = min(len(times), stop)
    if n == 0:
        return None
    ctx = np.asarray(state.times, dtype=np.int64)
    allt = np.concatenate([ctx, times[:n]])
    k = len(ctx)
    complete = state.times_complete
    first: tuple[int, type[HeaderValidationError], str] | None = None
    # Headers whose 11 predecessors are all known: vectorised median of each window.
    if k >= MEDIAN_TIME_SPAN:
        lo = 0
    else:
        # Early chain (height < 11) or a checkpoint without enough history.
        lo = min(n, MEDIAN_TIME_SPAN - k)
        for i in range(lo):
            if complete:
                window = allt[: k + i]
                mtp = int(np.sort(window)[len(window) // 2])
                if allt[k + i] <= mtp:
                    first = (i, BadTimeError, f"time {int(allt[k + i])} is not above the "
                             f"median time past {mtp}")
                    break
    if first is None and lo < n:
        win = np.lib.stride_tricks.sliding_window_view(allt[: k + n - 1], MEDIAN_TIME_SPAN)
        # window w covers allt[w : w+11] and serves the header at allt[w+11]
        start = k + lo - MEDIAN_TIME_SPAN
        sel = win[start : start + (n - lo)]
        mtps = np.partition(sel, MEDIAN_TIME_SPAN // 2, axis=1)[:, MEDIAN_TIME_SPAN // 2]
        bad = np.flatnonzero(times[lo:n] <= mtps)
        if bad.size:
            j = int(bad[0])
            first = (lo + j, BadTimeError, f"time {int(times[lo + j])} is not above the median "
                     f"time past {int(mtps[j])}")
    if now is not None:
        late = np.flatnonzero(times[:n] > now + MAX_FUTURE_BLOCK_TIME)
        if late.size and (first is None or int(late[0]) < first[0]):
            i = int(late[0])
            first = (i, TimeTooNewError, f"time {int(times[i])} is more than 2 h after now ({now})")
    return first


def _advance(
    state: ChainState, tip_hash: bytes, bits: np.ndarray, times: np.ndarray,
    heights: np.ndarray, params: Params,
) -> ChainState:
    tip_h = int(heights[-1])
    interval = params.interval
    epoch_first = tip_h - tip_h % interval
    if epoch_first >= int(heights[0]):
        epoch_start: int | None = int(times[epoch_first - int(heights[0])])
    else:
        epoch_start = state.epoch_start_time
    last_normal = state.last_normal_bits
    limit_bits = params.pow_limit_bits
    normal = np.flatnonzero((bits != limit_bits) | (heights % interval == 0))
    if normal.size:
        last_normal = int(bits[int(normal[-1])])
    work = None
    if state.chainwork is not None:
        uniq, counts = np.unique(bits, return_counts=True)
        pairs = zip(uniq.tolist(), counts.tolist(), strict=True)
        work = state.chainwork + sum(block_proof(int(b)) * int(c) for b, c in pairs)
    new_times = (state.times + tuple(times[-MEDIAN_TIME_SPAN:].tolist()))[-MEDIAN_TIME_SPAN:]
    return replace(
        state, height=tip_h, hash=tip_hash, bits=int(bits[-1]), times=new_times,
        epoch_start_time=epoch_start, last_normal_bits=last_normal, chainwork=work,
    )
