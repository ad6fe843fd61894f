"""``hashshift history``: the network per 2016-block epoch (difficulty, retargets, hashrate)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ._base import (
    JsonOption,
    UserError,
    console,
    emit_json,
    friendly,
    parse_date,
    records,
    say_written,
    state,
    write_csv,
)


def register(app: typer.Typer) -> None:
    """Add ``hashshift history`` to ``app``."""
    app.command("history")(history)


@friendly
def history(
    since: Annotated[str | None, typer.Option(help="First day to show (YYYY-MM-DD, UTC).")] = None,
    until: Annotated[str | None, typer.Option(help="Last day to show (YYYY-MM-DD, UTC).")] = None,
    csv: Annotated[Path | None, typer.Option(help="Write the epochs to this CSV file.")] = None,
    chart: Annotated[
        Path | None, typer.Option(help="Write a hashrate and difficulty chart (.png, .svg, .pdf).")
    ] = None,
    rows: Annotated[int, typer.Option(min=1, help="Epochs (or days) to list in the table.")]
    = 12,
    daily: Annotated[bool, typer.Option(
        "--daily", help="Per UTC day instead of per epoch: the hashrate from the blocks mined "
                        "that day and over the last 7 days, with 90 % intervals.")] = False,
    as_json: JsonOption = False,
) -> None:
    """The network's history per 2016-block epoch (difficulty, retargets and hashrate), or per
    day with --daily."""
    start = parse_date(since, "--since")
    end = parse_date(until, "--until")
    if start and end and start > end:
        raise UserError(f"--since {since} is after --until {until}")
    if daily:
        _daily(start, end, since, until, csv, chart, rows, as_json)
        return
    if since is None and until is None and csv is None and chart is None and not as_json:
        # the whole table, listed: plain columns, no pandas to wait for (issue 16)
        from ..epoch_table import epoch_columns

        table = epoch_columns()
        if not state.quiet:
            _print_history(table, rows)
        return
    from .. import history as hist

    newest = hist.epochs()["first_time"].iloc[-1]
    if start is not None and start > newest:
        raise UserError(f"--since {since}: the bundled history ends with the epoch that began "
                        f"{newest:%Y-%m-%d}; nothing is known after it (hashshift data status "
                        "says how far each dataset reaches)")
    df = hist.epochs(since=start, until=end)
    if df.empty:
        all_ep = hist.epochs()
        raise UserError(
            "no epochs in that range; the bundled history covers "
            f"{all_ep['first_time'].iloc[0]:%Y-%m-%d} to "
            f"{all_ep['last_time'].dropna().iloc[-1]:%Y-%m-%d}"
        )
    if csv is not None:  # full timestamps; the target as 64 hex digits
        write_csv(df.assign(target=[f"{int(t):064x}" for t in df["target"]]), csv, days=False)
    if chart is not None:
        from ..report.charts import history_chart

        history_chart(df, chart)
    if as_json:
        last = df.iloc[-1]
        emit_json({
            "epochs": len(df),
            "first_height": int(df["first_height"].iloc[0]),
            "last_epoch": last.drop(labels=["target"]).to_dict(),
            "csv": str(csv) if csv else None,
            "chart": str(chart) if chart else None,
        })
        return
    if state.quiet:
        return
    _print_history({c: df[c].tolist() for c in df.columns}, rows)
    if csv is not None:
        say_written("epochs", csv)
    if chart is not None:
        say_written("chart", chart)


def _daily(start: Any, end: Any, since: str | None, until: str | None, csv: Path | None,
           chart: Path | None, rows: int, as_json: bool) -> None:
    """``history --daily``: 1-day and 7-day hashrate per UTC day with 90 % intervals."""
    import pandas as pd

    from .. import history as hist
    from ..store import Store

    if chart is not None:
        raise UserError("--chart draws the epochs; with --daily use --csv and plot the days")
    store = Store()  # days its headers cover take their counts from the headers
    one = hist.hashrate_daily(window_days=1, store=store)
    week = hist.hashrate_daily(window_days=7, store=store)
    df = one.merge(week[["date", "hashrate_ehs", "hashrate_lo_ehs", "hashrate_hi_ehs",
                         "blocks_source"]], on="date", how="left", suffixes=("", "_7d"))
    df = df.rename(columns={"hashrate_ehs_7d": "hashrate_7d_ehs",
                            "hashrate_lo_ehs_7d": "hashrate_7d_lo_ehs",
                            "hashrate_hi_ehs_7d": "hashrate_7d_hi_ehs",
                            "blocks_source_7d": "blocks_7d_source"})
    # the figures first, as before; where each count came from at the end
    df = df[[c for c in df.columns if not c.endswith("source")]
            + ["blocks_source", "blocks_7d_source"]]
    first, last = pd.Timestamp(df["date"].iloc[0]), pd.Timestamp(df["date"].iloc[-1])
    day = pd.to_datetime(df["date"])
    if start is not None:
        if pd.Timestamp(start.date()) > last:
            raise UserError(f"--since {since}: the daily block counts end {last:%Y-%m-%d}"
                            "; nothing is known after it (hashshift data status says how far "
                            "each dataset reaches)")
        df = df[day >= pd.Timestamp(start.date())]
        day = pd.to_datetime(df["date"])
    if end is not None:
        df = df[day <= pd.Timestamp(end.date())]
    if df.empty:
        raise UserError(f"no days in that range; the bundled daily counts cover "
                        f"{first:%Y-%m-%d} to {last:%Y-%m-%d}")
    ranges = hist.count_sources(df)
    if csv is not None:
        write_csv(df, csv)
    if as_json:
        emit_json({"days": len(df), "first": f"{df['date'].iloc[0]:%Y-%m-%d}",
                   "last": f"{df['date'].iloc[-1]:%Y-%m-%d}", "level": 0.90,
                   "block_counts": [{**r, "first": f"{r['first']:%Y-%m-%d}",
                                     "last": f"{r['last']:%Y-%m-%d}"} for r in ranges],
                   "csv": str(csv) if csv else None, "rows": records(df.tail(rows))})
        return
    if state.quiet:
        return
    from rich.table import Table

    table = Table(title=f"Hashrate per UTC day: last {min(rows, len(df))} of {len(df)} days "
                        "in range",
                  caption="from the blocks mined and the difficulty in force; 90 % intervals of "
                          "the block process (a day has about 144 blocks: ±15 %); 7 d: the "
                          "trailing 7-day mean; src: block counts bundled (b) or from the "
                          "store's headers (s)")
    for col in ("date", "blocks", "EH/s (1 d)", "90 %", "EH/s (7 d)", "90 % (7 d)",
                "difficulty", "src"):
        table.add_column(col, justify="left" if col == "date" else "right", no_wrap=True)
    for r in df.tail(rows).to_dict("records"):
        table.add_row(f"{r['date']:%Y-%m-%d}", f"{r['blocks']:,.0f}",
                      _fmt_ehs(r["hashrate_ehs"]),
                      f"{_fmt_ehs(r['hashrate_lo_ehs'])}–{_fmt_ehs(r['hashrate_hi_ehs'])}",
                      _fmt_ehs(r["hashrate_7d_ehs"]),
                      f"{_fmt_ehs(r['hashrate_7d_lo_ehs'])}–{_fmt_ehs(r['hashrate_7d_hi_ehs'])}",
                      _fmt_difficulty(float(r["difficulty"])),
                      {"bundled": "b", "store": "s"}.get(str(r["blocks_source"]), "–"))
    console.print(table)
    console.print("Block counts: " + "; ".join(
        f"{r['first']:%Y-%m-%d} to {r['last']:%Y-%m-%d}: {r['what']}" for r in ranges))
    if csv is not None:
        say_written("days", csv)


def _fmt_ehs(x: float) -> str:
    if x != x:  # NaN
        return "–"
    return f"{x:,.3f}" if x < 10 else f"{x:,.1f}"


def _fmt_difficulty(d: float) -> str:
    for scale, unit in ((1e12, "T"), (1e9, "G"), (1e6, "M")):
        if d >= scale:
            return f"{d / scale:,.2f} {unit}"
    return f"{d:,.2f}"


def _print_history(table: dict[str, list[Any]], rows: int) -> None:
    """The last ``rows`` epochs of ``table`` (one list per column) and its largest cuts."""
    from rich.table import Table

    from ..epoch_table import cut_order

    n = len(table["epoch"])
    out = Table(title=f"Difficulty epochs: last {min(rows, n)} of {n} in range",
                caption="EH/s: epoch-mean hashrate; CI: 95 % interval; src: duration from "
                        "headers (h) or next retarget (r)")
    for col in ("epoch", "height", "start", "difficulty", "chg %", "days", "EH/s", "95 % CI",
                "src"):
        out.add_column(col, justify="left" if col in ("start", "src") else "right",
                       no_wrap=True)
    for i in range(max(n - rows, 0), n):
        change, dur = table["change_pct"][i], table["duration_s"][i]
        style = "red" if change == change and change < -10 else None
        out.add_row(
            str(int(table["epoch"][i])), f"{int(table['first_height'][i]):,}",
            f"{table['first_time'][i]:%Y-%m-%d}",
            _fmt_difficulty(float(table["difficulty"][i])),
            "–" if change != change else f"{change:+.2f}",
            "–" if dur != dur else f"{dur / 86400:.2f}",
            _fmt_ehs(table["hashrate_ehs"][i]),
            f"{_fmt_ehs(table['hashrate_lo_ehs'][i])}–{_fmt_ehs(table['hashrate_hi_ehs'][i])}",
            {"headers": "h", "retarget": "r"}.get(str(table["duration_source"][i]), "–"),
            style=style,
        )
    console.print(out)
    cuts = cut_order(table["change_pct"], 3)
    if cuts:
        console.print("Largest difficulty cuts in range: " + "; ".join(
            f"{table['change_pct'][i]:+.2f} % at block {int(table['first_height'][i]):,} "
            f"({table['first_time'][i]:%Y-%m-%d})" for i in cuts
        ))
