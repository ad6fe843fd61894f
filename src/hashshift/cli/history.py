"""``hashshift history``: the network per 2016-block epoch (difficulty, retargets, hashrate)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._base import (
    JsonOption,
    UserError,
    console,
    emit_json,
    friendly,
    parse_date,
    say_written,
    state,
    write_csv,
)

if TYPE_CHECKING:
    import pandas as pd


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
    rows: Annotated[int, typer.Option(min=1, help="Epochs to list in the table.")] = 12,
    as_json: JsonOption = False,
) -> None:
    """The network's history per 2016-block epoch: difficulty, retargets and hashrate."""
    from .. import history as hist

    start = parse_date(since, "--since")
    end = parse_date(until, "--until")
    if start and end and start > end:
        raise UserError(f"--since {since} is after --until {until}")
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
            "last_epoch": {k: (v.isoformat() if hasattr(v, "isoformat") else v)
                           for k, v in last.drop(labels=["target"]).to_dict().items()},
            "csv": str(csv) if csv else None,
            "chart": str(chart) if chart else None,
        })
        return
    if state.quiet:
        return
    _print_history(df, rows)
    if csv is not None:
        say_written("epochs", csv)
    if chart is not None:
        say_written("chart", chart)


def _fmt_ehs(x: float) -> str:
    if x != x:  # NaN
        return "–"
    return f"{x:,.3f}" if x < 10 else f"{x:,.1f}"


def _fmt_difficulty(d: float) -> str:
    for scale, unit in ((1e12, "T"), (1e9, "G"), (1e6, "M")):
        if d >= scale:
            return f"{d / scale:,.2f} {unit}"
    return f"{d:,.2f}"


def _print_history(df: pd.DataFrame, rows: int) -> None:
    from rich.table import Table

    table = Table(title=f"Difficulty epochs: last {min(rows, len(df))} of {len(df)} in range",
                  caption="EH/s: epoch-mean hashrate; CI: 95 % interval; src: duration from "
                          "headers (h) or next retarget (r)")
    for col in ("epoch", "height", "start", "difficulty", "chg %", "days", "EH/s", "95 % CI",
                "src"):
        table.add_column(col, justify="left" if col in ("start", "src") else "right",
                         no_wrap=True)
    for _, r in df.tail(rows).iterrows():
        change = r["change_pct"]
        style = "red" if change == change and change < -10 else None
        table.add_row(
            str(int(r["epoch"])), f"{int(r['first_height']):,}", f"{r['first_time']:%Y-%m-%d}",
            _fmt_difficulty(float(r["difficulty"])),
            "–" if change != change else f"{change:+.2f}",
            "–" if r["duration_s"] != r["duration_s"] else f"{r['duration_s'] / 86400:.2f}",
            _fmt_ehs(r["hashrate_ehs"]),
            f"{_fmt_ehs(r['hashrate_lo_ehs'])}–{_fmt_ehs(r['hashrate_hi_ehs'])}",
            {"headers": "h", "retarget": "r"}.get(str(r["duration_source"]), "–"),
            style=style,
        )
    console.print(table)
    from ..history import largest_cuts

    cuts: list[dict[str, Any]] = largest_cuts(df, 3).to_dict("records")  # type: ignore[assignment]
    if cuts:
        console.print("Largest difficulty cuts in range: " + "; ".join(
            f"{r['change_pct']:+.2f} % at block {int(r['first_height']):,} "
            f"({r['first_time']:%Y-%m-%d})" for r in cuts
        ))
