"""``hashshift events`` and ``hashshift event-study NAME``: the natural experiments in the chain
(regions whose miners stopped on known dates) and what each one's block rate shows."""

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
    say_written,
    state,
)

if TYPE_CHECKING:
    import pandas as pd

AsOfOpt = Annotated[str | None, typer.Option(
    "--as-of", help="As known on this day (YYYY-MM-DD): only events reported and data public "
                    "then.")]


def register(app: typer.Typer) -> None:
    """Add ``hashshift events`` and ``hashshift event-study`` to ``app``."""
    app.command("events")(events_)
    app.command("event-study")(event_study)


def _window(a: Any, b: Any) -> str:
    def t(x: Any) -> str:
        return f"{x:%Y-%m-%d}" if (x.hour, x.minute) == (0, 0) else f"{x:%Y-%m-%d %H:%M}"

    return f"{t(a)} → {t(b)}"


@friendly
def events_(as_of: AsOfOpt = None, as_json: JsonOption = False) -> None:
    """List the natural experiments: region, dates, the fraction that stopped and its basis,
    and the sources."""
    from ..events import catalogue

    day = parse_day(as_of, "--as-of")
    cat = catalogue(as_of=day)
    if as_json:
        emit_json({"as_of": None if day is None else f"{day:%Y-%m-%d}",
                   "events": cat.to_dict("records")})
        return
    if state.quiet:
        return
    _print_catalogue(cat, day)


def _print_catalogue(cat: pd.DataFrame, day: Any) -> None:
    from rich.table import Table

    from ..regions import region_name

    when = "" if day is None else f" known on {day:%Y-%m-%d}"
    table = Table(title=f"Natural experiments{when}: {len(cat)} events",
                  caption="stopped: bounds on the fraction of the region's hashrate that stopped "
                          "(basis below); before: a quiet reference window. UTC.")
    for col in ("event", "region", "before", "during", "stopped"):
        table.add_column(col, overflow="fold", no_wrap=col != "region")
    for r in cat.to_dict("records"):
        table.add_row(
            str(r["event"]), f"{region_name(str(r['region']))} ({r['region']})",
            _window(r["before_start"], r["before_end"]),
            _window(r["during_start"], r["during_end"]),
            f"{r['stopped_lo'] * 100:.0f}–{r['stopped_hi'] * 100:.0f} %")
    console.print(table)
    for r in cat.to_dict("records"):
        console.print(f"\n[bold]{r['event']}[/] — {r['name']} ({r['kind']}). Stopped fraction: "
                      f"{r['stopped_basis']}. Sources: {r['sources']}", highlight=False)
    console.print("\nEach event measured: hashshift event-study NAME (--chart FILE).")


@friendly
def event_study(
    name: Annotated[str, typer.Argument(help="The event's name (hashshift events lists them).",
                                        show_default=False)],
    as_of: AsOfOpt = None,
    chart: Annotated[Path | None, typer.Option(
        help="Write the chart (.png, .svg, .pdf): hashrate per hour or day, the windows "
             "shaded.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Measure one natural experiment: the block rate before and during, the drop with its
    Poisson interval and with the background spread, and the share it implies for the region."""
    from ..events import event_study as study

    day = parse_day(as_of, "--as-of")
    try:
        es = study(name, as_of=day)
    except LookupError as exc:
        raise UserError(str(exc).strip("'\"")) from None
    if chart is not None:
        from ..report.charts import event_study_chart

        event_study_chart(es, chart)
    if as_json:
        ev = {k: v for k, v in es.event.items()}
        emit_json({"event": ev, "as_of": None if day is None else f"{day:%Y-%m-%d}",
                   "resolution": es.resolution, "windows": es.table.to_dict("records"),
                   "drop_pct": es.drop_pct, "share_pct": es.share_pct,
                   "chart": str(chart) if chart else None})
        return
    if state.quiet:
        return
    _print_study(es)
    if chart is not None:
        say_written("chart", chart)


def _print_study(es: Any) -> None:
    from rich.table import Table

    from ..regions import region_name

    ev = es.event
    table = Table(title=f"{ev['name']}: {region_name(str(ev['region']))} ({ev['region']}), "
                        f"blocks per {es.resolution}")
    for col in ("window", "from (UTC)", "to (UTC)", "hours", "blocks", "EH/s"):
        table.add_column(col, justify="left" if col in ("window", "from (UTC)", "to (UTC)")
                         else "right", no_wrap=True)
    for r in es.table.to_dict("records"):
        table.add_row(str(r["window"]), f"{r['start']:%Y-%m-%d %H:%M}",
                      f"{r['end']:%Y-%m-%d %H:%M}", num(r["seconds"] / 3600, ",.0f"),
                      num(r["blocks"], ",.0f"), num(r["hashrate_ehs"], ",.1f"))
    console.print(table)
    d, s = es.drop_pct, es.share_pct
    lo, hi = ev["stopped_lo"] * 100, ev["stopped_hi"] * 100
    console.print(
        f"Drop of the network's hashrate: [bold]{num(d['drop_pct'], '.1f')} %[/] "
        f"(90 %: {num(d['poisson_lo_pct'], '.1f')} to {num(d['poisson_hi_pct'], '.1f')} % from "
        f"the block process alone; {num(d['lo_pct'], '.1f')} to {num(d['hi_pct'], '.1f')} % with "
        f"the background spread of ordinary windows, sd {num(d['background_sd'], '.3f')} in "
        "log ratio).\n"
        f"Fraction of the region's hashrate that stopped: {lo:.0f}–{hi:.0f} % "
        f"({ev['stopped_basis']}).\n"
        f"Implied share of {ev['region']} in the network: [bold]{num(s['point_low_pct'], '.1f')}"
        f"–{num(s['point_high_pct'], '.1f')} %[/] (drop ÷ stopped fraction); with the drop's "
        f"interval {num(s['low_pct'], '.1f')}–{num(s['high_pct'], '.1f')} %.\n"
        f"Sources: {ev['sources']}",
        highlight=False,
    )
