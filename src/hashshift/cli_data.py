"""CLI commands for the local store: `hashshift data status|update|import|export`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .cli import UserError, _emit_json, app, console, friendly, state

data_app = typer.Typer(help="The local data store: status, update, import, export.",
                       no_args_is_help=True)
app.add_typer(data_app, name="data")

SOURCES = ("mempool", "bitcoind")


def _store(home: Path | None) -> Any:
    from .store import DB_NAME, Store

    return Store(home / DB_NAME if home else None)


HomeOpt = Annotated[Path | None, typer.Option(
    "--home", help="Store folder (default: $HASHSHIFT_HOME or the user data directory).")]


def _progress(total: int | None, what: str) -> Progress:
    return Progress(TextColumn(f"[bold]{what}"), BarColumn(), TextColumn("{task.completed:,}"),
                    TimeElapsedColumn(), console=console, disable=state.quiet, transient=True)


@data_app.command("status")
@friendly
def status(
    home: HomeOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """What is stored, from where, and how fresh."""
    st = _store(home)
    df = st.status()
    if as_json:
        _emit_json({"path": str(st.path), "tables": df.to_dict(orient="records")})
        return
    if state.quiet:
        return
    table = Table(title=f"hashshift store: {st.path}" + ("" if st.path.exists() else
                                                        " (empty: reads use the bundled data)"))
    for col in ("table", "rows", "first", "last", "fetched (UTC)", "sources"):
        table.add_column(col, justify="right" if col == "rows" else "left")
    for r in df.itertuples():
        fetched = "" if r.fetched_at is None or r.fetched_at != r.fetched_at else \
            f"{r.fetched_at:%Y-%m-%d %H:%M}"
        table.add_row(r.table, f"{r.rows:,}", _cell(r.first), _cell(r.last), fetched,
                      str(r.sources)[:60])
    console.print(table)


def _cell(v: Any) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    if hasattr(v, "strftime"):
        return f"{v:%Y-%m-%d}"
    return f"{v:,}" if isinstance(v, int) else str(v)


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
    network: Annotated[str, typer.Option(help="mainnet, testnet3 or regtest.")] = "mainnet",
    home: HomeOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Pull what is new: headers (verified before anything is written) and, from mempool, the
    difficulty adjustments and the daily hashrate."""
    from . import consensus
    from .store import DB_NAME, Store

    if source not in SOURCES:
        raise UserError(f"--source {source!r} is not known; use one of: {', '.join(SOURCES)}")
    params = {"mainnet": consensus.MAINNET, "testnet3": consensus.TESTNET3,
              "regtest": consensus.REGTEST}.get(network)
    if params is None:
        raise UserError(f"--network {network!r} is not known; use mainnet, testnet3 or regtest")
    st = Store(home / DB_NAME if home else None, params=params)
    client: Any
    if source == "mempool":
        from .sources.mempool import DEFAULT_BASE_URL, MempoolClient

        client = MempoolClient(url or DEFAULT_BASE_URL)
    else:
        from .sources.bitcoind import BitcoinRPC

        client = BitcoinRPC(url or "http://127.0.0.1:8332", cookie_file=cookie_file,
                            user=rpc_user, password=rpc_password)
    out: dict[str, Any] = {"source": source, "store": str(st.path)}
    with client, _progress(None, f"headers from {source}") as bar:
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
    if as_json:
        _emit_json(out)
    elif not state.quiet:
        msg = (f"{res.added:,} headers added; tip {res.height:,} {res.hash}")
        if res.replaced:
            msg += f" (reorg: {res.replaced} stale headers kept in stale_headers)"
        console.print(msg)


@data_app.command("import")
@friendly
def import_(
    file: Annotated[Path, typer.Argument(help="A raw headers file or a CCAF / price / grid CSV.")],
    start_height: Annotated[int | None, typer.Option(
        min=0, help="Height of the file's first header when the store has none and the file "
                    "does not start at the genesis block (a multiple of 2016).")] = None,
    network: Annotated[str, typer.Option(help="mainnet, testnet3 or regtest.")] = "mainnet",
    chunk: Annotated[int, typer.Option(
        min=1, help="Headers validated and written per step (memory use grows with it).")]
    = 5_000,
    home: HomeOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Import a file into the store, in one atomic batch (all of it or nothing)."""
    from . import consensus
    from .store import DB_NAME, Store

    if not file.is_file():
        raise UserError(f"{file}: no such file")
    params = {"mainnet": consensus.MAINNET, "testnet3": consensus.TESTNET3,
              "regtest": consensus.REGTEST}.get(network)
    if params is None:
        raise UserError(f"--network {network!r} is not known; use mainnet, testnet3 or regtest")
    st = Store(home / DB_NAME if home else None, params=params)
    kind = _detect(file)
    out: dict[str, Any] = {"file": str(file), "kind": kind}
    if kind == "headers":
        from .sources.rawheaders import iter_headers_file

        total = file.stat().st_size // consensus.HEADER_SIZE
        with _progress(total, "importing headers") as bar:
            task = bar.add_task("headers", total=total)
            res = st.import_headers(iter_headers_file(file, chunk), start_height=start_height,
                                    kind="headers-file", location=str(file),
                                    progress=lambda n: bar.update(task, completed=n))
        out.update(rows=res.added, tip_height=res.height, tip_hash=res.hash)
        msg = f"{res.added:,} headers imported from {file}; tip {res.height:,} {res.hash}"
    else:
        table, frame, what = _csv_frame(file)
        st.write_frame(table, frame, kind=what, location=str(file))
        out.update(table=table, rows=len(frame), kind=what)
        msg = f"{len(frame):,} rows of {what} imported into table {table!r} from {file}"
    if as_json:
        _emit_json(out)
    elif not state.quiet:
        console.print(msg)


def _detect(file: Path) -> str:
    with file.open("rb") as fh:
        head = fh.read(4096)
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "headers"
    if "," in text or "\n" in text:
        return "csv"
    return "headers"


def _csv_frame(file: Path) -> tuple[str, Any, str]:
    """Parse a CSV whose layout is recognised; return (table, frame, kind)."""
    import pandas as pd

    from .sources.ccaf import parse_ccaf
    from .sources.errors import SourceFormatError
    from .sources.gridtable import parse_grid_table
    from .sources.prices import parse_price_csv

    raw = file.read_bytes()
    lines = raw.decode("utf-8", "replace").splitlines()
    header = next((ln for ln in lines if ln.strip() and not ln.startswith("#")), "")
    low = header.lower()
    if "region_code" in low and "intensity_g_kwh" in low:
        g = parse_grid_table(raw, name=str(file))
        frame = pd.DataFrame({
            "region_code": g["region_code"], "month": g["month"].fillna(0).astype(int),
            "price_usd_kwh": g["price_usd_kwh"], "intensity_g_kwh": g["intensity_g_kwh"],
            "source": g["source"]})
        return "grid", frame, "grid-table"
    if "priceusd" in low or "close" in low or "price" in low:
        parsed = parse_price_csv(raw, name=str(file))
        return "prices", parsed.frame, f"prices-{parsed.kind}"
    try:
        parsed = parse_ccaf(raw, name=str(file))
    except SourceFormatError as exc:
        raise UserError(
            f"{file}: not a layout hashshift imports (raw headers, CCAF mining map or CBECI "
            f"export, Coin Metrics or date,close prices, grid table): {exc}") from None
    df = parsed.frame
    if parsed.kind == "mining_countries":
        frame = df.assign(level="country", basis="global")
        return "mining_map", frame, "ccaf-mining-countries"
    if parsed.kind == "mining_provinces":
        frame = df.rename(columns={"share_of_china_pct": "share_pct"}).assign(
            level="province", basis="CN", hashrate_ehs=float("nan"))
        return "mining_map", frame, "ccaf-mining-provinces"
    value_cols = [c for c in df.columns if c != "date"]
    long = df.melt(id_vars="date", value_vars=value_cols, var_name="series", value_name="value")
    long["unit"] = long["series"].map(_unit_of)
    return "energy", long, f"ccaf-{parsed.kind}"


def _unit_of(name: str) -> str:
    for suffix, unit in (("_gw", "GW"), ("_twh_yr", "TWh/yr"), ("_mtco2e_yr", "MtCO2e/yr"),
                         ("_g_kwh", "gCO2/kWh"), ("_pct", "%"), ("_usd_kwh", "USD/kWh")):
        if name.endswith(suffix):
            return unit
    return ""


@data_app.command("export")
@friendly
def export(
    table: Annotated[str, typer.Option(help="Table to export (see `data status`).")],
    out: Annotated[Path, typer.Option(help="Output file.")],
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
    home: HomeOpt = None,
) -> None:
    """Write a stored table to CSV or Parquet."""
    from .store import TABLES

    if table not in TABLES:
        raise UserError(f"--table {table!r} is not a table; tables: {', '.join(TABLES)}")
    n = _store(home).export(table, out, fmt)
    if not state.quiet:
        console.print(f"{n:,} rows of {table} written to {out}")
