"""Faults: nothing lost.

- kill -9 of ``hashshift data import`` (headers and CSV) and ``hashshift data update``
  (Bitcoin Core and mempool, against the loopback server of tests/loopback.py, started here and
  reached by the killed processes through its URL), at random points: half the trials are
  killed from outside at a random time of the write phase, half kill themselves just before or
  after a random write statement (a statement counter wrapped around ``duckdb.connect``). The
  killed processes are children of a fork server that imported the command line once and run
  ``hashshift.cli.main()`` (a calibration run per operation is a fresh process). After each
  kill the store shows the state before the command or the state after it, table by table,
  never anything in between; running the command again completes it.
- disk full (a tmpfs; without mount rights, RLIMIT_FSIZE in a subprocess), a read-only store
  (the tmpfs remounted read-only), damaged database and WAL files: the previous state
  survives, or the error says what to do.
- network faults the loopback server cannot make (resets before and mid-body, a redirect loop,
  a body that does not decode, non-HTTP bytes, an HTML page for JSON) through a small fault
  proxy, and sources that fail or reorganise in the middle of an update: retried or refused
  cleanly, and the store unchanged.

``HASHSHIFT_KILL_TRIALS`` (default 20) sets the kill trials per operation (per source for
``data update``); ``make fuzz`` raises it. Tests marked ``slow`` run only under ``make fuzz``.
"""

from __future__ import annotations

import http.client
import os
import queue
import random
import shutil
import signal
import socket
import socketserver
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from hashshift.cli import app
from hashshift.consensus import REGTEST, BadLinkError, HeaderValidationError
from hashshift.sources.bitcoind import BitcoinRPC
from hashshift.sources.errors import (
    SourceError,
    SourceFormatError,
    SourceHTTPError,
    SourceUnavailableError,
)
from hashshift.sources.http import RetryPolicy
from hashshift.sources.mempool import MempoolClient
from hashshift.store import DB_NAME, Store, StoreError
from hashshift.testing import REGTEST_STRICT, build_chain
from loopback import Chain, LoopbackServer
from sweepspecs import small_sweep

KILL_TRIALS = int(os.environ.get("HASHSHIFT_KILL_TRIALS", "20"))
SEED = int(os.environ.get("HASHSHIFT_FAULT_SEED", "0")) or random.SystemRandom().randrange(2**31)
FAST = RetryPolicy(attempts=3, backoff_s=0.01, max_backoff_s=0.05)
#: Clients' timeout: a loaded two-core machine must not turn a healthy answer into a timeout
#: (the "slow" fault answers after 60 s).
CLIENT_TIMEOUT_S = 1.5
DATA = Path(__file__).parent / "data"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _slow_only_when_asked(request: pytest.FixtureRequest) -> None:
    """Tests marked ``slow`` run under ``make fuzz`` (HASHSHIFT_SLOW=1) or ``-m slow``."""
    if request.node.get_closest_marker("slow") and not os.environ.get("HASHSHIFT_SLOW") \
            and "slow" not in str(request.config.getoption("-m") or ""):
        pytest.skip("slow: runs under `make fuzz` (HASHSHIFT_SLOW=1) or `pytest -m slow`")


# =============================================================================================
# Looking at a store
# =============================================================================================
#: columns that legitimately differ between two runs of the same command
_VOLATILE = {"fetched_at", "replaced_at", "source_id", "raw"}


def raw_view(path: Path, *, no_orphans: bool = False) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, straight from the file (one read-only connection), without
    the columns that differ between runs (ids, fetch times). ``no_orphans``: check that no
    header row belongs to an unregistered source (an unfinished import) first."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        if no_orphans:
            row = con.execute("SELECT count(*) FROM headers WHERE source_id NOT IN "
                              "(SELECT source_id FROM sources)").fetchone()
            assert row is not None and row[0] == 0, f"{row} rows of an unfinished import"
        out: dict[str, list[tuple[Any, ...]]] = {}
        for (t,) in con.execute("SELECT table_name FROM information_schema.tables "
                                "ORDER BY table_name").fetchall():
            cols = [c for (c,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                "ORDER BY ordinal_position", [t]).fetchall() if c not in _VOLATILE]
            out[t] = con.execute(f"SELECT {', '.join(cols)} FROM {t} ORDER BY ALL").fetchall()
        return out
    finally:
        con.close()


def orphans(path: Path) -> int:
    """Header rows whose source is not registered (rows of an unfinished import)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        row = con.execute("SELECT count(*) FROM headers WHERE source_id NOT IN "
                          "(SELECT source_id FROM sources)").fetchone()
        return int(row[0]) if row else 0
    finally:
        con.close()


def user_view(path: Path, params: Any = REGTEST) -> dict[str, list[tuple[Any, ...]]]:
    """What a user sees: the store is opened as any command opens it (leftovers of a killed
    import are purged), then read."""
    Store(path, params=params, lock_timeout_s=10).tip()
    return raw_view(path, no_orphans=True)


def classify(view: dict[str, list[Any]], before: dict[str, list[Any]],
             after: dict[str, list[Any]], *, per_table: bool) -> str:
    """``"before"``, ``"after"`` or ``"partial: <tables>"`` (the state after, table by table,
    with each table's provenance); raises AssertionError for anything else."""
    if view == before:
        return "before"
    if view == after:
        return "after"
    assert per_table, f"neither the state before nor after: {_diff(view, before, after)}"
    done = []
    for t in after:
        if t == "sources":
            continue
        assert view.get(t, []) in (before.get(t, []), after[t]), \
            f"table {t} is in between: {_diff(view, before, after)}"
        if view.get(t, []) != before.get(t, []):
            done.append(t)
    new_sources = [r for r in after["sources"] if r not in before.get("sources", [])]
    want = sorted(before.get("sources", []) + [r for r in new_sources if r[2] in done])
    assert sorted(view["sources"]) == want, "provenance does not match the tables written"
    return "partial: " + ",".join(sorted(done))


def _diff(view: dict[str, list[Any]], before: dict[str, list[Any]],
          after: dict[str, list[Any]]) -> str:
    return "; ".join(f"{t}: {len(view.get(t, []))} rows (before {len(before.get(t, []))}, "
                     f"after {len(after.get(t, []))})" for t in sorted(set(view) | set(after))
                     if view.get(t) not in (before.get(t), after.get(t)))


# =============================================================================================
# kill -9 at random points
# =============================================================================================
# Runs `python -m hashshift ...` with two test hooks: write statements are counted (and the
# process kills itself before or after statement HS_KILL_AT), and the mempool client's polite
# 0.25 s between requests is set to 0 for the loopback server.
HOOK = r"""
import atexit, os, signal, sys, runpy
import duckdb
kill_at = int(os.environ.get("HS_KILL_AT") or 0)
when = os.environ.get("HS_KILL_WHEN", "before")
count_file = os.environ.get("HS_COUNT_FILE")
n = [0]
_connect = duckdb.connect
class _Counted:
    def __init__(self, con):
        self._con = con
    def __getattr__(self, name):
        return getattr(self._con, name)
    def execute(self, *args, **kwargs):
        n[0] += 1
        if n[0] == kill_at and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        out = self._con.execute(*args, **kwargs)
        if n[0] == kill_at and when == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        return out
def connect(*args, **kwargs):
    con = _connect(*args, **kwargs)
    return con if kwargs.get("read_only") else _Counted(con)
duckdb.connect = connect
if count_file:
    atexit.register(lambda: open(count_file, "w").write(str(n[0])))
from hashshift.sources import mempool
mempool.MempoolClient.__init__.__kwdefaults__["min_interval_s"] = 0.0
sys.argv = ["hashshift", *sys.argv[1:]]
runpy.run_module("hashshift", run_name="__main__", alter_sys=True)
"""


# A fork server for the trials: one interpreter imports hashshift's command line once (about 1 s
# of CPU, mostly pandas), then forks a child per trial that runs `hashshift.cli.main()` with the
# trial's arguments -- the code `python -m hashshift` runs -- with the same statement counter.
# The server runs single-threaded (no BLAS or jemalloc background threads), so forking is safe;
# calibration runs are fresh `python -c HOOK` processes.
FORK_SERVER = r"""
import json, os, signal, sys, traceback
import duckdb
kill_at, when, n = [0], ["before"], [0]
_connect = duckdb.connect
class _Counted:
    def __init__(self, con):
        self._con = con
    def __getattr__(self, name):
        return getattr(self._con, name)
    def execute(self, *args, **kwargs):
        n[0] += 1
        if n[0] == kill_at[0] and when[0] == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        out = self._con.execute(*args, **kwargs)
        if n[0] == kill_at[0] and when[0] == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        return out
def connect(*args, **kwargs):
    con = _connect(*args, **kwargs)
    return con if kwargs.get("read_only") else _Counted(con)
duckdb.connect = connect
import hashshift.cli, hashshift.store, hashshift.consensus, hashshift.sweep
from hashshift.sources import bitcoind, ccaf, gridtable, mempool, prices, rawheaders
mempool.MempoolClient.__init__.__kwdefaults__["min_interval_s"] = 0.0
threads = len(os.listdir("/proc/self/task"))
print(json.dumps({"ready": threads}), flush=True)
for line in sys.stdin:
    req = json.loads(line)
    pid = os.fork()
    if pid == 0:
        kill_at[0], when[0], n[0] = req["kill_at"], req["when"], 0
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(os.open(req["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 2)
        sys.argv = ["hashshift", *req["argv"]]
        code = 0
        try:
            hashshift.cli.main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        except BaseException:
            traceback.print_exc()
            code = 1
        if req.get("count_file"):
            with open(req["count_file"], "w") as fh:
                fh.write(str(n[0]))
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    print(json.dumps({"pid": pid}), flush=True)
    _, status = os.waitpid(pid, 0)
    print(json.dumps({"exit": os.waitstatus_to_exitcode(status)}), flush=True)
"""


class ForkServer:
    """Client side of FORK_SERVER: ``start(argv, ...)`` forks a child and returns its PID,
    ``finished()`` tells whether it has ended, ``wait()`` returns its exit code (-9 if
    killed)."""

    def __init__(self, folder: Path, *, wait: bool = True) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
               "JE_ARROW_MALLOC_CONF": "background_thread:false"}
        self.log = folder / "fork-server.log"
        with self.log.open("w") as log:
            self.proc = subprocess.Popen([sys.executable, "-c", FORK_SERVER], env=env,
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=log)
        self._buf = b""
        if wait:
            self.ready()

    def ready(self) -> None:
        got = self._read()
        assert got.get("ready") == 1, f"the fork server is not single-threaded: {got}"

    def _read(self, timeout: float | None = 300) -> dict[str, Any]:
        import json
        import select

        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            ready, _, _ = select.select([fd], [], [], timeout)
            if not ready:
                return {}
            chunk = os.read(fd, 4096)
            if not chunk:
                raise RuntimeError(f"the fork server died: {self.log.read_text()[-2000:]}")
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return dict(json.loads(line))

    def start(self, argv: list[str], stderr: Path, kill_at: int = 0, when: str = "before",
              count_file: Path | None = None) -> int:
        import json

        assert self.proc.stdin is not None
        req = {"argv": argv, "kill_at": kill_at, "when": when, "stderr": str(stderr),
               "count_file": str(count_file) if count_file else None}
        self.proc.stdin.write((json.dumps(req) + "\n").encode())
        self.proc.stdin.flush()
        self._exit: int | None = None
        return int(self._read()["pid"])

    def finished(self) -> bool:
        if self._exit is None:
            got = self._read(timeout=0)
            if got:
                self._exit = int(got["exit"])
        return self._exit is not None

    def wait(self) -> int:
        while not self.finished():
            got = self._read()
            if got:
                self._exit = int(got["exit"])
        assert self._exit is not None
        return self._exit

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=120)


@dataclass
class Op:
    """One command to kill: its CLI arguments, the store before it, how to finish it."""

    name: str
    args: list[str]  # after `hashshift`; "{home}" is replaced by the trial's store folder
    template: Path  # the store before the command
    per_table: bool = False  # tables are written one by one (data update from mempool)
    work: Path | None = None  # a folder copied to {home}/work before each run (a sweep's parts)
    before: dict[str, list[Any]] = field(default_factory=dict)
    after: dict[str, list[Any]] = field(default_factory=dict)
    statements: int = 0  # write statements of a full run
    write_s: float = 0.0  # [s] from the first write to the end of a full run


@dataclass
class Trial:
    op: str
    index: int
    mode: str
    point: str
    returncode: int
    state: str = ""
    recovered: bool = False


def _cmd(op: Op, home: Path) -> list[str]:
    return [sys.executable, "-c", HOOK, "--quiet",
            *[a.replace("{home}", str(home)) for a in op.args]]


def _fresh_home(op: Op, folder: Path) -> Path:
    home = folder / "home"
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    shutil.copyfile(op.template, home / DB_NAME)
    if op.work is not None:
        shutil.copytree(op.work, home / "work")
    return home


def _view(home: Path, *, raw: bool = False) -> dict[str, list[Any]]:
    """The store in ``home`` as a user sees it (``raw``: as the file holds it), with the
    trial's folder written ``{home}`` (a sweep's provenance names its work folder)."""
    view = raw_view(home / DB_NAME, no_orphans=True) if raw else user_view(home / DB_NAME)
    return _portable(view, home)


def _portable(view: dict[str, list[Any]], home: Path) -> dict[str, list[Any]]:
    where = str(home)
    return {t: sorted((tuple(v.replace(where, "{home}") if isinstance(v, str) else v
                             for v in row) for row in rows), key=repr)
            for t, rows in view.items()}


def calibrate(op: Op, folder: Path, server: ForkServer) -> None:
    """Full runs: one in a fresh `python -c HOOK` process (the state after), one from the fork
    server (the same state; the number of write statements; the write window)."""
    home = _fresh_home(op, folder)
    proc = subprocess.run(_cmd(op, home), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    op.before = _portable(raw_view(op.template), op.template.parent)
    op.after = _view(home)
    assert op.after != op.before
    home = _fresh_home(op, folder)
    wal = home / (DB_NAME + ".wal")
    count = folder / "count"
    server.start(["--quiet", *[a.replace("{home}", str(home)) for a in op.args]],
                 folder / "stderr.txt", count_file=count)
    first_write = None
    while not server.finished():
        if first_write is None and wal.exists():
            first_write = time.monotonic()
        time.sleep(0.002)
    end = time.monotonic()
    assert server.wait() == 0, (folder / "stderr.txt").read_text()
    assert _view(home) == op.after
    op.statements = int(count.read_text())
    op.write_s = max(0.05, end - (first_write or end))


def kill_trial(op: Op, index: int, folder: Path, rng: random.Random, server: ForkServer
               ) -> Trial:
    home = _fresh_home(op, folder)
    wal = home / (DB_NAME + ".wal")
    argv = ["--quiet", *[a.replace("{home}", str(home)) for a in op.args]]
    err = folder / "stderr.txt"
    if index % 2 == 0:  # the process kills itself at a random write statement
        k = rng.randint(1, op.statements)
        when = rng.choice(["before", "after"])
        mode, point = "statement", f"{when} write statement {k}/{op.statements}"
        server.start(argv, err, k, when)
        rc = server.wait()
    else:  # killed from outside at a random moment of the write phase
        delay = rng.uniform(0, op.write_s * 1.2)
        mode, point = "time", f"{delay * 1000:.0f} ms after the first write"
        pid = server.start(argv, err)
        deadline = time.monotonic() + 60
        while not server.finished() and not wal.exists() and time.monotonic() < deadline:
            time.sleep(0.002)
        time.sleep(delay)
        try:
            if server.finished():
                raise ProcessLookupError
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:  # it ended (and was reaped) before the kill
            point += " (it had finished)"
        rc = server.wait()
    assert rc in (0, -signal.SIGKILL), err.read_text(errors="replace")
    trial = Trial(op.name, index, mode, point, rc)
    trial.state = classify(_view(home), op.before, op.after,
                           per_table=op.per_table)
    if rc == 0:
        assert trial.state == "after"
    return trial


def recover(op: Op, folder: Path, server: ForkServer) -> None:
    """Run the command again: the store must then hold the state after it (a second run of a
    command that had finished adds only its own provenance row)."""
    home = folder / "home"
    err = folder / "recover-stderr.txt"
    server.start(["--quiet", *[a.replace("{home}", str(home)) for a in op.args]], err)
    assert server.wait() == 0, err.read_text()
    view = _view(home, raw=True)  # the command itself purged leftovers
    for t in op.after:
        if t == "sources":
            assert all(view[t].count(r) >= op.after[t].count(r) for r in op.after[t])
        else:
            assert view[t] == op.after[t], t


@pytest.fixture(scope="module")
def fork_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[queue.Queue[ForkServer]]:
    """Two fork servers (two trials at a time on 2 cores), shared by the kill tests."""
    folder = tmp_path_factory.mktemp("fork_servers")
    started = [ForkServer(folder / f"server{k}", wait=False) for k in range(2)]
    servers: queue.Queue[ForkServer] = queue.Queue()
    for fs in started:
        fs.ready()
        servers.put(fs)
    yield servers
    for fs in started:
        fs.close()


def run_kill_trials(op: Op, tmp: Path, servers: queue.Queue[ForkServer],
                    trials: int = KILL_TRIALS) -> list[Trial]:
    # printed first, so that a failing trial can be replayed (HASHSHIFT_FAULT_SEED=…)
    print(f"\nkill -9 {op.name}: seed {SEED}", flush=True)
    server = servers.get()
    calibrate(op, tmp / "calibration", server)
    servers.put(server)
    rng = random.Random(f"{SEED}-{op.name}")
    seeds = [rng.randrange(2**31) for _ in range(trials)]

    def one(i: int) -> Trial:
        folder = tmp / f"trial{i:03d}"
        server = servers.get()
        try:
            t = kill_trial(op, i, folder, random.Random(seeds[i]), server)
            recover(op, folder, server)
        finally:
            servers.put(server)
        t.recovered = True
        shutil.rmtree(folder, ignore_errors=True)
        return t

    with ThreadPoolExecutor(max_workers=2) as pool:  # 2 cores: two trials at a time
        done = list(pool.map(one, range(trials)))
    states: dict[str, int] = {}
    for t in done:
        states[t.state] = states.get(t.state, 0) + 1
    by_mode = {m: sum(t.mode == m for t in done) for m in ("statement", "time")}
    print(f"\nkill -9 {op.name} (seed {SEED}): {len(done)} trials {by_mode}, "
          f"{sum(t.returncode != 0 for t in done)} killed mid-run; {op.statements} write "
          f"statements, write phase {op.write_s:.2f} s; states {states}; 0 lost, "
          f"{sum(t.recovered for t in done)} recovered")
    return done


@pytest.fixture(scope="module")
def headers_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A regtest store holding headers 0..999, and a file with headers 1000..4999."""
    folder = tmp_path_factory.mktemp("kill_import")
    raw, _ = build_chain(5000, REGTEST, seed=41)
    buf = REGTEST.genesis_header + raw
    st = Store(folder / "template" / DB_NAME, params=REGTEST)
    st.import_headers([buf[: 1000 * 80]], location="first thousand")
    f = folder / "more.bin"
    f.write_bytes(buf[1000 * 80 :])
    return st.path, f


def test_kill_9_during_headers_import(headers_file: tuple[Path, Path], tmp_path: Path,
                                      fork_servers: queue.Queue[ForkServer]) -> None:
    template, f = headers_file
    op = Op("data import (headers)", ["data", "import", str(f), "--network", "regtest",
                                      "--chunk", "250", "--home", "{home}"], template)
    trials = run_kill_trials(op, tmp_path, fork_servers)
    assert len(trials) >= KILL_TRIALS and all(t.recovered for t in trials)
    assert {t.state for t in trials} <= {"before", "after"}
    assert sum(t.returncode == -signal.SIGKILL for t in trials) >= KILL_TRIALS // 2


def test_kill_9_during_csv_import(tmp_path: Path, fork_servers: queue.Queue[ForkServer]
                                  ) -> None:
    template = tmp_path / "template" / DB_NAME
    template.parent.mkdir()
    assert runner.invoke(app, ["data", "import", str(DATA / "prices_close_sample.csv"),
                               "--home", str(template.parent)]).exit_code == 0
    rows = ["date,close"] + [f"{day.date()},{1000 + i * 0.5}" for i, day in enumerate(
        __import__("pandas").date_range("2011-01-01", periods=5000, freq="D"))]
    f = tmp_path / "prices.csv"
    f.write_text("\n".join(rows) + "\n")
    op = Op("data import (CSV)", ["data", "import", str(f), "--home", "{home}"], template)
    trials = run_kill_trials(op, tmp_path, fork_servers)
    assert {t.state for t in trials} <= {"before", "after"}


@pytest.mark.slow
def test_kill_9_during_large_import_with_checkpoints(
        tmp_path: Path, fork_servers: queue.Queue[ForkServer]) -> None:
    """150 000 headers in chunks of 10 000: the WAL passes DuckDB's 16 MiB checkpoint threshold
    during the import, so some kills land in an automatic checkpoint."""
    raw, _ = build_chain(150_000, REGTEST, seed=59)
    buf = REGTEST.genesis_header + raw
    st = Store(tmp_path / "template" / DB_NAME, params=REGTEST)
    st.import_headers([buf[: 1000 * 80]], location="first thousand")
    f = tmp_path / "big.bin"
    f.write_bytes(buf[1000 * 80 :])
    op = Op("data import (150k headers)", ["data", "import", str(f), "--network", "regtest",
                                           "--chunk", "10000", "--home", "{home}"], st.path)
    trials = run_kill_trials(op, tmp_path, fork_servers)
    assert {t.state for t in trials} <= {"before", "after"}


@pytest.fixture(scope="module")
def update_server(tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[tuple[LoopbackServer, Path, Path, Path]]:
    """The loopback server with a 3200-header chain, a cookie, and two stores: headers 0..999
    (for bitcoind: two pages of headers) and 0..3099 (for mempool, which pulls 10 headers per
    request)."""
    folder = tmp_path_factory.mktemp("kill_update")
    chain = Chain.build(3200, REGTEST_STRICT, seed=43)
    low = Store(folder / "low" / DB_NAME, params=REGTEST)
    low.import_headers([chain.raw(0, 1000)], location="first thousand")
    high = Store(folder / "high" / DB_NAME, params=REGTEST)
    high.import_headers([chain.raw(0, 3100)], location="most")
    with LoopbackServer(chain) as srv:
        yield srv, srv.write_cookie(folder / ".cookie"), low.path, high.path


def test_kill_9_during_update(update_server: tuple[LoopbackServer, Path, Path, Path],
                              tmp_path: Path, fork_servers: queue.Queue[ForkServer]) -> None:
    srv, cookie, low, high = update_server
    rpc = Op("data update (bitcoind)",
             ["data", "update", "--source", "bitcoind", "--url", srv.rpc_url, "--cookie-file",
              str(cookie), "--network", "regtest", "--home", "{home}"], low)
    mem = Op("data update (mempool)",
             ["data", "update", "--source", "mempool", "--url", srv.mempool_url,
              "--network", "regtest", "--home", "{home}"], high, per_table=True)
    for op in (rpc, mem):  # KILL_TRIALS from each source
        trials = run_kill_trials(op, tmp_path / op.name.split("(")[1][:-1], fork_servers)
        assert len(trials) == KILL_TRIALS and all(t.recovered for t in trials)
        if not op.per_table:
            assert {t.state for t in trials} <= {"before", "after"}


# A small sweep: 2 ban choices × n Latin hypercube samples, tasks of 8 paths × 30 days.
def small_sweep_n(n: int) -> str:
    return small_sweep("kill_ingest", n=n, paths=8, seed=5, horizon_days=30, gbm=False)


def test_kill_9_during_sweep_ingest(tmp_path: Path, fork_servers: queue.Queue[ForkServer]
                                    ) -> None:
    """``hashshift sweep`` with every part already computed: the run is the ingest, which
    replaces the rows an earlier, smaller run of the same sweep left in the store."""
    from hashshift import sweep as sw

    template = tmp_path / "template" / DB_NAME
    template.parent.mkdir()
    earlier = sw.parse_sweep(small_sweep_n(2), "earlier.toml")
    sw.run_sweep(earlier, scheduler="local", work_dir=tmp_path / "earlier",
                 store=Store(template))
    spec = tmp_path / "sweep.toml"
    spec.write_text(small_sweep_n(4))
    parts = tmp_path / "parts"
    full = sw.run_sweep(sw.load_sweep(spec), scheduler="local", work_dir=parts,
                        ingest_results=False)
    assert len(full.tasks) == 8 and not full.failures
    op = Op("sweep ingest", ["sweep", str(spec), "--scheduler", "local", "--work",
                             "{home}/work", "--home", "{home}"], template, work=parts)
    trials = run_kill_trials(op, tmp_path, fork_servers)
    assert len(trials) >= KILL_TRIALS and all(t.recovered for t in trials)
    assert {t.state for t in trials} <= {"before", "after"}
    assert len(op.before["sweep_results"]) < len(op.after["sweep_results"])
    assert sum(t.returncode == -signal.SIGKILL for t in trials) >= KILL_TRIALS // 2


# =============================================================================================
# Disk full, file size limit, read-only store
# =============================================================================================
@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """``mount(size)``: a fresh tmpfs of that size (skips when this machine does not let us)."""
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        d = tmp_path / f"fs{len(mounted)}"
        d.mkdir()
        try:
            r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755",
                                "tmpfs", str(d)], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError) as exc:
            pytest.skip(f"cannot mount a tmpfs here ({exc})")
        if r.returncode:
            pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip()}): needs root")
        mounted.append(d)
        return d

    yield mount
    for d in mounted:
        subprocess.run(["umount", "-l", str(d)], capture_output=True, timeout=30)


def remount(d: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(d)], check=True, timeout=30)


def fill(d: Path, leave: int) -> Path:
    """Fill the file system of ``d`` up to ``leave`` free bytes; returns the filler file."""
    filler = d / "filler"
    free = os.statvfs(d).f_bavail * os.statvfs(d).f_frsize
    with filler.open("wb") as fh:
        fh.write(b"\0" * max(0, free - leave))
    return filler


@pytest.fixture(scope="module")
def chain_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A regtest store with headers 0..999; files with headers 1000..29999 and 20 000 prices."""
    folder = tmp_path_factory.mktemp("disk")
    raw, _ = build_chain(30_000, REGTEST, seed=47)
    buf = REGTEST.genesis_header + raw
    st = Store(folder / "store" / DB_NAME, params=REGTEST)
    st.import_headers([buf[: 1000 * 80]], location="first thousand")
    more = folder / "more.bin"
    more.write_bytes(buf[1000 * 80 :])
    whole = folder / "all.bin"
    whole.write_bytes(buf)
    import pandas as pd

    days = pd.date_range("1970-01-01", periods=20_000, freq="D")
    prices = folder / "prices.csv"
    prices.write_text("date,close\n" + "".join(f"{d.date()},{i}.25\n" for i, d in
                                               enumerate(days)))
    return {"store": st.path, "headers": more, "all": whole, "prices": prices}


DISK_CASES = [("headers", 16_384), ("headers", 200_000), ("headers", 700_000),
              ("prices", 50_000), ("update", 100_000)]


@pytest.mark.parametrize(("what", "leave"), DISK_CASES)
def test_disk_full(what: str, leave: int, tmpfs: Callable[[str], Path],
                   chain_files: dict[str, Path],
                   update_server: tuple[LoopbackServer, Path, Path, Path]) -> None:
    srv, cookie, low, _ = update_server
    fs = tmpfs("32m")
    template = low if what == "update" else chain_files["store"]
    shutil.copyfile(template, fs / DB_NAME)
    before = user_view(fs / DB_NAME)
    filler = fill(fs, leave)
    args = {
        "headers": ["data", "import", str(chain_files["headers"]), "--network", "regtest",
                    "--chunk", "2000"],
        "prices": ["data", "import", str(chain_files["prices"])],
        "update": ["data", "update", "--source", "bitcoind", "--url", srv.rpc_url,
                   "--cookie-file", str(cookie), "--network", "regtest"],
    }[what] + ["--home", str(fs)]
    res = runner.invoke(app, args)
    assert res.exit_code == 1, res.output
    out = " ".join(res.output.split())
    assert "no space left" in out and "free some space" in out and "unchanged" in out, out
    # while the disk is full, reading shows the previous state or says what to do
    try:
        assert user_view(fs / DB_NAME) == before
    except StoreError as exc:
        assert "no space left" in str(exc), exc
    filler.unlink()  # space freed: the previous state survived, and the command now works
    assert user_view(fs / DB_NAME) == before
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    after = user_view(fs / DB_NAME)
    table = {"headers": "headers", "prices": "prices", "update": "headers"}[what]
    assert len(after[table]) == {"headers": 30_001, "prices": 20_000, "update": 3_201}[what]


def test_disk_full_creating_the_store(tmpfs: Callable[[str], Path],
                                      chain_files: dict[str, Path]) -> None:
    fs = tmpfs("8m")
    filler = fill(fs, 64 * 1024)
    args = ["data", "import", str(chain_files["all"]), "--network", "regtest", "--home",
            str(fs)]
    res = runner.invoke(app, args)
    assert res.exit_code == 1 and "no space left" in " ".join(res.output.split()), res.output
    filler.unlink()
    # whatever was left is not a damaged store: the next command works
    res = runner.invoke(app, ["data", "import", str(DATA / "prices_close_sample.csv"),
                              "--home", str(fs)])
    assert res.exit_code == 0, res.output
    assert len(Store(fs / DB_NAME).read_table("prices")) == 3


LIMIT_RUNNER = r"""
import resource, signal, sys, runpy
limit = int(sys.argv.pop(1))
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
sys.argv = ["hashshift", *sys.argv[1:]]
runpy.run_module("hashshift", run_name="__main__", alter_sys=True)
"""


def test_file_size_limit(tmp_path: Path, chain_files: dict[str, Path]) -> None:
    """Disk full without mount rights: RLIMIT_FSIZE makes writes past a size fail (EFBIG)."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copyfile(chain_files["store"], home / DB_NAME)
    before = user_view(home / DB_NAME)
    limit = (home / DB_NAME).stat().st_size + 300_000
    args = ["--quiet", "data", "import", str(chain_files["headers"]), "--network", "regtest",
            "--chunk", "2000", "--home", str(home)]
    proc = subprocess.run([sys.executable, "-c", LIMIT_RUNNER, str(limit), *args],
                          capture_output=True, text=True, timeout=600)
    err = " ".join(proc.stderr.split())
    assert proc.returncode == 1, err
    assert "file size limit" in err and "unchanged" in err, err
    assert user_view(home / DB_NAME) == before
    res = runner.invoke(app, args[1:])
    assert res.exit_code == 0, res.output
    assert len(raw_view(home / DB_NAME)["headers"]) == 30_001


@pytest.fixture
def read_only(tmpfs: Callable[[str], Path], chain_files: dict[str, Path]
              ) -> Iterator[tuple[Path, Callable[[bool], None]]]:
    """A store on a tmpfs, and ``set_ro(flag)`` to remount it read-only or writable."""
    fs = tmpfs("16m")
    shutil.copyfile(chain_files["store"], fs / DB_NAME)
    yield fs, lambda ro: remount(fs, "ro" if ro else "rw")
    remount(fs, "rw")


def test_read_only_store(read_only: tuple[Path, Callable[[bool], None]],
                         chain_files: dict[str, Path], tmp_path: Path) -> None:
    fs, set_ro = read_only
    before = user_view(fs / DB_NAME)
    set_ro(True)
    # reading works and shows the store as it is
    st = Store(fs / DB_NAME, params=REGTEST, lock_timeout_s=2)
    assert st.tip() is not None and st.tip().height == 999  # type: ignore[union-attr]
    assert len(st.read_table("headers")) == 1000
    res = runner.invoke(app, ["data", "status", "--home", str(fs), "--json"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["data", "export", "--table", "headers", "--out",
                              str(tmp_path / "h.csv"), "--home", str(fs)])
    assert res.exit_code == 0 and (tmp_path / "h.csv").exists(), res.output
    # writing is refused with what to do, and nothing changes
    for args in (["data", "import", str(chain_files["headers"]), "--network", "regtest"],
                 ["data", "import", str(chain_files["prices"])]):
        res = runner.invoke(app, [*args, "--home", str(fs)])
        out = " ".join(res.output.split())
        assert res.exit_code == 1 and "not writable" in out and "HASHSHIFT_HOME" in out, out
    set_ro(False)
    assert user_view(fs / DB_NAME) == before


def test_read_only_store_with_leftovers_of_a_killed_import(
        read_only: tuple[Path, Callable[[bool], None]], chain_files: dict[str, Path]) -> None:
    """A killed import left unregistered rows, then the store became read-only: reads never
    show those rows (they refuse, saying what to do); once writable the store is as before."""
    fs, set_ro = read_only
    before = user_view(fs / DB_NAME)
    env = {**os.environ, "HS_KILL_AT": "12", "HS_KILL_WHEN": "after"}
    proc = subprocess.run([sys.executable, "-c", HOOK, "--quiet", "data", "import",
                           str(chain_files["headers"]), "--network", "regtest", "--chunk",
                           "500", "--home", str(fs)], env=env, capture_output=True, timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert orphans(fs / DB_NAME) > 0  # the killed import's chunks, not registered
    set_ro(True)
    st = Store(fs / DB_NAME, params=REGTEST, lock_timeout_s=2)
    for read in (st.tip, lambda: st.read_table("headers"), st.status):
        with pytest.raises(StoreError, match="not writable.*HASHSHIFT_HOME"):
            read()
    res = runner.invoke(app, ["data", "status", "--home", str(fs)])
    assert res.exit_code == 1 and "not writable" in res.output
    set_ro(False)
    assert user_view(fs / DB_NAME) == before


# =============================================================================================
# Corrupted files
# =============================================================================================
def _flip(path: Path, rng: random.Random, start: int) -> None:
    b = bytearray(path.read_bytes())
    for _ in range(64):
        i = rng.randrange(start, len(b))
        b[i] ^= 0xFF
    path.write_bytes(bytes(b))


def _overwrite(path: Path, lo: int, data: bytes) -> None:
    b = bytearray(path.read_bytes())
    b[lo : lo + len(data)] = data
    path.write_bytes(bytes(b))


CORRUPTIONS: dict[str, Callable[[Path, random.Random], None]] = {
    "random bytes": lambda p, r: p.write_bytes(r.randbytes(p.stat().st_size)),
    "empty file": lambda p, r: p.write_bytes(b""),
    "cut in half": lambda p, r: os.truncate(p, p.stat().st_size // 2),
    "cut to 3 kB": lambda p, r: os.truncate(p, 3000),
    "flipped data bytes": lambda p, r: _flip(p, r, 12_288),
    "zeroed file header": lambda p, r: _overwrite(p, 0, bytes(4096)),
    "garbage database headers": lambda p, r: _overwrite(p, 4096, r.randbytes(8192)),
    "garbage WAL": lambda p, r: p.with_name(p.name + ".wal").write_bytes(r.randbytes(5000)),
}


@pytest.fixture(scope="module")
def wal_store(chain_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
              ) -> tuple[Path, dict[str, list[Any]]]:
    """A store whose last import was committed to the WAL only (the process was killed just
    after its last statement, before the checkpoint), and the state that import made."""
    home = tmp_path_factory.mktemp("wal")
    shutil.copyfile(chain_files["store"], home / DB_NAME)
    count = home / "count"
    args = ["--quiet", "data", "import", str(chain_files["headers"]), "--network", "regtest",
            "--chunk", "5000", "--home", str(home)]
    copy = home / "copy"
    copy.mkdir()
    shutil.copyfile(home / DB_NAME, copy / DB_NAME)
    subprocess.run([sys.executable, "-c", HOOK, *[a.replace(str(home), str(copy))
                                                  for a in args]],
                   env={**os.environ, "HS_COUNT_FILE": str(count)}, check=True, timeout=600)
    after = user_view(copy / DB_NAME)
    env = {**os.environ, "HS_KILL_AT": count.read_text(), "HS_KILL_WHEN": "after"}
    proc = subprocess.run([sys.executable, "-c", HOOK, *args], env=env, timeout=600)
    assert proc.returncode == -signal.SIGKILL
    assert (home / (DB_NAME + ".wal")).stat().st_size > 100_000
    return home / DB_NAME, after


def _hash(path: Path) -> bytes:
    import hashlib

    return b"".join(hashlib.sha256(p.read_bytes()).digest() for p in
                    (path, path.with_name(path.name + ".wal")) if p.exists())


@pytest.mark.parametrize("how", sorted(CORRUPTIONS) + ["WAL cut short"])
def test_corrupted_store(how: str, chain_files: dict[str, Path], tmp_path: Path,
                         wal_store: tuple[Path, dict[str, list[Any]]]) -> None:
    """Every command either works on exactly the data stored, or fails saying the store is
    damaged and what to do; none touches the damaged files; following the advice works."""
    print(f"seed {SEED} (HASHSHIFT_FAULT_SEED replays this case)")
    rng = random.Random(f"{SEED}-{how}")
    path = tmp_path / "home" / DB_NAME
    path.parent.mkdir()
    if how == "WAL cut short":
        src, after = wal_store
        shutil.copyfile(src, path)
        wal = src.with_name(src.name + ".wal")
        data = wal.read_bytes()
        path.with_name(path.name + ".wal").write_bytes(data[: rng.randrange(len(data))])
        good = [user_view(chain_files["store"]), after]
    else:
        shutil.copyfile(chain_files["store"], path)
        good = [raw_view(path)]
        CORRUPTIONS[how](path, rng)
    damaged = _hash(path)
    chains = [[(int(r[0]), str(r[1])) for r in g["headers"]] for g in good]
    st = Store(path, params=REGTEST, lock_timeout_s=2)
    results: dict[str, str] = {}

    def check_tip() -> None:
        tip = st.tip()
        assert tip is not None and any(tip.hash[::-1].hex() == c[-1][1] for c in chains)

    def check_read() -> None:
        df = st.read_table("headers")
        assert list(zip(df["height"].astype(int), df["hash"], strict=True)) in chains

    def check_hash() -> None:
        assert any(st.header_hash_at(500) == c[500][1] for c in chains)

    def check_status() -> None:
        rows = st.status().set_index("table")["rows"]
        assert int(rows["headers"]) in [len(c) for c in chains]

    def check_import() -> None:
        st.import_headers([chain_files["headers"].read_bytes()[: 80 * 100]], location="more")
        assert st.tip().height >= 999  # type: ignore[union-attr]

    # reads first (they must show exactly the data stored), then a write
    for name, op in [("tip", check_tip), ("read", check_read), ("hash", check_hash),
                     ("status", check_status), ("import", check_import)]:
        try:
            op()
            results[name] = "ok"
        except StoreError as exc:
            msg = " ".join(str(exc).split())
            assert "damaged" in msg and "move it away" in msg, msg
            results[name] = "damaged"
    cli = runner.invoke(app, ["data", "status", "--home", str(path.parent), "--json"])
    assert cli.exit_code in (0, 1), cli.output
    if cli.exit_code:
        assert "damaged" in cli.output and "move it away" in " ".join(cli.output.split())
    if results["import"] == "damaged":
        assert _hash(path) == damaged  # the damaged files are left for the user to inspect
    # the advice: move it away, and the next command starts a new store
    if "damaged" in results.values():
        for p in list(path.parent.iterdir()):
            p.rename(tmp_path / p.name)
        res = runner.invoke(app, ["data", "import", str(DATA / "prices_close_sample.csv"),
                                  "--home", str(path.parent)])
        assert res.exit_code == 0, res.output
    print(f"{how}: {results}, cli exit {cli.exit_code}")


# =============================================================================================
# Network faults the loopback server cannot make, through a fault proxy
# =============================================================================================
class FaultProxy:
    """A raw TCP server in front of a :class:`LoopbackServer`: each request is answered with the
    next scripted fault, or forwarded when none is left. Faults:

    ``reset_mid_body`` (the real status and Content-Length, half the body, then a TCP reset),
    ``reset`` (a reset instead of an answer), ``garbage`` (bytes that are not HTTP),
    ``bad_gzip`` (``Content-Encoding: gzip`` on a body that is not gzip), ``redirect`` (307 to
    the same URL), ``html`` (HTTP 200 with an HTML error page), ``empty`` (HTTP 200, no body),
    ``no_length`` (the real answer without Content-Length, the body ending at close: valid).
    """

    KINDS = ("reset_mid_body", "reset", "garbage", "bad_gzip", "redirect", "html", "empty",
             "no_length")

    def __init__(self, backend: LoopbackServer) -> None:
        self.backend = backend
        self.script: list[str] = []
        self.seen: list[str] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                proxy._handle(self)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def inject(self, kind: str, times: int = 1) -> None:
        assert kind in self.KINDS
        with self.lock:
            self.script += [kind] * times

    def _handle(self, h: socketserver.StreamRequestHandler) -> None:
        line = h.rfile.readline(65536).decode("latin-1")
        if not line.strip():
            return
        method, path, _ = line.split(" ", 2)
        headers: dict[str, str] = {}
        while True:
            hl = h.rfile.readline(65536).decode("latin-1")
            if hl in ("\r\n", "\n", ""):
                break
            k, _, v = hl.partition(":")
            headers[k.strip()] = v.strip()
        body = h.rfile.read(int(headers.get("Content-Length", "0") or 0))
        with self.lock:
            fault = self.script.pop(0) if self.script else "forward"
            self.seen.append(fault)
        sock = h.connection
        if fault in ("reset", "garbage", "redirect", "html", "empty"):
            if fault == "reset":
                _reset(sock)
                return
            out = {
                "garbage": b"\x16\x03\x01\x02\x00 this is not HTTP\r\n\r\n",
                "redirect": (f"HTTP/1.1 307 Temporary Redirect\r\nLocation: {self.url}{path}\r\n"
                             "Content-Length: 0\r\nConnection: close\r\n\r\n").encode(),
                "html": _response(200, b"<html><body>502 Bad Gateway</body></html>",
                                  "text/html"),
                "empty": _response(200, b"", "application/json"),
            }[fault]
            sock.sendall(out)
            return
        conn = http.client.HTTPConnection("127.0.0.1", self.backend.port, timeout=10)
        fwd = {k: v for k, v in headers.items() if k.lower() not in ("host", "connection")}
        conn.request(method, path, body=body or None, headers=fwd)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        ctype = resp.getheader("Content-Type", "application/octet-stream")
        if fault == "reset_mid_body":
            sock.sendall(_response(resp.status, data, ctype)[: -(len(data) // 2) or None])
            _reset(sock)
        elif fault == "bad_gzip":
            sock.sendall(_response(resp.status, data, ctype, {"Content-Encoding": "gzip"}))
        elif fault == "no_length":
            sock.sendall(f"HTTP/1.1 {resp.status} X\r\nContent-Type: {ctype}\r\n"
                         "Connection: close\r\n\r\n".encode() + data)
        else:
            sock.sendall(_response(resp.status, data, ctype))


def _response(status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None
              ) -> bytes:
    head = [f"HTTP/1.1 {status} X", f"Content-Type: {ctype}", f"Content-Length: {len(body)}",
            "Connection: close", *[f"{k}: {v}" for k, v in (extra or {}).items()]]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset (SO_LINGER on, 0 s) instead of an orderly FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@pytest.fixture(scope="module")
def net_chain() -> Chain:
    return Chain.build(300, REGTEST_STRICT, seed=7)


@pytest.fixture
def proxy(net_chain: Chain) -> Iterator[FaultProxy]:
    with LoopbackServer(net_chain) as srv, FaultProxy(srv) as px:
        yield px


def _clients(px: FaultProxy, tmp_path: Path) -> dict[str, Any]:
    nosleep: Callable[[float], None] = lambda s: None  # noqa: E731
    cookie = px.backend.write_cookie(tmp_path / ".cookie")
    return {
        "mempool": MempoolClient(px.url + "/api", timeout_s=2.0, retry=FAST, min_interval_s=0,
                                 sleep=nosleep, seed=1),
        "bitcoind": BitcoinRPC(px.url, cookie_file=cookie, timeout_s=2.0, retry=FAST,
                               sleep=nosleep, seed=1),
    }


@pytest.mark.parametrize("kind", FaultProxy.KINDS)
@pytest.mark.parametrize("source", ["mempool", "bitcoind"])
def test_network_fault_once_is_retried(kind: str, source: str, proxy: FaultProxy,
                                       net_chain: Chain, tmp_path: Path) -> None:
    client = _clients(proxy, tmp_path)[source]
    proxy.inject(kind)
    with client:
        if source == "mempool" and kind in ("html", "empty"):
            # a text endpoint: an HTML page or nothing is a wrong answer, refused at once
            with pytest.raises(SourceFormatError, match="tip height"):
                client.get_tip_height()
            assert proxy.seen == [kind]
            return
        assert client.get_tip_height() == 300
        data = client.get_headers(101, 30)
    assert data == net_chain.raw(101, 30)
    if kind != "no_length":  # a faulty answer costs one more request
        assert proxy.seen[0] == kind and proxy.seen[1] == "forward"


@pytest.mark.parametrize("kind", [k for k in FaultProxy.KINDS if k != "no_length"])
@pytest.mark.parametrize("source", ["mempool", "bitcoind"])
def test_network_fault_persistent_fails_cleanly(kind: str, source: str, proxy: FaultProxy,
                                                tmp_path: Path) -> None:
    client = _clients(proxy, tmp_path)[source]
    proxy.inject(kind, times=99)
    with client, pytest.raises(SourceError) as err:
        client.get_headers(101, 30)
    exc = err.value
    assert proxy.url in str(exc)
    if kind == "redirect":  # a redirect loop is not retried
        assert isinstance(exc, SourceUnavailableError) and "redirect loop" in str(exc)
        assert exc.attempts == 1
    elif isinstance(exc, SourceUnavailableError):
        assert exc.attempts == FAST.attempts and "attempt" in str(exc)
    else:  # a wrong answer, not retried
        assert isinstance(exc, SourceFormatError | SourceHTTPError), exc
        assert len(proxy.seen) == 1


def test_update_through_faults_stores_nothing_then_completes(
        proxy: FaultProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`hashshift data update` against a source that keeps failing: exit 1, the URL named, the
    store unchanged; once the source works, the same command completes."""
    chain = proxy.backend.chain
    home = tmp_path / "home"
    st = Store(home / DB_NAME, params=REGTEST)
    st.import_headers([chain.raw(0, 101)], location="first hundred")
    before = user_view(st.path)
    cookie = proxy.backend.write_cookie(tmp_path / ".cookie")
    args = ["data", "update", "--source", "bitcoind", "--url", proxy.url, "--cookie-file",
            str(cookie), "--network", "regtest", "--home", str(home)]
    proxy.inject("reset_mid_body", times=999)
    # the CLI's retry policy (5 attempts), with short waits
    monkeypatch.setattr(RetryPolicy.__init__, "__defaults__", (5, 0.01, 2.0, 0.05, 0.25, 300.0))
    res = runner.invoke(app, args)
    out = " ".join(res.output.split())
    assert res.exit_code == 1 and proxy.url in out and "after 5 attempt" in out, out
    assert user_view(st.path) == before
    proxy.script.clear()
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert st.tip().height == 300  # type: ignore[union-attr]


# =============================================================================================
# Sources that fail or reorganise in the middle of an update
# =============================================================================================
class MidUpdate:
    """A header source that calls ``hook`` once, before its ``at``-th ``get_headers`` call."""

    def __init__(self, inner: Any, at: int, hook: Callable[[], None]) -> None:
        self.inner, self.at, self.hook, self.calls = inner, at, hook, 0
        self.source = inner.source

    def get_tip_height(self) -> int:
        return int(self.inner.get_tip_height())

    def get_headers(self, start: int, count: int, **kw: Any) -> bytes:
        self.calls += 1
        if self.calls == self.at:
            self.hook()
        return bytes(self.inner.get_headers(start, count, **kw))


@pytest.fixture(scope="module")
def mid_chain(tmp_path_factory: pytest.TempPathFactory) -> tuple[Chain, Path]:
    """A 1400-header chain and a store holding its headers 0..999."""
    chain = Chain.build(1400, REGTEST_STRICT, seed=53)
    st = Store(tmp_path_factory.mktemp("mid") / DB_NAME, params=REGTEST_STRICT)
    st.import_headers([chain.raw(0, 1000)], location="first thousand")
    return chain, st.path


@pytest.fixture
def mid(tmp_path: Path, mid_chain: tuple[Chain, Path]
        ) -> Iterator[tuple[LoopbackServer, Store, Callable[..., Any]]]:
    """A server with 1400 headers, a store holding 0..999, and ``client(kind)``."""
    chain, template = mid_chain
    shutil.copyfile(template, tmp_path / DB_NAME)
    st = Store(tmp_path / DB_NAME, params=REGTEST_STRICT, lock_timeout_s=5)
    with LoopbackServer(chain) as srv:
        nosleep: Callable[[float], None] = lambda s: None  # noqa: E731

        def client(kind: str) -> Any:
            if kind == "mempool":
                return MempoolClient(srv.mempool_url, timeout_s=CLIENT_TIMEOUT_S, retry=FAST,
                                     min_interval_s=0, sleep=nosleep, seed=1)
            return BitcoinRPC(srv.rpc_url, user=srv.rpc_user, password=srv.rpc_password,
                              timeout_s=CLIENT_TIMEOUT_S, retry=FAST, sleep=nosleep, seed=1)

        yield srv, st, client


MID_FAULTS: dict[str, tuple[Callable[[LoopbackServer], None], type[Exception], str]] = {
    "HTTP 500 from then on": (lambda s: s.inject("status", status=500, times=999),
                              SourceUnavailableError, "HTTP 500"),
    "429 from then on": (lambda s: s.inject("status", status=429, retry_after="0", times=999),
                         SourceUnavailableError, "HTTP 429"),
    "timeouts from then on": (lambda s: s.inject("slow", delay_s=60.0, times=999),
                              SourceUnavailableError, "timed out"),
    "truncated bodies": (lambda s: s.inject("truncate", times=999), SourceUnavailableError,
                         "incomplete response"),
    "bodies cut in half": (lambda s: s.inject("cut_json", times=999), SourceUnavailableError,
                           "attempt"),
    "connections closed": (lambda s: s.inject("close", times=999), SourceUnavailableError,
                           "attempt"),
    "a header failing its proof of work": (lambda s: s.corrupt_pow(1150, consistent=True),
                                           HeaderValidationError, "height 1150"),
    "a header that is not the block asked for": (lambda s: s.corrupt_pow(1150),
                                                 SourceFormatError, "hashes to"),
}


@pytest.mark.parametrize("fault", sorted(MID_FAULTS))
@pytest.mark.parametrize("source", ["mempool", "bitcoind"])
def test_source_fails_mid_update(fault: str, source: str,
                                 mid: tuple[LoopbackServer, Store, Callable[..., Any]]) -> None:
    srv, st, client = mid
    make_fault, exc_type, message = MID_FAULTS[fault]
    before = user_view(st.path, REGTEST_STRICT)
    with client(source) as c:
        # call 1 checks our tip, call 2 brings the first page (stored), then the fault
        flaky = MidUpdate(c, 3, lambda: make_fault(srv))
        with pytest.raises(exc_type, match=message):
            st.update_headers(flaky, page=100)
    assert flaky.calls >= 3
    assert user_view(st.path, REGTEST_STRICT) == before  # the stored first pages were dropped
    srv.clear_faults()
    with client(source) as c:
        res = st.update_headers(c, page=100)
    assert (res.height, res.added) == (1400, 401)


def test_reorg_above_the_stored_tip_during_update(
        mid: tuple[LoopbackServer, Store, Callable[..., Any]]) -> None:
    srv, st, client = mid
    before = user_view(st.path, REGTEST_STRICT)
    with client("bitcoind") as c:
        flaky = MidUpdate(c, 4, lambda: srv.reorg(fork_height=1150, extra=20, tag=b"above"))
        with pytest.raises(BadLinkError):  # pages 1-2 from the old chain, page 3 from the new
            st.update_headers(flaky, page=100)
        assert user_view(st.path, REGTEST_STRICT) == before
        res = st.update_headers(c, page=100)
    new = srv.chain
    assert res.height == new.tip_height == 1420 and res.hash == new.tip_hash
    assert res.replaced == 0 and st.read_table("stale_headers").empty


def test_reorg_below_the_stored_tip_during_update(
        mid: tuple[LoopbackServer, Store, Callable[..., Any]]) -> None:
    srv, st, client = mid
    before = user_view(st.path, REGTEST_STRICT)
    old_hashes = list(st.read_table("headers")["hash"])
    with client("mempool") as c:
        # the source reorganises below our tip between our tip check and the first page
        flaky = MidUpdate(c, 2, lambda: srv.reorg(fork_height=990, extra=30, tag=b"below"))
        with pytest.raises(BadLinkError):
            st.update_headers(flaky, page=100)
        assert user_view(st.path, REGTEST_STRICT) == before
        res = st.update_headers(c, page=100)  # now the fork is seen: the branch replaces ours
    new = srv.chain
    assert res.height == new.tip_height == 1430 and res.replaced == 9
    stale = st.read_table("stale_headers")
    assert sorted(stale["hash"]) == sorted(old_hashes[991:1000])  # kept, not dropped
    assert list(st.read_table("headers")["hash"]) == new.hashes


def test_reorg_to_less_work_or_too_deep_is_refused(
        mid: tuple[LoopbackServer, Store, Callable[..., Any]]) -> None:
    srv, st, client = mid
    before = user_view(st.path, REGTEST_STRICT)
    old = srv.chain
    with client("bitcoind") as c:
        srv.set_chain(old.fork(985, 10, tag=b"weak"))  # tip 995 < our 999: less work
        with pytest.raises(StoreError, match="no more work"):
            st.update_headers(c)
        assert user_view(st.path, REGTEST_STRICT) == before
        srv.set_chain(old.fork(979, 30, tag=b"deep"))  # more work, but 20 blocks deep
        with pytest.raises(StoreError, match="more than 10 blocks.*same network"):
            st.update_headers(c, max_reorg_depth=10)
        assert user_view(st.path, REGTEST_STRICT) == before
        res = st.update_headers(c, max_reorg_depth=25)  # deep enough: the branch is taken
    assert res.replaced == 20 and res.height == 1009
