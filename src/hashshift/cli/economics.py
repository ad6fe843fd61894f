"""``hashshift economics``: hashprice, hashvalue and each machine's break-even price."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._base import (
    PRICE_HELP,
    JsonOption,
    UserError,
    check_price,
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


def register(app: typer.Typer) -> None:
    """Add ``hashshift economics`` to ``app``."""
    app.command("economics")(economics)


def _market_month(when: str | None) -> pd.Series:
    """The bundled market row of the month ``--date`` names (default: the newest)."""
    from ..sources.bundled_observed import read_market_month
    from ..sources.errors import OutOfRangeError

    if when is None:
        return read_market_month()
    day = parse_day(when if len(when) > 7 else f"{when}-01", "--date")
    try:
        return read_market_month(day)
    except OutOfRangeError as exc:
        raise UserError(f"--date {when}: {exc}") from None


@friendly
def economics(
    machine: Annotated[
        list[str] | None,
        typer.Option(help="Machine model, e.g. \"Antminer S19 XP\" (repeatable; default: "
                          "every machine released by --date)."),
    ] = None,
    price: Annotated[float, typer.Option(help=PRICE_HELP)] = 0.05,
    date: Annotated[
        str | None,
        typer.Option(help="Month of the market data (YYYY-MM or YYYY-MM-DD; default: newest)."),
    ] = None,
    capex: Annotated[
        float | None, typer.Option(help="Machine price [USD] for the payback period.")
    ] = None,
    csv: Annotated[Path | None, typer.Option(help="Write the table to this CSV file.")] = None,
    rows: Annotated[int, typer.Option(min=1, help="Machines to show.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Hashprice, hashvalue and each machine's break-even electricity price [USD/kWh]."""
    import pandas as pd

    from .. import economics as ec
    from .. import hardware as hw

    check_price(price)
    if capex is not None and (not math.isfinite(capex) or capex < 0):
        raise UserError(f"--capex {capex:g}: the machine price must be >= 0 USD")
    mrow = _market_month(date)
    month = pd.Timestamp(mrow["date"])
    h_ehs = float(mrow["hashrate_ehs"])
    fig = ec.market_figures(float(mrow["revenue_usd_day"]),
                            float(mrow["subsidy_btc_day"] + mrow["fees_btc_day"]), h_ehs, price)
    hashprice, hashvalue, theta = (fig["hashprice_usd_ph_day"], fig["hashvalue_btc_ph_day"],
                                   fig["threshold_j_th"])

    if machine:
        found = [hw.machine(n) for n in machine]
        cat = pd.DataFrame([{
            "model": m.model, "maker": m.maker, "release_date": pd.Timestamp(m.release_date),
            "hashrate_ths": m.hashrate_ths, "efficiency_j_th": m.efficiency_j_th,
        } for m in found])
    else:
        if capex is not None:
            raise UserError("--capex needs one --machine (a price applies to one model)")
        cat = hw.released(month + pd.offsets.MonthEnd(0))
        cat = cat.sort_values("efficiency_j_th", kind="stable")
    if capex is not None and len(cat) != 1:
        raise UserError("--capex needs exactly one --machine")
    table_df = ec.machine_table(cat, hashprice, price, theta, capex)
    summary = {
        "month": f"{month:%Y-%m}", "price_usd_kwh": price,
        "btc_price_usd": float(mrow["price_usd"]), "hashrate_ehs": h_ehs,
        "hashprice_usd_ph_day": hashprice, "hashvalue_btc_ph_day": hashvalue,
        "threshold_j_th": theta,
    }
    if csv is not None:
        write_csv(table_df, csv)
    if as_json:
        emit_json({**summary, "csv": str(csv) if csv else None,
                   "machines": records(table_df)})
        return
    if state.quiet:
        return
    console.print(
        f"[bold]{month:%B %Y}[/] (monthly means): BTC {num(mrow['price_usd'], ',.0f')} USD, "
        f"hashrate {num(h_ehs, ',.1f')} EH/s, hashprice {num(hashprice)} USD/(PH/s)/day, "
        f"hashvalue {hashvalue:.6f} BTC/(PH/s)/day, profitability threshold "
        f"{num(theta, ',.1f')} J/TH at {price:g} USD/kWh", highlight=False,
    )
    _print_machines(table_df, month, price, rows, by_name=bool(machine), capex=capex)
    if csv is not None:
        say_written("table", csv)


def _print_machines(table_df: pd.DataFrame, month: pd.Timestamp, price: float, rows: int, *,
                    by_name: bool, capex: float | None) -> None:
    """The machine table: dim when released after ``month``, red when running at a loss."""
    import pandas as pd
    from rich.table import Table

    shown = table_df.head(rows)
    table = Table(
        title=f"Machines at {price:g} USD/kWh" + (
            "" if by_name else f": {len(shown)} of {len(table_df)} released by {month:%Y-%m}"),
        caption="BE = break-even electricity price = hashprice / (J/TH × 24); rev = revenue, "
                "cost = electricity, net = rev − cost (nameplate specs, no PUE)",
    )
    cols = ["machine", "released", "TH/s", "J/TH", "BE $/kWh", "rev $/d", "cost $/d",
            "net $/d"]
    if capex is not None:
        cols.append("payback d")
    for c in cols:
        if c == "machine":
            table.add_column(c, overflow="fold", min_width=22)
        else:
            table.add_column(c, justify="left" if c == "released" else "right", no_wrap=True)
    rows_: list[dict[str, Any]] = shown.to_dict("records")  # type: ignore[assignment]
    for r in rows_:
        cells = [
            f"{r['maker']} {r['model']}", f"{r['release_date']:%Y-%m}",
            num(r["hashrate_ths"], ",.1f"), num(r["efficiency_j_th"], ",.1f"),
            num(r["break_even_usd_kwh"], ".4f"), num(r["revenue_usd_day"]),
            num(r["power_cost_usd_day"]), num(r["margin_usd_day"]),
        ]
        if capex is not None:
            pb = float(r["payback_days"])
            cells.append(num(pb, ",.0f") if math.isfinite(pb) else "never")
        late = pd.Timestamp(r["release_date"]) > month + pd.offsets.MonthEnd(0)
        loss = float(r["margin_usd_day"]) < 0
        table.add_row(*cells, style="dim" if late else ("red" if loss else None))
    console.print(table)
