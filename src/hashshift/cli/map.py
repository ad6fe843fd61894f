"""``hashshift map``: CCAF's mining map by country or Chinese province, with EH/s."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

from ._base import (
    JsonOption,
    UserError,
    console,
    emit_json,
    friendly,
    num,
    records,
    say_written,
    state,
    write_csv,
)

if TYPE_CHECKING:
    import pandas as pd

_MONTH = re.compile(r"\d{4}-\d{2}(-\d{2})?")
_LEVELS = ("country", "province")


def register(app: typer.Typer) -> None:
    """Add ``hashshift map`` to ``app``."""
    app.command("map")(map_)


@friendly
def map_(
    date: Annotated[
        str | None,
        typer.Option("--date", help="Month to show, YYYY-MM (default: the newest in the map)."),
    ] = None,
    level: Annotated[
        str, typer.Option("--level", help="country, or province (China's provinces).")
    ] = "country",
    csv: Annotated[Path | None, typer.Option(help="Write the table to this CSV file.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Where the hashrate was: CCAF's mining map (share of the global hashrate) and EH/s."""
    from .. import geography as geo
    from ..store import Store

    if level not in _LEVELS:
        raise UserError(f"--level must be 'country' or 'province', not {level!r}")
    if date is not None and not _MONTH.fullmatch(date.strip()):
        raise UserError(f"--date: {date!r} is not a month; use YYYY-MM (e.g. 2021-04)")
    lvl = cast(geo.Level, level)
    store = Store()  # its mining_map months, if any, replace the bundled ones
    if date is None:
        have = geo.months(lvl, store)
        if not have:
            raise UserError(f"the mining map has no {level}-level data")
        date = f"{have[-1]:%Y-%m}"
    try:
        df = geo.shares(date.strip(), lvl, store)
    except geo.MiningMapError as exc:
        raise UserError(str(exc)) from None
    except ValueError as exc:  # an impossible month such as 2021-13
        raise UserError(f"--date: {exc}") from None

    if csv is not None:
        out = df.copy()
        out.insert(0, "level", level)
        out.insert(0, "date", df.attrs["date"] + "-01")
        write_csv(out, csv)
    if as_json:
        a = df.attrs
        network = float(a["network_hashrate_ehs"])
        emit_json({
            "date": a["date"], "level": level,
            "network_hashrate_ehs": None if network != network else network,
            "source": a["source"], "data_source": a["data_source"], "vintage": a["vintage"],
            "caveat": a["caveat"], "csv": str(csv) if csv else None,
            "regions": records(df),
        })
        return
    if state.quiet:
        return
    _print_map(df, level)
    if csv is not None:
        say_written("table", csv)


def _print_map(df: pd.DataFrame, level: str) -> None:
    import pandas as pd
    from rich.table import Table

    from ..regions import region_group

    a = df.attrs
    month = pd.Timestamp(a["date"] + "-01")
    what = "country" if level == "country" else "Chinese province"
    table = Table(title=f"Mining map: hashrate by {what}, {month:%B %Y}")
    table.add_column("code", no_wrap=True)
    table.add_column("region", no_wrap=True)
    if level == "country":
        table.add_column("group", no_wrap=True)
    table.add_column("share %", justify="right", no_wrap=True)
    if level == "province":
        table.add_column("of China %", justify="right", no_wrap=True)
    table.add_column("EH/s", justify="right", no_wrap=True)
    for r in df.to_dict("records"):
        cells = [str(r["region_code"]), str(r["region_name"])]
        if level == "country":
            cells.append(region_group(str(r["region_code"])))
        cells.append(num(r["share_pct"]))
        if level == "province":
            cells.append(num(r["share_of_china_pct"]))
        cells.append(num(r["hashrate_ehs"]))
        table.add_row(*cells)
    total = [""] if level == "country" else []
    total.append(num(df["share_pct"].sum()))
    if level == "province":
        total.append(num(df["share_of_china_pct"].sum()))
    total.append(num(df["hashrate_ehs"].sum()))
    table.add_section()
    table.add_row("", "total", *total, style="bold")
    console.print(table)
    console.print(
        f"share %: of the global hashrate; EH/s: share × the network's mean hashrate that month "
        f"({num(a['network_hashrate_ehs'], ',.1f')} EH/s, from the bundled chain history).\n"
        f"Source: {a['data_source']}; {a['source']}.\n"
        f"[bold]Caveat:[/] {a['caveat']}",
        highlight=False,
    )
