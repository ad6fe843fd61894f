"""``hashshift energy``: Bitcoin's power and energy by CCAF's CBECI method."""

from __future__ import annotations

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
    """Add ``hashshift energy`` to ``app``."""
    app.command("energy")(energy)


@friendly
def energy(
    price: Annotated[float, typer.Option(help=PRICE_HELP)] = 0.05,
    since: Annotated[str | None, typer.Option(help="First day (YYYY-MM-DD, UTC).")] = None,
    until: Annotated[str | None, typer.Option(help="Last day (YYYY-MM-DD, UTC).")] = None,
    market: Annotated[
        Path | None,
        typer.Option(help="Coin Metrics btc.csv for daily inputs (default: the local store's "
                          "prices, else the bundled monthly table)."),
    ] = None,
    max_age_years: Annotated[
        float | None, typer.Option(help="Retire machines this many years after release.")
    ] = None,
    csv: Annotated[Path | None, typer.Option(help="Write every row to this CSV file.")] = None,
    rows: Annotated[int, typer.Option(min=1, help="Rows to show in the table.")] = 12,
    as_json: JsonOption = False,
) -> None:
    """Bitcoin's power [GW] and annualised energy [TWh/yr] by CCAF's CBECI method."""
    from ..cbeci import MarketInputError, cbeci_market, run_cbeci

    check_price(price)
    start, end = parse_day(since, "--since"), parse_day(until, "--until")
    if start is not None and end is not None and start > end:
        raise UserError(f"--since {since} is after --until {until}")
    if max_age_years is not None and max_age_years <= 0:
        raise UserError(f"--max-age-years {max_age_years:g}: must be > 0 years")
    try:
        frame, label = cbeci_market(market)
    except MarketInputError as exc:
        raise UserError(f"--market {exc}") from None
    out = run_cbeci(frame, price_usd_kwh=price, since=start, until=end,
                    max_age_days=None if max_age_years is None else max_age_years * 365.25)
    out = out.dropna(subset=["power_guess_gw"]) if out["power_guess_gw"].notna().any() else out
    if csv is not None:
        write_csv(out, csv)
    if as_json:
        emit_json({"source": label, "resolution": out.attrs.get("resolution"),
                   "price_usd_kwh": price, "csv": str(csv) if csv else None,
                   "rows": records(out)})
        return
    if state.quiet:
        return
    _print_energy(out, label, price, rows)
    if csv is not None:
        say_written("rows", csv)


def _print_energy(out: pd.DataFrame, label: str, price: float, rows: int) -> None:
    """The CBECI table over the range asked: all rows when they fit, else its first and last
    rows with the months (or days) between them counted."""
    from rich.table import Table

    monthly = out.attrs.get("resolution") == "monthly"
    unit = "months" if monthly else "days"

    def when(d: object) -> str:
        return f"{d:%Y-%m}" if monthly else f"{d:%Y-%m-%d}"

    first, last = out["date"].iloc[0], out["date"].iloc[-1]
    shown = f"all {len(out)}" if len(out) <= rows else f"first and last of {len(out)}"
    table = Table(
        title=f"CBECI at {price:g} USD/kWh, {when(first)} to {when(last)}: {shown} {unit}",
        caption=f"inputs: {label}; hardware: bundled ASIC catalogue. θ (theta) = the "
                "profitability threshold: the least efficient machine [J/TH] that still earns "
                "its power at this price; bounds: best/equal-weight mean/worst profitable "
                "machine × PUE 1.01/1.10/1.20"
                + ("" if monthly else "; 14-day θ and 7-day power averages"),
    )
    for col in ("date", "EH/s", "θ J/TH", "n", "lower GW", "guess GW", "upper GW",
                "guess TWh/yr"):
        table.add_column(col, justify="left" if col == "date" else "right", no_wrap=True)
    recs: list[Any] = out.to_dict("records")
    head = max(rows // 2, 1)
    tail = max(rows - head, 1)
    picked = recs if len(recs) <= rows else [*recs[:head], None, *recs[-tail:]]
    for r in picked:
        if r is None:
            table.add_row(f"… {len(recs) - head - tail} {unit} …", *[""] * 7, style="dim")
            continue
        table.add_row(
            when(r["date"]), num(r["hashrate_ehs"], ",.1f"), num(r["threshold_j_th"], ",.1f"),
            str(r["n_profitable"]), num(r["power_lower_gw"]), num(r["power_guess_gw"]),
            num(r["power_upper_gw"]), num(r["energy_guess_twh_yr"], ",.1f"),
        )
    console.print(table)
