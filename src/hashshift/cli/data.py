"""``hashshift data status|update|import|export``: the local store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._base import JsonOption, UserError, console, emit_json, friendly, state

if TYPE_CHECKING:
    from rich.progress import Progress

    from ..consensus import Params
    from ..store import Store

data_app = typer.Typer(help="The local data store: status, update, import, export.",
                       no_args_is_help=True)

SOURCES = ("mempool", "bitcoind")
NETWORKS = ("mainnet", "testnet3", "regtest")

HomeOpt = Annotated[Path | None, typer.Option(
    "--home", help="Store folder (default: $HASHSHIFT_HOME or the user data directory).")]
NetworkOpt = Annotated[str, typer.Option(help="mainnet, testnet3 or regtest.")]


def register(app: typer.Typer) -> None:
    """Add the ``hashshift data`` group to ``app``."""
    app.add_typer(data_app, name="data")


def _store(home: Path | None, network: str = "mainnet") -> Store:
    """The store in ``home`` (default: $HASHSHIFT_HOME or the user data directory)."""
    from ..store import DB_NAME, Store

    return Store(home / DB_NAME if home else None, params=_params(network))


def _params(network: str) -> Params:
    from .. import consensus

    params = {"mainnet": consensus.MAINNET, "testnet3": consensus.TESTNET3,
              "regtest": consensus.REGTEST}.get(network)
    if params is None:
        raise UserError(f"--network {network!r} is not known; use mainnet, testnet3 or regtest")
    return params


def _progress(what: str) -> Progress:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn(f"[bold]{what}"), BarColumn(), TextColumn("{task.completed:,}"),
                    TimeElapsedColumn(), console=console, disable=state.quiet, transient=True)


def _cell(v: Any) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    if hasattr(v, "strftime"):
        return f"{v:%Y-%m-%d}"
    return f"{v:,}" if isinstance(v, int) else str(v)


@data_app.command("status")
@friendly
def status(home: HomeOpt = None, as_json: JsonOption = False) -> None:
    """How far each bundled dataset reaches and how old it is today; what the local store
    holds, from where, and how fresh."""
    from rich.table import Table

    from ..freshness import freshness

    fresh = freshness()
    st = _store(home)
    df = st.status()
    if as_json:
        emit_json({"today": fresh.attrs["today"], "newest_bundled_day": fresh.attrs["newest_day"],
                   "bundled": fresh.to_dict(orient="records"),
                   "path": str(st.path), "tables": df.to_dict(orient="records")})
        return
    if state.quiet:
        return
    bundled = Table(title=f"Bundled data: how far each dataset reaches (today "
                          f"{fresh.attrs['today']})",
                    caption=f"age: days from the last day covered to today. Everything bundled "
                            f"was public by {fresh.attrs['newest_day']}; newer data: hashshift "
                            "data update / data import.")
    for col in ("dataset", "covers", "first", "last", "age (days)", "public since"):
        bundled.add_column(col, justify="right" if col == "age (days)" else "left",
                           overflow="fold", no_wrap=col != "covers")
    for f in fresh.to_dict("records"):
        bundled.add_row(str(f["dataset"]), str(f["what"]), _cell(f["first"]), _cell(f["last"]),
                        f"{f['age_days']:,}", _cell(f["public"]))
    console.print(bundled)
    table = Table(title=f"hashshift store: {st.path}" + ("" if st.path.exists() else
                                                        " (empty: reads use the bundled data)"))
    for col in ("table", "rows", "first", "last", "fetched (UTC)", "sources"):
        table.add_column(col, justify="right" if col == "rows" else "left")
    rows: list[dict[str, Any]] = df.to_dict("records")  # type: ignore[assignment]
    for r in rows:
        at = r["fetched_at"]
        fetched = "" if at is None or at != at else f"{at:%Y-%m-%d %H:%M}"
        table.add_row(r["table"], f"{r['rows']:,}", _cell(r["first"]), _cell(r["last"]), fetched,
                      str(r["sources"])[:60])
    console.print(table)


@data_app.command("update")
@friendly
def update(
    source: Annotated[str, typer.Option(help="mempool (REST) or bitcoind (JSON-RPC).")] = "mempool",
    url: Annotated[str | None, typer.Option(
        help="Base URL (mempool: https://mempool.space/api; bitcoind: http://127.0.0.1:8332).")]
    = None,
    cookie_file: Annotated[Path | None, typer.Option(help="bitcoind .cookie file.")] = None,
    rpc_user: Annotated[str | None, typer.Option(help="bitcoind RPC user.")] = None,
    rpc_password: Annotated[str | None, typer.Option(help="bitcoind RPC password.")] = None,
    start_height: Annotated[int | None, typer.Option(
        min=0, help="First height when the store has no headers (a multiple of 2016).")] = None,
    max_headers: Annotated[int | None, typer.Option(min=1, help="Pull at most this many.")]
    = None,
    pools: Annotated[bool, typer.Option(
        "--pools", help="Also fetch mining-pool shares (mempool only; see --pool-periods).")]
    = False,
    pool_periods: Annotated[str, typer.Option(
        help="Periods of pool shares to fetch with --pools, comma-separated (24h, 3d, 1w, 1m, "
             "3m, 6m, 1y, 2y, 3y, 4y, all).")] = "24h,1w,1m,1y",
    network: NetworkOpt = "mainnet",
    home: HomeOpt = None,
    as_json: JsonOption = False,
) -> None:
    """Pull what is new: headers (verified before anything is written) and, from mempool, the
    difficulty adjustments, the daily hashrate and, with --pools, the pool shares."""
    if source not in SOURCES:
        raise UserError(f"--source {source!r} is not known; use one of: {', '.join(SOURCES)}")
    periods = _pool_periods(pool_periods) if pools else []
    if pools and source != "mempool":
        raise UserError(f"--pools: pool shares come from mempool's API; --source {source!r} has "
                        "none (use --source mempool)")
    st = _store(home, network)
    client: Any
    if source == "mempool":
        from ..sources.mempool import DEFAULT_BASE_URL, MempoolClient

        client = MempoolClient(url or DEFAULT_BASE_URL)
    else:
        from ..sources.bitcoind import BitcoinRPC

        client = BitcoinRPC(url or "http://127.0.0.1:8332", cookie_file=cookie_file,
                            user=rpc_user, password=rpc_password)
    out: dict[str, Any] = {"source": source, "store": str(st.path)}
    with client, _progress(f"headers from {source}") as bar:
        # pool shares first: every period is fetched and checked before anything is written
        shares = _fetch_pools(client, periods) if periods else None
        task = bar.add_task("headers", total=None)
        res = st.update_headers(client, start_height=start_height, max_headers=max_headers,
                                location=url or source,
                                progress=lambda n: bar.update(task, completed=n))
        out.update(headers_added=res.added, tip_height=res.height, tip_hash=res.hash,
                   reorg_replaced=res.replaced)
        if source == "mempool":
            adj = client.get_difficulty_adjustments()
            st.write_frame("difficulty_adjustments",
                           adj[["height", "time", "difficulty", "change_pct"]],
                           kind="mempool", location=client.http.base_url)
            hr = client.get_hashrate("all")
            st.write_frame("hashrate", hr.hashrates[["time", "hashrate_ehs"]],
                           kind="mempool", location=client.http.base_url)
            out.update(difficulty_adjustments=len(adj), hashrate_days=len(hr.hashrates))
        if shares is not None:  # all periods in one transaction, one provenance row
            st.write_frame("pool_shares", shares, kind="mempool",
                           location=f"{client.http.base_url}/v1/mining/pools/"
                                    f"{{{','.join(periods)}}}",
                           note="GET /v1/mining/pools/:period for " + ", ".join(periods))
            out["pool_shares"] = {p: int((shares["period"] == p).sum()) for p in periods}
    if as_json:
        emit_json(out)
    elif not state.quiet:
        msg = (f"{res.added:,} headers added; tip {res.height:,} {res.hash}")
        if res.replaced:
            msg += f" (reorg: {res.replaced} stale headers kept in stale_headers)"
        console.print(msg)
        if shares is not None:
            console.print("pool shares stored for " + ", ".join(
                f"{p} ({n} pools)" for p, n in out["pool_shares"].items())
                + "; see them with `hashshift pools`")


def _pool_periods(text: str) -> list[str]:
    """``--pool-periods`` as a list of mempool periods (each named once)."""
    from ..sources.mempool import PERIODS

    got = [p.strip() for p in text.split(",") if p.strip()]
    bad = [p for p in got if p not in PERIODS]
    if not got or bad:
        raise UserError(f"--pool-periods {text!r}: {bad[0] if bad else 'empty'} is not a period; "
                        f"allowed: {', '.join(PERIODS)} (comma-separated)")
    return list(dict.fromkeys(got))


def _fetch_pools(client: Any, periods: list[str]) -> Any:
    """Every period's pool shares, fetched at one time and checked, as one frame."""
    import pandas as pd

    now = pd.Timestamp.now(tz="UTC").floor("s")
    return pd.concat([client.get_pools(p, as_of=now) for p in periods], ignore_index=True)


@data_app.command("import")
@friendly
def import_(
    file: Annotated[Path, typer.Argument(help="A raw headers file or a CCAF / price / grid CSV.")],
    start_height: Annotated[int | None, typer.Option(
        min=0, help="Height of the file's first header when the store has none and the file "
                    "does not start at the genesis block (a multiple of 2016).")] = None,
    network: NetworkOpt = "mainnet",
    chunk: Annotated[int, typer.Option(
        min=1, help="Headers validated and written per step (memory use grows with it).")]
    = 5_000,
    home: HomeOpt = None,
    as_json: JsonOption = False,
) -> None:
    """Import a file into the store, in one atomic batch (all of it or nothing)."""
    from ..consensus import HEADER_SIZE
    from ..sources.imports import expected_layouts, file_kind, read_store_rows

    if not file.is_file():
        raise UserError(f"{file}: no such file")
    size = file.stat().st_size
    kind = file_kind(file)
    # an empty file, or a binary one named as a table; other binary files are read as raw
    # headers, whose reader names the byte where a truncated file breaks off
    if size == 0 or (kind == "headers" and file.suffix.lower() in (".csv", ".txt", ".tsv")):
        what = "is empty" if size == 0 else "is not text"
        raise UserError(f"{file} {what}: not a CSV this command reads (expected one of: "
                        f"{expected_layouts()}), nor a raw block headers file (80 bytes per "
                        "header)")
    st = _store(home, network)
    out: dict[str, Any] = {"file": str(file), "kind": kind}
    if kind == "headers":
        from ..sources.rawheaders import iter_headers_file

        total = file.stat().st_size // HEADER_SIZE
        with _progress("importing headers") as bar:
            task = bar.add_task("headers", total=total)
            res = st.import_headers(iter_headers_file(file, chunk), start_height=start_height,
                                    kind="headers-file", location=str(file),
                                    progress=lambda n: bar.update(task, completed=n))
        out.update(rows=res.added, tip_height=res.height, tip_hash=res.hash)
        msg = f"{res.added:,} headers imported from {file}; tip {res.height:,} {res.hash}"
    else:
        rows = read_store_rows(file)
        st.write_frame(rows.table, rows.frame, kind=rows.kind, location=str(file))
        out.update(table=rows.table, rows=len(rows.frame), kind=rows.kind)
        msg = (f"{len(rows.frame):,} rows of {rows.kind} imported into table {rows.table!r} "
               f"from {file}")
    if as_json:
        emit_json(out)
    elif not state.quiet:
        console.print(msg)


@data_app.command("export")
@friendly
def export(
    table: Annotated[str, typer.Option(help="Table to export (see `data status`).")],
    out: Annotated[Path, typer.Option(help="Output file.")],
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
    home: HomeOpt = None,
) -> None:
    """Write a stored table to CSV or Parquet."""
    from ..store import TABLES

    if table not in TABLES:
        raise UserError(f"--table {table!r} is not a table; tables: {', '.join(TABLES)}")
    n = _store(home).export(table, out, fmt)
    if not state.quiet:
        console.print(f"{n:,} rows of {table} written to {out}")
