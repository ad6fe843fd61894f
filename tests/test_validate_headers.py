"""Header-chain validation: real mainnet headers, corruptions of them, and mined test chains.

Real data (skipped when ../shared is absent, see ../shared/data/chain/SOURCES.md):
- ``ckb_epoch_boundary_headers/NNNNNNN.bin``: first and last header of every epoch to 832,608;
- ``dfinity_headers_586657_589289.csv``: 2,633 consecutive headers (row i = height 586,657 + i),
  hashes shown in display (byte-reversed) order.

validate_headers checks, for each header in turn: link, bits, time, proof of work (the first
failure wins; at one header, the earlier rule in that list). The corruptions below are chosen
with that order in mind: changing any field also changes the header's hash, so a corrupted
header fails PoW as well, and the rule under test must come before PoW to be the one reported.
"""

from __future__ import annotations

import csv
import functools
import struct
from pathlib import Path
from typing import Any

import pytest

from hashshift.consensus import (
    HEADER_SIZE,
    MAINNET,
    BadBitsError,
    BadLinkError,
    BadPowError,
    BadTimeError,
    ChainState,
    Header,
    HeaderFormatError,
    HeaderValidationError,
    Params,
    block_proof,
    chainwork,
    compact_to_target,
    median_time_past,
    next_work_required,
    permitted_difficulty_transition,
    retarget,
    target_to_compact,
    validate_headers,
)
from hashshift.testing import REGTEST_STRICT, build_chain, mine_header

DFINITY_FIRST = 586_657
CKB_LAST = 832_608
RETARGET_IN_BATCH = 588_672  # 292 * 2016


# ---------------------------------------------------------------------------------------------
# Loading the real data
# ---------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=2)
def _load_ckb(folder: Path) -> dict[int, bytes]:
    return {int(p.stem): p.read_bytes() for p in sorted(folder.glob("*.bin"))}


@functools.lru_cache(maxsize=2)
def _load_dfinity(path: Path) -> tuple[bytes, ...]:
    out = []
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            out.append(
                struct.pack(
                    "<I32s32sIII",
                    int(row["version"], 16),
                    bytes.fromhex(row["prev_block"])[::-1],
                    bytes.fromhex(row["merkle_root"])[::-1],
                    int(row["timestamp"], 16),
                    int(row["bits"], 16),
                    int(row["nonce"], 16),
                )
            )
    return tuple(out)


@pytest.fixture
def ckb(shared: Any) -> dict[int, bytes]:
    folder = shared.file("chain", "ckb_epoch_boundary_headers")
    return _load_ckb(folder)


@pytest.fixture
def dfinity(shared: Any) -> tuple[bytes, ...]:
    return _load_dfinity(shared.file("chain", "dfinity_headers_586657_589289.csv"))


@pytest.fixture
def checkpoint(ckb: dict[int, bytes]) -> ChainState:
    # 586656 = 291 * 2016 is the first block of its epoch, so its time is the epoch start.
    return ChainState.checkpoint(ckb[586_656], 586_656, MAINNET)


def _with(headers: tuple[bytes, ...], index: int, offset: int, value: bytes) -> bytes:
    """The batch with ``value`` written at byte ``offset`` of header ``index``."""
    h = bytearray(headers[index])
    h[offset : offset + len(value)] = value
    assert len(h) == HEADER_SIZE
    return b"".join(headers[:index]) + bytes(h) + b"".join(headers[index + 1 :])


def _time(raw: bytes) -> int:
    return int(struct.unpack_from("<I", raw, 68)[0])


# ---------------------------------------------------------------------------------------------
# Every mainnet retarget from genesis to 832,608
# ---------------------------------------------------------------------------------------------
def test_every_mainnet_retarget_to_832608(ckb: dict[int, bytes]) -> None:
    headers = {h: Header.parse(raw) for h, raw in ckb.items()}
    assert len(headers) == 827
    assert min(headers) == 0 and max(headers) == CKB_LAST
    # every header meets its own target, within mainnet's pow_limit
    assert all(h.check_pow(MAINNET) for h in headers.values())
    assert headers[0].serialize() == MAINNET.genesis_header

    n_epochs = CKB_LAST // 2016
    changed = 0
    for k in range(1, n_epochs + 1):
        first, last, nxt = headers[(k - 1) * 2016], headers[k * 2016 - 1], headers[k * 2016]
        # bits are constant within an epoch
        assert first.bits == last.bits, k
        got = next_work_required(k * 2016 - 1, last.bits, last.time, first.time, MAINNET)
        assert got == nxt.bits, f"retarget at height {k * 2016}: 0x{got:08x} != 0x{nxt.bits:08x}"
        assert permitted_difficulty_transition(k * 2016, last.bits, nxt.bits, MAINNET)
        changed += got != last.bits
    assert n_epochs == 413
    # most periods did change the difficulty (the first 15 sat at pow_limit)
    assert changed > 380


def test_ckb_bits_match_difficulty_csv(ckb: dict[int, bytes], shared: Any) -> None:
    rows = shared.file("chain", "difficulty_epochs_to_840236.csv").read_text().split()
    checked = 0
    for line in rows:
        lo, hi, bits = line.split(",")[:3]
        for h in range(int(lo), min(int(hi), CKB_LAST) + 1, 2016):
            if h in ckb:
                assert Header.parse(ckb[h]).bits == int(bits, 16), h
                checked += 1
    assert checked == CKB_LAST // 2016 + 1


# ---------------------------------------------------------------------------------------------
# 2,633 consecutive real headers across the retarget at 588,672
# ---------------------------------------------------------------------------------------------
def test_dfinity_batch_validates(
    dfinity: tuple[bytes, ...], ckb: dict[int, bytes], checkpoint: ChainState
) -> None:
    assert len(dfinity) == 2633
    assert checkpoint.epoch_start_time == Header.parse(ckb[586_656]).time
    tip = validate_headers(b"".join(dfinity), checkpoint)
    last = Header.parse(dfinity[-1])
    assert tip.height == 589_289
    assert tip.hash == last.hash
    assert tip.bits == last.bits
    assert tip.times == tuple(_time(r) for r in dfinity[-11:])
    i_retarget = RETARGET_IN_BATCH - DFINITY_FIRST
    assert tip.epoch_start_time == _time(dfinity[i_retarget])
    # the two sources agree on the headers around the retarget
    assert dfinity[i_retarget - 1] == ckb[RETARGET_IN_BATCH - 1]
    assert dfinity[i_retarget] == ckb[RETARGET_IN_BATCH]
    old, new = Header.parse(dfinity[i_retarget - 1]).bits, Header.parse(dfinity[i_retarget]).bits
    assert old != new
    assert new == retarget(old, checkpoint.epoch_start_time or 0, _time(dfinity[i_retarget - 1]))


def test_dfinity_sequence_and_bytes_agree(
    dfinity: tuple[bytes, ...], checkpoint: ChainState
) -> None:
    as_bytes = validate_headers(b"".join(dfinity), checkpoint)
    as_list = validate_headers(list(dfinity), checkpoint)
    as_view = validate_headers(memoryview(bytearray(b"".join(dfinity))), checkpoint)
    assert as_bytes == as_list == as_view


@pytest.mark.parametrize("split", [1, 10, 11, 500, 2014, 2015, 2016, 2632])
def test_dfinity_two_batches_equal_one(
    dfinity: tuple[bytes, ...], checkpoint: ChainState, split: int
) -> None:
    one = validate_headers(b"".join(dfinity), checkpoint)
    mid = validate_headers(b"".join(dfinity[:split]), checkpoint)
    assert mid.height == DFINITY_FIRST + split - 1
    two = validate_headers(b"".join(dfinity[split:]), mid)
    assert two == one


def test_dfinity_chainwork_when_known(
    dfinity: tuple[bytes, ...], ckb: dict[int, bytes]
) -> None:
    start = ChainState.checkpoint(ckb[586_656], 586_656, chainwork=12345)
    tip = validate_headers(b"".join(dfinity), start)
    bits = [Header.parse(r).bits for r in dfinity]
    assert tip.chainwork == 12345 + chainwork(bits)
    assert tip.chainwork > 12345 + 2633 * block_proof(0x1D00FFFF)


def test_corrupt_merkle_root_is_high_hash(
    dfinity: tuple[bytes, ...], checkpoint: ChainState
) -> None:
    i = 1000
    raw = bytearray(dfinity[i])
    raw[40] ^= 0x01  # one byte of the merkle root (bytes 36..67)
    assert not Header.parse(bytes(raw)).check_pow(MAINNET)
    with pytest.raises(BadPowError) as exc:
        validate_headers(_with(dfinity, i, 36, bytes(raw[36:68])), checkpoint)
    assert exc.value.rule == "high-hash"
    assert exc.value.height == DFINITY_FIRST + i
    assert exc.value.accepted == i
    assert str(DFINITY_FIRST + i) in str(exc.value)


def test_corrupt_prev_hash_is_bad_link(
    dfinity: tuple[bytes, ...], checkpoint: ChainState
) -> None:
    i = 1500
    raw = bytearray(dfinity[i])
    raw[4] ^= 0xFF  # first byte of prev_hash (bytes 4..35)
    assert not Header.parse(bytes(raw)).check_pow(MAINNET)  # PoW fails too; link comes first
    with pytest.raises(BadLinkError) as exc:
        validate_headers(_with(dfinity, i, 4, bytes(raw[4:36])), checkpoint)
    assert exc.value.rule == "prev-blk-not-found"
    assert exc.value.height == DFINITY_FIRST + i
    assert exc.value.accepted == i


def test_first_header_not_linked_to_checkpoint(
    dfinity: tuple[bytes, ...], ckb: dict[int, bytes]
) -> None:
    wrong = ChainState.checkpoint(ckb[586_655], 586_655)
    with pytest.raises(BadLinkError) as exc:
        validate_headers(b"".join(dfinity), wrong)
    assert exc.value.height == 586_656  # the batch is taken to start right after the tip
    assert exc.value.accepted == 0


@pytest.mark.parametrize("below", [0, 1, 1000])
def test_timestamp_at_or_below_median_is_time_too_old(
    dfinity: tuple[bytes, ...], checkpoint: ChainState, below: int
) -> None:
    i = 2000
    mtp = median_time_past([_time(r) for r in dfinity[i - 11 : i]])
    corrupted = _with(dfinity, i, 68, struct.pack("<I", mtp - below))
    with pytest.raises(BadTimeError) as exc:
        validate_headers(corrupted, checkpoint)
    assert type(exc.value) is BadTimeError
    assert exc.value.rule == "time-too-old"
    assert exc.value.height == DFINITY_FIRST + i
    assert exc.value.accepted == i


def test_timestamp_just_above_median_passes_time_rule(
    dfinity: tuple[bytes, ...], checkpoint: ChainState
) -> None:
    # one second above the median is a valid time: the header then fails only its PoW
    i = 2000
    mtp = median_time_past([_time(r) for r in dfinity[i - 11 : i]])
    with pytest.raises(BadPowError) as exc:
        validate_headers(_with(dfinity, i, 68, struct.pack("<I", mtp + 1)), checkpoint)
    assert exc.value.height == DFINITY_FIRST + i


def test_time_rule_needs_eleven_known_times(
    dfinity: tuple[bytes, ...], ckb: dict[int, bytes]
) -> None:
    # From a checkpoint given the 11 times ending at it, the median rule applies at once.
    j = 20  # checkpoint at the header of row j, height 586677
    times = [_time(r) for r in dfinity[j - 10 : j + 1]]
    epoch_start = Header.parse(ckb[586_656]).time
    full = ChainState.checkpoint(
        dfinity[j], DFINITY_FIRST + j, times=times, epoch_start_time=epoch_start
    )
    rest = dfinity[j + 1 :]
    assert validate_headers(b"".join(rest), full).height == 589_289
    bad = _with(rest, 0, 68, struct.pack("<I", median_time_past(times)))
    with pytest.raises(BadTimeError) as exc:
        validate_headers(bad, full)
    assert exc.value.height == DFINITY_FIRST + j + 1
    assert exc.value.accepted == 0
    # Without the history the median is unknown, so only the changed hash is caught.
    bare = ChainState.checkpoint(dfinity[j], DFINITY_FIRST + j, epoch_start_time=epoch_start)
    assert not bare.times_complete and full.times_complete
    with pytest.raises(BadPowError):
        validate_headers(bad, bare)
    with pytest.raises(ValueError, match="times"):
        ChainState.checkpoint(dfinity[j], DFINITY_FIRST + j, times=times[:-1])


def test_future_timestamp_is_time_too_new(
    dfinity: tuple[bytes, ...], checkpoint: ChainState
) -> None:
    times = [_time(r) for r in dfinity]
    latest = max(times)
    # now exactly 2 h before the latest header: allowed (at most 2 h ahead)
    assert validate_headers(b"".join(dfinity), checkpoint, now=latest - 7200).height == 589_289
    with pytest.raises(BadTimeError) as exc:
        validate_headers(b"".join(dfinity), checkpoint, now=latest - 7201)
    assert exc.value.rule == "time-too-new"
    assert exc.value.height == DFINITY_FIRST + times.index(latest)
    # a single header pushed into the future, validated at the real time of its parent
    i = 1200
    now = times[i - 1]
    with pytest.raises(BadTimeError) as exc:
        validate_headers(_with(dfinity, i, 68, struct.pack("<I", now + 7201)), checkpoint, now=now)
    assert exc.value.rule == "time-too-new"
    assert exc.value.height == DFINITY_FIRST + i
    assert exc.value.accepted == i


def test_changed_bits_between_retargets_is_bad_diffbits(
    dfinity: tuple[bytes, ...], checkpoint: ChainState
) -> None:
    i = 500
    bits = Header.parse(dfinity[i]).bits
    easier = target_to_compact(compact_to_target(bits)[0] * 2)
    with pytest.raises(BadBitsError) as exc:
        validate_headers(_with(dfinity, i, 72, struct.pack("<I", easier)), checkpoint)
    assert exc.value.rule == "bad-diffbits"
    assert exc.value.height == DFINITY_FIRST + i
    assert exc.value.accepted == i


@pytest.mark.parametrize("change", ["unchanged", "off_by_one", "too_easy"])
def test_wrong_bits_at_retarget_is_bad_diffbits(
    dfinity: tuple[bytes, ...], checkpoint: ChainState, change: str
) -> None:
    i = RETARGET_IN_BATCH - DFINITY_FIRST
    real = Header.parse(dfinity[i]).bits
    old = Header.parse(dfinity[i - 1]).bits
    wrong = {
        "unchanged": old,  # no retarget at all
        "off_by_one": real + 1,  # within the factor-4 bounds, but not what Core computes
        "too_easy": target_to_compact(compact_to_target(old)[0] * 5),
    }[change]
    with pytest.raises(BadBitsError) as exc:
        validate_headers(_with(dfinity, i, 72, struct.pack("<I", wrong)), checkpoint)
    assert exc.value.height == RETARGET_IN_BATCH
    assert exc.value.accepted == i


def test_earliest_failure_wins(dfinity: tuple[bytes, ...], checkpoint: ChainState) -> None:
    bad_pow = _with(dfinity, 800, 40, bytes([dfinity[800][40] ^ 0xFF]))
    parts = [bad_pow[k : k + 80] for k in range(0, len(bad_pow), 80)]
    bad_both = _with(tuple(parts), 1500, 4, b"\x00" * 32)
    with pytest.raises(HeaderValidationError) as exc:
        validate_headers(bad_both, checkpoint)
    assert isinstance(exc.value, BadPowError)
    assert exc.value.height == DFINITY_FIRST + 800


def test_accepted_prefix_validates(dfinity: tuple[bytes, ...], checkpoint: ChainState) -> None:
    corrupted = _with(dfinity, 1700, 72, struct.pack("<I", 0x1D00FFFF))
    with pytest.raises(BadBitsError) as exc:
        validate_headers(corrupted, checkpoint)
    n = exc.value.accepted
    tip = validate_headers(corrupted[: n * 80], checkpoint)
    assert tip.height == exc.value.height - 1
    assert tip.hash == Header.parse(dfinity[n - 1]).hash


# ---------------------------------------------------------------------------------------------
# Mined chains (hashshift.testing.build_chain)
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def chain40() -> tuple[bytes, ChainState]:
    return build_chain(40, REGTEST_STRICT, seed=7)


def test_build_chain_validates_from_genesis(chain40: tuple[bytes, ChainState]) -> None:
    raw, tip = chain40
    assert len(raw) == 40 * 80
    full = validate_headers(REGTEST_STRICT.genesis_header + raw, None, REGTEST_STRICT)
    assert full == tip
    assert full.height == 40
    assert full.hash == Header.parse(raw[-80:]).hash
    assert full.chainwork == 41 * 2  # regtest: 2 expected hashes per block, genesis included
    only_genesis = validate_headers(REGTEST_STRICT.genesis_header, None, REGTEST_STRICT)
    assert only_genesis == ChainState.genesis(REGTEST_STRICT)


@pytest.mark.parametrize("split", range(0, 41, 3))
def test_two_batches_give_the_same_tip(
    chain40: tuple[bytes, ChainState], split: int
) -> None:
    raw, tip = chain40
    genesis = ChainState.genesis(REGTEST_STRICT)
    mid = validate_headers(raw[: split * 80], genesis)
    assert mid.height == split
    assert validate_headers(raw[split * 80 :], mid) == tip


def test_wrong_length_buffer(chain40: tuple[bytes, ChainState]) -> None:
    raw, _ = chain40
    genesis = ChainState.genesis(REGTEST_STRICT)
    with pytest.raises(HeaderFormatError):
        validate_headers(raw + b"\x00", genesis)
    with pytest.raises(HeaderFormatError):
        validate_headers(raw[:-1], genesis)
    with pytest.raises(HeaderFormatError, match="header 2"):
        validate_headers([raw[:80], raw[80:160], raw[160:239]], genesis)
    with pytest.raises(HeaderFormatError):
        validate_headers(b"", None, REGTEST_STRICT)
    assert validate_headers(b"", genesis) == genesis


def test_wrong_genesis_is_refused(chain40: tuple[bytes, ChainState]) -> None:
    raw, _ = chain40
    # mainnet's genesis block offered as the start of a regtest chain
    with pytest.raises(BadLinkError) as exc:
        validate_headers(MAINNET.genesis_header + raw, None, REGTEST_STRICT)
    assert exc.value.height == 0 and exc.value.accepted == 0
    # a tampered regtest genesis (nonce changed)
    tampered = REGTEST_STRICT.genesis_header[:76] + b"\x03\x00\x00\x00"
    with pytest.raises(BadLinkError):
        validate_headers(tampered, None, REGTEST_STRICT)
    # no genesis at all: the first mined header is not a genesis block
    with pytest.raises(BadLinkError):
        validate_headers(raw, None, REGTEST_STRICT)
    # and the default parameters are mainnet's
    with pytest.raises(BadLinkError):
        validate_headers(REGTEST_STRICT.genesis_header + raw)


def test_accepted_counts_the_genesis_header(chain40: tuple[bytes, ChainState]) -> None:
    raw, _ = chain40
    bad = raw[: 20 * 80] + raw[21 * 80 :]  # block 21 missing: block 22 does not link
    with pytest.raises(BadLinkError) as exc:
        validate_headers(REGTEST_STRICT.genesis_header + bad, None, REGTEST_STRICT)
    assert exc.value.height == 21
    assert exc.value.accepted == 21  # genesis + blocks 1..20
    with pytest.raises(BadLinkError) as exc:
        validate_headers(bad, ChainState.genesis(REGTEST_STRICT))
    assert exc.value.height == 21
    assert exc.value.accepted == 20


def test_competing_fork(chain40: tuple[bytes, ChainState]) -> None:
    raw_a, tip_a = chain40
    genesis = ChainState.genesis(REGTEST_STRICT)
    fork_point = validate_headers(raw_a[: 10 * 80], genesis)
    raw_b, tip_b = build_chain(35, REGTEST_STRICT, tip=fork_point, seed=8, tag=b"fork-b")
    assert raw_b[:80] != raw_a[10 * 80 : 11 * 80]
    assert tip_b.height == 45 and tip_b.hash != tip_a.hash
    # B is valid from the fork point, and from genesis through A's first 10 blocks
    assert validate_headers(raw_b, fork_point) == tip_b
    assert validate_headers(raw_a[: 10 * 80] + raw_b, genesis) == tip_b
    # more blocks at equal difficulty: more work
    assert tip_b.chainwork is not None and tip_a.chainwork is not None
    assert tip_b.chainwork - tip_a.chainwork == 5 * block_proof(REGTEST_STRICT.pow_limit_bits)
    # B does not extend A's tip, nor A's 20th block
    with pytest.raises(BadLinkError) as exc:
        validate_headers(raw_b, tip_a)
    assert exc.value.height == 41 and exc.value.accepted == 0
    with pytest.raises(BadLinkError) as exc:
        validate_headers(raw_a[: 20 * 80] + raw_b, genesis)
    assert exc.value.height == 21 and exc.value.accepted == 20
    # the same tag and seed from the same tip mine the same chain; another tag does not
    again, _ = build_chain(35, REGTEST_STRICT, tip=fork_point, seed=8, tag=b"fork-b")
    assert again == raw_b


def test_regtest_strict_never_retargets() -> None:
    # 2100 blocks cross the retarget at 2016 with bits unchanged (fPowNoRetargeting)
    raw, tip = build_chain(2100, REGTEST_STRICT, spacing_s=60.0, seed=1)
    assert tip.height == 2100
    assert {Header.parse(raw[k : k + 80]).bits for k in range(0, len(raw), 80)} == {0x207FFFFF}
    # changing bits at the retarget height is refused
    i = 2015  # height 2016
    bad = raw[: i * 80 + 72] + struct.pack("<I", 0x2000FFFF) + raw[i * 80 + 76 :]
    with pytest.raises(BadBitsError) as exc:
        validate_headers(bad, ChainState.genesis(REGTEST_STRICT))
    assert exc.value.height == 2016


# ---------------------------------------------------------------------------------------------
# Small chains with real retargets (interval 16) and testnet's min-difficulty rule
# ---------------------------------------------------------------------------------------------
# pow_limit below 2**256 / (4 * timespan), as Core's sanity_check_chainparams demands when
# retargeting is on (pow_tests.cpp); 4-second blocks, 16-block periods; 20-min rule = 8 s.
_LIMIT = (1 << 247) - 1  # bits 0x1f7fffff
_NORMAL = 0x1F3FFFFF  # twice as hard as the limit
_T0 = 1_600_000_000


def _tiny(name: str, genesis_bits: int, allow_min_difficulty: bool) -> Params:
    genesis = mine_header(b"\0" * 32, b"\x42" * 32, _T0, genesis_bits, version=1)
    p = Params(
        name=name, pow_limit=_LIMIT, genesis_header=genesis, pow_target_spacing=4,
        pow_target_timespan=64, allow_min_difficulty=allow_min_difficulty,
    )
    assert p.interval == 16 and p.pow_limit_bits == 0x1F7FFFFF
    assert p.pow_limit < ((1 << 256) - 1) // (p.pow_target_timespan * 4)
    return p


@pytest.fixture(scope="module")
def tiny_mainnet() -> Params:
    return _tiny("tiny-mainnet", 0x1F7FFFFF, allow_min_difficulty=False)


@pytest.fixture(scope="module")
def tiny_testnet() -> Params:
    return _tiny("tiny-testnet", _NORMAL, allow_min_difficulty=True)


def test_retargeting_chain_in_batches(tiny_mainnet: Params) -> None:
    raw, tip = build_chain(80, tiny_mainnet, spacing_s=3.0, seed=5)
    headers = [Header.parse(raw[k : k + 80]) for k in range(0, len(raw), 80)]
    bits = [h.bits for h in headers]
    # bits change only at multiples of 16, and do change
    for height in range(2, 81):
        if height % 16:
            assert bits[height - 1] == bits[height - 2], height
    assert len(set(bits)) >= 4
    genesis = ChainState.genesis(tiny_mainnet)
    assert validate_headers(raw, genesis) == tip
    for split in (15, 16, 17, 31, 32, 47, 63, 64, 79):
        mid = validate_headers(raw[: split * 80], genesis)
        assert validate_headers(raw[split * 80 :], mid) == tip, split
    # a wrong value at a retarget, even one within the factor-4 bounds, is refused
    i = 31  # height 32
    assert permitted_difficulty_transition(32, bits[30], bits[31] + 1, tiny_mainnet)
    bad = raw[: i * 80 + 72] + struct.pack("<I", bits[31] + 1) + raw[i * 80 + 76 :]
    with pytest.raises(BadBitsError) as exc:
        validate_headers(bad, genesis)
    assert exc.value.height == 32 and exc.value.accepted == 31


def test_checkpoint_without_epoch_start_checks_bounds_only(tiny_mainnet: Params) -> None:
    raw, _ = build_chain(40, tiny_mainnet, spacing_s=3.0, seed=6)
    # a checkpoint in the middle of a period, without the period's start time
    mid = ChainState.checkpoint(raw[19 * 80 : 20 * 80], 20, tiny_mainnet)
    assert mid.epoch_start_time is None
    rest = raw[20 * 80 :]
    assert validate_headers(rest, mid).height == 40
    i = 32 - 21  # height 32 (retarget) within the rest
    real = Header.parse(rest[i * 80 : i * 80 + 80]).bits
    old = Header.parse(rest[(i - 1) * 80 : i * 80]).bits

    def with_bits(b: int) -> bytes:
        return rest[: i * 80 + 72] + struct.pack("<I", b) + rest[i * 80 + 76 :]

    # within bounds: only the (changed) hash is caught, not the bits
    with pytest.raises(BadPowError):
        validate_headers(with_bits(real + 1), mid)
    too_hard = target_to_compact(compact_to_target(old)[0] // 5)
    assert not permitted_difficulty_transition(32, old, too_hard, tiny_mainnet)
    with pytest.raises(BadBitsError) as exc:
        validate_headers(with_bits(too_hard), mid)
    assert exc.value.height == 32


def _mine_sequence(params: Params, steps: list[tuple[int, int]]) -> bytes:
    """Headers after the genesis of ``params``: each step is (seconds after parent, bits)."""
    prev = Header.parse(params.genesis_header)
    prev_hash, t = prev.hash, prev.time
    out = b""
    for k, (gap, bits) in enumerate(steps):
        t += gap
        raw = mine_header(prev_hash, k.to_bytes(32, "little"), t, bits)
        out += raw
        prev_hash = Header.parse(raw).hash
    return out


def test_testnet_min_difficulty_rule_in_validation(tiny_testnet: Params) -> None:
    lim, normal = 0x1F7FFFFF, _NORMAL
    genesis = ChainState.genesis(tiny_testnet)
    # a late block (gap > 8 s) carries pow_limit bits; the next quick one returns to normal
    ok = _mine_sequence(tiny_testnet, [(4, normal), (9, lim), (4, normal), (4, normal)])
    tip = validate_headers(ok, genesis)
    assert tip.height == 4 and tip.last_normal_bits == normal
    cases = {
        # a quick block after a min-difficulty block must use the last normal bits
        "quick after min": [(4, normal), (9, lim), (4, lim)],
        # exactly 2 * spacing is not late
        "not late enough": [(4, normal), (8, lim)],
        # a late block must use the limit (Core requires nBits == GetNextWorkRequired)
        "late with normal bits": [(4, normal), (9, normal)],
        # the walk back passes several min-difficulty blocks
        "walk back two": [(9, lim), (9, lim), (3, lim)],
    }
    for name, steps in cases.items():
        with pytest.raises(BadBitsError) as exc:
            validate_headers(_mine_sequence(tiny_testnet, steps), genesis)
        assert exc.value.height == len(steps), name
    fine = _mine_sequence(tiny_testnet, [(9, lim), (9, lim), (3, normal)])
    state = validate_headers(fine, genesis)
    assert state.last_normal_bits == normal
    # continuing in a second batch keeps the remembered normal bits
    mid = validate_headers(ok[: 2 * 80], genesis)
    assert mid.bits == lim and mid.last_normal_bits == normal
    assert validate_headers(ok[2 * 80 :], mid) == tip


def test_testnet_walk_back_stops_at_period_start(tiny_testnet: Params) -> None:
    # Slow first period: every block is late, so blocks 1..15 carry the limit; the retarget
    # at 16 starts from the limit bits of block 15 (testnet3's known reset), stays at the
    # limit, and block 16 is then the "normal" block the walk-back stops at.
    lim = 0x1F7FFFFF
    steps = [(20, lim)] * 15
    t_first = _T0  # the genesis block starts period 0
    t_last = _T0 + 20 * 15
    at16 = retarget(lim, t_first, t_last, tiny_testnet)
    assert at16 == lim
    steps.append((3, at16))
    good = _mine_sequence(tiny_testnet, steps + [(3, lim)])
    tip = validate_headers(good, ChainState.genesis(tiny_testnet))
    assert tip.height == 17 and tip.last_normal_bits == lim
    bad = _mine_sequence(tiny_testnet, steps + [(3, _NORMAL)])
    with pytest.raises(BadBitsError) as exc:
        validate_headers(bad, ChainState.genesis(tiny_testnet))
    assert exc.value.height == 17


def test_build_chain_handles_min_difficulty_blocks(tiny_testnet: Params) -> None:
    # build_chain must walk back to the last normal bits after a min-difficulty block.
    raw, tip = build_chain(48, tiny_testnet, spacing_s=4.0, seed=2)
    bits = [Header.parse(raw[k : k + 80]).bits for k in range(0, len(raw), 80)]
    times = [_time(raw[k : k + 80]) for k in range(0, len(raw), 80)]
    assert tip.height == 48
    lim = tiny_testnet.pow_limit_bits
    # the chain really has a quick block after a min-difficulty block at a non-retarget height
    quick_after_min = [
        i for i in range(1, 48)
        if bits[i - 1] == lim and times[i] - times[i - 1] <= 8 and (i + 1) % 16 != 0
    ]
    assert quick_after_min
    for i in quick_after_min:
        # Core's walk back: the last block at a period start or without the limit bits
        j = i - 1
        while j >= 0 and (j + 1) % 16 != 0 and bits[j] == lim:
            j -= 1
        expected = bits[j] if j >= 0 else _NORMAL
        assert bits[i] == expected
    assert any(bits[i] != lim for i in quick_after_min)
    assert validate_headers(raw, ChainState.genesis(tiny_testnet)) == tip


def test_vectorised_proof_of_work_is_the_integer_comparison() -> None:
    """The proof-of-work check compares each hash with its target as four 64-bit words: on
    random hashes, hashes equal to the target, one above and one below it in each word, and
    invalid bits, the same verdict as Python's integer comparison."""
    import numpy as np

    from hashshift.consensus import MAINNET, _above_target, compact_to_target

    rng = np.random.default_rng(16)
    bits = [0x1D00FFFF, 0x170FFA1E, 0x1B0404CB, 0x1A05DB8B, 0x207FFFFF, 0x04923456,
            0x01003456, 0x1D80FFFF, 0x22000001]  # the last three: zero, negative, overflow
    hashes, row_bits = [], []
    for b in bits:
        target, _, _ = compact_to_target(b)
        cands = [int.from_bytes(rng.bytes(32), "big") >> int(rng.integers(0, 256))
                 for _ in range(200)]
        cands += [target, target + 1, max(target - 1, 0)]
        cands += [target ^ (1 << int(k)) for k in rng.integers(0, 256, 40)]
        for c in cands:
            c %= 1 << 256
            hashes.append(c.to_bytes(32, "little"))
            row_bits.append(b)
    got = set(_above_target(b"".join(hashes), np.array(row_bits), MAINNET.pow_limit).tolist())
    want = set()
    for i, (h, b) in enumerate(zip(hashes, row_bits, strict=True)):
        target, neg, ovf = compact_to_target(b)
        if neg or ovf or target == 0 or target > MAINNET.pow_limit:
            want.add(i)
        elif int.from_bytes(h, "little") > target:
            want.add(i)
    assert got == want
    assert 0 < len(want) < len(hashes)
