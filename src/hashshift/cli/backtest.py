"""``hashshift backtest NAME``: a shipped scenario run as a forecast, compared with history."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated, Any

import typer

from ._base import JsonOption, console, emit_json, friendly, state, write_csv


def register(app: typer.Typer) -> None:
    """Add ``hashshift backtest`` to ``app``."""
    app.command("backtest")(backtest)


@friendly
def backtest(
    name: Annotated[str, typer.Argument(help="Backtest to run: china-2021.")] = "china-2021",
    paths: Annotated[int | None, typer.Option(min=1, help="Paths (default: the scenario's).")]
    = None,
    csv: Annotated[Path | None, typer.Option(
        help="Write the epoch table here; monthly country shares go to <name>_shares.csv "
             "beside it.")] = None,
    variant: Annotated[str, typer.Option(
        help="forecast (only what was public on the as-of date), naive (the newest published "
             "map carried forward) or hindsight (the map and the price as later published: "
             "not a forecast).")] = "forecast",
    sensitivity: Annotated[bool, typer.Option(
        "--sensitivity", help="Hindsight, not a forecast: run the forecast again with one prior "
                              "moved or widened at a time (same seed) and print coverage and "
                              "score per run.")] = False,
    as_json: JsonOption = False,
) -> None:
    """A shipped scenario run as a forecast, epoch by epoch against what really happened.

    Prints the simulated median and 90 % band beside the real retarget, hashrate and duration,
    then the error of the median, the bands' coverage and their weighted interval score.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from ..sim.backtest import BACKTESTS, GOALS, VARIANTS
    from ..sim.backtest import backtest as run_backtest

    if name not in BACKTESTS:
        raise LookupError(f"unknown backtest {name!r}; available: {', '.join(BACKTESTS)}")
    if variant not in VARIANTS:
        raise ValueError(f"--variant {variant!r} is not known; use one of "
                         f"{', '.join(VARIANTS)}")
    if sensitivity:
        if variant != "forecast":
            raise ValueError(f"--sensitivity varies the forecast's priors; --variant {variant!r}"
                             " is not allowed with it (allowed: forecast)")
        _sensitivity(name, paths, csv, as_json)
        return
    with Progress(TextColumn(f"[bold]backtest {name}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total} days"), TimeRemainingColumn(),
                  console=console, disable=state.quiet or as_json, transient=True) as bar:
        task = bar.add_task("run", total=None)
        bt = run_backtest(name, paths=paths, variant_kind=variant,
                          progress=lambda done, total: bar.update(task, completed=done,
                                                                  total=total))
    if csv is not None:
        write_csv(bt.table, csv, days=False)
        write_csv(bt.shares, csv.with_name(csv.stem + "_shares.csv"), days=False)
    summary = {k: (v.item() if hasattr(v, "item") else v) for k, v in bt.summary.items()}
    if as_json:
        emit_json({"name": name, "goals": GOALS, "summary": summary,
                   "epochs": bt.table.to_dict(orient="records"),
                   "csv": str(csv) if csv else None})
        return
    if state.quiet:
        return
    _print(bt, summary, GOALS)
    if csv is not None:
        console.print(f"epoch table written to [bold]{csv}[/]; monthly shares to "
                      f"[bold]{csv.with_name(csv.stem + '_shares.csv')}[/]")


def _print(bt: Any, s: dict[str, Any], goals: dict[str, float]) -> None:
    """Each epoch's simulated band beside the real value, then the goals met or missed."""
    from rich.table import Table

    t = bt.table
    table = Table(title=f"Backtest {bt.name}: simulated median (5 %…95 %) vs real, per epoch "
                        f"({int(t['paths'].max()) if len(t) else 0} paths)")
    for col in ("epoch", "start", "retarget % sim", "real", "EH/s sim", "real", "days sim",
                "real"):
        table.add_column(col, justify="left" if col == "start" else "right", no_wrap=True)
    for ep in sorted(set(t["epoch"])):
        row = t[t["epoch"] == ep].set_index("metric")
        cells: list[str] = [str(ep), str(row["start"].iloc[0])]
        for metric, fmt in (("change_pct", "{:+.1f}"), ("hashrate_ehs", "{:.0f}"),
                            ("duration_days", "{:.1f}")):
            if metric in row.index:
                r = row.loc[metric]
                mark = "" if r["inside_90"] else "[red]*[/]"
                cells += [f"{fmt.format(r['sim_q50'])} ({fmt.format(r['sim_q05'])}…"
                          f"{fmt.format(r['sim_q95'])})", fmt.format(r["real"]) + mark]
            else:
                cells += ["–", "–"]
        table.add_row(*cells)
    console.print(table)
    console.print("[red]*[/] real value outside the simulated 90 % band; retarget % is the "
                  "difficulty change at the end of the epoch")
    if "retarget_real_pct" in s:
        console.print(
            f"Retarget at block {s['retarget_height']:,}: real {s['retarget_real_pct']:+.2f} %, "
            f"simulated median {s['retarget_sim_pct']:+.2f} % (90 % band "
            f"{s['retarget_sim_q05']:+.2f} to {s['retarget_sim_q95']:+.2f}); difference "
            f"{s['retarget_diff_pp']:+.2f} pp (goal ±{goals['retarget_pp']:g} pp: "
            f"{'met' if s['retarget_ok'] else 'missed'})")
    if "hashrate_mape_pct" in s:
        console.print(
            f"Epoch-mean hashrate, {s['hashrate_epochs']} epochs from June 2021: mean absolute "
            f"percentage error {s['hashrate_mape_pct']:.1f} % (goal ≤ "
            f"{goals['hashrate_mape_pct']:g} %: {'met' if s['hashrate_mape_ok'] else 'missed'}); "
            f"real inside the 90 % band for {s['hashrate_coverage_pct']:.0f} % of epochs (goal "
            f"≥ {goals['coverage_pct']:g} %: {'met' if s['hashrate_coverage_ok'] else 'missed'}; "
            f"above it {s['hashrate_above_band']}, below it {s['hashrate_below_band']}), inside "
            f"the 50 % band for {s['hashrate_coverage_50_pct']:.0f} %; weighted interval score "
            f"(50 % and 90 % bands and the median; lower is better, ≈ CRPS) "
            f"{s['hashrate_wis_ehs']:.2f} EH/s")


def _sensitivity(name: str, paths: int | None, csv: Path | None, as_json: bool) -> None:
    """``backtest --sensitivity``: :func:`hashshift.sim.backtest.prior_sensitivity`, shown."""
    from rich.table import Table

    from ..sim.backtest import GOALS, prior_sensitivity

    with console.status(f"backtest {name}: one run per prior", spinner="dots") if not (
            state.quiet or as_json) else contextlib.nullcontext():
        df = prior_sensitivity(name, paths=paths)
    if csv is not None:
        write_csv(df, csv, days=False)
    if as_json:
        emit_json({"name": name, "what": "hindsight sensitivity: not a forecast",
                   "goal_coverage_pct": GOALS["coverage_pct"],
                   "runs": df.to_dict(orient="records"), "csv": str(csv) if csv else None})
        return
    if state.quiet:
        return
    table = Table(title=f"Backtest {name}: one prior moved at a time (hindsight, not a forecast)",
                  caption="hashrate epochs from June 2021; cov.: real inside the band; above / "
                          "below the 90 % band; WIS: weighted interval score, lower is better")
    for col in ("prior", "value", "cov. 90 %", "cov. 50 %", "above", "below", "WIS [EH/s]",
                "MAPE %", "retarget % sim"):
        table.add_column(col, justify="left" if col == "prior" else "right")
    for r in df.to_dict(orient="records"):
        table.add_row(str(r["what"]), "–" if r["value"] != r["value"] else f"{r['value']:g}",
                      f"{r['coverage_90_pct']:.0f}", f"{r['coverage_50_pct']:.0f}",
                      str(r["above"]), str(r["below"]), f"{r['wis_ehs']:.1f}",
                      f"{r['mape_pct']:.1f}", f"{r['retarget_sim_pct']:+.1f}")
    console.print(table)
    console.print("Each run changes one prior of the stated forecast and keeps the seed, so the "
                  "rows differ by that prior alone. Apart from the engine's defaults, the values "
                  "were chosen after seeing the outcome: they show where the forecast lacked "
                  "uncertainty, and none of them is a forecast.")
    if csv is not None:
        console.print(f"runs written to [bold]{csv}[/]")

