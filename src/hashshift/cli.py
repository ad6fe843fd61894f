"""The ``hashshift`` command line (typer + rich)."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from . import __version__

app = typer.Typer(
    name="hashshift",
    help="Where Bitcoin's hashrate lives, what it draws and earns, and what bans do to it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
# Pipes and files get a width that fits the tables; terminals use their own.
console = Console(width=None if sys.stdout.isatty() else 110)
err_console = Console(stderr=True)


class _State:
    quiet = False
    debug = False


state = _State()


class UserError(Exception):
    """An error caused by the user's input: shown as one line, without a traceback."""


F = TypeVar("F", bound=Callable[..., Any])


def friendly(func: F) -> F:
    """Turn errors into one clear line and a non-zero exit (``--debug`` shows the traceback)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:
            if state.debug:
                raise
            err_console.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
            code = 2 if isinstance(exc, UserError | ValueError | LookupError) else 1
            raise typer.Exit(code) from None

    return wrapper  # type: ignore[return-value]


def _version(value: bool) -> None:
    if value:
        console.print(f"hashshift {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    state.quiet = quiet
    state.debug = debug


def _parse_date(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        d = datetime.fromisoformat(value)
    except ValueError:
        raise UserError(
            f"{name}: {value!r} is not a date; use YYYY-MM-DD (e.g. 2021-05-31)"
        ) from None
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def _fmt_ehs(x: float) -> str:
    if x != x:  # NaN
        return "–"
    return f"{x:,.3f}" if x < 10 else f"{x:,.1f}"


def _emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


@app.command()
@friendly
def history(
    since: Annotated[str | None, typer.Option(help="First day to show (YYYY-MM-DD, UTC).")] = None,
    until: Annotated[str | None, typer.Option(help="Last day to show (YYYY-MM-DD, UTC).")] = None,
    csv: Annotated[Path | None, typer.Option(help="Write the epochs to this CSV file.")] = None,
    chart: Annotated[
        Path | None, typer.Option(help="Write a hashrate and difficulty chart (.png, .svg, .pdf).")
    ] = None,
    rows: Annotated[int, typer.Option(min=1, help="Epochs to list in the table.")] = 12,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """The network's history per 2016-block epoch: difficulty, retargets and hashrate."""
    from . import history as hist

    start = _parse_date(since, "--since")
    end = _parse_date(until, "--until")
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
    if csv is not None:
        csv.parent.mkdir(parents=True, exist_ok=True)
        out = df.copy()
        out["target"] = [f"{int(t):064x}" for t in out["target"]]
        out.to_csv(csv, index=False)
    if chart is not None:
        from .report.charts import history_chart

        history_chart(df, chart)
    if as_json:
        last = df.iloc[-1]
        _emit_json({
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
        console.print(f"epochs written to [bold]{csv}[/]")
    if chart is not None:
        console.print(f"chart written to [bold]{chart}[/]")


def _fmt_difficulty(d: float) -> str:
    for scale, unit in ((1e12, "T"), (1e9, "G"), (1e6, "M")):
        if d >= scale:
            return f"{d / scale:,.2f} {unit}"
    return f"{d:,.2f}"


def _print_history(df: Any, rows: int) -> None:
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
    cuts = df.dropna(subset=["change_pct"]).nsmallest(3, "change_pct")
    if len(cuts):
        console.print("Largest difficulty cuts in range: " + "; ".join(
            f"{r.change_pct:+.2f} % at block {int(r.first_height):,} ({r.first_time:%Y-%m-%d})"
            for r in cuts.itertuples()
        ))


def main() -> None:
    """Console-script entry point."""
    app()


# Command groups live in their own modules and register themselves on `app` when imported.
from . import (  # noqa: E402, F401
    cli_backtest,
    cli_data,
    cli_geo,
    cli_observed,
    cli_report,
    cli_serve,
    cli_sim,
    cli_sweep,
)

if __name__ == "__main__":  # pragma: no cover
    main()
