"""Property tests of the consensus arithmetic (hypothesis, bounded example counts)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hashshift.consensus import (
    MAINNET,
    Header,
    block_proof,
    block_subsidy,
    compact_to_target,
    double_sha256,
    issued_supply,
    next_work_required,
    permitted_difficulty_transition,
    retarget,
    target_to_compact,
)

FAST = settings(max_examples=300, deadline=None)
SLOW = settings(max_examples=150, deadline=None)

TIMESPAN = MAINNET.pow_target_timespan  # 1 209 600 s
INTERVAL = MAINNET.interval  # 2016


def _bit_length_spread(lo_bits: int, hi_bits: int) -> st.SearchStrategy[int]:
    """Positive integers whose bit length is spread evenly over [lo_bits, hi_bits]."""
    return st.integers(lo_bits, hi_bits).flatmap(
        lambda b: st.integers(1 << (b - 1), (1 << b) - 1)
    )


targets_256 = _bit_length_spread(1, 256)
# Realistic mainnet targets: from very hard (2**32) to pow_limit.
mainnet_targets = _bit_length_spread(33, 224).filter(lambda t: t <= MAINNET.pow_limit)


# ---------------------------------------------------------------------------------------------
# Compact encoding (arith_uint256::SetCompact / GetCompact)
# ---------------------------------------------------------------------------------------------
@FAST
@given(size=st.integers(3, 32), mantissa=st.integers(0x8000, 0x7FFFFF))
def test_canonical_compact_round_trip(size: int, mantissa: int) -> None:
    # size >= 3 with a mantissa whose top 9 bits are not all zero and sign bit clear: canonical
    bits = (size << 24) | mantissa
    target, negative, overflow = compact_to_target(bits)
    assert not negative and not overflow and target > 0
    assert target_to_compact(target) == bits
    # with the sign bit set: same magnitude, negative, and GetCompact(true) gives it back
    t2, neg2, ovf2 = compact_to_target(bits | 0x00800000)
    assert (t2, neg2, ovf2) == (target, True, False)
    assert target_to_compact(target, negative=True) == bits | 0x00800000


@FAST
@given(target=targets_256)
def test_get_compact_output_is_canonical(target: int) -> None:
    bits = target_to_compact(target)
    decoded, negative, overflow = compact_to_target(bits)
    assert not negative and not overflow
    assert bits & 0x00800000 == 0
    # GetCompact(SetCompact(x)) == x for x = GetCompact(anything)
    assert target_to_compact(decoded) == bits


@FAST
@given(bits=st.integers(0, 0xFFFFFFFF))
def test_set_compact_then_get_compact_is_stable(bits: int) -> None:
    # Any 32-bit value that does not overflow decodes to something GetCompact encodes exactly.
    target, negative, overflow = compact_to_target(bits)
    assert 0 <= target < 1 << 256
    if overflow:
        return
    again = target_to_compact(target, negative=negative)
    assert compact_to_target(again) == (target, negative, False)
    if target == 0:
        assert again == 0 and not negative


@FAST
@given(target=targets_256)
def test_compact_rounds_down_to_mantissa(target: int) -> None:
    bits = target_to_compact(target)
    decoded = compact_to_target(bits)[0]
    assert decoded <= target
    size = bits >> 24
    shift = 8 * max(0, size - 3)
    # decoded is the target truncated to the 3 bytes of the mantissa (base 256, the first of
    # which is 0x00 when the top byte would set the sign bit), rounding down
    assert decoded == (target >> shift) << shift
    assert target >> shift <= 0x7FFFFF
    if size > 3:
        # the size is the smallest that fits: one byte less would not
        assert target >> (shift - 8) > 0x7FFFFF
        # relative error below 2**-15 (the mantissa is at least 0x8000)
        assert (target - decoded) << 15 < target
    else:
        assert decoded == target


# ---------------------------------------------------------------------------------------------
# Retargeting (pow.cpp)
# ---------------------------------------------------------------------------------------------
def _bounds(old_bits: int) -> tuple[int, int]:
    """Smallest and largest targets a retarget from ``old_bits`` may give (after rounding)."""
    old = compact_to_target(old_bits)[0]
    lo = target_to_compact(old * (TIMESPAN // 4) // TIMESPAN)
    hi = target_to_compact(min(old * (TIMESPAN * 4) // TIMESPAN, MAINNET.pow_limit))
    return compact_to_target(lo)[0], compact_to_target(hi)[0]


@SLOW
@given(
    old_target=mainnet_targets,
    span=st.integers(-10_000_000, 100_000_000),
    epoch=st.integers(1, 1000),
    t0=st.integers(1_231_006_505, 2_000_000_000),
)
def test_retarget_within_factor_four(old_target: int, span: int, epoch: int, t0: int) -> None:
    old_bits = target_to_compact(old_target)
    height = epoch * INTERVAL
    new_bits = next_work_required(height - 1, old_bits, t0 + span, t0, MAINNET)
    assert new_bits == retarget(old_bits, t0, t0 + span, MAINNET)
    new = compact_to_target(new_bits)[0]
    lo, hi = _bounds(old_bits)
    assert lo <= new <= hi
    assert new <= MAINNET.pow_limit
    # what GetNextWorkRequired produces is always a permitted transition ...
    assert permitted_difficulty_transition(height, old_bits, new_bits, MAINNET)
    # ... and at the next (non-retarget) height only unchanged bits are
    assert permitted_difficulty_transition(height + 1, new_bits, new_bits, MAINNET)
    if new_bits != old_bits:
        assert not permitted_difficulty_transition(height + 1, old_bits, new_bits, MAINNET)
    # clamped timespans give exactly the bounds
    if span <= TIMESPAN // 4:
        assert new == lo
    if span >= TIMESPAN * 4:
        assert new == hi


@SLOW
@given(
    old_target=mainnet_targets,
    spans=st.tuples(st.integers(0, 6_000_000), st.integers(0, 6_000_000)),
)
def test_retarget_monotone_in_timespan(old_target: int, spans: tuple[int, int]) -> None:
    old_bits = target_to_compact(old_target)
    a, b = sorted(spans)
    t0 = 1_500_000_000
    new_a = compact_to_target(retarget(old_bits, t0, t0 + a, MAINNET))[0]
    new_b = compact_to_target(retarget(old_bits, t0, t0 + b, MAINNET))[0]
    assert new_a <= new_b


@SLOW
@given(
    old_target=mainnet_targets,
    candidate=st.one_of(
        mainnet_targets,
        st.tuples(st.sampled_from(["lo", "hi"]), st.integers(-3, 3)),
    ),
)
def test_permitted_transition_agrees_with_next_work_required(
    old_target: int, candidate: int | tuple[str, int]
) -> None:
    # PermittedDifficultyTransition's bounds are exactly the extremes GetNextWorkRequired can
    # reach with the fastest and slowest possible periods.
    old_bits = target_to_compact(old_target)
    t0 = 1_500_000_000
    fastest = next_work_required(2015, old_bits, t0 - 10**6, t0, MAINNET)
    slowest = next_work_required(2015, old_bits, t0 + 10**8, t0, MAINNET)
    lo, hi = compact_to_target(fastest)[0], compact_to_target(slowest)[0]
    assert (lo, hi) == _bounds(old_bits)
    if isinstance(candidate, tuple):
        which, step = candidate
        cand_bits = (fastest if which == "lo" else slowest) + step
    else:
        cand_bits = target_to_compact(candidate)
    cand = compact_to_target(cand_bits)[0]
    expected = lo <= cand <= hi
    assert permitted_difficulty_transition(2016, old_bits, cand_bits, MAINNET) is expected


@FAST
@given(target=mainnet_targets, factor=st.integers(2, 1000))
def test_block_proof_decreases_with_target(target: int, factor: int) -> None:
    easy, hard = target, max(1, target // factor)
    assert block_proof(hard, is_bits=False) >= block_proof(easy, is_bits=False)
    assert block_proof(target, is_bits=False) == (1 << 256) // (target + 1)


# ---------------------------------------------------------------------------------------------
# Subsidy
# ---------------------------------------------------------------------------------------------
@FAST
@given(height=st.integers(1, 20_000_000))
def test_issued_supply_increment_is_subsidy(height: int) -> None:
    assert issued_supply(height) - issued_supply(height - 1) == block_subsidy(height)
    assert block_subsidy(height) <= block_subsidy(height - 1)


# ---------------------------------------------------------------------------------------------
# Headers
# ---------------------------------------------------------------------------------------------
@FAST
@given(raw=st.binary(min_size=80, max_size=80))
def test_header_round_trip(raw: bytes) -> None:
    h = Header.parse(raw)
    assert h.serialize() == raw
    assert Header.parse(raw.hex()) == h
    assert Header.parse(raw.hex().upper()) == h
    assert h.hash == double_sha256(raw)
    assert h.hash_hex == double_sha256(raw)[::-1].hex()
    assert h.prev_hash == raw[4:36]
    assert h.merkle_root == raw[36:68]
    assert int.from_bytes(raw[72:76], "little") == h.bits
