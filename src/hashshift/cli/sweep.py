"""``hashshift sweep SPEC``: many scenarios on local processes or Dask."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from ._base import JsonOption, console, emit_json, err_console, friendly, state


def register(app: typer.Typer) -> None:
    """Add ``hashshift sweep`` to ``app``."""
    app.command("sweep")(sweep)


def _fmt(v: Any, digits: int = 3) -> str:
    if isinstance(v, float):
        if v != v:
            return "–"
        return f"{v:.{digits}g}" if abs(v) < 1e4 else f"{v:,.0f}"
    return str(v)


@friendly
def sweep(
    spec: Annotated[str, typer.Argument(
        help="Sweep spec (.toml), or the name of a shipped sweep (e.g. ban_top15).",
        show_default=False)],
    scheduler: Annotated[str, typer.Option(
        help="local (in-process), processes (all cores) or dask.")] = "processes",
    workers: Annotated[int | None, typer.Option(
        min=1, help="Worker processes for processes or a dask LocalCluster (default: all "
                    "cores).")] = None,
    address: Annotated[str | None, typer.Option(
        help="A running Dask scheduler, tcp://HOST:PORT (default: start a LocalCluster).")]
    = None,
    max_tasks: Annotated[int, typer.Option(
        min=1, help="Refuse specs that expand to more tasks than this.")] = 10_000,
    fail_fast: Annotated[bool, typer.Option(
        "--fail-fast", help="Stop at the first task that fails.")] = False,
    work: Annotated[Path | None, typer.Option(
        help="Folder of the per-task parts (default: $HASHSHIFT_HOME/sweeps/NAME); re-running "
             "with the same folder resumes.")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Write results.csv, results_tidy.csv, sensitivity.csv and tornado.html here.")]
    = None,
    fresh: Annotated[bool, typer.Option(
        "--fresh", help="Discard finished parts and compute every task again.")] = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Validate and list the tasks; run nothing.")] = False,
    no_store: Annotated[bool, typer.Option(
        "--no-store", help="Do not ingest the results into the store.")] = False,
    home: Annotated[Path | None, typer.Option(
        help="Store folder (default: $HASHSHIFT_HOME or the user data directory).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Run many scenarios (a grid or sampled axes) and summarise what drives the outcomes.

    Exit status: 0 when every task finished, 1 when some failed (their parameters are listed),
    2 for a bad spec, limit or scheduler (nothing runs).
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from .. import sweep as sw

    sw.check_scheduler_args(scheduler, workers, address)  # before anything is loaded
    plan = sw.load_sweep(spec, max_tasks=max_tasks)
    if address is not None:
        sw.check_address(address)
    if dry_run:
        _print_plan(plan, as_json)
        return
    store = None
    if home is not None:
        from ..store import DB_NAME, Store

        store = Store(home / DB_NAME)
    quiet = state.quiet or as_json
    progress = Progress(TextColumn(f"[bold]sweep {plan.name}"), BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                        console=console, disable=quiet, transient=True)
    bar = progress.add_task("tasks", total=len(plan.tasks))

    def on_start(pool: Any, done: int, total: int) -> None:
        if not quiet and done == total:
            console.print(f"all {total} tasks already finished (in {plan.name}'s work "
                          "folder); collecting the results", highlight=False)
        elif not quiet:
            resumed = f"; resuming: {done} of {total} already finished" if done else ""
            console.print(f"{total} tasks × {plan.spec.sweep.paths} paths on "
                          f"{pool.label}{resumed}", highlight=False)

    def on_progress(done: int, total: int) -> None:
        progress.update(bar, completed=done)

    def on_failure(f: Any) -> None:
        if fail_fast:
            return  # the error line says it
        err_console.print(f"[red]failed:[/] {f.describe()}", highlight=False, soft_wrap=True)

    try:
        with progress:
            result = sw.run_sweep(
                plan, scheduler=scheduler, workers=workers, address=address, work_dir=work,
                fail_fast=fail_fast, fresh=fresh, store=store, ingest_results=not no_store,
                progress=on_progress, on_failure=on_failure, on_start=on_start)
    except KeyboardInterrupt:
        err_console.print("interrupted: finished tasks are kept; run the same command again "
                          "to resume")
        raise typer.Exit(130) from None
    files = result.write(out) if out is not None else []
    if as_json:
        emit_json(_summary(result, files, not no_store))
    elif not state.quiet:
        _print_result(result, files, not no_store)
    if result.failures:
        if state.quiet and not as_json:
            err_console.print(f"{len(result.failures)} of {result.stats.total} tasks failed")
        raise typer.Exit(1)


def _summary(result: Any, files: list[Path], stored: bool) -> dict[str, Any]:
    s = result.stats
    sens = result.sensitivity
    return {
        "sweep": result.name, "tasks": s.total, "computed": s.computed, "resumed": s.resumed,
        "failed": s.failed, "scheduler": s.scheduler, "workers": s.workers,
        "wall_s": round(s.wall_s, 3), "work_dir": str(result.work_dir), "stored": stored,
        "files": [str(f) for f in files],
        "failures": [{"task": f.index, "params": f.params, "error": f.error}
                     for f in result.failures],
        "sensitivity": json.loads(sens.to_json(orient="records")) if len(sens) else [],
        "effects": (json.loads(result.effects.to_json(orient="records"))
                    if len(result.effects) else []),
        "common_random_numbers": bool(result.plan is not None
                                      and result.plan.spec.sweep.common_random_numbers),
    }


def _print_plan(plan: Any, as_json: bool) -> None:
    from rich.table import Table

    spec = plan.spec
    if as_json:
        emit_json({"sweep": plan.name, "tasks": len(plan.tasks), "paths": spec.sweep.paths,
                   "method": spec.sampling.method,
                   "axes": [{"name": a.label, "path": a.path, "kind": plan.axis_kinds[a.label]}
                            for a in plan.axes],
                   "common_random_numbers": spec.sweep.common_random_numbers,
                   "counterfactual": plan.counterfactual_values() or None,
                   "first_tasks": [{"task": t.index, "seed": t.seed, **t.params}
                                   for t in plan.tasks[:10]]})
        return
    if state.quiet:
        return
    console.print(f"sweep [bold]{plan.name}[/]: {len(plan.tasks):,} tasks × "
                  f"{spec.sweep.paths} paths ({spec.sampling.method}), base "
                  f"{plan.base.scenario.name!r}; every task's scenario is valid", highlight=False)
    from ..sweep.results import counterfactual_label

    seeds = (f"common random numbers: every task runs from seed {plan.tasks[0].seed}, paths "
             "paired across tasks" if spec.sweep.common_random_numbers and plan.tasks
             else "each task has its own seed (SeedSequence.spawn)")
    cf = plan.counterfactual_values()
    console.print(seeds + (f"; effects measured against {counterfactual_label(plan)}" if cf
                           else "; no counterfactual task (no effects table)"),
                  highlight=False)
    table = Table(title="Axes")
    for col in ("name", "path", "kind", "values"):
        table.add_column(col)
    for a in plan.axes:
        if a.values is not None:
            vals = ", ".join(_fmt(v) for v in a.values[:8]) + (" …" if len(a.values) > 8 else "")
        elif a.distribution == "choice":
            vals = "choice of " + ", ".join(str(v) for v in (a.choices or [])[:8])
        else:
            ps = {k: getattr(a, k) for k in ("low", "high", "mean", "sd")
                  if getattr(a, k) is not None}
            vals = f"{a.distribution}(" + ", ".join(f"{k}={v:g}" for k, v in ps.items()) + ")"
        table.add_row(a.label, a.path, plan.axis_kinds[a.label], vals)
    console.print(table)
    first = Table(title=f"First tasks (of {len(plan.tasks):,})")
    first.add_column("task", justify="right")
    first.add_column("seed", justify="right")
    for a in plan.axes:
        first.add_column(a.label, justify="right")
    for t in plan.tasks[:8]:
        first.add_row(str(t.index), str(t.seed), *[_fmt(t.params[a.label], 4)
                                                    for a in plan.axes])
    console.print(first)


def _print_result(result: Any, files: list[Path], stored: bool) -> None:
    from rich.table import Table

    s = result.stats
    console.print(
        f"sweep [bold]{result.name}[/]: {s.total} tasks ({s.computed} computed, {s.resumed} "
        f"resumed, {s.failed} failed) on {s.scheduler} with {s.workers} worker(s) in "
        f"{s.wall_s:.1f} s", highlight=False)
    sens = result.sensitivity
    if len(sens):
        from ..sim.outcomes import metric_label
        from ..sweep import HEADLINE_METRICS

        table = Table(title="What the numeric axes drive (widest swing first)",
                      caption="low/high: mean of the metric at the axis's low and high end; "
                              "SRC: standardized regression coefficient; S1/ST: Sobol' indices")
        for col in ("metric", "axis", "low", "high", "swing", "SRC", "S1", "ST"):
            table.add_column(col, justify="left" if col in ("metric", "axis") else "right")
        for metric in HEADLINE_METRICS[:4]:
            d = sens[sens["metric"] == metric].head(3)
            for r in d.itertuples():
                table.add_row(metric_label(metric), str(r.axis),
                              f"{_fmt(r.low)} ({r.low_label})", f"{_fmt(r.high)} ({r.high_label})",
                              _fmt(r.swing), _fmt(r.src, 2), _fmt(r.s1, 2), _fmt(r.st, 2))
        console.print(table)
    _print_effects(result)
    if result.failures:
        ft = Table(title=f"{len(result.failures)} failed task(s)")
        for col in ("task", "parameters", "error"):
            ft.add_column(col, overflow="fold")
        for f in result.failures[:20]:
            ft.add_row(str(f.index), ", ".join(f"{k}={_fmt(v, 4)}" for k, v in f.params.items()),
                       f.error)
        console.print(ft)
    console.print(f"parts: {result.work_dir}" + ("; results stored in the table sweep_results"
                                                 if stored and len(result.tidy) else ""),
                  highlight=False)
    for f in files:
        console.print(f"written: [bold]{f}[/]", highlight=False)


#: Effects in the terminal table (all are in effects.csv and --json).
_SHOWN_EFFECTS = {"low_point_pct": ("hashrate at low point [%]", 1),
                  "mean_hashrate_pct": ("mean hashrate [%]", 1),
                  "retarget_cut_pp": ("largest cut [pp]", 1),
                  "emissions_change_mt_yr": ("emissions [MtCO2e/yr]", 2)}


def _print_effects(result: Any) -> None:
    from rich.markup import escape
    from rich.table import Table

    from ..sim.outcomes import EFFECTS
    from ..sweep.results import counterfactual_label

    eff = result.effects
    if not len(eff) or result.plan is None:
        return
    plan = result.plan
    crn = plan.spec.sweep.common_random_numbers
    pairing = (f"every task runs from seed {plan.tasks[0].seed} (common random numbers), so "
               "path i of a task and of its counterfactual share their random draws"
               if crn else "tasks have their own seeds (common_random_numbers = false): the "
               "differences include Monte Carlo noise")
    table = Table(title=f"Effects against {counterfactual_label(plan)}, path by path "
                        "(median [90 % interval])",
                  caption=escape(pairing + f"; {int(eff['n'].max())} paths per task; largest loss "
                          "first. Low point: the largest weekly shortfall of world hashrate; "
                          "mean hashrate and emissions: over the horizon; all effects, with "
                          "their titles, in effects.csv: "
                          + "; ".join(f"{k} = {t} [{u}]" for k, (t, u) in EFFECTS.items())))
    table.add_column("task")
    shown = [e for e in _SHOWN_EFFECTS if e in set(eff["effect"])]
    for e in shown:
        table.add_column(escape(_SHOWN_EFFECTS[e][0]), justify="right")
    first = shown[0]
    order = (eff[eff["effect"] == first].sort_values(["q50", "mean"], kind="stable")["task"]
             .tolist())
    by = eff.set_index(["task", "effect"])
    for t in order:
        label = str(by.loc[(t, first), "label"])
        cells = []
        for e in shown:
            r = by.loc[(t, e)]
            k = _SHOWN_EFFECTS[e][1]
            cells.append(f"{r['q50']:.{k}f} [{r['q05']:.{k}f}, {r['q95']:.{k}f}]")
        table.add_row(escape(label), *[escape(c) for c in cells])
    console.print(table)
