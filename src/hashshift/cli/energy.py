"""``hashshift energy``: Bitcoin's power and energy by CCAF's CBECI method, and the observed
emissions by month and by country (:func:`hashshift.emissions.monthly_emissions`)."""

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
    emissions: Annotated[bool, typer.Option(
        "--emissions", help="The world's power [GW] and emissions [MtCO2e/yr] by month, with "
                            "CBECI's bounds: CCAF's mining map × CBECI power × each country's "
                            "grid intensity; after CCAF's last month, the nowcast.")] = False,
    month: Annotated[str | None, typer.Option(
        "--month", help="One month (YYYY-MM): power and emissions by country, with bounds "
                        "(implies --emissions).")] = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="With --emissions or --month: as known on this day (YYYY-MM-DD): only "
                        "the map, market months, machines and grid figures public then.")] = None,
    observed_only: Annotated[bool, typer.Option(
        "--observed-only", help="With --emissions or --month: only the months CCAF's map "
                                "covers (no nowcast).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Bitcoin's power [GW] and annualised energy [TWh/yr] by CCAF's CBECI method; with
    --emissions or --month, the observed emissions [MtCO2e/yr] by month and by country."""
    from ..cbeci import MarketInputError, cbeci_market, run_cbeci

    check_price(price)
    start, end = parse_day(since, "--since"), parse_day(until, "--until")
    if start is not None and end is not None and start > end:
        raise UserError(f"--since {since} is after --until {until}")
    if emissions or month is not None:
        if market is not None or max_age_years is not None:
            raise UserError("--market and --max-age-years apply to the CBECI table only; "
                            "--emissions and --month use the bundled monthly market table")
        if month is not None and (since is not None or until is not None):
            raise UserError(f"--month {month} shows one month by country; --since and --until "
                            "apply to --emissions by month")
        _emissions(price, start, end, month, parse_day(as_of, "--as-of"), not observed_only,
                   csv, rows, as_json)
        return
    if as_of is not None or observed_only:
        raise UserError("--as-of and --observed-only apply to --emissions and --month")
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
    picked, skipped = _first_and_last(out.to_dict("records"), rows)
    for r in picked:
        if r is None:
            table.add_row(f"… {skipped} {unit} …", *[""] * 7, style="dim")
            continue
        table.add_row(
            when(r["date"]), num(r["hashrate_ehs"], ",.1f"), num(r["threshold_j_th"], ",.1f"),
            str(r["n_profitable"]), num(r["power_lower_gw"]), num(r["power_guess_gw"]),
            num(r["power_upper_gw"]), num(r["energy_guess_twh_yr"], ",.1f"),
        )
    console.print(table)


# ---------------------------------------------------------------------------------------------
# emissions by month and by country
# ---------------------------------------------------------------------------------------------
def _emissions(price: float, start: pd.Timestamp | None, end: pd.Timestamp | None,
               month: str | None, as_of: pd.Timestamp | None, nowcast: bool,
               csv: Path | None, rows: int, as_json: bool) -> None:
    from .. import emissions as em

    if month is not None:
        try:
            out = em.country_emissions(month, as_of, price_usd_kwh=price, nowcast=nowcast)
        except em.EmissionsMonthError as exc:
            raise UserError(f"--month: {exc}") from None
    else:
        frame = em.monthly_emissions(as_of, price_usd_kwh=price, nowcast=nowcast)
        out = frame[frame["region_code"] == em.WORLD]
        if start is not None:
            out = out[out["month"] >= start.to_period("M").to_timestamp()]
        if end is not None:
            out = out[out["month"] <= end]
        if out.empty:
            have = em.emission_months(frame)
            asked = " .. ".join("…" if d is None else f"{d:%Y-%m-%d}" for d in (start, end))
            raise UserError(f"no month with emissions figures in {asked}; months with figures: "
                            f"{have[0]['month']} to {have[-1]['month']}")
        out = out.reset_index(drop=True)
        out.attrs.update(frame.attrs)
        out.attrs["fallback"] = em.fallback_note(frame[frame["month"].isin(out["month"])])
    if csv is not None:
        write_csv(out, csv)
    a = out.attrs
    if as_json:
        emit_json({"what": "by country" if month is not None else "world by month",
                   "month": a.get("month"), "price_usd_kwh": price, "as_of": a["as_of"],
                   "last_published": a["last_published"], "bounds": a["bounds"],
                   "fallback": a["fallback"], "source": a["source"],
                   "csv": str(csv) if csv else None,
                   "rows": records(out)})
        return
    if state.quiet:
        return
    if month is not None:
        _print_countries(out, price)
    else:
        _print_world(out, price, rows)
    console.print(f"[dim]{a['bounds']} {a['fallback']} Sources: {a['source']}.[/]",
                  highlight=False)
    if csv is not None:
        say_written("rows", csv)


_UNIT = {"power": "gw", "emissions": "mt_yr"}


def _bounds(r: Any, what: str, spec: str) -> str:
    u = _UNIT[what]
    return f"{num(r[f'{what}_lower_{u}'], spec)}–{num(r[f'{what}_upper_{u}'], spec)}"


def _print_world(out: pd.DataFrame, price: float, rows: int) -> None:
    from rich.table import Table

    a = out.attrs
    known = "everything bundled" if a["as_of"] is None else f"as known on {a['as_of']}"
    table = Table(title=f"The world's power and emissions by month at {price:g} USD/kWh "
                        f"({known}): {len(out)} months",
                  caption="GW, MtCO2e/yr: CBECI's best guess; lower–upper: CBECI's lower and "
                          "upper power bounds; gCO2e/kWh: the share-weighted grid intensity; "
                          f"NOWCAST: after CCAF's last month ({a['last_published']}), not "
                          "observed")
    for col in ("month", "kind", "GW", "GW lower–upper", "MtCO2e/yr", "lower–upper",
                "gCO2e/kWh"):
        table.add_column(col, no_wrap=True, justify="left" if col in ("month", "kind")
                         else "right")
    picked, skipped = _first_and_last(out.to_dict("records"), rows)
    for r in picked:
        if r is None:
            table.add_row(f"… {skipped} months …", *[""] * 6, style="dim")
            continue
        table.add_row(f"{r['month']:%Y-%m}", str(r["kind"]).upper() if r["kind"] == "nowcast"
                      else str(r["kind"]), num(r["power_guess_gw"]), _bounds(r, "power", ",.2f"),
                      num(r["emissions_guess_mt_yr"], ",.1f"),
                      _bounds(r, "emissions", ",.1f"), num(r["intensity_g_kwh"], ",.0f"))
    console.print(table)


def _print_countries(out: pd.DataFrame, price: float) -> None:
    from rich.table import Table

    a = out.attrs
    kind = "observed (CCAF)" if a["kind"] == "observed" else "NOWCAST, not observed"
    known = "" if a["as_of"] is None else f", as known on {a['as_of']}"
    table = Table(title=f"Power and emissions by country, {a['month']} at {price:g} USD/kWh: "
                        f"{kind}{known}",
                  caption="share: CCAF's mining map" + (
                      "" if a["kind"] == "observed" else
                      " (nowcast: mean, and its 90 % interval in the bounds)")
                  + "; GW, MtCO2e/yr: share × CBECI's best guess; lower–upper: share × "
                    "CBECI's lower and upper power bounds; emissions = power × 8.766 × grid "
                    "intensity / 1000; *: the country has no grid row of its own (fallback "
                    "below)")
    for col in ("region", "share %", "gCO2e/kWh", "GW", "GW lower–upper", "MtCO2e/yr",
                "lower–upper"):
        table.add_column(col, no_wrap=True, justify="left" if col == "region" else "right")
    for r in out.to_dict("records"):
        table.add_row(f"{r['region_name']} ({r['region_code']})"
                      if r["region_code"] not in ("WORLD", "OTHER") else str(r["region_name"]),
                      num(r["share_pct"]), num(r["intensity_g_kwh"], ",.0f")
                      + ("*" if r["intensity_region"] not in (r["region_code"], "WORLD") else ""),
                      num(r["power_guess_gw"], ",.3f"), _bounds(r, "power", ",.3f"),
                      num(r["emissions_guess_mt_yr"]), _bounds(r, "emissions", ",.2f"),
                      style="bold" if r["region_code"] == "WORLD" else None)
    console.print(table)


def _first_and_last(recs: list[Any], rows: int) -> tuple[list[Any], int]:
    """At most ``rows`` records: the first and last halves with ``None`` where rows were left
    out, and how many were left out."""
    if len(recs) <= rows:
        return recs, 0
    head = max(rows // 2, 1)
    tail = max(rows - head, 1)
    return [*recs[:head], None, *recs[-tail:]], len(recs) - head - tail
