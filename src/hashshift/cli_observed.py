"""CLI commands of the observed layer: energy, economics, validate (the mining map lives with
the geography commands)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.table import Table

from .cli import UserError, _emit_json, _parse_date, app, console, friendly, state

validate_app = typer.Typer(
    help="Check hashshift's models against published reference series.",
    no_args_is_help=True,
)
app.add_typer(validate_app, name="validate")

_PRICE_HELP = "Electricity price [USD/kWh] (CBECI's default 0.05)."


def _check_price(price: float) -> None:
    if not math.isfinite(price) or price <= 0:
        raise UserError(f"--price {price:g}: the electricity price must be > 0 USD/kWh "
                        "(e.g. --price 0.05)")


def _day(value: str | None, name: str) -> pd.Timestamp | None:
    d = _parse_date(value, name)
    return None if d is None else pd.Timestamp(d.date())


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = pd.DatetimeIndex(out[c]).strftime("%Y-%m-%d")
    out.to_csv(path, index=False)


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = pd.DatetimeIndex(out[c]).strftime("%Y-%m-%d")
    recs: list[dict[str, Any]] = out.to_dict("records")  # type: ignore[assignment]
    for r in recs:
        for k, v in r.items():
            if isinstance(v, float) and not math.isfinite(v):
                r[k] = None
    return recs


def _rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    recs: list[dict[str, Any]] = df.to_dict("records")  # type: ignore[assignment]
    return recs


def _num(x: Any, spec: str = ",.2f") -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    return "–" if not math.isfinite(v) else format(v, spec)


# --------------------------------------------------------------------------------------------
# energy
# --------------------------------------------------------------------------------------------


@app.command()
@friendly
def energy(
    price: Annotated[float, typer.Option(help=_PRICE_HELP)] = 0.05,
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
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Bitcoin's power [GW] and annualised energy [TWh/yr] by CCAF's CBECI method."""
    from .cbeci import MarketInputError, cbeci_market, run_cbeci

    _check_price(price)
    start, end = _day(since, "--since"), _day(until, "--until")
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
        _write_csv(out, csv)
    if as_json:
        _emit_json({"source": label, "resolution": out.attrs.get("resolution"),
                    "price_usd_kwh": price, "csv": str(csv) if csv else None,
                    "rows": _records(out)})
        return
    if state.quiet:
        return
    monthly = out.attrs.get("resolution") == "monthly"
    table = Table(
        title=f"CBECI at {price:g} USD/kWh: last {min(rows, len(out))} of {len(out)} "
              f"{'months' if monthly else 'days'}",
        caption=f"inputs: {label}; hardware: bundled ASIC catalogue. θ = profitability "
                "threshold; bounds: best/equal-weight mean/worst profitable machine × PUE "
                "1.01/1.10/1.20" + ("" if monthly else "; 14-day θ and 7-day power averages"),
    )
    for col in ("date", "EH/s", "θ J/TH", "n", "lower GW", "guess GW", "upper GW",
                "guess TWh/yr"):
        table.add_column(col, justify="left" if col == "date" else "right", no_wrap=True)
    for r in _rows(out.tail(rows)):
        table.add_row(
            f"{r['date']:%Y-%m}" if monthly else f"{r['date']:%Y-%m-%d}",
            _num(r["hashrate_ehs"], ",.1f"), _num(r["threshold_j_th"], ",.1f"),
            str(r["n_profitable"]), _num(r["power_lower_gw"]), _num(r["power_guess_gw"]),
            _num(r["power_upper_gw"]), _num(r["energy_guess_twh_yr"], ",.1f"),
        )
    console.print(table)
    if csv is not None:
        console.print(f"rows written to [bold]{csv}[/]")


# --------------------------------------------------------------------------------------------
# economics
# --------------------------------------------------------------------------------------------


def _market_month(when: str | None) -> pd.Series:
    """The bundled market row of the month ``--date`` names (default: the newest)."""
    from .sources.bundled_observed import read_market_month
    from .sources.errors import OutOfRangeError

    if when is None:
        return read_market_month()
    day = _day(when if len(when) > 7 else f"{when}-01", "--date")
    try:
        return read_market_month(day)
    except OutOfRangeError as exc:
        raise UserError(f"--date {when}: {exc}") from None


@app.command()
@friendly
def economics(
    machine: Annotated[
        list[str] | None,
        typer.Option(help="Machine model, e.g. \"Antminer S19 XP\" (repeatable; default: "
                          "every machine released by --date)."),
    ] = None,
    price: Annotated[float, typer.Option(help=_PRICE_HELP)] = 0.05,
    date: Annotated[
        str | None,
        typer.Option(help="Month of the market data (YYYY-MM or YYYY-MM-DD; default: newest)."),
    ] = None,
    capex: Annotated[
        float | None, typer.Option(help="Machine price [USD] for the payback period.")
    ] = None,
    csv: Annotated[Path | None, typer.Option(help="Write the table to this CSV file.")] = None,
    rows: Annotated[int, typer.Option(min=1, help="Machines to show.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Hashprice, hashvalue and each machine's break-even electricity price [USD/kWh]."""
    from . import economics as ec
    from . import hardware as hw

    _check_price(price)
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
        _write_csv(table_df, csv)
    if as_json:
        _emit_json({**summary, "csv": str(csv) if csv else None,
                    "machines": _records(table_df)})
        return
    if state.quiet:
        return
    console.print(
        f"[bold]{month:%B %Y}[/] (monthly means): BTC {_num(mrow['price_usd'], ',.0f')} USD, "
        f"hashrate {_num(h_ehs, ',.1f')} EH/s, hashprice {_num(hashprice)} USD/(PH/s)/day, "
        f"hashvalue {hashvalue:.6f} BTC/(PH/s)/day, profitability threshold "
        f"{_num(theta, ',.1f')} J/TH at {price:g} USD/kWh", highlight=False,
    )
    shown = table_df.head(rows)
    table = Table(
        title=f"Machines at {price:g} USD/kWh" + (
            "" if machine else f": {len(shown)} of {len(table_df)} released by {month:%Y-%m}"),
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
    for r in _rows(shown):
        cells = [
            f"{r['maker']} {r['model']}", f"{r['release_date']:%Y-%m}",
            _num(r["hashrate_ths"], ",.1f"), _num(r["efficiency_j_th"], ",.1f"),
            _num(r["break_even_usd_kwh"], ".4f"), _num(r["revenue_usd_day"]),
            _num(r["power_cost_usd_day"]), _num(r["margin_usd_day"]),
        ]
        if capex is not None:
            pb = float(r["payback_days"])
            cells.append(_num(pb, ",.0f") if math.isfinite(pb) else "never")
        late = pd.Timestamp(r["release_date"]) > month + pd.offsets.MonthEnd(0)
        loss = float(r["margin_usd_day"]) < 0
        table.add_row(*cells, style="dim" if late else ("red" if loss else None))
    console.print(table)
    if csv is not None:
        console.print(f"table written to [bold]{csv}[/]")


# --------------------------------------------------------------------------------------------
# validate cbeci
# --------------------------------------------------------------------------------------------

@validate_app.command("cbeci")
@friendly
def validate_cbeci_command(
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Folder with cambridge/ and market/ reference files (default: "
                          "$HASHSHIFT_SHARED_DATA or ../shared/data)."),
    ] = None,
    start: Annotated[str, typer.Option(help="First day compared.")] = "2015-01-01",
    end: Annotated[str, typer.Option(help="Last day compared.")] = "2020-12-31",
    csv: Annotated[Path | None, typer.Option(help="Write the table to this CSV file.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Reproduce CCAF's CBECI bounds from CCAF's hardware list and Coin Metrics data."""
    s, e = _day(start, "--start"), _day(end, "--end")
    assert s is not None and e is not None
    if s > e:
        raise UserError(f"--start {start} is after --end {end}")
    from .cbeci import cbeci_validation_table
    from .sources.errors import MissingFilesError
    from .sources.reference import default_data_dir

    folder = data_dir if data_dir is not None else default_data_dir()
    try:
        df = cbeci_validation_table(folder, start=f"{s:%Y-%m-%d}", end=f"{e:%Y-%m-%d}")
    except MissingFilesError as exc:
        raise UserError("missing reference file(s): " + ", ".join(str(p) for p in exc.missing)
                        + "; pass --data-dir pointing at a folder with cambridge/ and market/ "
                        "(or set HASHSHIFT_SHARED_DATA)") from None
    if csv is not None:
        _write_csv(df, csv)
    if as_json:
        _emit_json({"data_dir": str(folder), "start": f"{s:%Y-%m-%d}", "end": f"{e:%Y-%m-%d}",
                    "rows": _records(df)})
        return
    if state.quiet:
        return
    table = Table(
        title=f"CBECI reproduced vs CCAF, {s:%Y-%m-%d} .. {e:%Y-%m-%d} (daily, $0.05/kWh)",
        caption="e = ours / CCAF − 1 per day (annualised TWh/yr); bias = median e; goal: "
                "median |e| ≤ 5 % "
                "best guess, ≤ 10 % bounds. Hardware: ccaf-2021-02 = CCAF's list; "
                "api-recon = that list as the API vintage used it (Bitmain, Canaan, "
                "MicroBT + Antminer S1, counted from the day after release)",
    )
    for c in ("hardware", "vintage", "series", "days", "med |e| %", "p90 |e| %", "max |e| %",
              "bias %", "goal", "ok"):
        if c in ("hardware", "vintage"):
            table.add_column(c, no_wrap=True, min_width=12 if c == "hardware" else 16)
        else:
            table.add_column(c, justify="left" if c == "series" else "right", no_wrap=True,
                             min_width=3)
    for r in _rows(df):
        table.add_row(
            str(r["hardware"]), str(r["vintage"]), str(r["series"]), str(r["days"]),
            _num(r["median_abs_err_pct"]), _num(r["p90_abs_err_pct"]),
            _num(r["max_abs_err_pct"]), _num(r["median_err_pct"], "+.2f"),
            _num(r["goal_pct"], ".0f"), "yes" if r["meets_goal"] else "[red]no[/]",
        )
    console.print(table)
    if csv is not None:
        console.print(f"table written to [bold]{csv}[/]")
