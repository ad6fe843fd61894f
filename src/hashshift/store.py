"""The local data store: one DuckDB file, atomic batches, provenance for every row.

- Location: ``$HASHSHIFT_HOME/hashshift.duckdb``, else the user data directory (platformdirs).
- Every write is one transaction: a whole batch lands or none of it does. DuckDB's write-ahead
  log makes a committed batch durable and discards an uncommitted one when the process dies
  (also under ``kill -9``), so the store is always at the last committed state.
- One writer at a time: DuckDB locks the file per process. A second process waits up to
  ``lock_timeout_s`` and then fails with :class:`StoreBusyError` naming the holder's PID.
- Headers are verified with :func:`hashshift.consensus.validate_headers` before anything is
  written; a competing branch with more work replaces the stale tip and the replaced headers are
  moved to ``stale_headers``, never dropped.
- Every row carries a ``source_id`` pointing into ``sources`` (what, where from, when).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np

if TYPE_CHECKING:  # pandas is imported where frames are made: header imports stay lean
    import pandas as pd

from .consensus import (
    HEADER_SIZE,
    MAINNET,
    BadPowError,
    ChainState,
    Header,
    HeaderFormatError,
    HeaderValidationError,
    Params,
    block_proof,
    validate_headers,
)

SCHEMA_VERSION = 1
DB_NAME = "hashshift.duckdb"

#: Tables users may export, with their primary sort order.
TABLES: dict[str, str] = {
    "headers": "height",
    "stale_headers": "replaced_at, height",
    "epochs": "epoch",
    "hashrate": "time",
    "difficulty_adjustments": "height",
    "mining_map": "date, level, region_code",
    "prices": "date",
    "energy": "date",
    "grid": "region_code, month",
    "sweep_results": "sweep, task, metric",
    "pool_shares": "as_of, period, rank",
    "sources": "source_id",
}

_DDL = """
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE SEQUENCE IF NOT EXISTS source_seq START 1;
CREATE TABLE IF NOT EXISTS sources (
    source_id INTEGER PRIMARY KEY, kind VARCHAR NOT NULL, location VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL, rows BIGINT NOT NULL, fetched_at TIMESTAMPTZ NOT NULL,
    note VARCHAR);
CREATE TABLE IF NOT EXISTS headers (
    height BIGINT NOT NULL, hash VARCHAR NOT NULL, time TIMESTAMPTZ NOT NULL,
    bits BIGINT NOT NULL, raw BLOB NOT NULL, chainwork VARCHAR, source_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS stale_headers (
    height BIGINT NOT NULL, hash VARCHAR NOT NULL, time TIMESTAMPTZ NOT NULL,
    bits BIGINT NOT NULL, raw BLOB NOT NULL, chainwork VARCHAR, source_id INTEGER NOT NULL,
    replaced_at TIMESTAMPTZ NOT NULL, replaced_by VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS epochs (
    epoch BIGINT PRIMARY KEY, first_height BIGINT, bits VARCHAR, difficulty DOUBLE,
    change_pct DOUBLE, first_time TIMESTAMPTZ, last_time TIMESTAMPTZ, duration_s DOUBLE,
    hashrate_ehs DOUBLE, hashrate_lo_ehs DOUBLE, hashrate_hi_ehs DOUBLE,
    duration_source VARCHAR, source_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS hashrate (
    time TIMESTAMPTZ PRIMARY KEY, hashrate_ehs DOUBLE, source_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS difficulty_adjustments (
    height BIGINT PRIMARY KEY, time TIMESTAMPTZ, difficulty DOUBLE, change_pct DOUBLE,
    source_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS mining_map (
    date DATE NOT NULL, level VARCHAR NOT NULL, region_code VARCHAR NOT NULL,
    region_name VARCHAR, share_pct DOUBLE, basis VARCHAR, hashrate_ehs DOUBLE,
    source_id INTEGER NOT NULL, PRIMARY KEY (date, level, region_code));
CREATE TABLE IF NOT EXISTS prices (
    date DATE PRIMARY KEY, price_usd DOUBLE, hashrate_ehs DOUBLE, blocks DOUBLE,
    fees_btc DOUBLE, subsidy_btc DOUBLE, revenue_usd DOUBLE, difficulty DOUBLE,
    source_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS energy (
    date DATE NOT NULL, series VARCHAR NOT NULL, value DOUBLE, unit VARCHAR,
    source_id INTEGER NOT NULL, PRIMARY KEY (date, series));
CREATE TABLE IF NOT EXISTS grid (
    region_code VARCHAR NOT NULL, month INTEGER NOT NULL, price_usd_kwh DOUBLE,
    intensity_g_kwh DOUBLE, source VARCHAR, source_id INTEGER NOT NULL,
    PRIMARY KEY (region_code, month));
CREATE TABLE IF NOT EXISTS sweep_results (
    sweep VARCHAR NOT NULL, task INTEGER NOT NULL, seed BIGINT, params VARCHAR,
    metric VARCHAR NOT NULL, value DOUBLE, source_id INTEGER NOT NULL,
    PRIMARY KEY (sweep, task, metric));
CREATE TABLE IF NOT EXISTS pool_shares (
    period VARCHAR NOT NULL, as_of TIMESTAMPTZ NOT NULL, rank INTEGER NOT NULL,
    pool_slug VARCHAR NOT NULL, pool_name VARCHAR NOT NULL, blocks BIGINT NOT NULL,
    empty_blocks BIGINT, share_pct DOUBLE NOT NULL, period_blocks BIGINT NOT NULL,
    source_id INTEGER NOT NULL, PRIMARY KEY (period, as_of, pool_slug));
"""


class StoreError(RuntimeError):
    """A store problem the user can act on; the message says what to do."""


class StoreBusyError(StoreError):
    """Another process holds the store's write lock."""


def default_home() -> Path:
    """Folder of the store: ``$HASHSHIFT_HOME`` or the user data directory."""
    env = os.environ.get("HASHSHIFT_HOME")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("hashshift", appauthor=False))


@dataclass(frozen=True)
class HeaderImport:
    """What a header batch did: ``added`` headers, tip ``height``/``hash``, reorg depth."""

    added: int
    height: int
    hash: str
    replaced: int = 0
    source_id: int | None = None


class Store:
    """The DuckDB store. Connections are opened per operation and closed at once, so that other
    processes are blocked only while a batch is being written."""

    def __init__(self, path: str | Path | None = None, *, lock_timeout_s: float = 30.0,
                 params: Params = MAINNET, memory_limit: str = "32MB"):
        if path is None:
            path = default_home() / DB_NAME
        self.path = Path(path)
        self.lock_timeout_s = lock_timeout_s
        self.memory_limit = memory_limit
        self.params = params

    # -- connections ------------------------------------------------------------------------
    def _connect(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        if read_only and not self.path.exists():
            raise FileNotFoundError(self.path)
        if not read_only:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the store folder {self.path.parent}: {exc}; "
                                 "set HASHSHIFT_HOME to a writable folder") from exc
        deadline = time.monotonic() + self.lock_timeout_s
        delay = 0.05
        while True:
            try:
                return duckdb.connect(str(self.path), read_only=read_only)
            except duckdb.IOException as exc:
                msg = str(exc)
                if "lock" not in msg.lower():
                    raise _explain_io_error(self.path, exc) from exc
                if time.monotonic() >= deadline:
                    pid = re.search(r"PID (\d+)", msg)
                    who = f"process {pid.group(1)}" if pid else "another process"
                    raise StoreBusyError(
                        f"the store {self.path} is in use by {who} (waited "
                        f"{self.lock_timeout_s:g} s); wait for it to finish and try again"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
            except duckdb.Error as exc:
                raise _explain_io_error(self.path, exc) from exc

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection | None]:
        """A read-only connection, or ``None`` when no store file exists yet."""
        if not self.path.exists():
            yield None
            return
        con = self._connect(read_only=True)
        try:
            if _has_unfinished(con):  # rows of an import that was killed: drop them first
                con.close()
                with self.writer():
                    pass
                con = self._connect(read_only=True)
            yield con
        except duckdb.Error as exc:  # e.g. a block of a damaged file, met by a query
            raise _explain_io_error(self.path, exc) from exc
        finally:
            con.close()

    @contextmanager
    def writer(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The write connection (schema ensured, leftovers of an interrupted import purged)."""
        con = self._connect(read_only=False)
        try:
            # A bounded buffer pool: large batches stream to the file instead of memory.
            con.execute(f"SET memory_limit = '{self.memory_limit}'")
            con.execute(_DDL)
            con.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                        [str(SCHEMA_VERSION)])
            _purge_unfinished(con)
            yield con
        except duckdb.Error as exc:
            raise _explain_io_error(self.path, exc) from exc
        finally:
            con.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One atomic batch: everything inside commits together or not at all."""
        with self.writer() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    # -- provenance ---------------------------------------------------------------------------
    @staticmethod
    def _add_source(con: duckdb.DuckDBPyConnection, kind: str, location: str, table: str,
                    rows: int, note: str | None = None) -> int:
        sid = _one(con, "SELECT nextval('source_seq')")
        assert sid is not None
        con.execute("INSERT INTO sources VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [sid[0], kind, location, table, rows, datetime.now(UTC), note])
        return int(sid[0])

    # -- headers ------------------------------------------------------------------------------
    def tip(self) -> ChainState | None:
        """Chain state at the stored tip (``None`` when no headers are stored)."""
        with self.read() as con:
            if con is None or not _has_table(con, "headers"):
                return None
            return _tip_state(con, self.params)

    def header_hash_at(self, height: int) -> str | None:
        with self.read() as con:
            if con is None or not _has_table(con, "headers"):
                return None
            row = _one(con, "SELECT hash FROM headers WHERE height = ?", [height])
            return None if row is None else str(row[0])

    def import_headers(
        self,
        chunks: Iterable[bytes],
        *,
        start_height: int | None = None,
        kind: str = "headers-file",
        location: str = "",
        progress: Callable[[int], None] | None = None,
    ) -> HeaderImport:
        """Validate and append headers (an iterable of byte chunks of whole 80-byte headers).

        The batch extends the stored tip; on an empty store it starts at the genesis block, or at
        ``start_height`` (a multiple of 2016; its first header is trusted as a checkpoint and
        checked for proof of work). Headers already stored (same height and hash) are skipped.
        Raises :class:`hashshift.consensus.HeaderValidationError` for the first bad header;
        then nothing of the batch is written.
        """
        params = self.params
        # Chunks are committed one by one (memory stays flat) under a source id that is
        # registered in `sources` only by the final commit: until then the rows are not part of
        # the store, and rows of a killed import are purged before anything reads the store.
        with self.writer() as con:
            state = _tip_state(con, params)
            row = _one(con, "SELECT nextval('source_seq')")
            assert row is not None
            sid = int(row[0])
            try:
                state, added = self._stream_headers(con, chunks, state, start_height, sid,
                                                    location, progress)
            except BaseException as exc:
                con.execute("DELETE FROM headers WHERE source_id = ?", [sid])
                if isinstance(exc, HeaderValidationError) and location and \
                        location not in str(exc):
                    raise _located(exc, location) from exc
                raise
            if state is None:  # refused before its provenance is registered: nothing written
                raise HeaderFormatError(f"{location or 'input'}: no headers")
            con.execute("INSERT INTO sources VALUES (?, ?, ?, 'headers', ?, ?, NULL)",
                        [sid, kind, location, added, datetime.now(UTC)])
        return HeaderImport(added, state.height, state.hash[::-1].hex(), 0, sid)

    def _stream_headers(
        self, con: duckdb.DuckDBPyConnection, chunks: Iterable[bytes], state: ChainState | None,
        start_height: int | None, sid: int, location: str,
        progress: Callable[[int], None] | None,
    ) -> tuple[ChainState | None, int]:
        params = self.params
        work = state.chainwork if state is not None else None
        added = 0
        started = False
        skip_from: int | None = None  # height of the next input header while re-reading
        pending = b""
        for chunk in chunks:
            data = pending + chunk
            cut = len(data) - len(data) % HEADER_SIZE
            data, pending = data[:cut], data[cut:]
            if not data:
                continue
            if not started:
                started = True
                was_empty = state is None
                data, state, skip_from, work = _start(
                    con, data, state, start_height, params, sid, location)
                if was_empty and state is not None:  # anchored at start_height
                    added += 1
                if state is not None and skip_from is None and data and work is None:
                    work = state.chainwork
            if skip_from is not None and data:
                data, skip_from = _skip_stored(con, data, skip_from, state, location)
            if not data:
                continue
            base = state.height + 1 if state is not None else 0
            hashes: list[bytes] = []
            new_state = validate_headers(data, state, params, hashes_out=hashes)
            if state is None:  # the batch began with the genesis header
                hashes.insert(0, params.genesis_hash)
                work = 0
            work = _insert_headers(con, data, base, hashes, work, sid)
            state = new_state
            added += len(hashes)
            if progress is not None:
                progress(added)
        if pending:
            raise HeaderFormatError(
                f"{location or 'input'}: {len(pending)} trailing bytes are not a whole "
                "80-byte header (the file is truncated)"
            )
        return state, added

    def apply_branch(self, fork_height: int, branch: bytes, *, kind: str, location: str
                     ) -> HeaderImport:
        """Replace the stored headers above ``fork_height`` by ``branch`` when it has more work.

        The branch is validated from the stored header at ``fork_height``; the replaced headers
        are moved to ``stale_headers``. A branch with no more work than the stored one is refused
        (:class:`StoreError`), and nothing changes.
        """
        params = self.params
        with self.transaction() as con:
            state = _state_at(con, fork_height, params)
            hashes: list[bytes] = []
            new_state = validate_headers(branch, state, params, hashes_out=hashes)
            n_new = len(branch) // HEADER_SIZE
            old = con.execute("SELECT bits FROM headers WHERE height > ? ORDER BY height",
                              [fork_height]).fetchall()
            old_work = sum(block_proof(int(b)) for (b,) in old)
            new_work = sum(block_proof(int(h.bits)) for h in _iter_headers(branch))
            if new_work <= old_work:
                raise StoreError(
                    f"the branch from height {fork_height + 1} has {n_new} headers and no more "
                    f"work than the stored one ({len(old)} headers); keeping the stored chain"
                )
            new_tip_hash = new_state.hash[::-1].hex()
            con.execute(
                "INSERT INTO stale_headers SELECT *, ?, ? FROM headers WHERE height > ?",
                [datetime.now(UTC), new_tip_hash, fork_height],
            )
            con.execute("DELETE FROM headers WHERE height > ?", [fork_height])
            sid = self._add_source(con, kind, location, "headers", n_new,
                                   note=f"reorg at {fork_height + 1}: replaced {len(old)} headers")
            _insert_headers(con, branch, fork_height + 1, hashes, state.chainwork, sid)
        return HeaderImport(n_new, new_state.height, new_tip_hash, len(old), sid)

    def update_headers(
        self,
        source: Any,
        *,
        start_height: int | None = None,
        max_headers: int | None = None,
        page: int = 2000,
        max_reorg_depth: int = 144,
        location: str = "",
        progress: Callable[[int], None] | None = None,
    ) -> HeaderImport:
        """Pull new headers from ``source`` (``get_tip_height()``, ``get_headers(start, n)``),
        validate them and store them in one atomic batch.

        On an empty store the pull starts at ``start_height`` (default: the first block of the
        previous difficulty period, so the next retarget is checked in full). When the source's
        header at the stored tip differs, the fork point is searched up to ``max_reorg_depth``
        blocks back and the source's branch replaces the stored one if it has more work
        (:meth:`apply_branch`).
        """
        interval = self.params.interval
        remote = int(source.get_tip_height())
        tip = self.tip()
        kind = getattr(source, "source", type(source).__name__)
        if tip is None:
            if start_height is None:
                start_height = max(0, (remote // interval - 1) * interval)
            first = start_height
        else:
            stored = self.header_hash_at(tip.height)
            if tip.height <= remote:
                theirs = Header.parse(source.get_headers(tip.height, 1)).hash_hex
            else:
                theirs = None
            if theirs != stored:
                return self._reorg(source, tip.height, remote, max_reorg_depth, kind, location)
            first = tip.height + 1
        last = remote if max_headers is None else min(remote, first + max_headers - 1)
        if last < first:
            assert tip is not None
            return HeaderImport(0, tip.height, tip.hash[::-1].hex(), 0, None)

        def pages() -> Iterator[bytes]:
            for h in range(first, last + 1, page):
                yield source.get_headers(h, min(page, last + 1 - h))

        return self.import_headers(pages(), start_height=start_height if tip is None else None,
                                   kind=kind, location=location, progress=progress)

    def _reorg(self, source: Any, height: int, remote: int, depth: int, kind: str,
               location: str) -> HeaderImport:
        fork = None
        for h in range(min(height, remote) - 1, max(-1, height - depth - 1), -1):
            ours = self.header_hash_at(h)
            if ours is None:
                break
            if Header.parse(source.get_headers(h, 1)).hash_hex == ours:
                fork = h
                break
        if fork is None:
            raise StoreError(
                f"the source's chain differs from the stored one for more than {depth} blocks "
                f"below height {height}; check that the source is on the same network"
            )
        branch = source.get_headers(fork + 1, remote - fork)
        return self.apply_branch(fork, branch, kind=kind, location=location)

    # -- tables -------------------------------------------------------------------------------
    def write_frame(self, table: str, df: pd.DataFrame, *, kind: str, location: str,
                    note: str | None = None) -> int:
        """Upsert a DataFrame into ``table`` in one transaction; returns the source id.

        Columns must be those of the table (without ``source_id``); rows with the same primary
        key replace the stored ones.
        """
        writable = sorted(set(TABLES) - {"headers", "stale_headers", "sources"})
        if table not in writable:
            raise StoreError(f"table {table!r} cannot be written this way; "
                             f"allowed: {', '.join(writable)}")
        with self.transaction() as con:
            cols = [c for (c,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                "ORDER BY ordinal_position", [table]).fetchall()]
            wanted = [c for c in cols if c != "source_id"]
            missing = [c for c in wanted if c not in df.columns]
            extra = [c for c in df.columns if c not in cols]
            if extra:
                raise StoreError(f"{location}: columns {extra} are not in table {table!r} "
                                 f"(its columns: {wanted})")
            frame = df.copy()
            for c in missing:
                frame[c] = None
            sid = self._add_source(con, kind, location, table, len(frame), note)
            frame["source_id"] = sid
            frame = frame[cols]
            con.register("incoming", frame)
            con.execute(f"INSERT OR REPLACE INTO {table} SELECT * FROM incoming")
            con.unregister("incoming")
        return sid

    def replace_sweep(self, sweep: str, rows: pd.DataFrame, *, location: str,
                      note: str | None = None) -> int:
        """Replace every row of ``sweep`` in ``sweep_results`` with ``rows`` in one transaction
        (the earlier rows stay when anything fails); returns the source id.

        ``rows``: columns sweep, task, seed, params (JSON text), metric, value, all of ``sweep``.
        """
        cols = ["sweep", "task", "seed", "params", "metric", "value"]
        missing = [c for c in cols if c not in rows.columns]
        if missing:
            raise StoreError(f"{location}: sweep rows lack the columns {missing}")
        foreign = sorted(set(rows["sweep"].astype(str)) - {sweep})
        if foreign:
            raise StoreError(f"{location}: rows of sweep {foreign[0]!r} in the results of "
                             f"sweep {sweep!r}")
        frame = rows[cols].copy()
        with self.transaction() as con:
            con.execute("DELETE FROM sweep_results WHERE sweep = ?", [sweep])
            sid = self._add_source(con, "sweep", location, "sweep_results", len(frame), note)
            frame["source_id"] = sid
            con.register("incoming_sweep", frame)
            con.execute("INSERT INTO sweep_results SELECT sweep, task, seed, params, metric, "
                        "value, source_id FROM incoming_sweep")
            con.unregister("incoming_sweep")
        return sid

    def pool_shares(self, period: str | None = None, *, before: Any = None) -> pd.DataFrame:
        """The newest stored snapshot of ``pool_shares`` for each period (or only ``period``),
        of those taken before ``before`` (a UTC time; all when None), with its source's
        ``location`` and ``fetched_at``; empty when none is stored."""
        import pandas as pd

        with self.read() as con:
            if con is None or not _has_table(con, "pool_shares"):
                return pd.DataFrame()
            conds, params = [], []
            if period is not None:
                conds.append("period = ?")
                params.append(period)
            if before is not None:
                conds.append("as_of < ?")
                params.append(before)
            where = ("WHERE " + " AND ".join(conds)) if conds else ""
            return con.execute(
                "SELECT p.*, s.location, s.fetched_at FROM pool_shares p "
                "JOIN sources s USING (source_id) "
                "WHERE (p.period, p.as_of) IN (SELECT period, max(as_of) FROM pool_shares "
                f"{where} GROUP BY period) ORDER BY p.period, p.rank", params).df()

    def headers_per_day(self) -> pd.DataFrame:
        """Stored headers counted per UTC day of their timestamps and per ``bits``: columns
        ``day`` [days since 1970-01-01], ``bits``, ``blocks``. ``attrs``: ``first_height``,
        ``tip_height``, ``first_time`` [unix s] (the lowest stored header's),
        ``tip_times`` [unix s] (the last 11 headers', for the tip's median time past); an
        empty frame when no headers are stored."""
        import pandas as pd

        with self.read() as con:
            if con is None or not _has_table(con, "headers"):
                return pd.DataFrame(columns=["day", "bits", "blocks"])
            df = con.execute(
                "SELECT CAST(floor(epoch(time) / 86400) AS BIGINT) AS day, bits, "
                "count(*) AS blocks FROM headers GROUP BY 1, 2 ORDER BY 1, 2").df()
            if df.empty:
                return df
            lo = _one(con, "SELECT height, CAST(epoch(time) AS BIGINT) FROM headers "
                           "ORDER BY height LIMIT 1")
            tip = con.execute("SELECT height, CAST(epoch(time) AS BIGINT) FROM headers "
                              "ORDER BY height DESC LIMIT 11").fetchall()
        assert lo is not None
        df.attrs = {"first_height": int(lo[0]), "first_time": int(lo[1]),
                    "tip_height": int(tip[0][0]), "tip_times": [int(t) for _, t in tip],
                    "path": str(self.path)}
        return df

    def fingerprint(self) -> str:
        """A text that changes whenever the store file changes (size and modification time of
        the file and its write-ahead log), without opening it; ``"absent"`` when there is none."""
        parts = []
        for p in (self.path, self.path.with_name(self.path.name + ".wal")):
            try:
                st = p.stat()
            except OSError:
                parts.append("-")
                continue
            parts.append(f"{st.st_size}:{st.st_mtime_ns}")
        return "absent" if parts == ["-", "-"] else f"{self.path}|{'|'.join(parts)}"

    def read_table(self, table: str) -> pd.DataFrame:
        """A whole table as a DataFrame (empty when nothing is stored)."""
        import pandas as pd

        if table not in TABLES:
            raise StoreError(f"unknown table {table!r}; tables: {', '.join(TABLES)}")
        with self.read() as con:
            if con is None or not _has_table(con, table):
                return pd.DataFrame()
            return con.execute(f"SELECT * FROM {table} ORDER BY {TABLES[table]}").df()

    def status(self) -> pd.DataFrame:
        """Per table: rows, range, sources and the newest fetch."""
        import pandas as pd

        out = []
        with self.read() as con:
            for table, order in TABLES.items():
                if table == "sources":
                    continue
                if con is None or not _has_table(con, table):
                    out.append({"table": table, "rows": 0, "first": None, "last": None,
                                "sources": "", "fetched_at": None})
                    continue
                key = order.split(",")[0].strip()
                n, lo, hi = _one(con,
                    f"SELECT count(*), min({key}), max({key}) FROM {table}") or (0, 0, 0)
                srcs = _one(con,
                    "SELECT string_agg(DISTINCT kind || ': ' || location, '; '), max(fetched_at) "
                    "FROM sources WHERE table_name = ? AND source_id IN "
                    f"(SELECT DISTINCT source_id FROM {table})", [table])
                out.append({"table": table, "rows": int(n), "first": lo, "last": hi,
                            "sources": (srcs[0] if srcs and srcs[0] else ""),
                            "fetched_at": srcs[1] if srcs else None})
        return pd.DataFrame(out)

    def export(self, table: str, out: Path, fmt: str) -> int:
        """Write ``table`` to ``out`` as csv or parquet; returns the row count."""
        if fmt not in ("csv", "parquet"):
            raise StoreError(f"--format {fmt!r} is not supported; use csv or parquet")
        df = self.read_table(table)
        out.parent.mkdir(parents=True, exist_ok=True)
        if "raw" in df.columns:
            parsed = [Header.parse(bytes(b)) for b in df["raw"]]
            df["prev_hash"] = [h.prev_hash_hex for h in parsed]
            df["merkle_root"] = [h.merkle_root[::-1].hex() for h in parsed]
            df["version"] = [h.version for h in parsed]
            df["nonce"] = [h.nonce for h in parsed]
            df["raw"] = [bytes(b).hex() for b in df["raw"]]
        tmp = out.with_name(out.name + ".partial")
        if fmt == "csv":
            df.to_csv(tmp, index=False)
        else:
            df.to_parquet(tmp, index=False)
        tmp.replace(out)
        return len(df)


# -- helpers ------------------------------------------------------------------------------------
def _explain_io_error(path: Path, exc: Exception) -> StoreError:
    msg = str(exc)
    low = msg.lower()
    if "read-only" in low or "permission" in low:
        return StoreError(f"the store {path} is not writable ({msg}); set HASHSHIFT_HOME to a "
                          "writable folder or fix the permissions")
    if "no space" in low or "disk" in low and "full" in low:
        return StoreError(f"no space left for the store {path} ({msg}); free some space and "
                          "run the command again (the store is unchanged)")
    if "file too large" in low:  # EFBIG: a file size limit (ulimit -f) or the file system's
        return StoreError(f"the store {path} reached a file size limit ({msg}); raise the "
                          "limit (ulimit -f) or set HASHSHIFT_HOME to another file system, and "
                          "run the command again (the store is unchanged)")
    if ("not a valid duckdb" in low or "corrupt" in low or "invalid" in low or "magic" in low
            or "could not read enough bytes" in low):  # the last: a truncated file
        return StoreError(f"the store {path} is damaged ({msg}); move it away (it will be "
                          "rebuilt from the sources with `hashshift data update`)")
    return StoreError(f"store {path}: {msg}")


def _located(exc: HeaderValidationError, location: str) -> HeaderValidationError:
    """The same error (class, height, accepted count), its message naming the input."""
    detail = str(exc).removeprefix(f"header at height {exc.height} rejected ({exc.rule}): ")
    return type(exc)(exc.height, f"{location}: {detail}", exc.accepted)


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None
         ) -> tuple[Any, ...] | None:
    """First row of a query (the whole result is consumed, as DuckDB requires)."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0] if rows else None


def _has_unfinished(con: duckdb.DuckDBPyConnection) -> bool:
    if not _has_table(con, "headers"):
        return False
    row = _one(con, "SELECT count(*) FROM headers WHERE source_id NOT IN "
                    "(SELECT source_id FROM sources)")
    return bool(row and row[0])


def _purge_unfinished(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("DELETE FROM headers WHERE source_id NOT IN (SELECT source_id FROM sources)")


def _has_table(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    row = _one(con, "SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                      [table])
    return bool(row and row[0])


def _iter_headers(buf: bytes) -> Iterator[Header]:
    for i in range(0, len(buf), HEADER_SIZE):
        yield Header.parse(buf[i : i + HEADER_SIZE])


def _state_at(con: duckdb.DuckDBPyConnection, height: int, params: Params) -> ChainState:
    rows = con.execute(
        "SELECT height, raw, chainwork FROM headers WHERE height BETWEEN ? AND ? ORDER BY height",
        [height - 10, height]).fetchall()
    if not rows or rows[-1][0] != height:
        raise StoreError(f"no stored header at height {height}")
    tip_raw = bytes(rows[-1][1])
    times = [Header.parse(bytes(r[1])).time for r in rows]
    first = _one(con, "SELECT min(height) FROM headers")
    lowest = int(first[0]) if first and first[0] is not None else height
    interval = params.interval
    epoch_first = height - height % interval
    est = _one(con, "SELECT raw FROM headers WHERE height = ?", [epoch_first])
    epoch_start = Header.parse(bytes(est[0])).time if est else None
    work = int(rows[-1][2], 16) if rows[-1][2] else None
    if height == 0:
        return ChainState.genesis(params)
    state = ChainState.checkpoint(tip_raw, height, params, times=times,
                                  epoch_start_time=epoch_start, chainwork=work)
    if lowest == 0 and len(times) < min(11, height + 1):
        raise StoreError(f"headers below {height} are missing from the store")
    # testnet: bits of the last block that was not a min-difficulty block
    if params.allow_min_difficulty:
        row = _one(con,
            "SELECT bits FROM headers WHERE height <= ? AND (height % ? = 0 OR bits != ?) "
            "ORDER BY height DESC LIMIT 1", [height, interval, params.pow_limit_bits])
        if row:
            from dataclasses import replace

            state = replace(state, last_normal_bits=int(row[0]))
    return state


def _tip_state(con: duckdb.DuckDBPyConnection, params: Params) -> ChainState | None:
    row = _one(con, "SELECT max(height) FROM headers")
    if row is None or row[0] is None:
        return None
    return _state_at(con, int(row[0]), params)


def _start(con: duckdb.DuckDBPyConnection, data: bytes, state: ChainState | None,
           start_height: int | None, params: Params, sid: int, location: str,
           ) -> tuple[bytes, ChainState | None, int | None, int | None]:
    """First chunk of an import: anchor an empty store, or find where the input meets the
    stored chain. Returns (data left, state, height of data[0] if it re-reads stored headers,
    chainwork at the state)."""
    first = Header.parse(data[:HEADER_SIZE])
    work = state.chainwork if state is not None else None
    if state is None:
        if first.serialize() == params.genesis_header or not start_height:
            return data, None, None, None
        if start_height % params.interval:
            raise StoreError(f"start height {start_height} must be the first block of a "
                             f"difficulty period (a multiple of {params.interval})")
        if not first.check_pow(params):
            raise BadPowError(start_height, f"{location}: the anchor header fails its proof of "
                              "work", 0)
        anchor = ChainState.checkpoint(first, start_height, params)
        _insert_headers(con, data[:HEADER_SIZE], start_height, [first.hash], None, sid)
        return data[HEADER_SIZE:], anchor, None, None
    row = _one(con, "SELECT height FROM headers WHERE hash = ?", [first.hash_hex])
    if row is not None:
        return data, state, int(row[0]), work
    return data, state, None, work


def _skip_stored(con: duckdb.DuckDBPyConnection, data: bytes, height: int,
                 state: ChainState | None, location: str) -> tuple[bytes, int | None]:
    """Drop input headers that are already stored (checking they are the same headers)."""
    assert state is not None
    n = len(data) // HEADER_SIZE
    skip = max(0, min(n, state.height - height + 1))
    if skip:
        last = Header.parse(data[(skip - 1) * HEADER_SIZE : skip * HEADER_SIZE])
        stored = _one(con, "SELECT hash FROM headers WHERE height = ?",
                             [height + skip - 1])
        if stored is None or stored[0] != last.hash_hex:
            raise StoreError(
                f"{location}: the input differs from the stored chain at or below height "
                f"{height + skip - 1}; a competing branch is applied with `hashshift data "
                "update`, which compares the work of both"
            )
    rest = data[skip * HEADER_SIZE :]
    return rest, (None if rest or height + skip > state.height else height + skip)


def _insert_headers(con: duckdb.DuckDBPyConnection, data: bytes, base: int,
                    hashes: list[bytes], work0: int | None, source_id: int,
                    table: str = "headers") -> int | None:
    """Append validated headers (with their hashes) to ``table``; returns the new chainwork.

    The rows travel as plain lists in one statement's parameters, unnested by DuckDB: no Arrow
    table, which would make DuckDB load pandas (about 80 MB with pyarrow) for a header import."""
    n = len(data) // HEADER_SIZE
    if n == 0:
        return work0
    f = np.frombuffer(data, dtype=_HDR_DTYPE)
    bits = f["bits"].astype(np.int64).tolist()
    chainwork: list[str | None]
    if work0 is not None:
        cache: dict[int, int] = {}
        acc = work0
        chainwork = []
        for b in bits:
            w = cache.get(b)
            if w is None:
                w = cache[b] = block_proof(b)
            acc += w
            chainwork.append(format(acc, "x"))
        work_end: int | None = acc
    else:
        chainwork, work_end = [None] * n, None
    con.execute(
        f"INSERT INTO {table} SELECT h, hs, to_timestamp(t), b, r, cw, $7 FROM (SELECT "
        "unnest($1::BIGINT[]) AS h, unnest($2::VARCHAR[]) AS hs, unnest($3::BIGINT[]) AS t, "
        "unnest($4::BIGINT[]) AS b, unnest($5::BLOB[]) AS r, unnest($6::VARCHAR[]) AS cw)",
        [list(range(base, base + n)), [h[::-1].hex() for h in hashes],
         f["time"].astype(np.int64).tolist(), bits,
         [data[i : i + HEADER_SIZE] for i in range(0, n * HEADER_SIZE, HEADER_SIZE)],
         chainwork, int(source_id)])
    return work_end


_HDR_DTYPE = np.dtype([("version", "<u4"), ("prev", "V32"), ("merkle", "V32"), ("time", "<u4"),
                       ("bits", "<u4"), ("nonce", "<u4")])
