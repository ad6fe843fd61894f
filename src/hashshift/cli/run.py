"""``hashshift run``: a scenario through the engine, summarised."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._base import UserError, console, emit_json, err_console, friendly, help_text, state
from ._scenarios import load_scenario, one_line, region_problems

if TYPE_CHECKING:
    from ..sim.scenario import Scenario

FORMATS = ("csv", "parquet")


def register(app: typer.Typer) -> None:
    """Add ``hashshift run`` to ``app``."""
    app.command("run", help=RUN_HELP)(run)


def _override(sc: Scenario, paths: int | None, horizon_days: int | None, seed: int | None
              ) -> Scenario:
    """``sc`` with the command line's run size and seed (each within the engine's limits);
    events a shorter horizon leaves out are named on stderr."""
    from pydantic import ValidationError

    from ..sim.scenario import LIMITS, with_overrides

    for opt, value, key in (("--paths", paths, "paths"),
                            ("--horizon-days", horizon_days, "horizon_days")):
        if value is not None and value > LIMITS[key]:
            raise UserError(f"{opt} {value:,} is more than the limit of {LIMITS[key]:,} "
                            f"(scenario.{key} must be 1 to {LIMITS[key]:,})")
    try:
        out, dropped = with_overrides(sc, paths=paths, horizon_days=horizon_days, seed=seed)
    except ValidationError as exc:
        raise UserError("; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}"
                                  for e in exc.errors(include_url=False))) from None
    for d in dropped:
        err_console.print(f"[yellow]note:[/] left out {d}", highlight=False, soft_wrap=True)
    return out


RUN_HELP = help_text("""
    Run a scenario through the engine and summarise the result.

    The summary gives the world hashrate, power, emissions and hashprice at the start and the
    end (median and 90 % band over the paths), the largest negative retarget, and the shares of
    the largest regions. --out writes the daily and per-epoch tables, the run's configuration
    and the scenario as run.""")


@friendly
def run(
    scenario: Annotated[str, typer.Argument(
        help="Scenario file, or the name of a shipped example (e.g. china_2021).")],
    paths: Annotated[int | None, typer.Option(
        min=1, help="Monte Carlo paths (overrides the file's; fewer for a quick preview).")]
    = None,
    horizon_days: Annotated[int | None, typer.Option(
        min=1, help="Days to simulate (overrides the file's).")] = None,
    seed: Annotated[int | None, typer.Option(min=0, help="Seed (overrides the file's).")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Folder for the results: daily and epoch tables, config and the scenario as run.")]
    = None,
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet (with --out).")] = "csv",
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors.")] = False,
) -> None:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from ..sim.engine import resolve
    from ..sim.engine import run as run_engine
    from ..sim.outcomes import summarise

    if fmt not in FORMATS:
        raise UserError(f"--format {fmt!r} is not known; use one of: {', '.join(FORMATS)}")
    quiet = quiet or state.quiet
    try:
        sc, source = load_scenario(scenario)
    except ValueError as exc:  # ScenarioError: every problem on one line
        raise UserError(one_line(exc) + f" (details: hashshift scenario validate {scenario})"
                        ) from None
    sc = _override(sc, paths, horizon_days, seed)
    problems = region_problems(sc)
    if problems:
        raise UserError(f"{source}: " + "; ".join(problems))
    t0 = time.perf_counter()
    inputs = resolve(sc)
    meta = sc.scenario
    with Progress(TextColumn("[bold]simulating"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("days"), TimeElapsedColumn(), TimeRemainingColumn(),
                  console=console, disable=quiet or as_json or not console.is_terminal,
                  transient=True) as bar:
        task = bar.add_task("days", total=meta.horizon_days)
        result = run_engine(sc, inputs=inputs,
                            progress=lambda done, total: bar.update(task, completed=done,
                                                                    total=total))
    elapsed = time.perf_counter() - t0
    files: list[Path] = []
    if out is not None:
        if out.exists() and not out.is_dir():
            raise UserError(f"--out {out} is a file; give a folder")
        files = result.to_csv(out) if fmt == "csv" else result.to_parquet(out)
        (out / "scenario.toml").write_text(sc.to_toml(), encoding="utf-8")
        files.append(out / "scenario.toml")
    summary = summarise(result)
    from ..freshness import extrapolated

    beyond = extrapolated(meta.as_of)
    if as_json:
        emit_json({"source": source, **summary, "seconds": round(elapsed, 2),
                   "files": [str(f) for f in files], "extrapolated": beyond})
        return
    if quiet:
        return
    _print_summary(summary, source, elapsed)
    for x in beyond:
        console.print(f"[yellow]extrapolated:[/] {x['note']}", highlight=False)
    if files:
        console.print(f"results written to [bold]{out}[/]: "
                      + ", ".join(f.name for f in files), highlight=False)


_WORLD_ROWS = (("hashrate_ehs", "hashrate", "EH/s"), ("power_gw", "power", "GW"),
               ("emissions_mt_yr", "emissions", "MtCO2e/yr"),
               ("hashprice_usd_ph_day", "hashprice", "USD/(PH/s)/day"),
               ("exited_ehs", "exited", "EH/s"), ("in_transit_ehs", "in transit", "EH/s"))


def _num(x: float) -> str:
    """Four significant figures or so: no decimals from 1000, one from 10, else two."""
    if x != x:
        return "–"
    ax = abs(x)
    return f"{x:,.0f}" if ax >= 1000 else f"{x:,.1f}" if ax >= 10 else f"{x:,.2f}"


def _print_summary(s: dict[str, Any], source: str, elapsed: float) -> None:
    """The headline outcomes (:func:`hashshift.sim.outcomes.summarise`) as tables."""
    from rich.table import Table

    console.print(f"[bold]{s['name']}[/] ({source}): {s['as_of']} to {s['end']}, "
                  f"{s['paths']:,} paths, seed {s['seed']}, {elapsed:.1f} s", highlight=False)
    table = Table(title="World (median and 90 % band over paths)")
    for col in ("metric", "unit", "start", "end", "end 90 % band"):
        table.add_column(col, justify="left" if col in ("metric", "unit") else "right",
                         no_wrap=True)
    for key, label, unit in _WORLD_ROWS:
        v = s["world"].get(key)
        if v is None:
            continue
        st, en = v["start"], v["end"]
        table.add_row(label, unit, _num(st["q50"]), _num(en["q50"]),
                      f"{_num(en['q05'])}–{_num(en['q95'])}")
    console.print(table)
    cut = s["largest_cut"]
    if cut is None:
        console.print("no negative retarget (median) among the epochs every path completed")
    else:
        c = cut["change_pct"]
        where = f"at block {cut['height']:,}" + (f" (about {cut['date']})" if cut["date"] else "")
        console.print(f"largest negative retarget (median): [bold]{c['q50']:+.2f} %[/] {where}, "
                      f"90 % band {c['q05']:+.2f} to {c['q95']:+.2f} %", highlight=False)
    if s["regions"]:
        reg = Table(title="Largest regions: share of world hashrate (mean over paths)")
        for col in ("region", "start %", "end %", "end 90 % band", "change pp"):
            reg.add_column(col, justify="left" if col == "region" else "right", no_wrap=True)
        for r in s["regions"]:
            ch = r["change_pp"]
            reg.add_row(r["region"], f"{r['start_pct']:.1f}", f"{r['end_pct']:.1f}",
                        f"{r['end_q05_pct']:.1f}–{r['end_q95_pct']:.1f}", f"{ch:+.1f}",
                        style="red" if ch <= -5 else "green" if ch >= 5 else None)
        console.print(reg)
