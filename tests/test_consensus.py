"""Consensus arithmetic against Bitcoin Core's own test vectors and known chain facts.

Vectors are quoted from Bitcoin Core's unit tests (the file is named at each test):
``src/test/arith_uint256_tests.cpp`` (``bignum_SetCompact``) and ``src/test/pow_tests.cpp``.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose

from hashshift.consensus import (
    COIN,
    DIFF1_TARGET,
    MAINNET,
    REGTEST,
    TESTNET3,
    CompactDecodeError,
    Header,
    HeaderFormatError,
    Params,
    bits_to_difficulty,
    block_proof,
    block_subsidy,
    chainwork,
    check_proof_of_work,
    compact_to_target,
    difficulty_to_target,
    double_sha256,
    issued_supply,
    median_time_past,
    next_work_required,
    permitted_difficulty_transition,
    retarget,
    target_from_bits,
    target_to_compact,
    target_to_difficulty,
)

MASK256 = (1 << 256) - 1


# ---------------------------------------------------------------------------------------------
# arith_uint256 SetCompact / GetCompact
# ---------------------------------------------------------------------------------------------
# src/test/arith_uint256_tests.cpp, BOOST_AUTO_TEST_CASE(bignum_SetCompact): each of these
# decodes to 0, re-encodes as compact 0, and is neither negative nor overflowing.
ZERO_COMPACTS = [
    0, 0x00123456, 0x01003456, 0x02000056, 0x03000000, 0x04000000,
    0x00923456, 0x01803456, 0x02800056, 0x03800000, 0x04800000,
]


@pytest.mark.parametrize("bits", ZERO_COMPACTS, ids=[f"0x{b:08x}" for b in ZERO_COMPACTS])
def test_set_compact_zero_vectors(bits: int) -> None:
    # arith_uint256_tests.cpp bignum_SetCompact
    target, negative, overflow = compact_to_target(bits)
    assert target == 0
    assert negative is False
    assert overflow is False
    assert target_to_compact(target) == 0


# (nCompact, GetHex() of the value, GetCompact(fNegative) expected, fNegative, fOverflow)
# all from arith_uint256_tests.cpp bignum_SetCompact
NONZERO_VECTORS = [
    (0x01123456, 0x12, 0x01120000, False, False),
    (0x01FEDCBA, 0x7E, 0x01FE0000, True, False),
    (0x02123456, 0x1234, 0x02123400, False, False),
    (0x03123456, 0x123456, 0x03123456, False, False),
    (0x04123456, 0x12345600, 0x04123456, False, False),
    (0x04923456, 0x12345600, 0x04923456, True, False),
    (0x05009234, 0x92340000, 0x05009234, False, False),
    (
        0x20123456,
        0x1234560000000000000000000000000000000000000000000000000000000000,
        0x20123456,
        False,
        False,
    ),
]


@pytest.mark.parametrize(
    "bits, value, compact, negative, overflow",
    NONZERO_VECTORS,
    ids=[f"0x{v[0]:08x}" for v in NONZERO_VECTORS],
)
def test_set_compact_vectors(
    bits: int, value: int, compact: int, negative: bool, overflow: bool
) -> None:
    # arith_uint256_tests.cpp bignum_SetCompact
    target, neg, ovf = compact_to_target(bits)
    assert target == value
    assert neg is negative
    assert ovf is overflow
    # Core calls GetCompact(true) exactly for the negative vectors, GetCompact() otherwise.
    assert target_to_compact(target, negative=negative) == compact


def test_get_compact_never_sets_sign_bit() -> None:
    # arith_uint256_tests.cpp: "Make sure that we don't generate compacts with the 0x00800000
    # bit set": num = 0x80 -> GetCompact() == 0x02008000
    assert target_to_compact(0x80) == 0x02008000
    assert compact_to_target(0x02008000) == (0x80, False, False)


def test_set_compact_overflow_vector() -> None:
    # arith_uint256_tests.cpp bignum_SetCompact: 0xff123456 -> fNegative false, fOverflow true
    _, negative, overflow = compact_to_target(0xFF123456)
    assert negative is False
    assert overflow is True


@pytest.mark.parametrize(
    "bits, overflow",
    [
        # The three overflow conditions of SetCompact (arith_uint256.cpp) at their edges.
        (0x22000001, False),  # size 34, word <= 0xff: fits
        (0x23000001, True),  # size 35 > 34
        (0x210000FF, False),  # size 33, word <= 0xff
        (0x22000100, True),  # size 34, word > 0xff
        (0x2000FFFF, False),  # size 32, word <= 0xffff
        (0x21010000, True),  # size 33, word > 0xffff
        (0x23000000, False),  # zero mantissa never overflows
    ],
)
def test_set_compact_overflow_edges(bits: int, overflow: bool) -> None:
    assert compact_to_target(bits)[2] is overflow


def test_compact_rejects_out_of_range_inputs() -> None:
    with pytest.raises(ValueError):
        compact_to_target(-1)
    with pytest.raises(ValueError):
        compact_to_target(1 << 32)
    with pytest.raises(ValueError):
        target_to_compact(1 << 256)
    with pytest.raises(ValueError):
        target_to_compact(-5)


@pytest.mark.parametrize("bits", [0, 0x04923456, 0xFF123456, 0x01003456])
def test_target_from_bits_refuses_invalid(bits: int) -> None:
    with pytest.raises(CompactDecodeError):
        target_from_bits(bits)


def test_target_from_bits_valid() -> None:
    assert target_from_bits(0x1D00FFFF) == DIFF1_TARGET == 0xFFFF * 2**208


# ---------------------------------------------------------------------------------------------
# Retargeting: src/test/pow_tests.cpp
# ---------------------------------------------------------------------------------------------
# (nLastRetargetTime, pindexLast.nHeight, pindexLast.nTime, pindexLast.nBits, expected_nbits)
POW_VECTORS = {
    # get_next_work: no constraint applies (block #30240 .. #32255)
    "get_next_work": (1261130161, 32255, 1262152739, 0x1D00FFFF, 0x1D00D86A),
    # get_next_work_pow_limit: capped at powLimit (block #0 .. #2015)
    "get_next_work_pow_limit": (1231006505, 2015, 1233061996, 0x1D00FFFF, 0x1D00FFFF),
    # get_next_work_lower_limit_actual: timespan clamped at 1/4 (block #66528 .. #68543)
    "get_next_work_lower_limit_actual": (1279008237, 68543, 1279297671, 0x1C05A3F4, 0x1C0168FD),
    # get_next_work_upper_limit_actual: timespan clamped at 4x (first time not a real block)
    "get_next_work_upper_limit_actual": (1263163443, 46367, 1269211443, 0x1C387F6F, 0x1D00E1FD),
}


@pytest.mark.parametrize("name", list(POW_VECTORS))
def test_pow_tests_next_work(name: str) -> None:
    # pow_tests.cpp: CalculateNextWorkRequired(&pindexLast, nLastRetargetTime) == expected_nbits
    # and PermittedDifficultyTransition(params, nHeight+1, nBits, expected_nbits)
    first_time, height, last_time, bits, expected = POW_VECTORS[name]
    assert retarget(bits, first_time, last_time, MAINNET) == expected
    assert next_work_required(height, bits, last_time, first_time, MAINNET) == expected
    assert permitted_difficulty_transition(height + 1, bits, expected, MAINNET)


def test_pow_tests_lower_limit_is_the_edge() -> None:
    # pow_tests.cpp get_next_work_lower_limit_actual: "reducing nbits further would not be a
    # PermittedDifficultyTransition": expected_nbits - 1 is refused
    first_time, height, last_time, bits, expected = POW_VECTORS["get_next_work_lower_limit_actual"]
    assert not permitted_difficulty_transition(height + 1, bits, expected - 1, MAINNET)
    # the timespan really was below the clamp (289434 s < 302400 s)
    assert last_time - first_time < MAINNET.pow_target_timespan // 4


def test_pow_tests_upper_limit_is_the_edge() -> None:
    # pow_tests.cpp get_next_work_upper_limit_actual: expected_nbits + 1 is refused
    first_time, height, last_time, bits, expected = POW_VECTORS["get_next_work_upper_limit_actual"]
    assert not permitted_difficulty_transition(height + 1, bits, expected + 1, MAINNET)
    assert last_time - first_time > MAINNET.pow_target_timespan * 4


def test_retarget_clamps_extreme_timespans() -> None:
    # Any timespan beyond the clamp gives the same bits as the clamp itself (pow.cpp).
    bits = 0x1C05A3F4
    t0 = 1_279_008_237
    quarter = MAINNET.pow_target_timespan // 4
    assert retarget(bits, t0, t0 + quarter, MAINNET) == retarget(bits, t0, t0 - 10**6, MAINNET)
    assert retarget(bits, t0, t0 + 4 * 1209600, MAINNET) == retarget(bits, t0, t0 + 10**9, MAINNET)
    # An exact two-week period keeps the bits.
    assert retarget(bits, t0, t0 + 1209600, MAINNET) == bits


def test_next_work_required_needs_first_block_time_at_retarget() -> None:
    with pytest.raises(ValueError, match="first_block_time"):
        next_work_required(2015, 0x1D00FFFF, 1233061996, None, MAINNET)


def test_bits_may_not_change_between_retargets() -> None:
    # pow.cpp GetNextWorkRequired / PermittedDifficultyTransition: only at multiples of 2016
    assert next_work_required(32256, 0x1D00D86A, 1262152739 + 600, None, MAINNET) == 0x1D00D86A
    assert permitted_difficulty_transition(32257, 0x1D00D86A, 0x1D00D86A, MAINNET)
    assert not permitted_difficulty_transition(32257, 0x1D00D86A, 0x1D00D86B, MAINNET)
    assert not permitted_difficulty_transition(32257, 0x1D00D86A, 0x1D00FFFF, MAINNET)
    # The same change is fine one block earlier, at the retarget height 32256.
    assert permitted_difficulty_transition(32256, 0x1D00FFFF, 0x1D00D86A, MAINNET)


def test_permitted_transition_refuses_more_than_factor_four() -> None:
    old = 0x1C05A3F4
    old_t = compact_to_target(old)[0]
    too_easy = target_to_compact(old_t * 5)
    too_hard = target_to_compact(old_t // 5)
    assert not permitted_difficulty_transition(68544, old, too_easy, MAINNET)
    assert not permitted_difficulty_transition(68544, old, too_hard, MAINNET)
    assert permitted_difficulty_transition(68544, old, target_to_compact(old_t * 3), MAINNET)
    assert permitted_difficulty_transition(68544, old, target_to_compact(old_t // 3), MAINNET)


# Testnet3's 20-minute rule (pow.cpp GetNextWorkRequired, fPowAllowMinDifficultyBlocks)
def test_testnet_min_difficulty_after_20_minutes() -> None:
    last_time = 1_600_000_000
    hard = 0x1A01F3F8
    # more than 2 * nPowTargetSpacing = 1200 s after its parent: pow_limit bits allowed
    got = next_work_required(100, hard, last_time, None, TESTNET3, new_block_time=last_time + 1201)
    assert got == TESTNET3.pow_limit_bits == 0x1D00FFFF
    # exactly 1200 s is not enough
    got = next_work_required(100, hard, last_time, None, TESTNET3, new_block_time=last_time + 1200)
    assert got == hard
    # mainnet has no such rule
    got = next_work_required(100, hard, last_time, None, MAINNET, new_block_time=last_time + 10**6)
    assert got == hard


def test_testnet_returns_last_non_min_difficulty_bits() -> None:
    # After a min-difficulty block, a block within 20 min needs the bits of the last block
    # that was not a min-difficulty block (Core walks back through pprev).
    last_time = 1_600_000_000
    got = next_work_required(
        101, 0x1D00FFFF, last_time, None, TESTNET3,
        new_block_time=last_time + 600, last_normal_bits=0x1A01F3F8,
    )
    assert got == 0x1A01F3F8
    # ... and more than 20 min after it, min difficulty again
    got = next_work_required(
        101, 0x1D00FFFF, last_time, None, TESTNET3,
        new_block_time=last_time + 1201, last_normal_bits=0x1A01F3F8,
    )
    assert got == 0x1D00FFFF


def test_testnet_rule_does_not_apply_at_retarget_height() -> None:
    # At a multiple of 2016 the ordinary retarget applies even to a late block.
    last_time = 1_600_000_000
    first = last_time - 1209600 // 2  # half the target timespan -> target halves
    got = next_work_required(
        2015, 0x1B0404CB, last_time, first, TESTNET3, new_block_time=last_time + 10**6
    )
    assert got == retarget(0x1B0404CB, first, last_time, TESTNET3)
    assert got == target_to_compact(compact_to_target(0x1B0404CB)[0] // 2) != 0x1B0404CB


def test_testnet_permits_any_transition() -> None:
    # PermittedDifficultyTransition returns true whenever fPowAllowMinDifficultyBlocks
    assert permitted_difficulty_transition(100, 0x1A01F3F8, 0x1D00FFFF, TESTNET3)
    assert permitted_difficulty_transition(2016, 0x1A01F3F8, 0x1D00FFFF, TESTNET3)
    assert permitted_difficulty_transition(2016, 0x1D00FFFF, 0x1A01F3F8, REGTEST)


def test_regtest_never_retargets() -> None:
    # fPowNoRetargeting: CalculateNextWorkRequired returns pindexLast->nBits
    t0 = 1_296_688_602
    for span in (1, 1209600, 10**8):
        assert retarget(0x207FFFFF, t0, t0 + span, REGTEST) == 0x207FFFFF
    assert next_work_required(2015, 0x207FFFFF, t0 + 1, t0, REGTEST) == 0x207FFFFF
    # the same inputs on mainnet rules would make it 4x harder
    assert retarget(0x207FFFFF, t0, t0 + 1, MAINNET) != 0x207FFFFF


# ---------------------------------------------------------------------------------------------
# CheckProofOfWork: src/test/pow_tests.cpp
# ---------------------------------------------------------------------------------------------
def _h(value: int) -> bytes:
    """uint256 of an integer, internal (little-endian) byte order."""
    return value.to_bytes(32, "little")


def test_check_pow_negative_target() -> None:
    # pow_tests.cpp CheckProofOfWork_test_negative_target
    bits = target_to_compact(MAINNET.pow_limit, negative=True)
    assert bits == 0x1D80FFFF
    assert not check_proof_of_work(_h(1), bits, MAINNET)


def test_check_pow_overflow_target() -> None:
    # pow_tests.cpp CheckProofOfWork_test_overflow_target: nBits{~0x00800000U}
    assert not check_proof_of_work(_h(1), ~0x00800000 & 0xFFFFFFFF, MAINNET)


def test_check_pow_too_easy_target() -> None:
    # pow_tests.cpp CheckProofOfWork_test_too_easy_target: powLimit * 2
    assert not check_proof_of_work(_h(1), target_to_compact(MAINNET.pow_limit * 2), MAINNET)


def test_check_pow_bigger_hash_than_target() -> None:
    # pow_tests.cpp CheckProofOfWork_test_biger_hash_than_target
    bits = target_to_compact(MAINNET.pow_limit)
    assert not check_proof_of_work(_h(MAINNET.pow_limit * 2), bits, MAINNET)
    # ... while a hash equal to the decoded target passes (<=, not <)
    assert check_proof_of_work(_h(compact_to_target(bits)[0]), bits, MAINNET)
    assert not check_proof_of_work(_h(compact_to_target(bits)[0] + 1), bits, MAINNET)


def test_check_pow_zero_target() -> None:
    # pow_tests.cpp CheckProofOfWork_test_zero_target
    assert not check_proof_of_work(_h(0), target_to_compact(0), MAINNET)


@pytest.mark.parametrize("params", [MAINNET, TESTNET3, REGTEST], ids=lambda p: p.name)
def test_chainparams_sanity(params: Params) -> None:
    # pow_tests.cpp sanity_check_chainparams
    assert params.pow_target_timespan % params.pow_target_spacing == 0
    assert params.interval == 2016
    genesis = Header.parse(params.genesis_header)
    target, negative, overflow = compact_to_target(genesis.bits)
    assert not negative and target != 0 and not overflow
    assert target <= params.pow_limit
    assert genesis.check_pow(params)
    if not params.no_retargeting:
        assert params.pow_limit < MASK256 // (params.pow_target_timespan * 4)


# ---------------------------------------------------------------------------------------------
# Difficulty and work
# ---------------------------------------------------------------------------------------------
def test_difficulty_one() -> None:
    # rpc/blockchain.cpp GetDifficulty: 0x1d00ffff is difficulty 1
    assert bits_to_difficulty(0x1D00FFFF) == 1.0
    assert target_to_difficulty(DIFF1_TARGET) == 1.0
    assert difficulty_to_target(1.0) == DIFF1_TARGET


@pytest.mark.parametrize(
    "bits, difficulty",
    [
        # ../shared/data/chain/difficulty_epochs_to_840236.csv (generated from Bitcoin Core)
        (0x170E1EF9, 19932791027262.74),  # blocks 687456..689471
        (0x1D00D86A, 1.182899534312841),  # blocks 32256..34271
        (0x1D00C428, 1.305062131591525),  # blocks 34272..36287
    ],
)
def test_difficulty_real_values(bits: int, difficulty: float) -> None:
    assert_allclose(bits_to_difficulty(bits), difficulty, rtol=1e-12)


def test_difficulty_matches_every_epoch_in_csv(shared: Any) -> None:
    path = shared.file("chain", "difficulty_epochs_to_840236.csv")
    rows = [line.split(",") for line in path.read_text().split()]
    assert len(rows) == 402
    got = np.array([bits_to_difficulty(int(r[2], 16)) for r in rows])
    want = np.array([float(r[3]) for r in rows])
    assert_allclose(got, want, rtol=1e-12)


def test_difficulty_to_target_inverts() -> None:
    t = compact_to_target(0x170E1EF9)[0]
    d = target_to_difficulty(t)
    # a float difficulty carries 53 bits: the target comes back to within 2**-52 relative
    assert abs(difficulty_to_target(d) - t) <= t >> 52
    with pytest.raises(ValueError):
        difficulty_to_target(0.0)
    with pytest.raises(ValueError):
        target_to_difficulty(0)


def test_block_proof_difficulty_one() -> None:
    # chain.cpp GetBlockProof: (~target / (target + 1)) + 1 == 2**256 // (target + 1)
    assert block_proof(0x1D00FFFF) == 2**256 // (0xFFFF * 2**208 + 1) == 4295032833
    assert block_proof(DIFF1_TARGET, is_bits=False) == 4295032833
    # Core's own formula, in 256-bit arithmetic
    t = DIFF1_TARGET
    assert ((~t & MASK256) // (t + 1)) + 1 == 4295032833


def test_block_proof_regtest_is_two() -> None:
    # regtest genesis (bits 0x207fffff): chainwork 0x02 per block
    assert block_proof(0x207FFFFF) == 2


@pytest.mark.parametrize("bits", [0, 0x04923456, 0xFF123456])
def test_block_proof_invalid_bits_is_zero(bits: int) -> None:
    # GetBlockProof: "if (fNegative || fOverflow || bnTarget == 0) return 0"
    assert block_proof(bits) == 0


def test_chainwork_sums() -> None:
    assert chainwork([]) == 0
    assert chainwork([0x1D00FFFF] * 2016) == 2016 * 4295032833
    mixed = [0x1D00FFFF] * 3 + [0x1D00D86A] * 2 + [0xFF123456]
    assert chainwork(mixed) == 3 * 4295032833 + 2 * block_proof(0x1D00D86A)
    assert block_proof(0x1D00D86A) > 4295032833  # harder target, more work
    assert chainwork([0x207FFFFF] * 201) == 402


# ---------------------------------------------------------------------------------------------
# Subsidy (validation.cpp GetBlockSubsidy)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "height, btc",
    [
        (0, 50.0), (209_999, 50.0), (210_000, 25.0), (419_999, 25.0), (420_000, 12.5),
        (630_000, 6.25), (840_000, 3.125), (1_050_000, 1.5625), (64 * 210_000, 0.0),
    ],
)
def test_block_subsidy(height: int, btc: float) -> None:
    assert block_subsidy(height) == round(btc * COIN)


def test_last_nonzero_subsidy() -> None:
    # 50 BTC >> 32 = 1 satoshi is the last non-zero subsidy (halving era 32)
    last = 33 * 210_000 - 1
    assert block_subsidy(last) == 1
    assert block_subsidy(last + 1) == 0
    assert block_subsidy(32 * 210_000 - 1) == 2
    assert all(block_subsidy(h) == 0 for h in (7_000_000, 64 * 210_000 - 1, 10**9))


def test_block_subsidy_regtest_halves_every_150() -> None:
    assert block_subsidy(149, REGTEST) == 50 * COIN
    assert block_subsidy(150, REGTEST) == 25 * COIN
    with pytest.raises(ValueError):
        block_subsidy(-1)


def test_issued_supply_known_heights() -> None:
    assert issued_supply(0) == 50 * COIN
    assert issued_supply(209_999) == 10_500_000 * COIN
    assert issued_supply(839_999) == 19_687_500 * COIN
    assert issued_supply(840_000) == 19_687_500 * COIN + 312_500_000
    # total supply limit 20,999,999.9769 BTC
    assert issued_supply(33 * 210_000 - 1) == 2_099_999_997_690_000
    assert issued_supply(64 * 210_000) == 2_099_999_997_690_000
    assert issued_supply(10**9) == 2_099_999_997_690_000
    with pytest.raises(ValueError):
        issued_supply(-1)


def test_issued_supply_equals_running_sum_of_subsidies() -> None:
    # regtest halves every 150 blocks, so the whole schedule (and beyond) is cheap to sum
    heights = np.arange(0, 150 * 70)
    subsidies = np.array([block_subsidy(int(h), REGTEST) for h in heights], dtype=np.int64)
    running = np.cumsum(subsidies)
    for h in (0, 1, 149, 150, 151, 4949, 4950, 150 * 33, 150 * 64, 150 * 70 - 1):
        assert issued_supply(h, REGTEST) == int(running[h])


# ---------------------------------------------------------------------------------------------
# Headers
# ---------------------------------------------------------------------------------------------
# kernel/chainparams.cpp CreateGenesisBlock(1231006505, 2083236893, 0x1d00ffff, 1, 50 * COIN)
MAINNET_GENESIS_HEX = (
    "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b2"
    "7ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c"
)


def test_mainnet_genesis_header_round_trip() -> None:
    raw = bytes.fromhex(MAINNET_GENESIS_HEX)
    assert MAINNET.genesis_header == raw
    h = Header.parse(raw)
    assert (h.version, h.time, h.bits, h.nonce) == (1, 1231006505, 0x1D00FFFF, 2083236893)
    assert h.prev_hash == b"\0" * 32
    assert h.merkle_root[::-1].hex() == (
        "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"
    )
    assert h.serialize() == raw
    assert Header.parse(MAINNET_GENESIS_HEX) == h
    assert h.hash_hex == "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
    assert h.hash == double_sha256(raw)
    assert h.prev_hash_hex == "00" * 32
    assert h.check_pow(MAINNET)


@pytest.mark.parametrize(
    "params, hash_hex",
    [
        # kernel/chainparams.cpp consensus.hashGenesisBlock asserts
        (MAINNET, "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"),
        (TESTNET3, "000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943"),
        (REGTEST, "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"),
    ],
    ids=["mainnet", "testnet3", "regtest"],
)
def test_genesis_hashes(params: Params, hash_hex: str) -> None:
    assert params.genesis_hash[::-1].hex() == hash_hex
    assert Header.parse(params.genesis_header).hash_hex == hash_hex


def test_mainnet_genesis_matches_real_header_file(shared: Any) -> None:
    raw = shared.file("chain", "ckb_epoch_boundary_headers", "0000000.bin").read_bytes()
    assert raw == MAINNET.genesis_header


def test_genesis_pow_fails_with_harder_bits() -> None:
    genesis_hash = MAINNET.genesis_hash  # ~43 leading zero bits
    assert check_proof_of_work(genesis_hash, 0x1C00FFFF, MAINNET)
    assert not check_proof_of_work(genesis_hash, 0x1B00FFFF, MAINNET)


@pytest.mark.parametrize("length", [0, 1, 79, 81, 160])
def test_header_bad_length(length: int) -> None:
    with pytest.raises(HeaderFormatError, match="80 bytes"):
        Header.parse(b"\x01" * length)


@pytest.mark.parametrize(
    "text",
    [
        "zz" * 80,  # not hex
        MAINNET_GENESIS_HEX[:-1],  # odd number of hex digits
        MAINNET_GENESIS_HEX[:-2] + "g0",
    ],
)
def test_header_bad_hex(text: str) -> None:
    with pytest.raises(HeaderFormatError):
        Header.parse(text)


def test_header_short_hex_is_bad_length() -> None:
    with pytest.raises(HeaderFormatError, match="got 79"):
        Header.parse(MAINNET_GENESIS_HEX[:-2])


def test_header_format_error_is_value_error() -> None:
    assert issubclass(HeaderFormatError, ValueError)


def test_header_fields_are_little_endian() -> None:
    raw = struct.pack("<I32s32sIII", 0x20000000, bytes(range(32)), bytes(range(32, 64)),
                      0x5D36F0DE, 0x171F3A08, 0xF66E1C3C)
    h = Header.parse(raw)
    assert h.version == 0x20000000
    assert h.time == 0x5D36F0DE
    assert h.bits == 0x171F3A08
    assert h.nonce == 0xF66E1C3C
    assert h.prev_hash == bytes(range(32))
    assert h.prev_hash_hex == bytes(range(32))[::-1].hex()
    assert h.serialize() == raw


# ---------------------------------------------------------------------------------------------
# Median time past (chain.h GetMedianTimePast)
# ---------------------------------------------------------------------------------------------
def test_median_time_past() -> None:
    assert median_time_past([5]) == 5
    assert median_time_past([3, 1]) == 3  # sorted [1, 3], index 1
    assert median_time_past([9, 1, 5]) == 5
    times = list(range(100, 120))  # only the last 11 (109..119) count
    assert median_time_past(times) == 114
    assert median_time_past([7, 7, 7, 1, 1, 1, 1, 9, 9, 9, 9]) == 7
    with pytest.raises(ValueError):
        median_time_past([])
