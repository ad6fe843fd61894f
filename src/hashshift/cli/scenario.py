"""``hashshift scenario new|list|validate|schema``: scenario files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._base import (
    JsonOption,
    UserError,
    console,
    emit_json,
    err_console,
    friendly,
    help_text,
    state,
)
from ._scenarios import check_scenario, example_list

if TYPE_CHECKING:
    from ..sim.engine import Inputs
    from ..sim.scenario import Scenario

scenario_app = typer.Typer(
    help="Scenario files: start one from a template, validate it, print the JSON Schema.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add the ``hashshift scenario`` group to ``app``."""
    app.add_typer(scenario_app, name="scenario")


TEMPLATE = "minimal"

#: The built-in starter (``hashshift scenario new`` without --example): valid and runnable.
MINIMAL_TEMPLATE = """\
# A hashshift scenario (TOML). Only [scenario] is required; every other section has defaults
# taken from the bundled data before as_of. Field reference: docs/scenarios.md, or
# `hashshift scenario schema`. Check it with `hashshift scenario validate FILE`, run it with
# `hashshift run FILE`.

[scenario]
name = "My scenario"
description = "What this scenario asks"
as_of = 2021-05-31          # forecast start: the engine uses only data before this date
horizon_days = 365          # [days] simulated from as_of (at most {horizon})
paths = 1000                # Monte Carlo paths (at most {paths})
seed = 1                    # the same seed gives the same result

[price]
kind = "historical"         # "historical", "fixed" (with usd = 35000) or "gbm" (usd, drift_pct_yr,
                            # volatility_pct_yr)

[fees]
kind = "historical"         # or "fixed" with btc_per_block = 0.2

# Override a region's economics (defaults: bundled tariffs, capacity and grid intensity):
# [[region]]
# code = "US-TX"
# price_usd_kwh = 0.035
# seasonal_price = [1.0, 1.0, 1.0, 1.0, 1.0, 1.2, 1.4, 1.4, 1.2, 1.0, 1.0, 1.0]

# Events: ban, curtailment, seasonal, price_shock, tax (docs/scenarios.md has examples of each).
[[event]]
kind = "ban"
region = "CN-XJ"            # ISO 3166-1/-2 code; a country code covers its subdivisions
announced = 2021-06-09
effective = 2021-06-12
enforcement = 0.95          # [share] of the region's hashrate that must stop
underground = 0.05          # [share] of the stopped hashrate that keeps running covertly
ramp_down_days = 10         # [days] to full enforcement
source = "where the dates and figures come from"

# [[event]]
# kind = "curtailment"
# region = "US-TX"
# start = 2021-08-01
# end = 2021-08-31
# share = 0.2
"""


def _minimal_template() -> str:
    from ..sim.scenario import LIMITS

    return MINIMAL_TEMPLATE.format(horizon=LIMITS["horizon_days"], paths=LIMITS["paths"])


@scenario_app.command("new")
@friendly
def new(
    example: Annotated[str, typer.Option(
        help="Start from this shipped example (see `hashshift scenario list`) or from the "
             f"commented '{TEMPLATE}' template.")] = TEMPLATE,
    out: Annotated[Path, typer.Option(help="File to write ('-' prints to stdout).")]
    = Path("scenario.toml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a starter scenario file to edit."""
    name = example.removesuffix(".toml")
    if name == TEMPLATE:
        text = _minimal_template()
    else:
        from ..sim.examples import UnknownExampleError, example_text

        try:
            text = example_text(name)
        except UnknownExampleError:
            raise UserError(f"--example {example!r} is not known; use {TEMPLATE} or one of the "
                            f"shipped examples: {example_list()}") from None
    if str(out) == "-":
        typer.echo(text, nl=False)
        return
    if out.exists() and not force:
        raise UserError(f"{out} exists; use --force to overwrite it or --out to choose another "
                        "file")
    if out.is_dir():
        raise UserError(f"{out} is a folder; give a file name, e.g. --out {out / 'scenario.toml'}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    if not state.quiet:
        console.print(f"wrote [bold]{out}[/] (from {name}); check it with "
                      f"`hashshift scenario validate {out}`, run it with `hashshift run {out}`",
                      highlight=False)


@scenario_app.command("list")
@friendly
def list_(as_json: JsonOption = False) -> None:
    """The shipped example scenarios (usable by name in `run` and `scenario validate`)."""
    from rich.table import Table

    from ..sim.examples import example_names, load_example

    rows: list[dict[str, Any]] = []
    for name in example_names():
        sc = load_example(name)
        m = sc.scenario
        rows.append({"example": name, "name": m.name, "as_of": str(m.as_of),
                     "horizon_days": m.horizon_days, "paths": m.paths, "events": len(sc.event),
                     "description": m.description})
    if as_json:
        emit_json(rows)
        return
    if state.quiet:
        return
    table = Table(title="Shipped example scenarios")
    for col in ("example", "name", "as of", "days", "paths", "events"):
        table.add_column(col, justify="right" if col in ("days", "paths", "events") else "left")
    for r in rows:
        table.add_row(r["example"], r["name"], r["as_of"], str(r["horizon_days"]),
                      f"{r['paths']:,}", str(r["events"]))
    console.print(table)


@scenario_app.command("validate", help=help_text("""
    Check a scenario file and show what it resolves to.

    Every field is checked against its rules, every region code against ISO 3166, and the
    bundled data for what the run needs before as_of. Prints the resolved summary, or each
    problem naming the field, the value and what is allowed (exit status 2)."""))
@friendly
def validate(
    file: Annotated[str, typer.Argument(help="Scenario file (or a shipped example's name).")],
    as_json: JsonOption = False,
) -> None:
    sc, inputs, problems, source = check_scenario(file)
    if problems:
        if as_json:
            emit_json({"file": source, "valid": False, "problems": problems})
        else:
            n = len(problems)
            err_console.print(f"[red]error:[/] {source}: {n} problem{'s' if n > 1 else ''}",
                              highlight=False, soft_wrap=True)
            for p in problems:
                err_console.print(f"  - {p}", highlight=False, soft_wrap=True)
        raise typer.Exit(2)
    assert sc is not None and inputs is not None
    if as_json:
        from ..freshness import extrapolated
        from ..sim.engine import resolved_summary

        emit_json({"file": source, "valid": True, **resolved_summary(inputs),
                   "extrapolated": extrapolated(sc.scenario.as_of)})
        return
    if state.quiet:
        return
    _print_resolved(sc, inputs, source)


def _print_resolved(sc: Scenario, inp: Inputs, source: str) -> None:
    from rich.table import Table

    from ..sim.engine import resolved_summary

    s = resolved_summary(inp)
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("scenario", f"{s['name']}  ({source})")
    if s["description"]:
        head.add_row("", s["description"])
    head.add_row("as of", f"{s['as_of']} (data before this date only)")
    head.add_row("horizon", f"{s['horizon_days']:,} days, to {s['end']}")
    head.add_row("paths", f"{s['paths']:,} (seed {s['seed']})")
    head.add_row("price / fees", f"{sc.price.kind} / {sc.fees.kind}")
    head.add_row("initial", f"{inp.hashrate_ehs:,.1f} EH/s at height {inp.height:,}; "
                 f"{len(inp.regions)} regions")
    top = list(s["initial"]["shares_pct"].items())[:6]
    head.add_row("largest shares", ", ".join(f"{c} {v:.1f} %" for c, v in top))
    head.add_row("machine classes", ", ".join(f"{n} ({e:g} J/TH)"
                                              for n, e in s["machine_classes"].items()))
    for key, note in s["provenance"].items():
        head.add_row(f"  {key}", note)
    from ..freshness import extrapolated

    for i, x in enumerate(extrapolated(sc.scenario.as_of)):
        head.add_row("extrapolated" if i == 0 else "", x["note"])
    console.print(head, highlight=False)
    if not sc.event:
        console.print("no events", style="dim")
    else:
        table = Table(title=f"Events ({len(sc.event)})")
        for col in ("#", "kind", "region", "when", "what", "source"):
            table.add_column(col, justify="right" if col == "#" else "left",
                             overflow="fold" if col in ("what", "source") else "ellipsis")
        for i, row in enumerate(s["events"]):
            src = row["source"]
            table.add_row(str(i), row["kind"], row["region"], row["when"], row["what"],
                          src if len(src) <= 60 else src[:59] + "…")
        console.print(table)
    console.print("[green]valid[/]: run it with `hashshift run " + source.removeprefix("example ")
                  + "`", highlight=False)


@scenario_app.command("schema")
@friendly
def schema(
    out: Annotated[Path | None, typer.Option(help="Write to this file instead of stdout.")]
    = None,
    markdown: Annotated[bool, typer.Option(
        "--markdown", help="The field reference as Markdown (as in docs/scenarios.md) instead "
                           "of the JSON Schema.")] = False,
) -> None:
    """The JSON Schema of scenario files (for editors and validators)."""
    from ..sim.scenario import scenario_schema
    from ..sim.schema_doc import scenario_reference_markdown

    text = (scenario_reference_markdown() if markdown
            else json.dumps(scenario_schema(), indent=2, ensure_ascii=False) + "\n")
    if out is None:
        typer.echo(text, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    if not state.quiet:
        console.print(f"{'field reference' if markdown else 'JSON Schema'} written to "
                      f"[bold]{out}[/]", highlight=False)
