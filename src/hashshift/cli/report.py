"""``hashshift report``: the offline HTML report, or its figures as PNG/PDF."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ._base import UserError, console, err_console, friendly, state
from ._scenarios import load_scenario

if TYPE_CHECKING:
    from ..sweep import SweepResult

_FORMATS = ("html", "png", "pdf")


def register(app: typer.Typer) -> None:
    """Add ``hashshift report`` to ``app``."""
    app.command("report")(report)


def _load_sweep(spec: str, work: Path | None) -> SweepResult:
    """The finished tasks of a sweep spec (file or shipped name) from its work folder."""
    from ..sweep import SweepError, load_result

    try:
        return load_result(spec, work)
    except SweepError as exc:
        raise UserError(f"--sweep {spec}: {str(exc).removeprefix(f'{spec}: ')}") from None


def _figures_folder(out: Path | None) -> Path:
    if out is None:
        return Path("report-figures")
    return out.with_suffix("") if out.suffix else out


@friendly
def report(
    scenario: Annotated[str | None, typer.Option(
        help="Scenario file (TOML) or shipped example name (e.g. china_2021); without it, "
             "only the observed sections.")] = None,
    paths: Annotated[int | None, typer.Option(
        min=1, help="Monte Carlo paths (overrides the scenario file; fewer = faster).")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Output: the HTML file (default report.html), or for png/pdf the folder for the "
             "figures (default report-figures/).")] = None,
    fmt: Annotated[str, typer.Option(
        "--format", help="html (one offline file) or png/pdf (one file per figure, for "
                         "slides; needs kaleido and Chromium).")] = "html",
    sweep: Annotated[str | None, typer.Option(
        help="A sweep spec (.toml) or shipped sweep name (e.g. ban_top15) that has run: adds "
             "its sensitivity section (tornado charts) from the finished tasks; computes "
             "nothing.")] = None,
    sweep_work: Annotated[Path | None, typer.Option(
        help="The sweep's work folder (default: $HASHSHIFT_HOME/sweeps/NAME, as for "
             "hashshift sweep --work).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors.")] = False,
) -> None:
    """Write the offline HTML report (maps, history, a scenario's run against reality, and a
    sweep's sensitivity)."""
    fmt = fmt.lower()
    if fmt not in _FORMATS:
        raise UserError(f"--format {fmt!r}: choose one of {', '.join(_FORMATS)}")
    quiet = quiet or state.quiet
    if paths is not None and scenario is None:
        raise UserError("--paths needs --scenario")
    if sweep_work is not None and sweep is None:
        raise UserError("--sweep-work needs --sweep")

    def say(msg: str) -> None:
        if not quiet:
            err_console.print(f"[dim]· {msg}[/]", highlight=False)

    swept = None
    if sweep is not None:
        swept = _load_sweep(sweep, sweep_work)
        say(f"sweep {swept.name!r}: {len(swept.tasks)} of {swept.stats.total} tasks finished "
            f"in {swept.work_dir}")

    result = None
    source = None
    if scenario is not None:
        from ..sim.engine import run

        sc, source = load_scenario(scenario, "--scenario")
        n = paths if paths is not None else sc.scenario.paths
        say(f"running {sc.scenario.name!r}: {n} paths × {sc.scenario.horizon_days} days")
        if quiet:
            result = run(sc, paths=n)
        else:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            with Progress(TextColumn("  simulating"), BarColumn(),
                          TextColumn("{task.percentage:>3.0f} %"), TimeElapsedColumn(),
                          console=err_console, transient=True) as bar:
                task = bar.add_task("run", total=sc.scenario.horizon_days)
                result = run(sc, paths=n,
                             progress=lambda t, total: bar.update(task, completed=t))

    if fmt == "html":
        from ..report.html import build_report

        target = out or Path("report.html")
        if target.suffix.lower() not in (".html", ".htm"):
            target = target.with_suffix(".html") if not target.suffix else target
        path = build_report(target, result, scenario_source=source, progress=say,
                            sweep=swept)
        if not quiet:
            size = path.stat().st_size / 1e6
            console.print(f"report written to [bold]{path}[/] ({size:.1f} MB; opens offline)")
        return

    from ..report.export import export_figures
    from ..report.html import report_figures

    specs = report_figures(result, progress=say, sweep=swept)
    # ExportError (kaleido or Chromium missing, rendering failed) -> one line, exit code 1
    files = export_figures(specs, _figures_folder(out), fmt,  # type: ignore[arg-type]
                           progress=say)
    if not quiet:
        console.print(f"{len(files)} {fmt.upper()} figure(s) written to "
                      f"[bold]{files[0].parent}[/]:")
        for f in files:
            console.print(f"  {f.name}")
