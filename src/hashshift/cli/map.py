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
    parse_day,
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
        typer.Option("--date", help="Month to show, YYYY-MM: a month CCAF published (exact) or "
                                    "a later one to the newest chain data (nowcast, with its "
                                    "90 % interval); `latest`: the newest month the chain data "
                                    "reach. Default: the newest published month."),
    ] = None,
    level: Annotated[
        str, typer.Option("--level", help="country, or province (China's provinces).")
    ] = "country",
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Show the map as known on this day (YYYY-MM-DD): only the releases "
                        "public then, and the nowcast as known then (default: every release; "
                        "the nowcast as known on the newest bundled day).")] = None,
    nowcast: Annotated[bool, typer.Option(
        "--nowcast", help="With --as-of: for a month CCAF published only later, show its "
                          "nowcast as known on that day.")] = False,
    csv: Annotated[Path | None, typer.Option(help="Write the table to this CSV file.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Where the hashrate was, and is: CCAF's mining map (share of the global hashrate) and
    EH/s; after its last month, the nowcast with its 90 % interval."""
    from .. import atlas
    from .. import geography as geo
    from ..store import Store

    if level not in _LEVELS:
        raise UserError(f"--level must be 'country' or 'province', not {level!r}")
    if date is not None and date.strip() == "latest":
        from ..freshness import nowcast_reach

        try:
            date = f"{nowcast_reach(as_of):%Y-%m}"
            nowcast = nowcast or as_of is not None  # the newest month then: not yet published
        except ValueError as exc:
            raise UserError(f"--date latest: {exc}") from None
    if date is not None and (not _MONTH.fullmatch(date.strip())
                             or not 1 <= int(date.strip()[5:7]) <= 12):
        raise UserError(f"--date: {date!r} is not a month; use YYYY-MM with a month 01 to 12 "
                        "(e.g. 2021-04), or latest")
    day = parse_day(as_of, "--as-of")
    if nowcast and day is None:
        raise UserError("--nowcast needs --as-of (without it, every month CCAF published is "
                        "shown as published)")
    lvl = cast(geo.Level, level)
    store = Store()  # its mining_map months, if any, replace the bundled ones
    if date is None:
        have = geo.months(lvl, store, as_of=day)
        if not have:
            raise UserError(f"the mining map had no {level}-level month public on {as_of}")
        date = f"{have[-1]:%Y-%m}"
    try:
        df = atlas.map_month(date.strip(), level, as_of=day, store=store, nowcast=nowcast)
    except atlas.MapMonthError as exc:
        raise UserError(str(exc)) from None
    kind = df.attrs["kind"]
    if csv is not None:
        out = df.copy()
        out.insert(0, "kind", kind)
        out.insert(0, "level", level)
        out.insert(0, "date", df.attrs["date"] + "-01")
        write_csv(out, csv)
    if as_json:
        a = df.attrs
        payload = {
            "date": a["date"], "level": level, "kind": kind, "label": a["label"],
            "as_of": a.get("as_of"),
            "network_hashrate_ehs": a["network_hashrate_ehs"],
            "source": a["source"], "caveat": a["caveat"], "csv": str(csv) if csv else None,
            "regions": records(df),
        }
        if kind == "observed":
            payload.update(data_source=a["data_source"], vintage=a["vintage"])
        else:
            payload.update(last_published=a["last_published"], evidence=a["evidence"],
                           subdivisions=a["subdivisions"], particles=a["particles"],
                           seed=a["seed"])
        emit_json(payload)
        return
    if state.quiet:
        return
    if kind == "observed":
        _print_map(df, level)
    else:
        _print_nowcast(df, level)
    if csv is not None:
        say_written("table", csv)


def _print_nowcast(df: pd.DataFrame, level: str) -> None:
    import pandas as pd
    from rich.table import Table

    a = df.attrs
    month = pd.Timestamp(a["date"] + "-01")
    what = "country" if level == "country" else "Chinese province"
    table = Table(title=f"Mining map: hashrate by {what}, {month:%B %Y} — "
                        f"[bold]{a['label'].upper()}[/] (as known on {a['as_of']})")
    for col in ("code", "region", "share % (median)", "90 % interval", "EH/s (median)",
                "EH/s 90 %"):
        table.add_column(col, no_wrap=True, justify="left" if col in ("code", "region")
                         else "right")
    for r in df.to_dict("records"):
        table.add_row(str(r["region_code"]), str(r["region_name"]), num(r["share_pct_q50"]),
                      f"{num(r['share_pct_q05'])}–{num(r['share_pct_q95'])}",
                      num(r["hashrate_ehs_q50"], ",.1f"),
                      f"{num(r['hashrate_ehs_q05'], ',.1f')}–{num(r['hashrate_ehs_q95'], ',.1f')}")
    console.print(table)
    for s in a.get("subdivisions", []):
        console.print(f"  of which {s['region_name']} ({s['region_code']}): "
                      f"{num(s['share_pct_q50'])} % (90 %: {num(s['share_pct_q05'])}–"
                      f"{num(s['share_pct_q95'])} %)", highlight=False)
    used = ", ".join(a["evidence"]) or "none"
    console.print(
        f"[bold]Nowcast, not observed:[/] CCAF's last published month is {a['last_published']}. "
        f"Medians of the particles need not add up to 100 %; the 90 % interval is what to "
        f"quote. Natural experiments weighed: {used}. Network hashrate that month: "
        f"{num(a['network_hashrate_ehs'], ',.1f')} EH/s.\n"
        f"Source: {a['source']}.\n[bold]Caveat:[/] {a['caveat']}",
        highlight=False,
    )


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
