"""``hashshift validate cbeci``: hashshift's models against published reference series."""

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
    num,
    parse_day,
    records,
    say_written,
    state,
    write_csv,
)

if TYPE_CHECKING:
    import pandas as pd

validate_app = typer.Typer(
    help="Check hashshift's models against published reference series.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add the ``hashshift validate`` group to ``app``."""
    app.add_typer(validate_app, name="validate")


@validate_app.command("cbeci")
@friendly
def cbeci(
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Folder with cambridge/ and market/ reference files (default: "
                          "$HASHSHIFT_SHARED_DATA or ../shared/data)."),
    ] = None,
    start: Annotated[str, typer.Option(help="First day compared.")] = "2015-01-01",
    end: Annotated[str, typer.Option(help="Last day compared.")] = "2020-12-31",
    csv: Annotated[Path | None, typer.Option(help="Write the table to this CSV file.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Reproduce CCAF's CBECI bounds from CCAF's hardware list and Coin Metrics data."""
    from ..cbeci import cbeci_validation_table
    from ..sources.errors import MissingFilesError
    from ..sources.reference import default_data_dir

    s, e = parse_day(start, "--start"), parse_day(end, "--end")
    assert s is not None and e is not None
    if s > e:
        raise UserError(f"--start {start} is after --end {end}")
    folder = data_dir if data_dir is not None else default_data_dir()
    try:
        df = cbeci_validation_table(folder, start=f"{s:%Y-%m-%d}", end=f"{e:%Y-%m-%d}")
    except MissingFilesError as exc:
        raise UserError("missing reference file(s): " + ", ".join(str(p) for p in exc.missing)
                        + "; pass --data-dir pointing at a folder with cambridge/ and market/ "
                        "(or set HASHSHIFT_SHARED_DATA)") from None
    if csv is not None:
        write_csv(df, csv)
    if as_json:
        emit_json({"data_dir": str(folder), "start": f"{s:%Y-%m-%d}", "end": f"{e:%Y-%m-%d}",
                   "rows": records(df)})
        return
    if state.quiet:
        return
    _print_validation(df, s, e)
    if csv is not None:
        say_written("table", csv)


def _print_validation(df: pd.DataFrame, s: pd.Timestamp, e: pd.Timestamp) -> None:
    from rich.table import Table

    table = Table(
        title=f"CBECI reproduced vs CCAF, {s:%Y-%m-%d} .. {e:%Y-%m-%d} (daily, $0.05/kWh)",
        caption="e = ours / CCAF − 1 per day (annualised TWh/yr); bias = median e; goal: "
                "median |e| ≤ 5 % "
                "best guess, ≤ 10 % bounds. Hardware: ccaf-2021-02 = CCAF's list as "
                "published (docs/energy.md explains the gaps)",
    )
    for c in ("hardware", "vintage", "series", "days", "med |e| %", "p90 |e| %", "max |e| %",
              "bias %", "goal", "ok"):
        if c in ("hardware", "vintage"):
            table.add_column(c, no_wrap=True, min_width=12 if c == "hardware" else 16)
        else:
            table.add_column(c, justify="left" if c == "series" else "right", no_wrap=True,
                             min_width=3)
    rows: list[dict[str, Any]] = df.to_dict("records")  # type: ignore[assignment]
    for r in rows:
        table.add_row(
            str(r["hardware"]), str(r["vintage"]), str(r["series"]), str(r["days"]),
            num(r["median_abs_err_pct"]), num(r["p90_abs_err_pct"]),
            num(r["max_abs_err_pct"]), num(r["median_err_pct"], "+.2f"),
            num(r["goal_pct"], ".0f"), "yes" if r["meets_goal"] else "[red]no[/]",
        )
    console.print(table)
