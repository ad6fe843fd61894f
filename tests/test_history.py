"""The bundled epoch history held to the truth, and the estimator and readers behind it."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from conftest import REPO, SHARED_DATA, shared_file
from hashshift import history
from hashshift.consensus import HeaderFormatError, compact_to_target
from hashshift.history import build_epochs, hashrate_estimate, timespan_from_retarget
from hashshift.sources.bundled import EPOCH_COLUMNS, parse_epochs, read_epochs
from hashshift.sources.electrum import parse_checkpoints, read_checkpoints
from hashshift.sources.rawheaders import (
    HeaderPowError,
    parse_headers,
    read_header,
    read_header_dir,
)

UTC0 = pd.Timestamp("1970-01-01", tz="UTC")


def _bundled_path() -> Path:
    folder = resources.files("hashshift").joinpath("data")
    names = sorted(p.name for p in folder.iterdir() if p.name.startswith("epochs_mainnet_"))
    assert names, "no bundled epochs file"
    return Path(str(folder.joinpath(names[-1])))


# ---------------------------------------------------------------------------------------------
# The bundle against known facts
# ---------------------------------------------------------------------------------------------
def test_bundle_shape() -> None:
    df = history.epochs()
    assert list(df.columns) == EPOCH_COLUMNS
    assert df["epoch"].tolist() == list(range(len(df)))
    assert (df["first_height"] == 2016 * df["epoch"]).all()
    assert df["first_time"].iloc[0] == pd.Timestamp("2009-01-03T18:15:05Z")  # genesis
    assert len(df) >= 474  # epochs 0..473: Electrum's checkpoints reach block 955,583
    assert isinstance(df["target"].iloc[-1], int)
    assert str(df["first_time"].dtype) == "datetime64[s, UTC]"
    src = df["duration_source"].value_counts().to_dict()
    print(f"\nbundle: {len(df)} epochs {df['first_time'].iloc[0]:%Y-%m-%d} .. "
          f"{df['first_time'].iloc[-1]:%Y-%m-%d}; duration sources {src}")
    assert src["headers"] >= 413  # headers to block 832,608
    ok = df["hashrate_ehs"].notna()
    assert (df.loc[ok, "hashrate_lo_ehs"] < df.loc[ok, "hashrate_ehs"]).all()
    assert (df.loc[ok, "hashrate_ehs"] < df.loc[ok, "hashrate_hi_ehs"]).all()


def test_china_ban_retarget_at_689472() -> None:
    df = history.epochs()
    row = df[df["first_height"] == 689_472].iloc[0]
    assert_allclose(row["change_pct"], -27.94, atol=0.005)
    assert row["first_time"].date() == date(2021, 7, 3)
    assert row["duration_source"] == "headers"
    assert history.difficulty_at(689_471) == pytest.approx(19_932_791_027_262.74, rel=1e-12)
    assert history.difficulty_at(689_472) == pytest.approx(14_363_025_673_659.96, rel=1e-12)
    # the largest cut since 2012 (the table's own view)
    since = df[df["first_time"] >= pd.Timestamp("2012-01-01", tz="UTC")]
    assert int(since.loc[since["change_pct"].idxmin(), "first_height"]) == 689_472


def test_difficulty_matches_bytetree_blocks() -> None:
    path = shared_file("chain", "bytetree_blocks_688852_692685.csv")
    blocks = pd.read_csv(path, usecols=["hgt", "dif"])
    ours = np.array([history.difficulty_at(int(h)) for h in blocks["hgt"]])
    assert_allclose(ours, blocks["dif"].to_numpy(), rtol=1e-9)


def test_bits_match_bitcoin_rules_fixture() -> None:
    """An independent source (Bitcoin_rules' fixture, generated from Bitcoin Core)."""
    path = shared_file("chain", "difficulty_epochs_to_840236.csv")
    runs = pd.read_csv(path, header=None, names=["from_h", "to_h", "bits", "difficulty"],
                       dtype={"bits": str})
    df = history.epochs()
    n = 0
    for r in runs.itertuples():
        for e in range(int(r.from_h) // 2016, int(r.to_h) // 2016 + 1):
            assert int(df["bits"].iloc[e]) == int(r.bits, 16), f"epoch {e}"
            n += 1
    assert n >= 416


HALVINGS = [  # height, calendar date (UTC) of the block, how the bundle times that epoch
    (210_000, date(2012, 11, 28), "headers"),
    (420_000, date(2016, 7, 9), "headers"),
    (630_000, date(2020, 5, 11), "headers"),
    (840_000, date(2024, 4, 20), "retarget"),
]


@pytest.mark.parametrize(("height", "day", "source"), HALVINGS)
def test_halving_dates(height: int, day: date, source: str) -> None:
    df = history.epochs()
    if height > int(df["last_height"].iloc[-1]):
        pytest.skip(f"halving at {height} is beyond the bundled history")
    row = df.iloc[height // 2016]
    t = history.time_at(height)
    err_days = (t.date() - day).days
    print(f"\nhalving {height}: {t} ({row['time_source']} times), date error {err_days:+d} d")
    assert row["time_source"] == source
    assert abs(err_days) <= 1
    h = history.halvings()
    assert t in set(h["time"])


def test_hashrate_matches_coin_metrics_since_2015() -> None:
    path = shared_file("market", "coinmetrics_btc_2026-03.csv")
    cm = pd.read_csv(path, usecols=["time", "HashRate"]).dropna()
    day0 = (pd.to_datetime(cm["time"], utc=True) - UTC0).dt.total_seconds().to_numpy()
    ehs = cm["HashRate"].to_numpy(dtype=float) / 1e6  # TH/s -> EH/s
    knots = np.append(day0, day0[-1] + 86400.0)
    cum = np.concatenate([[0.0], np.cumsum(ehs * 86400.0)])

    df = history.epochs(since="2015-01-01")
    df = df[df["first_time"] >= pd.Timestamp("2015-01-01", tz="UTC")]
    df = df.dropna(subset=["hashrate_ehs", "last_time"])
    f = (df["first_time"] - UTC0).dt.total_seconds().to_numpy()
    last = (df["last_time"] - UTC0).dt.total_seconds().to_numpy()
    inside = last <= knots[-1]
    f, last, ours = f[inside], last[inside], df["hashrate_ehs"].to_numpy()[inside]
    # time-weighted mean of Coin Metrics' daily values over each epoch's span
    theirs = (np.interp(last, knots, cum) - np.interp(f, knots, cum)) / (last - f)
    rel = ours / theirs - 1
    med = float(np.median(np.abs(rel)))
    print(f"\nCoin Metrics vs epoch-mean hashrate since 2015: {len(rel)} epochs, median |rel diff| "
          f"{med:.3%}, median signed {np.median(rel):+.3%}, max |rel diff| {np.abs(rel).max():.3%}")
    assert len(rel) >= 250
    assert med <= 0.03


def test_daily_series_matches_coin_metrics_on_average() -> None:
    path = shared_file("market", "coinmetrics_btc_2026-03.csv")
    cm = pd.read_csv(path, usecols=["time", "HashRate"]).dropna()
    cm["date"] = pd.to_datetime(cm["time"], utc=True)
    daily = history.hashrate("D")
    m = daily.merge(cm, on="date")
    m = m[m["date"] >= pd.Timestamp("2015-01-01", tz="UTC")]
    rel = m["hashrate_ehs"] / (m["HashRate"] / 1e6) - 1
    # Coin Metrics' daily value counts one day's blocks (~8 % Poisson noise): unbiased on average
    assert abs(float(rel.median())) <= 0.01
    assert len(m) > 3000


# ---------------------------------------------------------------------------------------------
# Queries
# ---------------------------------------------------------------------------------------------
def test_difficulty_at_heights_and_times() -> None:
    df = history.epochs()
    assert history.difficulty_at(0) == 1.0
    assert history.difficulty_at(np.int64(2016 * 342 + 5)) == df["difficulty"].iloc[342]
    # by time: epoch 342 in force from the last block of epoch 341 on
    t341_last = df["last_time"].iloc[341]
    assert history.difficulty_at(t341_last - pd.Timedelta(seconds=1)) == df["difficulty"].iloc[341]
    assert history.difficulty_at(t341_last + pd.Timedelta(seconds=1)) == df["difficulty"].iloc[342]
    assert history.difficulty_at(date(2021, 7, 10)) == df["difficulty"].iloc[342]
    assert history.difficulty_at("2021-07-10T12:00:00Z") == df["difficulty"].iloc[342]
    with pytest.raises(ValueError, match="timezone"):
        history.difficulty_at(datetime(2021, 7, 10))
    with pytest.raises(ValueError, match="outside the bundled history"):
        history.difficulty_at(datetime(2008, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="outside the bundled history"):
        history.difficulty_at(10**8)
    with pytest.raises(ValueError, match=">= 0"):
        history.difficulty_at(-1)


def test_time_at_interpolates_within_an_epoch() -> None:
    df = history.epochs()
    row = df.iloc[300]
    assert history.time_at(int(row["first_height"])) == row["first_time"]
    assert history.time_at(int(row["last_height"])) == row["last_time"]
    mid = history.time_at(int(row["first_height"]) + 1007)
    assert row["first_time"] < mid < row["last_time"]
    frac = (mid - row["first_time"]) / (row["last_time"] - row["first_time"])
    assert abs(frac - 1007 / 2015) < 1e-5
    last = df.iloc[-1]
    if pd.isna(last["last_time"]):
        with pytest.raises(ValueError, match="no known end time"):
            history.time_at(int(last["first_height"]) + 10)


def test_epochs_since_until() -> None:
    sel = history.epochs(since=datetime(2021, 7, 1, tzinfo=UTC), until=datetime(2021, 7, 5,
                                                                                tzinfo=UTC))
    assert sel["epoch"].tolist() == [341, 342]
    assert history.epochs(since="2001-01-01", until="2002-01-01").empty
    assert len(history.epochs(since="2024-01-01")) < len(history.epochs())


def test_hashrate_frequencies() -> None:
    ep = history.hashrate("epoch")
    assert ep["hashrate_ehs"].notna().all()
    daily = history.hashrate(freq="D")
    assert list(daily.columns) == ["date", "hashrate_ehs", "hashrate_lo_ehs", "hashrate_hi_ehs"]
    steps = daily["date"].diff().dropna().unique()
    assert len(steps) == 1 and steps[0] == pd.Timedelta(days=1)
    # a day wholly inside epoch 342 carries that epoch's value
    one = daily[daily["date"] == pd.Timestamp("2021-07-10", tz="UTC")].iloc[0]
    assert one["hashrate_ehs"] == pytest.approx(history.epochs()["hashrate_ehs"].iloc[342])
    assert (daily["hashrate_lo_ehs"] < daily["hashrate_hi_ehs"]).all()
    with pytest.raises(ValueError, match="freq"):
        history.hashrate("W")


def test_latest() -> None:
    last = history.latest()
    assert last["hashrate_ehs"] > 100  # hundreds of EH/s by the mid-2020s
    assert int(last["epoch"]) >= 472


# ---------------------------------------------------------------------------------------------
# The estimator
# ---------------------------------------------------------------------------------------------
def _wilson_hilferty(p: float, n: int) -> float:
    """Gamma(n, 1) quantile by the Wilson–Hilferty cube-root normal approximation."""
    z = stats.norm.ppf(p)
    return n * (1 - 1 / (9 * n) + z * np.sqrt(1 / (9 * n))) ** 3


def test_hashrate_estimate_closed_form() -> None:
    n, spacing = 2015, 600.0
    est, lo, hi = hashrate_estimate(1.0, n * spacing)
    assert isinstance(est, float)
    w = 2**32 / (n * spacing) / 1e18  # [EH/s] per unit of the Gamma variate
    assert est == pytest.approx((n - 1) * w, rel=1e-15)
    assert lo == pytest.approx(_wilson_hilferty(0.025, n) * w, rel=1e-5)
    assert hi == pytest.approx(_wilson_hilferty(0.975, n) * w, rel=1e-5)
    # reference: difficulty 1 at one block per 600 s is 2**32 / 600 H/s = 7.158 MH/s
    assert est * 2015 / 2014 == pytest.approx(7.158278826666667e-12, rel=1e-12)
    # epoch 341 (2021-06-13 .. 07-03, 19.43 days) ≈ 103 EH/s (shared/data/chain/SOURCES.md)
    e341, _, _ = hashrate_estimate(19_932_791_027_262.74, 1_678_665)
    assert e341 == pytest.approx(102.71, abs=0.01)


def test_hashrate_estimate_coverage_and_bias() -> None:
    rng = np.random.default_rng(20210703)
    n, d = 2015, 1e13
    true_ehs = 150.0
    lam = true_ehs * 1e18 / (d * 2**32)  # blocks per second
    t = rng.gamma(n, 1 / lam, size=200_000)
    est, lo, hi = hashrate_estimate(np.full(t.size, d), t)
    covered = float(np.mean((lo <= true_ehs) & (true_ehs <= hi)))
    assert abs(covered - 0.95) < 4 * np.sqrt(0.95 * 0.05 / t.size)
    # unbiased: the MLE n·W/T would sit 1/(n−1) ≈ 0.05 % high, ten standard errors away
    se = float(np.std(est)) / np.sqrt(t.size)
    assert abs(float(np.mean(est)) - true_ehs) < 4 * se
    assert abs(float(np.mean(est * n / (n - 1))) - true_ehs) > 6 * se
    e90 = hashrate_estimate(np.full(t.size, d), t, level=0.90)
    assert abs(float(np.mean((e90[1] <= true_ehs) & (true_ehs <= e90[2]))) - 0.90) < 0.01


def test_hashrate_estimate_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="intervals"):
        hashrate_estimate(1.0, 600.0, intervals=1)
    with pytest.raises(ValueError, match="level"):
        hashrate_estimate(1.0, 600.0, level=1.0)
    with pytest.raises(ValueError, match="duration_s"):
        hashrate_estimate(1.0, -5.0)
    with pytest.raises(ValueError, match="difficulty"):
        hashrate_estimate(0.0, 600.0)
    est, lo, hi = hashrate_estimate(np.array([1.0, 2.0]), np.array([np.nan, 1e6]))
    assert np.isnan(est[0]) and np.isfinite(est[1])


def test_timespan_from_retarget() -> None:
    old = compact_to_target(0x170E1EF9)[0]  # epoch 341
    new = compact_to_target(0x171398CE)[0]  # epoch 342
    lo, hi = timespan_from_retarget(old, new)
    assert lo <= 1_678_665 <= hi  # the real header timespan
    assert hi - lo < 60
    with pytest.raises(ValueError, match="CalculateNextWorkRequired"):
        timespan_from_retarget(old, old * 5)


# ---------------------------------------------------------------------------------------------
# Readers and their errors
# ---------------------------------------------------------------------------------------------
def _head_lines(k: int) -> list[str]:
    return _bundled_path().read_text().splitlines()[: k + 1]


def test_read_epochs_small_file(tmp_path: Path) -> None:
    p = tmp_path / "ok.csv"
    p.write_text("\n".join(_head_lines(5)) + "\n")
    df = read_epochs(p)
    assert df["epoch"].tolist() == [0, 1, 2, 3, 4]
    assert df["epoch"].dtype == np.int64 and df["target"].dtype == object
    assert df["first_time"].dt.tz is not None


def test_read_epochs_gap_names_row_and_rule(tmp_path: Path) -> None:
    lines = _head_lines(6)
    del lines[3]  # epoch 2
    p = tmp_path / "gap.csv"
    p.write_text("\n".join(lines) + "\n")
    rule = r"line 4 \(row 3, epoch 3\): gap: epoch 2 missing.*epochs are contiguous"
    with pytest.raises(ValueError, match=rule):
        read_epochs(p)


def test_read_epochs_missing_column(tmp_path: Path) -> None:
    df = pd.read_csv(_bundled_path(), dtype=str, keep_default_na=False).head(3)
    p = tmp_path / "cols.csv"
    df.drop(columns=["bits"]).to_csv(p, index=False)
    with pytest.raises(ValueError, match=r"missing column\(s\) bits.*rule"):
        read_epochs(p)


def test_read_epochs_value_rules(tmp_path: Path) -> None:
    header, *rows = _head_lines(3)
    bad_height = rows[1].replace(",2016,4031,", ",2017,4032,", 1)
    with pytest.raises(ValueError, match=r"line 3 .*first_height = 2016·epoch"):
        parse_epochs("\n".join([header, rows[0], bad_height, rows[2]]) + "\n")
    bad_bits = rows[0].replace("1d00ffff", "1d00fffe", 1)
    with pytest.raises(ValueError, match=r"line 2 .*target = decoded bits"):
        parse_epochs("\n".join([header, bad_bits]) + "\n")
    bad_time = rows[0].replace("2009-01-03T18:15:05Z", "2009-01-03 18:15", 1)
    with pytest.raises(ValueError, match=r"line 2 .*first_time='2009-01-03 18:15'"):
        parse_epochs("\n".join([header, bad_time]) + "\n")
    with pytest.raises(ValueError, match="no rows"):
        parse_epochs(header + "\n")


def test_parse_checkpoints_errors_name_the_entry() -> None:
    h = "00" * 32
    ok = parse_checkpoints(f'[["{h}", 5], ["{h}", 7]]')
    assert ok[1].next_target == 7 and ok[1].last_height == 4031
    with pytest.raises(ValueError, match="entry 1: hash"):
        parse_checkpoints(f'[["{h}", 5], ["abc", 7]]')
    with pytest.raises(ValueError, match="entry 0: target must be an integer"):
        parse_checkpoints(f'[["{h}", "5"]]')
    with pytest.raises(ValueError, match=r"entry 2: expected \[hash, target\]"):
        parse_checkpoints(f'[["{h}", 5], ["{h}", 5], ["{h}"]]')
    with pytest.raises(ValueError, match="JSON list"):
        parse_checkpoints("{}")


def test_parse_headers_offsets() -> None:
    from hashshift.consensus import MAINNET

    g = MAINNET.genesis_header
    assert [h.time for h in parse_headers(g + g)] == [1231006505, 1231006505]
    with pytest.raises(HeaderFormatError, match="byte offset 160"):
        parse_headers(g + g + g[:40])
    bad = g[:-4] + b"\0\0\0\0"  # nonce 0: fails its proof of work
    with pytest.raises(HeaderPowError, match="byte offset 80"):
        parse_headers(g + bad)
    assert len(parse_headers(g + bad, check_pow=False)) == 2


# ---------------------------------------------------------------------------------------------
# Building from ../shared
# ---------------------------------------------------------------------------------------------
def test_real_inputs_verify_and_tampering_is_caught() -> None:
    cp = read_checkpoints(shared_file("chain", "electrum_checkpoints_mainnet.json"))
    folder = shared_file("chain", "ckb_epoch_boundary_headers")
    hdrs = read_header_dir(folder)
    assert read_header(folder / "0000000.bin").hash_hex == (
        "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f")
    df = build_epochs(cp, hdrs)
    assert len(df) == len(cp) + 1
    swapped = dict(hdrs)
    swapped[4031] = hdrs[6047]  # last header of epoch 2 filed as the last of epoch 1
    with pytest.raises(ValueError, match="height 4031.*checkpoint hash"):
        build_epochs(cp, swapped)
    later = dict(hdrs)
    later[689471] = hdrs[687455]  # epoch 340's last header put at the end of epoch 341
    with pytest.raises(ValueError, match="height 689471"):
        build_epochs(cp, later)


def test_script_rebuilds_the_bundle_byte_for_byte(tmp_path: Path) -> None:
    shared_file("chain", "electrum_checkpoints_mainnet.json")
    shared_file("chain", "ckb_epoch_boundary_headers")
    bundled = _bundled_path()
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "build_history.py"),
         "--shared-dir", str(SHARED_DATA), "--out", str(tmp_path)],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    rebuilt = tmp_path / bundled.name
    assert rebuilt.exists(), f"script wrote {sorted(p.name for p in tmp_path.iterdir())}"
    assert rebuilt.read_bytes() == bundled.read_bytes()
    section = (tmp_path / "SOURCES.md").read_text().split("<!-- BEGIN epochs_mainnet", 1)[1]
    assert section in (bundled.parent / "SOURCES.md").read_text()


# ---------------------------------------------------------------------------------------------
# the plain columns behind `hashshift history` (no pandas)
# ---------------------------------------------------------------------------------------------
def test_epoch_columns_are_the_dataframes_values() -> None:
    from hashshift.epoch_table import epoch_columns

    cols = epoch_columns()
    df = history.epochs()
    assert list(cols) == EPOCH_COLUMNS and len(cols["epoch"]) == len(df)
    for c in EPOCH_COLUMNS:
        got = cols[c]
        if c in ("first_time", "last_time"):
            want = [None if pd.isna(t) else t.to_pydatetime() for t in df[c]]
            assert got == want, c
        elif df[c].dtype == float:
            assert_allclose(np.array(got, dtype=float), df[c].to_numpy(), rtol=0, atol=0,
                            equal_nan=True, err_msg=c)
        else:
            assert got == df[c].tolist(), c
    cols["epoch"].append(-1)  # each call hands out its own lists
    assert epoch_columns()["epoch"][-1] != -1


def test_largest_cut_is_july_2021() -> None:
    """Reference: the retarget at block 689,472 on 3 July 2021, −27.94 %, the largest cut in
    Bitcoin's history (Bitcoin Core's retarget arithmetic on the bundled chain)."""
    from hashshift.epoch_table import cut_order, epoch_columns

    cols = epoch_columns()
    (i,) = cut_order(cols["change_pct"], 1)
    assert cols["first_height"][i] == 689_472
    assert f"{cols['first_time'][i]:%Y-%m-%d}" == "2021-07-03"
    assert_allclose(cols["change_pct"][i], -27.94, atol=0.005)
    row = history.largest_cuts(n=1).iloc[0]
    assert int(row["first_height"]) == 689_472
    assert cut_order([float("nan"), -1.0, -5.0, -1.0, 2.0], 3) == [2, 1, 3]
    assert cut_order([-1.0, -5.0, -12.0], 5, below_pct=-4.0) == [2, 1]
    with pytest.raises(ValueError, match="n = -1"):
        cut_order([-1.0], -1)


def test_read_epochs_ragged_row_is_named(tmp_path: Path) -> None:
    header, *rows = _head_lines(2)
    p = tmp_path / "ragged.csv"
    p.write_text("\n".join([header, rows[0], rows[1] + ",extra"]) + "\n")
    with pytest.raises(ValueError, match=r"not a readable CSV table \(line 3 has 17 fields, "
                                         r"the header 16\)"):
        read_epochs(p)
