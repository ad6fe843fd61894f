"""The DuckDB store: atomic batches, verified headers, reorgs, locking, CSV imports, exports."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from hashshift.cli import app
from hashshift.consensus import (
    HEADER_SIZE,
    REGTEST,
    BadLinkError,
    BadPowError,
    Header,
    HeaderFormatError,
    validate_headers,
)
from hashshift.sources.http import RetryPolicy
from hashshift.sources.mempool import MempoolClient
from hashshift.store import DB_NAME, Store, StoreBusyError, StoreError
from hashshift.testing import REGTEST_STRICT, build_chain
from loopback import Chain, LoopbackServer

runner = CliRunner()
DATA = Path(__file__).parent / "data"
FAST = {"retry": RetryPolicy(attempts=3, backoff_s=0.01), "sleep": lambda s: None,
        "timeout_s": 2.0}


@pytest.fixture(scope="module")
def chain() -> Chain:
    return Chain.build(600)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / DB_NAME, params=REGTEST_STRICT, lock_timeout_s=1.0)


def snapshot(st: Store) -> dict[str, object]:
    """Everything a user can see of the headers in the store."""
    df = st.read_table("headers")
    src = st.read_table("sources")
    return {"rows": len(df), "hashes": tuple(df["hash"]) if len(df) else (),
            "sources": len(src), "tip": None if st.tip() is None else st.tip().hash}


def test_empty_store_reads_fall_back(store: Store) -> None:
    assert store.tip() is None
    assert store.read_table("headers").empty
    status = store.status()
    assert set(status["table"]) >= {"headers", "epochs", "hashrate", "mining_map", "prices"}
    assert (status["rows"] == 0).all()
    assert not store.path.exists()  # reading does not create anything


def test_import_headers_from_genesis_and_continue(store: Store, chain: Chain) -> None:
    raw = chain.raw(0, 401)
    res = store.import_headers([raw[: 150 * 80], raw[150 * 80 :]], location="part1")
    assert (res.added, res.height) == (401, 400)
    tip = store.tip()
    assert tip is not None and tip.hash == chain.state_at(400).hash
    # continuing in a second batch, overlapping the first: the overlap is skipped
    res2 = store.import_headers([chain.raw(350, 251)], location="part2")
    assert (res2.added, res2.height) == (200, 600)
    df = store.read_table("headers")
    assert list(df["height"]) == list(range(601))
    assert df["source_id"].nunique() == 2
    # chainwork is the sum of block proofs
    assert int(df["chainwork"].iloc[-1], 16) == 601 * 2
    sources = store.read_table("sources")
    assert list(sources["rows"]) == [401, 200] and set(sources["location"]) == {"part1", "part2"}
    # importing the same headers again adds nothing and changes nothing
    before = snapshot(store)
    assert store.import_headers([chain.raw(0, 601)]).added == 0
    assert snapshot(store)["hashes"] == before["hashes"]


def test_bad_header_rejects_the_whole_batch(store: Store, chain: Chain) -> None:
    store.import_headers([chain.raw(0, 101)])
    before = snapshot(store)
    raw = bytearray(chain.raw(101, 300))
    at = (250 - 101) * 80
    for flip in range(1, 256):  # a merkle-root byte whose change breaks header 250's PoW
        raw[at + 40] ^= flip
        if not Header.parse(bytes(raw[at : at + 80])).check_pow(REGTEST_STRICT):
            break
        raw[at + 40] ^= flip
    with pytest.raises(BadPowError) as err:
        # several chunks: the first ones are written before the bad one is seen
        store.import_headers([bytes(raw[i : i + 8000]) for i in range(0, len(raw), 8000)])
    assert err.value.height == 250
    assert snapshot(store) == before
    broken_link = bytearray(chain.raw(101, 50))
    broken_link[20 * 80 + 5] ^= 1
    with pytest.raises(BadLinkError):
        store.import_headers([bytes(broken_link)])
    assert snapshot(store) == before
    with pytest.raises(HeaderFormatError, match="trailing bytes"):
        store.import_headers([chain.raw(101, 5)[:-7]])
    assert snapshot(store) == before
    assert store.import_headers([chain.raw(101, 10)]).height == 110  # still usable


def test_wrong_genesis_and_mid_chain_anchor(tmp_path: Path, chain: Chain) -> None:
    mainnet = Store(tmp_path / "m" / DB_NAME)
    with pytest.raises(BadLinkError, match="genesis"):
        mainnet.import_headers([chain.raw(0, 10)])
    assert mainnet.read_table("headers").empty
    anchored = Store(tmp_path / "a" / DB_NAME, params=REGTEST_STRICT)
    with pytest.raises(StoreError, match="multiple of 2016"):
        anchored.import_headers([chain.raw(100, 10)], start_height=100)
    # a chain that starts at a period boundary: the first header is a checked checkpoint
    long_raw, _ = build_chain(2100, REGTEST_STRICT, seed=11)
    res = anchored.import_headers([long_raw[2015 * 80 :]], start_height=2016)
    assert (res.added, res.height) == (85, 2100)


def test_reorg_with_more_work_replaces_tip_and_keeps_stale(tmp_path: Path, chain: Chain) -> None:
    with LoopbackServer(chain) as srv:
        st = Store(tmp_path / DB_NAME, params=REGTEST_STRICT)
        client = MempoolClient(srv.mempool_url, min_interval_s=0, **FAST)
        res = st.update_headers(client, page=100)
        assert (res.added, res.height) == (601, 600)
        old_tip = st.tip()
        new = srv.reorg(fork_height=590, extra=5, tag=b"fork")
        res = st.update_headers(client)
        assert res.height == new.tip_height == 605
        assert res.replaced == 10
        stale = st.read_table("stale_headers")
        assert len(stale) == 10 and set(stale["height"]) == set(range(591, 601))
        assert old_tip is not None and old_tip.hash[::-1].hex() in set(stale["hash"])
        assert (stale["replaced_by"] == res.hash).all()
        assert st.tip() is not None and st.tip().hash == new.state_at(605).hash  # type: ignore
        # a competing branch with less work is refused and changes nothing
        before = snapshot(st)
        weak, _ = build_chain(3, REGTEST_STRICT, tip=new.state_at(595), tag=b"weak")
        with pytest.raises(StoreError, match="no more work"):
            st.apply_branch(595, weak, kind="test", location="weak branch")
        assert snapshot(st) == before


def test_update_refuses_bad_pow_and_survives_500s(tmp_path: Path, chain: Chain) -> None:
    with LoopbackServer(chain) as srv:
        st = Store(tmp_path / DB_NAME, params=REGTEST_STRICT)
        client = MempoolClient(srv.mempool_url, min_interval_s=0, **FAST)
        st.update_headers(client, max_headers=201)
        before = snapshot(st)
        srv.corrupt_pow(300, consistent=True)
        with pytest.raises(BadPowError) as err:
            st.update_headers(client, page=50)
        assert err.value.height == 300
        assert snapshot(st) == before
        srv.clear_faults()
        srv.inject("status", status=500, times=2)
        res = st.update_headers(client, page=200)
        assert res.height == 600
        assert srv.count() > 0


def test_concurrent_writer_waits_then_fails_clearly(store: Store, chain: Chain) -> None:
    store.import_headers([chain.raw(0, 11)])
    code = (
        "import sys, time; from hashshift.store import Store;"
        f"s = Store({str(store.path)!r});"
        "cm = s.writer(); cm.__enter__(); print('locked', flush=True); time.sleep(30)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        t0 = time.monotonic()
        with pytest.raises(StoreBusyError, match=rf"process {holder.pid}.*wait") as err:
            store.import_headers([chain.raw(11, 10)])
        assert time.monotonic() - t0 >= 0.9  # it waited for the lock first
        assert "try again" in str(err.value)
    finally:
        holder.kill()
        holder.wait()
    assert store.import_headers([chain.raw(11, 10)]).height == 20  # lock released: works


KILL_TRIALS = 3


@pytest.mark.parametrize("trial", range(KILL_TRIALS))
def test_kill_9_during_import_leaves_store_as_before(tmp_path: Path, trial: int) -> None:
    """Start `hashshift data import` in a subprocess, kill -9 it part-way, check the store."""
    raw, _ = build_chain(60_000, REGTEST, seed=100 + trial)
    first, rest = raw[: 1000 * 80], raw[1000 * 80 :]
    home = tmp_path / "home"
    st = Store(home / DB_NAME, params=REGTEST)
    st.import_headers([REGTEST.genesis_header, first])
    before = snapshot(st)
    big = tmp_path / "more.bin"
    big.write_bytes(rest)
    proc = subprocess.Popen(
        [sys.executable, "-m", "hashshift", "--quiet", "data", "import", str(big),
         "--network", "regtest", "--home", str(home), "--chunk", "2000"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # wait until the import is writing (the WAL grows), then kill at a trial-dependent moment
    wal = home / (DB_NAME + ".wal")
    deadline = time.monotonic() + 300  # a hang guard: start-up is slow on a loaded machine
    while proc.poll() is None and not (wal.exists() and wal.stat().st_size > 0):
        assert time.monotonic() < deadline, "the import never started writing"
        time.sleep(0.01)
    time.sleep(0.05 * trial)
    if proc.poll() is None:  # else it ended on its own: the assertion below says so
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
    assert snapshot(st) == before
    res = st.import_headers([rest])
    assert res.height == 60_000
    assert snapshot(st)["rows"] == 60_001


def test_corrupted_database_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / DB_NAME
    path.write_bytes(b"this is not a database" * 100)
    st = Store(path, params=REGTEST_STRICT)
    with pytest.raises(StoreError, match="move it away"):
        st.import_headers([REGTEST_STRICT.genesis_header])
    assert path.read_bytes().startswith(b"this is not a database")


def test_read_only_folder_is_a_clear_error(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        # root ignores file permissions; use a path under a file instead of a folder
        st = Store(tmp_path / "afile" / DB_NAME, params=REGTEST_STRICT)
        (tmp_path / "afile").write_text("x")
    else:  # pragma: no cover
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        st = Store(ro / DB_NAME, params=REGTEST_STRICT)
    with pytest.raises(StoreError, match="HASHSHIFT_HOME"):
        st.import_headers([REGTEST_STRICT.genesis_header])


# -- CSV imports and exports through the CLI -------------------------------------------------
@pytest.mark.parametrize(
    ("name", "table"),
    [("ccaf_mining_countries_sample.csv", "mining_map"),
     ("ccaf_mining_provinces_sample.csv", "mining_map"),
     ("cbeci_daily_sample.csv", "energy"),
     ("coinmetrics_btc_sample.csv", "prices"),
     ("prices_close_sample.csv", "prices"),
     ("grid_table_sample.csv", "grid")],
)
def test_cli_import_csv(tmp_path: Path, name: str, table: str) -> None:
    result = runner.invoke(app, ["data", "import", str(DATA / name), "--home", str(tmp_path),
                                 "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["table"] == table and out["rows"] > 0
    stored = Store(tmp_path / DB_NAME).read_table(table)
    assert len(stored) == out["rows"]
    src = Store(tmp_path / DB_NAME).read_table("sources")
    assert src["location"].iloc[-1] == str(DATA / name)


def test_cli_import_bad_csv_changes_nothing(tmp_path: Path) -> None:
    good = DATA / "ccaf_mining_countries_sample.csv"
    assert runner.invoke(app, ["data", "import", str(good), "--home", str(tmp_path)]).exit_code == 0
    before = Store(tmp_path / DB_NAME).read_table("mining_map")
    lines = good.read_text().splitlines()
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([lines[0], lines[1], lines[1].replace("%", "x%"), *lines[2:]]) + "\n")
    result = runner.invoke(app, ["data", "import", str(bad), "--home", str(tmp_path)])
    assert result.exit_code == 2
    assert "bad.csv" in result.output and "line" in result.output
    pd.testing.assert_frame_equal(Store(tmp_path / DB_NAME).read_table("mining_map"), before)


def _sweep_rows(sweep: str, tasks: int, value: float) -> pd.DataFrame:
    return pd.DataFrame([{"sweep": sweep, "task": t, "seed": 100 + t,
                          "params": json.dumps({"delay": 30.0 * t}), "metric": m, "value": value}
                         for t in range(tasks) for m in ("exited_ehs", "trough_drop_pct")])


def test_replace_sweep_swaps_one_sweeps_rows_atomically(store: Store) -> None:
    store.replace_sweep("s1", _sweep_rows("s1", 4, 1.0), location="work/s1")
    other = store.replace_sweep("s2", _sweep_rows("s2", 2, 2.0), location="work/s2")
    sid = store.replace_sweep("s1", _sweep_rows("s1", 3, 3.0), location="work/s1",
                              note="3 tasks, 0 failed")
    stored = store.read_table("sweep_results")
    s1, s2 = stored[stored["sweep"] == "s1"], stored[stored["sweep"] == "s2"]
    assert len(s1) == 6 and set(s1["value"]) == {3.0} and set(s1["source_id"]) == {sid}
    assert len(s2) == 4 and set(s2["source_id"]) == {other}  # another sweep's rows are kept
    src = store.read_table("sources").set_index("source_id").loc[sid]
    assert (src["kind"], src["location"], src["rows"], src["note"]) == (
        "sweep", "work/s1", 6, "3 tasks, 0 failed")
    sources = len(store.read_table("sources"))

    repeated = pd.concat([_sweep_rows("s1", 2, 4.0)] * 2)  # fails on the primary key mid-batch
    with pytest.raises(StoreError):
        store.replace_sweep("s1", repeated, location="work/s1")
    pd.testing.assert_frame_equal(store.read_table("sweep_results"), stored)
    assert len(store.read_table("sources")) == sources
    with pytest.raises(StoreError, match="rows of sweep 's2'"):
        store.replace_sweep("s1", _sweep_rows("s2", 1, 5.0), location="work/s1")
    with pytest.raises(StoreError, match="lack the columns"):
        store.replace_sweep("s1", _sweep_rows("s1", 1, 5.0).drop(columns="seed"), location="w")


def test_cli_headers_import_status_export(tmp_path: Path, chain: Chain) -> None:
    f = tmp_path / "blockchain_headers"
    f.write_bytes(chain.raw(0, 601))
    home = tmp_path / "home"
    result = runner.invoke(app, ["data", "import", str(f), "--network", "regtest",
                                 "--home", str(home)])
    assert result.exit_code == 0, result.output
    assert "601 headers imported" in result.output
    status = runner.invoke(app, ["data", "status", "--home", str(home), "--json"])
    assert status.exit_code == 0, status.output
    rows = {t["table"]: t for t in json.loads(status.output)["tables"]}
    assert rows["headers"]["rows"] == 601 and rows["headers"]["last"] == 600
    for fmt in ("csv", "parquet"):
        out = tmp_path / f"headers.{fmt}"
        result = runner.invoke(app, ["data", "export", "--table", "headers", "--format", fmt,
                                     "--out", str(out), "--home", str(home)])
        assert result.exit_code == 0, result.output
        df = pd.read_csv(out) if fmt == "csv" else pd.read_parquet(out)
        assert len(df) == 601
        raw = b"".join(bytes.fromhex(h) for h in df["raw"])
        assert validate_headers(raw, None, REGTEST).height == 600
    bad = runner.invoke(app, ["data", "export", "--table", "nope", "--out", "x.csv",
                              "--home", str(home)])
    assert bad.exit_code == 2 and "not a table" in bad.output
    trunc = tmp_path / "trunc.bin"
    trunc.write_bytes(b"\x01" * 170)
    result = runner.invoke(app, ["data", "import", str(trunc), "--network", "regtest",
                                 "--home", str(home)])
    assert result.exit_code == 2 and "incomplete header at byte 160" in result.output


def test_cli_update_from_loopback_bitcoind(tmp_path: Path, chain: Chain) -> None:
    with LoopbackServer(chain) as srv:
        cookie = srv.write_cookie(tmp_path / ".cookie")
        result = runner.invoke(app, [
            "data", "update", "--source", "bitcoind", "--url", srv.rpc_url,
            "--cookie-file", str(cookie), "--network", "regtest", "--home", str(tmp_path),
            "--json"])
        assert result.exit_code == 0, result.output
        out = json.loads(result.output)
        assert out["headers_added"] == 601 and out["tip_height"] == 600
        result = runner.invoke(app, [
            "data", "update", "--source", "mempool", "--url", srv.mempool_url,
            "--network", "regtest", "--home", str(tmp_path), "--json"])
        assert result.exit_code == 0, result.output
        out = json.loads(result.output)
        assert out["headers_added"] == 0 and out["difficulty_adjustments"] >= 1
        assert len(Store(tmp_path / DB_NAME).read_table("hashrate")) == out["hashrate_days"]


def test_duckdb_file_is_a_real_database(store: Store, chain: Chain) -> None:
    store.import_headers([chain.raw(0, 21)])
    con = duckdb.connect(str(store.path), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM headers").fetchall() == [(21,)]
    finally:
        con.close()
    assert HEADER_SIZE == 80
