"""CLI commands for scenarios and the engine: ``hashshift scenario new|list|validate|schema`` and
``hashshift run``."""

from __future__ import annotations

import json
import time
import typing
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel, ValidationError
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from .cli import UserError, _emit_json, app, console, err_console, friendly, state

if typing.TYPE_CHECKING:
    from .sim.engine import Inputs
    from .sim.scenario import Scenario

scenario_app = typer.Typer(
    help="Scenario files: start one from a template, validate it, print the JSON Schema.",
    no_args_is_help=True,
)
app.add_typer(scenario_app, name="scenario")

FORMATS = ("csv", "parquet")


def _help(text: str) -> str:
    """Help text with each paragraph on one line (typer's rich help keeps single newlines)."""
    import inspect

    return "\n\n".join(" ".join(p.split()) for p in inspect.cleandoc(text).split("\n\n"))

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
    from .sim.scenario import LIMITS

    return MINIMAL_TEMPLATE.format(horizon=LIMITS["horizon_days"], paths=LIMITS["paths"])


# ---------------------------------------------------------------------------------------------
# shipped examples and loading
# ---------------------------------------------------------------------------------------------
def _available() -> str:
    from .sim.examples import example_names

    return ", ".join(example_names()) or "(none shipped)"


def _load(spec: str) -> tuple[Scenario, str]:
    """A scenario from a file path or a shipped example's name; returns it and its source."""
    from .sim.examples import UnknownExampleError, resolve_scenario

    try:
        return resolve_scenario(spec)
    except UnknownExampleError as exc:
        raise UserError(str(exc)) from None


def _source_of(exc: Exception) -> str:
    """The file a ScenarioError is about (its message starts "SOURCE: N problem(s):")."""
    import re

    m = re.match(r"(.*): \d+ problem\(s\):", str(exc))
    return m.group(1) if m else "scenario"


def _one_line(exc: Exception) -> str:
    from .sim.scenario import ScenarioError

    if isinstance(exc, ScenarioError):
        return f"{_source_of(exc)}: " + "; ".join(exc.problems)
    return str(exc)


def _region_problems(sc: Scenario) -> list[str]:
    """Unknown region codes, each named by its field (the engine would stop at the first)."""
    from .sim.scenario import region_problems

    return [f"{where}: {msg}" for where, msg in region_problems(sc)]


def _check(spec: str) -> tuple[Scenario | None, Inputs | None, list[str], str]:
    """Validate a scenario and resolve it against the data; returns problems instead of
    raising for anything the user can fix in the file."""
    from .sim.engine import EngineError, resolve
    from .sim.scenario import ScenarioError

    try:
        sc, source = _load(spec)
    except ScenarioError as exc:
        return None, None, list(exc.problems), _source_of(exc)
    problems = _region_problems(sc)
    if problems:
        return sc, None, problems, source
    try:
        inputs = resolve(sc)
    except (EngineError, LookupError, ValueError) as exc:
        return sc, None, [str(exc)], source
    return sc, inputs, [], source


# ---------------------------------------------------------------------------------------------
# hashshift scenario new | list | validate | schema
# ---------------------------------------------------------------------------------------------
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
        from .sim.examples import UnknownExampleError, example_text

        try:
            text = example_text(name)
        except UnknownExampleError:
            raise UserError(f"--example {example!r} is not known; use {TEMPLATE} or one of the "
                            f"shipped examples: {_available()}") from None
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
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """The shipped example scenarios (usable by name in `run` and `scenario validate`)."""
    from .sim.examples import example_names, load_example

    rows: list[dict[str, Any]] = []
    for name in example_names():
        sc = load_example(name)
        m = sc.scenario
        rows.append({"example": name, "name": m.name, "as_of": str(m.as_of),
                     "horizon_days": m.horizon_days, "paths": m.paths, "events": len(sc.event),
                     "description": m.description})
    if as_json:
        _emit_json(rows)
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


@scenario_app.command("validate", help=_help("""
    Check a scenario file and show what it resolves to.

    Every field is checked against its rules, every region code against ISO 3166, and the
    bundled data for what the run needs before as_of. Prints the resolved summary, or each
    problem naming the field, the value and what is allowed (exit status 2)."""))
@friendly
def validate(
    file: Annotated[str, typer.Argument(help="Scenario file (or a shipped example's name).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    sc, inputs, problems, source = _check(file)
    if problems:
        if as_json:
            _emit_json({"file": source, "valid": False, "problems": problems})
        else:
            n = len(problems)
            err_console.print(f"[red]error:[/] {source}: {n} problem{'s' if n > 1 else ''}",
                              highlight=False, soft_wrap=True)
            for p in problems:
                err_console.print(f"  - {p}", highlight=False, soft_wrap=True)
        raise typer.Exit(2)
    assert sc is not None and inputs is not None
    if as_json:
        _emit_json({"file": source, "valid": True, **_resolved_summary(sc, inputs)})
        return
    if state.quiet:
        return
    _print_resolved(sc, inputs, source)


def _resolved_summary(sc: Scenario, inp: Inputs) -> dict[str, Any]:
    m = sc.scenario
    order = sorted(range(len(inp.regions)), key=lambda j: -float(inp.shares[j]))
    return {
        "name": m.name, "description": m.description, "as_of": str(m.as_of),
        "end": str(m.as_of + timedelta(days=m.horizon_days - 1)),
        "horizon_days": m.horizon_days, "paths": m.paths, "seed": m.seed,
        "initial": {"hashrate_ehs": round(float(inp.hashrate_ehs), 3), "height": inp.height,
                    "shares_pct": {inp.regions[j]: round(float(inp.shares[j]) * 100, 3)
                                   for j in order}},
        "machine_classes": {n: float(e) for n, e in zip(inp.classes.names,
                                                        inp.classes.efficiency_j_th.tolist(),
                                                        strict=True)},
        "events": [_event_row(ev) for ev in sc.event],
        "provenance": dict(inp.notes),
    }


def _pct(x: float) -> str:
    return f"{x * 100:.0f} %" if abs(x * 100 - round(x * 100)) < 1e-9 else f"{x * 100:.1f} %"


def _event_row(ev: Any) -> dict[str, str]:
    """One event as kind / region / when / what / source strings."""
    kind = str(ev.kind)
    region = str(getattr(ev, "region", None) or "all")
    when = what = ""
    if kind == "ban":
        when = f"announced {ev.announced}, effective {ev.effective}"
        what = f"enforcement {_pct(ev.enforcement)}"
        if ev.enforcement_uncertainty:
            what += f" ± {_pct(ev.enforcement_uncertainty)}"
        what += f", underground {_pct(ev.underground)}"
        if getattr(ev, "underground_uncertainty", 0):
            what += f" ± {_pct(ev.underground_uncertainty)}"
        what += f", ramp {ev.ramp_down_days} d"
    elif kind == "curtailment":
        when = f"{ev.start} to {ev.end}" + (", every year" if ev.recurring == "yearly" else "")
        what = f"{_pct(ev.share)} of running hashrate off"
    elif kind == "seasonal":
        months = ("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec").split()
        when = ", ".join(months[m - 1] for m in ev.months)
        what = f"price × {ev.price_multiplier:g}, capacity × {ev.capacity_multiplier:g}"
    elif kind == "price_shock":
        when = f"{ev.start} to {ev.end}" if ev.end else f"from {ev.start}"
        what = f"{ev.target} price × {ev.multiplier:g}"
        if ev.target == "btc":
            region = "–"
    elif kind == "tax":
        when = f"from {ev.start}"
        what = f"{ev.usd_kwh:g} USD/kWh, {ev.usd_th_day:g} USD/(TH/s)/day"
    else:  # a kind added to the format later: show its fields
        what = ", ".join(f"{k}={v}" for k, v in ev.model_dump(mode="json").items()
                         if k not in ("kind", "region", "source"))
    return {"kind": kind, "region": region, "when": when, "what": what,
            "source": str(getattr(ev, "source", "") or "")}


def _print_resolved(sc: Scenario, inp: Inputs, source: str) -> None:
    s = _resolved_summary(sc, inp)
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
    from .sim.scenario import scenario_schema

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


# ---------------------------------------------------------------------------------------------
# hashshift run
# ---------------------------------------------------------------------------------------------
def _override(sc: Scenario, paths: int | None, horizon_days: int | None, seed: int | None
              ) -> Scenario:
    from .sim.scenario import LIMITS, with_overrides

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


@app.command("run", help=_help("""
    Run a scenario through the engine and summarise the result.

    The summary gives the world hashrate, power, emissions and hashprice at the start and the
    end (median and 90 % band over the paths), the largest negative retarget, and the shares of
    the largest regions. --out writes the daily and per-epoch tables, the run's configuration
    and the scenario as run."""))
@friendly
def run_(
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
    from .sim.engine import run as run_engine

    if fmt not in FORMATS:
        raise UserError(f"--format {fmt!r} is not known; use one of: {', '.join(FORMATS)}")
    quiet = quiet or state.quiet
    try:
        sc, source = _load(scenario)
    except ValueError as exc:  # ScenarioError: every problem on one line
        raise UserError(_one_line(exc) + f" (details: hashshift scenario validate {scenario})"
                        ) from None
    sc = _override(sc, paths, horizon_days, seed)
    problems = _region_problems(sc)
    if problems:
        raise UserError(f"{source}: " + "; ".join(problems))
    from .sim.engine import resolve

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
    from .sim.outcomes import summarise

    summary = summarise(result)
    if as_json:
        _emit_json({"source": source, **summary, "seconds": round(elapsed, 2),
                    "files": [str(f) for f in files]})
        return
    if quiet:
        return
    _print_summary(summary, source, elapsed)
    if files:
        console.print(f"results written to [bold]{out}[/]: "
                      + ", ".join(f.name for f in files), highlight=False)


_WORLD_ROWS = (("hashrate_ehs", "hashrate", "EH/s"), ("power_gw", "power", "GW"),
               ("emissions_mt_yr", "emissions", "MtCO2e/yr"),
               ("hashprice_usd_ph_day", "hashprice", "USD/(PH/s)/day"),
               ("exited_ehs", "exited", "EH/s"), ("in_transit_ehs", "in transit", "EH/s"))


def _num(x: float) -> str:
    if x != x:
        return "–"
    ax = abs(x)
    return f"{x:,.0f}" if ax >= 1000 else f"{x:,.1f}" if ax >= 10 else f"{x:,.2f}"


def _print_summary(s: dict[str, Any], source: str, elapsed: float) -> None:
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


# ---------------------------------------------------------------------------------------------
# the field reference (docs/scenarios.md; `hashshift scenario schema --markdown`)
# ---------------------------------------------------------------------------------------------
#: Help for fields the models leave undescribed: by (model, field), then by field; the models'
#: own descriptions win when present.
FIELD_HELP: dict[str | tuple[str, str], str] = {
    ("Meta", "name"): "scenario name, shown in summaries and reports",
    ("Meta", "description"): "free text",
    ("Meta", "horizon_days"): "days simulated from `as_of`",
    ("Meta", "paths"): "number of paths; each draws the uncertain inputs afresh",
    ("MachineClass", "name"): "class name (the keys of `supply.mix_pct`)",
    ("MachineClass", "efficiency_j_th"): "energy per unit of hashing",
    ("PriceModel", "kind"): "`historical`: the bundled monthly means; `fixed`: `usd` (default: "
                            "the last monthly mean before `as_of`); `gbm`: geometric Brownian "
                            "motion from `usd` with `drift_pct_yr` and `volatility_pct_yr`",
    ("FeeModel", "kind"): "`historical`: the bundled monthly means; `fixed`: `btc_per_block`",
    "kind": "the event type; it decides which other fields apply",
    "region": "ISO 3166-1/-2 region code (e.g. `CN-XJ`, `US-TX`, `KZ`); a country code covers "
              "its subdivisions",
    "announced": "date the ban becomes known: from then on no new machines arrive in the region",
    "effective": "date enforcement starts (on or after `announced`); it then ramps over "
                 "`ramp_down_days`",
    "start": "first day (inclusive)",
    "end": "last day (inclusive, on or after `start`)",
    "source": "where the dates and figures come from (free text, shown in summaries)",
    "months": "months it applies to (1 = January)",
    "price_multiplier": "[factor] electricity price multiplier in those months",
    "capacity_multiplier": "[factor] capacity multiplier in those months (e.g. dry season)",
    "multiplier": "[factor] multiplier on the price while the shock lasts",
    "target": "the price shocked: `electricity` (of `region`, or all regions) or `btc`",
    "recurring": "`yearly` repeats the same calendar window every year",
}


def _field_help(model: str, name: str, desc: str) -> tuple[str, str]:
    """(unit, description) of a field: the model's description, else :data:`FIELD_HELP`."""
    unit, text = _split_unit(desc)
    if not text:
        extra = FIELD_HELP.get((model, name)) or FIELD_HELP.get(name, "")
        u2, text = _split_unit(extra)
        unit = unit or u2
    return unit, text


def _rst(text: str) -> str:
    """reStructuredText literals (``x``) as Markdown code (`x`)."""
    return text.replace("``", "`")


def _fmt_num(x: Any) -> str:
    if isinstance(x, bool):
        return str(x).lower()
    if isinstance(x, int | float):
        return f"{x:g}" if isinstance(x, float) else str(x)
    return str(x)


def _type_of(p: dict[str, Any]) -> str:
    """A JSON-Schema property as a short human type with its constraints."""
    if "anyOf" in p:
        parts = [x for x in p["anyOf"] if x.get("type") != "null"]
        return " or ".join(_type_of(x) for x in parts)
    if "const" in p:
        return f'`"{p["const"]}"`'
    if "enum" in p:
        return " or ".join(f'`"{v}"`' for v in p["enum"])
    t = p.get("type", "any")
    if t == "array":
        items = _type_of(p.get("items", {}))
        lo, hi = p.get("minItems"), p.get("maxItems")
        n = (f"{lo} " if lo is not None and lo == hi else
             f"{lo}–{hi} " if lo is not None and hi is not None else
             f"≥ {lo} " if lo else f"≤ {hi} " if hi is not None else "")
        return f"list of {n}({items})"
    if t == "object":
        return f"table of code → ({_type_of(p.get('additionalProperties', {}))})"
    base = {"string": "date" if p.get("format") == "date" else "string",
            "number": "number", "integer": "integer", "boolean": "boolean"}.get(t, str(t))
    cons = []
    for key, sym in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"),
                     ("exclusiveMaximum", "<")):
        if key in p:
            cons.append(f"{sym} {_fmt_num(p[key])}")
    if "minLength" in p or "maxLength" in p:
        cons.append(f"length {p.get('minLength', 0)}–{p['maxLength']}" if "maxLength" in p
                    else f"length ≥ {p['minLength']}")
    if "pattern" in p:
        cons.append(f"pattern `{p['pattern']}`")
    return base + (" " + ", ".join(cons) if cons else "")


def _split_unit(desc: str) -> tuple[str, str]:
    if desc.startswith("["):
        end = desc.find("]")
        if end > 0:
            return desc[1:end], desc[end + 1:].strip().lstrip(";:,").strip()
    return "", desc


def _models_in(annotation: Any) -> tuple[list[type[BaseModel]], bool]:
    """Pydantic models inside a field's annotation and whether it is a list."""
    found: list[type[BaseModel]] = []
    is_list = False

    def walk(a: Any) -> None:
        nonlocal is_list
        if isinstance(a, type) and issubclass(a, BaseModel):
            found.append(a)
            return
        if typing.get_origin(a) is list:
            is_list = True
        for arg in typing.get_args(a):
            walk(arg)

    walk(annotation)
    return found, is_list


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def _model_doc(model: type[BaseModel]) -> str:
    doc = model.__doc__ or ""
    if doc.startswith("A base class for creating Pydantic models") or doc.startswith("!!!"):
        return ""  # pydantic's own docstring, inherited
    first = " ".join(doc.split("\n\n")[0].split())
    if first.startswith("``[") and "``: " in first:  # "``[price]``: the bitcoin price path"
        first = first.split("``: ", 1)[1]
        first = first[:1].upper() + first[1:]
    return _rst(first)


def scenario_reference_markdown() -> str:
    """Every section and field of the scenario format as Markdown tables, generated from the
    pydantic models (types, bounds, defaults, units and descriptions)."""
    from .sim.scenario import Scenario

    out = ["<!-- generated from the pydantic models by `hashshift scenario schema --markdown` "
           "(scripts/gen_cli_reference.py); do not edit by hand -->", ""]
    for section, field in Scenario.model_fields.items():
        models, is_list = _models_in(field.annotation)
        for model in models:
            schema = model.model_json_schema()
            props: dict[str, Any] = schema.get("properties", {})
            required = set(schema.get("required", []))
            kind = props.get("kind", {}).get("const")
            head = f"[[{section}]]" if is_list else f"[{section}]"
            title = f"### `{head}`" + (f' kind = "{kind}"' if kind else "")
            out += [title, ""]
            doc = _model_doc(model)
            if doc:
                out += [doc, ""]
            if section == "scenario" or field.is_required():
                note = "Required section."
            elif is_list:
                note = "Optional; repeat the block for each entry."
            else:
                note = "Optional section; every field has a default."
            if field.description:
                note += f" {_rst(field.description[0].upper() + field.description[1:])}."
            out += [note, ""]
            out += ["| field | type | default | unit | description |",
                    "|---|---|---|---|---|"]
            for name, p in props.items():
                unit, text = _field_help(model.__name__, name, p.get("description") or "")
                if name in required:
                    default = "**required**"
                elif "default" in p:
                    d = p["default"]
                    default = ("none" if d is None else
                               f'`"{d}"`' if isinstance(d, str) else
                               f"`{json.dumps(d)}`" if isinstance(d, list | dict) else
                               f"`{_fmt_num(d)}`")
                else:
                    default = ""
                out.append(f"| `{name}` | {_cell(_type_of(p))} | {default} | {_cell(unit)} | "
                           f"{_cell(_rst(text))} |")
            out.append("")
    return "\n".join(out).rstrip("\n") + "\n"
