"""CLI command ``hashshift map``: CCAF's mining map by country or Chinese province, with EH/s."""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path
from typing import Annotated, Any, cast

import pandas as pd
import typer
from rich.table import Table

from .cli import UserError, app, console, friendly, state
from .regions import region_group

_MONTH = re.compile(r"\d{4}-\d{2}(-\d{2})?")
_LEVELS = ("country", "province")


def _clean(x: Any) -> Any:
    """JSON-safe value: NaN -> None, numpy scalars -> Python numbers."""
    if isinstance(x, float | int) and not isinstance(x, bool):
        v = float(x)
        return None if math.isnan(v) else (int(x) if isinstance(x, int) else v)
    if hasattr(x, "item"):
        return _clean(x.item())
    return x


def _fmt(x: float, digits: int = 2) -> str:
    return "–" if x != x else f"{x:,.{digits}f}"


def _print_map(df: pd.DataFrame, level: str) -> None:
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
        cells.append(_fmt(float(r["share_pct"])))
        if level == "province":
            cells.append(_fmt(float(r["share_of_china_pct"])))
        cells.append(_fmt(float(r["hashrate_ehs"])))
        table.add_row(*cells)
    total = [""] if level == "country" else []
    total.append(_fmt(float(df["share_pct"].sum())))
    if level == "province":
        total.append(_fmt(float(df["share_of_china_pct"].sum())))
    total.append(_fmt(float(df["hashrate_ehs"].sum())))
    table.add_section()
    table.add_row("", "total", *total, style="bold")
    console.print(table)
    console.print(
        f"share %: of the global hashrate; EH/s: share × the network's mean hashrate that month "
        f"({_fmt(a['network_hashrate_ehs'], 1)} EH/s, from the bundled chain history).\n"
        f"Source: {a['data_source']}; {a['source']}.\n"
        f"[bold]Caveat:[/] {a['caveat']}",
        highlight=False,
    )


@app.command("map")
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
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Where the hashrate was: CCAF's mining map (share of the global hashrate) and EH/s."""
    from . import geography as geo
    from .store import Store

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
        csv.parent.mkdir(parents=True, exist_ok=True)
        out = df.copy()
        out.insert(0, "level", level)
        out.insert(0, "date", df.attrs["date"] + "-01")
        out.to_csv(csv, index=False)
    if as_json:
        payload = {
            "date": df.attrs["date"],
            "level": level,
            "network_hashrate_ehs": _clean(df.attrs["network_hashrate_ehs"]),
            "source": df.attrs["source"],
            "data_source": df.attrs["data_source"],
            "vintage": df.attrs["vintage"],
            "caveat": df.attrs["caveat"],
            "csv": str(csv) if csv else None,
            "regions": [{k: _clean(v) for k, v in rec.items()}
                        for rec in df.to_dict("records")],
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return
    if state.quiet:
        return
    _print_map(df, level)
    if csv is not None:
        console.print(f"table written to [bold]{csv}[/]")
