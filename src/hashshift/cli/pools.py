"""``hashshift pools``: the share of blocks each mining pool found (mempool.space, from the
local store)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._base import JsonOption, console, emit_json, friendly, records, say_written, state, write_csv

HomeOpt = Annotated[Path | None, typer.Option(
    "--home", help="Store folder (default: $HASHSHIFT_HOME or the user data directory).")]


def register(app: typer.Typer) -> None:
    """Add ``hashshift pools`` to ``app``."""
    app.command("pools")(pools)


@friendly
def pools(
    period: Annotated[str | None, typer.Option(
        help="Period of the shares: 24h, 3d, 1w, 1m, 3m, 6m, 1y, 2y, 3y, 4y or all (default: "
             "1w when stored, else the shortest stored).")] = None,
    rows: Annotated[int, typer.Option(min=1, help="Pools to list in the table.")] = 15,
    csv: Annotated[Path | None, typer.Option(help="Write every pool's row to this CSV file.")]
    = None,
    home: HomeOpt = None,
    as_json: JsonOption = False,
) -> None:
    """Mining pools: blocks found and share of the period's blocks, as mempool.space counted
    them when `hashshift data update --pools` last asked (nothing is bundled)."""
    from ..pools import pool_shares
    from ..store import DB_NAME, Store

    store = Store(home / DB_NAME if home else None, lock_timeout_s=5.0)
    df = pool_shares(store, period)
    note = str(df.attrs["note"])
    if as_json:
        emit_json({"available": not df.empty, "note": note or None,
                   "period": df.attrs["period"], "periods": df.attrs["periods"],
                   "as_of": None if df.empty else df["as_of"].iloc[0].isoformat(),
                   "period_blocks": None if df.empty else int(df["period_blocks"].iloc[0]),
                   "source": None if df.empty else str(df["source"].iloc[0]),
                   "csv": str(csv) if csv is not None and not df.empty else None,
                   "pools": records(df.drop(columns=["as_of", "fetched_at", "source"]))})
        if csv is not None and not df.empty:
            write_csv(df, csv, days=False)
        return
    if df.empty:
        if not state.quiet:
            console.print(note + (f"; nothing written to {csv}" if csv is not None else ""))
        return
    if csv is not None:
        write_csv(df, csv, days=False)
    if state.quiet:
        return
    import pandas as pd
    from rich.table import Table

    from ..pools import top_pools

    first = df.iloc[0]
    table = Table(
        title=f"Mining pools, last {first['period']} to {first['as_of']:%Y-%m-%d %H:%M} UTC: "
              f"{int(first['period_blocks']):,} blocks, {len(df)} pools",
        caption=f"share: of the period's blocks (estimates the share of hashrate; over n blocks "
                f"±√(p(1−p)/n)). Source: {first['source']}, fetched "
                f"{first['fetched_at']:%Y-%m-%d %H:%M} UTC. Stored periods: "
                f"{', '.join(df.attrs['periods'])}.")
    for col in ("#", "pool", "blocks", "share %", "empty"):
        table.add_column(col, justify="left" if col == "pool" else "right", no_wrap=True)
    for r in top_pools(df, rows).to_dict("records"):
        table.add_row("" if pd.isna(r["rank"]) else str(r["rank"]), str(r["pool_name"]),
                      f"{r['blocks']:,}", f"{r['share_pct']:.1f}", f"{r['empty_blocks']:,}")
    console.print(table)
    if csv is not None:
        say_written("pools", csv)
