"""The fast block process (``hashshift.sim.network``) against the per-block oracle
(``hashshift.sim.reference``), plus exact checks that no tolerance can hide.

Distribution tests compare two independent Monte Carlo samples of the same scenario with
two-sample Kolmogorov–Smirnov tests at ``ALPHA``; seeds are fixed, so every p-value is the same
on every run (see ``report_p_values`` at the bottom for the values measured).

Scenario: a real mainnet start inside epoch 340 (height 685 445, bits 0x170ffa1e, the epoch's
first block one hour before time 0), 150 EH/s for 20 days, then a sudden 50 % drop to 75 EH/s
for 40 days. Three epochs complete within the 60 days (340, 341, 342); the drop lands inside
epoch 341.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats

from hashshift.consensus import (
    COIN,
    MAINNET,
    bits_to_difficulty,
    block_subsidy,
    issued_btc,
    next_work_required,
    retarget,
)
from hashshift.sim import reference
from hashshift.sim.network import advance_day, start_network

ALPHA = 1e-3  # KS p-value threshold
Z = 5.0  # Monte Carlo tolerance for means [standard errors]

START_HEIGHT = 685_445
START_BITS = 0x170FFA1E
EPOCH_FIRST_S = -3600.0
DAY_S = 86_400.0
DROP_DAY = 20
DAYS = 60
HASHRATE = np.r_[np.full(DROP_DAY, 150.0), np.full(DAYS - DROP_DAY, 75.0)]  # [EH/s]
N_REF = 2_000  # reference paths (slow: one Python loop iteration per block)
N_FAST = 10_000  # fast-engine paths
EPOCHS = (340, 341, 342)
DAYS_CHECKED = (0, 10, DROP_DAY - 1, DROP_DAY, DROP_DAY + 1, 40, DAYS - 1)
SEED_REF = 20_210_703
SEED_FAST = 689_472


@dataclass
class Run:
    """One Monte Carlo run: blocks [paths, days], final height [paths], epoch table."""

    blocks: np.ndarray
    height: np.ndarray
    epochs: dict[str, np.ndarray]


def run_fast(
    paths: int, hashrate_ehs: np.ndarray, seed: int, height: int = START_HEIGHT,
    bits: int = START_BITS, epoch_first_time_s: float = EPOCH_FIRST_S,
) -> Run:
    """The fast engine driven day by day with the same hashrate on every path."""
    rng = np.random.default_rng(seed)
    state = start_network(paths, height, bits, epoch_first_time_s, rng)
    blocks = np.zeros((paths, len(hashrate_ehs)), dtype=np.int64)
    for day, h in enumerate(hashrate_ehs):
        blocks[:, day] = advance_day(state, day * DAY_S, np.full(paths, h), rng)
    return Run(blocks, state.height.copy(), state.log.frame())


def run_reference(paths: int, hashrate_ehs: np.ndarray, seed: int, height: int = START_HEIGHT,
                  bits: int = START_BITS, epoch_first_time_s: float = EPOCH_FIRST_S) -> Run:
    res = reference.simulate_paths(paths, height, bits, epoch_first_time_s, hashrate_ehs, seed)
    return Run(res.blocks_per_day, res.height, res.epochs)


@pytest.fixture(scope="module")
def ref() -> Run:
    return run_reference(N_REF, HASHRATE, SEED_REF)


@pytest.fixture(scope="module")
def fast() -> Run:
    return run_fast(N_FAST, HASHRATE, SEED_FAST)


P_VALUES: dict[str, float] = {}


def ks(name: str, a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample KS p-value, remembered for the summary test."""
    p = float(stats.ks_2samp(np.asarray(a, dtype=float), np.asarray(b, dtype=float)).pvalue)
    P_VALUES[name] = p
    return p


def assert_same_mean(a: np.ndarray, b: np.ndarray) -> None:
    """Means of two independent samples agree within ``Z`` combined standard errors."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    se = np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    assert abs(a.mean() - b.mean()) <= Z * se, (a.mean(), b.mean(), se)


def epoch_column(run: Run, epoch: int, column: str) -> np.ndarray:
    e = run.epochs
    m = e["epoch"] == epoch
    # One row per path: every path completes each of the checked epochs.
    assert_array_equal(np.sort(e["path"][m]), np.arange(run.height.size))
    return e[column][m]


# ---------------------------------------------------------------------------------------------
# Fast engine vs reference, in distribution
# ---------------------------------------------------------------------------------------------
def test_scenario_exercises_the_drop(ref: Run, fast: Run) -> None:
    """The scenario does what it claims: three completed epochs, a visible halving of blocks."""
    for run in (ref, fast):
        assert set(np.unique(run.epochs["epoch"]).tolist()) <= {*EPOCHS, 343}
        for e in EPOCHS:
            epoch_column(run, e, "duration_s")
        before = run.blocks[:, DROP_DAY - 1].mean()
        after = run.blocks[:, DROP_DAY + 1].mean()
        assert 0.4 < after / before < 0.6


@pytest.mark.parametrize("epoch", EPOCHS)
def test_epoch_duration_distribution(ref: Run, fast: Run, epoch: int) -> None:
    a = epoch_column(ref, epoch, "duration_s")
    b = epoch_column(fast, epoch, "duration_s")
    assert ks(f"duration epoch {epoch}", a, b) > ALPHA
    assert_same_mean(a, b)


@pytest.mark.parametrize("epoch", EPOCHS[1:])
def test_epoch_first_time_distribution(ref: Run, fast: Run, epoch: int) -> None:
    a = epoch_column(ref, epoch, "first_time_s")
    b = np.floor(epoch_column(fast, epoch, "first_time_s"))  # the fast log keeps float times
    assert ks(f"first time epoch {epoch}", a, b) > ALPHA
    assert_same_mean(a, b)


@pytest.mark.parametrize("epoch", EPOCHS)
def test_retarget_distribution(ref: Run, fast: Run, epoch: int) -> None:
    """Next difficulty and retarget ratio (new difficulty / old difficulty)."""
    def next_difficulty(run: Run) -> np.ndarray:
        return np.array([bits_to_difficulty(int(b))
                         for b in epoch_column(run, epoch, "next_bits").tolist()])

    old = {bits_to_difficulty(int(b)) for r in (ref, fast)
           for b in epoch_column(r, epoch, "bits").tolist()}
    if epoch == EPOCHS[0]:
        assert old == {bits_to_difficulty(START_BITS)}
    a = next_difficulty(ref)
    b = next_difficulty(fast)
    assert ks(f"next difficulty epoch {epoch}", a, b) > ALPHA
    assert_same_mean(a, b)
    ratio_a = a / np.array([bits_to_difficulty(int(x))
                            for x in epoch_column(ref, epoch, "bits").tolist()])
    ratio_b = b / np.array([bits_to_difficulty(int(x))
                            for x in epoch_column(fast, epoch, "bits").tolist()])
    assert ks(f"retarget ratio epoch {epoch}", ratio_a, ratio_b) > ALPHA
    assert_same_mean(ratio_a, ratio_b)


@pytest.mark.parametrize("day", DAYS_CHECKED)
def test_blocks_per_day_distribution(ref: Run, fast: Run, day: int) -> None:
    a = ref.blocks[:, day]
    b = fast.blocks[:, day]
    assert ks(f"blocks on day {day}", a, b) > ALPHA
    assert_same_mean(a, b)


def test_blocks_per_day_means_all_days(ref: Run, fast: Run) -> None:
    """Every day's mean within Monte Carlo error (a Bonferroni-style wider band for 60 days)."""
    a = ref.blocks.astype(float)
    b = fast.blocks.astype(float)
    se = np.sqrt(a.var(axis=0, ddof=1) / a.shape[0] + b.var(axis=0, ddof=1) / b.shape[0])
    assert np.all(np.abs(a.mean(axis=0) - b.mean(axis=0)) <= Z * se)


def test_height_at_horizon_distribution(ref: Run, fast: Run) -> None:
    assert ks(f"height at day {DAYS}", ref.height, fast.height) > ALPHA
    assert_same_mean(ref.height, fast.height)


def test_ks_has_teeth(ref: Run) -> None:
    """A 1.3 % lower hashrate after the drop (74 instead of 75 EH/s) is caught by the same tests
    (measured: p ~ 1e-107 on the height, ~ 1e-8 on the duration of epoch 342)."""
    wrong = HASHRATE.copy()
    wrong[DROP_DAY:] = 74.0
    other = run_fast(N_FAST, wrong, SEED_FAST)
    p = float(stats.ks_2samp(ref.height, other.height).pvalue)
    assert p < ALPHA
    p = float(stats.ks_2samp(epoch_column(ref, 342, "duration_s"),
                             epoch_column(other, 342, "duration_s")).pvalue)
    assert p < ALPHA


# ---------------------------------------------------------------------------------------------
# Exact checks
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["fast", "reference"])
def test_next_bits_are_cores_retarget(ref: Run, fast: Run, which: str) -> None:
    """Every logged epoch: next_bits = Core's retarget of the logged whole-second duration."""
    e = (fast if which == "fast" else ref).epochs
    assert e["epoch"].size > 0
    dur = e["duration_s"]
    assert_array_equal(dur, np.floor(dur))  # whole seconds
    for bits, d, nxt in zip(e["bits"].tolist(), dur.tolist(), e["next_bits"].tolist(),
                            strict=True):
        assert nxt == retarget(int(bits), 0, int(d))


@pytest.mark.parametrize("which", ["fast", "reference"])
def test_epoch_log_is_a_chain(ref: Run, fast: Run, which: str) -> None:
    """Per path: consecutive epochs, bits carried over, next epoch starts after the last block."""
    e = (fast if which == "fast" else ref).epochs
    order = np.lexsort((e["epoch"], e["path"]))
    path, epoch = e["path"][order], e["epoch"][order]
    first, dur = e["first_time_s"][order], e["duration_s"][order]
    bits, nxt = e["bits"][order], e["next_bits"][order]
    same = path[1:] == path[:-1]
    assert_array_equal(epoch[1:][same], epoch[:-1][same] + 1)
    assert_array_equal(bits[1:][same], nxt[:-1][same])
    assert np.all(np.floor(first[1:][same]) >= np.floor(first[:-1][same]) + dur[:-1][same])
    starts = ~np.r_[False, same]
    assert np.all(epoch[starts] == START_HEIGHT // 2016)
    assert np.all(first[starts] == EPOCH_FIRST_S)
    assert np.all(bits[starts] == START_BITS)


@pytest.mark.parametrize("which", ["fast", "reference"])
def test_blocks_sum_to_height_change(ref: Run, fast: Run, which: str) -> None:
    run = fast if which == "fast" else ref
    assert_array_equal(run.blocks.sum(axis=1), run.height - START_HEIGHT)
    assert np.all(run.blocks >= 0)


def test_heights_line_up_with_epochs() -> None:
    """After every day, on every path: a path waiting for an epoch's first block sits exactly at
    the previous epoch's last height (2015 mod 2016); inside an epoch, the height is within it.
    An off-by-one in the interior block count would break this at the first retarget."""
    paths = 2_000
    rng = np.random.default_rng(8)
    state = start_network(paths, START_HEIGHT, START_BITS, EPOCH_FIRST_S, rng)
    for day, h in enumerate(HASHRATE):
        advance_day(state, day * DAY_S, np.full(paths, h), rng)
        done = np.bincount(state.log.frame()["path"], minlength=paths)  # completed epochs
        waiting = state.phase == 0
        assert_array_equal(state.height[waiting], 2016 * (340 + done[waiting]) - 1)
        inside = ~waiting
        start = state.epoch_start_height[inside]
        assert_array_equal(start, 2016 * (340 + done[inside]))
        assert np.all((state.height[inside] >= start) & (state.height[inside] <= start + 2014))
    assert np.all(state.log.frame()["epoch"] <= 343)


def test_reference_uses_next_work_required() -> None:
    """The oracle's retarget is Core's GetNextWorkRequired on its own block timestamps."""
    rng = np.random.default_rng(7)
    res = reference.simulate_path(2016 * 300 + 2000, 0x1A05DB8B, -1_000_000.0,
                                  np.full(3, 1e-3), rng, keep_times=True)
    # 15 blocks to the end of epoch 300, at ~50x the hashrate of 600 s blocks.
    assert res.epochs[0].epoch == 300
    times = res.block_times_s
    assert times is not None and np.all(np.diff(times) > 0)
    e = res.epochs[0]
    last_stamp = int(np.floor(times[15 - 1]))
    assert e.first_time_s == -1_000_000 and e.duration_s == last_stamp + 1_000_000
    assert e.next_bits == next_work_required(2016 * 301 - 1, 0x1A05DB8B, last_stamp, -1_000_000)


# Constant hashrate at the difficulty's equilibrium: 600 s per block.
EQ_HEIGHT = 2016 * 340  # first block of epoch 340, found at time 0
EQ_HASHRATE = bits_to_difficulty(START_BITS) * 2.0**32 / 600 / 1e18  # [EH/s]


def test_mean_block_time_fast_engine() -> None:
    """Within an epoch at H = D · 2^32 / 600, blocks come every 600 s on average; the tolerance
    is ``Z`` standard errors of the mean count (Poisson: variance = mean)."""
    paths, days = 20_000, 10
    run = run_fast(paths, np.full(days, EQ_HASHRATE), 1, EQ_HEIGHT, START_BITS, 0.0)
    assert run.epochs["epoch"].size == 0  # 1 440 expected blocks, far from 2 015
    n = run.blocks.sum(axis=1).astype(float)
    rtol = Z * n.std(ddof=1) / np.sqrt(paths) / n.mean()
    assert_allclose(days * DAY_S * paths / n.sum(), 600.0, rtol=rtol)
    assert_allclose(run.blocks.mean(), 144.0, rtol=rtol)
    # Poisson: variance of one day's count equals its mean.
    assert_allclose(run.blocks[:, 3].var(ddof=1), 144.0, rtol=Z * np.sqrt(2 / (paths - 1)))


def test_epoch_duration_is_gamma_2015() -> None:
    """A full epoch at 600 s per block lasts 600 · Gamma(2015) seconds (2015 intervals)."""
    paths = 20_000
    run = run_fast(paths, np.full(18, EQ_HASHRATE), 2, EQ_HEIGHT, START_BITS, 0.0)
    dur = epoch_column(run, 340, "duration_s").astype(float)
    assert_allclose(dur.mean(), 2015 * 600.0, rtol=Z * np.sqrt(2015) / 2015 / np.sqrt(paths))
    p = float(stats.kstest(dur, stats.gamma(2015, scale=600.0).cdf).pvalue)
    P_VALUES["fast epoch duration vs 600·Gamma(2015)"] = p
    assert p > ALPHA


def test_mean_block_time_reference() -> None:
    paths, days = 100, 10
    gaps = []
    for i, child in enumerate(np.random.SeedSequence(3).spawn(paths)):
        res = reference.simulate_path(EQ_HEIGHT + i % 7, START_BITS, 0.0,
                                      np.full(days, EQ_HASHRATE), np.random.default_rng(child),
                                      keep_times=True)
        assert res.block_times_s is not None
        gaps.append(np.diff(np.r_[0.0, res.block_times_s]))
    g = np.concatenate(gaps)
    assert_allclose(g.mean(), 600.0, rtol=Z / np.sqrt(g.size))  # Exp(600): sd = mean
    p = float(stats.kstest(g, stats.expon(scale=600.0).cdf).pvalue)
    P_VALUES["reference block gaps vs Exp(600 s)"] = p
    assert p > ALPHA


def test_blocks_split_across_the_drop_day_boundary() -> None:
    """Day boundaries are where the rate changes: a day of 1e-9 EH/s between two normal days
    gets no block in either engine (expected 1e-9 / 126 of a block)."""
    h = np.array([150.0, 1e-9, 150.0])
    fast_run = run_fast(200, h, 5)
    ref_run = run_reference(50, h, 5)
    assert np.all(fast_run.blocks[:, 1] == 0)
    assert np.all(ref_run.blocks[:, 1] == 0)
    assert fast_run.blocks[:, 2].mean() > 100 and ref_run.blocks[:, 2].mean() > 100


# ---------------------------------------------------------------------------------------------
# Subsidy
# ---------------------------------------------------------------------------------------------
def test_subsidy_crosses_the_halving_exactly() -> None:
    assert block_subsidy(839_999) == 625_000_000 and block_subsidy(840_000) == 312_500_000
    got = issued_btc(np.array([839_999, 839_998, 839_997, 839_998, 839_000]),
                      np.array([2, 2, 3, 1, 0]))
    assert_array_equal(got, [6.25, 6.25 + 3.125, 2 * 6.25 + 3.125, 6.25, 0.0])


def test_subsidy_matches_block_subsidy() -> None:
    """Against Core's GetBlockSubsidy summed block by block, for heights up to era 9."""
    rng = np.random.default_rng(11)
    h0 = np.r_[rng.integers(0, 2_100_000 - 400, 400), np.arange(9) * 210_000 + 209_900]
    n = np.r_[rng.integers(0, 300, 400), np.full(9, 250)]
    got = issued_btc(h0, n)
    want = [sum(block_subsidy(h) for h in range(a + 1, a + b + 1)) / COIN
            for a, b in zip(h0.tolist(), n.tolist(), strict=True)]
    assert_array_equal(got, want)


def test_subsidy_matches_block_subsidy_late_eras() -> None:
    heights = np.array([2_100_000, 2_310_000, 6_930_000]) - 1  # eras 10, 11, 33
    got = issued_btc(heights, np.ones(3, dtype=np.int64))
    want = [block_subsidy(h + 1) / COIN for h in heights.tolist()]
    assert_array_equal(got, want)


# ---------------------------------------------------------------------------------------------
# Reproducibility and inputs
# ---------------------------------------------------------------------------------------------
def test_same_seed_same_result() -> None:
    h = HASHRATE[:25]
    a, b, c = run_fast(300, h, 42), run_fast(300, h, 42), run_fast(300, h, 43)
    assert_array_equal(a.blocks, b.blocks)
    assert_array_equal(a.height, b.height)
    for k in a.epochs:
        assert_array_equal(a.epochs[k], b.epochs[k])
    assert not np.array_equal(a.blocks, c.blocks)
    r1, r2, r3 = (run_reference(5, h, s) for s in (42, 42, 43))
    assert_array_equal(r1.blocks, r2.blocks)
    for k in r1.epochs:
        assert_array_equal(r1.epochs[k], r2.epochs[k])
    assert not np.array_equal(r1.blocks, r3.blocks)


def test_reference_paths_use_spawned_generators() -> None:
    h = HASHRATE[:15]
    res = reference.simulate_paths(3, START_HEIGHT, START_BITS, EPOCH_FIRST_S, h, 9)
    child = np.random.SeedSequence(9).spawn(3)[2]
    one = reference.simulate_path(START_HEIGHT, START_BITS, EPOCH_FIRST_S, h,
                                  np.random.default_rng(child))
    assert_array_equal(res.blocks_per_day[2], one.blocks_per_day)
    assert res.height[2] == one.height
    assert res.epochs["duration_s"][res.epochs["path"] == 2].tolist() == [
        e.duration_s for e in one.epochs]


def test_reference_rejects_bad_inputs() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="last block"):
        reference.simulate_path(2016 * 10 - 1, START_BITS, -100.0, [100.0], rng)
    with pytest.raises(ValueError, match="positive"):
        reference.simulate_path(START_HEIGHT, START_BITS, -100.0, [100.0, 0.0], rng)
    with pytest.raises(ValueError, match="paths"):
        reference.simulate_paths(2, START_HEIGHT, START_BITS, -100.0, np.ones((3, 4)), 0)
    assert MAINNET.interval == 2016


def test_report_p_values() -> None:
    """Runs last (file order): prints every KS p-value measured above (pytest -s to see)."""
    for name, p in sorted(P_VALUES.items()):
        print(f"{name:45s} p = {p:.4f}")
    assert all(p > ALPHA for p in P_VALUES.values())


# ---------------------------------------------------------------------------------------------
# The vectorised retarget and difficulty against Core's arithmetic (hashshift.consensus)
# ---------------------------------------------------------------------------------------------
def test_vectorised_retarget_on_every_real_retarget() -> None:
    """Every bundled epoch whose duration comes from its headers: the int64 retarget gives the
    next epoch's real bits, as :func:`hashshift.consensus.retarget` does (412 retargets, from
    the pow-limit years through the −27.94 % cut at 689 472)."""
    from hashshift import history
    from hashshift.sim.network import bits_to_difficulty as difficulty_many
    from hashshift.sim.network import retarget_bits

    ep = history.epochs()
    bits = np.array([int(str(b), 16) if isinstance(b, str) else int(b) for b in ep["bits"]])
    have = (ep["duration_source"] == "headers").to_numpy()[:-1]
    span = ep["duration_s"].to_numpy()[:-1][have].astype(np.int64)
    old, real_next = bits[:-1][have], bits[1:][have]
    assert have.sum() > 400
    fast = retarget_bits(old, span)
    core = np.array([retarget(int(b), 0, int(s)) for b, s in zip(old, span, strict=True)])
    assert_array_equal(core, real_next)
    assert_array_equal(fast, real_next)
    assert 0x1D00FFFF in old and (fast != old).sum() > 300  # capped and moving retargets
    assert_array_equal(difficulty_many(bits), [bits_to_difficulty(int(b)) for b in bits])


def test_vectorised_retarget_matches_core_on_random_bits() -> None:
    """Random compact bits of every size (normal, sign bit, zero and tiny mantissas, targets
    near the proof-of-work limit) and spans beyond both clamps: the same bits as Core's
    arithmetic, row by row, on mainnet and regtest parameters."""
    from hashshift.consensus import REGTEST, TESTNET3
    from hashshift.sim.network import retarget_bits

    rng = np.random.default_rng(16)
    n = 40_000
    size = rng.integers(3, 30, n)
    word = rng.integers(0x8000, 0x800000, n)
    word[: n // 20] = rng.integers(0, 0x100, n // 20)  # non-normal mantissas
    word[n // 20: n // 10] |= 0x800000  # the sign bit
    size[n // 10: n // 5] = rng.integers(27, 30, n // 10)  # near and above the limit
    bits = (size << 24) | word
    span = rng.integers(0, 6_000_000, n)
    for params in (MAINNET, TESTNET3, REGTEST):
        fast = retarget_bits(bits, span, params)
        core = [retarget(int(b), 0, int(s), params) for b, s in zip(bits, span, strict=True)]
        assert_array_equal(fast, core)
